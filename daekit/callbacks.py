"""Keras callbacks of a daekit run."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np

from daekit.figures import comparison_grid, image_rows, save_figure


class EpochFigures(keras.callbacks.Callback):
    """After each epoch, draws fixed validation images: clean, noisy and denoised (noisy and
    denoised when there are no clean images)."""

    def __init__(self, clean: np.ndarray | None, noisy: np.ndarray, directory: Path):
        super().__init__()
        self.clean = clean
        self.noisy = noisy
        self.directory = Path(directory)

    def on_epoch_end(self, epoch, logs=None):
        denoised = keras.ops.convert_to_numpy(self.model(self.noisy, training=False))
        title = f"validation images after epoch {epoch + 1}"
        figure = (image_rows({"noisy": self.noisy, "denoised": denoised}, title) if self.clean is None
                  else comparison_grid(self.clean, self.noisy, denoised, title=title))
        save_figure(figure, self.directory / f"epoch_{epoch + 1:03d}.png")


class WholeImageValidation(keras.callbacks.Callback):
    """After each epoch, scores whole validation images at their own sizes (tiled where
    large), on noise drawn from the same seed every epoch, and reports them as Keras's own
    validation does: ``val_loss``, ``val_psnr`` and ``val_ssim`` in the epoch's logs.

    It must come before the callbacks that read those logs (checkpoints, metrics.csv,
    TensorBoard); Keras's progress bar, added last, prints them.
    """

    def __init__(self, images, seed: int):
        super().__init__()
        self.images = images
        self.seed = seed

    def on_epoch_end(self, epoch, logs=None):
        from daekit.evaluate import score_whole_images

        scores = score_whole_images(self.model, self.images, seed=self.seed, loss=self.model.loss)
        if logs is not None:
            logs.update(val_loss=scores["loss"], val_psnr=float(np.mean(scores["denoised"]["psnr"])),
                        val_ssim=float(np.mean(scores["denoised"]["ssim"])))


class SelfSupervisedValidation(keras.callbacks.Callback):
    """After each epoch, the self-supervised loss on whole noisy validation images, with
    the blind spots drawn from the same seed every epoch (:func:`daekit.selfsup.score_self_supervised`),
    as ``val_loss`` in the epoch's logs: there are no clean images to compute PSNR against.
    Like :class:`WholeImageValidation`, it comes before the callbacks that read the logs."""

    def __init__(self, images, copies, seed: int):
        super().__init__()
        self.images = images
        self.copies = copies
        self.seed = seed

    def on_epoch_end(self, epoch, logs=None):
        from daekit.selfsup import score_self_supervised

        scores = score_self_supervised(self.model, self.images, self.copies, seed=self.seed)
        if logs is not None:
            logs.update(val_loss=scores["loss"])
