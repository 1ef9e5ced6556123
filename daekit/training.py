"""Training a denoising autoencoder from a :class:`TrainConfig`, with Keras ``fit``."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

import attrs
import keras
import numpy as np
import tensorflow as tf

from daekit.callbacks import EpochFigures
from daekit.checkpoints import CheckpointStore, Progress
from daekit.config import AUGMENTS, KINDS, ComponentSpec, TrainConfig
from daekit.data.sources import load_data, split_validation
from daekit.distribute import describe as describe_strategy
from daekit.distribute import fit_multi_worker, is_writer, make_strategy, multi_step_train_function
from daekit.errors import ConfigError, Preempted
from daekit.evaluate import CORRUPTION_BATCH, EVALUATION_BATCH, EVALUATION_SEED, corrupt_images, evaluate_model, to_float
from daekit.faults import RunState, SignalFlag, write_metrics
from daekit.figures import comparison_grid, loss_curves, save_figure
from daekit.manager import Plugins, get_plugins
from daekit.metrics import per_image_scores, psnr, ssim
from daekit.model import build_component, build_loss, build_model
from daekit.optimizers import dtype_policy, make_optimizer
from daekit.options import build_options
from daekit.rundir import RunDirectory, write_json
from daekit.saving import load_model, save_model

FIGURE_IMAGES = 8


@attrs.frozen
class RunResult:
    """What a finished run leaves: its directory, the trained model, history and evaluation."""

    run_dir: Path | None
    model: Any
    history: dict[str, list[float]]
    evaluation: dict[str, Any]


def check_components(config: TrainConfig, plugins: Plugins) -> None:
    """Resolve every component name and option of ``config``; report all problems at once."""
    problems = []
    for kind in KINDS:
        spec: ComponentSpec = getattr(config, kind)
        try:
            if kind == "decoder":  # its image shape is known only once the data is loaded
                cls = plugins.component(kind, spec.name)
                build_options(cls.Options, spec.options, owner=cls.describe())
            else:
                build_component(kind, spec, plugins)
        except ConfigError as exc:
            problems += exc.problems
    if problems:
        raise ConfigError(problems)


def crop_epochs(config: TrainConfig) -> int:
    """How many epochs, from the first, train on crops (0 without ``crop``).

    Raises:
        ConfigError: ``crop_epochs`` without ``crop``, or more of them than ``epochs``.
    """
    if not config.crop:
        if config.crop_epochs:
            raise ConfigError(f"crop_epochs={config.crop_epochs} needs crop: give the side of the crops, e.g. crop=20")
        return 0
    if config.crop_epochs > config.epochs:
        raise ConfigError(f"crop_epochs={config.crop_epochs} is more than the run's epochs={config.epochs}; "
                          f"give at most {config.epochs} (or 0 for all of them)")
    return config.crop_epochs or config.epochs


def check_crop(model, crop: int, image_shape: tuple[int, ...]) -> None:
    """Raise a ConfigError unless ``model`` turns ``crop`` x ``crop`` images into images of that size."""
    height, width, channels = image_shape
    if crop > min(height, width):
        raise ConfigError(f"crop={crop} is larger than the {height}x{width} training images; give at most {min(height, width)}")
    parts = f"encoder {type(model.encoder).name!r} and decoder {type(model.decoder).name!r}"
    shape = (1, crop, crop, channels)
    try:
        model.check_parts(shape)
        out = tuple(model(np.zeros(shape, np.float32), training=False).shape)
    except ConfigError as exc:
        raise ConfigError(f"crop={crop}: {parts} cannot take {crop}x{crop} images: {exc}") from None
    except Exception as exc:  # whatever a part raises on a size it was not built for
        raise ConfigError(f"crop={crop}: {parts} cannot take {crop}x{crop} images "
                          f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); "
                          "train a fully convolutional model (such as unet) on crops") from None
    if out != shape:
        raise ConfigError(f"crop={crop}: {parts} turn {crop}x{crop} images into {out[1]}x{out[2]} ones; "
                          "train a fully convolutional model (such as unet) on crops")


def resolve_jit_compile(setting: str) -> bool:
    """``auto`` compiles the training step with XLA on GPUs only: on the CPU, XLA's random
    number kernels make noise corruptions about 25 times slower (bench/corruptions.py)."""
    if setting == "auto":
        return bool(tf.config.list_physical_devices("GPU"))
    return setting == "true"


def epoch_draws(count: int, seed: int, epoch: int, flips: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The order of the training images in ``epoch`` and which of them (in that order) are
    mirrored left to right. Both depend only on the run's seed and the epoch, so a resumed run
    sees the same batches as an uninterrupted one. With ``flips`` (``augment="flip"``) half
    the images are mirrored, drawn from the same stream right after the order, so the order is
    the same with and without flips; without, none are."""
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(count)
    return order, (rng.random(count) < 0.5 if flips else np.zeros(count, bool))


def epoch_crops(count: int, seed: int, epoch: int, shape: tuple[int, int], size: int) -> np.ndarray:
    """The top-left corners, ``(count, 2)``, of the ``size`` x ``size`` crops of ``epoch``'s
    images (in that epoch's order) from images of ``shape`` (height, width). Like
    :func:`epoch_draws` they depend only on the run's seed and the epoch, from a stream of their
    own, so cropping changes neither the order nor the flips."""
    rng = np.random.default_rng([seed, epoch, 1])
    return np.stack([rng.integers(0, side - size + 1, count) for side in shape], axis=1).astype(np.int32)


def crop_batch(batch: tf.Tensor, corners: tf.Tensor, size: int) -> tf.Tensor:
    """Each image of ``batch`` (B, H, W, C) cut to ``size`` x ``size`` from its own corner (B, 2)."""
    window = tf.range(size, dtype=corners.dtype)
    batch = tf.gather(batch, corners[:, :1] + window, axis=1, batch_dims=1)
    return tf.gather(batch, corners[:, 1:] + window, axis=2, batch_dims=1)


def training_dataset(images: np.ndarray, batch_size: int, seed: int, first_epoch: int = 0, epochs: int = 1,
                     skip_steps: int = 0, prefetch: int = -1, augment: str = "none", drop: int = 0,
                     crop: int = 0) -> tf.data.Dataset:
    """Clean images as (input, target) pairs for ``first_epoch`` up to ``epochs``, in each
    epoch's own order, skipping the first ``skip_steps`` batches; ``augment="flip"`` mirrors
    the images :func:`epoch_draws` picks; ``crop`` cuts each to ``crop`` x ``crop`` pixels at
    the corner :func:`epoch_crops` draws; ``drop`` leaves out the last images of each epoch's
    order (see :func:`replica_remainder`). Noise is added in the model."""
    if augment not in AUGMENTS:
        raise ConfigError(f"augment={augment!r}: choose one of {', '.join(AUGMENTS)}")
    pixels = tf.constant(images)
    count, shape = len(images), images.shape[1:3]

    def draws(epoch):
        drawn = epoch_draws(count, seed, epoch, augment == "flip")
        if crop:
            drawn = (*drawn, epoch_crops(count, seed, epoch, shape, crop))
        return tuple(column[: count - drop] for column in drawn)

    orders = [tf.data.Dataset.from_tensor_slices(draws(epoch)).batch(batch_size) for epoch in range(first_epoch, epochs)]
    batches = orders[0]
    for later in orders[1:]:
        batches = batches.concatenate(later)

    def gather(indices, flips, corners=None):
        batch = tf.gather(pixels, indices)
        if crop:
            batch = crop_batch(batch, corners, crop)
        batch = tf.cast(batch, tf.float32) / 255.0
        if augment == "flip":
            batch = tf.where(flips[:, None, None, None], tf.reverse(batch, axis=[2]), batch)
        return batch, batch

    dataset = batches.skip(skip_steps).map(gather, num_parallel_calls=tf.data.AUTOTUNE)
    if prefetch:
        dataset = dataset.prefetch(tf.data.AUTOTUNE if prefetch < 0 else prefetch)
    return dataset


def replica_remainder(count: int, batch_size: int, replicas: int) -> int:
    """The images a last batch of ``count`` would hold if that is fewer than ``replicas``, else 0.

    Such a batch leaves some replicas without a single image, and BatchNormalization fails on
    an empty batch, so training leaves these few images out of each epoch (a different few each
    epoch, since the order changes); inference takes a batch size that avoids them
    (:func:`replica_batch`)."""
    remainder = count % batch_size
    return remainder if replicas > 1 and 0 < remainder < replicas else 0


def replica_batch(count: int, batch_size: int, replicas: int) -> int:
    """A batch size for inference on ``count`` images over ``replicas``: ``batch_size``, or the
    nearest smaller multiple of ``replicas`` whose last batch still gives every replica an image
    (an empty replica batch fails in BatchNormalization, and Keras builds its metrics from a
    first batch that must split evenly, so one batch of all ``count`` images must too)."""
    if replicas <= 1:
        return batch_size
    first = min(batch_size, count)
    size = max(replicas, first - first % replicas)
    while size > replicas and replica_remainder(count, size, replicas):
        size -= replicas
    if replica_remainder(count, size, replicas):
        raise ConfigError(f"{count} images cannot be batched so that each of {replicas} replicas gets at least one "
                          f"image in every batch; use more images or fewer replicas")
    return size


def _validation_batch(config: TrainConfig, count: int = 0, replicas: int = 1) -> int:
    """Validation only predicts, so it takes evaluation's larger batches: fewer, fuller steps."""
    return replica_batch(count, max(config.batch_size, EVALUATION_BATCH), replicas)


def _pipeline(config: TrainConfig, validation: int = 0, replicas: int = 1, drop: int = 0, cropped: int = 0) -> dict[str, Any]:
    return {
        "order": "a permutation per epoch from (seed, epoch)", "batch_size": config.batch_size,
        "map": "gather" + (f", cut to {config.crop}x{config.crop} (epoch_crops)" if cropped else "")
               + ", scale to [0, 1]" + (", mirror half the images (epoch_draws)" if config.augment == "flip" else "")
               + ", parallel (AUTOTUNE)", "noise": "in the model, inside the training step",
        **({"crops": f"random {config.crop}x{config.crop} crops in epochs 1 to {cropped}"
                     + (f", whole images from epoch {cropped + 1}" if cropped < config.epochs else "")} if cropped else {}),
        "prefetch": "AUTOTUNE" if config.prefetch < 0 else config.prefetch,
        "validation_batch_size": _validation_batch(config, validation, replicas),
        **({"left_out_per_epoch": f"the last {drop} image(s) of each epoch's order, too few for one per replica"}
           if drop else {}),
    }


def _finished(run: RunDirectory, config: TrainConfig, plugins: Plugins) -> RunResult | None:
    """The results of a run that already completed all of ``config.epochs``, if it did."""
    if not run.resumed or run.status_before.get("status") != "completed" or not run.source.model.exists():
        return None
    evaluation = run.status_before.get("evaluation")
    progress = run.status_before.get("progress", {})
    if evaluation is None or progress.get("epoch") != config.epochs:
        return None
    model = load_model(run.source.model, plugins=plugins)
    if run.writes:
        run.set_status("completed", evaluation=evaluation, progress=progress)
    return RunResult(run.path, model, progress.get("history", {}), evaluation)


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
    check_components(config, plugins)
    crop_epochs(config)
    signals = SignalFlag()
    with signals.installed():
        if config.deterministic:
            tf.config.experimental.enable_op_determinism()
        writer = is_writer(strategy)
        run = RunDirectory.open(config) if writer else RunDirectory.scratch(config)
        try:
            result = _train(config, plugins, verbose, strategy, run, signals, callbacks or [])
            if not writer:  # its own files go with its scratch directory; the chief's stay
                result = attrs.evolve(result, run_dir=Path(config.output) / config.name if config.name else None)
            return result
        finally:
            run.unlock()
            if not writer:
                shutil.rmtree(run.path, ignore_errors=True)


def _local_cpus(strategy) -> list[str]:
    """The CPU devices a strategy runs its replicas on in this process (none for the default)."""
    try:
        devices = strategy.extended.worker_devices
    except (AttributeError, RuntimeError):  # the default strategy has no list of devices
        return []
    return [device for device in devices if "CPU" in device.upper()]


def _train(config, plugins, verbose, strategy, run, signals, extra_callbacks) -> RunResult:
    try:
        done = _finished(run, config, plugins)
        if done is not None:
            return done
        data = load_data(config.data, data_dir=config.data_dir, image_size=config.image_size,
                         channels=config.channels, seed=config.seed)
        keras.utils.set_random_seed(config.seed)
        train_images = data.train[: config.limit] if config.limit else data.train
        train_images, val_images = split_validation(train_images, config.validation_split, config.seed)
        test_images = data.test[: config.test_limit] if config.test_limit else data.test
        replicas = strategy.num_replicas_in_sync
        drop = replica_remainder(len(train_images), config.batch_size, replicas)
        steps_per_epoch = -(-(len(train_images) - drop) // config.batch_size)
        if steps_per_epoch % config.steps_per_execution:
            # Keras runs whole executions: the last one of an epoch would take batches of the next.
            fitting = [n for n in range(1, min(steps_per_epoch, 64) + 1) if steps_per_epoch % n == 0]
            raise ConfigError(
                f"steps_per_execution={config.steps_per_execution} does not divide the {steps_per_epoch} steps of an "
                f"epoch (Keras would run the last execution into the next epoch); choose one of "
                f"{', '.join(map(str, fitting))}"
            )
        # Keras's own loop for several steps per execution fails with several replicas
        # (keras-team/keras#19246): daekit runs the steps itself under mirrored and refuses them elsewhere.
        several_steps = config.steps_per_execution > 1 and replicas > 1
        if several_steps and config.strategy == "multi-worker":
            raise ConfigError(
                f"steps_per_execution={config.steps_per_execution} with strategy=multi-worker: Keras cannot run several "
                "steps per execution over more than one replica (keras-team/keras#19246), and daekit runs them "
                "itself only under 'mirrored'; use steps_per_execution=1 with this strategy"
            )
        jit_compile = resolve_jit_compile(config.jit_compile)
        cpus = len(_local_cpus(strategy))
        if jit_compile and cpus > 1:
            # TensorFlow compiles the replicas' step for the first device, which then cannot
            # reach the variables of the others ("Trying to access resource ... located in device").
            raise ConfigError(
                f"jit_compile={config.jit_compile} with strategy={config.strategy} over {cpus} logical CPU "
                "devices: XLA cannot reach the variables of replicas on other CPU devices; use jit_compile=auto "
                "(XLA on GPUs only) or false, or train on one device"
            )
        with strategy.scope(), dtype_policy(config.precision):
            model = build_model(config.corruption, config.encoder, config.decoder, image_shape=data.image_shape,
                                seed=config.seed, plugins=plugins)
            model.compile(optimizer=make_optimizer(config, steps_per_epoch), loss=build_loss(config.loss, plugins),
                          metrics=[psnr, ssim], jit_compile=jit_compile, steps_per_execution=config.steps_per_execution)
            model.optimizer.build(model.trainable_variables)
        cropped = crop_epochs(config)
        if cropped:
            with strategy.scope():
                check_crop(model, config.crop, data.image_shape)
        if several_steps:
            model.train_function = multi_step_train_function(model)
        if config.strategy == "multi-worker":
            fit_multi_worker(model)
        store = CheckpointStore(run.checkpoints)
        progress = CheckpointStore(run.source.checkpoints).restore(model) if run.resumed else None
        if progress is not None and progress.epoch > config.epochs:
            raise ConfigError(f"epochs={config.epochs}: the run in {run.path} already trained {progress.epoch} epochs")
        progress = progress or Progress()
        left = steps_per_epoch - progress.step
        if several_steps and progress.step and left % config.steps_per_execution:
            # The multi-step train function runs whole executions: the epoch's last would run past its end.
            raise ConfigError(
                f"steps_per_execution={config.steps_per_execution}: the run in {run.path} stopped at step "
                f"{progress.step} of {steps_per_epoch} in epoch {progress.epoch + 1}, and with several replicas every "
                f"execution runs all its steps; choose a steps_per_execution that divides the {left} steps left "
                f"(1 always does)"
            )
        write_metrics(run.metrics, progress.history)
        run.write_manifest(config, model, plugins, {
            "name": data.name, "source": data.source, "train": len(train_images),
            "validation": len(val_images), "test": len(test_images), "image_shape": list(data.image_shape),
        }, devices=[device.name for device in tf.config.list_logical_devices()],
            compile={"jit_compile": jit_compile, "steps_per_execution": config.steps_per_execution,
                     "precision": config.precision, "deterministic": config.deterministic},
            strategy=describe_strategy(strategy, config.strategy),
            pipeline=_pipeline(config, len(val_images), replicas, drop, cropped),
            progress={"epoch": progress.epoch, "step": progress.step} if progress.global_step else None)
        # Validation noise is drawn once, from its own seed: every epoch is scored on the same images.
        val_clean = to_float(val_images)
        val_noisy = corrupt_images(model.corruption, val_clean, seed=config.seed + 1)
        state = RunState(store, progress, steps_per_epoch, config.checkpoint_every, run.metrics, signals)
        callbacks = [
            keras.callbacks.TensorBoard(log_dir=str(run.logs), write_graph=False, profile_batch=0),
            EpochFigures(val_clean[:FIGURE_IMAGES], val_noisy[:FIGURE_IMAGES], run.figures),
            state,
            *extra_callbacks,
        ]
        if verbose == "auto":
            verbose = 1 if sys.stdout.isatty() else 2
        # A run resumed inside an epoch first finishes that epoch, then trains whole epochs.
        phases = []
        if progress.step:
            phases.append((progress.epoch, progress.epoch + 1, progress.step))
        if progress.epoch + bool(progress.step) < config.epochs:
            whole = progress.epoch + bool(progress.step)
            # Cropped and whole-image epochs are separate phases: their batches differ in shape.
            if whole < cropped < config.epochs:
                phases.append((whole, cropped, 0))
                whole = cropped
            phases.append((whole, config.epochs, 0))
        with signals.arm(), strategy.scope():
            for index, (first, last, skip) in enumerate(phases):
                state.offset = skip
                if index and first == cropped:
                    # Whole images after crops: a new train function traces the step for their size
                    # (the old one would trace it again for any size, and folding layers need static sizes).
                    model.train_function = multi_step_train_function(model) if several_steps else None
                model.fit(
                    training_dataset(train_images, config.batch_size, config.seed, first, last, skip, config.prefetch,
                                     config.augment, drop, config.crop if first < cropped else 0),
                    initial_epoch=first, epochs=last, steps_per_epoch=steps_per_epoch - skip if skip else steps_per_epoch,
                    validation_data=(val_noisy, val_clean),
                    validation_batch_size=_validation_batch(config, len(val_images), replicas),
                    callbacks=callbacks, verbose=verbose,
                    shuffle=False,  # each epoch has its own order already (epoch_draws)
                )
        history = progress.history
        test_clean = to_float(test_images[:FIGURE_IMAGES])
        # The figure shows the evaluation's own noisy images: its first batch, cut to the figure.
        test_noisy = corrupt_images(model.corruption, test_images[:CORRUPTION_BATCH], seed=EVALUATION_SEED)[:FIGURE_IMAGES]
        save_model(model, run.model)
        with strategy.scope():
            evaluation = evaluate_model(model, test_images, seed=EVALUATION_SEED,
                                        batch_size=replica_batch(len(test_images), EVALUATION_BATCH, replicas))
            test_denoised = model.predict(test_noisy, verbose=0)
        write_json(run.evaluation, evaluation)
        noisy_psnr = float(np.mean(per_image_scores(val_clean, val_noisy)["psnr"]))
        if history:
            save_figure(loss_curves(history, title=f"{config.encoder} / {config.decoder}", noisy_psnr=noisy_psnr),
                        run.figures / "loss.png")
        save_figure(comparison_grid(test_clean, test_noisy, test_denoised, title="test images"),
                    run.figures / "test_denoised.png")
    except Preempted as exc:
        run.set_status("preempted", error=str(exc), signal=exc.signal)
        raise
    except KeyboardInterrupt:
        run.set_status("interrupted")
        raise
    except BaseException as exc:
        run.set_status("failed", error=f"{type(exc).__name__}: {exc}")
        raise
    run.set_status("completed", evaluation=evaluation, progress=progress.to_dict())
    return RunResult(run.path, model, history, evaluation)
