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
        cls = FusedAdam if config.optimizer == "adam" else FusedAdamW
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


class _FusedAdamStep:
    """Adam's update of one variable as TensorFlow's fused ``ResourceApplyAdam``.

    Keras's Adam writes the update as about twenty small operations per variable (the bias
    corrections, both moments, the step), each dispatched on its own; the fused kernel does
    the same arithmetic in one pass over the variable. Other backends, and ``amsgrad``, keep
    Keras's own step.
    """

    def update_step(self, gradient, variable, learning_rate):
        if keras.backend.backend() != "tensorflow" or self.amsgrad:
            return super().update_step(gradient, variable, learning_rate)
        import tensorflow as tf

        dtype = variable.dtype
        step = tf.cast(self.iterations + 1, dtype)
        beta_1, beta_2 = tf.constant(self.beta_1, dtype), tf.constant(self.beta_2, dtype)  # not via float32
        index = self._get_variable_index(variable)

        def handle(var):  # under tf.distribute, the handle of this replica's copy
            return (var.value if isinstance(var, keras.Variable) else var).handle

        return tf.raw_ops.ResourceApplyAdam(
            var=handle(variable), m=handle(self._momentums[index]), v=handle(self._velocities[index]),
            beta1_power=tf.pow(beta_1, step), beta2_power=tf.pow(beta_2, step), lr=tf.cast(learning_rate, dtype),
            beta1=beta_1, beta2=beta_2, epsilon=tf.constant(self.epsilon, dtype), grad=tf.cast(gradient, dtype))


@keras.saving.register_keras_serializable(package="daekit")
class FusedAdam(_FusedAdamStep, keras.optimizers.Adam):
    """``keras.optimizers.Adam``, each variable updated by one fused TensorFlow kernel."""


@keras.saving.register_keras_serializable(package="daekit")
class FusedAdamW(_FusedAdamStep, keras.optimizers.AdamW):
    """``keras.optimizers.AdamW`` (weight decay applied by Keras first), updated as :class:`FusedAdam`."""
