"""Image quality metrics, per image, for images in [0, 1].

Written in ``keras.ops`` alone, so that they (and the losses built on them) run on any Keras
backend: the same model code is measured on a GPU through JAX (bench/gpu_jax.py).
"""

from __future__ import annotations

import keras
import numpy as np


def psnr(y_true, y_pred):
    """Peak signal-to-noise ratio in dB, one value per image (peak 1.0), as ``tf.image.psnr``."""
    y_true = keras.ops.cast(y_true, "float32")
    y_pred = keras.ops.cast(y_pred, "float32")
    mse = keras.ops.mean(keras.ops.square(y_true - y_pred), axis=tuple(range(1, len(y_true.shape))))
    return -10.0 * keras.ops.log(mse) / np.log(10.0)


def ssim_per_image(y_true, y_pred, size: int = 11, sigma: float = 1.5):
    """SSIM of each image, as ``tf.image.ssim`` (Gaussian window, 'valid' borders), in ``keras.ops``.

    The window is split into a column and a row pass over the five local moments stacked as
    channels: 22 taps per pixel in two ops instead of 121 in five, since it runs every
    training step (as a metric) and in the ``ssim`` losses. The window shrinks to fit small images.
    """
    y_true = keras.ops.cast(y_true, "float32")
    y_pred = keras.ops.cast(y_pred, "float32")
    size = min(size, int(y_true.shape[1] or size), int(y_true.shape[2] or size))
    taps = np.exp(-((np.arange(size) - (size - 1) / 2) ** 2) / (2 * sigma**2))
    taps = (taps / taps.sum()).astype(np.float32)
    channels = 5 * int(y_true.shape[-1])
    stacked = keras.ops.concatenate([y_true, y_pred, y_true * y_true, y_pred * y_pred, y_true * y_pred], axis=-1)
    column = np.tile(taps.reshape(size, 1, 1, 1), (1, 1, channels, 1))
    row = np.tile(taps.reshape(1, size, 1, 1), (1, 1, channels, 1))
    moments = keras.ops.depthwise_conv(keras.ops.depthwise_conv(stacked, column, padding="valid"), row, padding="valid")
    mean_true, mean_pred, square_true, square_pred, product = keras.ops.split(moments, 5, axis=-1)
    c1, c2 = 0.01**2, 0.03**2
    variance = square_true + square_pred - mean_true**2 - mean_pred**2
    covariance = product - mean_true * mean_pred
    luminance = (2 * mean_true * mean_pred + c1) / (mean_true**2 + mean_pred**2 + c1)
    structure = (2 * covariance + c2) / (variance + c2)
    return keras.ops.mean(luminance * structure, axis=(1, 2, 3))


def ssim(y_true, y_pred):
    """Structural similarity, one value per image (peak 1.0; window shrinks for small images)."""
    return ssim_per_image(y_true, y_pred)


def per_image_scores(clean: np.ndarray, other: np.ndarray, batch_size: int = 1000) -> dict[str, np.ndarray]:
    """PSNR and SSIM of each image of ``other`` against ``clean``."""
    scores = {"psnr": [], "ssim": []}
    for start in range(0, len(clean), batch_size):
        a = keras.ops.convert_to_tensor(clean[start:start + batch_size], "float32")
        b = keras.ops.convert_to_tensor(other[start:start + batch_size], "float32")
        scores["psnr"].append(keras.ops.convert_to_numpy(psnr(a, b)))
        scores["ssim"].append(keras.ops.convert_to_numpy(ssim(a, b)))
    return {name: np.concatenate(values) for name, values in scores.items()}
