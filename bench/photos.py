"""The `photo` preset on natural photographs: quality against the classical denoisers at
full size, and what restoring costs.

The corpus is the photographs scikit-image installs with itself (its ``skimage/data``
folder; nothing is downloaded). Four standard test images (camera, astronaut, coins,
chelsea) are held out whole; the model trains on patches of the others, in grey. Then, on
the held-out photographs at their own size:

- PSNR and SSIM at Gaussian sigma 15, 25 and 50 (of 255) for the noisy input, total
  variation, non-local means, BM3D (when ``pip install daekit[bm3d]`` is done) and the model;
- the model's denoising rate in megapixels per second, tiled against whole-image agreement,
  and the peak memory of restoring a 12-megapixel image in tiles (a fresh process);
- the input pipeline's rate against the training step's.

    python bench/photos.py --work /tmp/photos                  # about 35 minutes here
    python bench/photos.py --work /tmp/photos --epochs 1 --patches-per-epoch 256   # a smoke run

It prints a table and writes bench/results/photos.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

CORPUS = Path(__import__("skimage").__file__).parent / "data"
TEST = ["camera.png", "astronaut.png", "coins.png", "chelsea.png"]
TRAIN = ["brick.png", "cell.png", "coffee.png", "grass.png", "gravel.png", "hubble_deep_field.jpg", "ihc.png",
         "moon.png", "motorcycle_left.png", "motorcycle_right.png", "page.png", "retina.jpg", "rocket.jpg",
         "text.png", "clock_motion.png"]
SIGMAS = (15, 25, 50)


def corpus(work: Path) -> tuple[Path, Path]:
    """The training and test folders, as links to scikit-image's own files."""
    folders = {"train": TRAIN, "test": TEST}
    for split, names in folders.items():
        folder = work / split
        folder.mkdir(parents=True, exist_ok=True)
        for name in names:
            link = folder / name
            if not link.exists():
                link.symlink_to(CORPUS / name)
    return work / "train", work / "test"


def pipeline_rate(plan, config, steps: int = 200) -> float:
    """Batches per second the patch pipeline delivers on its own."""
    from daekit.data import pipeline

    dataset = pipeline.patch_dataset(plan, config.batch_size, config.seed, 0, 1000, 0, config.prefetch, config.augment)
    iterator = iter(dataset)
    next(iterator)
    started = time.perf_counter()
    for _ in range(steps):
        next(iterator)
    return steps / (time.perf_counter() - started)


PEAK_SCRIPT = """
import resource, sys, time
import numpy as np
import daekit
model = daekit.load_model(sys.argv[1])
image = np.asarray(daekit.read_image(sys.argv[2]))
started = time.perf_counter()
restored = daekit.denoise(model, image, tile=1024)  # bench/tiles.py measures the budgeted default
elapsed = time.perf_counter() - started
print(elapsed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def peak_memory(model_path: Path, work: Path) -> dict:
    """Restore a 12-megapixel grey photograph (camera, enlarged to 4000x3000) in a fresh process."""
    import tensorflow as tf

    import daekit

    big = work / "camera_12mp.png"
    if not big.exists():
        camera = daekit.read_image(CORPUS / "camera.png").astype(np.float32)
        image = tf.image.resize(camera, (3000, 4000)).numpy()
        daekit.write_image(big, np.clip(np.rint(image), 0, 255).astype(np.uint8))
    baseline = subprocess.run([sys.executable, "-c", "import resource, daekit, tensorflow, keras;"
                               "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"],
                              capture_output=True, text=True, check=True)
    run = subprocess.run([sys.executable, "-c", PEAK_SCRIPT, str(model_path), str(big)], capture_output=True,
                         text=True, check=True)
    seconds, peak_kib = run.stdout.split()[-2:]
    return {"megapixels": 12.0, "seconds": float(seconds), "megapixels_per_second": 12.0 / float(seconds),
            "peak_rss_gib": int(peak_kib) / 2**20, "import_rss_gib": int(baseline.stdout.split()[-1]) / 2**20}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, required=True, help="Directory for the corpus links and the run.")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--patches-per-epoch", type=int, default=4800)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="TrainConfig override.")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "photos.json")
    args = parser.parse_args()

    import daekit
    from daekit import baselines as classical
    from daekit.data import pipeline
    from daekit.data.folder import load_folder
    from daekit.evaluate import corrupt_image
    from daekit.model import build_component
    from daekit.robustness import evaluate_matrix
    from daekit.tiling import predict_tiled

    train_dir, test_dir = corpus(args.work)
    overrides = dict(item.split("=", 1) for item in args.set)
    config = daekit.TrainConfig.resolve(preset="photo", data=str(train_dir), test_data=str(test_dir), epochs=args.epochs,
                                        patches_per_epoch=args.patches_per_epoch, output=str(args.work / "runs"),
                                        name="photo", **overrides)
    shutil.rmtree(args.work / "runs" / "photo", ignore_errors=True)
    plan = pipeline.prepare(config)
    batches_per_second = pipeline_rate(plan, config)
    started = time.perf_counter()
    run = daekit.train(config, verbose=2)
    train_seconds = time.perf_counter() - started
    steps = plan.steps_per_epoch * config.epochs

    test = load_folder(test_dir, channels=1)
    noises = [(f"gaussian sigma {s}", build_component("corruption", f"gaussian:stddev={s / 255:.6f}")) for s in SIGMAS]
    methods = [name for name in ("tv", "nlm", "bm3d") if name in classical.available()]
    rows, _ = evaluate_matrix(run.model, test, noises, methods, seed=1234)

    noisy = corrupt_image(noises[1][1], test.unit(0), 1234)
    whole = predict_tiled(run.model, noisy, tile=1024)
    tiled = predict_tiled(run.model, noisy, tile=256)  # the default overlap, 3x3 tiles on the 512x512 camera
    report = {
        "command": " ".join(["python", "bench/photos.py", *sys.argv[1:]]),
        "train": TRAIN, "test": TEST, "config": config.to_dict(),
        "training": {"seconds": train_seconds, "steps": steps, "seconds_per_step": train_seconds / steps,
                     "pipeline_batches_per_second": batches_per_second,
                     "pipeline_over_training": batches_per_second * train_seconds / steps},
        "rows": rows,
        "tiled_vs_whole_max_difference": float(np.abs(whole - tiled).max()),
        "restore_12_megapixels": peak_memory(run.run_dir / "model.keras", args.work),
        "cpu_count": os.cpu_count(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"trained {steps} steps in {train_seconds / 60:.1f} min; pipeline {report['training']['pipeline_over_training']:.0f}x "
          "faster than training")
    print(f"{'corruption':20} {'method':18} {'PSNR':>7} {'SSIM':>7}")
    for row in rows:
        print(f"{row['corruption']:20} {row['method']:18} {row['psnr']:7.2f} {row['ssim']:7.4f}")
    memory = report["restore_12_megapixels"]
    print(f"12 MP restored in {memory['seconds']:.1f} s ({memory['megapixels_per_second']:.2f} MP/s), peak RSS "
          f"{memory['peak_rss_gib']:.2f} GiB (imports alone {memory['import_rss_gib']:.2f} GiB); tiled vs whole max "
          f"difference {report['tiled_vs_whole_max_difference']:.2e}")


if __name__ == "__main__":
    main()
