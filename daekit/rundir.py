"""One directory per run: resolved config, manifest, status, metrics, logs, figures, model."""

from __future__ import annotations

import datetime
import importlib.metadata
import json
import os
import platform
import sys
from pathlib import Path
from typing import Any

from daekit.config import TrainConfig, dump_toml
from daekit.errors import ConfigError


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def write_json(path: Path, value: Any) -> None:
    """Write JSON through a temporary file so a reader never sees half a file."""
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(json.dumps(value, indent=2) + "\n", encoding="utf-8")
    os.replace(partial, path)


class RunDirectory:
    """The files of one run, laid out under ``path``."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.figures = self.path / "figures"
        self.logs = self.path / "logs"
        self.metrics = self.path / "metrics.csv"
        self.model = self.path / "model.keras"
        self.evaluation = self.path / "evaluation.json"

    @classmethod
    def create(cls, config: TrainConfig) -> RunDirectory:
        """Make a new, empty run directory under ``config.output``; never reuse one."""
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        name = config.name or f"{stamp}-{config.encoder.name}-{config.decoder.name}"
        path = Path(config.output) / name
        if path.exists() and any(path.iterdir()):
            raise ConfigError(f"name={name!r}: run directory {path} already exists and is not empty; choose another name")
        path.mkdir(parents=True, exist_ok=True)
        run = cls(path)
        run.figures.mkdir(exist_ok=True)
        (path / "config.toml").write_text(dump_toml(config.to_dict()), encoding="utf-8")
        run.set_status("running")
        return run

    def write_manifest(self, config: TrainConfig, model, plugins, data, devices: list[str], compile: dict) -> None:
        versions = {}
        for dist in ("daekit", "tensorflow", "keras", "numpy", "pluggy"):
            try:
                versions[dist] = importlib.metadata.version(dist)
            except importlib.metadata.PackageNotFoundError:
                versions[dist] = None
        write_json(self.path / "manifest.json", {
            "started": _now(),
            "command": sys.argv,
            "python": platform.python_version(),
            "platform": platform.platform(),
            "versions": versions,
            "devices": devices,
            "strategy": "default",
            "compile": compile,
            "seed": config.seed,
            "data": data,
            "parameters": {"total": model.count_params(),
                           "non_trainable": sum(int(w.numpy().size) for w in model.non_trainable_weights)},
            "model": model.manifest,
            "plugins": [
                {"name": i.name, "distribution": i.distribution, "version": i.version, "status": i.status, "error": i.error}
                for i in plugins.infos.values()
            ],
        })

    def set_status(self, status: str, **details: Any) -> None:
        write_json(self.path / "status.json", {"status": status, "updated": _now(), **details})

    def status(self) -> dict[str, Any]:
        return json.loads((self.path / "status.json").read_text(encoding="utf-8"))
