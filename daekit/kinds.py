"""The kinds of component: the one table that config, plugin manager, model, saving and CLI read.

Importing this module imports nothing heavy: a kind names its base class by import path,
so the CLI can list kinds before Keras (and TensorFlow) start.
"""

from __future__ import annotations

import importlib

import attrs


@attrs.frozen
class Kind:
    """One kind of component.

    Attributes:
        name: The kind as users write it (``--corruption``, ``daekit components corruption``).
        hook: The hook that plugins implement to register components of this kind.
        base: ``module:Class`` of the base class every such component derives from.
        model_part: Whether the assembled model holds one (and saves it in its config).
        help: What a component of this kind does, in a few words.
    """

    name: str
    hook: str
    base: str
    model_part: bool
    help: str

    @property
    def plural(self) -> str:
        """The kind in the plural, as messages and listings write it (``losses``)."""
        return self.name + ("es" if self.name.endswith("s") else "s")

    def base_class(self) -> type:
        module, _, cls = self.base.partition(":")
        return getattr(importlib.import_module(module), cls)


KINDS: dict[str, Kind] = {kind.name: kind for kind in (
    Kind("corruption", "register_corruptions", "daekit.corruption:Corruption", True,
         "adds the noise, inside the training step"),
    Kind("encoder", "register_encoders", "daekit.components:Encoder", True, "maps an image batch to a code"),
    Kind("decoder", "register_decoders", "daekit.components:Decoder", True, "maps a code back to images"),
    Kind("loss", "register_losses", "daekit.components:Loss", False, "compares the output with the clean images"),
)}

#: The kinds a :class:`daekit.DenoisingAutoencoder` is assembled from, in the order data flows.
MODEL_PARTS: tuple[str, ...] = tuple(name for name, kind in KINDS.items() if kind.model_part)
