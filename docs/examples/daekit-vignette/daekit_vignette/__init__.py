"""A daekit plugin: lens vignetting, the darkening of an image towards its corners."""

import attrs
import keras
from keras import ops

import daekit
from daekit import SeedStream, option, per_image_uniform, pixel_grid


@keras.saving.register_keras_serializable(package="daekit_vignette")
class Vignette(daekit.Corruption):
    """Darkens each image towards its corners, around a centre that wanders per image.

    The image is multiplied by ``1 - strength * (r / r_max) ** falloff``, where ``r`` is the
    distance to the optical centre; ``strength`` is drawn per image from
    ``[strength_min, strength]``.
    """

    name = "vignette"
    SEVERITIES = {
        1: {"strength": 0.25}, 2: {"strength": 0.45}, 3: {"strength": 0.6},
        4: {"strength": 0.75}, 5: {"strength": 0.9},
    }

    @attrs.frozen
    class Options:
        strength: float = option(0.6, min=0.0, max=1.0, help="Darkening at the farthest corner.")
        strength_min: float = option(0.0, min=0.0, max=1.0, help="If below strength, each image draws from [strength_min, strength].")
        falloff: float = option(2.0, min_exclusive=0.0, help="How quickly darkening grows towards the corners.")
        wander: float = option(0.1, min=0.0, max=0.5, help="How far the centre moves, as a share of the image side.")

    def corrupt(self, images, seed):
        seeds = SeedStream(seed)
        o = self.options
        low = o.strength_min if o.strength_min < o.strength else o.strength
        strength = per_image_uniform(images, low, o.strength, seeds())[..., 0]  # (batch, 1, 1)
        height = ops.cast(ops.shape(images)[1], images.dtype)
        width = ops.cast(ops.shape(images)[2], images.dtype)
        shift = keras.random.uniform((ops.shape(images)[0], 2), -o.wander, o.wander, dtype=images.dtype, seed=seeds())
        cy = (0.5 + shift[:, 0, None, None]) * height
        cx = (0.5 + shift[:, 1, None, None]) * width
        ys, xs = pixel_grid(images)
        radius = ops.sqrt(ops.square((ys + 0.5 - cy) / height) + ops.square((xs + 0.5 - cx) / width))
        darkening = 1.0 - strength * ops.power(ops.minimum(radius / 0.75, 1.0), o.falloff)
        return ops.clip(images * darkening[..., None], 0.0, 1.0)


@daekit.hookimpl
def register_corruptions(register):
    register(Vignette)
