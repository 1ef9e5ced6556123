"""One directory per run: resolved config, manifest, status, metrics, logs, figures, model."""

from __future__ import annotations

import datetime
import importlib.metadata
import json
import os
import platform
import sys
import warnings
from pathlib import Path
from typing import Any

from daekit.config import TrainConfig, dump_toml, resumable_settings
from daekit.errors import ConfigError, RunInUseError

# Settings a resumed run may change (declared with the settings, in daekit.config).
RESUMABLE_CHANGES = resumable_settings()


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def write_text(path: Path, text: str) -> None:
    """Write ``text`` through a temporary file so a reader never sees half a file."""
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


def write_json(path: Path, value: Any) -> None:
    """Write JSON atomically (:func:`write_text`)."""
    write_text(path, json.dumps(value, indent=2) + "\n")


LOCK = "lock"


class RunDirectory:
    """The files of one run, laid out under ``path``."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.resumed = False
        self.writes = True
        self.source = self  # the run whose checkpoints and results a resumed run reads
        self.status_before: dict[str, Any] = {}
        self.checkpoints = self.path / "checkpoints"
        self.figures = self.path / "figures"
        self.logs = self.path / "logs"
        self.metrics = self.path / "metrics.csv"
        self.model = self.path / "model.keras"
        self.evaluation = self.path / "evaluation.json"

    @classmethod
    def open(cls, config: TrainConfig, same=None, before_writing=None) -> RunDirectory:
        """The run directory of ``config``, locked for this process.

        A new name gets a new directory. An existing run directory of the same name is
        resumed when its saved config matches ``config`` in everything but the settings in
        :data:`RESUMABLE_CHANGES`; otherwise the keys that differ are reported. Every check
        that can refuse the run, ``before_writing(run)`` last, runs before the directory's
        config or status is written, so a refused command leaves it as it was.

        Args:
            same: ``same(key, saved, now)`` tells whether a saved and a current value are the
                same setting (components compare by their resolved options); default ``==``.
            before_writing: More checks of the opened run, which may raise.

        Raises:
            RunInUseError: Another process holds the directory.
            ConfigError: The directory holds something else, or a different config.
        """
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        name = config.name or f"{stamp}-{config.encoder.name}-{config.decoder.name}"
        path = Path(config.output) / name
        path.mkdir(parents=True, exist_ok=True)
        run = cls(path)
        run.lock()
        run.resumed = (path / "config.toml").exists()
        if run.resumed:
            run.check_resumable(config, same)
        elif any(entry.name != LOCK for entry in path.iterdir()):
            run.unlock()
            (path / LOCK).unlink(missing_ok=True)  # leave the user's directory as it was
            raise ConfigError(f"name={name!r}: {path} exists and is not a daekit run directory; choose another name")
        if before_writing is not None:
            try:
                before_writing(run)
            except BaseException:
                run.unlock()
                raise
        run.status_before = run.status()
        run.figures.mkdir(exist_ok=True)
        (path / "config.toml").write_text(dump_toml(config.to_dict()), encoding="utf-8")
        run.set_status("running")
        return run

    @classmethod
    def scratch(cls, config: TrainConfig) -> RunDirectory:
        """A throwaway directory for a process that does not write the run (a non-chief worker
        under multi-worker training). It writes what the chief writes, since saving reads
        variables in step with the other workers, and reads the real run (``source``) to
        resume along with the chief."""
        import tempfile

        run = cls(Path(tempfile.mkdtemp(prefix="daekit-worker-")))
        run.writes = False
        run.figures.mkdir()
        real = cls(Path(config.output) / config.name) if config.name else None
        if real is not None and (real.path / "config.toml").exists():
            run.resumed = True
            run.status_before = real.status()
            run.source = real
        return run

    def check_resumable(self, config: TrainConfig, same=None) -> None:
        saved_file = self.path / "config.toml"
        try:
            saved = TrainConfig.resolve(file=saved_file).to_dict()
        except ConfigError as exc:
            self.unlock()
            raise ConfigError([f"cannot resume {self.path}: its {saved_file.name} is invalid", *exc.problems]) from None
        current = config.to_dict()
        same = same or (lambda key, a, b: a == b)
        differ = sorted(k for k in set(saved) | set(current)
                        if k not in RESUMABLE_CHANGES and not same(k, saved.get(k), current.get(k)))
        if differ:
            self.unlock()
            raise ConfigError(
                [f"run directory {self.path} holds a run with a different config; resuming it would mix "
                 f"two trainings (only {', '.join(sorted(RESUMABLE_CHANGES - {'name', 'output', 'preset'}))} may change). "
                 "Use another --name for a new run. Keys that differ:"]
                + [f"{key}: saved {saved.get(key)!r}, now {current.get(key)!r}" for key in differ]
            )

    def completed(self, epochs: int) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """The evaluation and progress of a resumed run that already completed ``epochs``
        epochs (its status set back to completed), or ``None``."""
        before = self.status_before
        if not self.resumed or before.get("status") != "completed" or not self.source.model.exists():
            return None
        evaluation, progress = before.get("evaluation"), before.get("progress", {})
        if evaluation is None or progress.get("epoch") != epochs:
            return None
        if self.writes:
            self.set_status("completed", evaluation=evaluation, progress=progress)
        return evaluation, progress

    def lock(self) -> None:
        """Take the directory's lock (released by :meth:`unlock` or when the process ends)."""
        import fcntl

        handle = open(self.path / LOCK, "a+", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise RunInUseError(
                f"run directory {self.path} is being written by another daekit train (pid {holder}); "
                "wait for it to finish, stop it, or choose another --name"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._lock = handle

    def unlock(self) -> None:
        handle = getattr(self, "_lock", None)
        if handle is not None:
            import fcntl

            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)
            handle.close()
            self._lock = None

    def write_manifest(self, config: TrainConfig, model, plugins, data, devices: list[str], compile: dict,
                       strategy: dict, pipeline: dict, progress: dict | None = None) -> None:
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
            "strategy": strategy,
            "compile": compile,
            "pipeline": pipeline,
            "resumed_from": progress,
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
        """The run's status record, or ``{}`` when there is none. A damaged one (empty,
        truncated, not JSON, not an object) reads as ``{}`` too, with a warning naming it: a
        resume continues from the checkpoints, and the record is written anew."""
        path = self.path / "status.json"
        if not path.exists():
            return {}
        try:
            value = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(value, dict) or not isinstance(value.get("progress", {}), dict):
                raise ValueError("not a status record")
            return value
        except (OSError, ValueError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            warnings.warn(f"{path} is damaged ({type(exc).__name__}: {exc}); the run continues from its "
                          "checkpoints and the status is written anew", stacklevel=2)
            return {}
