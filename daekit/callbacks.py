"""Keras callbacks of a daekit run."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np

from daekit.figures import comparison_grid, save_figure


class EpochFigures(keras.callbacks.Callback):
    """After each epoch, draws fixed validation images: clean, noisy and denoised."""

    def __init__(self, clean: np.ndarray, noisy: np.ndarray, directory: Path):
        super().__init__()
        self.clean = clean
        self.noisy = noisy
        self.directory = Path(directory)

    def on_epoch_end(self, epoch, logs=None):
        denoised = keras.ops.convert_to_numpy(self.model(self.noisy, training=False))
        figure = comparison_grid(self.clean, self.noisy, denoised, title=f"validation images after epoch {epoch + 1}")
        save_figure(figure, self.directory / f"epoch_{epoch + 1:03d}.png")
