"""Saving and loading ``.keras`` files, plugins first, Keras safe mode always on."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import keras

from daekit.errors import DaekitError, ModelFileError
from daekit.kinds import MODEL_PARTS
from daekit.manager import Plugins, get_plugins
from daekit.model import DenoisingAutoencoder  # noqa: F401  (registers the class with Keras)


def save_model(model, path: str | Path) -> Path:
    """Save ``model`` to a ``.keras`` file atomically: an existing file is replaced only
    once the new one is complete."""
    path = Path(path)
    if path.suffix != ".keras":
        raise ModelFileError(f"{path}: a saved model's name must end in .keras")
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.stem}.partial.keras")
    from daekit.rundir import ensure_space, variable_bytes

    ensure_space(path, variable_bytes(model))
    try:
        model.save(partial)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return path


def read_manifest(path: str | Path) -> dict:
    """The daekit manifest stored in a ``.keras`` file, without building the model."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such model file")
    try:
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read("config.json"))
    except zipfile.BadZipFile:
        raise ModelFileError(f"{path}: not a .keras model (not a zip archive, or truncated)") from None
    except KeyError:
        raise ModelFileError(f"{path}: not a .keras model (no config.json inside)") from None
    except (json.JSONDecodeError, UnicodeDecodeError, zipfile.LargeZipFile, OSError) as exc:
        raise ModelFileError(f"{path}: damaged model file: {exc}") from None
    if config.get("registered_name") != "daekit>DenoisingAutoencoder":
        found = config.get("registered_name") or config.get("class_name")
        raise ModelFileError(f"{path}: a Keras model, but not a daekit DenoisingAutoencoder ({found})")
    return config.get("config", {}).get("manifest", {})


def _parts(manifest: dict):
    """Every part of a manifest, composed parts' own parts included."""
    pending = [manifest[kind] for kind in MODEL_PARTS if manifest.get(kind)]
    while pending:
        part = pending.pop(0)
        yield part
        pending.extend(part.get("parts", []))


def missing_parts(manifest: dict, plugins: Plugins) -> list[str]:
    """Each part of a manifest whose plugin is not installed (or failed to load), described
    with the distribution to install."""
    missing = []
    for part in _parts(manifest):
        if keras.saving.get_registered_object(part.get("registered_name", "")) is not None:
            continue
        source = f"plugin '{part.get('plugin')}'"
        if part.get("distribution"):
            source += f" ({part['distribution']} {part.get('version')})"
        message = f"the {part.get('kind', 'part')} '{part.get('name')}' from {source}, which is not installed"
        failed = plugins.infos.get(part.get("plugin") or "")
        if failed is not None and failed.status != "ok":
            message += f"; that plugin failed to load: {failed.error}"
        elif part.get("distribution"):
            message += f": pip install {part['distribution']}"
        missing.append(message)
    return missing


def check_manifest(path: Path, manifest: dict, plugins: Plugins) -> None:
    """Refuse a model whose parts come from plugins that are not installed or failed, naming
    every such part at once."""
    missing = missing_parts(manifest, plugins)
    if missing:
        raise ModelFileError(f"{path} needs " + "; and ".join(missing))


def load_model(path: str | Path, plugins: Plugins | None = None, compile: bool = False):
    """Load a :class:`daekit.DenoisingAutoencoder` saved by :func:`save_model`.

    Plugins load first; a part whose plugin is missing is reported with the distribution to
    install. Keras's safe mode stays on: nothing is unpickled.

    Raises:
        ModelFileError: Naming the file and what is wrong with it.
    """
    path = Path(path)
    plugins = plugins or get_plugins()
    check_manifest(path, read_manifest(path), plugins)
    try:
        return keras.saving.load_model(path, compile=compile, safe_mode=True)
    except Exception as exc:  # h5py, zipfile and Keras raise many types for a damaged file
        raise ModelFileError(f"{path}: cannot load the model: {_root_message(exc)}") from exc


def _root_message(exc: BaseException) -> str:
    """The message of a daekit error behind Keras's wrapping, else the first line of ``exc``."""
    seen = exc
    while seen is not None:
        if isinstance(seen, DaekitError):
            return str(seen).splitlines()[0]
        seen = seen.__cause__ or seen.__context__
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
