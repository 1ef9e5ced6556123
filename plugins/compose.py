"""Composition of corruptions: a chain applied in order, and a weighted one-of per image.

On the command line, repeating ``--corruption`` makes a chain; brackets nest any
composition: ``one_of[gaussian:stddev=0.2 | scratches:severity=3]:weights=3,1``. Every
corruption also takes ``probability=`` (the share of images it touches).
"""

import attrs
import keras
from keras import ops

import daekit
from daekit import ConfigError, SeedStream, option


class _Composite(daekit.Corruption):
    composite = True

    def __init__(self, children=(), **kwargs):
        super().__init__(**kwargs)
        children = [keras.saving.deserialize_keras_object(c) if isinstance(c, dict) else c for c in children]
        if not children:
            raise ConfigError(f"{self.describe()} needs parts: write {type(self).name}[a | b]")
        for child in children:
            if not isinstance(child, daekit.Corruption):
                raise ConfigError(f"{self.describe()}: {child!r} is not a corruption")
        self.children = children

    def build(self, input_shape):
        for child in self.children:
            child.build(input_shape)

    def get_config(self):
        return {**super().get_config(), "children": [keras.saving.serialize_keras_object(c) for c in self.children]}


@keras.saving.register_keras_serializable(package="daekit")
class Chain(_Composite):
    """Applies its parts in order, each with its own probability."""

    name = "chain"
    chains = True

    def corrupt_with_mask(self, images, seed):
        seeds = SeedStream(seed)
        mask = ops.zeros_like(images)
        for child in self.children:
            images, touched = child.apply(images, seeds(), with_mask=True)
            mask = ops.maximum(mask, touched)
        return images, mask

    def corrupt(self, images, seed):
        seeds = SeedStream(seed)
        for child in self.children:
            images = child.apply(images, seeds())
        return images


@keras.saving.register_keras_serializable(package="daekit")
class OneOf(_Composite):
    """Applies one of its parts to each image, chosen per image with ``weights``."""

    name = "one_of"

    @attrs.frozen
    class Options:
        weights: tuple = option((1.0,), min=0.0, help="Relative weight of each part (default: equal).")

    def _weights(self):
        weights = self.options.weights
        if weights == (1.0,):
            weights = (1.0,) * len(self.children)
        if len(weights) != len(self.children) or sum(weights) <= 0:
            raise ConfigError(f"{self.describe()}: {len(weights)} weights for {len(self.children)} parts")
        return [w / sum(weights) for w in weights]

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._weights()

    def corrupt_with_mask(self, images, seed):
        seeds = SeedStream(seed)
        draw = keras.random.uniform((ops.shape(images)[0], 1, 1, 1), dtype=images.dtype, seed=seeds())
        out, mask, low = ops.zeros_like(images), ops.zeros_like(images), 0.0
        for child, weight in zip(self.children, self._weights()):
            corrupted, touched = child.apply(images, seeds(), with_mask=True)
            chosen = (draw >= low) & (draw < low + weight)
            out = ops.where(chosen, corrupted, out)
            mask = ops.where(chosen, touched, mask)
            low += weight
        return ops.where(draw >= low, images, out), mask  # float round-off: the last part covers 1.0

    def corrupt(self, images, seed):
        return self.corrupt_with_mask(images, seed)[0]


@daekit.hookimpl
def register_corruptions(register):
    register(Chain)
    register(OneOf)
