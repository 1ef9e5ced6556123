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

from daekit.config import TrainConfig, dump_toml, load_toml, resumable_settings
from daekit.errors import ConfigError, DataError, RunInUseError

# Settings a resumed run may change (declared with the settings, in daekit.config).
RESUMABLE_CHANGES = resumable_settings()


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def fsync_directory(directory: Path) -> None:
    """Make the names in ``directory`` (a rename into it) durable, where the system allows."""
    try:
        handle = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:  # some file systems cannot sync a directory
        pass
    finally:
        os.close(handle)


def _size(count: int) -> str:
    return f"{count / 1e6:.1f} MB" if count >= 1e6 else f"{count / 1e3:.0f} KB"


def ensure_space(path: Path, needed: int) -> None:
    """Raise ``OSError(ENOSPC)`` naming ``path`` unless its file system has ``needed`` bytes
    free (and a margin): HDF5 can crash the process when a write runs out of space, so the
    space is checked before the write starts."""
    import errno
    import shutil

    needed = int(needed * 1.1) + 64 * 1024
    try:
        free = shutil.disk_usage(path.parent).free
    except OSError:
        return
    if free < needed:
        raise OSError(errno.ENOSPC, f"cannot write {path}: it needs about {_size(needed)} and {_size(free)} "
                                    "are free")


def variable_bytes(model) -> int:
    """The bytes of a model's and its optimizer's variables: about what saving them writes."""
    import numpy as np

    variables = list(model.weights) + list(getattr(getattr(model, "optimizer", None), "variables", None) or [])
    return sum(int(np.prod(variable.shape)) * np.dtype(str(variable.dtype)).itemsize for variable in variables)


def write_text(path: Path, text: str) -> None:
    """Write ``text`` durably through a temporary file, so that a reader never sees half a
    file and a crash leaves either the old file or the new one: the data are synced before the
    rename, and the rename before returning. A full disk removes the partial file and leaves
    the old one as it was."""
    partial = path.with_name(f".{path.name}.partial")
    try:
        with open(partial, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise OSError(exc.errno, f"cannot write {path}: {exc.strerror or exc}") from None
    fsync_directory(path.parent)


def write_json(path: Path, value: Any) -> None:
    """Write JSON atomically (:func:`write_text`)."""
    write_text(path, json.dumps(value, indent=2) + "\n")


LOCK = "lock"

#: Keys every run's config.toml holds; one that lacks them was cut short or overwritten.
RUN_CONFIG_KEYS = ("preset", "corruption", "encoder", "decoder", "loss", "epochs", "batch_size", "seed", "data")


def check_run_config(path: Path) -> None:
    """Refuse a run's ``config.toml`` that is not the complete file daekit wrote: a damaged
    one would otherwise resume as the default recipe's run."""
    missing = [key for key in RUN_CONFIG_KEYS if key not in load_toml(path)]
    if missing:
        raise ConfigError(f"{path}: a run's config, but without {', '.join(missing)}: it is damaged (emptied or cut "
                          "short); put back a copy of it, or train anew under another --name")


def check_creatable(directory: Path, option: str, holds: str, file_error: type[Exception]) -> Path:
    """Refuse, without creating anything, a ``directory`` that could not be made and written:
    one that is a file or under one (``file_error``), or under a directory this process cannot
    write. Returns its nearest existing ancestor (itself, if it exists)."""
    existing = directory
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        what = "is a file" if existing == directory else f"is under {existing}, which is a file"
        raise file_error(f"{option} {directory} {what}, not a directory for {holds}")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise DataError(f"{option} {directory}: cannot write under {existing} (permission denied)")
    return existing


def check_location(output: str | Path, name: str | None) -> None:
    """Refuse, before any work, an ``--output`` that cannot hold run directories (a file, or
    under one), one that cannot be created, and a ``--name`` too long for its file system."""
    existing = check_creatable(Path(output), "--output", "run directories", ConfigError)
    if name is not None:
        try:
            limit = os.pathconf(existing, "PC_NAME_MAX")
        except (OSError, ValueError):
            limit = 255
        if len(os.fsencode(name)) > limit:
            raise ConfigError(f"--name is {len(os.fsencode(name))} bytes long; the file system under {existing} "
                              f"takes names of at most {limit}")


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
        check_location(config.output, name)
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DataError(f"cannot create the run directory {path}: {exc.strerror or exc}") from None
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
            check_run_config(saved_file)
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

    def held(self) -> bool:
        """Whether a process holds the directory's lock now (is writing the run)."""
        import fcntl

        try:
            handle = open(self.path / LOCK, "a+", encoding="utf-8")
        except OSError:
            return False
        with handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(handle, fcntl.LOCK_UN)
            return False

    def state(self) -> str:
        """The run's status as its record has it, except that a run recorded as running whose
        lock nobody holds is ``stopped``: its process died without recording why (SIGKILL, a
        power cut, the out-of-memory killer). Rerunning the same command resumes it."""
        recorded = self.status().get("status", "unknown")
        if recorded == "running" and not self.held():
            return "stopped"
        return recorded

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

    def record_end(self, status: str, **details: Any) -> None:
        """:meth:`set_status` on the way out of a failed or stopped run: when even the record
        cannot be written (a full disk), the earlier one stays and the original error is the
        one reported."""
        try:
            self.set_status(status, **details)
        except OSError as exc:
            warnings.warn(f"could not record the run as {status} ({exc}); {self.path / 'status.json'} "
                          "keeps its earlier record", stacklevel=2)

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


def list_runs(output: str | Path) -> list[dict[str, Any]]:
    """The run directories directly under ``output``: name, state (:meth:`RunDirectory.state`),
    epochs trained and, for completed runs, the test scores."""
    output = Path(output)
    if not output.is_dir():
        raise ConfigError(f"{output}: not a directory of runs")
    rows = []
    for path in sorted(output.iterdir()):
        if not (path / "config.toml").is_file():
            continue
        run = RunDirectory(path)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a damaged record reads as unknown here; resuming names it
            record = run.status()
        progress = record.get("progress") or {}
        evaluation = record.get("evaluation") or {}
        rows.append({"name": path.name, "state": run.state(), "epochs": progress.get("epoch"),
                     "psnr": (evaluation.get("denoised") or {}).get("psnr"), "updated": record.get("updated")})
    return rows
