"""Figures of corruptions on real images, each cell labelled with its PSNR."""

from __future__ import annotations

import keras
import numpy as np
from matplotlib.figure import Figure

from daekit.corruption import Corruption
from daekit.evaluate import to_float
from daekit.figures import _show
from daekit.metrics import per_image_scores


def _corrupt(corruption: Corruption, images: np.ndarray, seed: int) -> np.ndarray:
    return keras.ops.convert_to_numpy(corruption.apply(keras.ops.convert_to_tensor(images), seed))


def corruption_figure(images: np.ndarray, corruptions: list[tuple[str, Corruption]], seed: int = 0) -> Figure:
    """One row per corruption: the clean images, then each corrupted, with its PSNR."""
    clean = to_float(images)
    count = len(clean)
    figure = Figure(figsize=(1.25 * count + 1.6, 1.35 * (len(corruptions) + 1) + 0.4), layout="constrained")
    axes = figure.subplots(len(corruptions) + 1, count, squeeze=False)
    rows = [("clean", clean, None)]
    for label, corruption in corruptions:
        corrupted = _corrupt(corruption, clean, seed)
        rows.append((label, corrupted, per_image_scores(clean, corrupted)["psnr"]))
    for row, (label, pictures, psnr) in enumerate(rows):
        for column in range(count):
            _show(axes[row, column], pictures[column])
            if psnr is not None:
                axes[row, column].set_xlabel(f"{psnr[column]:.1f} dB", fontsize=7)
        axes[row, 0].set_ylabel(label, fontsize=7, rotation=0, ha="right", va="center")
    return figure


def severity_figure(image: np.ndarray, classes: list[type[Corruption]], seed: int = 0) -> Figure:
    """One row per corruption, one column per severity (1 to 5) of the same image."""
    clean = to_float(image[None])
    figure = Figure(figsize=(8.2, 1.3 * len(classes) + 0.6), layout="constrained")
    axes = figure.subplots(len(classes), 6, squeeze=False)
    for row, cls in enumerate(classes):
        _show(axes[row, 0], clean[0])
        axes[row, 0].set_ylabel(cls.name, fontsize=7, rotation=0, ha="right", va="center")
        for level in range(1, 6):
            corrupted = _corrupt(cls(severity=level), clean, seed)
            psnr = per_image_scores(clean, corrupted)["psnr"][0]
            ax = axes[row, level]
            _show(ax, corrupted[0])
            ax.set_xlabel(f"{psnr:.1f} dB", fontsize=7)
            if row == 0:
                ax.set_title(f"severity {level}", fontsize=8)
    axes[0, 0].set_title("clean", fontsize=8)
    return figure


#: Side of the crops that ``daekit preview --data DIR`` shows of the user's images.
PREVIEW_CROP = 96


def full_resolution_crops(images, count: int, seed: int, side: int = PREVIEW_CROP) -> np.ndarray:
    """``count`` crops of ``side`` pixels (smaller if an image is), at the images' own
    resolution, from images and corners chosen by ``seed``: a corruption on a photograph is
    judged at the scale it will be trained and restored at, not shrunk to a thumbnail."""
    rng = np.random.default_rng(seed)
    side = min(side, *(min(size) for size in images.sizes))
    crops = []
    for index in rng.choice(len(images), size=count, replace=len(images) < count):
        height, width = images.sizes[index]
        top, left = rng.integers(0, height - side + 1), rng.integers(0, width - side + 1)
        crops.append(images.unit(int(index))[top:top + side, left:left + side])
    return np.stack(crops)
