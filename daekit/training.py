"""Training a denoising autoencoder from a :class:`TrainConfig`, with Keras ``fit``.

A run goes through four named steps:

1. prepare: load and split the data (:func:`daekit.data.pipeline.prepare`) and check what
   can refuse the run, before any byte of its directory is written;
2. :func:`build`: assemble and compile the model, and restore the newest checkpoint of a
   resumed run;
3. :func:`fit`: record the manifest and run Keras ``fit`` with daekit's callbacks (progress,
   checkpoints, signals, figures);
4. report (:func:`daekit.report.report_run`): save the model, evaluate it on the test set and draw the figures.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import attrs
import keras
import numpy as np
import tensorflow as tf

from daekit.callbacks import EpochFigures, SelfSupervisedValidation, WholeImageValidation
from daekit.checkpoints import CheckpointStore, Progress
from daekit.config import TrainConfig
from daekit.data import pipeline
from daekit.data.folder import ImageList
from daekit.data.pipeline import TrainingData
from daekit.distribute import check_steps, describe, fit_multi_worker, is_writer, make_strategy, resolve_jit_compile
from daekit.errors import PluginError, Preempted
from daekit.evaluate import corrupt_image, corrupt_images, to_float
from daekit.faults import RunState, SignalFlag, write_metrics
from daekit.kinds import KINDS
from daekit.manager import Plugins, get_plugins
from daekit.metrics import per_image_scores, psnr, ssim
from daekit.model import build_loss, build_model, check_specs, same_components
from daekit.optimizers import dtype_policy, make_optimizer
from daekit.report import FIGURE_IMAGES, figure_images, report_run
from daekit.rundir import RunDirectory, check_location
from daekit.saving import load_model, missing_parts
from daekit.selfsup import check_target
from daekit.tiling import check_size

@attrs.frozen
class RunResult:
    """What a finished run leaves: its directory, the trained model, history and evaluation."""

    run_dir: Path | None
    model: Any
    history: dict[str, list[float]]
    evaluation: dict[str, Any]


def train(config: TrainConfig | None = None, plugins: Plugins | None = None, verbose: int | str = "auto",
          callbacks: list[keras.callbacks.Callback] | None = None) -> RunResult:
    """Train, evaluate on the test set and save, in the run's directory.

    A run with a ``name`` whose directory already holds the same run continues it from its
    newest intact checkpoint (more ``epochs`` may be given); a finished run returns its results.

    Example:
        >>> run = daekit.train(daekit.TrainConfig.resolve(epochs=2))
        >>> run.evaluation["denoised"]["psnr"]

    Args:
        config: The run's configuration; the default recipe if omitted.
        verbose: Keras verbosity; ``"auto"`` shows a progress bar on a terminal and one
            line per epoch otherwise.
        callbacks: More Keras callbacks for ``fit``, after daekit's own.

    Raises:
        Preempted: SIGTERM or SIGINT stopped the run after it saved a checkpoint.
        NonFiniteError: The loss or the weights became NaN or infinite; names the epoch and step.
        RunInUseError: Another process is writing the run directory.
    """
    config = config or TrainConfig.resolve()
    # Before anything starts TensorFlow's runtime: logical CPU devices and the cluster need it.
    strategy = make_strategy(config.strategy, config.cpu_devices)
    plugins = plugins or get_plugins()
    check_location(config.output, config.name)  # before the data are read: a bad path fails at once
    check_run_plugins(config, plugins)
    check_specs({kind: getattr(config, kind) for kind in KINDS}, plugins)
    plan = pipeline.prepare(config, strategy.num_replicas_in_sync)
    # Before the directory is written:
    check_steps(config.steps_per_execution, plan.steps_per_epoch, plan.replicas)
    check_model_takes(config, plugins, plan)
    check_target(config.target, config.pairs, build_model(config.corruption, image_shape=plan.image_shape,
                                                          plugins=plugins).corruption, build_loss(config.loss, plugins))
    signals = SignalFlag()
    with signals.installed():
        if config.deterministic:
            tf.config.experimental.enable_op_determinism()
        writer = is_writer(strategy)
        def not_past(run):  # a resumed run cannot train fewer epochs than it has
            CheckpointStore(run.checkpoints).refuse_past(config.epochs, plan.steps_per_epoch, run.path)

        run = (RunDirectory.open(config, same=same_components(plugins), before_writing=not_past) if writer
               else RunDirectory.scratch(config))
        try:
            result = _run(config, plugins, plan, strategy, run, signals, verbose, callbacks or [])
            if not writer:  # its own files go with its scratch directory; the chief's stay
                result = attrs.evolve(result, run_dir=Path(config.output) / config.name if config.name else None)
            return result
        finally:
            run.unlock()
            if not writer:
                shutil.rmtree(run.path, ignore_errors=True)


def _run(config, plugins, plan, strategy, run, signals, verbose, callbacks) -> RunResult:
    """The run's steps after its directory is open, with its status kept up to date."""
    try:
        done = run.completed(config.epochs)
        if done is not None:  # all the epochs asked for are trained: the results as they are
            evaluation, progress = done
            return RunResult(run.path, load_model(run.source.model, plugins=plugins), progress.get("history", {}),
                             evaluation)
        keras.utils.set_random_seed(config.seed)
        model, progress = build(config, plugins, plan, strategy, run)
        validation = Validation.draw(model, plan.validation, seed=config.seed + 1, target=config.target,
                                     copies=plan.copies[1] if plan.copies else None)
        fit(model, config, plugins, plan, strategy, run, progress, validation, signals, callbacks, verbose)
        evaluation = report_run(model, config, plan, strategy, run, progress.history, noisy_psnr=validation.noisy_psnr)
    except Preempted as exc:
        run.record_end("preempted", error=str(exc), signal=exc.signal)
        raise
    except KeyboardInterrupt:
        run.record_end("interrupted")
        raise
    except BaseException as exc:
        run.record_end("failed", error=f"{type(exc).__name__}: {exc}")
        raise
    run.set_status("completed", evaluation=evaluation, progress=progress.to_dict())
    return RunResult(run.path, model, progress.history, evaluation)


def check_run_plugins(config: TrainConfig, plugins: Plugins) -> None:
    """Refuse to resume a run whose parts came from plugins that are not installed, naming,
    from the run's manifest, the distribution to install for every such part at once."""
    manifest = Path(config.output) / config.name / "manifest.json" if config.name else None
    if manifest is None or not manifest.is_file():
        return
    try:
        model = json.loads(manifest.read_text(encoding="utf-8")).get("model")
        missing = missing_parts(model, plugins) if isinstance(model, dict) else []
    except (OSError, ValueError, AttributeError, TypeError):
        return  # a damaged manifest is rewritten; the components are then checked by name
    if missing:
        raise PluginError(f"run directory {manifest.parent} needs " + "; and ".join(missing))


def check_model_takes(config: TrainConfig, plugins: Plugins, plan: TrainingData) -> None:
    """Refuse, with the reason, a model that cannot take the run's patches (a U-Net that
    cannot halve them) or its whole validation and test images (a model of one size only)."""
    model = build_model(config.corruption, config.encoder, config.decoder, image_shape=plan.image_shape,
                        seed=config.seed, plugins=plugins)
    for what, images in (("validation", plan.validation), ("test", plan.test)):
        sizes = images.sizes if isinstance(images, ImageList) else [tuple(images.shape[1:3])]
        for height, width in sorted(set(sizes)):
            check_size(model, height, width, f"{what} images (scored whole)")


@attrs.frozen
class Validation:
    """The validation images with their noise, drawn once from the run's seed, so that every
    epoch is scored on the same noisy images: batched arrays for Keras's own validation, or
    whole images of any size scored one at a time (:class:`WholeImageValidation`)."""

    clean: np.ndarray | None
    noisy: np.ndarray | None
    whole: ImageList | None
    seed: int
    figure: tuple[np.ndarray | None, np.ndarray]
    noisy_psnr: float | None
    #: Without clean images (target=noisy): scored by the self-supervised loss, against the
    #: images themselves or their second noisy ``copies``.
    self_supervised: bool = False
    copies: ImageList | None = None

    @classmethod
    def draw(cls, model, images, seed: int, target: str = "clean", copies: ImageList | None = None) -> Validation:
        if target == "noisy":  # the images are noisy already; there is nothing clean to draw noise on
            return cls(None, None, images, seed, (None, figure_images(images, model)), None, True, copies)
        if isinstance(images, ImageList):
            clean = figure_images(images, model)
            noisy = corrupt_images(model.corruption, clean, seed=seed)
            psnrs = [per_image_scores(images.unit(i)[None], corrupt_image(model.corruption, images.unit(i), seed + i)[None])
                     ["psnr"][0] for i in range(len(images))]
            return cls(None, None, images, seed, (clean, noisy), float(np.mean(psnrs)))
        clean = to_float(images)
        noisy = corrupt_images(model.corruption, clean, seed=seed)
        return cls(clean, noisy, None, seed, (clean[:FIGURE_IMAGES], noisy[:FIGURE_IMAGES]),
                   float(np.mean(per_image_scores(clean, noisy)["psnr"])))


def build(config: TrainConfig, plugins: Plugins, plan: TrainingData, strategy, run: RunDirectory):
    """The compiled model, with the newest intact checkpoint restored into it when resuming;
    returns it and the run's :class:`Progress`."""
    with strategy.scope(), dtype_policy(config.precision):
        model = build_model(config.corruption, config.encoder, config.decoder, image_shape=plan.image_shape,
                            seed=config.seed, plugins=plugins)
        # Without clean images, PSNR against the noisy targets would measure nothing useful.
        model.compile(optimizer=make_optimizer(config, plan.steps_per_epoch), loss=build_loss(config.loss, plugins),
                      metrics=[] if config.target == "noisy" else [psnr, ssim], jit_compile=resolve_jit_compile(config.jit_compile), steps_per_execution=config.steps_per_execution)
        model.optimizer.build(model.trainable_variables)
        object.__setattr__(model, "redraw_target", config.target == "redraw")
    if config.strategy == "multi-worker":
        fit_multi_worker(model)
    progress = CheckpointStore(run.source.checkpoints).restore(model) if run.resumed else None
    return model, progress or Progress()


def fit(model, config: TrainConfig, plugins: Plugins, plan: TrainingData, strategy, run: RunDirectory, progress: Progress,
        validation: Validation, signals: SignalFlag, extra_callbacks: list, verbose) -> None:
    """Record the run and train it from ``progress`` to ``config.epochs``."""
    write_metrics(run.metrics, progress.history)
    _write_manifest(run, config, model, plugins, plan, strategy, progress)
    state = RunState(CheckpointStore(run.checkpoints), progress, plan.steps_per_epoch, config.checkpoint_every,
                     run.metrics, signals)
    if validation.self_supervised:
        whole = [SelfSupervisedValidation(validation.whole, validation.copies, validation.seed)]
    else:
        whole = [WholeImageValidation(validation.whole, validation.seed)] if validation.whole is not None else []
    callbacks = [
        *whole,  # first: the callbacks after it read the scores it adds to the logs
        keras.callbacks.TensorBoard(log_dir=str(run.logs), write_graph=False, profile_batch=0),
        EpochFigures(*validation.figure, run.figures),
        state,
        *extra_callbacks,
    ]
    if verbose == "auto":
        verbose = 1 if sys.stdout.isatty() else 2
    # A run resumed inside an epoch first finishes that epoch, then trains whole epochs.
    whole = progress.epoch + bool(progress.step)
    phases = [(progress.epoch, whole, progress.step)] if progress.step else []
    if whole < config.epochs:
        phases.append((whole, config.epochs, 0))
    if verbose and progress.global_step and phases:  # Keras counts only a fit call's own epochs and steps
        print(f"resuming at epoch {progress.epoch + 1} of {config.epochs}" + (
            f", step {progress.step + 1} of {plan.steps_per_epoch}; Keras shows the rest of this epoch as "
            f"epoch {progress.epoch + 1}/{whole} of {plan.steps_per_epoch - progress.step} steps"
            if progress.step else ""), flush=True)
    with signals.arm(), strategy.scope():
        for first, last, skip in phases:
            state.offset = skip
            if plan.patch is None:
                dataset = pipeline.training_dataset(plan.train, config.batch_size, config.seed, first, last, skip,
                                                    config.prefetch, config.augment, plan.drop)
            elif config.strategy == "multi-worker":  # each worker gathers only its replicas' parts of a batch
                dataset = strategy.distribute_datasets_from_function(
                    lambda context, first=first, last=last, skip=skip: pipeline.patch_dataset(
                        plan, config.batch_size, config.seed, first, last, skip, config.prefetch, config.augment,
                        parts=pipeline.worker_parts(context)))
            else:
                dataset = pipeline.patch_dataset(plan, config.batch_size, config.seed, first, last, skip,
                                                 config.prefetch, config.augment)
            batched = {} if validation.whole is not None else {
                "validation_data": (validation.noisy, validation.clean), "validation_batch_size": plan.validation_batch}
            model.fit(
                dataset, initial_epoch=first, epochs=last, steps_per_epoch=plan.steps_per_epoch - skip, **batched,
                callbacks=callbacks, verbose=verbose,
                shuffle=False,  # each epoch has its own order already (pipeline.epoch_draws)
            )


def _write_manifest(run, config, model, plugins, plan: TrainingData, strategy, progress: Progress) -> None:
    data = plan.data
    described = {"name": data.name, "source": data.source, "train": len(plan.train),
                 "validation": len(plan.validation), "test": len(plan.test), "image_shape": list(plan.image_shape)}
    if isinstance(plan.train, ImageList):  # which files went where
        described["files"] = {split: list(getattr(plan, split).names) for split in ("train", "validation", "test")}
    run.write_manifest(config, model, plugins, described, devices=[device.name for device in tf.config.list_logical_devices()],
        compile={"jit_compile": model.jit_compile, "steps_per_execution": config.steps_per_execution,
                 "precision": config.precision, "deterministic": config.deterministic},
        strategy=describe(strategy, config.strategy),
        pipeline=pipeline.describe(plan, config),
        progress={"epoch": progress.epoch, "step": progress.step} if progress.global_step else None)
