"""Checkpoints of a run: weights, optimizer state and noise state, with the run's progress.

A checkpoint is written in three steps, each atomic and synced to disk before the next: the
weights go to a temporary file that is then renamed to ``ckpt-<global step>.weights.h5``;
its progress and the weights' SHA-256 go to ``ckpt-<global step>.json`` the same way; last,
the pointer ``checkpoint.json`` is replaced to name it. A process killed at any moment leaves the pointer naming a complete checkpoint,
so a half-written file is never taken as the latest. Restoring walks back from the newest
checkpoint the pointer allows to older ones when a file is damaged: unreadable, truncated,
or altered in place (its checksum no longer matches).
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from daekit.errors import CheckpointError, ConfigError, NonFiniteError
from daekit.rundir import ensure_space, fsync_directory, variable_bytes, write_json

POINTER = "checkpoint.json"


@attrs.define
class Progress:
    """Where a run stands: ``epoch`` (0-based) in progress and ``step`` steps done in it."""

    epoch: int = 0
    step: int = 0
    global_step: int = 0
    history: dict[str, list[float]] = attrs.field(factory=dict)
    #: Inside an epoch: the running state of its mean metrics (each metric variable's value,
    #: by path), so that a resumed epoch reports the means over all its steps.
    running: dict[str, Any] = attrs.field(factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Progress:
        return cls(int(values["epoch"]), int(values["step"]), int(values["global_step"]),
                   {k: [float(v) for v in vs] for k, vs in values.get("history", {}).items()},
                   dict(values.get("running") or {}))


def _fsync(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def non_finite_variables(model) -> list[str]:
    """Paths of the model's and optimizer's float variables holding NaN or infinity."""
    variables = list(model.weights)
    if getattr(model, "optimizer", None) is not None:
        variables += list(model.optimizer.variables)
    bad = []
    for variable in variables:
        value = np.asarray(variable.numpy() if hasattr(variable, "numpy") else variable)
        if value.dtype.kind == "f" and not np.all(np.isfinite(value)):
            bad.append(getattr(variable, "path", getattr(variable, "name", "?")))
    return bad


class CheckpointStore:
    """The checkpoints under ``directory``, keeping the newest ``keep``."""

    def __init__(self, directory: Path, keep: int = 3):
        self.directory = Path(directory)
        self.keep = keep
        self.pointer = self.directory / POINTER

    def save(self, model, progress: Progress) -> Path:
        """Write a checkpoint of ``model`` at ``progress``; refuses non-finite weights."""
        bad = non_finite_variables(model)
        if bad:
            raise NonFiniteError(f"weights are not finite ({', '.join(bad[:3])}); no checkpoint written")
        self.directory.mkdir(parents=True, exist_ok=True)
        stem = f"ckpt-{progress.global_step:09d}"
        weights = self.directory / f"{stem}.weights.h5"
        partial = self.directory / f"partial-{stem}.weights.h5"  # Keras wants the .weights.h5 suffix
        ensure_space(weights, variable_bytes(model))
        model.save_weights(str(partial))
        _fsync(partial)
        digest = sha256(partial)
        os.replace(partial, weights)
        fsync_directory(self.directory)
        # The record carries the weights' checksum: damage that keeps the file's length is found on restore.
        write_json(self.directory / f"{stem}.json", {"weights": weights.name, "sha256": digest, **progress.to_dict()})
        write_json(self.pointer, {"latest": stem, "global_step": progress.global_step})
        self._prune()
        return weights

    def _entries(self) -> list[tuple[int, Path]]:
        entries = []
        for meta in self.directory.glob("ckpt-*.json"):
            try:
                entries.append((int(meta.stem.split("-")[1]), meta))
            except (IndexError, ValueError):
                continue
        return sorted(entries, reverse=True)

    def _prune(self) -> None:
        for _, meta in self._entries()[self.keep:]:
            meta.with_name(f"{meta.stem}.weights.h5").unlink(missing_ok=True)
            meta.unlink(missing_ok=True)
        for partial in self.directory.glob("partial-*.weights.h5"):
            partial.unlink(missing_ok=True)

    def latest_step(self) -> int | None:
        """The global step the pointer names, or ``None`` without a checkpoint."""
        if not self.pointer.exists():
            return None
        try:
            return int(json.loads(self.pointer.read_text(encoding="utf-8"))["global_step"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise CheckpointError(f"checkpoint pointer {self.pointer} is unreadable ({exc}); "
                                  "delete it to restore from the newest intact checkpoint") from None

    def refuse_past(self, epochs: int, steps_per_epoch: int, run: Path) -> None:
        """Raise a ConfigError if the newest checkpoint is past ``epochs`` epochs: a run
        cannot be resumed to train fewer than it already has."""
        step = self.latest_step()
        if step is not None and step > epochs * steps_per_epoch:
            done, steps = divmod(step, steps_per_epoch)
            raise ConfigError(f"epochs={epochs}: the run in {run} already trained {done} epochs"
                              + (f" and {steps} steps" if steps else "") + "; give at least that many, or another --name")

    def restore(self, model) -> Progress | None:
        """Load the newest intact checkpoint into ``model`` (compiled, optimizer built).

        Returns its progress, or ``None`` when the run has no checkpoint yet. A damaged
        checkpoint is reported and skipped for the one before it.
        """
        entries, newest = self._entries(), self.latest_step()
        if newest is None:
            if not entries:
                return None
            newest = entries[0][0]
        damaged = []
        for step, meta in entries:
            if step > newest:
                continue  # written after the pointer was last moved: not known to be complete
            weights = meta.with_name(f"{meta.stem}.weights.h5")
            bad = meta  # the file at fault: the progress record first, then the weights
            try:
                record = json.loads(meta.read_text(encoding="utf-8"))
                progress = Progress.from_dict(record)
                bad = weights
                if "sha256" in record and sha256(weights) != record["sha256"]:  # older runs' records have none
                    raise CheckpointError("its SHA-256 is not the one recorded when it was written")
                with warnings.catch_warnings():
                    warnings.simplefilter("error")  # Keras warns, not fails, on some mismatches
                    model.load_weights(str(weights))
            except Exception as exc:  # h5py, Keras and JSON each raise their own types
                damaged.append(f"{bad}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
                reason = str(exc) if isinstance(exc, CheckpointError) else type(exc).__name__
                warnings.warn(f"checkpoint {bad} is damaged or unreadable ({reason}); "
                              "trying the one before it", stacklevel=2)
                continue
            return progress
        raise CheckpointError("no intact checkpoint in " + str(self.directory) + ":\n  " + "\n  ".join(damaged))
