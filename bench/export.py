"""Each export format of a trained model against the Keras model: agreement and speed.

It exports MODEL as a SavedModel, an ONNX file and a LiteRT flatbuffer (``daekit export``,
which checks each against the model on its way out), then denoises the camera photograph
(512 x 512, Gaussian sigma 25 of 255) with each format's own runtime and with Keras, in
alternating rounds, and reports the largest difference from Keras and the megapixels per
second of each.

    python bench/export.py MODEL.keras --work /tmp/export     # about 3 minutes here

MODEL is a fully convolutional model, such as the one bench/photos.py trains (the `photo`
preset). It prints a table and writes bench/results/export.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

CAMERA = Path(__import__("skimage").__file__).parent / "data" / "camera.png"
FILES = {"saved_model": "photo", "onnx": "photo.onnx", "litert": "photo.tflite"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "export.json")
    args = parser.parse_args()

    import daekit
    from daekit.deploy import runtime
    from daekit.tiling import predict_tiled

    model = daekit.load_model(args.model)
    args.work.mkdir(parents=True, exist_ok=True)
    exported, seconds_to_export = {}, {}
    for format, name in FILES.items():
        started = time.perf_counter()
        exported[format] = daekit.export(args.model, args.work / name, format)
        seconds_to_export[format] = time.perf_counter() - started
    clean = np.asarray(daekit.read_image(CAMERA), np.float32) / 255.0
    noisy = np.clip(clean + np.random.default_rng(0).normal(0, 25 / 255, clean.shape), 0, 1).astype(np.float32)
    runners = {"keras": lambda: np.clip(predict_tiled(model, noisy, tile=4096), 0, 1)[None]}
    for format, path in exported.items():
        runners[format] = lambda run=runtime(path, format): run(noisy[None])
    outputs = {name: run() for name, run in runners.items()}  # the first call of each builds and warms it
    times = {name: [] for name in runners}
    for _ in range(args.rounds):
        for name, run in runners.items():  # alternating, so that the machine's drift touches all alike
            started = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - started)
    megapixels = noisy.shape[0] * noisy.shape[1] / 1e6
    rows = []
    for name in runners:
        best = min(times[name])
        rows.append({"format": name, "max_difference_from_keras": float(np.abs(outputs[name] - outputs["keras"]).max()),
                     "psnr": float(10 * np.log10(1 / np.mean((outputs[name][0] - clean) ** 2))),
                     "seconds_best": best, "megapixels_per_second": megapixels / best,
                     "seconds_to_export": seconds_to_export.get(name),
                     "bytes": sum(p.stat().st_size for p in Path(exported[name]).rglob("*") if p.is_file())
                     if name == "saved_model" else (Path(exported[name]).stat().st_size if name in exported else None)})
        row = rows[-1]
        print(f"{name:>12}: {row['megapixels_per_second']:.2f} MP/s, PSNR {row['psnr']:.2f} dB, "
              f"max difference from Keras {row['max_difference_from_keras']:.1e}", flush=True)
    args.out.write_text(json.dumps({"model": str(args.model), "image": "camera 512x512, sigma 25",
                                    "rounds": args.rounds, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
