"""Figures of a run, drawn on ``matplotlib.figure.Figure`` objects (no pyplot state)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from daekit.metrics import per_image_scores


def wrap_title(title: str, width: int) -> str:
    """``title`` in lines of about ``width`` characters, broken after " /" or a comma: component
    specs have no spaces to break at, and a suptitle wider than its figure is cut off."""
    lines = []
    for index, part in enumerate(title.split(" / ") if len(title) > width else [title]):
        line = "/ " if index else ""
        for piece in re.split(r"(?<=,)", part):
            if len(line) + len(piece) > width and line.strip("/ "):
                lines.append(line)
                line = piece
            else:
                line += piece
        lines.append(line)
    return "\n".join(lines)


def _suptitle(figure: Figure, title: str) -> None:
    if title:
        figure.suptitle(wrap_title(title, int(figure.get_figwidth() * 11)))


def _show(ax, image):
    image = np.clip(image, 0.0, 1.0)
    if image.shape[-1] == 1:
        ax.imshow(image[..., 0], cmap="gray", vmin=0.0, vmax=1.0)
    else:
        ax.imshow(image)
    ax.set_xticks([])
    ax.set_yticks([])


def comparison_grid(clean: np.ndarray, noisy: np.ndarray, denoised: np.ndarray, title: str = "") -> Figure:
    """Rows of clean, noisy and denoised images; noisy and denoised cells carry their PSNR."""
    return comparison_rows(clean, {"noisy": noisy, "denoised": denoised}, title)


def comparison_rows(clean: np.ndarray, outputs: Mapping[str, np.ndarray], title: str = "") -> Figure:
    """The clean images, then one row per labelled set of images, each cell with its PSNR."""
    labels = {name: [f"{value:.1f} dB" for value in per_image_scores(clean, images)["psnr"]]
              for name, images in outputs.items()}
    return image_rows({"clean": clean, **outputs}, title, labels)


def image_rows(rows: Mapping[str, np.ndarray], title: str = "", labels: Mapping[str, Sequence[str]] | None = None) -> Figure:
    """One row per labelled set of images; ``labels`` (row -> one text per image) go under the
    cells. Without it, images that have no clean reference to be scored against."""
    count = len(next(iter(rows.values())))
    figure = Figure(figsize=(1.3 * count + 0.8, 1.45 * len(rows) + 0.1), layout="constrained")
    axes = figure.subplots(len(rows), count, squeeze=False)
    for row, (name, images) in enumerate(rows.items()):
        for column in range(count):
            ax = axes[row, column]
            _show(ax, images[column])
            if labels and name in labels:
                ax.set_xlabel(labels[name][column], fontsize=8)
        axes[row, 0].set_ylabel(name)
    _suptitle(figure, title)
    return figure


def loss_curves(history: Mapping[str, Sequence[float]], title: str = "", noisy_psnr: float | None = None) -> Figure:
    """Training and validation loss per epoch, and PSNR against the noisy input's."""
    scored = any(history.get(key) for key in ("psnr", "val_psnr"))
    figure = Figure(figsize=(9 if scored else 4.8, 3.6), layout="constrained")
    loss_ax, psnr_ax = figure.subplots(1, 2) if scored else (figure.subplots(), None)
    for key, label in (("loss", "training"), ("val_loss", "validation")):
        if history.get(key):
            epochs = np.arange(1, len(history[key]) + 1)
            loss_ax.plot(epochs, history[key], marker="o", label=label)
    loss_ax.set_xlabel("epoch")
    loss_ax.set_ylabel("loss")
    loss_ax.set_title("loss")
    loss_ax.legend()
    if psnr_ax is None:  # no clean images: nothing to compute PSNR against
        loss_ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        _suptitle(figure, title)
        return figure
    for key, label in (("psnr", "training (corrupted batches)"), ("val_psnr", "validation")):
        if history.get(key):
            epochs = np.arange(1, len(history[key]) + 1)
            psnr_ax.plot(epochs, history[key], marker="o", label=label)
    if noisy_psnr is not None:
        psnr_ax.axhline(noisy_psnr, color="gray", linestyle="--", label="noisy input (validation)")
    for ax in (loss_ax, psnr_ax):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    psnr_ax.set_xlabel("epoch")
    psnr_ax.set_ylabel("PSNR (dB)")
    psnr_ax.set_title("denoised PSNR")
    psnr_ax.legend()
    _suptitle(figure, title)
    return figure


def psnr_heatmap(rows: Sequence[Mapping], title: str = "") -> Figure:
    """Mean PSNR of each method (rows) under each corruption (columns), annotated."""
    corruptions = list(dict.fromkeys(row["corruption"] for row in rows))
    methods = list(dict.fromkeys(row["method"] for row in rows))
    values = np.full((len(methods), len(corruptions)), np.nan)
    for row in rows:
        values[methods.index(row["method"]), corruptions.index(row["corruption"])] = row["psnr"]
    figure = Figure(figsize=(1.6 + 1.5 * len(corruptions), 0.9 + 0.45 * len(methods)), layout="constrained")
    ax = figure.subplots()
    image = ax.imshow(values, cmap="viridis", aspect="auto")
    ax.set_xticks(range(len(corruptions)), corruptions, rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(len(methods)), methods, fontsize=8)
    for i in range(len(methods)):
        for j in range(len(corruptions)):
            if not np.isnan(values[i, j]):
                ax.text(j, i, f"{values[i, j]:.1f}", ha="center", va="center", fontsize=8,
                        color="black" if values[i, j] > np.nanmean(values) else "white")
    figure.colorbar(image, ax=ax, label="PSNR (dB)")
    if title:
        ax.set_title(title, fontsize=9)
    return figure


def save_figure(figure: Figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    return path
