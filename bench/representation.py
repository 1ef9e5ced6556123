"""Does denoising make better codes? The same network as a plain autoencoder and as
denoising autoencoders, judged by probes on Fashion-MNIST's labels.

A small `conv` network (16 and 32 filters) with a dense code of 64 is trained, with the same steps and seed, as a
plain autoencoder (`--corruption none`) and as DAEs: Gaussian noise at three strengths, a
masking corruption and a chain of the two, three seeds each. Each model's codes of the
training images train a linear probe (a softmax layer) and a k-NN probe, which are scored on
the test images' codes, beside the same probes on the raw pixels and on a 64-wide PCA of
them.

    python bench/representation.py --work /tmp/representation          # about 40 minutes here
    python bench/representation.py --work /tmp/r --seeds 1 --limit 2000 --epochs 1   # a smoke run

It prints a table and writes bench/results/representation.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

NETWORK = ["--encoder", "conv:filters=16,32,padding=same,code=64",
           "--decoder", "conv:filters=32,16,padding=same,tail_filters=16,channels=16"]
CORRUPTIONS = {
    "plain autoencoder": "none",
    "Gaussian 0.1": "gaussian:stddev=0.1",
    "Gaussian 0.2": "gaussian:stddev=0.2",
    "Gaussian 0.4": "gaussian:stddev=0.4",
    "pixel dropout 0.25": "pixel_dropout:rate=0.25",
    "chain: Gaussian 0.2, pixel dropout 0.25": "chain[gaussian:stddev=0.2 | pixel_dropout:rate=0.25]",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--limit", type=int, default=20000, help="Training images of each run.")
    parser.add_argument("--probe-train", type=int, default=10000, help="Training images the probes learn from.")
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "representation.json")
    args = parser.parse_args()

    import daekit
    from daekit.representation import probe_report

    data = daekit.load_data("fashion-mnist")
    runs = []
    reference = None
    for seed in range(args.seeds):
        for label, corruption in CORRUPTIONS.items():
            name = f"{label.split(':')[0].replace(' ', '-').replace('.', '')}-{seed}"
            started = time.perf_counter()
            command = [sys.executable, "-m", "daekit", "train", "--corruption", corruption, *NETWORK, "--limit",
                       str(args.limit), "--epochs", str(args.epochs), "--seed", str(seed), "--test-limit", "1000",
                       "-o", str(args.work), "--name", name]
            subprocess.run(command, check=True, capture_output=True, text=True)
            seconds = time.perf_counter() - started
            model = daekit.load_model(args.work / name / "model.keras")
            report = probe_report(model, data, train_limit=args.probe_train, k=args.k, seed=seed,
                                  pixels=reference is None)
            rows = {row["features"].split(" (")[0]: row for row in report["rows"]}
            reference = reference or {key: rows[key] for key in ("pixels", "PCA of the pixels")}
            evaluation = json.loads((args.work / name / "evaluation.json").read_text())
            runs.append({"corruption": label, "spec": corruption, "seed": seed, "train_seconds": seconds,
                         "linear_probe": rows["codes"]["linear_probe"], "knn": rows["codes"]["knn"],
                         "denoised_psnr": evaluation["denoised"]["psnr"]})
            print(f"{label:>42} seed {seed}: linear {runs[-1]['linear_probe']:.4f}, {args.k}-NN {runs[-1]['knn']:.4f} "
                  f"({seconds:.0f} s)", flush=True)
    summary = []
    for label in CORRUPTIONS:
        chosen = [run for run in runs if run["corruption"] == label]
        summary.append({"features": f"codes, {label}", **{
            f"{probe}_{stat}": float(fn([run[probe] for run in chosen]))
            for probe in ("linear_probe", "knn") for stat, fn in (("mean", np.mean), ("std", np.std))}})
    for key, row in reference.items():
        summary.append({"features": key, "linear_probe_mean": row["linear_probe"], "knn_mean": row["knn"]})
    print(f"\n{'features':>50} | linear probe | {args.k}-NN")
    for row in summary:
        spread = (f" ± {row['linear_probe_std']:.4f}", f" ± {row['knn_std']:.4f}") if "knn_std" in row else ("", "")
        print(f"{row['features']:>50} | {row['linear_probe_mean']:.4f}{spread[0]} | {row['knn_mean']:.4f}{spread[1]}")
    args.out.write_text(json.dumps({"network": NETWORK, "epochs": args.epochs, "limit": args.limit,
                                    "probe_train": args.probe_train, "test": len(data.test), "k": args.k,
                                    "seeds": args.seeds, "runs": runs, "summary": summary}, indent=2) + "\n")


if __name__ == "__main__":
    main()
