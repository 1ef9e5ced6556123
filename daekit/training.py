"""Training a denoising autoencoder from a :class:`TrainConfig`, with Keras ``fit``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import attrs
import keras
import numpy as np
import tensorflow as tf

from daekit.callbacks import EpochFigures
from daekit.config import KINDS, ComponentSpec, TrainConfig
from daekit.data.sources import load_data, split_validation
from daekit.errors import ConfigError
from daekit.evaluate import EVALUATION_SEED, corrupt_images, evaluate_model, to_float
from daekit.figures import comparison_grid, loss_curves, save_figure
from daekit.manager import Plugins, get_plugins
from daekit.metrics import per_image_scores, psnr, ssim
from daekit.model import build_component, build_loss, build_model
from daekit.options import build_options
from daekit.rundir import RunDirectory, write_json
from daekit.saving import save_model

FIGURE_IMAGES = 8


@attrs.frozen
class RunResult:
    """What a finished run leaves: its directory, the trained model, history and evaluation."""

    run_dir: Path
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


def make_optimizer(config: TrainConfig, steps_per_epoch: int) -> keras.optimizers.Optimizer:
    """The configured optimizer; ``schedule=cosine`` decays the rate to zero over the run."""
    rate = config.learning_rate
    if config.schedule == "cosine":
        rate = keras.optimizers.schedules.CosineDecay(config.learning_rate, decay_steps=config.epochs * steps_per_epoch)
    if config.optimizer in ("adam", "adamw"):
        cls = keras.optimizers.Adam if config.optimizer == "adam" else keras.optimizers.AdamW
        return cls(learning_rate=rate, beta_1=config.beta_1, beta_2=config.beta_2)
    if config.optimizer == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate=rate, momentum=config.beta_1)
    return keras.optimizers.SGD(learning_rate=rate, momentum=config.beta_1)


def resolve_jit_compile(setting: str) -> bool:
    """``auto`` compiles the training step with XLA on GPUs only: on the CPU, XLA's random
    number kernels make noise corruptions about 25 times slower (bench/corruptions.py)."""
    if setting == "auto":
        return bool(tf.config.list_physical_devices("GPU"))
    return setting == "true"


def training_dataset(images: np.ndarray, batch_size: int, seed: int) -> tf.data.Dataset:
    """Clean images as (input, target) pairs, reshuffled each epoch; noise is added in the model."""
    def scale(batch):
        batch = tf.cast(batch, tf.float32) / 255.0
        return batch, batch

    return (
        tf.data.Dataset.from_tensor_slices(images)
        .shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
        .batch(batch_size)
        .map(scale, num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(tf.data.AUTOTUNE)
    )


def train(config: TrainConfig | None = None, plugins: Plugins | None = None, verbose: int | str = "auto") -> RunResult:
    """Train, evaluate on the test set and save, in a new run directory.

    Example:
        >>> run = daekit.train(daekit.TrainConfig.resolve(epochs=2))
        >>> run.evaluation["denoised"]["psnr"]

    Args:
        config: The run's configuration; the default recipe if omitted.
        verbose: Keras verbosity; ``"auto"`` shows a progress bar on a terminal and one
            line per epoch otherwise.
    """
    config = config or TrainConfig.resolve()
    plugins = plugins or get_plugins()
    check_components(config, plugins)
    data = load_data(config.data, data_dir=config.data_dir, image_size=config.image_size,
                     channels=config.channels, seed=config.seed)
    keras.utils.set_random_seed(config.seed)
    train_images = data.train[: config.limit] if config.limit else data.train
    train_images, val_images = split_validation(train_images, config.validation_split, config.seed)
    test_images = data.test[: config.test_limit] if config.test_limit else data.test
    model = build_model(config.corruption, config.encoder, config.decoder, image_shape=data.image_shape,
                        seed=config.seed, plugins=plugins)
    loss = build_loss(config.loss, plugins)
    run = RunDirectory.create(config)
    try:
        run.write_manifest(config, model, plugins, {
            "name": data.name, "source": data.source, "train": len(train_images),
            "validation": len(val_images), "test": len(test_images), "image_shape": list(data.image_shape),
        }, devices=[device.name for device in tf.config.list_logical_devices()],
            compile={"jit_compile": resolve_jit_compile(config.jit_compile)})
        steps_per_epoch = -(-len(train_images) // config.batch_size)
        model.compile(optimizer=make_optimizer(config, steps_per_epoch), loss=loss, metrics=[psnr, ssim],
                      jit_compile=resolve_jit_compile(config.jit_compile))
        # Validation noise is drawn once, from its own seed: every epoch is scored on the same images.
        val_clean = to_float(val_images)
        val_noisy = corrupt_images(model.corruption, val_clean, seed=config.seed + 1)
        callbacks = [
            keras.callbacks.CSVLogger(str(run.metrics)),
            keras.callbacks.TensorBoard(log_dir=str(run.logs), write_graph=False, profile_batch=0),
            EpochFigures(val_clean[:FIGURE_IMAGES], val_noisy[:FIGURE_IMAGES], run.figures),
        ]
        if verbose == "auto":
            verbose = 1 if sys.stdout.isatty() else 2
        history = model.fit(
            training_dataset(train_images, config.batch_size, config.seed),
            epochs=config.epochs,
            validation_data=(val_noisy, val_clean),
            shuffle=False,  # the dataset reshuffles itself, from the run's seed
            callbacks=callbacks,
            verbose=verbose,
        ).history
        save_model(model, run.model)
        evaluation = evaluate_model(model, test_images, seed=EVALUATION_SEED)
        write_json(run.evaluation, evaluation)
        noisy_psnr = float(np.mean(per_image_scores(val_clean, val_noisy)["psnr"]))
        save_figure(loss_curves(history, title=f"{config.encoder} / {config.decoder}", noisy_psnr=noisy_psnr),
                    run.figures / "loss.png")
        test_clean = to_float(test_images[:FIGURE_IMAGES])
        test_noisy = corrupt_images(model.corruption, test_clean, seed=EVALUATION_SEED)
        test_denoised = model.predict(test_noisy, verbose=0)
        save_figure(comparison_grid(test_clean, test_noisy, test_denoised, title="test images"),
                    run.figures / "test_denoised.png")
    except KeyboardInterrupt:
        run.set_status("interrupted")
        raise
    except BaseException as exc:
        run.set_status("failed", error=f"{type(exc).__name__}: {exc}")
        raise
    run.set_status("completed", evaluation=evaluation)
    return RunResult(run.path, model, {k: [float(v) for v in vs] for k, vs in history.items()}, evaluation)
