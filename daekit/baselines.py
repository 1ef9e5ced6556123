"""Classical denoisers as comparison rows: scikit-image's total variation, wavelet and
non-local means, and BM3D when the ``bm3d`` package is installed (``pip install daekit[bm3d]``).

Each sets its strength from the noise level it estimates in each image
(``skimage.restoration.estimate_sigma``), as a user without a clean reference would; the
factors were chosen on Fashion-MNIST with Gaussian noise (docs/evaluation.md).

They work one image at a time on one core, so ``workers`` spreads the images over that many
processes: BM3D denoises about two images a second, and the 10,000 Fashion-MNIST test images
took over an hour even in two processes (docs/evaluation.md).
"""

from __future__ import annotations

import importlib.util
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from functools import partial

import numpy as np

from daekit.errors import ConfigError


def _tv(image, sigma, channel_axis):
    from skimage.restoration import denoise_tv_chambolle

    return denoise_tv_chambolle(image, weight=0.6 * sigma, channel_axis=channel_axis)


def _wavelet(image, sigma, channel_axis):
    from skimage.restoration import denoise_wavelet

    return denoise_wavelet(image, sigma=sigma, method="BayesShrink", mode="soft", rescale_sigma=True,
                           channel_axis=channel_axis)


def _nlm(image, sigma, channel_axis):
    from skimage.restoration import denoise_nl_means

    return denoise_nl_means(image, h=0.8 * sigma, sigma=sigma, fast_mode=True, patch_size=3, patch_distance=5,
                            channel_axis=channel_axis)


def _bm3d(image, sigma, channel_axis):
    import bm3d

    if channel_axis is not None:  # the colour variant: a luminance-chrominance transform first
        return bm3d.bm3d_rgb(image, sigma_psd=sigma)
    return bm3d.bm3d(image, sigma_psd=sigma)


_DENOISERS: dict[str, tuple[str, Callable]] = {
    "tv": ("total variation", _tv),
    "wavelet": ("wavelet", _wavelet),
    "nlm": ("non-local means", _nlm),
    "bm3d": ("BM3D", _bm3d),
}


def _denoise_images(name: str, noisy: np.ndarray, strength: float = 1.0) -> np.ndarray:
    from skimage.restoration import estimate_sigma

    denoise = _DENOISERS[name][1]
    out = np.empty_like(noisy)
    for index, image in enumerate(noisy):
        channel_axis = -1 if image.shape[-1] > 1 else None
        picture = image if channel_axis is not None else image[..., 0]
        sigma = float(estimate_sigma(picture, channel_axis=channel_axis, average_sigmas=True))
        result = denoise(picture, max(sigma * strength, 1e-3), channel_axis)
        out[index] = result if channel_axis is not None else result[..., None]
    return np.clip(out, 0.0, 1.0)


def denoise(name: str, noisy: np.ndarray, workers: int = 1, strength: float = 1.0) -> np.ndarray:
    """Denoise ``noisy`` (N, H, W, C floats in [0, 1]) with the classical method ``name``.

    With ``workers`` above 1 the images are split into chunks denoised in that many fresh
    (spawned) processes; the outputs are the same (BM3D's own arithmetic varies in the last
    digits from call to call), only sooner. ``strength`` multiplies the noise level each image
    is denoised for (``bench/baseline_strength.py`` sweeps it).
    """
    resolve([name])  # unknown, or not installed here: the same message as the CLI's
    if workers < 1:
        raise ConfigError(f"workers={workers}: give at least 1 process")
    workers = min(workers, len(noisy))
    if workers == 1:
        return _denoise_images(name, noisy, strength)
    chunks = np.array_split(noisy, min(workers * 4, len(noisy)))  # small chunks even out differing costs
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        return np.concatenate(list(pool.map(partial(_denoise_images, name, strength=strength), chunks)))


# name -> (title, denoise(noisy, workers=1))
BASELINES: dict[str, tuple[str, Callable]] = {
    name: (title, partial(denoise, name)) for name, (title, _) in _DENOISERS.items()
}


def available() -> list[str]:
    """Baselines that can run here: BM3D only with its package installed."""
    names = ["tv", "wavelet", "nlm"]
    if importlib.util.find_spec("bm3d") is not None:
        names.append("bm3d")
    return names


def resolve(names: str | list[str] | None) -> list[str]:
    """Check requested baseline names: ``"all"`` or ``None`` means every available one,
    ``"none"`` none, otherwise a list or a comma-separated string of names."""
    if names is None or names == "all":
        return available()
    if names == "none":
        return []
    if isinstance(names, str):
        names = [name.strip() for name in names.split(",") if name.strip()]
    unknown = [name for name in names if name not in BASELINES]
    if unknown:
        raise ConfigError(f"baselines={','.join(unknown)}: unknown; choose from {', '.join(BASELINES)}")
    missing = [name for name in names if name not in available()]
    if missing:
        raise ConfigError(f"baselines={','.join(missing)}: not installed here (pip install 'daekit[bm3d]')")
    return names
