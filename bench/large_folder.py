"""Training on a folder whose decoded pixels are several times the memory the run may use.

It writes a folder of large RGB TIFF mosaics, cut from the photographs scikit-image installs
with itself (its ``skimage/data`` folder; nothing is downloaded), then trains on patches of
them inside a Linux memory cgroup (v1) whose limit is a fraction of that size, and reports
whether the run completed, how often the cgroup reached its limit (the kernel then drops
pages of the memory-mapped cache), the process's peak resident memory and the step rate.
Needs root, for the cgroup.

    sudo python bench/large_folder.py --work /var/tmp/large   # 8.6 GB decoded, 2 GiB limit: about 10 minutes here

It prints the figures and writes bench/results/large_folder.json; the work directory (about
twice the decoded size) is removed at the end unless --keep is given.
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

DATA = Path(__import__("skimage").__file__).parent / "data"
SOURCES = ["astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "motorcycle_left.png", "motorcycle_right.png",
           "retina.jpg", "hubble_deep_field.jpg", "immunohistochemistry.png"]
CGROUP = Path("/sys/fs/cgroup/memory")


def mosaic(height: int, width: int, rng: np.random.Generator, photos: list[np.ndarray], crop: int = 256) -> np.ndarray:
    """An RGB image of random crops of ``photos``, mirrored at random."""
    image = np.empty((height, width, 3), np.uint8)
    for top in range(0, height, crop):
        for left in range(0, width, crop):
            photo = photos[rng.integers(len(photos))]
            y, x = rng.integers(0, photo.shape[0] - crop + 1), rng.integers(0, photo.shape[1] - crop + 1)
            piece = photo[y:y + crop, x:x + crop]
            piece = piece[:, ::-1] if rng.random() < 0.5 else piece
            h, w = min(crop, height - top), min(crop, width - left)
            image[top:top + h, left:left + w] = piece[:h, :w]
    return image


def write_folder(folder: Path, count: int, height: int, width: int) -> int:
    import tifffile

    import daekit

    folder.mkdir(parents=True, exist_ok=True)
    photos = []
    for name in SOURCES:
        if (DATA / name).exists():
            pixels = np.asarray(daekit.read_image(DATA / name))
            photos.append(pixels if pixels.shape[-1] == 3 else np.repeat(pixels[..., :1], 3, axis=-1))
    rng = np.random.default_rng(0)
    for index in range(count):
        path = folder / f"mosaic_{index:03d}.tif"
        if not path.exists():
            tifffile.imwrite(path, mosaic(height, width, rng, photos))
    return count * height * width * 3


def in_cgroup(name: str, limit: int):
    group = CGROUP / name
    group.mkdir(exist_ok=True)
    (group / "memory.limit_in_bytes").write_text(str(limit))

    def enter():
        (group / "cgroup.procs").write_text(str(os.getpid()))
    return group, enter


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--images", type=int, default=24)
    parser.add_argument("--side", type=int, nargs=2, default=(10000, 12000), metavar=("HEIGHT", "WIDTH"))
    parser.add_argument("--limit-gib", type=float, default=2.0)
    parser.add_argument("--patches", type=int, default=3200)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "large_folder.json")
    args = parser.parse_args()
    if not CGROUP.is_dir() or os.geteuid() != 0:
        sys.exit("large_folder.py needs root and the cgroup v1 memory controller at /sys/fs/cgroup/memory")
    work = args.work
    started = time.perf_counter()
    decoded = write_folder(work / "big", args.images, *args.side)
    small = work / "small"
    small.mkdir(exist_ok=True)
    for name in ("camera.png", "coins.png"):
        if not (small / name).exists():
            (small / name).symlink_to(DATA / name)
    print(f"wrote {args.images} mosaics of {args.side[1]}x{args.side[0]} RGB ({decoded / 1e9:.1f} GB decoded) in "
          f"{time.perf_counter() - started:.0f} s", flush=True)
    limit = int(args.limit_gib * 2**30)
    runs = {}
    for label in ("first", "second"):  # the first decodes the folder into the cache, the second finds it there
        # Pages cached by an earlier run stay charged to it, not to this run's group: start empty.
        os.sync()
        Path("/proc/sys/vm/drop_caches").write_text("1")
        group, enter = in_cgroup(f"daekit-large-folder-{os.getpid()}-{label}", limit)
        command = [sys.executable, "-m", "daekit", "train", "--data", str(work / "big"), "--val-data", str(small),
                   "--test-data", str(small), "--channels", "3", "--patch", "64", "--patches-per-epoch",
                   str(args.patches), "--batch-size", "32", "--epochs", "1", "--encoder", "unet:filters=8,16,convs=1",
                   "--decoder", "unet:filters=8,convs=1", "-o", str(work / "runs"), "--name", label]
        env = {**os.environ, "DAEKIT_CACHE": str(work / "cache")}
        started = time.perf_counter()
        log = work / f"{label}.log"
        with log.open("w") as handle:
            process = subprocess.Popen(command, env=env, preexec_fn=enter, stdout=handle, stderr=subprocess.STDOUT)
            _, wait_status, usage = os.wait4(process.pid, 0)  # this run's own peak
        process.returncode = returncode = os.waitstatus_to_exitcode(wait_status)
        seconds = time.perf_counter() - started
        run = {"returncode": returncode, "seconds": seconds,
               "limit_reached_times": int((group / "memory.failcnt").read_text()),
               "group_peak_bytes": int((group / "memory.max_usage_in_bytes").read_text()),
               "process_peak_rss_bytes": usage.ru_maxrss * 1024}
        group.rmdir()
        if returncode:
            run["log_tail"] = log.read_text()[-2000:]
        else:
            run["status"] = json.loads((work / "runs" / label / "status.json").read_text())["status"]
        runs[label] = run
        print(label, json.dumps(run), flush=True)
    report = {"command": " ".join(command), "images": args.images, "size": list(args.side), "decoded_bytes": decoded,
              "limit_bytes": limit, "decoded_over_limit": decoded / limit, "steps": -(-args.patches // 32),
              "runs": runs}
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
