"""Training throughput on the CPU: one device, or one replica per core under ``mirrored``.

Usage:
    python bench/cpu_replicas.py                          # the unet and default presets
    python bench/cpu_replicas.py --preset unet --images 4480 --repeats 3
    python bench/cpu_replicas.py --preset unet --way mirrored \
        --set w48:encoder=unet:filters=48,96,convs=3,activation=silu,space_to_depth=2 \
        --set w48:decoder=unet:filters=48,convs=3,activation=silu,space_to_depth=2

Each way trains the preset's recipe with ``daekit.train`` on the same Fashion-MNIST images,
in a fresh process (the CPU can be split into logical devices only before TensorFlow
starts):

- ``one device``: TensorFlow's default, every operation spread over all cores;
- ``mirrored, N replicas``: ``--strategy mirrored --cpu-devices N`` with N the number of
  cores, so each replica takes batch/N images of every step and runs its operations on one
  core, side by side with the others (daekit gives each operation cores/N threads when it
  splits the CPU for ``mirrored``);
- ``mirrored, shared threads``: the same split with ``TF_NUM_INTRAOP_THREADS`` set to the
  number of cores, as before daekit divided them: each replica's operations spread over all
  cores again.

``--set LABEL:KEY=VALUE`` adds a variant of each preset named LABEL (its settings changed as
``bench/recipes.py --set`` changes them; repeat it to change several), measured the same ways
beside the preset itself (``LABEL:adam=keras`` is not a setting but trains with Keras's own
``keras.optimizers.Adam`` where daekit uses its fused one); ``--way`` keeps only the ways
whose names start with the words given. Images per second count training steps only, from
the end of the epoch's first step to the end of its last. The ways run in turns,
``--repeats`` times, and each way's best is kept, to even out the noise of a shared machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

WAYS = {
    "one device": ({}, {}),
    "mirrored, N replicas": ({"strategy": "mirrored", "cpu_devices": "N"}, {}),
    "mirrored, shared threads": ({"strategy": "mirrored", "cpu_devices": "N"}, {"TF_NUM_INTRAOP_THREADS": "N"}),
}


def measure(preset: str, images: int, overrides: dict) -> dict:
    """One training epoch of ``preset`` on ``images`` training images; its steps' rate."""
    import keras

    import daekit

    class StepClock(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            now = time.perf_counter()
            self.first = getattr(self, "first", (batch, now))
            self.last = (batch, now)

    clock = StepClock()
    if overrides.pop("adam", "fused") == "keras":
        import daekit.optimizers

        daekit.optimizers.FusedAdam = keras.optimizers.Adam  # what make_optimizer builds for optimizer=adam
    with tempfile.TemporaryDirectory() as output:
        # limit keeps images / (1 - validation_split) training images before the split.
        config = daekit.TrainConfig.resolve(preset=preset, epochs=1, limit=int(images / 0.9), test_limit=100,
                                            output=output, name="bench", **overrides)
        run = daekit.train(config, verbose=0, callbacks=[clock])
        manifest = json.loads((run.run_dir / "manifest.json").read_text())
    steps = clock.last[0] - clock.first[0]
    return {"images_per_s": steps * config.batch_size / (clock.last[1] - clock.first[1]),
            "intra_op_threads": manifest["strategy"]["intra_op_threads"] or os.environ.get("TF_NUM_INTRAOP_THREADS"),
            "batch_size": config.batch_size}


def parse_variants(settings: list[str]) -> dict[str, dict[str, str]]:
    """``LABEL:KEY=VALUE`` strings grouped by label, after the preset itself ("-")."""
    variants: dict[str, dict[str, str]] = {"-": {}}
    for setting in settings:
        label, _, assignment = setting.partition(":")
        key, equals, value = assignment.partition("=")
        if not (label and key and equals):
            sys.exit(f"--set {setting!r}: expected LABEL:KEY=VALUE, e.g. w48:batch_size=48")
        if key == "adam" and value not in ("keras", "fused"):
            sys.exit(f"--set {setting!r}: adam is keras (Keras's own Adam) or fused (daekit's, the default)")
        if key in ("strategy", "cpu_devices"):
            sys.exit(f"--set {setting!r}: {key} is what the ways change; choose the ways with --way instead")
        variants.setdefault(label, {})[key] = value
    return variants


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", action="append", help="Preset to train (repeatable; default: unet and default).")
    parser.add_argument("--images", type=int, default=4480, help="Training images in the timed epoch.")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--set", dest="settings", action="append", default=[], metavar="LABEL:KEY=VALUE",
                        help="A setting of the variant LABEL (repeatable).")
    parser.add_argument("--way", action="append", help="Keep the ways whose names start with this (repeatable).")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        preset, overrides = json.loads(args.child)
        print(json.dumps(measure(preset, args.images, overrides)))
        return

    from daekit.distribute import cpu_cores

    variants = parse_variants(args.settings)
    ways = {way: setup for way, setup in WAYS.items() if not args.way or any(way.startswith(w) for w in args.way)}
    if not ways:
        sys.exit(f"--way {' '.join(args.way)}: no such way; the ways are {', '.join(WAYS)}")
    cores = cpu_cores()
    best: dict[tuple[str, str, str], dict] = {}
    failed: dict[tuple[str, str, str], str] = {}
    presets = args.preset or ["unet", "default"]
    for _ in range(args.repeats):
        for preset in presets:
            for label, changes in variants.items():
                for way, (overrides, environment) in ways.items():
                    overrides, environment = ({k: str(cores) if v == "N" else v for k, v in table.items()}
                                              for table in (overrides, environment))
                    child = subprocess.run([sys.executable, __file__, "--images", str(args.images),
                                            "--child", json.dumps([preset, {**changes, **overrides}])],
                                           env={**os.environ, **environment}, capture_output=True, text=True)
                    if child.returncode:
                        lines = [line for line in child.stderr.splitlines() if line.strip()]
                        failed[(preset, label, way)] = lines[-1] if lines else f"exit status {child.returncode}"
                        print(f"{preset}, {label}, {way} failed:\n{child.stderr[-3000:]}", file=sys.stderr)
                        continue
                    result = json.loads(child.stdout.strip().splitlines()[-1])
                    if result["images_per_s"] > best.get((preset, label, way), {}).get("images_per_s", 0):
                        best[(preset, label, way)] = result

    import tensorflow as tf

    print(f"{cores} cores, TensorFlow {tf.__version__}; {args.images} images per timed epoch, best of {args.repeats}")
    for label, changes in list(variants.items())[1:]:
        print(f"variant {label}: " + " ".join(f"{key}={value}" for key, value in changes.items()))
    first = next(iter(ways))
    print(f"{'preset':8} {'variant':8} {'way':26} {'batch':>5} {'op threads':>10} {'images/s':>9} {'vs first row':>12}")
    for preset in presets:
        base = best.get((preset, "-", first), {}).get("images_per_s")
        for label in variants:
            for way in ways:
                row = best.get((preset, label, way))
                if row is None:
                    print(f"{preset:8} {label:8} {way:26} failed: {failed[(preset, label, way)][:120]}")
                    continue
                threads = row["intra_op_threads"] or "default"
                ratio = f"{row['images_per_s'] / base:11.2f}x" if base else f"{'-':>12}"
                print(f"{preset:8} {label:8} {way:26} {row['batch_size']:5} {threads!s:>10} "
                      f"{row['images_per_s']:9.0f} {ratio}")
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
