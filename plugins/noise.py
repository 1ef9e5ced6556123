"""Pixel noise: Gaussian, Poisson (shot), speckle, salt and pepper, uniform; and ``none``.

Severity levels are calibrated on Fashion-MNIST; docs/corruptions.md gives the input PSNR
of each level, measured by ``bench/severity.py``.
"""

import attrs
import keras
from keras import ops

import daekit
from daekit import SeedStream, option, per_image_uniform


@keras.saving.register_keras_serializable(package="daekit")
class GaussianNoise(daekit.Corruption):
    """Additive zero-mean Gaussian noise (sensor read noise), clipped to [0, 1].

    ``stddev=0.1`` is the classic recipe. With ``stddev_max`` above ``stddev``, each image
    draws its own standard deviation uniformly from ``[stddev, stddev_max]``.
    """

    name = "gaussian"
    SEVERITIES = {1: {"stddev": 0.04}, 2: {"stddev": 0.08}, 3: {"stddev": 0.12}, 4: {"stddev": 0.18}, 5: {"stddev": 0.26}}

    @attrs.frozen
    class Options:
        stddev: float = option(0.1, min=0.0, help="Standard deviation, in units of the [0, 1] range.")
        stddev_max: float = option(0.0, min=0.0, help="If above stddev, draw each image's stddev from [stddev, stddev_max].")

    def corrupt(self, images, seed):
        seeds = SeedStream(seed)
        sigma = per_image_uniform(images, self.options.stddev, self.options.stddev_max, seeds())
        noise = keras.random.normal(ops.shape(images), dtype=images.dtype, seed=seeds())
        return ops.clip(images + sigma * noise, 0.0, 1.0)


@keras.saving.register_keras_serializable(package="daekit")
class PoissonNoise(daekit.Corruption):
    """Photon shot noise: a pixel of intensity x collects about ``x * photons`` photons.

    Drawn from the Gaussian approximation of the Poisson law (variance equal to the mean),
    which is accurate from about ten photons per pixel up and keeps the corruption a pure
    ``keras.random`` function that compiles with XLA on any device.
    """

    name = "poisson"
    SEVERITIES = {1: {"photons": 200.0}, 2: {"photons": 60.0}, 3: {"photons": 25.0}, 4: {"photons": 11.0}, 5: {"photons": 4.0}}

    @attrs.frozen
    class Options:
        photons: float = option(40.0, min_exclusive=0.0, help="Photons collected by a white pixel.")
        photons_min: float = option(0.0, min=0.0, help="If above 0 and below photons, draw each image's count from [photons_min, photons].")

    def corrupt(self, images, seed):
        seeds = SeedStream(seed)
        low = self.options.photons_min if 0 < self.options.photons_min < self.options.photons else self.options.photons
        photons = per_image_uniform(images, low, self.options.photons, seeds())
        noise = keras.random.normal(ops.shape(images), dtype=images.dtype, seed=seeds())
        return ops.clip(images + ops.sqrt(ops.maximum(images, 0.0) / photons) * noise, 0.0, 1.0)


@keras.saving.register_keras_serializable(package="daekit")
class SpeckleNoise(daekit.Corruption):
    """Multiplicative noise, ``x + x * n`` with Gaussian ``n``: coherent-imaging speckle."""

    name = "speckle"
    SEVERITIES = {1: {"stddev": 0.1}, 2: {"stddev": 0.19}, 3: {"stddev": 0.28}, 4: {"stddev": 0.42}, 5: {"stddev": 0.65}}

    @attrs.frozen
    class Options:
        stddev: float = option(0.3, min=0.0, help="Standard deviation of the multiplicative factor.")

    def corrupt(self, images, seed):
        noise = keras.random.normal(ops.shape(images), stddev=self.options.stddev, dtype=images.dtype, seed=seed)
        return ops.clip(images + images * noise, 0.0, 1.0)


@keras.saving.register_keras_serializable(package="daekit")
class SaltAndPepper(daekit.Corruption):
    """Impulse noise: a share ``amount`` of pixels turn white (salt) or black (pepper)."""

    name = "salt_and_pepper"
    SEVERITIES = {1: {"amount": 0.0036}, 2: {"amount": 0.0115}, 3: {"amount": 0.026}, 4: {"amount": 0.051}, 5: {"amount": 0.13}}

    @attrs.frozen
    class Options:
        amount: float = option(0.05, min=0.0, max=1.0, help="Share of pixels replaced.")
        salt_ratio: float = option(0.5, min=0.0, max=1.0, help="Share of replaced pixels that turn white.")

    def corrupt_with_mask(self, images, seed):
        seeds = SeedStream(seed)
        shape = (*ops.shape(images)[:3], 1)  # one decision per pixel, shared by its channels
        hit = keras.random.uniform(shape, dtype=images.dtype, seed=seeds()) < self.options.amount
        salt = keras.random.uniform(shape, dtype=images.dtype, seed=seeds()) < self.options.salt_ratio
        value = ops.cast(salt, images.dtype)
        corrupted = ops.where(hit, value, images)
        return corrupted, ops.broadcast_to(ops.cast(hit, images.dtype), ops.shape(images))

    def corrupt(self, images, seed):
        return self.corrupt_with_mask(images, seed)[0]


@keras.saving.register_keras_serializable(package="daekit")
class UniformNoise(daekit.Corruption):
    """Additive noise uniform in ``[-amplitude, amplitude]``, clipped to [0, 1]."""

    name = "uniform"
    SEVERITIES = {1: {"amplitude": 0.07}, 2: {"amplitude": 0.14}, 3: {"amplitude": 0.21}, 4: {"amplitude": 0.31}, 5: {"amplitude": 0.45}}

    @attrs.frozen
    class Options:
        amplitude: float = option(0.2, min=0.0, help="Half-width of the uniform distribution.")

    def corrupt(self, images, seed):
        a = self.options.amplitude
        noise = keras.random.uniform(ops.shape(images), -a, a, dtype=images.dtype, seed=seed)
        return ops.clip(images + noise, 0.0, 1.0)


@keras.saving.register_keras_serializable(package="daekit")
class NoCorruption(daekit.Corruption):
    """The image as it is: with ``--corruption none`` a run trains a plain autoencoder, which
    differs from a denoising one in the corruption alone (``bench/representation.py``)."""

    name = "none"

    @attrs.frozen
    class Options:
        pass

    def corrupt(self, images, seed):
        return images


@daekit.hookimpl
def register_corruptions(register):
    for cls in (GaussianNoise, PoissonNoise, SpeckleNoise, SaltAndPepper, UniformNoise, NoCorruption):
        register(cls)
