"""daekit's models on a GPU through Keras's JAX backend: training throughput, and full-length
runs of several recipes side by side.

daekit trains with TensorFlow, but its models, losses, metrics and optimizer settings are
written in ``keras.ops`` and ``keras.layers``, so the same code runs on any Keras backend.
This script builds them exactly as ``daekit.train`` does (``TrainConfig`` presets,
``build_model``, ``build_loss``, ``daekit.optimizers``) and trains them with Keras's own
``fit`` on JAX, where every training step is compiled by XLA.

Usage (a machine with JAX and a GPU; keras, pluggy, attrs and daekit installed without
TensorFlow, ``pip install --no-deps -e .``):

    export KERAS_BACKEND=jax
    python bench/gpu_jax.py throughput                    # images/s by preset, batch, precision
    python bench/gpu_jax.py train base                    # one full run of a variant below
    python bench/gpu_jax.py screen --parallel 8           # every variant at once, one process each

``throughput`` trains 2 epochs of 25,600 images per setting and reports the second epoch's
images/s (the first holds XLA's compilation). ``train`` runs the whole recipe (54,000
training images, 12 epochs for the unet preset) and scores the full test set under the
model's own corruption with daekit's evaluation seed; it prints one JSON line. ``screen``
runs the variants in parallel processes sharing the GPU, so their wall times are not
throughputs; their PSNRs are what it is for. Noise drawn by JAX differs from TensorFlow's,
so the PSNRs match the CPU runs' to within run-to-run spread, not digit for digit.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve()


def _unet(filters: str, **options) -> dict:
    """Encoder and decoder of the folded U-Net with ``filters`` (finest, coarsest) and options."""
    extra = "".join(f",{key}={value}" for key, value in options.items())
    finest = filters.split(",")[0]
    return {"encoder": f"unet:filters={filters},space_to_depth=2{extra}",
            "decoder": f"unet:filters={finest},space_to_depth=2{extra}"}


# Every variant changes this: the unet preset's recipe (psnr loss, Adam 2e-3 with cosine decay,
# batch 32, 12 epochs) on the 80/160-filter network with two convolutions per block that the
# preset used before these screens. ``c3w64-silu`` is the preset now. Each variant is
# TrainConfig overrides of BASE, plus "ema" (Keras's use_ema with that momentum), which daekit
# does not expose.
BASE = _unet("80,160")
PRESET = _unet("64,128", convs=3, activation="silu")  # the unet preset's network, c3w64-silu
DEC2 = {**PRESET, "decoder": PRESET["decoder"].replace("convs=3", "convs=2")}  # two convolutions per decoder block
PROJECT = {**PRESET, "decoder": PRESET["decoder"] + ",merge=project"}
C3W48 = _unet("48,96", convs=3, activation="silu")

VARIANTS: dict[str, dict] = {
    "base": {},
    "ema999": {"ema": 0.999},
    "silu": _unet("80,160", activation="silu"),
    "nonorm": _unet("80,160", normalization="none"),
    "lr3e-3": {"learning_rate": 3e-3},
    "b16": {"batch_size": 16},
    "w64b16": {**_unet("64,128"), "batch_size": 16},
    "c3w64": _unet("64,128", convs=3),
    "ep16": {"epochs": 16},
    "w96": _unet("96,192"),
    "ema-lr3e-3": {"ema": 0.999, "learning_rate": 3e-3},
    # Second screen: depth at a narrower width, and the small gains above on top of it.
    "c3w64-seed1": {**_unet("64,128", convs=3), "seed": 1},
    "c3w64-silu": _unet("64,128", convs=3, activation="silu"),
    "c3w64-silu-lr3e-3": {**_unet("64,128", convs=3, activation="silu"), "learning_rate": 3e-3},
    "c3w64-b16": {**_unet("64,128", convs=3), "batch_size": 16},
    "c3w64-all": {**_unet("64,128", convs=3, activation="silu"), "batch_size": 16, "learning_rate": 3e-3},
    "c3w64-gelu": _unet("64,128", convs=3, activation="gelu"),
    "c3w64-ep14": {**_unet("64,128", convs=3), "epochs": 14},
    "c4w56": _unet("56,112", convs=4),
    "c4w56-silu": _unet("56,112", convs=4, activation="silu"),
    "c3w72": _unet("72,144", convs=3),
    "c4w64": _unet("64,128", convs=4),
    "c5w48": _unet("48,96", convs=5),
    # Third screen: the preset itself, and cheaper variants of it that could buy back CPU time
    # (its 12 epochs take about 30 minutes on the 2-core CPU) or spend it on more epochs.
    "preset-seed1": {**PRESET, "seed": 1},
    "preset-seed2": {**PRESET, "seed": 2},
    "preset-dec2": DEC2,
    "preset-b48": {**PRESET, "batch_size": 48},
    "preset-ep14": {**PRESET, "epochs": 14},
    # Additive skips (decoder merge=add, as DRUNet): 18% fewer multiply-adds per image than the
    # preset's concatenation (bench/macs.py); on the CPU, 0.05 dB lower (docs/recipes.md).
    # augment=flip needs daekit's tf.data pipeline, which this script does not use.
    "preset-add": {**PRESET, "decoder": PRESET["decoder"] + ",merge=add"},
    # Fourth screen: settings that cost the CPU run nothing (weight averaging, Adam's second
    # moment, AdamW's default weight decay of 0.004), and what more epochs buy the preset.
    "preset-ema999": {**PRESET, "ema": 0.999},
    "preset-ema9995": {**PRESET, "ema": 0.9995},
    "preset-beta2-0.99": {**PRESET, "beta_2": 0.99},
    "preset-adamw": {**PRESET, "optimizer": "adamw"},
    "preset-dec2-ep14": {**DEC2, "epochs": 14},
    "preset-ep16": {**PRESET, "epochs": 16},
    # Fifth screen: narrower or shallower networks that train faster on the 2-core CPU, given
    # the epochs that the time saved buys (bench/cpu_replicas.py measures their speed).
    "c3w48-ep16": {**C3W48, "epochs": 16},
    "c3w48-ep18": {**C3W48, "epochs": 18},
    "c3w48-ep20": {**C3W48, "epochs": 20},
    "c4w48-ep14": {**_unet("48,96", convs=4, activation="silu"), "epochs": 14},
    "c2w64-ep15": {**_unet("64,128", convs=2, activation="silu"), "epochs": 15},
    # The decoder's first convolution takes the upsampled 128-channel code and the 64-channel
    # skip: 31% of the preset's multiply-adds. merge=project first maps the code to 64
    # channels with a 1x1 convolution: 10% fewer in all (bench/macs.py), a 13th epoch's worth.
    "preset-project": PROJECT,
    "preset-project-ep13": {**PROJECT, "epochs": 13},
}


def epoch_clock():
    """A Keras callback that records the seconds of each epoch (made here, not at import,
    so that ``screen`` never imports Keras in the parent process)."""
    import keras

    class EpochClock(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seconds = []

        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self.started)

    return EpochClock()


def build(config, steps_per_epoch, ema=None):
    """The model and its compiled training step, as daekit.train makes them."""
    import daekit
    from daekit.metrics import psnr
    from daekit.optimizers import dtype_policy, make_optimizer

    with dtype_policy(config.precision):
        model = daekit.build_model(config.corruption, config.encoder, config.decoder, seed=config.seed)
        optimizer = make_optimizer(config, steps_per_epoch)
        if ema:
            settings = optimizer.get_config() | {"use_ema": True, "ema_momentum": ema}
            optimizer = type(optimizer).from_config(settings)
        model.compile(optimizer=optimizer, loss=daekit.build_loss(config.loss), metrics=[psnr], jit_compile=True)
    return model


def load(config, data_dir):
    from daekit.data.sources import load_data, split_validation
    from daekit.evaluate import to_float

    data = load_data(config.data, data_dir=data_dir)
    train, _ = split_validation(data.train, config.validation_split, config.seed)
    return to_float(train), data.test


def train_variant(name: str, data_dir: str | None, epochs: int | None, limit: int | None = None) -> dict:
    import keras

    import daekit
    from daekit.evaluate import evaluate_model

    overrides = {**BASE, **VARIANTS[name]}
    ema = overrides.pop("ema", None)
    if epochs:
        overrides["epochs"] = epochs
    config = daekit.TrainConfig.resolve(preset="unet", **overrides)
    keras.utils.set_random_seed(config.seed)
    train, test = load(config, data_dir)
    train, test = (train[:limit], test[:limit]) if limit else (train, test)
    steps = -(-len(train) // config.batch_size)
    started = time.perf_counter()
    model = build(config, steps, ema)
    clock = epoch_clock()
    history = model.fit(train, train, batch_size=config.batch_size, epochs=config.epochs, shuffle=True,
                        verbose=0, callbacks=[clock])
    seconds = time.perf_counter() - started
    scores = evaluate_model(model, test, batch_size=1000)
    return {
        "variant": name, "change": VARIANTS[name], "epochs": config.epochs, "params": model.count_params(),
        "train_psnr_by_epoch": [round(v, 3) for v in history.history["psnr"]],
        "test_psnr": scores["denoised"]["psnr"], "test_ssim": scores["denoised"]["ssim"],
        "noisy_psnr": scores["noisy"]["psnr"], "seconds": round(seconds, 1),
        "epoch_seconds": [round(s, 2) for s in clock.seconds],
    }


def throughput(data_dir: str | None, images: int, batches, precisions, presets) -> list[dict]:
    import keras

    import daekit

    rows = []
    for preset in presets:
        everything, _ = load(daekit.TrainConfig.resolve(preset=preset), data_dir)  # batch and precision keep it
        for batch in batches:
            for precision in precisions:
                config = daekit.TrainConfig.resolve(preset=preset, batch_size=batch, precision=precision, epochs=2)
                keras.utils.set_random_seed(0)
                train = everything[: images // batch * batch]
                model = build(config, len(train) // batch)
                clock = epoch_clock()
                model.fit(train, train, batch_size=batch, epochs=2, shuffle=True, verbose=0, callbacks=[clock])
                row = {"preset": preset, "batch": batch, "precision": precision,
                       "images_per_second": round(len(train) / clock.seconds[-1]),
                       "first_epoch_s": round(clock.seconds[0], 2)}
                print(json.dumps(row), flush=True)
                rows.append(row)
    return rows


def screen(names, parallel: int, data_dir: str | None, epochs: int | None, limit: int | None, out: Path,
           budget: float | None = None) -> None:
    out.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + budget if budget else None
    env = {**os.environ, "KERAS_BACKEND": "jax", "XLA_PYTHON_CLIENT_PREALLOCATE": "false"}
    pending, running, results = list(names), [], {}
    while pending or running:
        while pending and len(running) < parallel:
            name = pending.pop(0)
            command = [sys.executable, str(BENCH), "train", name] + (["--data-dir", data_dir] if data_dir else [])
            command += ["--epochs", str(epochs)] if epochs else []
            command += ["--limit", str(limit)] if limit else []
            log = (out / f"{name}.log").open("w")
            running.append((name, subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, text=True, env=env)))
        time.sleep(2)
        if deadline and time.monotonic() > deadline:  # out of time: stop what still runs, keep what finished
            for name, process in running:
                process.kill()
                results[name] = {"variant": name, "failed": "stopped at the time budget"}
            running, pending = [], []
        for name, process in list(running):
            if process.poll() is not None:
                running.remove((name, process))
                lines = process.stdout.read().strip().splitlines()
                results[name] = json.loads(lines[-1]) if process.returncode == 0 and lines else {"variant": name, "failed": process.returncode}
                print(json.dumps(results[name]), flush=True)
    (out / "screen.json").write_text(json.dumps(results, indent=1))
    print(f"\n{'variant':18} {'params':>8} {'test PSNR':>9} {'SSIM':>6} {'seconds':>8}")
    for name in names:
        r = results[name]
        if "failed" in r:
            print(f"{name:18} failed ({r['failed']})")
        else:
            print(f"{name:18} {r['params']:8,} {r['test_psnr']:9.3f} {r['test_ssim']:6.3f} {r['seconds']:8.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    one = commands.add_parser("train", help="One full run of a variant; prints a JSON line.")
    one.add_argument("variant", choices=list(VARIANTS))
    many = commands.add_parser("screen", help="Full runs of several variants in parallel processes.")
    many.add_argument("variants", nargs="*", help=f"Any of {', '.join(VARIANTS)} (default: all).")
    many.add_argument("--parallel", type=int, default=4)
    many.add_argument("--out", type=Path, default=Path("runs/gpu-screen"))
    many.add_argument("--budget", type=float, default=None, help="Seconds after which unfinished runs are stopped.")
    rate = commands.add_parser("throughput", help="Training images/s by preset, batch and precision.")
    rate.add_argument("--images", type=int, default=25_600)
    rate.add_argument("--batch", type=int, nargs="+", default=[64, 512])
    rate.add_argument("--precision", nargs="+", default=["float32", "mixed_bfloat16", "mixed_float16"])
    rate.add_argument("--preset", nargs="+", default=["article", "unet"])
    for sub in (one, many, rate):
        sub.add_argument("--data-dir", default=None, help="Directory of the Fashion-MNIST IDX files.")
    for sub in (one, many):
        sub.add_argument("--epochs", type=int, default=None, help="Override the variant's epochs (for quick checks).")
        sub.add_argument("--limit", type=int, default=None, help="Train and test on at most this many images (quick checks).")
    args = parser.parse_args()
    if args.command == "train":
        print(json.dumps(train_variant(args.variant, args.data_dir, args.epochs, args.limit)), flush=True)
    elif args.command == "screen":
        unknown = [name for name in args.variants if name not in VARIANTS]
        if unknown:
            parser.error(f"unknown variant {', '.join(unknown)}; choose from {', '.join(VARIANTS)}")
        screen(args.variants or list(VARIANTS), args.parallel, args.data_dir, args.epochs, args.limit, args.out, args.budget)
    else:
        import keras

        print(f"backend {keras.backend.backend()}, keras {keras.__version__}", flush=True)
        throughput(args.data_dir, args.images, args.batch, args.precision, args.preset)


if __name__ == "__main__":
    main()
