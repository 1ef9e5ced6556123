"""Short screens of U-Net variants: which change is worth a full-length run.

Usage:
    python bench/unet_screen.py                 # every variant, 2 epochs each (about 16 minutes)
    python bench/unet_screen.py base b32 --epochs 3

Each variant is the ``unet`` preset's recipe (psnr loss, Adam 2e-3 with cosine decay over the
run, 2x2-folded pixels) with one change from the 64/128-filter, batch-64 network it started
from, trained from scratch with seed 0 on the full training split. The table gives each
epoch's validation PSNR, the test PSNR on the first 500 test images and the wall time, so a
change can be weighed against what it costs. Screens rank changes; they do not predict the
gain of a full run (docs/recipes.md has both).
"""

from __future__ import annotations

import argparse
import tempfile
import time

import daekit

BASE = dict(encoder="unet:filters=64,128,space_to_depth=2", decoder="unet:filters=64,space_to_depth=2", batch_size=64)
VARIANTS = {
    "base": {},
    "w80": dict(encoder="unet:filters=80,160,space_to_depth=2", decoder="unet:filters=80,space_to_depth=2"),
    "lr4e-3": dict(learning_rate=4e-3),
    "b32": dict(batch_size=32),
    "c3": dict(encoder="unet:filters=64,128,convs=3,space_to_depth=2"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("variants", nargs="*", help=f"Any of {', '.join(VARIANTS)} (default: all).")
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    unknown = [name for name in args.variants if name not in VARIANTS]
    if unknown:
        parser.error(f"unknown variant {', '.join(unknown)}; choose from {', '.join(VARIANTS)}")
    names = args.variants or list(VARIANTS)
    changes = {name: " ".join(f"{k}={v}" for k, v in VARIANTS[name].items()) or "-" for name in names}
    width = max(len("change"), *map(len, changes.values()))
    print(f"{'variant':8} {'change':{width}} {'val PSNR by epoch':>20} {'test500':>8} {'wall s':>7}")
    with tempfile.TemporaryDirectory() as output:
        for name in names:
            change = VARIANTS[name]
            config = daekit.TrainConfig.resolve(preset="unet", epochs=args.epochs, test_limit=500, output=output,
                                                name=name, **{**BASE, **change})
            started = time.perf_counter()
            run = daekit.train(config, verbose=0)
            seconds = time.perf_counter() - started
            curve = " ".join(f"{value:.3f}" for value in run.history["val_psnr"])
            print(f"{name:8} {changes[name]:{width}} {curve:>20} {run.evaluation['denoised']['psnr']:8.3f} {seconds:7.0f}",
                  flush=True)


if __name__ == "__main__":
    main()
