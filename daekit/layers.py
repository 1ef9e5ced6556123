"""Keras layers that daekit's components share.

:class:`BatchNormalization` is ``keras.layers.BatchNormalization`` with the same options,
weights, saved config and results, computed by TensorFlow's fused kernel where one applies.
Keras 3 normalizes with separate moment, subtraction and scaling ops, each a pass over the
feature map in the forward and the backward pass; ``FusedBatchNormV3`` does each direction in
one. The classic conv DAE trains about 1.2 times as fast with it on a 2-core CPU
(``bench/train_throughput.py``). Plugins that normalize images may use it the same way::

    from daekit.layers import BatchNormalization
"""

from __future__ import annotations

import keras

# The fused kernel raises smaller epsilons to this value; such layers keep Keras's own path.
_FUSED_MIN_EPSILON = 1.001e-5
# The fused path reads Keras's private ``_reduction_axes``; it is tested with these Keras
# versions (pyproject.toml pins them), and any other runs Keras's own layer.
TESTED_KERAS = ("3.15",)
_TESTED = ".".join(keras.__version__.split(".")[:2]) in TESTED_KERAS


@keras.saving.register_keras_serializable(package="daekit")
class BatchNormalization(keras.layers.BatchNormalization):
    """``keras.layers.BatchNormalization`` on TensorFlow's fused kernel.

    Used for 4-D channels-last inputs on the TensorFlow backend, without a mask, renorm or
    synchronization; everything else (and every other backend) runs Keras's own layer. The
    moving statistics follow Keras's update exactly: the fused kernel reports the batch
    variance with Bessel's correction, which is undone before it enters the moving average.
    """

    def _fusable(self, inputs, mask) -> bool:
        return (
            _TESTED
            and keras.backend.backend() == "tensorflow"
            and mask is None
            and len(inputs.shape) == 4
            and inputs.shape[-1] is not None
            and list(self._reduction_axes) == [0, 1, 2]
            and not self.renorm
            and not self.synchronized
            and self.epsilon >= _FUSED_MIN_EPSILON
        )

    def call(self, inputs, training=None, mask=None):
        if not self._fusable(inputs, mask):
            return super().call(inputs, training=training, mask=mask)
        import tensorflow as tf

        x = tf.cast(inputs, "float32")  # as Keras does: statistics in float32 under mixed precision
        channels = x.shape[-1]
        scale = tf.cast(self.gamma, "float32") if self.scale else tf.ones((channels,), "float32")
        offset = tf.cast(self.beta, "float32") if self.center else tf.zeros((channels,), "float32")
        if training and self.trainable:
            y, mean, variance = tf.compat.v1.nn.fused_batch_norm(
                x, scale, offset, epsilon=self.epsilon, data_format="NHWC", is_training=True)
            count = tf.cast(tf.size(x) // channels, "float32")
            variance = variance * tf.maximum(count - 1.0, 0.0) / count  # the biased variance, as Keras uses
            self.moving_mean.assign(self.moving_mean * self.momentum + mean * (1.0 - self.momentum))
            self.moving_variance.assign(self.moving_variance * self.momentum + variance * (1.0 - self.momentum))
        else:
            y, _, _ = tf.compat.v1.nn.fused_batch_norm(
                x, scale, offset, mean=tf.cast(self.moving_mean, "float32"),
                variance=tf.cast(self.moving_variance, "float32"), epsilon=self.epsilon, data_format="NHWC",
                is_training=False)
        return tf.cast(y, self.compute_dtype)
