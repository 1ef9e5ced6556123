"""Blur and resolution loss: Gaussian blur, motion blur, downscale then upscale.

Blurs with per-image parameters are written as batched tensor products, so that every image
gets its own kernel without a per-image loop or a data-dependent shape.
"""

import math

import attrs
import keras
from keras import ops

import daekit
from daekit import option, per_image_uniform


def _blur_matrix(size, sigma, dtype):
    """(batch, size, size) row-normalised Gaussian blur operators, one per image."""
    positions = ops.cast(ops.arange(size), dtype)
    offsets = positions[:, None] - positions[None, :]
    weights = ops.exp(-ops.square(offsets)[None] / (2.0 * ops.square(sigma[:, None, None])))
    return weights / ops.sum(weights, axis=-1, keepdims=True)


@keras.saving.register_keras_serializable(package="daekit")
class GaussianBlur(daekit.Corruption):
    """Gaussian blur (defocus) of standard deviation ``sigma`` pixels; with ``sigma_max``,
    each image draws its own from ``[sigma, sigma_max]``."""

    name = "gaussian_blur"
    SEVERITIES = {1: {"sigma": 0.45}, 2: {"sigma": 0.6}, 3: {"sigma": 0.85}, 4: {"sigma": 1.3}, 5: {"sigma": 3.0}}

    @attrs.frozen
    class Options:
        sigma: float = option(1.0, min_exclusive=0.0, help="Standard deviation in pixels.")
        sigma_max: float = option(0.0, min=0.0, help="If above sigma, draw each image's sigma from [sigma, sigma_max].")

    def corrupt(self, images, seed):
        sigma = per_image_uniform(images, self.options.sigma, self.options.sigma_max, seed)[:, 0, 0, 0]
        rows = _blur_matrix(ops.shape(images)[1], sigma, images.dtype)
        columns = _blur_matrix(ops.shape(images)[2], sigma, images.dtype)
        blurred = ops.einsum("bij,bjwc->biwc", rows, images)
        return ops.clip(ops.einsum("bkw,bhwc->bhkc", columns, blurred), 0.0, 1.0)


@keras.saving.register_keras_serializable(package="daekit")
class MotionBlur(daekit.Corruption):
    """Linear motion blur over ``length`` pixels at a random angle per image (camera shake)."""

    name = "motion_blur"
    SEVERITIES = {1: {"length": 1.4}, 2: {"length": 2.0}, 3: {"length": 3.0}, 4: {"length": 5.0}, 5: {"length": 12.0}}

    @attrs.frozen
    class Options:
        length: float = option(5.0, min=1.0, max=31.0, help="Length of the motion, in pixels (fractions blur the ends).")
        angle: float = option(-1.0, min=-1.0, max=180.0, help="Angle in degrees; -1 draws one per image.")

    def corrupt(self, images, seed):
        radius = int(math.ceil(self.options.length / 2.0))
        size = 2 * radius + 1
        dtype = images.dtype
        if self.options.angle < 0:
            angle = per_image_uniform(images, 0.0, math.pi, seed)[:, 0, 0, 0]
        else:
            angle = ops.full((ops.shape(images)[0],), math.radians(self.options.angle), dtype=dtype)
        # Kernel: anti-aliased distance of each tap from the line through the centre.
        taps = ops.cast(ops.arange(size), dtype) - radius
        ky, kx = taps[:, None], taps[None, :]
        sin, cos = ops.sin(angle)[:, None, None], ops.cos(angle)[:, None, None]
        across = ops.abs(ky * cos - kx * sin)
        along = ops.abs(ky * sin + kx * cos)
        ends = ops.clip(self.options.length / 2.0 + 0.5 - along, 0.0, 1.0)
        kernel = ops.clip(1.0 - across, 0.0, 1.0) * ends
        kernel = kernel / ops.sum(kernel, axis=(1, 2), keepdims=True)  # (batch, size, size)
        padded = ops.pad(images, ((0, 0), (radius, radius), (radius, radius), (0, 0)), mode="symmetric")
        height, width = ops.shape(images)[1], ops.shape(images)[2]
        out = ops.zeros_like(images)
        for dy in range(size):  # a sum of shifted copies: no data-dependent shapes, XLA-friendly
            for dx in range(size):
                out = out + kernel[:, dy, dx, None, None, None] * padded[:, dy:dy + height, dx:dx + width, :]
        return ops.clip(out, 0.0, 1.0)


@keras.saving.register_keras_serializable(package="daekit")
class Downscale(daekit.Corruption):
    """Downscales by ``factor`` then upscales back (low resolution, resampling blur);
    with ``factor_min``, each image draws its factor from ``[factor_min, factor]``."""

    name = "downscale"
    SEVERITIES = {1: {"factor": 1.1}, 2: {"factor": 1.4}, 3: {"factor": 1.7}, 4: {"factor": 2.2}, 5: {"factor": 3.3}}
    STEPS = 4  # distinct factors drawn between factor_min and factor

    @attrs.frozen
    class Options:
        factor: float = option(2.0, min_exclusive=1.0, help="Downscaling factor.")
        factor_min: float = option(0.0, min=0.0, help="If in (1, factor), each image draws one of 4 factors from [factor_min, factor].")
        interpolation: str = option("bilinear", choices=("nearest", "bilinear"), help="Resampling method.")

    def corrupt(self, images, seed):
        o = self.options
        height, width = images.shape[1], images.shape[2]
        if 1.0 < o.factor_min < o.factor:
            factors = [o.factor_min + (o.factor - o.factor_min) * i / (self.STEPS - 1) for i in range(self.STEPS)]
        else:
            factors = [o.factor]
        choice = ops.floor(per_image_uniform(images, 0.0, len(factors) - 0.001, seed))
        out = ops.zeros_like(images)
        for index, factor in enumerate(factors):
            size = (max(1, round(height / factor)), max(1, round(width / factor)))
            small = ops.image.resize(images, size, interpolation=o.interpolation)  # no antialias: XLA has no kernel
            restored = ops.image.resize(small, (height, width), interpolation=o.interpolation)
            out = ops.where(choice == index, restored, out)
        return ops.clip(out, 0.0, 1.0)


@daekit.hookimpl
def register_corruptions(register):
    for cls in (GaussianBlur, MotionBlur, Downscale):
        register(cls)
