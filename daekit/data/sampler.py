"""What each training step sees in a run on patches or on a folder of images, decided from
``(seed, epoch)`` alone: which image, which corner, which flip or turn.

It is plain NumPy over indices, so a run resumed mid-epoch replays exactly the batches an
uninterrupted one sees. Patches are drawn from images in proportion to their area (every
pixel of the training set is about equally likely to be seen, whatever the sizes of the
files it is in), and an epoch holds as many patches as tile the training pixels once. When
the patch is the whole of every image (a folder of images of one size, no ``--patch``), an
epoch is a permutation of the images, as for Fashion-MNIST.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from daekit.data.files import to_unit

#: The eight symmetries of a square: ``t % 4`` quarter turns, then a left-right mirror if ``t >= 4``.
DIHEDRAL = 8
MIRROR = 4


def patches_per_epoch(sizes: Sequence[tuple[int, int]], patch: tuple[int, int]) -> int:
    """Patches that tile the training pixels once (at least one per image)."""
    if all(tuple(size) == tuple(patch) for size in sizes):
        return len(sizes)
    return max(len(sizes), -(-sum(h * w for h, w in sizes) // (patch[0] * patch[1])))


def epoch_patches(sizes: Sequence[tuple[int, int]], patch: tuple[int, int], count: int, seed: int, epoch: int,
                  augment: str = "none") -> tuple[np.ndarray, ...]:
    """``(image, top, left, transform)`` for each of ``count`` patches of ``epoch``, in order.

    Args:
        augment: ``"dihedral"`` draws one of the eight flips and quarter turns per patch;
            ``"flip"`` mirrors half of them; ``"none"`` leaves them as they are.
    """
    rng = np.random.default_rng([seed, epoch])
    sizes = np.asarray(sizes, np.int64).reshape(-1, 2)
    if (sizes == np.asarray(patch)).all():
        image = rng.permutation(len(sizes))[:count]
        top = left = np.zeros(len(image), np.int64)
    else:
        areas = sizes[:, 0] * sizes[:, 1]
        image = rng.choice(len(sizes), size=count, p=areas / areas.sum())
        top = np.floor(rng.random(count) * (sizes[image, 0] - patch[0] + 1)).astype(np.int64)
        left = np.floor(rng.random(count) * (sizes[image, 1] - patch[1] + 1)).astype(np.int64)
    if augment == "dihedral":
        transform = rng.integers(0, DIHEDRAL, len(image))
    elif augment == "flip":
        transform = np.where(rng.random(len(image)) < 0.5, MIRROR, 0)
    else:
        transform = np.zeros(len(image), np.int64)
    return image, top, left, transform


def transformed(pixels: np.ndarray, transform: int) -> np.ndarray:
    """``pixels`` under one of the :data:`DIHEDRAL` symmetries."""
    pixels = np.rot90(pixels, transform % MIRROR, axes=(0, 1))
    return pixels[:, ::-1] if transform >= MIRROR else pixels


def gather(images, patch: tuple[int, int], image, top, left, transform) -> np.ndarray:
    """The drawn patches as one float32 batch in [0, 1], each scaled by its own bit depth."""
    height, width = patch
    batch = [to_unit(transformed(np.asarray(images[i][t:t + height, l:l + width]), r))
             for i, t, l, r in zip(image, top, left, transform)]
    return np.stack(batch)
