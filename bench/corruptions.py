"""Throughput of every built-in corruption against the training throughput of the classic DAE.

Usage:
    python bench/corruptions.py [--batch 256] [--seconds 1.5]

Each corruption runs under ``tf.function``, with and without XLA (Keras compiles the
training step with XLA when every layer supports it, as daekit's do), on batches of 256
Fashion-MNIST images (28x28), drawing fresh noise every call from its seed generator, as in
training. Training throughput is the classic conv DAE (186,511 parameters) trained with
``fit`` on daekit's tf.data pipeline at the classic batch of 64.
A corruption must run at least 10 times faster than training, so that it never limits a run.
"""

from __future__ import annotations

import argparse
import os
import time

import keras
import numpy as np
import tensorflow as tf

import daekit
from daekit.evaluate import to_float
from daekit.model import build_component
from daekit.data.pipeline import training_dataset
from daekit.distribute import resolve_jit_compile

COMPOSITE_EXAMPLE = "[gaussian | salt_and_pepper]"


def images_per_second(step, batch: np.ndarray, seconds: float) -> float:
    for _ in range(3):  # trace and warm up
        step(batch).numpy()
    calls, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        step(batch).numpy()
        calls += 1
    return calls * len(batch) / (time.perf_counter() - started)


def training_throughput(images: np.ndarray, steps: int = 150) -> float:
    """Images per second of daekit's training path (fit on tf.data, noise in the step)."""
    model = daekit.build_model("gaussian:stddev=0.1", "conv", "conv", seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=daekit.build_loss("mse"),
                  jit_compile=resolve_jit_compile("auto"))
    dataset = training_dataset(images, 64, seed=0).repeat()
    model.fit(dataset, steps_per_epoch=20, epochs=1, verbose=0)  # trace and warm up
    started = time.perf_counter()
    model.fit(dataset, steps_per_epoch=steps, epochs=1, verbose=0)
    return steps * 64 / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--seconds", type=float, default=1.5)
    args = parser.parse_args()
    raw = daekit.load_data("fashion-mnist").train[:4096]
    images = to_float(raw)
    training = training_throughput(raw)
    print(f"{os.cpu_count()} CPUs, TensorFlow {tf.__version__}, batches of {args.batch} 28x28 images")
    print(f"training the classic conv DAE: {training:,.0f} images/s\n")
    print(f"{'corruption':40} {'tf.function':>12} {'XLA':>12} {'x training':>11}")
    registry = daekit.get_plugins().registries["corruption"]
    batch = tf.constant(images[: args.batch])
    slowest = None
    for name in registry.names():
        spec = f"{name}{COMPOSITE_EXAMPLE}" if getattr(registry.get(name), "composite", False) else name
        corruption = build_component("corruption", spec, seed=1)
        graph = images_per_second(tf.function(lambda x, c=corruption: c(x, training=True)), batch, args.seconds)
        xla = images_per_second(tf.function(lambda x, c=corruption: c(x, training=True), jit_compile=True),
                                batch, args.seconds)
        ratio = graph / training  # daekit trains without XLA on the CPU (see docs/performance.md)
        slowest = min(slowest or ratio, ratio)
        print(f"{spec:40} {graph:12,.0f} {xla:12,.0f} {ratio:10.1f}x{'' if ratio >= 10 else '  (below 10x)'}",
              flush=True)
    print(f"\nslowest corruption: {slowest:.1f}x training")


if __name__ == "__main__":
    main()
