"""The training input pipeline: what each step sees, decided from ``(seed, epoch)`` alone.

Two parts with one job each:

- the *draws* (:func:`epoch_draws`): plain NumPy over indices, the order of an epoch's images
  and which of them are mirrored. They depend only on the run's seed and the epoch, so a run
  resumed mid-epoch replays exactly the batches an uninterrupted one sees;
- a thin ``tf.data`` stage (:func:`training_dataset`) that gathers the pixels, scales them to
  [0, 1], applies the drawn flips and prefetches. Noise is added in the model, inside the step.

It also holds the batch arithmetic of several replicas (:func:`replica_remainder`,
:func:`replica_batch`): a batch that leaves a replica without an image fails in
BatchNormalization, so training leaves those few images out and inference picks a batch
size that avoids them.
"""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np
import tensorflow as tf

from daekit.config import AUGMENTS, TrainConfig
from daekit.data.sources import ImageData, load_data, split_validation
from daekit.errors import ConfigError
from daekit.evaluate import EVALUATION_BATCH


@attrs.frozen
class TrainingData:
    """The images of a run and how they are batched, settled before its directory is written."""

    data: ImageData
    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray
    replicas: int
    drop: int  # images left out of each epoch so that every replica gets one (replica_remainder)
    steps_per_epoch: int
    validation_batch: int


def prepare(config: TrainConfig, replicas: int = 1) -> TrainingData:
    """Load ``config``'s data, split off the validation images and size the batches."""
    data = load_data(config.data, data_dir=config.data_dir, image_size=config.image_size,
                     channels=config.channels, seed=config.seed)
    train = data.train[: config.limit] if config.limit else data.train
    train, validation = split_validation(train, config.validation_split, config.seed)
    drop = replica_remainder(len(train), config.batch_size, replicas)
    # Validation only predicts, so it takes evaluation's larger batches: fewer, fuller steps.
    validation_batch = replica_batch(len(validation), max(config.batch_size, EVALUATION_BATCH), replicas)
    return TrainingData(data, train, validation, data.test[: config.test_limit] if config.test_limit else data.test,
                        replicas, drop, -(-(len(train) - drop) // config.batch_size), validation_batch)


def epoch_draws(count: int, seed: int, epoch: int, flips: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The order of the training images in ``epoch`` and which of them (in that order) are
    mirrored left to right. With ``flips`` half the images are mirrored, drawn from the same
    stream right after the order, so the order is the same with and without flips."""
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(count)
    return order, (rng.random(count) < 0.5 if flips else np.zeros(count, bool))


def training_dataset(images: np.ndarray, batch_size: int, seed: int, first_epoch: int = 0, epochs: int = 1,
                     skip_steps: int = 0, prefetch: int = -1, augment: str = "none", drop: int = 0) -> tf.data.Dataset:
    """Clean ``uint8`` images as (input, target) pairs for epochs ``first_epoch`` up to
    ``epochs``, each in its own order, skipping the first ``skip_steps`` batches.

    Args:
        augment: ``"flip"`` mirrors the images :func:`epoch_draws` picks.
        drop: Leave out the last images of each epoch's order (see :func:`replica_remainder`).
        prefetch: Batches prepared ahead; -1 lets tf.data tune it.
    """
    if augment not in AUGMENTS:
        raise ConfigError(f"augment={augment!r}: choose one of {', '.join(AUGMENTS)}")
    pixels = tf.constant(images)
    count = len(images)

    def draws(epoch):
        return tuple(column[: count - drop] for column in epoch_draws(count, seed, epoch, augment == "flip"))

    orders = [tf.data.Dataset.from_tensor_slices(draws(epoch)).batch(batch_size) for epoch in range(first_epoch, epochs)]
    batches = orders[0]
    for later in orders[1:]:
        batches = batches.concatenate(later)

    def gather(indices, flips):
        batch = tf.cast(tf.gather(pixels, indices), tf.float32) / 255.0
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
    (Keras builds its metrics from a first batch that must split evenly, so one batch of all
    ``count`` images must too)."""
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


def describe(batch_size: int, augment: str, prefetch: int, validation_batch: int, drop: int) -> dict[str, Any]:
    """The pipeline as the run manifest records it."""
    return {
        "order": "a permutation per epoch from (seed, epoch)", "batch_size": batch_size,
        "map": "gather, scale to [0, 1]" + (", mirror half the images (epoch_draws)" if augment == "flip" else "")
               + ", parallel (AUTOTUNE)",
        "noise": "in the model, inside the training step",
        "prefetch": "AUTOTUNE" if prefetch < 0 else prefetch,
        "validation_batch_size": validation_batch,
        **({"left_out_per_epoch": f"the last {drop} image(s) of each epoch's order, too few for one per replica"}
           if drop else {}),
    }
