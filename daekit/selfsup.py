"""Training without clean images: which method a run's target makes, what refuses one, and
how its validation and test images are scored.

- ``target=clean``: supervised. The data are clean, the corruption makes the input.
- ``target=noisy`` with a blind-spot corruption: Noise2Void. The data are noisy; the loss
  scores the hidden pixels against their noisy values.
- ``target=noisy`` with ``--pairs``: Noise2Noise. The loss compares the output for one noisy
  copy with the other.
- ``target=redraw``: Noise2Noise simulated. The data are clean; the input and the target are
  two independent draws of the corruption, and validation and test score against the clean
  images as in a supervised run.

Without clean images a run is scored by its self-supervised loss: the loss it trains on,
on validation and test images, with the blind spots drawn once from the run's seed.
"""

from __future__ import annotations

import time
from typing import Any

import keras
import numpy as np

from daekit.errors import ConfigError

METHODS = {"clean": "supervised", "redraw": "noise2noise (simulated)"}


def method(target: str, pairs: Any) -> str:
    """The method a run's target and pairs make, as its manifest and evaluation name it."""
    if target == "noisy":
        return "noise2noise" if pairs else "noise2void"
    return METHODS[target]


def check_target(target: str, pairs: Any, corruption, loss) -> None:
    """Refuse, with the reason and the fix, a target the corruption and loss cannot learn from."""
    name, loss_name = type(corruption).name, type(loss).name
    blind = getattr(corruption, "blind_spot", False)
    if target == "noisy" and not pairs:
        if not blind:
            raise ConfigError(
                f"target=noisy: corruption {name!r} leaves every pixel visible to the network, which would learn to "
                "copy its noisy input; hide pixels from it (--corruption blind_spot --loss blind_spot, or "
                "--preset n2v), or give a second noisy copy of each image (--pairs DIR)")
        if not getattr(loss, "masked_only", False):
            raise ConfigError(
                f"target=noisy with corruption {name!r}: loss {loss_name!r} also scores the pixels the network sees "
                "against themselves, which teaches it to copy them; use --loss blind_spot, which scores only the "
                "hidden pixels")
    if target != "noisy" and getattr(loss, "masked_only", False):
        raise ConfigError(f"loss {loss_name!r} scores only hidden pixels, for target=noisy (Noise2Void); with "
                          f"target={target} use a loss over every pixel, such as mse")
    if target == "redraw" and (blind or name == "none"):
        raise ConfigError(f"target=redraw compares two draws of the corruption, and {name!r} draws no noise; give "
                          "the noise to study, such as --corruption gaussian:stddev=0.1")


def image_inputs(model, image: np.ndarray, seed: int):
    """The input the network sees for one noisy image in scoring, and the loss's per-pixel
    weights: its corruption (the blind spots) drawn from ``seed``, with their mask for a loss
    that scores only them."""
    generator = keras.random.SeedGenerator(seed)
    batch = keras.ops.convert_to_tensor(image[None])
    if getattr(model.loss, "uses_mask", False):
        hidden, mask = model.corruption.apply(batch, generator, with_mask=True)
        return keras.ops.convert_to_numpy(hidden)[0], model.loss.pixel_weights(mask)
    return keras.ops.convert_to_numpy(model.corruption.apply(batch, generator))[0], None


def score_self_supervised(model, images, copies=None, seed: int = 0, tile: int | None = None) -> dict[str, Any]:
    """The self-supervised loss of ``model`` (compiled with its training loss) on noisy
    images of any size (an :class:`~daekit.data.folder.ImageList`): each image's blind spots
    drawn from ``seed + index``, its output compared with the image itself, or with its second
    noisy copy in ``copies``.

    Returns:
        ``loss``: the mean over images; ``seconds`` and ``pixels`` of the denoising.
    """
    from daekit.tiling import predict_tiled

    losses, seconds, pixels = [], 0.0, 0
    for index in range(len(images)):
        noisy = images.unit(index)
        target = copies.unit(index) if copies is not None else noisy
        hidden, weights = image_inputs(model, noisy, seed + index)
        started = time.perf_counter()
        output = predict_tiled(model, hidden, tile)
        seconds += time.perf_counter() - started
        pixels += noisy.shape[0] * noisy.shape[1]
        value = model.loss(target[None], output[None], sample_weight=weights)
        losses.append(float(keras.ops.convert_to_numpy(value)))
    return {"loss": float(np.mean(losses)), "seconds": seconds, "pixels": pixels}


def evaluate_self_supervised(model, images, copies=None, seed: int = 0, target: str = "noisy") -> dict[str, Any]:
    """The test evaluation of a run without clean images (``evaluation.json``): its
    self-supervised loss, since there is nothing clean to compute PSNR against."""
    scores = score_self_supervised(model, images, copies, seed)
    return {
        "images": len(images), "target": target, "method": method(target, copies),
        "seed": seed, "self_supervised_loss": scores["loss"],
        "megapixels_per_second": scores["pixels"] / 1e6 / scores["seconds"] if scores["seconds"] > 0 else None,
        "note": "no clean images: PSNR needs them; score the model against clean references with "
                "daekit evaluate MODEL --pairs NOISY_DIR CLEAN_DIR",
    }
