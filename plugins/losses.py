"""Pixel-wise reconstruction losses."""

import attrs
import keras

import daekit
from daekit.options import option


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


@keras.saving.register_keras_serializable(package="daekit")
class MaskedLoss(daekit.Loss):
    """Squared or absolute error in which the pixels the corruption touched weigh ``weight``
    times more than the others (for masking, scratches, salt and pepper).

    In training the model passes the corruption's mask; on validation images, which carry no
    mask, it is the plain per-pixel error.
    """

    name = "masked"
    uses_mask = True

    @attrs.frozen
    class Options:
        base: str = option("mse", choices=("mse", "mae"), help="Per-pixel error: squared or absolute.")
        weight: float = option(10.0, min=1.0, help="Weight of a touched pixel relative to an untouched one.")

    def call(self, y_true, y_pred):
        error = y_pred - y_true
        return keras.ops.square(error) if self.options.base == "mse" else keras.ops.abs(error)

    def pixel_weights(self, mask):
        """Per-pixel weights from a corruption's 0/1 mask."""
        return 1.0 + (self.options.weight - 1.0) * mask


@daekit.hookimpl
def register_losses(register):
    for cls in (MeanSquaredError, MeanAbsoluteError, BinaryCrossentropy, MaskedLoss):
        register(cls)
