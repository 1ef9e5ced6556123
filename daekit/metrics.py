"""Image quality metrics, per image, for images in [0, 1]."""

from __future__ import annotations

import numpy as np
import tensorflow as tf


def psnr(y_true, y_pred):
    """Peak signal-to-noise ratio in dB, one value per image (peak 1.0)."""
    return tf.image.psnr(y_true, y_pred, max_val=1.0)


def ssim(y_true, y_pred):
    """Structural similarity, one value per image (peak 1.0; window shrinks for small images)."""
    size = min(11, int(y_true.shape[1] or 11), int(y_true.shape[2] or 11))
    return tf.image.ssim(y_true, y_pred, max_val=1.0, filter_size=size)


def per_image_scores(clean: np.ndarray, other: np.ndarray, batch_size: int = 1000) -> dict[str, np.ndarray]:
    """PSNR and SSIM of each image of ``other`` against ``clean``."""
    scores = {"psnr": [], "ssim": []}
    for start in range(0, len(clean), batch_size):
        a = tf.constant(clean[start:start + batch_size], tf.float32)
        b = tf.constant(other[start:start + batch_size], tf.float32)
        scores["psnr"].append(psnr(a, b).numpy())
        scores["ssim"].append(ssim(a, b).numpy())
    return {name: np.concatenate(values) for name, values in scores.items()}
