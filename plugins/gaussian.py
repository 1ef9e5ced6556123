"""Additive Gaussian noise, the corruption of the classic Fashion-MNIST denoising recipe."""

import attrs
import keras

import daekit
from daekit.options import option


@keras.saving.register_keras_serializable(package="daekit")
class GaussianNoise(daekit.Corruption):
    """Adds zero-mean Gaussian noise of a fixed standard deviation, then clips to [0, 1].

    Models sensor read noise; ``stddev=0.1`` is the classic recipe (about 21.6 dB PSNR on
    Fashion-MNIST).
    """

    name = "gaussian"

    @attrs.frozen
    class Options:
        stddev: float = option(0.1, min=0.0, help="Standard deviation of the noise, in units of the [0, 1] range.")

    def corrupt(self, images, seed):
        noise = keras.random.normal(keras.ops.shape(images), stddev=self.options.stddev, dtype=images.dtype, seed=seed)
        return keras.ops.clip(images + noise, 0.0, 1.0)


@daekit.hookimpl
def register_corruptions(register):
    register(GaussianNoise)
