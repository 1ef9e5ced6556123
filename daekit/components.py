"""Base classes of the four kinds of component.

Every component is a Keras object (a ``Layer`` or a ``Loss``) with a ``name`` class
attribute, the name users type, and an attrs ``Options`` class. Options are passed as
keyword arguments, stored on ``self.options`` and carried by ``get_config``, so a CLI
string, a Python call and a reloaded file all go through the same validation.
"""

from __future__ import annotations

from typing import Any, ClassVar

import keras

from daekit.options import NoOptions, build_options, options_to_dict


class Component:
    """Behaviour shared by every component: naming and options."""

    name: ClassVar[str]
    kind: ClassVar[str]
    Options: ClassVar[type] = NoOptions

    @classmethod
    def describe(cls) -> str:
        return f"{cls.kind} {cls.name!r}"

    def _take_options(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        """Pop this component's options out of ``kwargs``; return the Keras arguments left."""
        keras_keys = {"name", "dtype", "trainable", "autocast", "reduction"}
        values = {key: kwargs.pop(key) for key in list(kwargs) if key not in keras_keys}
        self.options = build_options(type(self).Options, values, owner=self.describe())
        kwargs.setdefault("name", type(self).name)
        return kwargs

    def options_config(self) -> dict[str, Any]:
        return options_to_dict(self.options)


class Corruption(Component, keras.layers.Layer):
    """A noise model: maps a clean batch in [0, 1] to a corrupted batch in [0, 1].

    Subclasses implement :meth:`corrupt`, a pure function of the batch and a seed, written
    with ``keras.ops`` and ``keras.random`` so it runs inside the compiled training step on
    any device. When called as a layer it corrupts only in training; each call draws fresh
    noise from the layer's seed generator.

    Args:
        seed: Seed of the layer's generator: the same seed gives the same noise sequence.
    """

    kind = "corruption"

    def __init__(self, seed: int | None = None, **kwargs):
        super().__init__(**self._take_options(kwargs))
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def corrupt(self, images, seed):
        """Return ``images`` corrupted, drawing randomness only from ``seed``.

        Args:
            images: A float batch of shape ``(batch, height, width, channels)`` in [0, 1].
            seed: An int, a ``keras.random.SeedGenerator`` or a seed tensor.
        """
        raise NotImplementedError

    def call(self, images, training=False):
        if not training:
            return images
        return self.corrupt(images, self.seed_generator)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "seed": self.seed, **self.options_config()}


class Encoder(Component, keras.layers.Layer):
    """Maps an image batch to a code."""

    kind = "encoder"

    def __init__(self, **kwargs):
        super().__init__(**self._take_options(kwargs))

    def code_layout(self, input_shape) -> tuple[int, int, int] | None:
        """The ``(height, width, channels)`` map that the code flattens, if it is one.

        Decoders that reshape the code use it to check that they fit this encoder. The
        default, ``None``, says the code is not a flattened feature map.
        """
        return None

    def get_config(self):
        return {**super().get_config(), **self.options_config()}


class Decoder(Component, keras.layers.Layer):
    """Maps a code back to an image batch of ``image_shape``.

    Args:
        image_shape: ``(height, width, channels)`` of the images to produce; the model
            passes it when it assembles the decoder.
    """

    kind = "decoder"

    def __init__(self, image_shape=(28, 28, 1), **kwargs):
        super().__init__(**self._take_options(kwargs))
        self.image_shape = tuple(int(size) for size in image_shape)

    def check_code(self, code_shape, layout: tuple[int, int, int] | None) -> None:
        """Raise :class:`daekit.ConfigError` when this decoder cannot decode such codes.

        Args:
            code_shape: The encoder's output shape, batch first.
            layout: The encoder's :meth:`Encoder.code_layout`, or ``None``.
        """

    def get_config(self):
        return {**super().get_config(), "image_shape": list(self.image_shape), **self.options_config()}


class Loss(Component, keras.losses.Loss):
    """A reconstruction loss between clean images and the model's output.

    Subclasses implement ``call(y_true, y_pred)`` returning one value per image or pixel,
    as any ``keras.losses.Loss`` does.
    """

    kind = "loss"

    def __init__(self, **kwargs):
        super().__init__(**self._take_options(kwargs))

    def get_config(self):
        return {**super().get_config(), **self.options_config()}


KINDS: dict[str, type[Component]] = {
    "corruption": Corruption,
    "encoder": Encoder,
    "decoder": Decoder,
    "loss": Loss,
}
