"""What a finished training run leaves: its saved model, its test evaluation and its figures."""

from __future__ import annotations

from typing import Any

import numpy as np

from daekit.config import TrainConfig
from daekit.data import pipeline
from daekit.data.pipeline import TrainingData
from daekit.evaluate import CORRUPTION_BATCH, EVALUATION_BATCH, EVALUATION_SEED, corrupt_images, evaluate_model, to_float
from daekit.figures import comparison_grid, image_rows, loss_curves, save_figure
from daekit.rundir import RunDirectory, write_json
from daekit.saving import save_model
from daekit.tiling import outputs_of

#: Validation and test images drawn in the run's figures.
FIGURE_IMAGES = 8


#: Side of the crops that figures show of images larger than it, at the image's own scale.
FIGURE_CROP = 128


def figure_images(images, model, count: int = FIGURE_IMAGES) -> np.ndarray:
    """The first ``count`` images as one float32 batch for a figure: whole when they share the
    model's training size, else the same centre crop of each, at their own scale."""
    from daekit.tiling import size_multiple

    if isinstance(images, np.ndarray):
        return to_float(images[:count])
    chosen = images.head(count)
    if all(size == tuple(model.image_shape[:2]) for size in chosen.sizes):
        return np.stack([chosen.unit(i) for i in range(len(chosen))])
    multiple = size_multiple(model) or 1
    side = min(FIGURE_CROP, *(min(size) for size in chosen.sizes)) // multiple * multiple
    crops = []
    for index, (height, width) in enumerate(chosen.sizes):
        top, left = (height - side) // 2, (width - side) // 2
        crops.append(chosen.unit(index)[top:top + side, left:left + side])
    return np.stack(crops)


def report_run(model, config: TrainConfig, plan: TrainingData, strategy, run: RunDirectory, history: dict[str, list[float]],
           noisy_psnr: float) -> dict[str, Any]:
    """Save the model, score it on the test set (evaluation.json) and draw the run's figures."""
    if plan.target == "noisy":
        return _report_self_supervised(model, config, plan, strategy, run, history)
    if isinstance(plan.test, np.ndarray):
        test_clean = to_float(plan.test[:FIGURE_IMAGES])
        # The figure shows the evaluation's own noisy images: its first batch, cut to the figure.
        test_noisy = corrupt_images(model.corruption, plan.test[:CORRUPTION_BATCH], seed=EVALUATION_SEED)[:FIGURE_IMAGES]
    else:
        test_clean = figure_images(plan.test, model)
        test_noisy = corrupt_images(model.corruption, test_clean, seed=EVALUATION_SEED)
    save_model(model, run.model)
    with strategy.scope():
        batch = (pipeline.replica_batch(len(plan.test), EVALUATION_BATCH, plan.replicas)
                 if isinstance(plan.test, np.ndarray) else 1)  # whole images go one at a time
        evaluation = evaluate_model(model, plan.test, seed=EVALUATION_SEED, batch_size=batch)
        test_denoised = outputs_of(model, test_noisy)
    write_json(run.evaluation, evaluation)
    if history:
        save_figure(loss_curves(history, title=f"{config.encoder} / {config.decoder}", noisy_psnr=noisy_psnr),
                    run.figures / "loss.png")
    save_figure(comparison_grid(test_clean, test_noisy, test_denoised, title="test images"),
                run.figures / "test_denoised.png")
    return evaluation


def _report_self_supervised(model, config: TrainConfig, plan: TrainingData, strategy, run: RunDirectory,
                            history: dict[str, list[float]]) -> dict[str, Any]:
    """The report of a run without clean images: its self-supervised test loss, and figures
    of noisy test images and their outputs."""
    from daekit.selfsup import evaluate_self_supervised

    save_model(model, run.model)
    copies = plan.copies[2] if plan.copies else None
    with strategy.scope():
        evaluation = evaluate_self_supervised(model, plan.test, copies, seed=EVALUATION_SEED)
        noisy = figure_images(plan.test, model)
        denoised = outputs_of(model, noisy)
    write_json(run.evaluation, evaluation)
    if history:
        save_figure(loss_curves(history, title=f"{config.encoder} / {config.decoder} ({evaluation['method']})"),
                    run.figures / "loss.png")
    save_figure(image_rows({"noisy": noisy, "denoised": denoised}, title=f"test images ({evaluation['method']})"),
                run.figures / "test_denoised.png")
    return evaluation
