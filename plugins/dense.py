"""The fully connected denoising autoencoder: flatten, dense layers, a dense code."""

import math

import attrs
import keras
from keras import layers

import daekit
from daekit import ConfigError, LayerStack, option

_ACTIVATIONS = ("relu", "leaky_relu", "gelu", "silu", "tanh")


@keras.saving.register_keras_serializable(package="daekit")
class DenseEncoder(LayerStack, daekit.Encoder):
    """Flattens the image, then dense layers of ``widths`` down to a ``code``-wide code."""

    name = "dense"

    @attrs.frozen
    class Options:
        widths: tuple = option((512,), min=1, help="Widths of the hidden layers.")
        code: int = option(128, min=1, help="Width of the code.")
        activation: str = option("relu", choices=_ACTIVATIONS, help="Activation of every layer.")

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        o = self.options
        self.stack = [layers.Flatten()] + [layers.Dense(w, activation=o.activation) for w in (*o.widths, o.code)]



@keras.saving.register_keras_serializable(package="daekit")
class DenseDecoder(LayerStack, daekit.Decoder):
    """Dense layers of ``widths`` from the code up to every pixel, through a sigmoid."""

    name = "dense"

    @attrs.frozen
    class Options:
        widths: tuple = option((512,), min=1, help="Widths of the hidden layers.")
        activation: str = option("relu", choices=_ACTIVATIONS, help="Activation of the hidden layers.")

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        o = self.options
        pixels = math.prod(self.image_shape)
        self.stack = [layers.Dense(w, activation=o.activation) for w in o.widths]
        self.stack += [layers.Dense(pixels, activation="sigmoid"), layers.Reshape(self.image_shape)]

    def check_code(self, code_shape, layout, skip_shapes=()):
        if len(code_shape) != 2:
            raise ConfigError(f"decoder 'dense' decodes a flat code; the encoder gives codes of shape {tuple(code_shape)}")



@daekit.hookimpl
def register_encoders(register):
    register(DenseEncoder)


@daekit.hookimpl
def register_decoders(register):
    register(DenseDecoder)
