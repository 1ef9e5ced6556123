"""Blind-spot training (Noise2Void): learning to denoise from noisy images alone.

A network asked to reproduce a noisy image learns the identity. Noise2Void (Krull et al.,
2019) hides a few pixels from it: each is replaced by a value from its neighbourhood, and the
loss scores the output only there, against the noisy pixel that was hidden. Where the noise of
a pixel is independent of its neighbours' and has zero mean, the best the network can do from
the neighbourhood is the clean value, so it learns to denoise without ever seeing a clean image.

``blind_spot`` is the corruption that hides the pixels (and returns exactly their mask), and
the ``blind_spot`` loss scores only them. Train with both and ``--target noisy``.
"""

import attrs
import keras
from keras import ops

import daekit
from daekit import SeedStream, option


def _offsets(radius: int) -> list[tuple[int, int]]:
    """Every offset of the ``(2 radius + 1)`` square but its centre."""
    return [(dy, dx) for dy in range(-radius, radius + 1) for dx in range(-radius, radius + 1) if (dy, dx) != (0, 0)]


def _shifted(padded, dy: int, dx: int, radius: int, height, width):
    """The image whose pixel (y, x) is the original's (y + dy, x + dx), zero past the edges."""
    return padded[:, radius + dy:radius + dy + height, radius + dx:radius + dx + width, :]


def _inside(dy: int, dx: int, height, width):
    """Whether (y + dy, x + dx) lies inside the image, for each pixel, shaped ``(1, H, W, 1)``."""
    ys = ops.arange(height)[None, :, None, None] + dy
    xs = ops.arange(width)[None, None, :, None] + dx
    return ops.logical_and(ops.logical_and(ys >= 0, ys < height), ops.logical_and(xs >= 0, xs < width))


@keras.saving.register_keras_serializable(package="daekit")
class BlindSpot(daekit.Corruption):
    """Hides a share ``rate`` of the pixels of each image behind a value from their
    neighbourhood, for blind-spot training (Noise2Void).

    ``replace=uniform`` takes a neighbour drawn uniformly from the ``(2 radius + 1)`` square
    around the pixel, never the pixel itself (N2V); ``replace=median`` takes the median of that
    square without its centre (N2V2, which avoids the checkerboard artefacts a copied neighbour
    can leave). Only neighbours inside the image count, so near an edge the square is cut
    short, and the value is always that of other pixels. All channels of a pixel are hidden
    together.

    ``struct`` hides, with uniform noise, the pixels in a line through each hidden pixel
    (structured Noise2Void): noise correlated along rows or columns (line artefacts of
    scanners and sensors) would otherwise show the network the hidden value.
    The mask is the hidden pixels alone: the loss scores only them.
    """

    name = "blind_spot"
    blind_spot = True

    @attrs.frozen
    class Options:
        rate: float = option(0.01, min_exclusive=0.0, max=0.5, help="Share of the pixels hidden in each image.")
        replace: str = option("uniform", choices=("uniform", "median"),
                              help="uniform: a random neighbour (N2V); median: the neighbourhood's median (N2V2).")
        radius: int = option(2, min=1, max=8, help="The neighbourhood is the (2 radius + 1) square around the pixel.")
        struct: str = option("none", choices=("none", "horizontal", "vertical"),
                             help="Also hide, with noise, a line of pixels through each hidden one (structured N2V).")
        span: int = option(5, min=3, help="Length of that line in pixels, the hidden pixel at its centre.")

    def corrupt_with_mask(self, images, seed):
        seeds = SeedStream(seed)
        radius = self.options.radius
        shape = ops.shape(images)
        height, width = shape[1], shape[2]
        hidden = keras.random.uniform((shape[0], height, width, 1), dtype=images.dtype, seed=seeds()) < self.options.rate
        padded = ops.pad(images, [(0, 0), (radius, radius), (radius, radius), (0, 0)])
        offsets = _offsets(radius)
        inside = [_inside(dy, dx, height, width) for dy, dx in offsets]
        count = sum(ops.cast(flag, "int32") for flag in inside)  # neighbours inside the image, per pixel
        if self.options.replace == "median":
            # Neighbours past the edge sort last and are left out of the median.
            around = ops.sort(ops.stack([ops.where(flag, _shifted(padded, dy, dx, radius, height, width), 3.0)
                                         for flag, (dy, dx) in zip(inside, offsets)]), axis=0)
            low = ops.broadcast_to(((count - 1) // 2)[None], (1, *ops.shape(images)))
            high = ops.broadcast_to((count // 2)[None], (1, *ops.shape(images)))
            value = 0.5 * (ops.take_along_axis(around, low, axis=0)[0] + ops.take_along_axis(around, high, axis=0)[0])
        else:
            # The k-th of the pixel's neighbours inside the image, k uniform: never the pixel itself.
            draw = keras.random.uniform((shape[0], height, width, 1), seed=seeds())
            chosen = ops.minimum(ops.cast(draw * ops.cast(count, "float32"), "int32"), count - 1)
            value, seen = ops.zeros_like(images), ops.zeros_like(count)
            for flag, (dy, dx) in zip(inside, offsets):
                value = ops.where(ops.logical_and(flag, seen == chosen), _shifted(padded, dy, dx, radius, height, width), value)
                seen = seen + ops.cast(flag, "int32")
        corrupted = ops.where(hidden, value, images)
        if self.options.struct != "none":
            corrupted = ops.where(ops.logical_and(self._line(hidden), ops.logical_not(hidden)),
                                  keras.random.uniform(ops.shape(images), dtype=images.dtype, seed=seeds()), corrupted)
        return corrupted, ops.broadcast_to(ops.cast(hidden, images.dtype), shape)

    def _line(self, hidden):
        """Pixels within ``span // 2`` of a hidden pixel along the ``struct`` direction."""
        half = self.options.span // 2
        height, width = ops.shape(hidden)[1], ops.shape(hidden)[2]
        flags = ops.cast(hidden, "float32")
        pad = [(0, 0), (half, half), (0, 0), (0, 0)] if self.options.struct == "vertical" else [(0, 0), (0, 0), (half, half), (0, 0)]
        padded = ops.pad(flags, pad)
        near = ops.zeros_like(flags)
        for step in range(-half, half + 1):
            if step == 0:
                continue
            if self.options.struct == "vertical":
                near = ops.maximum(near, padded[:, half + step:half + step + height])
            else:
                near = ops.maximum(near, padded[:, :, half + step:half + step + width])
        return near > 0

    def corrupt(self, images, seed):
        return self.corrupt_with_mask(images, seed)[0]


@keras.saving.register_keras_serializable(package="daekit")
class BlindSpotLoss(daekit.Loss):
    """The error at the pixels a blind-spot corruption hid, and nowhere else, averaged over
    them: the Noise2Void loss. Elsewhere the target is the noisy input itself, which a network
    would learn to copy.

    On images that carry no mask (Keras's validation on clean images) it is the plain
    per-pixel error.
    """

    name = "blind_spot"
    uses_mask = True
    masked_only = True

    @attrs.frozen
    class Options:
        base: str = option("mse", choices=("mse", "mae"), help="Per-pixel error: squared or absolute.")

    def call(self, y_true, y_pred):
        error = y_pred - y_true
        return ops.square(error) if self.options.base == "mse" else ops.abs(error)

    def pixel_weights(self, mask):
        """The mask over its mean: Keras's mean of the weighted errors is then the mean error
        over the hidden pixels (zero for a batch in which none was hidden)."""
        return mask / ops.maximum(ops.mean(mask), 1e-12)


@daekit.hookimpl
def register_corruptions(register):
    register(BlindSpot)


@daekit.hookimpl
def register_losses(register):
    register(BlindSpotLoss)
