"""Evaluation across corruptions: the model against the noisy input and classical denoisers,
all on the same noisy images from the same seed."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from daekit.baselines import BASELINES
from daekit.corruption import Corruption
from daekit.evaluate import EVALUATION_SEED, corrupt_images, timed_predict, to_float
from daekit.metrics import per_image_scores

NOISY, MODEL = "noisy input", "model"


def _row(corruption: str, method: str, clean, output, seconds: float | None) -> dict[str, Any]:
    scores = per_image_scores(clean, output)
    return {
        "corruption": corruption, "method": method,
        "psnr": float(np.mean(scores["psnr"])), "ssim": float(np.mean(scores["ssim"])),
        "images_per_second": float(len(clean) / seconds) if seconds else None,
    }


def evaluate_matrix(
    model,
    images: np.ndarray,
    corruptions: list[tuple[str, Corruption]],
    baselines: list[str] = (),
    seed: int = EVALUATION_SEED,
    keep: int = 0,
    workers: int = 1,
) -> tuple[list[dict[str, Any]], dict[str, dict[str, np.ndarray]]]:
    """Score the noisy input, each baseline and the model under each corruption.

    Args:
        model: A :class:`daekit.DenoisingAutoencoder`.
        images: Clean images, ``uint8`` or float in [0, 1].
        corruptions: ``(label, corruption)`` pairs; every method sees the same noisy images.
        baselines: Names from :data:`daekit.baselines.BASELINES`.
        keep: How many images of each output to return, for figures.
        workers: Processes the classical baselines run in; their images/s is wall-clock time
            over all of them.

    Returns:
        The rows (corruption, method, psnr, ssim, images_per_second), and for each corruption
        the first ``keep`` images of the clean set and of every method's output.
    """
    if not isinstance(images, np.ndarray):
        return _evaluate_whole(model, images, corruptions, baselines, seed, keep)
    clean = to_float(images)
    rows, kept = [], {}
    for index, (label, corruption) in enumerate(corruptions):
        noisy = corrupt_images(corruption, clean, seed)
        outputs = {NOISY: noisy}
        rows.append(_row(label, NOISY, clean, noisy, None))
        for name in baselines:
            title, denoise = BASELINES[name]
            started = time.perf_counter()
            outputs[title] = denoise(noisy, workers=workers)
            rows.append(_row(label, title, clean, outputs[title], time.perf_counter() - started))
        outputs[MODEL], seconds = timed_predict(model, noisy, warm_up=index == 0)
        rows.append(_row(label, MODEL, clean, outputs[MODEL], seconds))
        kept[label] = {"clean": clean[:keep], **{method: output[:keep] for method, output in outputs.items()}}
    return rows, kept


def _evaluate_whole(model, images, corruptions, baselines, seed: int, keep: int):
    """:func:`evaluate_matrix` on an ImageList: every image whole, at its own size, one at a
    time (the model in tiles where large); figures keep a centre crop of each."""
    from daekit.evaluate import corrupt_image

    rows, kept = [], {}
    for label, corruption in corruptions:
        found, kept[label] = score_whole(model, images, lambda index, clean: corrupt_image(corruption, clean, seed + index),
                                         label, baselines, keep)
        rows += found
    return rows, kept


def evaluate_pairs(model, noisy, clean, baselines: list[str] = (), keep: int = 0):
    """Score real noisy images against their clean counterparts (two ImageLists matched
    image by image, as :func:`daekit.data.folder.match_pairs` gives): no noise is drawn."""
    return score_whole(model, clean, lambda index, _: noisy.unit(index), "real noise", baselines, keep)


def score_whole(model, images, noisy_for, label: str, baselines, keep: int):
    """Rows for the noisy input, each baseline and the model over whole images, where
    ``noisy_for(index, clean)`` gives each image's noisy input; and centre crops of the first
    ``keep`` images of every output, for figures."""
    from daekit.report import figure_images
    from daekit.tiling import predict_tiled

    crop = figure_images(images, model, count=keep).shape[1] if keep else 0
    scores: dict[str, dict[str, list]] = {}
    seconds: dict[str, float] = {}
    crops: dict[str, list] = {"clean": []}
    for index in range(len(images)):
        clean = images.unit(index)
        outputs = {NOISY: noisy_for(index, clean)}
        for name in baselines:
            title, denoise = BASELINES[name]
            started = time.perf_counter()
            outputs[title] = denoise(outputs[NOISY][None])[0]
            seconds[title] = seconds.get(title, 0.0) + time.perf_counter() - started
        started = time.perf_counter()
        outputs[MODEL] = predict_tiled(model, outputs[NOISY])
        seconds[MODEL] = seconds.get(MODEL, 0.0) + time.perf_counter() - started
        for method, output in outputs.items():
            for metric, values in per_image_scores(clean[None], output[None]).items():
                scores.setdefault(method, {}).setdefault(metric, []).append(float(values[0]))
        if index < keep:
            top, left = (clean.shape[0] - crop) // 2, (clean.shape[1] - crop) // 2
            for method, output in {"clean": clean, **outputs}.items():
                crops.setdefault(method, []).append(output[top:top + crop, left:left + crop])
    rows = []
    for method, metric_values in scores.items():
        elapsed = seconds.get(method)
        rows.append({"corruption": label, "method": method, "psnr": float(np.mean(metric_values["psnr"])),
                     "ssim": float(np.mean(metric_values["ssim"])),
                     "images_per_second": len(images) / elapsed if elapsed else None})
    return rows, ({method: np.stack(values) for method, values in crops.items()} if keep else {})
