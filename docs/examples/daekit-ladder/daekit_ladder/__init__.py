"""A small skip-connected encoder/decoder pair and a loss that uses the corruption's mask.

- ``ladder`` encoder: a 3x3 convolution per rung, each rung at half the resolution of the one
  before; it hands the input image and every rung but the last to the decoder as skips.
- ``ladder`` decoder: from the coarsest rung up, doubles the resolution, concatenates the
  matching skip and convolves; it predicts a correction that it adds to the input image.
- ``touched`` loss: absolute error in which only the pixels the corruption touched count
  fully; the others weigh ``floor``.
"""

import attrs
import keras
from keras import layers, ops

import daekit
from daekit import ConfigError, option


@keras.saving.register_keras_serializable(package="daekit_ladder")
class LadderEncoder(daekit.Encoder):
    """One 3x3 convolution per rung, halving the resolution between rungs."""

    name = "ladder"
    provides_skips = True

    @attrs.frozen
    class Options:
        filters: tuple = option((16, 32), min=1, nonempty=True, help="Filters of each rung, finest first.")

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.rungs = [layers.Conv2D(f, 3, padding="same", activation="relu") for f in self.options.filters]
        self.pool = layers.MaxPooling2D(2)

    def build(self, input_shape):
        pass  # the layers build on the first call, which the model makes when it is assembled

    def call(self, images, training=False):
        skips, x = [images], images
        for index, rung in enumerate(self.rungs):
            x = rung(x)
            if index < len(self.rungs) - 1:
                skips.append(x)
                x = self.pool(x)
        return x, skips

    def _sizes(self, input_shape):
        height, width = input_shape[1], input_shape[2]
        sizes = [(height, width)]
        for _ in self.options.filters[1:]:
            height, width = height // 2, width // 2
            sizes.append((height, width))
        return sizes

    def code_shape(self, input_shape):
        height, width = self._sizes(input_shape)[-1]
        return (input_shape[0], height, width, self.options.filters[-1])

    def skip_shapes(self, input_shape):
        rungs = [(input_shape[0], h, w, f) for (h, w), f in zip(self._sizes(input_shape)[:-1], self.options.filters)]
        return [tuple(input_shape), *rungs]

    def compute_output_shape(self, input_shape):
        return self.code_shape(input_shape), self.skip_shapes(input_shape)


@keras.saving.register_keras_serializable(package="daekit_ladder")
class LadderDecoder(daekit.Decoder):
    """Doubles the resolution rung by rung, concatenating the encoder's skips; residual output."""

    name = "ladder"
    uses_skips = True

    @attrs.frozen
    class Options:
        filters: tuple = option((16,), min=1, nonempty=True,
                                help="Filters of each upward rung, coarsest first: one per encoder rung but the last.")

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.up = layers.UpSampling2D(2)
        self.rungs = [layers.Conv2D(f, 3, padding="same", activation="relu") for f in self.options.filters]
        self.out = layers.Conv2D(self.image_shape[-1], 3, padding="same")

    def check_code(self, code_shape, layout, skip_shapes=()):
        if len(skip_shapes) - 1 != len(self.options.filters):
            raise ConfigError(f"decoder 'ladder' has {len(self.options.filters)} rung(s) for the encoder's "
                              f"{len(skip_shapes) - 1}; give it one filter count per encoder rung but the last")
        size = code_shape[1:3]
        for skip in reversed(skip_shapes[1:]):
            if tuple(skip[1:3]) != (size[0] * 2, size[1] * 2):
                raise ConfigError(f"decoder 'ladder' doubles {size[0]}x{size[1]} maps, which cannot give the "
                                  f"encoder's {skip[1]}x{skip[2]} rung; use images whose sides halve evenly")
            size = skip[1:3]

    def build(self, input_shape):
        pass

    def call(self, code, skips=(), training=False):
        x = code
        for rung, skip in zip(self.rungs, reversed(skips[1:])):
            x = rung(ops.concatenate([self.up(x), skip], axis=-1))
        return ops.clip(skips[0] + self.out(x), 0.0, 1.0)


@keras.saving.register_keras_serializable(package="daekit_ladder")
class TouchedLoss(daekit.Loss):
    """Absolute error on the pixels the corruption touched; the others weigh ``floor``.

    In training the model hands the loss the corruption's mask (``uses_mask``) and Keras weighs
    each pixel's error by :meth:`pixel_weights`; validation images carry no mask, so there it is
    the plain absolute error.
    """

    name = "touched"
    uses_mask = True

    @attrs.frozen
    class Options:
        floor: float = option(0.1, min=0.0, max=1.0, help="Weight of a pixel the corruption left alone.")

    def call(self, y_true, y_pred):
        return ops.abs(y_pred - y_true)

    def pixel_weights(self, mask):
        return self.options.floor + (1.0 - self.options.floor) * mask


@daekit.hookimpl
def register_encoders(register):
    register(LadderEncoder)


@daekit.hookimpl
def register_decoders(register):
    register(LadderDecoder)


@daekit.hookimpl
def register_losses(register):
    register(TouchedLoss)
