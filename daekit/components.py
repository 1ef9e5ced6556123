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
    #: A composition: its constructor takes ``children=[...]``, the components written in
    #: ``name[a | b]``, and it serializes them in its config.
    composite: ClassVar[bool] = False
    #: A composition that applies its children in order, each to the output of the one before:
    #: what an unnamed list of parts (a repeated ``--corruption``) is built with.
    chains: ClassVar[bool] = False

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


def run_layers(layers, inputs, training=False):
    """Call Keras layers in order, passing ``training`` to those that take it."""
    x = inputs
    for layer in layers:
        x = layer(x, training=training)
    return x


class LayerStack:
    """Mixin for an encoder or decoder made of a flat list of Keras layers in ``self.stack``:
    builds them shape by shape, and runs them in order."""

    def build(self, input_shape):
        shape = input_shape
        for layer in self.stack:
            if not layer.built:
                layer.build(shape)
            shape = layer.compute_output_shape(shape)

    def compute_output_shape(self, input_shape):
        shape = input_shape
        for layer in self.stack:
            shape = layer.compute_output_shape(shape)
        return shape

    def call(self, inputs, training=False):
        return run_layers(self.stack, inputs, training)


class Encoder(Component, keras.layers.Layer):
    """Maps an image batch to a code.

    An encoder with ``provides_skips = True`` returns ``(code, skips)`` from ``call``: a list
    of feature maps for a decoder's skip connections, finest first, the first being the
    encoder's own input (so that a decoder can learn a residual). It describes their shapes
    in :meth:`skip_shapes`, which the model checks against the decoder before building.
    """

    kind = "encoder"
    provides_skips: ClassVar[bool] = False

    def __init__(self, **kwargs):
        super().__init__(**self._take_options(kwargs))

    def code_layout(self, input_shape) -> tuple[int, int, int] | None:
        """The ``(height, width, channels)`` map that the code flattens, if it is one.

        Decoders that reshape the code use it to check that they fit this encoder. The
        default, ``None``, says the code is not a flattened feature map.
        """
        return None

    def size_multiple(self) -> int | None:
        """For a fully convolutional encoder, the number both image sides must be a multiple
        of (its total downsampling); ``None`` (the default) for one that takes only the size it
        was built for, as one that flattens its map to a code does. With a decoder that sets
        ``any_size``, the model then denoises images of any size, padded to this multiple."""
        return None

    def code_shape(self, input_shape):
        """The shape of the code (without the skips), batch first."""
        return self.compute_output_shape(input_shape)

    def skip_shapes(self, input_shape) -> list[tuple]:
        """Shapes of the skip feature maps this encoder hands over, finest first."""
        return []

    def get_config(self):
        return {**super().get_config(), **self.options_config()}


class Decoder(Component, keras.layers.Layer):
    """Maps a code back to an image batch of ``image_shape``.

    Args:
        image_shape: ``(height, width, channels)`` of the images to produce; the model
            passes it when it assembles the decoder.
    """

    kind = "decoder"
    #: A fully convolutional decoder: its output has the size its code and skips imply, not
    #: always ``image_shape`` (whose channels it still produces). See ``Encoder.size_multiple``.
    any_size: ClassVar[bool] = False
    #: Decoders that set this take ``call(code, skips=..., training=...)`` and need an encoder
    #: that ``provides_skips``.
    uses_skips: ClassVar[bool] = False

    def __init__(self, image_shape=(28, 28, 1), **kwargs):
        super().__init__(**self._take_options(kwargs))
        self.image_shape = tuple(int(size) for size in image_shape)

    def check_code(self, code_shape, layout: tuple[int, int, int] | None, skip_shapes=()) -> None:
        """Raise :class:`daekit.ConfigError` when this decoder cannot decode such codes.

        Args:
            code_shape: The encoder's code shape, batch first.
            layout: The encoder's :meth:`Encoder.code_layout`, or ``None``.
            skip_shapes: The encoder's :meth:`Encoder.skip_shapes`.
        """

    def get_config(self):
        return {**super().get_config(), "image_shape": list(self.image_shape), **self.options_config()}


class Loss(Component, keras.losses.Loss):
    """A reconstruction loss between clean images and the model's output.

    Subclasses implement ``call(y_true, y_pred)`` returning one value per image or pixel,
    as any ``keras.losses.Loss`` does.

    The mask API: a loss that sets ``uses_mask = True`` is given, in each training step, the
    corruption's mask of the pixels it touched (1.0 touched, 0.0 not; see
    :meth:`daekit.Corruption.corrupt_with_mask`) through :meth:`pixel_weights`, whose result
    Keras applies as the per-pixel ``sample_weight`` of ``call``'s values. Validation and
    evaluation images carry no mask: there the loss is ``call`` unweighted.
    """

    kind = "loss"
    #: Whether the model hands this loss the corruption's mask in training (see :meth:`pixel_weights`).
    uses_mask: ClassVar[bool] = False
    #: Whether it scores only the masked pixels (blind-spot training, ``--target noisy``).
    masked_only: ClassVar[bool] = False

    def pixel_weights(self, mask):
        """Per-pixel weights, the shape of the images, from the corruption's 0/1 ``mask``.

        Called only when ``uses_mask`` is set; such a loss must override it.
        """
        raise NotImplementedError(f"{self.describe()} sets uses_mask and must define pixel_weights(mask)")

    def __init__(self, **kwargs):
        super().__init__(**self._take_options(kwargs))

    def get_config(self):
        return {**super().get_config(), **self.options_config()}
