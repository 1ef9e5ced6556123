"""Geometric self-ensembles of a trained model: does averaging over flips help?

Usage:
    python bench/self_ensemble.py RUN/model.keras [--images 10000] [--data-dir DIR]

Image-restoration networks often score higher when the outputs for flipped or transposed
copies of the input are flipped back and averaged (EDSR's "self-ensemble"). The script
denoises the Fashion-MNIST test images, under the model's training corruption and
daekit's evaluation noise (the same noisy images as ``daekit evaluate``), once per
transform, and scores each transform alone and the averages that include the identity.
Each row's images/s is the rate of the model calls it needs (one call per transform).
"""

from __future__ import annotations

import argparse

import numpy as np

# Each transform is its own inverse.
TRANSFORMS = {
    "identity": lambda x: x,
    "horizontal flip": lambda x: x[:, :, ::-1],
    "vertical flip": lambda x: x[:, ::-1],
    "transpose": lambda x: np.transpose(x, (0, 2, 1, 3)),
}
ENSEMBLES = {
    "identity + horizontal flip": ["identity", "horizontal flip"],
    "identity + both flips": ["identity", "horizontal flip", "vertical flip"],
    "all four": list(TRANSFORMS),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="A daekit .keras model.")
    parser.add_argument("--images", type=int, default=10000, help="Test images to score (the first N).")
    parser.add_argument("--data-dir", help="Fashion-MNIST IDX folder (default: the Debian package's).")
    parser.add_argument("--batch-size", type=int, default=256)
    args = parser.parse_args()

    import daekit  # after parsing, so that --help does not start TensorFlow
    from daekit.evaluate import EVALUATION_SEED, corrupt_images, timed_predict, to_float
    from daekit.metrics import per_image_scores

    model = daekit.load_model(args.model)
    clean = to_float(daekit.load_data("fashion-mnist", data_dir=args.data_dir).test[: args.images])
    noisy = corrupt_images(model.corruption, clean, EVALUATION_SEED)
    outputs, seconds = {}, {}
    for name, transform in TRANSFORMS.items():
        # Every transform keeps the images' shape: the first call's tracing serves them all.
        denoised, seconds[name] = timed_predict(model, np.ascontiguousarray(transform(noisy)), args.batch_size,
                                                warm_up=not outputs)
        outputs[name] = transform(denoised)
    rows = {"noisy input": (noisy, None)}
    rows.update({f"{name} alone": (outputs[name], seconds[name]) for name in TRANSFORMS})
    rows.update({name: (np.mean([outputs[part] for part in parts], axis=0), sum(seconds[part] for part in parts))
                 for name, parts in ENSEMBLES.items()})
    print(f"{args.model}: {len(clean)} Fashion-MNIST test images, evaluation seed {EVALUATION_SEED}")
    print(f"{'row':28} {'PSNR':>7} {'SSIM':>6} {'images/s':>9}")
    for name, (images, elapsed) in rows.items():
        scores = per_image_scores(clean, images)
        rate = f"{len(clean) / elapsed:9.0f}" if elapsed else f"{'':9}"
        print(f"{name:28} {np.mean(scores['psnr']):7.3f} {np.mean(scores['ssim']):6.3f} {rate}", flush=True)


if __name__ == "__main__":
    main()
