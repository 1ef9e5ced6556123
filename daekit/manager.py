"""Loading plugins: entry points of the group ``daekit``, one at a time.

A plugin that fails to import, declares a misspelt hook or registers a bad component is
recorded as failed, by name, distribution and version, and every other plugin keeps
working. ``DAEKIT_LOAD_PLUGINS`` (comma-separated distribution or entry-point names)
restricts loading; ``DAEKIT_LOAD_PLUGINS=daekit`` means the built-ins only.
"""

from __future__ import annotations

from types import ModuleType

import attrs
import pluggy

from daekit import hookspecs
from daekit.catalogue import selected_entry_points
from daekit.components import Component
from daekit.errors import ConfigError, PluginError
from daekit.kinds import KINDS
from daekit.registry import Registry



@attrs.define
class PluginInfo:
    """What daekit knows of one plugin, loaded or failed."""

    name: str
    distribution: str | None = None
    version: str | None = None
    hooks: list[str] = attrs.Factory(list)
    status: str = "ok"
    error: str | None = None

    def label(self) -> str:
        if self.distribution:
            return f"'{self.name}' ({self.distribution} {self.version})"
        return f"'{self.name}'"


class Plugins:
    """A plugin manager with its registries: the one object that knows every component."""

    def __init__(self):
        self.pm = pluggy.PluginManager("daekit")
        self.pm.add_hookspecs(hookspecs)
        self.infos: dict[str, PluginInfo] = {}
        self.registries = {name: Registry(name, kind.base_class()) for name, kind in KINDS.items()}

    def load_entry_points(self, only: str | None = None) -> None:
        """Load every ``daekit`` entry point, or those named in ``only`` / the environment."""
        for entry_point in selected_entry_points(only):
            dist = getattr(entry_point, "dist", None)
            info = PluginInfo(entry_point.name, dist.name if dist is not None else None,
                              dist.version if dist is not None else None)
            try:
                module = entry_point.load()
            except Exception as exc:  # any import failure must not stop the others
                self._fail(info, f"import of {entry_point.value!r} failed: {type(exc).__name__}: {exc}")
                continue
            self._add(module, info)

    def add(self, module: ModuleType | object, name: str, distribution=None, version=None) -> PluginInfo:
        """Register a plugin object directly (a module or any object with hookimpls)."""
        return self._add(module, PluginInfo(name, distribution, version))

    def _add(self, module, info: PluginInfo) -> PluginInfo:
        if info.name in self.infos:
            return self._fail(info, f"a plugin named {info.name!r} is already loaded")
        try:
            self.pm.register(module, name=info.name)
        except Exception as exc:  # pluggy refuses bad hook signatures
            return self._fail(info, str(exc))
        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError as exc:
            self.pm.unregister(name=info.name)
            return self._fail(info, f"unknown hook: {exc}{self._hook_hint(module)}")
        info.hooks = sorted(caller.name for caller in self.pm.get_hookcallers(module) or [])
        self.infos[info.name] = info
        for kind, registry in self.registries.items():
            hook_name = KINDS[kind].hook
            for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
                if impl.plugin_name != info.name:
                    continue
                try:
                    impl.function(register=lambda cls, r=registry: r.register(cls, info))
                except Exception as exc:
                    for other in self.registries.values():
                        other.remove_plugin(info.name)
                    self.pm.unregister(name=info.name)
                    message = str(exc) if isinstance(exc, PluginError) else f"{hook_name} raised {type(exc).__name__}: {exc}"
                    return self._fail(info, message)
        return info

    @staticmethod
    def _hook_hint(module) -> str:
        """``; did you mean ...?`` for the hook names of ``module`` that are close to daekit's."""
        import difflib

        known = [spec.hook for spec in KINDS.values()]
        hints = []
        for name in dir(module):
            if name.startswith("register") and name not in known:
                close = difflib.get_close_matches(name, known, n=1)
                if close:
                    hints.append(f"{name!r} -> {close[0]!r}")
        return f"; did you mean {', '.join(hints)}?" if hints else ""

    def _fail(self, info: PluginInfo, message: str) -> PluginInfo:
        info.status = "failed"
        info.error = message
        self.infos.setdefault(info.name, info)
        if self.infos[info.name] is not info:
            self.infos[f"{info.name} ({info.distribution})"] = info
        return info

    def failed(self) -> list[PluginInfo]:
        return [info for info in self.infos.values() if info.status != "ok"]

    def component(self, kind: str, name: str) -> type[Component]:
        """The class of component ``name`` of ``kind``; errors mention failed plugins."""
        return self.registries[kind].get(name, failed=self.failed())

    def resolve(self, kind: str, spec) -> type[Component]:
        """The class a :class:`~daekit.ComponentSpec` names: its registered component, or for an
        unnamed list of parts the chaining component (:meth:`chaining`)."""
        return self.chaining(kind) if spec.is_sequence else self.component(kind, spec.name)

    def chaining(self, kind: str) -> type[Component]:
        """The component of ``kind`` that applies a list of parts in order (it declares
        ``chains = True``): what a repeated ``--corruption`` builds.

        Raises:
            ConfigError: No loaded plugin provides one, or several do.
        """
        registry = self.registries[kind]
        found = [name for name in registry.names() if registry.get(name).chains]
        if len(found) == 1:
            return registry.get(found[0])
        if not found:
            loaded = ", ".join(info.name for info in self.infos.values() if info.status == "ok") or "none"
            raise ConfigError(
                f"a list of {KINDS[kind].plural} (a repeated --{kind}) needs a {kind} that chains its parts (one declaring "
                f"chains = True), and no loaded plugin registers one (loaded plugins: {loaded}); give one {kind}, "
                "or load a plugin that chains (DAEKIT_LOAD_PLUGINS)")
        raise ConfigError(f"a list of {KINDS[kind].plural}: several {KINDS[kind].plural} chain their parts "
                          f"({', '.join(found)}); "
                          f"name one, as {found[0]}[a | b]")

    def add_commands(self, app) -> None:
        """Let plugins add CLI commands; a plugin whose hook fails is reported, not fatal."""
        for impl in self.pm.hook.register_commands.get_hookimpls():
            try:
                impl.function(app=app)
            except Exception as exc:
                self._fail(self.infos[impl.plugin_name], f"register_commands raised {type(exc).__name__}: {exc}")


_current: Plugins | None = None


def get_plugins() -> Plugins:
    """The process-wide plugins, loaded from entry points on first use."""
    global _current
    if _current is None:
        plugins = Plugins()
        plugins.load_entry_points()
        _current = plugins
    return _current


def set_plugins(plugins: Plugins | None) -> None:
    """Replace the process-wide plugins (``None`` reloads on next use); for tests and embedding."""
    global _current
    _current = plugins
