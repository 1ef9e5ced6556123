"""Training throughput of the classic conv DAE, four ways, in one process on the same data.

Usage:
    python bench/train_throughput.py [--images 12800] [--epochs 2] [--repeats 2]

1. eager: the classic hand-written loop, eager TensorFlow: for each batch, Gaussian noise
   (stddev 0.1, clipped), a forward pass under ``tf.GradientTape``, ``apply_gradients``.
2. fit: plain Keras ``model.fit`` on a ``tf.data`` pipeline that adds the same noise in
   ``map``. Eager and fit train the classic model as the tutorials write it, from
   ``keras.layers``.
3. fit, daekit layers: the same plain ``fit``, on the same model built from daekit's ``conv``
   encoder and decoder, whose BatchNormalization runs TensorFlow's fused kernel
   (``daekit.layers``). It separates what the layers buy from what the training path costs.
4. daekit: ``daekit.train`` with the classic model and the classic recipe's batch (64):
   everything a ``daekit train`` run does (noise in the model, training PSNR/SSIM metrics,
   the NaN guard, checkpoints, per-epoch validation and figures) on the same images.

All four train a 186,511-parameter model of the same architecture with Adam at batch 64.
Images per second count training steps only: the clock runs from the end of the first step
of each epoch (so tracing and warm-up are left out) to the end of the epoch's last step, and
the best epoch of each way is kept; the ways run in turns, ``--repeats`` times, to even out
the noise of a shared machine. daekit should reach at least 1.0x fit and 2.5x eager.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time

import keras
import numpy as np
import tensorflow as tf

import daekit
from daekit.model import build_component

BATCH = 64


class StepClock(keras.callbacks.Callback):
    """Images per second of each epoch, from the end of its first call to the end of its last
    (``batch`` is the last step a call ran, so several steps per execution count right)."""

    def __init__(self, batch_size):
        super().__init__()
        self.batch_size = batch_size
        self.rates = []

    def on_epoch_begin(self, epoch, logs=None):
        self.first = self.last = None

    def on_train_batch_end(self, batch, logs=None):
        now = time.perf_counter()
        if self.first is None:
            self.first = (batch, now)
        else:
            self.last = (batch, now)

    def on_epoch_end(self, epoch, logs=None):
        if self.last is not None:
            steps = self.last[0] - self.first[0]
            self.rates.append(steps * self.batch_size / (self.last[1] - self.first[1]))


def keras_classic():
    """The classic model as the tutorials write it, from ``keras.layers``."""
    from keras import layers

    def block(x, layer, pool):
        x = layers.LeakyReLU(0.2)(layers.BatchNormalization()(layer(x)))
        return layers.MaxPooling2D()(x) if pool == "down" else layers.UpSampling2D()(x) if pool == "up" else x

    inputs = keras.Input((28, 28, 1))
    x = block(inputs, layers.Conv2D(32, 3, padding="same"), "down")
    x = block(x, layers.Conv2D(64, 3), "down")
    x = layers.Flatten()(block(x, layers.Conv2D(128, 3), None))  # the 2048-wide code
    x = block(layers.Reshape((4, 4, 128))(x), layers.Conv2DTranspose(64, 3), "up")
    x = block(x, layers.Conv2DTranspose(32, 3), "up")
    x = block(x, layers.Conv2DTranspose(1, 3, padding="same"), None)
    model = keras.Model(inputs, layers.Conv2DTranspose(1, 3, padding="same", activation="sigmoid")(x))
    assert model.count_params() == 186_511
    return model


class Classic(keras.Model):
    """The classic model from daekit's conv encoder and decoder, without a corruption layer."""

    def __init__(self):
        super().__init__()
        self.encoder = build_component("encoder", "conv")
        self.decoder = build_component("decoder", "conv", image_shape=(28, 28, 1))

    def call(self, images, training=False):
        return self.decoder(self.encoder(images, training=training), training=training)


def daekit_classic():
    model = Classic()
    model(tf.zeros((1, 28, 28, 1)))  # builds every layer
    assert model.count_params() == 186_511
    return model


def noisy(batch):
    return tf.clip_by_value(batch + 0.1 * tf.random.normal(tf.shape(batch)), 0.0, 1.0)


def eager(images, epochs):
    model, optimizer = keras_classic(), keras.optimizers.Adam(2e-3)
    dataset = tf.data.Dataset.from_tensor_slices(images).shuffle(len(images), seed=0).batch(BATCH)
    rates = []
    for _ in range(epochs):
        first = None
        for step, clean in enumerate(dataset):
            with tf.GradientTape() as tape:
                output = model(noisy(clean), training=True)
                loss = tf.reduce_mean(tf.square(clean - output))
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
            loss.numpy()  # wait for the step, as fit's logs do
            if first is None:
                first = time.perf_counter()
        rates.append(step * BATCH / (time.perf_counter() - first))
    return max(rates)


def plain_fit(images, epochs, build=keras_classic):
    model = build()
    model.compile(optimizer=keras.optimizers.Adam(2e-3), loss="mse", jit_compile=False)
    dataset = (tf.data.Dataset.from_tensor_slices(images).shuffle(len(images), seed=0).batch(BATCH)
               .map(lambda clean: (noisy(clean), clean), num_parallel_calls=tf.data.AUTOTUNE)
               .prefetch(tf.data.AUTOTUNE))
    clock = StepClock(BATCH)
    model.fit(dataset, epochs=epochs, verbose=0, callbacks=[clock], shuffle=False)
    return max(clock.rates)


def limit_for(count: int, share: float = 0.1) -> int:
    """The --limit that leaves exactly ``count`` training images after the validation split."""
    limit = count
    while limit - max(1, int(round(limit * share))) < count:
        limit += 1
    return limit


def daekit_train(count, epochs, **overrides):
    clock = StepClock(BATCH)
    with tempfile.TemporaryDirectory() as output:
        config = daekit.TrainConfig.resolve(preset="article", learning_rate=2e-3, beta_1=0.9, epochs=epochs,
                                            limit=limit_for(count), test_limit=256, output=output, name="bench",
                                            **overrides)
        daekit.train(config, verbose=0, callbacks=[clock])
    return max(clock.rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=12_800, help="Training images per epoch.")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="Override for the daekit run.")
    args = parser.parse_args()
    overrides = dict(item.split("=", 1) for item in args.set)
    data = daekit.load_data("fashion-mnist")
    images = (data.train[: args.images].astype(np.float32) / 255.0)
    print(f"{platform.machine()}, {os.cpu_count()} CPUs, TensorFlow {tf.__version__}, Keras {keras.__version__}; "
          f"{len(images)} images per epoch, batch {BATCH}")
    ways = {
        "eager": lambda: eager(images, args.epochs),
        "fit": lambda: plain_fit(images, args.epochs),
        "fit, daekit layers": lambda: plain_fit(images, args.epochs, build=daekit_classic),
        "daekit": lambda: daekit_train(len(images), args.epochs, **overrides),
    }
    best = dict.fromkeys(ways, 0.0)
    for repeat in range(args.repeats):
        for name, run in ways.items():
            rate = run()
            best[name] = max(best[name], rate)
            print(f"  round {repeat + 1}: {name:18} {rate:8.0f} images/s", flush=True)
    print(f"{'way':18} {'images/s':>9}")
    for name, rate in best.items():
        print(f"{name:18} {rate:9.0f}")
    print(f"daekit / fit:                {best['daekit'] / best['fit']:.2f}x")
    print(f"daekit / eager:              {best['daekit'] / best['eager']:.2f}x")
    print(f"daekit / fit, daekit layers: {best['daekit'] / best['fit, daekit layers']:.2f}x")


if __name__ == "__main__":
    main()
