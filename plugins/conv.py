"""The convolutional encoder and decoder of the classic Fashion-MNIST denoising autoencoder.

With default options they are exactly the classic model (186,511 parameters with the
decoder's default ``image_shape=(28, 28, 1)``): Conv2D 32 (same) / 64 (valid) / 128 (valid),
each with BatchNorm and LeakyReLU(0.2), max pooling after the first two, flattened to a
2048-wide code; the decoder mirrors it with Conv2DTranspose 64 / 32 / 1 / 1, upsampling and a
sigmoid. The classic decoder squeezes the image through one channel (``tail_filters=1``)
before its last 3x3 transposed convolution, which caps its quality; ``tail_filters=32``
lifts that cap.

Depth is the length of ``filters``. ``code=N`` adds a dense bottleneck of width N after the
flattened map (the classic code is the flattened map itself, 2048 wide); a decoder fed such
a code projects it back to a map of ``channels`` channels.
"""

import attrs
import keras
from keras import layers

import daekit
from daekit import BatchNormalization, ConfigError, LayerStack, option


_ACTIVATIONS = ("leaky_relu", "relu", "gelu", "silu", "tanh")
_NORMALIZATIONS = {"batch": BatchNormalization, "layer": layers.LayerNormalization, "none": None}


def _block(filters, padding, options, transpose=False):
    """A convolution, its normalization and its activation."""
    conv = layers.Conv2DTranspose if transpose else layers.Conv2D
    block = [conv(filters, options.kernel_size, padding=padding)]
    if _NORMALIZATIONS[options.normalization] is not None:
        block.append(_NORMALIZATIONS[options.normalization]())
    return block + _block_activation(options)


def _block_activation(options):
    if options.activation == "leaky_relu":
        return [layers.LeakyReLU(negative_slope=options.negative_slope)]
    return [layers.Activation(options.activation)]


def _upgrade(config):
    """Configs saved before ``normalization`` replaced ``batch_norm`` still load."""
    config = dict(config)
    if "batch_norm" in config:
        config.setdefault("normalization", "batch" if config.pop("batch_norm") else "none")
    return config


def _activation_fields():
    return (
        option("leaky_relu", choices=_ACTIVATIONS, help="Activation of every hidden block."),
        option(0.2, min=0.0, help="Slope of LeakyReLU for negative inputs."),
        option("batch", choices=tuple(_NORMALIZATIONS), help="Normalization after every convolution."),
    )


@keras.saving.register_keras_serializable(package="daekit")
class ConvEncoder(LayerStack, daekit.Encoder):
    """Convolution blocks (the first padded 'same', the rest ``padding``) with 2x2 max
    pooling between them, flattened to the code."""

    name = "conv"

    @attrs.frozen
    class Options:
        filters: tuple = option((32, 64, 128), min=1, nonempty=True, help="Filters of each convolution block.")
        kernel_size: int = option(3, min=1, help="Side of every convolution kernel.")
        padding: str = option("valid", choices=("valid", "same"), help="Padding of every block after the first ('same' keeps resolution).")
        code: int = option(0, min=0, help="Width of a dense bottleneck after the flattened map; 0 keeps the map itself as the code.")
        activation: str
        negative_slope: float
        normalization: str
        activation, negative_slope, normalization = _activation_fields()

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        o = self.options
        self.stack = []
        for index, filters in enumerate(o.filters):
            padding = "same" if index == 0 else o.padding
            self.stack += _block(filters, padding, o)
            if index < len(o.filters) - 1:
                self.stack.append(layers.MaxPooling2D(2))
        self.stack.append(layers.Flatten())
        if o.code:
            self.stack.append(layers.Dense(o.code))

    @classmethod
    def from_config(cls, config):
        return cls(**_upgrade(config))

    def code_layout(self, input_shape):
        if self.options.code:
            return None  # a dense code is not a flattened map
        shape = input_shape
        for layer in self.stack[:-1]:  # everything before the Flatten
            shape = layer.compute_output_shape(shape)
        return tuple(shape[1:])


@keras.saving.register_keras_serializable(package="daekit")
class ConvDecoder(LayerStack, daekit.Decoder):
    """Reshapes the code to a feature map, then transposed-convolution blocks (``padding``) each
    followed by 2x2 upsampling, a 'same' tail block and a sigmoid output convolution."""

    name = "conv"

    @attrs.frozen
    class Options:
        filters: tuple = option((64, 32), min=1, help="Filters of each upsampling block.")
        tail_filters: int = option(1, min=1, help="Filters of the last hidden block; the classic model squeezes to 1.")
        kernel_size: int = option(3, min=1, help="Side of every kernel.")
        padding: str = option("valid", choices=("valid", "same"), help="Padding of the upsampling blocks; must match the encoder's.")
        channels: int = option(0, min=0, help="Project the code to a map of this many channels (needed after a dense code); 0 reshapes the code itself.")
        activation: str
        negative_slope: float
        normalization: str
        activation, negative_slope, normalization = _activation_fields()

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        o = self.options
        self.stack = []
        if o.channels:
            height, width = self._start_size()
            self.stack.append(layers.Dense(height * width * o.channels))
            self.stack += _block_activation(o)
        self.stack.append(layers.Reshape(self._feature_shape(None)))
        for filters in o.filters:
            self.stack += _block(filters, o.padding, o, transpose=True)
            self.stack.append(layers.UpSampling2D(2))
        self.stack += _block(o.tail_filters, "same", o, transpose=True)
        self.stack.append(layers.Conv2DTranspose(self.image_shape[-1], o.kernel_size, padding="same", activation="sigmoid"))

    @classmethod
    def from_config(cls, config):
        return cls(**_upgrade(config))

    def _start_size(self):
        """The feature map side from which the blocks grow exactly to ``image_shape``."""
        sizes = []
        blocks = len(self.options.filters)
        for side in self.image_shape[:2]:
            for _ in self.options.filters:
                shrink = self.options.kernel_size - 1 if self.options.padding == "valid" else 0
                if side % 2 or side // 2 - shrink < 1:
                    raise ConfigError(
                        f"decoder 'conv' cannot produce images of {self.image_shape[0]}x{self.image_shape[1]} "
                        f"with {blocks} upsampling blocks of padding {self.options.padding!r}"
                    )
                side = side // 2 - shrink
            sizes.append(side)
        return tuple(sizes)

    def _feature_shape(self, code_width):
        height, width = self._start_size()
        if code_width is None:
            return (height, width, -1)
        return (height, width, code_width // (height * width))

    def check_code(self, code_shape, layout, skip_shapes=()):
        if len(code_shape) != 2:
            raise ConfigError(f"decoder 'conv' decodes a flat code; the encoder gives codes of shape {tuple(code_shape)}")
        height, width = self._start_size()
        size = f"{self.image_shape[0]}x{self.image_shape[1]}"
        if self.options.channels:
            return  # the dense projection takes a code of any width
        if layout is not None and tuple(layout[:2]) != (height, width):
            raise ConfigError(
                f"decoder 'conv' grows {size} images from a {height}x{width} map, but the encoder's code "
                f"flattens a {'x'.join(map(str, layout))} map; give both the same number of blocks and padding"
            )
        if code_shape[-1] % (height * width):
            raise ConfigError(
                f"decoder 'conv' needs a code whose width is a multiple of {height}x{width}="
                f"{height * width} to produce {size} images; the encoder gives {code_shape[-1]} "
                f"(give the decoder channels=N to project the code to a {height}x{width}xN map)"
            )


@daekit.hookimpl
def register_encoders(register):
    register(ConvEncoder)


@daekit.hookimpl
def register_decoders(register):
    register(ConvDecoder)
