"""What a finished training run leaves: its saved model, its test evaluation and its figures."""

from __future__ import annotations

from typing import Any

from daekit.config import TrainConfig
from daekit.data import pipeline
from daekit.data.pipeline import TrainingData
from daekit.evaluate import CORRUPTION_BATCH, EVALUATION_BATCH, EVALUATION_SEED, corrupt_images, evaluate_model, to_float
from daekit.figures import comparison_grid, loss_curves, save_figure
from daekit.rundir import RunDirectory, write_json
from daekit.saving import save_model

#: Validation and test images drawn in the run's figures.
FIGURE_IMAGES = 8


def report_run(model, config: TrainConfig, plan: TrainingData, strategy, run: RunDirectory, history: dict[str, list[float]],
           noisy_psnr: float) -> dict[str, Any]:
    """Save the model, score it on the test set (evaluation.json) and draw the run's figures."""
    test_clean = to_float(plan.test[:FIGURE_IMAGES])
    # The figure shows the evaluation's own noisy images: its first batch, cut to the figure.
    test_noisy = corrupt_images(model.corruption, plan.test[:CORRUPTION_BATCH], seed=EVALUATION_SEED)[:FIGURE_IMAGES]
    save_model(model, run.model)
    with strategy.scope():
        evaluation = evaluate_model(model, plan.test, seed=EVALUATION_SEED,
                                    batch_size=pipeline.replica_batch(len(plan.test), EVALUATION_BATCH, plan.replicas))
        test_denoised = model.predict(test_noisy, verbose=0)
    write_json(run.evaluation, evaluation)
    if history:
        save_figure(loss_curves(history, title=f"{config.encoder} / {config.decoder}", noisy_psnr=noisy_psnr),
                    run.figures / "loss.png")
    save_figure(comparison_grid(test_clean, test_noisy, test_denoised, title="test images"),
                run.figures / "test_denoised.png")
    return evaluation
