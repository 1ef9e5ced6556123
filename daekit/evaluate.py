"""Honest evaluation: the model's output against its noisy input, on the same seeded noise."""

from __future__ import annotations

import contextlib
import time
from typing import Any

import keras
import numpy as np

from daekit.corruption import Corruption
from daekit.metrics import per_image_scores

EVALUATION_SEED = 1234
# Images per inference batch when scoring: larger than any training batch, since inference
# keeps no activations for a backward pass; training's per-epoch validation uses it too.
EVALUATION_BATCH = 256


def to_float(images: np.ndarray) -> np.ndarray:
    """``uint8`` images to float32 in [0, 1]; float images pass through."""
    if images.dtype == np.uint8:
        return images.astype(np.float32) / 255.0
    return images.astype(np.float32)


def describe_corruption(corruption: Corruption) -> dict[str, Any]:
    """A corruption's name and options, as JSON (composed ones list their parts)."""
    described = {"name": type(corruption).name, **corruption.options_config()}
    if corruption.probability < 1.0:
        described["probability"] = corruption.probability
    if getattr(corruption, "children", None):
        described["children"] = [describe_corruption(child) for child in corruption.children]
    return described


CORRUPTION_BATCH = 1024


def corrupt_images(corruption: Corruption, images: np.ndarray, seed: int, batch_size: int = CORRUPTION_BATCH) -> np.ndarray:
    """Corrupt ``images`` in batches with noise that depends only on ``seed`` (and on the
    batches: the first ``batch_size`` images get the same noise whatever follows them)."""
    generator = keras.random.SeedGenerator(seed)
    clean = to_float(images)
    batches = [
        keras.ops.convert_to_numpy(corruption.apply(keras.ops.convert_to_tensor(clean[i:i + batch_size]), generator))
        for i in range(0, len(clean), batch_size)
    ]
    return np.concatenate(batches)


def corrupt_image(corruption: Corruption, image: np.ndarray, seed: int) -> np.ndarray:
    """One whole ``(height, width, channels)`` image corrupted with noise from ``seed`` alone."""
    generator = keras.random.SeedGenerator(seed)
    batch = keras.ops.convert_to_tensor(to_float(image)[None])
    return keras.ops.convert_to_numpy(corruption.apply(batch, generator))[0]


def score_whole_images(model, images, corruption: Corruption | None = None, seed: int = EVALUATION_SEED,
                       loss=None, tile: int | None = None, overlap: int | None = None) -> dict[str, Any]:
    """Each image of an :class:`~daekit.data.folder.ImageList` at its own size: noise drawn
    from ``seed + index``, denoised whole or in tiles (:func:`daekit.tiling.predict_tiled`),
    then PSNR and SSIM per image against its clean self.

    Returns:
        Per-image ``psnr`` and ``ssim`` arrays for the ``noisy`` input and the ``denoised``
        output, the mean ``loss`` if a loss is given, and the denoising ``seconds`` and ``pixels``.
    """
    from daekit.tiling import predict_tiled

    corruption = corruption or model.corruption
    rows = {"noisy": {"psnr": [], "ssim": []}, "denoised": {"psnr": [], "ssim": []}}
    losses, seconds, pixels = [], 0.0, 0
    for index in range(len(images)):
        clean = images.unit(index)
        noisy = corrupt_image(corruption, clean, seed + index)
        started = time.perf_counter()
        denoised = predict_tiled(model, noisy, tile, overlap)
        seconds += time.perf_counter() - started
        pixels += clean.shape[0] * clean.shape[1]
        for row, output in (("noisy", noisy), ("denoised", denoised)):
            for metric, values in per_image_scores(clean[None], output[None]).items():
                rows[row][metric].append(float(values[0]))
        if loss is not None:
            losses.append(float(keras.ops.convert_to_numpy(loss(clean[None], denoised[None]))))
    result = {row: {metric: np.array(values) for metric, values in scores.items()} for row, scores in rows.items()}
    return {**result, "loss": float(np.mean(losses)) if losses else None, "seconds": seconds, "pixels": pixels}


def timed_predict(model, noisy: np.ndarray, batch_size: int = EVALUATION_BATCH, warm_up: bool = True) -> tuple[np.ndarray, float]:
    """The model's outputs for ``noisy`` and the seconds they took, after a first call on one
    batch: tracing and warm-up are a fixed cost of a process, not of denoising, and on a set
    of a few thousand images they would otherwise halve the measured rate. ``warm_up=False``
    skips that call, for a model that has just predicted at this batch size."""
    with one_batch_per_call(model):
        if warm_up:
            model.predict(noisy[:batch_size], batch_size=batch_size, verbose=0)
        started = time.perf_counter()
        outputs = model.predict(noisy, batch_size=batch_size, verbose=0)
        return outputs, time.perf_counter() - started


@contextlib.contextmanager
def one_batch_per_call(model):
    """``model.predict`` one batch per compiled call, whatever ``steps_per_execution`` it was
    compiled with. With several, Keras's predict function takes a list of batches and is traced
    again for each new length of list or shape of batch: the one-batch warm-up, the full lists,
    and the list holding the smaller last batch each trace it anew, inside the timed call
    (docs/recipes.md). Inference batches are large enough that a call per batch costs little."""
    steps = getattr(model, "steps_per_execution", 1)
    if steps == 1:
        yield
        return
    model.steps_per_execution, model.predict_function = 1, None
    try:
        yield
    finally:
        model.steps_per_execution, model.predict_function = steps, None


def evaluate_model(
    model,
    images: np.ndarray | None = None,
    corruption: Corruption | None = None,
    seed: int = EVALUATION_SEED,
    batch_size: int = EVALUATION_BATCH,
    data: str = "fashion-mnist",
    data_dir: str | None = None,
) -> dict[str, Any]:
    """PSNR and SSIM of the noisy input and of the model's output over a set of images.

    Args:
        model: A :class:`daekit.DenoisingAutoencoder`.
        images: Clean images (``uint8`` or float in [0, 1]), or an ImageList of images of any
            size, each scored whole; the test split of ``data`` if omitted.
        corruption: The noise to evaluate under; the model's training corruption if omitted.
        seed: Seed of the noise, so that every model is scored on the same noisy images.

    Returns:
        A JSON-ready dict with ``noisy`` and ``denoised`` mean ``psnr`` and ``ssim``.
    """
    if images is None:
        from daekit.data import load_data

        images = load_data(data, data_dir=data_dir).test
    corruption = corruption or model.corruption
    if not isinstance(images, np.ndarray):  # an ImageList: whole images of their own sizes
        scores = score_whole_images(model, images, corruption, seed)
        return {
            "images": len(images), "corruption": describe_corruption(corruption), "seed": seed,
            **{row: {metric: float(np.mean(scores[row][metric])) for metric in ("psnr", "ssim")}
               for row in ("noisy", "denoised")},
            "images_per_second": len(images) / scores["seconds"] if scores["seconds"] > 0 else None,
            "megapixels_per_second": scores["pixels"] / 1e6 / scores["seconds"] if scores["seconds"] > 0 else None,
        }
    clean = to_float(images)
    noisy = corrupt_images(corruption, clean, seed)
    denoised, elapsed = timed_predict(model, noisy, batch_size)
    rows = {"noisy": per_image_scores(clean, noisy), "denoised": per_image_scores(clean, denoised)}
    return {
        "images": int(len(clean)),
        "corruption": describe_corruption(corruption),
        "seed": seed,
        **{row: {metric: float(np.mean(values)) for metric, values in scores.items()} for row, scores in rows.items()},
        "images_per_second": float(len(clean) / elapsed) if elapsed > 0 else None,
    }
