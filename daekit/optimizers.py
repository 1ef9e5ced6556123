"""The optimizer and dtype policy a :class:`~daekit.TrainConfig` asks for, in Keras alone.

Kept apart from :mod:`daekit.training` (which drives TensorFlow's input pipeline and
distribution) so that the same recipe can be built on any Keras backend, as
bench/gpu_jax.py does on JAX.
"""

from __future__ import annotations

import contextlib

import keras

from daekit.config import TrainConfig


def make_optimizer(config: TrainConfig, steps_per_epoch: int) -> keras.optimizers.Optimizer:
    """The configured optimizer; ``schedule=cosine`` and ``schedule=linear`` decay the rate to
    zero over the run, along half a cosine or a straight line."""
    rate, steps = config.learning_rate, config.epochs * steps_per_epoch
    if config.schedule == "cosine":
        rate = keras.optimizers.schedules.CosineDecay(config.learning_rate, decay_steps=steps)
    elif config.schedule == "linear":
        rate = keras.optimizers.schedules.PolynomialDecay(config.learning_rate, decay_steps=steps, end_learning_rate=0.0)
    if config.optimizer in ("adam", "adamw"):
        cls = keras.optimizers.Adam if config.optimizer == "adam" else keras.optimizers.AdamW
        return cls(learning_rate=rate, beta_1=config.beta_1, beta_2=config.beta_2)
    if config.optimizer == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate=rate, momentum=config.beta_1)
    return keras.optimizers.SGD(learning_rate=rate, momentum=config.beta_1)


@contextlib.contextmanager
def dtype_policy(name: str):
    """Keras's global dtype policy set to ``name`` while models are built, then restored."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)
