"""A skip-connected encoder and decoder (U-Net), with residual output.

The encoder runs blocks of 3x3 convolutions ('same' padding), halving the resolution
between blocks, and hands every block's output but the last to the decoder as skip
connections, with the input image first. The decoder doubles the resolution, concatenates
the matching skip and runs a block, then predicts a correction that it adds to the input
image (``residual=true``, as DnCNN does), or the image itself through a sigmoid.

``merge=add`` (decoder) upsamples with a learned 2x2 transposed convolution to the block's
filters and adds the skip instead of concatenating it, as DRUNet does: each block's first
convolution then reads the block's filters rather than those plus the coarser level's, which
makes the decoder cheaper. The skip must have as many channels as the block has filters.

``space_to_depth=2`` (on both) folds each 2x2 block of pixels into channels before the first
block and unfolds the prediction at the end, as FFDNet does: the network works at half the
resolution with four times the channels per pixel, which buys width for the same compute.
"""

import attrs
import keras
from keras import layers, ops

import daekit
from daekit import BatchNormalization, ConfigError, option, run_layers

_ACTIVATIONS = ("relu", "leaky_relu", "gelu", "silu")


def space_to_depth(x, factor):
    """(B, H, W, C) to (B, H/f, W/f, C*f*f): each f x f block of pixels becomes channels."""
    if factor == 1:
        return x
    # Dynamic sides: a fully convolutional model takes images of any (padded) size.
    height, width, channels = ops.shape(x)[1], ops.shape(x)[2], x.shape[-1]
    x = ops.reshape(x, (-1, height // factor, factor, width // factor, factor, channels))
    x = ops.transpose(x, (0, 1, 3, 2, 4, 5))
    return ops.reshape(x, (-1, height // factor, width // factor, factor * factor * channels))


def depth_to_space(x, factor):
    """The inverse of :func:`space_to_depth`."""
    if factor == 1:
        return x
    height, width, channels = ops.shape(x)[1], ops.shape(x)[2], x.shape[-1]
    out = channels // (factor * factor)
    x = ops.reshape(x, (-1, height, width, factor, factor, out))
    x = ops.transpose(x, (0, 1, 3, 2, 4, 5))
    return ops.reshape(x, (-1, height * factor, width * factor, out))


def upsample_nearest(x, factor=2):
    """Nearest-neighbour upsampling, each pixel repeated over a ``factor`` x ``factor`` block,
    by :func:`depth_to_space`: unlike ``UpSampling2D`` (``repeat`` over dynamic sides) it
    keeps the channels known to the LiteRT converter, which then exports the model."""
    return depth_to_space(ops.tile(x, (1, 1, 1, factor * factor)), factor)


def _convs(filters, count, normalization, activation):
    stack = []
    for _ in range(count):
        stack.append(layers.Conv2D(filters, 3, padding="same", use_bias=normalization == "none"))
        if normalization == "batch":
            stack.append(BatchNormalization())
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
        space_to_depth: int = option(1, choices=(1, 2), help="2: fold 2x2 pixel blocks into channels first (FFDNet); the decoder must match.")

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        o = self.options
        self.blocks = [_convs(f, o.convs, o.normalization, o.activation) for f in o.filters]
        self.pool = layers.MaxPooling2D(2)

    def build(self, input_shape):
        pass  # layers build on the first call, which the model makes when it is assembled or loaded

    def call(self, images, training=False):
        skips, x = [images], space_to_depth(images, self.options.space_to_depth)
        for index, block in enumerate(self.blocks):
            x = run_layers(block, x, training)
            if index < len(self.blocks) - 1:
                skips.append(x)
                x = self.pool(x)
        return x, skips

    def size_multiple(self):
        return 2 ** (len(self.options.filters) - 1 + (self.options.space_to_depth == 2))

    def _sizes(self, input_shape):
        halvings = len(self.options.filters) - 1 + (self.options.space_to_depth == 2)
        if input_shape[1] % 2 ** halvings or input_shape[2] % 2 ** halvings:
            raise ConfigError(
                f"encoder 'unet' halves the image {halvings} times; {input_shape[1]}x{input_shape[2]} "
                f"images must then have sides divisible by {2 ** halvings}"
            )
        height, width = input_shape[1] // self.options.space_to_depth, input_shape[2] // self.options.space_to_depth
        sizes = [(height, width)]
        for _ in self.options.filters[1:]:
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
    any_size = True

    @attrs.frozen
    class Options:
        filters: tuple = option((64, 32), min=1, help="Filters of each upsampling block, coarsest first.")
        convs: int = option(2, min=1, help="3x3 convolutions per block.")
        normalization: str = option("batch", choices=("batch", "none"), help="BatchNormalization after each convolution.")
        activation: str = option("relu", choices=_ACTIVATIONS, help="Activation after each convolution.")
        residual: bool = option(True, help="Predict a correction added to the input image (else the image, via a sigmoid).")
        merge: str = option("concat", choices=("concat", "project", "add"), help="concat: nearest upsampling, skip concatenated; project: the same after a 1x1 convolution to the block's filters; add: 2x2 transposed convolution, skip added (DRUNet).")
        space_to_depth: int = option(1, choices=(1, 2), help="Must match the encoder's: unfold the prediction from channels.")

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        o = self.options
        if o.merge == "add":
            self.up_convs = [layers.Conv2DTranspose(f, 2, strides=2) for f in o.filters]
            self.add = layers.Add()
        else:
            self.concatenate = layers.Concatenate()
            if o.merge == "project":
                self.projections = [layers.Conv2D(f, 1, use_bias=False) for f in o.filters]
        self.blocks = [_convs(f, o.convs, o.normalization, o.activation) for f in o.filters]
        channels = self.image_shape[-1] * o.space_to_depth ** 2
        self.head = layers.Conv2D(channels, 1, activation=None if o.residual else "sigmoid")

    def check_code(self, code_shape, layout, skip_shapes=()):
        image, finest = skip_shapes[0], (skip_shapes[1] if len(skip_shapes) > 1 else code_shape)
        factor = image[1] // finest[1]
        if factor != self.options.space_to_depth:
            raise ConfigError(
                f"decoder 'unet' has space_to_depth={self.options.space_to_depth} but the encoder's finest "
                f"maps are 1/{factor} of the image's side; give both the same space_to_depth"
            )
        stages = len(skip_shapes) - 1  # the first skip is the input image
        if len(self.options.filters) != stages:
            raise ConfigError(
                f"decoder 'unet' has {len(self.options.filters)} upsampling blocks (filters="
                f"{','.join(map(str, self.options.filters))}) but the encoder hands over {stages} skip maps; "
                f"give it {stages} filters"
            )
        if self.options.merge == "add":
            wanted = [shape[-1] for shape in reversed(skip_shapes[1:])]
            if list(self.options.filters) != wanted:
                raise ConfigError(
                    f"decoder 'unet' with merge=add adds each skip map to its block's maps, so its filters must "
                    f"match the encoder's skip channels, coarsest first: give it filters={','.join(map(str, wanted))} "
                    f"(it has {','.join(map(str, self.options.filters))})"
                )

    def build(self, code_shape):
        pass  # layers build on the first call, which the model makes when it is assembled or loaded

    def call(self, code, skips=None, training=False):
        image, maps = skips[0], skips[1:]
        x = code
        for index, (block, skip) in enumerate(zip(self.blocks, reversed(maps))):
            if self.options.merge == "add":
                x = self.add([self.up_convs[index](x), skip])
            else:
                if self.options.merge == "project":
                    x = self.projections[index](x)
                x = self.concatenate([upsample_nearest(x), skip])
            x = run_layers(block, x, training)
        out = depth_to_space(self.head(x), self.options.space_to_depth)
        if self.options.residual:
            return ops.clip(image + out, 0.0, 1.0)
        return out


@daekit.hookimpl
def register_encoders(register):
    register(UNetEncoder)


@daekit.hookimpl
def register_decoders(register):
    register(UNetDecoder)
