"""Mean input PSNR of every corruption at severities 1 to 5 on the Fashion-MNIST test set,
or on crops of photographs at their own resolution.

Usage:
    python bench/severity.py [--images 2000] [--seed 0]
    python bench/severity.py --data DIR [--images 256]   # 128x128 crops of a folder's images, grey

The bands the levels are calibrated to are ``daekit.corruption.SEVERITY_BANDS``; a level
outside its band is marked with '!'.
"""

from __future__ import annotations

import argparse

import numpy as np

import daekit
from daekit.corruption import SEVERITY_BANDS
from daekit.evaluate import corrupt_images, to_float
from daekit.metrics import per_image_scores


def measure(cls, images: np.ndarray, seed: int) -> list[float]:
    """Mean PSNR (dB, identical images counted at 60 dB) of each severity level."""
    clean = to_float(images)
    means = []
    for level in range(1, 6):
        noisy = corrupt_images(cls(severity=level), clean, seed=seed)
        psnr = np.minimum(per_image_scores(clean, noisy)["psnr"], 60.0)
        means.append(float(np.mean(psnr)))
    return means


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", help="A folder of photographs: measure on 128x128 crops of them, at full resolution.")
    args = parser.parse_args()
    if args.data:
        from daekit.data.folder import load_folder
        from daekit.preview import full_resolution_crops

        images = full_resolution_crops(load_folder(args.data, channels=1), args.images, args.seed, side=128)
        source = f"{args.images} crops of 128x128 from the photographs in {args.data}"
    else:
        images = daekit.load_data("fashion-mnist").test[: args.images]
        source = f"{args.images} Fashion-MNIST test images"
    registry = daekit.get_plugins().registries["corruption"]
    bands = "  ".join(f"{low:g}-{high:g}" for low, high in SEVERITY_BANDS.values())
    print(f"{source}, seed {args.seed}; bands (dB): {bands}")
    print(f"{'corruption':16}" + "".join(f"{'level ' + str(level):>10}" for level in range(1, 6)))
    for name in registry.names():
        cls = registry.get(name)
        if not cls.SEVERITIES:
            continue
        cells = []
        for level, value in zip(range(1, 6), measure(cls, images, args.seed)):
            low, high = SEVERITY_BANDS[level]
            cells.append(f"{value:9.1f}{' ' if low <= value < high else '!'}")
        print(f"{name:16}" + "".join(cells), flush=True)


if __name__ == "__main__":
    main()
