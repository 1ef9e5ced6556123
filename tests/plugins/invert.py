"""A valid third-party style plugin: a corruption that inverts a random share of images."""

import attrs
import keras

import daekit
from daekit.options import option


@keras.saving.register_keras_serializable(package="daekit_test_invert")
class Invert(daekit.Corruption):
    """Inverts each image with probability ``p``."""

    name = "invert"

    @attrs.frozen
    class Options:
        p: float = option(0.5, min=0.0, max=1.0, help="Probability of inverting an image.")

    def corrupt(self, images, seed):
        flip = keras.random.uniform((keras.ops.shape(images)[0], 1, 1, 1), seed=seed) < self.options.p
        return keras.ops.where(flip, 1.0 - images, images)


@daekit.hookimpl
def register_corruptions(register):
    register(Invert)
