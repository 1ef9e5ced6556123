"""The whole plugin API of daekit: one hook per kind of component, plus CLI commands.

Each ``register_*`` hook receives a ``register`` callback. Call it once per class; daekit
validates every registration and records which plugin made it.
"""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("daekit")
hookimpl = pluggy.HookimplMarker("daekit")


@hookspec
def register_corruptions(register):
    """Call ``register(cls)`` once per :class:`daekit.Corruption` subclass."""


@hookspec
def register_encoders(register):
    """Call ``register(cls)`` once per :class:`daekit.Encoder` subclass."""


@hookspec
def register_decoders(register):
    """Call ``register(cls)`` once per :class:`daekit.Decoder` subclass."""


@hookspec
def register_losses(register):
    """Call ``register(cls)`` once per :class:`daekit.Loss` subclass."""


@hookspec
def register_commands(app):
    """Add Typer commands or sub-apps to the daekit CLI (``app`` is a ``typer.Typer``)."""
