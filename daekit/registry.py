"""One registry per kind of component, filled by plugins through the register hooks."""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING

import keras

from daekit.components import Component
from daekit.errors import PluginError, UnknownComponentError
from daekit.kinds import KINDS

if TYPE_CHECKING:
    from daekit.manager import PluginInfo


class Registry:
    """Components of one kind, by name, each with the plugin that registered it.

    Args:
        kind: ``"corruption"``, ``"encoder"``, ``"decoder"`` or ``"loss"``.
        base: The class every registered component must derive from.
    """

    def __init__(self, kind: str, base: type[Component]):
        self.kind = kind
        self.base = base
        self._classes: dict[str, type[Component]] = {}
        self._plugins: dict[str, PluginInfo] = {}
        self._conflicts: dict[str, str] = {}

    def register(self, cls, plugin: PluginInfo) -> None:
        """Validate and add ``cls``; raise :class:`PluginError` naming the plugin at fault."""
        where = f"plugin {plugin.label()}"
        if not (isinstance(cls, type) and issubclass(cls, self.base)):
            raise PluginError(
                f"{where} registered {cls!r} as a {self.kind}, "
                f"but it is not a subclass of daekit.{self.base.__name__}"
            )
        name = getattr(cls, "name", None)
        if not isinstance(name, str) or not name.isidentifier():
            raise PluginError(f"{where}: {cls.__qualname__} needs a class attribute `name`, a word such as 'speckle'")
        registered_name = keras.saving.get_registered_name(cls)
        if keras.saving.get_registered_object(registered_name) is not cls:
            raise PluginError(
                f"{where}: {cls.__qualname__} is not registered with Keras; decorate it with "
                f"@keras.saving.register_keras_serializable(package=...)"
            )
        if name in self._classes:
            other = self._plugins[name]
            message = (
                f"{self.kind} {name!r} is registered by two plugins: "
                f"{other.label()} and {plugin.label()}; uninstall one of them, or choose the plugins to load "
                f"with DAEKIT_LOAD_PLUGINS (comma-separated entry-point or distribution names)"
            )
            self._conflicts[name] = message
            raise PluginError(message)
        self._classes[name] = cls
        self._plugins[name] = plugin

    def remove_plugin(self, plugin_name: str) -> None:
        """Forget everything one plugin registered (used when it fails half way)."""
        for name in [n for n, info in self._plugins.items() if info.name == plugin_name]:
            del self._classes[name], self._plugins[name]

    def names(self) -> list[str]:
        return sorted(self._classes)

    def plugin_of(self, name: str) -> PluginInfo:
        self.get(name)
        return self._plugins[name]

    def get(self, name: str, failed: list[PluginInfo] = ()) -> type[Component]:
        """The class registered as ``name``.

        Raises:
            PluginError: Two plugins claim ``name``.
            UnknownComponentError: No plugin registered ``name``; says what is close.
        """
        if name in self._conflicts:
            raise PluginError(self._conflicts[name])
        if name in self._classes:
            return self._classes[name]
        message = f"unknown {self.kind} {name!r}"
        close = difflib.get_close_matches(name, self._classes, n=1)
        if close:
            message += f"; did you mean {close[0]!r}?"
        message += f"{'' if close else '.'} Known {KINDS[self.kind].plural}: {', '.join(self.names()) or 'none'}"
        for info in failed:
            message += f". Plugin {info.label()} failed to load: {info.error}"
        raise UnknownComponentError(message)

    def __contains__(self, name: str) -> bool:
        return name in self._classes
