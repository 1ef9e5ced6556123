"""Procedural damage like that on old photographs and film: scratches, dust and blotches.

Scratches are thin anti-aliased lines and gentle curves (quadratic Bézier curves drawn as
short segments) at random positions, angles, lengths, widths and brightness. Dust specks are
small sharp dots; blotches are large soft stains of low contrast. Every random parameter is
drawn per image and per mark, from the seed.
"""

import attrs
import keras
from keras import ops

import daekit
from daekit import SeedStream, blend, option, pixel_grid

_SEGMENTS = 4  # segments per scratch: enough for a gentle curve, cheap to rasterize


def _segment_distance2(ys, xs, start, end):
    """Squared distance from every pixel centre to segments; start/end are (batch, marks, 2)."""
    ay, ax = start[..., 0][..., None, None], start[..., 1][..., None, None]
    by, bx = end[..., 0][..., None, None], end[..., 1][..., None, None]
    dy, dx = by - ay, bx - ax
    py, px = ys[:, None] + 0.5 - ay, xs[:, None] + 0.5 - ax
    t = ops.clip((py * dy + px * dx) / (dy * dy + dx * dx + 1e-6), 0.0, 1.0)
    return ops.square(py - t * dy) + ops.square(px - t * dx)


def _squared_distance_to_centres(ys, xs, draw, height, width):
    """(batch, marks, H, W) squared distances to centres drawn in draw[..., 0:2] (shares of the sides)."""
    cy = (draw[..., 0] * height)[..., None, None]
    cx = (draw[..., 1] * width)[..., None, None]
    return ops.square(ys[:, None] + 0.5 - cy) + ops.square(xs[:, None] + 0.5 - cx)


def _lay_marks(out, touched, coverage, values, total):
    """Blend marks of per-mark ``coverage`` (batch, marks, H, W) and tones ``values`` into
    ``out`` with combined opacity ``total``; the tones mix in proportion to coverage."""
    value = ops.sum(coverage * values, axis=1) / (ops.sum(coverage, axis=1) + 1e-6)
    out = blend(out, value[..., None], total[..., None])
    return out, ops.maximum(touched, ops.cast(total[..., None] > 0.0, out.dtype))


@keras.saving.register_keras_serializable(package="daekit")
class Scratches(daekit.Corruption):
    """Scratches, dust specks and blotches, as on old prints and film."""

    name = "scratches"
    SEVERITIES = {
        1: {"scratches": 1, "dust": 3, "blotches": 0, "opacity": 0.6, "width": 0.8},
        2: {"scratches": 3, "dust": 10, "blotches": 1, "opacity": 0.8, "width": 1.0},
        3: {"scratches": 5, "dust": 16, "blotches": 2, "opacity": 0.9, "width": 1.2},
        4: {"scratches": 8, "dust": 24, "blotches": 3, "opacity": 1.0, "width": 1.5},
        5: {"scratches": 12, "dust": 40, "blotches": 4, "opacity": 1.0, "width": 2.0},
    }

    @attrs.frozen
    class Options:
        scratches: int = option(3, min=0, help="Most scratches per image (each image draws 1 to this many).")
        width: float = option(0.8, min_exclusive=0.0, help="Largest scratch width, in pixels.")
        length: float = option(0.8, min_exclusive=0.0, max=2.0, help="Longest scratch, as a share of the shorter side.")
        curvature: float = option(0.2, min=0.0, max=1.0, help="Largest bend of a scratch, as a share of its length.")
        brightness: str = option("mixed", choices=("bright", "dark", "mixed"), help="Scratches lighter, darker, or either.")
        opacity: float = option(0.8, min=0.0, max=1.0, help="Largest opacity of a mark.")
        dust: int = option(10, min=0, help="Dust specks per image.")
        blotches: int = option(1, min=0, help="Soft blotches per image.")

    def _values(self, shape, dtype, seed):
        bright = keras.random.uniform(shape, 0.75, 1.0, dtype=dtype, seed=seed)
        if self.options.brightness == "bright":
            return bright
        if self.options.brightness == "dark":
            return 1.0 - bright
        return ops.where(keras.random.uniform(shape, dtype=dtype, seed=seed) < 0.5, bright, 1.0 - bright)

    def corrupt_with_mask(self, images, seed):
        seeds = SeedStream(seed)
        o = self.options
        dtype = images.dtype
        batch = ops.shape(images)[0]
        height = ops.cast(ops.shape(images)[1], dtype)
        width = ops.cast(ops.shape(images)[2], dtype)
        side = ops.minimum(height, width)
        ys, xs = pixel_grid(images)
        out = images
        touched = ops.zeros((*ops.shape(images)[:3], 1), dtype)

        if o.scratches:
            k = o.scratches
            draw = keras.random.uniform((batch, k, 8), dtype=dtype, seed=seeds())
            count = ops.floor(draw[:, :1, 0] * k) + 1.0  # 1..k scratches in this image
            active = ops.cast(ops.arange(k)[None, :], dtype) < count
            start = ops.stack([draw[..., 1] * height, draw[..., 2] * width], axis=-1)
            angle = draw[..., 3] * 6.283185
            length = (0.25 + 0.75 * draw[..., 4]) * o.length * side
            direction = ops.stack([ops.sin(angle), ops.cos(angle)], axis=-1)
            normal = ops.stack([direction[..., 1], -direction[..., 0]], axis=-1)
            bend = (draw[..., 5] * 2.0 - 1.0) * o.curvature * length
            end = start + direction * length[..., None]
            control = (start + end) / 2.0 + normal * bend[..., None]
            t = ops.linspace(0.0, 1.0, _SEGMENTS + 1)[:, None]  # points along the Bézier curve
            points = [
                (1 - t[i]) ** 2 * start + 2 * (1 - t[i]) * t[i] * control + t[i] ** 2 * end for i in range(_SEGMENTS + 1)
            ]
            squared = _segment_distance2(ys, xs, points[0], points[1])
            for i in range(1, _SEGMENTS):
                squared = ops.minimum(squared, _segment_distance2(ys, xs, points[i], points[i + 1]))
            distance = ops.sqrt(squared)  # (batch, k, H, W)
            half_width = (0.3 + 0.7 * draw[..., 6]) * o.width / 2.0
            coverage = ops.clip(half_width[..., None, None] + 0.5 - distance, 0.0, 1.0)
            alpha = (0.5 + 0.5 * draw[..., 7]) * o.opacity * ops.cast(active, dtype)
            values = self._values((batch, k), dtype, seeds())[..., None, None]
            cover = coverage * alpha[..., None, None]  # (batch, k, H, W)
            # Overlapping scratches: their opacities combine.
            out, touched = _lay_marks(out, touched, cover, values, 1.0 - ops.prod(1.0 - cover, axis=1))

        if o.dust:
            draw = keras.random.uniform((batch, o.dust, 4), dtype=dtype, seed=seeds())
            radius = (0.3 + 0.9 * draw[..., 2])[..., None, None] * side / 28.0
            distance = ops.sqrt(_squared_distance_to_centres(ys, xs, draw, height, width))
            coverage = ops.clip(radius + 0.5 - distance, 0.0, 1.0) * o.opacity  # (batch, dust, H, W)
            values = self._values((batch, o.dust), dtype, seeds())[..., None, None]
            out, touched = _lay_marks(out, touched, coverage, values, ops.max(coverage, axis=1))

        if o.blotches:
            draw = keras.random.uniform((batch, o.blotches, 4), dtype=dtype, seed=seeds())
            radius = (0.06 + 0.1 * draw[..., 2])[..., None, None] * side
            amplitude = ((draw[..., 3] * 2.0 - 1.0) * 0.25 * o.opacity)[..., None, None]
            squared = _squared_distance_to_centres(ys, xs, draw, height, width)
            stain = ops.sum(amplitude * ops.exp(-squared / (2.0 * ops.square(radius))), axis=1)[..., None]
            stain = ops.where(ops.abs(stain) > 0.004, stain, 0.0)  # a stain ends where it no longer shows
            out = out + stain
            touched = ops.maximum(touched, ops.cast(stain != 0.0, dtype))

        return ops.clip(out, 0.0, 1.0), ops.broadcast_to(touched, ops.shape(images))

    def corrupt(self, images, seed):
        return self.corrupt_with_mask(images, seed)[0]


@daekit.hookimpl
def register_corruptions(register):
    register(Scratches)
