"""Classical denoisers as comparison rows: scikit-image's total variation, wavelet and
non-local means, and BM3D when the ``bm3d`` package is installed (``pip install daekit[bm3d]``).

Each sets its strength from the noise level it estimates in each image
(``skimage.restoration.estimate_sigma``), as a user without a clean reference would; the
factors were chosen on Fashion-MNIST with Gaussian noise (docs/evaluation.md).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable

import numpy as np

from daekit.errors import ConfigError


def _per_image(denoise: Callable[[np.ndarray, float], np.ndarray]):
    def run(noisy: np.ndarray) -> np.ndarray:
        from skimage.restoration import estimate_sigma

        out = np.empty_like(noisy)
        for index, image in enumerate(noisy):
            channel_axis = -1 if image.shape[-1] > 1 else None
            picture = image if channel_axis is not None else image[..., 0]
            sigma = float(estimate_sigma(picture, channel_axis=channel_axis, average_sigmas=True))
            result = denoise(picture, max(sigma, 1e-3), channel_axis)
            out[index] = result if channel_axis is not None else result[..., None]
        return np.clip(out, 0.0, 1.0)

    return run


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

    return bm3d.bm3d(image, sigma_psd=sigma)


BASELINES: dict[str, tuple[str, Callable]] = {
    "tv": ("total variation", _per_image(_tv)),
    "wavelet": ("wavelet", _per_image(_wavelet)),
    "nlm": ("non-local means", _per_image(_nlm)),
    "bm3d": ("BM3D", _per_image(_bm3d)),
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
