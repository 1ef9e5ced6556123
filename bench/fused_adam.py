"""Keras's Adam against Adam on TensorFlow's fused ``ResourceApplyAdam`` kernel, paired.

Usage:
    python bench/fused_adam.py [--rounds 4] [--steps 150] [--preset default --preset unet]

For each preset, two copies of the preset's model (same weights, same data) are compiled,
one with ``keras.optimizers.Adam`` and one with the fused update defined below (the same
rule, one kernel per variable instead of Keras's twenty-odd small ops). The two train with
Keras ``fit`` in turns, ``--steps`` steps at a time, ``--rounds`` times, in this one process,
so the machine's drift falls on both alike; the first round's order is swapped in the next.
Each round's time counts the steps after its first, which holds the tracing.
The table gives each way's median images per second and the fused one's median ratio over
the rounds, with its smallest and largest.

daekit used the fused update until it was measured this way; it now trains with Keras's own
Adam (docs/design.md, "What was removed").
"""

from __future__ import annotations

import argparse
import statistics
import time

import keras
import numpy as np
import tensorflow as tf

import daekit
from daekit.config import PRESETS


class FusedAdam(keras.optimizers.Adam):
    """``keras.optimizers.Adam`` with each variable updated by ``ResourceApplyAdam``."""

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        step = tf.cast(self.iterations + 1, dtype)
        beta_1, beta_2 = tf.constant(self.beta_1, dtype), tf.constant(self.beta_2, dtype)
        index = self._get_variable_index(variable)

        def handle(var):
            return (var.value if isinstance(var, keras.Variable) else var).handle

        return tf.raw_ops.ResourceApplyAdam(
            var=handle(variable), m=handle(self._momentums[index]), v=handle(self._velocities[index]),
            beta1_power=tf.pow(beta_1, step), beta2_power=tf.pow(beta_2, step), lr=tf.cast(learning_rate, dtype),
            beta1=beta_1, beta2=beta_2, epsilon=tf.constant(self.epsilon, dtype), grad=tf.cast(gradient, dtype))


def compiled_pair(preset: str):
    config = daekit.TrainConfig.resolve(preset=preset)
    models = {}
    for way, cls in (("keras", keras.optimizers.Adam), ("fused", FusedAdam)):
        model = daekit.build_model(config.corruption, config.encoder, config.decoder, seed=0)
        model.compile(optimizer=cls(learning_rate=config.learning_rate), loss=daekit.build_loss(config.loss))
        models[way] = model
    models["fused"].set_weights(models["keras"].get_weights())
    return config, models


class StepClock(keras.callbacks.Callback):
    """The time from the end of an epoch's first step to the end of its last."""

    def on_epoch_begin(self, epoch, logs=None):
        self.first = self.last = None

    def on_train_batch_end(self, batch, logs=None):
        now = time.perf_counter()
        if self.first is None:
            self.first = now
        self.last = now


def timed(model, images: np.ndarray, batch: int, steps: int) -> float:
    """Seconds of ``steps`` training steps of Keras ``fit``, after a first step (tracing and
    warm-up) that the clock leaves out."""
    dataset = tf.data.Dataset.from_tensor_slices(images).repeat().batch(batch).map(lambda x: (x, x)).prefetch(4)
    clock = StepClock()
    model.fit(dataset, epochs=1, steps_per_epoch=steps + 1, callbacks=[clock], verbose=0)
    return clock.last - clock.first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", action="append", help="Preset (repeatable; default: default and unet).")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--steps", type=int, default=150)
    args = parser.parse_args()
    data = daekit.load_data("fashion-mnist")
    images = data.train[:8192].astype("float32") / 255
    print(f"TensorFlow {tf.__version__}, Keras {keras.__version__}; {args.rounds} rounds of {args.steps} steps, "
          "the two ways in turns")
    print(f"{'preset':8} {'keras img/s':>11} {'fused img/s':>11} {'fused/keras':>11} {'min':>6} {'max':>6}")
    for preset in args.preset or ["default", "unet"]:
        if preset not in PRESETS:
            raise SystemExit(f"--preset {preset!r}: choose one of {', '.join(PRESETS)}")
        config, models = compiled_pair(preset)
        rates: dict[str, list[float]] = {"keras": [], "fused": []}
        for round_ in range(args.rounds):
            order = ("keras", "fused") if round_ % 2 == 0 else ("fused", "keras")
            for way in order:
                rates[way].append(args.steps * config.batch_size / timed(models[way], images, config.batch_size, args.steps))
        ratios = [f / k for f, k in zip(rates["fused"], rates["keras"])]
        print(f"{preset:8} {statistics.median(rates['keras']):11.0f} {statistics.median(rates['fused']):11.0f} "
              f"{statistics.median(ratios):10.3f}x {min(ratios):6.3f} {max(ratios):6.3f}")


if __name__ == "__main__":
    main()
