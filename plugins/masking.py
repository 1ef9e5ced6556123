"""Masking: pixel dropout, coarse block dropout, grid masks and line masks.

Masked pixels are filled with a constant (``fill=constant``, ``value``) or with uniform
noise (``fill=noise``). Each corruption returns exactly the pixels it masked from
``corrupt_with_mask``, for masked losses.
"""

import attrs
import keras
from keras import ops

import daekit
from daekit import SeedStream, option, pixel_grid


def _fill_field():
    return option("constant", choices=("constant", "noise"), help="Fill masked pixels with a constant or with uniform noise.")


def _value_field():
    return option(0.0, min=0.0, max=1.0, help="The constant for fill=constant.")


class _Masking(daekit.Corruption):
    """Shared filling: subclasses return a mask of shape (batch, height, width, 1)."""

    def mask(self, images, seeds):
        raise NotImplementedError

    def corrupt_with_mask(self, images, seed):
        seeds = SeedStream(seed)
        mask = ops.broadcast_to(ops.cast(self.mask(images, seeds), images.dtype), ops.shape(images))
        if self.options.fill == "noise":
            fill = keras.random.uniform(ops.shape(images), dtype=images.dtype, seed=seeds())
        else:
            fill = ops.full(ops.shape(images), self.options.value, dtype=images.dtype)
        return ops.where(mask > 0, fill, images), mask

    def corrupt(self, images, seed):
        return self.corrupt_with_mask(images, seed)[0]


@keras.saving.register_keras_serializable(package="daekit")
class PixelDropout(_Masking):
    """Drops a share ``rate`` of single pixels (dead sensor pixels, lost samples)."""

    name = "pixel_dropout"
    SEVERITIES = {1: {"rate": 0.008}, 2: {"rate": 0.025}, 3: {"rate": 0.055}, 4: {"rate": 0.11}, 5: {"rate": 0.27}}

    @attrs.frozen
    class Options:
        rate: float = option(0.1, min=0.0, max=1.0, help="Share of pixels dropped.")
        fill: str = _fill_field()
        value: float = _value_field()

    def mask(self, images, seeds):
        shape = (*ops.shape(images)[:3], 1)
        return keras.random.uniform(shape, dtype=images.dtype, seed=seeds()) < self.options.rate


@keras.saving.register_keras_serializable(package="daekit")
class CoarseDropout(_Masking):
    """Drops ``holes`` square blocks, each ``size`` times the shorter side, at random places."""

    name = "coarse_dropout"
    SEVERITIES = {
        1: {"holes": 1, "size": 0.2}, 2: {"holes": 2, "size": 0.2}, 3: {"holes": 3, "size": 0.2},
        4: {"holes": 3, "size": 0.25}, 5: {"holes": 5, "size": 0.25},
    }

    @attrs.frozen
    class Options:
        holes: int = option(3, min=1, help="Blocks per image.")
        size: float = option(0.25, min_exclusive=0.0, max=1.0, help="Side of a block as a share of the shorter image side.")
        fill: str = _fill_field()
        value: float = _value_field()

    def mask(self, images, seeds):
        batch = ops.shape(images)[0]
        height = ops.cast(ops.shape(images)[1], images.dtype)
        width = ops.cast(ops.shape(images)[2], images.dtype)
        side = self.options.size * ops.minimum(height, width)
        centres = keras.random.uniform((batch, self.options.holes, 2), dtype=images.dtype, seed=seeds())
        cy = (centres[..., 0] * height)[:, :, None, None]
        cx = (centres[..., 1] * width)[:, :, None, None]
        ys, xs = pixel_grid(images)
        inside = (ops.abs(ys[:, None] + 0.5 - cy) < side / 2) & (ops.abs(xs[:, None] + 0.5 - cx) < side / 2)
        return ops.any(inside, axis=1)[..., None]


@keras.saving.register_keras_serializable(package="daekit")
class GridMask(_Masking):
    """Masks a regular grid of squares (GridMask), shifted at random in each image."""

    name = "grid_mask"
    SEVERITIES = {1: {"period": 10, "ratio": 0.1}, 2: {"period": 8, "ratio": 0.19}, 3: {"period": 8, "ratio": 0.25},
                  4: {"period": 8, "ratio": 0.3}, 5: {"period": 8, "ratio": 0.4}}

    @attrs.frozen
    class Options:
        period: int = option(7, min=2, help="Grid period in pixels.")
        ratio: float = option(0.45, min_exclusive=0.0, max=1.0, help="Side of each masked square as a share of the period.")
        fill: str = _fill_field()
        value: float = _value_field()

    def mask(self, images, seeds):
        batch = ops.shape(images)[0]
        period = float(self.options.period)
        shift = keras.random.uniform((batch, 2), 0.0, period, dtype=images.dtype, seed=seeds())
        ys, xs = pixel_grid(images)
        in_y = ops.mod(ys + shift[:, 0, None, None], period) < self.options.ratio * period
        in_x = ops.mod(xs + shift[:, 1, None, None], period) < self.options.ratio * period
        return (in_y & in_x)[..., None]


@keras.saving.register_keras_serializable(package="daekit")
class LineMask(_Masking):
    """Masks ``lines`` full-length rows or columns ``width`` pixels wide (scan-line loss)."""

    name = "line_mask"
    SEVERITIES = {1: {"lines": 1, "width": 1.0}, 2: {"lines": 1, "width": 2.5}, 3: {"lines": 2, "width": 1.2},
                  4: {"lines": 3, "width": 1.3}, 5: {"lines": 6, "width": 1.4}}

    @attrs.frozen
    class Options:
        lines: int = option(3, min=1, help="Lines per image.")
        width: float = option(1.0, min_exclusive=0.0, help="Line width in pixels.")
        orientation: str = option("any", choices=("any", "horizontal", "vertical"), help="Direction of the lines.")
        fill: str = _fill_field()
        value: float = _value_field()

    def mask(self, images, seeds):
        batch = ops.shape(images)[0]
        height = ops.cast(ops.shape(images)[1], images.dtype)
        width = ops.cast(ops.shape(images)[2], images.dtype)
        draws = keras.random.uniform((batch, self.options.lines, 2), dtype=images.dtype, seed=seeds())
        if self.options.orientation == "any":
            horizontal = draws[..., 1] < 0.5
        else:
            horizontal = ops.full(ops.shape(draws[..., 1]), self.options.orientation == "horizontal")
        horizontal = horizontal[:, :, None, None]
        ys, xs = pixel_grid(images)
        position = draws[..., 0][:, :, None, None]
        on_row = ops.abs(ys[:, None] + 0.5 - position * height) < self.options.width / 2
        on_column = ops.abs(xs[:, None] + 0.5 - position * width) < self.options.width / 2
        return ops.any(ops.where(horizontal, on_row, on_column), axis=1)[..., None]


@daekit.hookimpl
def register_corruptions(register):
    for cls in (PixelDropout, CoarseDropout, GridMask, LineMask):
        register(cls)
