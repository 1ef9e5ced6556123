"""Test-set quality of trained models against the noisy input and classical denoisers.

Usage:
    python bench/quality.py --model runs/demo/model.keras --model runs/unet/model.keras
    python bench/quality.py --preset default --preset unet          # train, then score
    python bench/quality.py --model M --baselines tv,wavelet,nlm,bm3d --limit 500
    python bench/quality.py --model M --workers 2    # classical denoisers in 2 processes

Every row is scored on the same noisy test images (Fashion-MNIST test set, the model's own
corruption drawn from the evaluation seed 1234), so the rows compare. A last table checks
each model against daekit's targets: trained within 30 minutes (``train s``, which includes
the run's own test evaluation), denoising at least 1,000 images per second, and its margin
over the best classical method that ran (BM3D when it did).
"""

from __future__ import annotations

import argparse
import os
import time

import daekit
from daekit import baselines as classical


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", default=[], help="A saved .keras model (repeatable).")
    parser.add_argument("--preset", action="append", default=[], help="Train this preset first (repeatable).")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="Override for trained presets.")
    parser.add_argument("--baselines", default="all", help="all, none, or names: tv,wavelet,nlm,bm3d.")
    parser.add_argument("--limit", type=int, default=None, help="Score only the first N test images.")
    parser.add_argument("--workers", type=int, default=1,
                        help="Processes for the classical denoisers; their images/s is wall-clock over all.")
    parser.add_argument("--output", default="runs/quality", help="Where trained runs go.")
    args = parser.parse_args()
    chosen = classical.resolve(args.baselines)
    # TensorFlow is imported here, not at the top: the classical denoisers' worker processes
    # import this file again and have no use for it
    from daekit.robustness import MODEL, evaluate_matrix

    models, trained = [(path, daekit.load_model(path)) for path in args.model], {}
    for preset in args.preset:
        overrides = dict(item.split("=", 1) for item in args.set)
        started = time.perf_counter()
        run = daekit.train(daekit.TrainConfig.resolve(preset=preset, output=args.output, **overrides), verbose=2)
        trained[str(run.run_dir)] = time.perf_counter() - started
        models.append((str(run.run_dir), run.model))
    if not models:
        parser.error("give --model or --preset")

    scored = {}
    test = daekit.load_data("fashion-mnist").test
    test = test[: args.limit] if args.limit else test
    print(f"{os.cpu_count()} CPUs; {len(test)} Fashion-MNIST test images; seed 1234; "
          f"classical denoisers in {args.workers} process{'es' if args.workers > 1 else ''}")
    print(f"{'method':40} {'PSNR':>7} {'SSIM':>7} {'images/s':>10} {'train s':>8}")
    for index, (name, model) in enumerate(models):
        label = str(model.manifest.get("corruption", {}).get("name", "corruption"))
        rows, _ = evaluate_matrix(model, test, [(label, model.corruption)], chosen if index == 0 else [],
                                  workers=args.workers)
        for row in rows:
            if index and row["method"] != MODEL:
                continue  # the noisy input and the baselines are the same for every model
            method = name if row["method"] == MODEL else row["method"]
            scored[method] = row
            rate = f"{row['images_per_second']:,.0f}" if row["images_per_second"] else ""
            seconds = f"{trained[name]:.0f}" if name in trained and row["method"] == MODEL else ""
            print(f"{method:40} {row['psnr']:7.2f} {row['ssim']:7.3f} {rate:>10} {seconds:>8}", flush=True)
    check_targets(scored, trained)


def check_targets(scored: dict, trained: dict) -> None:
    from daekit.robustness import MODEL, NOISY

    classical = {method: row for method, row in scored.items() if row["method"] not in (MODEL, NOISY)}
    if not classical:
        return
    best = max(classical, key=lambda method: classical[method]["psnr"])
    print(f"\ntargets: train <= 1800 s, >= 1,000 images/s; margin over {best} ({classical[best]['psnr']:.2f} dB)")
    for method, row in scored.items():
        if row["method"] != MODEL:
            continue
        seconds = trained.get(method)
        time_ok = "yes" if seconds is not None and seconds <= 1800 else ("?" if seconds is None else "NO")
        rate_ok = "yes" if row["images_per_second"] >= 1000 else "NO"
        print(f"{method:40} {row['psnr'] - classical[best]['psnr']:+6.2f} dB  train within 30 min: {time_ok:3}  "
              f">= 1,000 images/s: {rate_ok}")


if __name__ == "__main__":
    main()
