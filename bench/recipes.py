"""Train recipes on the full Fashion-MNIST and print their test scores.

Usage:
    python bench/recipes.py                      # the default recipe
    python bench/recipes.py --preset article     # the classic recipe (20 epochs: slow)
    python bench/recipes.py --preset default --set epochs=1 --set decoder=conv

Every row is trained from scratch with seed 0 and scored on the full test set (10,000
images) with the fixed evaluation noise, so rows are comparable. ``train s`` is the wall
time of the whole run and ``CPU s`` the processor time it used, summed over the cores. The
same run's wall time drifts by a third between days on this shared 2-core machine; CPU s
tells a run whose cores sat idle (CPU s well under twice train s) from one whose cores ran
slower (more CPU s for the same work).
"""

from __future__ import annotations

import argparse
import platform
import time

import daekit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", action="append", help="Preset to train (repeatable).")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="Config override.")
    parser.add_argument("--output", default="runs/bench", help="Where the run directories go.")
    args = parser.parse_args()
    overrides = dict(item.split("=", 1) for item in args.set)
    print(f"machine: {platform.processor() or platform.machine()}, {__import__('os').cpu_count()} CPUs")
    print(f"{'preset':10} {'overrides':40} {'noisy PSNR':>10} {'PSNR':>7} {'SSIM':>6} {'train s':>8} {'CPU s':>7} {'denoise img/s':>13}")
    for preset in args.preset or ["default"]:
        config = daekit.TrainConfig.resolve(preset=preset, output=args.output, **overrides)
        started, processor = time.perf_counter(), time.process_time()
        run = daekit.train(config, verbose=2)
        seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - processor
        report = run.evaluation
        print(
            f"{preset:10} {' '.join(args.set) or '-':40} {report['noisy']['psnr']:10.2f} "
            f"{report['denoised']['psnr']:7.2f} {report['denoised']['ssim']:6.3f} {seconds:8.0f} {cpu_seconds:7.0f} "
            f"{report['images_per_second']:13.0f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
