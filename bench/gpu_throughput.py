"""One measurement of bench/gpu.sh: training images per second of a daekit run.

Usage:
    python bench/gpu_throughput.py --preset unet --batch 256 --precision mixed_float16 --jit true

Trains 2 epochs of 25,600 Fashion-MNIST images with ``daekit.train`` and prints the best
epoch's training images per second (the clock of bench/train_throughput.py: from the end of
each epoch's first step to the end of its last) as the last line.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import daekit  # noqa: E402
from train_throughput import StepClock, limit_for  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="unet")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--precision", default="float32")
    parser.add_argument("--jit", default="false")
    parser.add_argument("--images", type=int, default=25_600)
    args = parser.parse_args()
    clock = StepClock(args.batch)
    with tempfile.TemporaryDirectory() as output:
        config = daekit.TrainConfig.resolve(
            preset=args.preset, batch_size=args.batch, precision=args.precision, jit_compile=args.jit, epochs=2,
            limit=limit_for(args.images), test_limit=256, output=output, name="gpu", checkpoint_every=0,
        )
        daekit.train(config, verbose=0, callbacks=[clock])
    print(f"{max(clock.rates):.0f}")


if __name__ == "__main__":
    main()
