"""How strongly each classical denoiser should be set: a sweep of the noise level it is given.

Usage:
    python bench/baseline_strength.py                          # 200 test images, every method
    python bench/baseline_strength.py --methods bm3d --limit 500 --workers 2

Each method sets its strength from the noise level that ``estimate_sigma`` finds in each image
(times a method's own factor: 0.6 for total variation's weight, 0.8 for non-local means' h).
This multiplies that level by each value of ``--strengths`` and reports the mean PSNR on the
first test images under the models' evaluation noise (Gaussian, stddev 0.1, clipped; seed
1234), so the comparison rows in docs/evaluation.md use each method at its best.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from daekit import baselines as classical


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--methods", default="all", help="all, or names: tv,wavelet,nlm,bm3d.")
    parser.add_argument("--strengths", default="0.6,0.8,1.0,1.25,1.5", help="Multipliers of the estimated noise level.")
    parser.add_argument("--limit", type=int, default=200, help="Test images to score.")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    methods = classical.resolve(args.methods)
    strengths = [float(value) for value in args.strengths.split(",")]
    # TensorFlow here, not at the top: the worker processes import this file again
    import daekit
    from daekit.evaluate import corrupt_images, to_float
    from daekit.metrics import per_image_scores
    from daekit.model import build_component

    clean = to_float(daekit.load_data("fashion-mnist").test[: args.limit])
    noisy = corrupt_images(build_component("corruption", "gaussian"), clean, seed=1234)
    print(f"{len(clean)} Fashion-MNIST test images, gaussian stddev 0.1, seed 1234; noisy "
          f"{np.mean(per_image_scores(clean, noisy)['psnr']):.2f} dB")
    print(f"{'method':16} " + " ".join(f"{'x' + format(value, 'g'):>7}" for value in strengths) + f" {'s':>6}")
    for name in methods:
        started = time.perf_counter()
        scores = [np.mean(per_image_scores(clean, classical.denoise(name, noisy, args.workers, value))["psnr"])
                  for value in strengths]
        print(f"{classical.BASELINES[name][0]:16} " + " ".join(f"{score:7.2f}" for score in scores)
              + f" {time.perf_counter() - started:6.0f}", flush=True)


if __name__ == "__main__":
    main()
