"""The figures of docs/article.md, from trained models.

Usage:
    python bench/article.py --model "classic recipe=runs/article/model.keras" \
        --model "default recipe=runs/demo/model.keras" --out docs/article

Takes the first 16 Fashion-MNIST test images, corrupts them as the first model was trained
(Gaussian noise, stddev 0.1, from the evaluation seed 1234) and writes, as the classic
tutorial shows them: ``clean.png`` (the clean batch), ``corrupted.png`` (the corrupted
batch) and ``reconstruction.png`` (the first model's output), then ``compare.png``: the
same images through every model, each cell labelled with its PSNR.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

import daekit
from daekit.evaluate import EVALUATION_SEED, corrupt_images, to_float
from daekit.figures import comparison_rows, save_figure
from daekit.metrics import per_image_scores


def batch_figure(images: np.ndarray, title: str, clean: np.ndarray | None = None) -> Figure:
    figure = Figure(figsize=(8, 2.7), layout="constrained")
    axes = figure.subplots(2, len(images) // 2)
    scores = per_image_scores(clean, images)["psnr"] if clean is not None else None
    for index, ax in enumerate(axes.flat):
        ax.imshow(images[index, ..., 0], cmap="gray", vmin=0, vmax=1)
        ax.set_xticks([])
        ax.set_yticks([])
        if scores is not None:
            ax.set_xlabel(f"{scores[index]:.1f} dB", fontsize=8)
    mean = f" (mean {np.mean(scores):.2f} dB)" if scores is not None else ""
    figure.suptitle(title + mean)
    return figure


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", required=True, metavar="LABEL=PATH")
    parser.add_argument("--out", type=Path, default=Path("docs/article"))
    parser.add_argument("--images", type=int, default=16)
    args = parser.parse_args()
    models = [(label, daekit.load_model(path)) for label, path in (item.split("=", 1) for item in args.model)]
    clean = to_float(daekit.load_data("fashion-mnist").test[: args.images])
    noisy = corrupt_images(models[0][1].corruption, clean, seed=EVALUATION_SEED)
    outputs = {label: model.predict(noisy, verbose=0) for label, model in models}
    first = models[0][0]
    save_figure(batch_figure(clean, "a clean batch (Fashion-MNIST test images)"), args.out / "clean.png")
    save_figure(batch_figure(noisy, "the corrupted batch: Gaussian noise, stddev 0.1, clipped", clean),
                args.out / "corrupted.png")
    save_figure(batch_figure(outputs[first], f"the reconstruction: {first}", clean), args.out / "reconstruction.png")
    save_figure(comparison_rows(clean[:8], {"corrupted": noisy[:8], **{k: v[:8] for k, v in outputs.items()}},
                                title="the same test images through each recipe"), args.out / "compare.png")
    for label, output in outputs.items():
        print(f"{label:30} {np.mean(per_image_scores(clean, output)['psnr']):6.2f} dB on these {len(clean)} images")


if __name__ == "__main__":
    main()
