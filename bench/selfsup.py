"""How far training without clean images falls behind training with them, on the same images.

For one data set and one noise, three runs of the same network for the same number of steps:

- supervised: clean images, fresh noise drawn in every step, the loss against the clean image;
- Noise2Noise: two fixed noisy copies of each image (``--target noisy --pairs``), the loss
  against the other copy;
- Noise2Void: one fixed noisy copy (``--target noisy``, ``blind_spot`` corruption and loss).

The noisy copies are written as 16-bit PNG files and trained on through ``daekit.train``, as a
user with noisy files would. All three are then scored on the same held-out noisy images
(fixed noise, seed 1234) against their clean originals, beside the classical denoisers at the
noise level they estimate in each image (total variation, wavelets, non-local means, BM3D
when installed).

Data sets: ``fashion-mnist`` (Gaussian 0.1, a seeded subset of the training images, the first
test images) and ``photos`` (the photographs of bench/photos.py at sigma 25 of 255, in grey,
trained on 64x64 patches; the four standard test photographs scored whole).

    python bench/selfsup.py --dataset fashion-mnist --work /tmp/selfsup
    python bench/selfsup.py --dataset photos --work /tmp/selfsup

Each writes bench/results/selfsup-<dataset>.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from photos import TEST, TRAIN, corpus  # noqa: E402

SEED = 1234

NETWORKS = {
    # The default recipe's network: convolutions with 'same' padding to a 7x7 code map.
    "fashion-mnist": dict(encoder="conv:padding=same", decoder="conv:tail_filters=32,padding=same",
                          learning_rate=2e-3, schedule="cosine", batch_size=64, channels=1),
    "photos": dict(encoder="unet:filters=64,128,convs=3,activation=silu,space_to_depth=2,normalization=none",
                   decoder="unet:filters=64,convs=3,activation=silu,space_to_depth=2,normalization=none",
                   learning_rate=1e-3, schedule="cosine", batch_size=16, patch=64, augment="dihedral", channels=1),
}
SIGMA = {"fashion-mnist": 0.1, "photos": 25 / 255}


def noisy_copy(clean: np.ndarray, sigma: float, rng) -> np.ndarray:
    """``clean`` (float in [0, 1]) under Gaussian noise, clipped, as 16-bit pixels."""
    noisy = np.clip(clean + sigma * rng.standard_normal(clean.shape), 0.0, 1.0)
    return np.rint(noisy * 65535).astype(np.uint16)


def write_folders(dataset: str, work: Path, train_count: int, test_count: int):
    """clean/, noisy/ and copies/ folders of the same file names, and the clean and noisy test images."""
    from daekit.data import load_data
    from daekit.data.files import write_image
    from daekit.data.folder import load_folder

    sigma = SIGMA[dataset]
    rng = np.random.default_rng(SEED)
    if dataset == "fashion-mnist":
        data = load_data("fashion-mnist")
        chosen = np.random.default_rng(0).permutation(len(data.train))[:train_count]
        clean_train = [data.train[i].astype(np.float32) / 255 for i in chosen]
        clean_test = data.test[:test_count].astype(np.float32) / 255
        names = [f"{i:05d}.png" for i in range(len(clean_train))]
    else:
        train_dir, test_dir = corpus(work / "corpus")
        images = load_folder(train_dir, channels=1)
        clean_train = [images.unit(i) for i in range(len(images))]
        names = [str(Path(name).with_suffix(".png")) for name in images.names]
        test = load_folder(test_dir, channels=1)
        clean_test = [test.unit(i) for i in range(len(test))]
    for folder in ("clean", "noisy", "copies"):
        shutil.rmtree(work / folder, ignore_errors=True)
        (work / folder).mkdir(parents=True)
    for name, clean in zip(names, clean_train):
        write_image(work / "clean" / name, np.rint(clean * 65535).astype(np.uint16))
        write_image(work / "noisy" / name, noisy_copy(clean, sigma, rng))
        write_image(work / "copies" / name, noisy_copy(clean, sigma, rng))
    test_rng = np.random.default_rng([SEED, 1])
    noisy_test = [noisy_copy(clean, sigma, test_rng).astype(np.float32) / 65535 for clean in clean_test]
    return list(clean_test), noisy_test


def score(denoised, clean_test) -> dict:
    from daekit.metrics import per_image_scores

    psnrs, ssims = [], []
    for output, clean in zip(denoised, clean_test):
        scores = per_image_scores(clean[None], np.asarray(output, np.float32)[None])
        psnrs.append(float(scores["psnr"][0]))
        ssims.append(float(scores["ssim"][0]))
    return {"psnr": float(np.mean(psnrs)), "ssim": float(np.mean(ssims))}


def model_outputs(model, noisy_test):
    from daekit.tiling import predict_tiled

    if all(image.shape == noisy_test[0].shape for image in noisy_test) and noisy_test[0].shape[0] <= 64:
        return list(model.predict(np.stack(noisy_test), batch_size=256, verbose=0))
    return [predict_tiled(model, image) for image in noisy_test]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", choices=sorted(NETWORKS), required=True)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--epochs", type=int, default=None, help="Default: 6 (fashion-mnist), 4 (photos).")
    parser.add_argument("--per-epoch", type=int, default=None,
                        help="Patches per epoch for photos (default 3000); training images for fashion-mnist (default 12000).")
    parser.add_argument("--test", type=int, default=300, help="Fashion-MNIST test images scored.")
    parser.add_argument("--methods", default="supervised,noise2noise,noise2void")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    photos = args.dataset == "photos"
    epochs = args.epochs or (4 if photos else 6)
    per_epoch = args.per_epoch or (3000 if photos else 12000)
    work = args.work / args.dataset

    import daekit
    from daekit import baselines as classical

    clean_test, noisy_test = write_folders(args.dataset, work, per_epoch, args.test)
    sigma = SIGMA[args.dataset]
    common = dict(**NETWORKS[args.dataset], epochs=epochs, seed=0, validation_split=0.05, output=str(work / "runs"),
                  test_limit=2)  # the runs' own test images are a few of the training folder: scored below instead
    if photos:
        common["patches_per_epoch"] = per_epoch
    runs = {
        "supervised": dict(data=str(work / "clean"), corruption=f"gaussian:stddev={sigma:.6f}", loss="mse"),
        "noise2noise": dict(data=str(work / "noisy"), pairs=str(work / "copies"), target="noisy", corruption="none",
                            loss="mse"),
        "noise2void": dict(data=str(work / "noisy"), target="noisy", corruption="blind_spot", loss="blind_spot"),
    }
    rows = [{"method": "noisy input", **score(noisy_test, clean_test)}]
    for name in [method for method in classical.available() if method in ("tv", "wavelet", "nlm", "bm3d")]:
        started = time.perf_counter()
        outputs = [classical.denoise(name, image[None])[0] for image in noisy_test]
        rows.append({"method": name, **score(outputs, clean_test), "seconds": time.perf_counter() - started})
    trained = {}
    for method in args.methods.split(","):
        config = daekit.TrainConfig.resolve(**common, **runs[method], name=method)
        shutil.rmtree(work / "runs" / method, ignore_errors=True)
        started = time.perf_counter()
        run = daekit.train(config, verbose=2)
        seconds = time.perf_counter() - started
        history = run.history
        trained[method] = {"seconds": seconds, "epochs_trained": len(history.get("loss", [])), "config": config.to_dict()}
        rows.append({"method": method, **score(model_outputs(run.model, noisy_test), clean_test),
                     "train_seconds": seconds})
        print(f"{method}: {rows[-1]['psnr']:.2f} dB in {seconds / 60:.1f} min", flush=True)
    report = {
        "command": " ".join(["python", "bench/selfsup.py", *sys.argv[1:]]),
        "dataset": args.dataset, "sigma": sigma, "epochs": epochs, "per_epoch": per_epoch,
        "test_images": len(noisy_test), "train": TRAIN if photos else f"{per_epoch} seeded Fashion-MNIST training images",
        "test": TEST if photos else f"the first {args.test} Fashion-MNIST test images",
        "runs": trained, "rows": rows, "cpu_count": os.cpu_count(),
    }
    out = args.out or Path(__file__).parent / "results" / f"selfsup-{args.dataset}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"{'method':14} {'PSNR':>7} {'SSIM':>7} {'train min':>10}")
    for row in rows:
        minutes = f"{row['train_seconds'] / 60:10.1f}" if "train_seconds" in row else ""
        print(f"{row['method']:14} {row['psnr']:7.2f} {row['ssim']:7.4f} {minutes}")


if __name__ == "__main__":
    main()
