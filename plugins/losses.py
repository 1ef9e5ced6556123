"""Pixel-wise reconstruction losses."""

import keras

import daekit


@keras.saving.register_keras_serializable(package="daekit")
class MeanSquaredError(daekit.Loss):
    """Mean squared error: the classic recipe's loss; maximising PSNR is minimising it."""

    name = "mse"

    def call(self, y_true, y_pred):
        return keras.ops.mean(keras.ops.square(y_pred - y_true), axis=(1, 2, 3))


@keras.saving.register_keras_serializable(package="daekit")
class MeanAbsoluteError(daekit.Loss):
    """Mean absolute error: less blurry than MSE where the noise has heavy tails."""

    name = "mae"

    def call(self, y_true, y_pred):
        return keras.ops.mean(keras.ops.abs(y_pred - y_true), axis=(1, 2, 3))


@keras.saving.register_keras_serializable(package="daekit")
class BinaryCrossentropy(daekit.Loss):
    """Per-pixel binary cross-entropy, treating intensities in [0, 1] as probabilities."""

    name = "bce"

    def call(self, y_true, y_pred):
        per_pixel = keras.losses.binary_crossentropy(y_true[..., None], y_pred[..., None])
        return keras.ops.mean(per_pixel, axis=(1, 2, 3))


@daekit.hookimpl
def register_losses(register):
    for cls in (MeanSquaredError, MeanAbsoluteError, BinaryCrossentropy):
        register(cls)
