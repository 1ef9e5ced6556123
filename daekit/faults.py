"""What keeps a run's work safe: signal handling and the training-state callback.

``RunState`` is the callback that owns a run's progress. After every training step it checks
the loss (a non-finite loss stops the run, naming the epoch and step, without saving), every
``checkpoint_every`` steps and at the end of each epoch it writes a checkpoint, and when
SIGTERM or SIGINT arrived during the step it writes one and stops with :class:`Preempted`.
"""

from __future__ import annotations

import contextlib
import math
import signal
import threading
from pathlib import Path
from typing import Any

import keras
import numpy as np

from daekit.checkpoints import CheckpointStore, Progress
from daekit.errors import NonFiniteError, Preempted
from daekit.rundir import write_text

SIGNAL_NAMES = {signal.SIGTERM: "SIGTERM", signal.SIGINT: "SIGINT"}


class SignalFlag:
    """Records SIGTERM and SIGINT while armed (during training steps); otherwise a signal
    stops the process where it is, with :class:`Preempted`."""

    def __init__(self):
        self.received: int | None = None
        self.armed = False

    def _handle(self, signum, frame):
        self.received = signum
        if not self.armed:
            raise Preempted(f"{SIGNAL_NAMES.get(signum, signum)} received", signum)

    @contextlib.contextmanager
    def installed(self):
        """Handle the signals for the duration (main thread only; elsewhere a no-op)."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = {sig: signal.signal(sig, self._handle) for sig in SIGNAL_NAMES}
        try:
            yield self
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    @contextlib.contextmanager
    def arm(self):
        self.armed = True
        try:
            yield
        finally:
            self.armed = False
        if self.received is not None:  # arrived after the last step's check
            raise Preempted(f"{SIGNAL_NAMES.get(self.received, self.received)} received", self.received)


def write_metrics(path: Path, history: dict[str, list[float]]) -> None:
    """metrics.csv from the history: one row per finished epoch (rewritten whole, atomically)."""
    keys = sorted(history)
    rows = ["epoch," + ",".join(keys)]
    epochs = max((len(values) for values in history.values()), default=0)
    for epoch in range(epochs):
        rows.append(f"{epoch}," + ",".join(repr(history[k][epoch]) if epoch < len(history[k]) else "" for k in keys))
    write_text(path, "\n".join(rows) + "\n")


def running_sums(model) -> dict[str, Any]:
    """The values of the model's metric variables (totals and counts of its mean metrics: the
    loss and the compiled PSNR and SSIM), by path."""
    return {variable.path: np.asarray(variable.numpy()).tolist() for variable in model.metrics_variables}


def add_running_sums(model, saved: dict[str, Any]) -> None:
    """Add ``saved`` (:func:`running_sums` of the steps before a restart) to the metric
    variables, which hold the steps since. Every daekit metric is a mean (a total and a
    count), so the sums then equal an uninterrupted epoch's, to the bit: float addition of
    two values is commutative. Variables that do not match are left alone."""
    variables = {variable.path: variable for variable in model.metrics_variables}
    if set(saved) != set(variables):
        return
    for path, value in saved.items():
        variable = variables[path]
        variable.assign(variable + np.asarray(value, dtype=str(variable.dtype)))


class RunState(keras.callbacks.Callback):
    """Tracks progress, guards against non-finite losses, checkpoints and answers signals.

    Args:
        store: Where checkpoints go; ``None`` in processes that do not write (non-chief workers).
        progress: The run's progress, updated in place.
        steps_per_epoch: Steps in a full epoch.
        checkpoint_every: Steps between checkpoints inside an epoch (0: only at epoch ends).
        metrics: The run's metrics.csv, or ``None``.
        signals: The run's :class:`SignalFlag`.
    """

    def __init__(self, store: CheckpointStore | None, progress: Progress, steps_per_epoch: int,
                 checkpoint_every: int, metrics: Path | None, signals: SignalFlag):
        super().__init__()
        self.store = store
        self.progress = progress
        self.steps_per_epoch = steps_per_epoch
        self.checkpoint_every = checkpoint_every
        self.metrics = metrics
        self.signals = signals
        self.offset = progress.step  # steps of the current epoch done before this fit call
        self.last_saved = progress.global_step
        self.last_checkpoint = None
        # A run resumed inside an epoch adds the running sums saved with its checkpoint to the
        # epoch's metrics after its first step (when Keras has built them all).
        self.pending = progress.running if progress.step else {}

    def _where(self) -> str:
        return f"epoch {self.progress.epoch + 1}, step {self.progress.step} of {self.steps_per_epoch}"

    def save(self) -> None:
        if self.store is None:
            return
        self.progress.running = running_sums(self.model) if self.progress.step else {}
        try:
            self.last_checkpoint = self.store.save(self.model, self.progress)
        except NonFiniteError as exc:
            raise NonFiniteError(f"at {self._where()}: {exc}") from None
        self.last_saved = self.progress.global_step

    def on_epoch_begin(self, epoch, logs=None):
        self.progress.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.pending:
            add_running_sums(self.model, self.pending)
            self.pending = {}
        self.progress.step = self.offset + batch + 1
        self.progress.global_step = self.progress.epoch * self.steps_per_epoch + self.progress.step
        loss = float((logs or {}).get("loss", 0.0))
        if not math.isfinite(loss):
            raise NonFiniteError(
                f"the loss became {loss} at {self._where()}; training stopped and nothing was saved from "
                "this step on" + self._last_good())
        if self.signals.received is not None:
            self.save()
            name = SIGNAL_NAMES.get(self.signals.received, str(self.signals.received))
            raise Preempted(f"{name} received: stopped after {self._where()} and saved a checkpoint",
                            self.signals.received)
        if self.checkpoint_every and self.progress.global_step - self.last_saved >= self.checkpoint_every:
            self.save()

    def _last_good(self) -> str:
        if self.store is None:
            return ""
        newest = self.store.latest_step()
        if newest is None:
            return " (there is no checkpoint yet)"
        epoch, step = divmod(newest, self.steps_per_epoch)
        return f"; the last good checkpoint is at epoch {epoch + 1}, step {step} ({self.store.directory})"

    def on_epoch_end(self, epoch, logs=None):
        for key, value in (logs or {}).items():
            self.progress.history.setdefault(key, []).append(float(value))
        self.progress.epoch, self.progress.step = epoch + 1, 0
        self.progress.global_step = (epoch + 1) * self.steps_per_epoch
        self.offset = 0
        if self.metrics is not None:
            write_metrics(self.metrics, self.progress.history)
        self.save()
        if self.signals.received is not None:
            name = SIGNAL_NAMES.get(self.signals.received, str(self.signals.received))
            raise Preempted(f"{name} received: stopped after epoch {epoch + 1} and saved a checkpoint",
                            self.signals.received)
