"""The training input pipeline: what each step sees, decided from ``(seed, epoch)`` alone.

Two parts with one job each:

- the *draws*: plain NumPy over indices. For images held in memory and trained whole
  (Fashion-MNIST), :func:`epoch_draws` gives the order of an epoch's images and which of them
  are mirrored; for patches, or a folder's images, :mod:`daekit.data.sampler` gives each
  step's image, corner and flip or turn. They depend only on the run's seed and the epoch, so
  a run resumed mid-epoch replays exactly the batches an uninterrupted one sees;
- a thin ``tf.data`` stage (:func:`training_dataset`, :func:`patch_dataset`) that gathers the
  pixels, scales them to [0, 1] by their bit depth, applies the drawn transforms and
  prefetches. Noise is added in the model, inside the step.

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
from daekit.data.folder import ImageList, load_folder, partners
from daekit.data.sampler import epoch_patches, gather, patches_per_epoch
from daekit.data.sources import ImageData, load_data, split_validation
from daekit.errors import ConfigError, DataError
from daekit.evaluate import EVALUATION_BATCH


@attrs.frozen
class TrainingData:
    """The images of a run and how they are batched, settled before its directory is written.

    ``train``, ``validation`` and ``test`` are ``uint8`` arrays (an IDX data set) or
    :class:`~daekit.data.folder.ImageList` (a folder). ``patch`` is the ``(height, width)``
    the sampler cuts from the training images, or ``None`` when the in-memory images train
    whole (:func:`training_dataset`).
    """

    data: ImageData
    train: Any
    validation: Any
    test: Any
    replicas: int
    drop: int  # images left out of each epoch so that every replica gets one (replica_remainder)
    steps_per_epoch: int
    validation_batch: int
    patch: tuple[int, int] | None = None
    per_epoch: int = 0  # images or patches in an epoch
    #: What the loss compares the output with (:data:`daekit.config.TARGETS`).
    target: str = "clean"
    #: With ``--pairs``: the second noisy copy of each image of ``train``, ``validation`` and
    #: ``test``, in their order (Noise2Noise); else ``None``.
    copies: tuple | None = None

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """The shape the model trains on: the patch, or the images themselves."""
        if self.patch is not None:
            return (*self.patch, self.data.image_shape[-1])
        return tuple(self.train.shape[1:])


def _head(images, count: int | None):
    if count is None:
        return images
    return images.head(count) if isinstance(images, ImageList) else images[:count]


def _patch_for(config: TrainConfig, train) -> tuple[int, int] | None:
    """The patch the sampler cuts, checked against the training images."""
    if config.patch:
        sizes = train.sizes if isinstance(train, ImageList) else [tuple(train.shape[1:3])] * len(train)
        small = [f"{name} ({w}x{h})" for name, (h, w) in zip(getattr(train, "names", range(len(sizes))), sizes)
                 if h < config.patch or w < config.patch]
        if small:
            raise DataError(f"{len(small)} training image(s) are smaller than patch={config.patch}: "
                            + ", ".join(small[:10]) + (" ..." if len(small) > 10 else ""))
        return config.patch, config.patch
    if isinstance(train, ImageList):
        height, width, _ = train.shape
        if height is None or width is None:
            sizes = sorted({f"{w}x{h}" for h, w in train.sizes})
            raise DataError(f"the training images come in {len(sizes)} sizes ({', '.join(sizes[:4])}"
                            f"{' ...' if len(sizes) > 4 else ''}): train on patches of them (--patch 64), or "
                            "give --resize SIDE")
        return height, width
    if config.augment == "dihedral":
        return tuple(train.shape[1:3])
    return None


def prepare(config: TrainConfig, replicas: int = 1) -> TrainingData:
    """Load ``config``'s data, split off the validation images and size the batches."""
    if config.pairs is not None and config.target != "noisy":
        raise ConfigError(f"--pairs {config.pairs} gives second noisy copies of noisy images: it needs --target noisy")
    if config.target == "noisy" and config.data in ("fashion-mnist", "mnist"):
        raise ConfigError(f"--target noisy trains on images that are already noisy (a folder, or one image file), "
                          f"and {config.data} is clean: use --target redraw to simulate Noise2Noise on it, or write "
                          "noisy copies of it to a folder (as bench/selfsup.py does)")
    data = load_data(config.data, data_dir=config.data_dir, channels=config.channels, seed=config.seed,
                     resize=config.resize, test_data=config.test_data, max_pixels=config.max_pixels)
    train = _head(data.train, config.limit)
    if config.val_data:
        validation = load_folder(config.val_data, config.channels, config.resize, config.max_pixels)
    elif data.single:
        if config.target == "clean":
            raise ConfigError(f"{config.data} is one image, which a supervised run would be validated and tested on: "
                              "give a folder of images, or --val-data and --test-data, or train self-supervised on "
                              "it (--target noisy)")
        validation = train
    else:
        train, validation = split_validation(train, config.validation_split, config.seed)
    patch = _patch_for(config, train)
    if config.augment == "dihedral" and patch is not None and patch[0] != patch[1]:
        raise ConfigError(f"augment=dihedral turns images by quarter turns, which needs square images; these are "
                          f"{patch[1]}x{patch[0]}: give --patch SIDE, or use augment=flip")
    if patch is None:
        per_epoch = len(train)
    else:
        sizes = train.sizes if isinstance(train, ImageList) else [tuple(train.shape[1:3])] * len(train)
        per_epoch = config.patches_per_epoch or patches_per_epoch(sizes, patch)
    drop = replica_remainder(per_epoch, config.batch_size, replicas)
    # Validation only predicts, so it takes evaluation's larger batches: fewer, fuller steps.
    validation_batch = (1 if isinstance(validation, ImageList)  # whole images, one at a time
                        else replica_batch(len(validation), max(config.batch_size, EVALUATION_BATCH), replicas))
    test = _head(data.test, config.test_limit)
    copies = None
    if config.pairs:
        pairs = load_folder(config.pairs, config.channels, config.resize, config.max_pixels)
        copies = (partners(train, pairs, config.data, config.pairs),
                  partners(validation, pairs, config.val_data or config.data, config.pairs),
                  partners(test, pairs, config.test_data or config.data, config.pairs))
    return TrainingData(data, train, validation, test, replicas, drop,
                        -(-(per_epoch - drop) // config.batch_size), validation_batch, patch, per_epoch,
                        config.target, copies)


def patch_dataset(plan: TrainingData, batch_size: int, seed: int, first_epoch: int = 0, epochs: int = 1,
                  skip_steps: int = 0, prefetch: int = -1, augment: str = "none",
                  parts: tuple[int, int, int] = (0, 1, 1)) -> tf.data.Dataset:
    """Patches (or whole images of one size) as (input, target) pairs for epochs
    ``first_epoch`` up to ``epochs``, drawn by :func:`daekit.data.sampler.epoch_patches`,
    skipping the first ``skip_steps`` batches. Each epoch's draws are made when the pipeline
    reaches it, so a long run holds one epoch's indices at a time.

    Args:
        parts: ``(first, taken, total)``: split every batch into ``total`` near-equal parts
            and yield parts ``first`` to ``first + taken - 1`` of each, in turn. A worker of a
            cluster takes the parts of its own replicas (:func:`worker_parts`), so it reads
            only its share of the pixels, and the cluster trains on exactly the batches one
            process would. ``(0, 1, 1)`` yields whole batches.
    """
    images, patch, count = plan.train, plan.patch, plan.per_epoch
    sizes = images.sizes if isinstance(images, ImageList) else [tuple(images.shape[1:3])] * len(images)
    kept = count - plan.drop
    first, taken, total = parts

    def draws(epoch):
        columns = epoch_patches(sizes, patch, count, seed, int(epoch), augment)
        return tuple(column[:kept].astype(np.int64) for column in columns)

    def bounds():
        # [start, end) of each part this pipeline yields, batch after batch (in NumPy, once).
        starts = []
        for batch in range(0, kept, batch_size):
            edges = batch + np.linspace(0, min(batch_size, kept - batch), total + 1).astype(np.int64)
            starts += [(edges[i], edges[i + 1]) for i in range(first, first + taken)]
        return np.asarray(starts, np.int64).reshape(-1, 2)

    slices = tf.constant(bounds())

    def epoch_batches(epoch):
        columns = tf.numpy_function(draws, [epoch], [tf.int64] * 4, stateful=False)
        for column in columns:
            column.set_shape([None])
        return tf.data.Dataset.from_tensor_slices(slices).map(
            lambda edge: tuple(column[edge[0]:edge[1]] for column in columns))

    channels = plan.data.image_shape[-1]

    copies = plan.copies[0] if plan.copies else None

    def load(*columns):
        batch = tf.numpy_function(lambda *c: gather(images, patch, *c), columns, tf.float32, stateful=False)
        batch.set_shape([None, *patch, channels])
        if copies is None:
            return batch, batch
        # Noise2Noise: the same patches of the second noisy copies are the targets.
        target = tf.numpy_function(lambda *c: gather(copies, patch, *c), columns, tf.float32, stateful=False)
        target.set_shape([None, *patch, channels])
        return batch, target

    dataset = (tf.data.Dataset.range(first_epoch, epochs).flat_map(epoch_batches).skip(skip_steps * taken)
               .map(load, num_parallel_calls=tf.data.AUTOTUNE))
    if prefetch:
        dataset = dataset.prefetch(tf.data.AUTOTUNE if prefetch < 0 else prefetch)
    return dataset


def worker_parts(context: tf.distribute.InputContext) -> tuple[int, int, int]:
    """The parts of each batch (see :func:`patch_dataset`) that the worker of ``context``
    feeds to its replicas: one per replica, the replicas of worker 0 first."""
    local = context.num_replicas_in_sync // context.num_input_pipelines
    return context.input_pipeline_id * local, local, context.num_replicas_in_sync


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


def describe(plan: TrainingData, config: TrainConfig) -> dict[str, Any]:
    """The pipeline as the run manifest records it."""
    augment = {"flip": ", mirror half of them", "dihedral": ", one of eight flips and quarter turns each"}.get(config.augment, "")
    if plan.patch is None:
        order = "a permutation per epoch from (seed, epoch)"
    elif isinstance(plan.train, ImageList) and plan.train.shape[:2] == plan.patch and not config.patch:
        order = "a permutation of the whole images per epoch from (seed, epoch)"
    else:
        order = (f"{plan.per_epoch} patches of {plan.patch[0]}x{plan.patch[1]} per epoch from (seed, epoch), "
                 "images drawn in proportion to their area, corners uniform")
    from daekit.selfsup import method

    return {
        "order": order + augment, "batch_size": config.batch_size,
        "target": {"clean": "the clean images", "redraw": "a second, independent draw of the corruption",
                   "noisy": "the second noisy copies (--pairs)" if plan.copies else
                   "the noisy images themselves, at the hidden pixels"}[plan.target] + f" ({method(plan.target, plan.copies)})",
        **({"single_image": "validated and tested on the image trained on"} if plan.data.single and not config.val_data
           else {}),
        "map": "gather, scale to [0, 1] by bit depth, parallel (AUTOTUNE)",
        "noise": "in the model, inside the training step",
        "prefetch": "AUTOTUNE" if config.prefetch < 0 else config.prefetch,
        **({"workers": "each gathers only its replicas' parts of every batch: the batches one process trains on"
                       if plan.patch is not None else "tf.data shards every batch between them"}
           if config.strategy == "multi-worker" else {}),
        **({"validation": "whole images at their own size, one at a time (tiled where large)"}
           if isinstance(plan.validation, ImageList) else {"validation_batch_size": plan.validation_batch}),
        **({"left_out_per_epoch": f"the last {plan.drop} {'image(s)' if plan.patch is None else 'patch(es)'} of each "
                                  "epoch's order, too few for one per replica"}
           if plan.drop else {}),
    }
