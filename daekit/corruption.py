"""The base class of corruptions: seeding, severity levels, probability and masks."""

from __future__ import annotations

from typing import Any, ClassVar

import keras

from daekit.components import Component
from daekit.errors import ConfigError


class SeedStream:
    """Distinct seeds for the successive random draws of one corruption call.

    A ``keras.random.SeedGenerator`` already advances on every draw and is passed through;
    an int seed would give every draw the same stream, so each draw gets its own int.
    """

    def __init__(self, seed):
        self.seed = seed
        self.count = 0

    def __call__(self):
        if isinstance(self.seed, int):
            self.count += 1
            return (self.seed * 1_000_003 + self.count * 7_919) % 2_147_483_647
        return self.seed


def _replica_index():
    """The index of the tf.distribute replica being traced, or None outside several replicas."""
    if keras.backend.backend() != "tensorflow":
        return None
    import tensorflow as tf  # only on this backend: the model code stays backend-independent

    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return None
    return context.replica_id_in_sync_group


class ReplicaSeedGenerator(keras.random.SeedGenerator):
    """A ``keras.random.SeedGenerator`` whose draws differ between tf.distribute replicas.

    Under a mirrored strategy every replica reads the same (mirrored) generator state, so
    a plain generator hands every replica the same seeds: the images of each replica's
    share of the batch would get identical noise. Each replica's index is folded into the
    seed it draws; on one device the draws are exactly a plain generator's.
    """

    def next(self, ordered=True):
        seed = super().next(ordered)
        replica = _replica_index()
        if replica is None:
            return seed
        offset = keras.ops.cast(replica, seed.dtype) * 1_000_003
        return seed + keras.ops.stack([offset, keras.ops.zeros_like(offset)])


class Corruption(Component, keras.layers.Layer):
    """A noise model: maps a clean batch in [0, 1] to a corrupted batch in [0, 1].

    Subclasses implement :meth:`corrupt`, a pure function of the batch and a seed written
    with ``keras.ops`` and ``keras.random``, so it runs inside the compiled training step,
    under XLA and on any device. Random parameters are drawn per image. As a layer it
    corrupts only in training, each call drawing fresh noise from its seed generator.

    Args:
        seed: Seed of the layer's generator: the same seed gives the same noise sequence.
        probability: Share of images corrupted; the others pass through clean.
        severity: 1 to 5 sets the options listed in the class's ``SEVERITIES``.
    """

    kind = "corruption"
    #: Whether it hides pixels from the network for blind-spot training (``--target noisy``).
    blind_spot: ClassVar[bool] = False
    #: Level (1 to 5) -> the options that level sets.
    SEVERITIES: ClassVar[dict[int, dict[str, Any]]] = {}

    def __init__(self, seed: int | None = None, probability: float = 1.0, severity: int | None = None, **kwargs):
        kwargs = self._apply_severity(severity, kwargs)
        super().__init__(**self._take_options(kwargs))
        probability = float(probability)
        if not 0.0 <= probability <= 1.0:
            raise ConfigError(f"{self.describe()}: probability={probability!r}: must be between 0 and 1")
        self.seed = seed
        self.probability = probability
        self.severity = severity
        self.seed_generator = ReplicaSeedGenerator(seed)

    @classmethod
    def _apply_severity(cls, severity, kwargs):
        if severity in (None, 0, "0", ""):
            return kwargs
        try:
            level = int(severity)
        except (TypeError, ValueError):
            level = None
        if level not in cls.SEVERITIES:
            levels = ", ".join(map(str, cls.SEVERITIES)) or "none"
            raise ConfigError(f"{cls.describe()}: severity={severity!r}: levels are {levels}")
        preset = cls.SEVERITIES[level]
        clashes = [k for k in preset if k in kwargs and str(kwargs[k]) != str(preset[k])]
        if clashes:
            raise ConfigError(f"{cls.describe()}: severity {level} sets {', '.join(clashes)}; give one or the other")
        return {**kwargs, **preset}

    def corrupt(self, images, seed):
        """Return ``images`` corrupted, drawing randomness only from ``seed``.

        Args:
            images: A float batch of shape ``(batch, height, width, channels)`` in [0, 1].
            seed: An int or a ``keras.random.SeedGenerator``; wrap it in :class:`SeedStream`
                when drawing more than once.
        """
        raise NotImplementedError

    def corrupt_with_mask(self, images, seed):
        """``(corrupted, mask)``: the mask is 1.0 where a pixel was changed.

        Corruptions that touch chosen pixels (masking, scratches, salt and pepper) override
        this to return exactly the pixels they touched.
        """
        corrupted = self.corrupt(images, seed)
        return corrupted, keras.ops.cast(keras.ops.not_equal(corrupted, images), images.dtype)

    def apply(self, images, seed, with_mask: bool = False):
        """Corrupt with this layer's ``probability``: the entry point of the model and of tools."""
        seeds = SeedStream(seed)
        if with_mask:
            corrupted, mask = self.corrupt_with_mask(images, seeds())
        else:
            corrupted, mask = self.corrupt(images, seeds()), None
        if self.probability < 1.0:
            batch = keras.ops.shape(images)[0]
            chosen = keras.random.uniform((batch, 1, 1, 1), seed=seeds()) < self.probability
            corrupted = keras.ops.where(chosen, corrupted, images)
            if mask is not None:
                mask = keras.ops.where(chosen, mask, keras.ops.zeros_like(mask))
        return (corrupted, mask) if with_mask else corrupted

    def call(self, images, training=False):
        if not training:
            return images
        return self.apply(images, self.seed_generator)

    def compute_output_shape(self, input_shape):
        return input_shape

    # Keras saves a layer's own variables but not its seed generators' state; saving it makes
    # a reloaded model, or a resumed run, continue the noise sequence where it stopped.
    def save_own_variables(self, store):
        super().save_own_variables(store)
        store["seed_state"] = keras.ops.convert_to_numpy(self.seed_generator.state.value)

    def load_own_variables(self, store):
        if "seed_state" in store:
            self.seed_generator.state.assign(store["seed_state"][...])
        super().load_own_variables({key: store[key] for key in store.keys() if key != "seed_state"})

    def get_config(self):
        return {
            **super().get_config(), "seed": self.seed, "probability": self.probability,
            "severity": self.severity, **self.options_config(),
        }


def per_image_uniform(images, low: float, high: float, seed):
    """One value per image, uniform in [low, high), shaped ``(batch, 1, 1, 1)`` to broadcast."""
    batch = keras.ops.shape(images)[0]
    if high <= low:
        return keras.ops.full((batch, 1, 1, 1), low, dtype=images.dtype)
    return keras.random.uniform((batch, 1, 1, 1), low, high, dtype=images.dtype, seed=seed)


def pixel_grid(images):
    """Pixel-centre coordinates ``(ys, xs)`` shaped ``(1, H, 1)`` and ``(1, 1, W)``."""
    height, width = keras.ops.shape(images)[1], keras.ops.shape(images)[2]
    ys = keras.ops.cast(keras.ops.arange(height), images.dtype)[None, :, None]
    xs = keras.ops.cast(keras.ops.arange(width), images.dtype)[None, None, :]
    return ys, xs


def blend(images, value, coverage):
    """``images`` where coverage is 0, ``value`` where it is 1, mixed in between."""
    return images * (1.0 - coverage) + value * coverage


#: The input PSNR band (dB, on Fashion-MNIST) each severity level of a built-in corruption
#: is calibrated to, measured by ``bench/severity.py``.
SEVERITY_BANDS: dict[int, tuple[float, float]] = {
    1: (26.0, 35.0), 2: (22.5, 26.0), 3: (19.5, 22.5), 4: (16.5, 19.5), 5: (11.0, 16.5),
}
