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
