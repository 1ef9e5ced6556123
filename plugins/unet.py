"""A skip-connected encoder and decoder (U-Net), with residual output.

The encoder runs blocks of 3x3 convolutions ('same' padding), halving the resolution
between blocks, and hands every block's output but the last to the decoder as skip
connections, with the input image first. The decoder doubles the resolution, concatenates
the matching skip and runs a block, then predicts a correction that it adds to the input
image (``residual=true``, as DnCNN does), or the image itself through a sigmoid.
"""

import attrs
import keras
from keras import layers, ops

import daekit
from daekit.components import run_layers
from daekit.errors import ConfigError
from daekit.options import option

_ACTIVATIONS = ("relu", "leaky_relu", "gelu", "silu")


def _convs(filters, count, normalization, activation):
    stack = []
    for _ in range(count):
        stack.append(layers.Conv2D(filters, 3, padding="same", use_bias=normalization == "none"))
        if normalization == "batch":
            stack.append(layers.BatchNormalization())
        stack.append(layers.Activation(activation))
    return stack


@keras.saving.register_keras_serializable(package="daekit")
class UNetEncoder(daekit.Encoder):
    """Convolution blocks with 2x2 max pooling between them; hands skips to its decoder."""

    name = "unet"
    provides_skips = True

    @attrs.frozen
    class Options:
        filters: tuple = option((32, 64, 128), min=1, nonempty=True, help="Filters of each block, finest first.")
        convs: int = option(2, min=1, help="3x3 convolutions per block.")
        normalization: str = option("batch", choices=("batch", "none"), help="BatchNormalization after each convolution.")
        activation: str = option("relu", choices=_ACTIVATIONS, help="Activation after each convolution.")

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        o = self.options
        self.blocks = [_convs(f, o.convs, o.normalization, o.activation) for f in o.filters]
        self.pool = layers.MaxPooling2D(2)

    def build(self, input_shape):
        pass  # layers build on the first call, which the model makes when it is assembled or loaded

    def call(self, images, training=False):
        skips, x = [images], images
        for index, block in enumerate(self.blocks):
            x = run_layers(block, x, training)
            if index < len(self.blocks) - 1:
                skips.append(x)
                x = self.pool(x)
        return x, skips

    def _sizes(self, input_shape):
        height, width = input_shape[1], input_shape[2]
        sizes = [(height, width)]
        for _ in self.options.filters[1:]:
            if height % 2 or width % 2:
                raise ConfigError(
                    f"encoder 'unet' halves the image {len(self.options.filters) - 1} times; "
                    f"{input_shape[1]}x{input_shape[2]} images must then have sides divisible by "
                    f"{2 ** (len(self.options.filters) - 1)}"
                )
            height, width = height // 2, width // 2
            sizes.append((height, width))
        return sizes

    def code_shape(self, input_shape):
        height, width = self._sizes(input_shape)[-1]
        return (input_shape[0], height, width, self.options.filters[-1])

    def skip_shapes(self, input_shape):
        sizes = self._sizes(input_shape)
        maps = [(input_shape[0], h, w, f) for (h, w), f in zip(sizes[:-1], self.options.filters[:-1])]
        return [tuple(input_shape), *maps]

    def compute_output_shape(self, input_shape):
        return self.code_shape(input_shape), self.skip_shapes(input_shape)


@keras.saving.register_keras_serializable(package="daekit")
class UNetDecoder(daekit.Decoder):
    """Upsampling blocks that each concatenate the encoder's matching skip connection."""

    name = "unet"
    uses_skips = True

    @attrs.frozen
    class Options:
        filters: tuple = option((64, 32), min=1, help="Filters of each upsampling block, coarsest first.")
        convs: int = option(2, min=1, help="3x3 convolutions per block.")
        normalization: str = option("batch", choices=("batch", "none"), help="BatchNormalization after each convolution.")
        activation: str = option("relu", choices=_ACTIVATIONS, help="Activation after each convolution.")
        residual: bool = option(True, help="Predict a correction added to the input image (else the image, via a sigmoid).")

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        o = self.options
        self.upsample = layers.UpSampling2D(2)
        self.blocks = [_convs(f, o.convs, o.normalization, o.activation) for f in o.filters]
        self.concatenate = layers.Concatenate()
        channels = self.image_shape[-1]
        self.head = layers.Conv2D(channels, 1, activation=None if o.residual else "sigmoid")

    def check_code(self, code_shape, layout, skip_shapes=()):
        stages = len(skip_shapes) - 1  # the first skip is the input image
        if len(self.options.filters) != stages:
            raise ConfigError(
                f"decoder 'unet' has {len(self.options.filters)} upsampling blocks (filters="
                f"{','.join(map(str, self.options.filters))}) but the encoder hands over {stages} skip maps; "
                f"give it {stages} filters"
            )

    def build(self, code_shape):
        pass  # layers build on the first call, which the model makes when it is assembled or loaded

    def call(self, code, skips=None, training=False):
        image, maps = skips[0], skips[1:]
        x = code
        for block, skip in zip(self.blocks, reversed(maps)):
            x = self.concatenate([self.upsample(x), skip])
            x = run_layers(block, x, training)
        out = self.head(x)
        if self.options.residual:
            return ops.clip(image + out, 0.0, 1.0)
        return out


@daekit.hookimpl
def register_encoders(register):
    register(UNetEncoder)


@daekit.hookimpl
def register_decoders(register):
    register(UNetDecoder)
