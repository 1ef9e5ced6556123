"""Pixel-wise reconstruction losses."""

import attrs
import keras
import numpy as np

import daekit
from daekit import option, ssim_per_image


@keras.saving.register_keras_serializable(package="daekit")
class MeanSquaredError(daekit.Loss):
    """Mean squared error: the classic recipe's loss; maximising PSNR is minimising it."""

    name = "mse"

    def call(self, y_true, y_pred):
        return keras.ops.mean(keras.ops.square(y_pred - y_true), axis=(1, 2, 3))


@keras.saving.register_keras_serializable(package="daekit")
class PSNRLoss(daekit.Loss):
    """Minus each image's PSNR (as NAFNet trains), shifted to be zero for a perfect image:
    ``10 log10((mse + epsilon) / epsilon)``, that is ``-PSNR - 10 log10(epsilon)``. Its mean
    over a batch follows the mean per-image PSNR that evaluations report, so it weighs each
    image's errors by how small they already are, where plain MSE weighs every pixel alike."""

    name = "psnr"

    @attrs.frozen
    class Options:
        epsilon: float = option(1e-8, min_exclusive=0.0, help="Added to each image's MSE before the log.")

    def call(self, y_true, y_pred):
        mse = keras.ops.mean(keras.ops.square(y_pred - y_true), axis=(1, 2, 3))
        return 10.0 * keras.ops.log((mse + self.options.epsilon) / self.options.epsilon) / np.log(10.0)


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
class Charbonnier(daekit.Loss):
    """Charbonnier loss, ``sqrt(error**2 + epsilon**2)``: a smooth L1, robust to outliers."""

    name = "charbonnier"

    @attrs.frozen
    class Options:
        epsilon: float = option(1e-3, min_exclusive=0.0, help="Smoothing near zero error.")

    def call(self, y_true, y_pred):
        error = keras.ops.sqrt(keras.ops.square(y_pred - y_true) + self.options.epsilon ** 2)
        return keras.ops.mean(error, axis=(1, 2, 3))


@keras.saving.register_keras_serializable(package="daekit")
class SSIMLoss(daekit.Loss):
    """``1 - SSIM``: rewards preserved structure and contrast rather than pixel values."""

    name = "ssim"

    def call(self, y_true, y_pred):
        return 1.0 - ssim_per_image(y_true, y_pred)


@keras.saving.register_keras_serializable(package="daekit")
class SSIML1(daekit.Loss):
    """``alpha * (1 - SSIM) + (1 - alpha) * L1``, the mix of Zhao et al. (alpha 0.84)."""

    name = "ssim_l1"

    @attrs.frozen
    class Options:
        alpha: float = option(0.84, min=0.0, max=1.0, help="Weight of the SSIM term.")

    def call(self, y_true, y_pred):
        l1 = keras.ops.mean(keras.ops.abs(y_pred - y_true), axis=(1, 2, 3))
        return self.options.alpha * (1.0 - ssim_per_image(y_true, y_pred)) + (1.0 - self.options.alpha) * l1


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
    for cls in (MeanSquaredError, PSNRLoss, MeanAbsoluteError, BinaryCrossentropy, Charbonnier, SSIMLoss, SSIML1, MaskedLoss):
        register(cls)
