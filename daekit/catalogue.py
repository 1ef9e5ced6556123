"""What the installed plugins register, cached so that listing them does not start TensorFlow.

Components are Keras layers, so loading a plugin imports Keras and, with it, TensorFlow:
about 5 s here. ``daekit plugins`` and ``daekit components`` only describe what the plugins
register, so they read a catalogue of it instead, written the last time the plugins were
loaded. The catalogue is keyed by everything that decides what loading would find: the
entry points selected (``DAEKIT_LOAD_PLUGINS``), their distributions and versions, the size
and modification time of each plugin's module file and of daekit's own files, and the
Python environment. Any change to those, or ``--fresh``, loads the plugins for real and
writes the catalogue anew; so does a plugin that failed to load, which is never cached (its
fix may lie outside what the key sees, such as a missing dependency installed since).
Nothing here imports Keras.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import os
import sys
from pathlib import Path
from typing import Any

ENTRY_POINT_GROUP = "daekit"


def selected_entry_points(only: str | None = None) -> list:
    """The ``daekit`` entry points to load: all, or those named in ``only`` or
    ``DAEKIT_LOAD_PLUGINS`` (entry-point or distribution names, comma-separated)."""
    only = os.environ.get("DAEKIT_LOAD_PLUGINS") if only is None else only
    wanted = {part.strip() for part in only.split(",") if part.strip()} if only else None
    selected = []
    for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = getattr(entry_point, "dist", None)
        if wanted is None or {entry_point.name, dist.name if dist is not None else None} & wanted:
            selected.append(entry_point)
    return selected


def _stat(path: str | Path | None) -> list:
    try:
        info = os.stat(path)
    except (OSError, TypeError):
        return [str(path), None]
    return [str(path), info.st_size, info.st_mtime_ns]


def _module_file(name: str) -> str | None:
    """The file a module would be imported from, found without importing it (its parent
    packages are imported, as the import itself would)."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError, AttributeError):
        return None
    return spec.origin if spec is not None else None


def fingerprint(only: str | None = None) -> str:
    """A digest of everything that decides what loading the plugins would find."""
    parts: list[Any] = [sys.prefix, sys.version, os.environ.get("DAEKIT_LOAD_PLUGINS") if only is None else only]
    for entry_point in sorted(selected_entry_points(only), key=lambda e: (e.name, e.value)):
        dist = getattr(entry_point, "dist", None)
        module = entry_point.value.partition(":")[0]
        parts.append([entry_point.name, entry_point.value, dist.name if dist else None,
                      dist.version if dist else None, _stat(_module_file(module))])
    core = Path(__file__).resolve().parent
    parts += [_stat(path) for path in sorted(core.rglob("*.py"))]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:24]


def cache_dir() -> Path:
    """``$DAEKIT_CACHE``, else ``$XDG_CACHE_HOME/daekit``, else ``~/.cache/daekit``."""
    if os.environ.get("DAEKIT_CACHE"):
        return Path(os.environ["DAEKIT_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "daekit"


def describe(plugins) -> dict[str, Any]:
    """The catalogue of loaded ``plugins``: each plugin's info, and each kind's components
    with their plugin, options (name, default, help) and whether they take severities."""
    import attrs

    kinds = {}
    for kind, registry in plugins.registries.items():
        kinds[kind] = [{
            "name": name, "plugin": registry.plugin_of(name).name,
            "options": [[field.name, repr(field.default), field.metadata.get("help", "")]
                        for field in attrs.fields(registry.get(name).Options)],
            "severities": bool(getattr(registry.get(name), "SEVERITIES", None)),
        } for name in registry.names()]
    return {"plugins": [{**attrs.asdict(info), "label": info.label()} for info in plugins.infos.values()],
            "kinds": kinds}


def load(fresh: bool = False, before_loading=None) -> dict[str, Any]:
    """The catalogue of the installed plugins: from the cache when it is current, else by
    loading them (which starts TensorFlow; ``before_loading`` is called first) and caching
    what they register."""
    key = fingerprint()
    path = cache_dir() / f"catalogue-{key}.json"
    if not fresh:
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            pass  # missing or damaged: load for real
    if before_loading is not None:
        before_loading()
    from daekit.manager import get_plugins

    catalogue = describe(get_plugins())
    if any(info["status"] != "ok" for info in catalogue["plugins"]):
        return catalogue  # a failure is checked again next time: the fix may lie outside what the key sees
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        for old in path.parent.glob("catalogue-*.json"):
            old.unlink(missing_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
        partial.write_text(json.dumps(catalogue), encoding="utf-8")
        os.replace(partial, path)
    except OSError:
        pass  # an unwritable cache only costs the next listing its speed
    return catalogue
