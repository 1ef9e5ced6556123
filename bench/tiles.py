"""The tile size chosen from a memory budget, and what restoring a 12-megapixel photograph
then takes: time and peak memory, in a fresh process per budget.

daekit picks the largest tile whose pass fits the budget, by the bytes of every tensor one
pass computes (``daekit.tiling.pass_bytes_per_pixel``, an upper bound on what a pass holds).
This measures how far the process's real peak stays under that.

    python bench/tiles.py MODEL.keras --work /tmp/tiles       # about 6 minutes here

MODEL is a fully convolutional model, such as the one ``bench/photos.py`` trains (the
``photo`` preset). It prints a table and writes bench/results/tiles.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

CAMERA = Path(__import__("skimage").__file__).parent / "data" / "camera.png"

SCRIPT = """
import json, resource, sys, time
import numpy as np
import daekit
from daekit.tiling import pass_bytes_per_pixel, tile_for
model = daekit.load_model(sys.argv[1])
image = np.asarray(daekit.read_image(sys.argv[2]))
memory = float(sys.argv[3]) * 2**30 if sys.argv[3] != "default" else None
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.perf_counter()
restored = daekit.denoise(model, image, memory=memory)
seconds = time.perf_counter() - started
print(json.dumps({"tile": tile_for(model, memory), "bytes_per_pixel": pass_bytes_per_pixel(model),
                  "seconds": seconds, "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
                  "before_gib": before / 2**20}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--work", type=Path, required=True, help="Directory for the 12-megapixel image.")
    parser.add_argument("--budgets", default="0.5,1,2,4,default", help="GiB per pass, comma-separated.")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "tiles.json")
    args = parser.parse_args()
    import tensorflow as tf

    import daekit

    args.work.mkdir(parents=True, exist_ok=True)
    big = args.work / "camera_12mp.png"
    if not big.exists():
        camera = daekit.read_image(CAMERA).astype(np.float32)
        daekit.write_image(big, np.clip(np.rint(tf.image.resize(camera, (3000, 4000)).numpy()), 0, 255).astype(np.uint8))
    rows = []
    for budget in args.budgets.split(","):
        run = subprocess.run([sys.executable, "-c", SCRIPT, str(args.model), str(big), budget], capture_output=True,
                             text=True, check=True)
        row = {"budget_gib": budget, **json.loads(run.stdout.strip().splitlines()[-1])}
        row["pass_estimate_gib"] = row["tile"] ** 2 * row["bytes_per_pixel"] / 2**30
        row["megapixels_per_second"] = 12.0 / row["seconds"]
        rows.append(row)
        print(f"budget {budget:>7} GiB: tile {row['tile']:>5}, one tile's estimate {row['pass_estimate_gib']:.2f} GiB, "
              f"peak RSS {row['peak_rss_gib']:.2f} GiB (model loaded {row['before_gib']:.2f}), "
              f"{row['megapixels_per_second']:.2f} MP/s", flush=True)
    args.out.write_text(json.dumps({"model": str(args.model), "image": "camera enlarged to 4000x3000",
                                    "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
