"""A plugin that claims the name 'gaussian' already taken by a built-in."""

import keras

import daekit


@keras.saving.register_keras_serializable(package="daekit_test_duplicate")
class OtherGaussian(daekit.Corruption):
    name = "gaussian"

    def corrupt(self, images, seed):
        return images


@daekit.hookimpl
def register_corruptions(register):
    register(OtherGaussian)
