"""daekit tried as a hostile user would: bad values, bad component specs, bad paths, and damaged
files of every kind in data folders, config files, run directories and model files.

Every case runs the real ``daekit`` command in a subprocess and must exit with the code the
CLI promises (2 for usage and config errors, 1 for the environment: data, files, plugins),
name the field or the file at fault, print no traceback, and leave every file that was
already there as it was (compared byte for byte before and after). The subprocesses run two
at a time; each case is then a test of its own.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import struct
import zipfile
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

import attrs
import numpy as np
import pytest

from tests.conftest import installed_plugin, run_daekit, write_idx_set

TINY = ["--encoder", "conv:filters=4,8,8", "--decoder", "conv:filters=8,4,tail_filters=4", "--limit", "300",
        "--test-limit", "16", "--epochs", "1", "--batch-size", "32", "--checkpoint-every", "2"]


@attrs.frozen
class Case:
    """One bad command: its arguments (``{garden}``, ``{run}``, ``{case}`` and ``{model}`` are
    filled in), the exit code, the words the message must hold, and how to damage the case's
    own copy of the trained run first (``damage(run_dir)``), if at all."""

    id: str
    args: tuple[str, ...]
    code: int
    words: tuple[str, ...]
    damage: Callable[[Path], None] | None = None
    plugin: bool = False  # run where the test plugin is installed


def case(id, args, code, *words, damage=None, plugin=False) -> Case:
    return Case(id, tuple(args.split()) if isinstance(args, str) else tuple(args), code, words, damage, plugin)


def train(args: str, code: int, *words: str, id: str) -> Case:
    """A ``daekit train`` refused: every run goes under ``{case}/runs``."""
    return case(id, ["train", *TINY, "-o", "{case}/runs", *args.split()], code, *words)


def write(name: str, content: bytes | Callable[[bytes], bytes]):
    """Damage: replace a file of the run (``content`` may be a function of its bytes)."""
    def damage(run: Path):
        path = run / name
        path.write_bytes(content(path.read_bytes()) if callable(content) else content)
    return damage


def remove(name: str):
    def damage(run: Path):
        path = run / name
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    return damage


RANDOM = np.random.default_rng(7).bytes(600)

VALUES = [  # each setting's own range is tested in process, in tests/test_config.py
    train("--epochs -1", 2, "epochs='-1'", ">= 1", id="epochs-negative"),
    train("--epochs many", 2, "epochs='many'", id="epochs-text"),
    train("--batch-size 0", 2, "batch_size='0'", id="batch-size-zero"),
    train("--lr nan", 2, "learning_rate='nan'", id="lr-nan"),
    train("--seed 4294967296", 2, "seed='4294967296'", "4294967295", id="seed-too-large"),
    train("--precision float8", 2, "precision='float8'", "mixed_float16", id="precision-unknown"),
    train("--preset nosuch", 2, "preset='nosuch'", "unknown preset", id="preset-unknown"),
    train("--strategy mirrored --cpu-devices 2 --jit-compile true", 2, "jit_compile=true", id="settings-that-clash"),
    train("--pairs {garden}/photos", 2, "pairs", "--target noisy", id="pairs-without-noisy-target"),
    # Field and component problems in one pass.
    train("--epochs -1 --batch-size 0 --corruption nosuch --encoder cnov", 2,
          "epochs='-1'", "batch_size='0'", "unknown corruption 'nosuch'", "did you mean 'conv'?", id="all-in-one-pass"),
    case("evaluate-workers-zero", "evaluate {model} --workers 0", 2, "--workers"),
    case("evaluate-seed-negative", "evaluate {model} --seed -1", 2, "--seed"),
    case("evaluate-limit-zero", "evaluate {model} --limit 0", 2, "--limit"),
    case("evaluate-baseline-unknown", "evaluate {model} --baselines tv,nosuch", 2, "nosuch"),
    case("denoise-tile-tiny", "denoise {model} {garden}/photos/ok.png --out {case}/out --tile 2", 2, "--tile"),
    case("denoise-memory-zero", "denoise {model} {garden}/photos/ok.png --out {case}/out --memory 0", 2, "--memory"),
    case("export-format-unknown", "export {model} --format pickle --out {case}/m", 2, "pickle"),
    case("export-suffix-mismatch", "export {model} --format onnx --out {case}/m.tflite", 2, ".onnx"),
    case("preview-severity-corruption-unknown", "preview --out {case}/p.png --corruption nosuch", 2,
         "unknown corruption 'nosuch'"),
]

SPECS = [
    train("--corruption gaussin", 2, "unknown corruption 'gaussin'", "did you mean 'gaussian'?", id="corruption-misspelt"),
    train("--corruption gaussian:stddev=-1", 2, "stddev='-1'", id="corruption-option-negative"),
    train("--corruption gaussian:stddev=abc", 2, "stddev='abc'", id="corruption-option-text"),
    train("--corruption gaussian:sigma=0.1", 2, "unknown option 'sigma'", "stddev", id="corruption-option-unknown"),
    train("--corruption gaussian:severity=9", 2, "severity", id="corruption-severity-out-of-range"),
    train("--corruption gaussian:0.1", 2, "expected key=value", id="corruption-value-without-key"),
    train("--corruption :stddev=0.1", 2, "a name is missing", id="corruption-name-missing"),
    train("--corruption chain[gaussian|jpeg", 2, "'[' is never closed", id="corruption-bracket-open"),
    train("--corruption one_of[gaussian|nosuch]", 2, "unknown corruption 'nosuch'", id="corruption-part-unknown"),
    train("--corruption gaussian[jpeg]", 2, "takes no components", id="corruption-parts-not-taken"),
    train("--encoder nosuch", 2, "unknown encoder 'nosuch'", "Known encoders", id="encoder-unknown"),
    train("--encoder conv:filters=8,x", 2, "filters", id="encoder-list-bad"),
    train("--decoder conv:tail_filters=-3", 2, "tail_filters='-3'", id="decoder-option-negative"),
    train("--loss nosuch", 2, "unknown loss 'nosuch'", "Known losses", id="loss-unknown"),
    train("--loss masked:weight=abc", 2, "weight='abc'", id="loss-option-text"),
    train("--corruption blind_spot --loss blind_spot", 2, "blind_spot", "target=noisy",
          id="blind-spot-without-noisy-target"),
]

CONFIG_FILES = [
    train("--config {garden}/missing.toml", 2, "missing.toml", id="config-missing"),
    train("--config {garden}/garbled.toml", 2, "garbled.toml", "line 1", id="config-garbled"),
    train("--config {garden}/latin1.toml", 2, "latin1.toml", "not UTF-8", id="config-not-utf8"),
    train("--config {garden}/unknown-key.toml", 2, "unknown option 'epochz'", id="config-unknown-key"),
    train("--config {garden}/wrong-type.toml", 2, "wrong-type.toml", "seed='many'", id="config-wrong-type"),
    train("--config {garden}/bad-table.toml", 2, "bad-table.toml", "corruption", id="config-component-table-without-name"),
    train("--config {garden}", 2, str("{garden}"), id="config-is-a-directory"),
]

PATHS = [
    case("output-is-a-file", ["train", *TINY, "-o", "{garden}/ok.txt"], 2, "ok.txt", "is a file"),
    case("output-under-a-file", ["train", *TINY, "-o", "{garden}/ok.txt/runs"], 2, "ok.txt", "which is a file"),
    train("--name ../escape", 2, "one path component", id="name-escapes-output"),
    train("--name a/b", 2, "one path component", id="name-with-separator"),
    train("--name " + "n" * 300, 2, "--name is 300 bytes", id="name-too-long"),
    train("--data {garden}/nowhere", 1, "nowhere", id="data-folder-missing"),
    train("--data {garden}/empty", 1, "empty", "found 0 image files", id="data-folder-empty"),
    train("--data-dir {garden}/empty", 1, "lacks train-images-idx3-ubyte", id="data-dir-empty"),
    train("--data-dir {garden}/nowhere", 1, "nowhere", id="data-dir-missing"),
    train("--data-dir {garden}/idx-truncated", 1, "train-images-idx3-ubyte", id="idx-truncated"),
    train("--data-dir {garden}/idx-bad-magic", 1, "train-images-idx3-ubyte", id="idx-bad-magic"),
    train("--data-dir {garden}/idx-not-gzip", 1, "train-images-idx3-ubyte.gz", id="idx-gz-not-gzip"),
    train("--data {garden}/truncated-png --patch 8", 1, "cut.png", id="png-truncated"),
    train("--data {garden}/text-png --patch 8", 1, "notes.png", id="png-that-is-text"),
    train("--data {garden}/bomb-png --patch 8", 1, "bomb.png", "pixels", id="png-decompression-bomb"),
    train("--data {garden}/zero-png --patch 8", 1, "zero.png", id="png-empty"),
    case("resume-missing", ["train", "--resume", "{case}/nothing"], 2, "nothing", "not a daekit run"),
    case("resume-with-preset", ["train", "--resume", "{run}", "--preset", "unet"], 2, "--resume", "--preset"),
    case("evaluate-json-missing-directory", "evaluate {model} --json {case}/no/such/scores.json", 1, "no/such"),
    case("evaluate-model-missing", "evaluate {case}/none.keras", 1, "none.keras", "no such model file"),
    case("denoise-out-is-a-file", "denoise {model} {garden}/photos/ok.png --out {garden}/ok.txt", 1, "ok.txt",
         "is a file"),
    case("denoise-out-under-a-file", "denoise {model} {garden}/photos/ok.png --out {garden}/ok.txt/out --resize", 1, "ok.txt",
         "which is a file"),
    case("denoise-input-missing", "denoise {model} {case}/nothing.png --out {case}/out", 1, "nothing.png"),
    case("denoise-input-damaged", "denoise {model} {garden}/truncated-png/cut.png --out {case}/out", 1, "cut.png"),
    case("export-robustness-unreadable", "export {model} --out {case}/m --robustness {garden}/garbled.toml", 2,
         "garbled.toml"),
    case("runs-not-a-directory", "runs {garden}/ok.txt", 2, "ok.txt"),
]


def keras_file(damage: Callable[[dict[str, bytes]], dict[str, bytes]]):
    """A copy of the trained model with its zip members changed by ``damage``."""
    def make(model: Path, target: Path):
        with zipfile.ZipFile(model) as archive:
            members = {name: archive.read(name) for name in archive.namelist()}
        with zipfile.ZipFile(target, "w") as archive:
            for name, data in damage(members).items():
                archive.writestr(name, data)
    return make


def other_plugins(members):
    """The model as if its corruption and encoder came from plugins that are not installed."""
    config = json.loads(members["config.json"])
    for part, name, dist in (("corruption", "speckle2", "daekit-speckle2"), ("encoder", "resunet", "daekit-resunet")):
        config["config"][part]["registered_name"] = f"{name}>Thing"
        config["config"]["manifest"][part].update(name=name, registered_name=f"{name}>Thing", plugin=name,
                                                  distribution=dist, version="1.0")
    return {**members, "config.json": json.dumps(config).encode()}


def flip_weights(members):
    """4 KB overwritten inside the weights, the archive's own checksums rewritten to match."""
    weights = bytearray(members["model.weights.h5"])
    middle = len(weights) // 2
    weights[middle:middle + 4096] = np.random.default_rng(1).bytes(min(4096, len(weights) - middle))
    return {**members, "model.weights.h5": bytes(weights)}


MODEL_FILES = {  # name: bytes of the trained model -> bytes of the damaged file, or a zip rewrite
    "random.keras": lambda data: RANDOM,
    "empty.keras": lambda data: b"",
    "half.keras": lambda data: data[: len(data) // 2],
    "no-config.keras": keras_file(lambda m: {k: v for k, v in m.items() if k != "config.json"}),
    "garbled-config.keras": keras_file(lambda m: {**m, "config.json": b"{not json"}),
    "not-daekit.keras": keras_file(lambda m: {**m, "config.json": b'{"class_name": "Sequential", "config": {}}'}),
    "other-plugins.keras": keras_file(other_plugins),
    "flipped-weights.keras": keras_file(flip_weights),
    "no-weights.keras": keras_file(lambda m: {k: v for k, v in m.items() if k != "model.weights.h5"}),
}

MODELS = [
    case("model-random-bytes", "evaluate {garden}/random.keras", 1, "random.keras", "not a zip"),
    case("model-empty", "denoise {garden}/empty.keras {garden}/photos/ok.png --out {case}/out", 1, "empty.keras"),
    case("model-truncated", "evaluate {garden}/half.keras", 1, "half.keras", "truncated"),
    case("model-without-config", "evaluate {garden}/no-config.keras", 1, "no-config.keras", "no config.json"),
    case("model-config-garbled", "evaluate {garden}/garbled-config.keras", 1, "garbled-config.keras", "damaged"),
    case("model-not-daekit", "export {garden}/not-daekit.keras --out {case}/m", 1, "not-daekit.keras", "Sequential"),
    case("model-needs-missing-plugins", "evaluate {garden}/other-plugins.keras", 1,
         "pip install daekit-speckle2", "pip install daekit-resunet"),
    case("model-weights-altered", "evaluate {garden}/flipped-weights.keras --limit 4", 1, "flipped-weights.keras"),
    case("model-without-weights", "evaluate {garden}/no-weights.keras", 1, "no-weights.keras"),
    case("model-is-a-directory", "evaluate {garden}", 1, "{garden}"),
]

RESUME = ["train", "--resume", "{run}", "--epochs", "2"]
RUN_FILES = [
    case("run-config-empty", RESUME, 2, "config.toml", damage=write("config.toml", b"")),
    case("run-config-truncated", RESUME, 2, "config.toml", damage=write("config.toml", lambda d: d[: len(d) // 3])),
    case("run-config-random", RESUME, 2, "config.toml", "not UTF-8", damage=write("config.toml", RANDOM)),
    case("run-config-wrong-shape", RESUME, 2, "config.toml", "epochs",
         damage=write("config.toml", lambda d: d.replace(b"\nepochs = 1\n", b"\nepochs = [1]\n"))),
    case("run-config-missing", RESUME, 2, "not a daekit run", damage=remove("config.toml")),
    case("run-checkpoint-pointer-garbled", RESUME, 1, "checkpoint.json", damage=write("checkpoints/checkpoint.json", RANDOM)),
    case("run-checkpoint-pointer-wrong-shape", RESUME, 1, "checkpoint.json",
         damage=write("checkpoints/checkpoint.json", b'["latest"]')),
    case("run-resumed-with-zero-epochs", ["train", "--resume", "{run}", "--epochs", "0"], 2, "epochs='0'"),
    case("run-changed-config", ["train", *TINY, "-o", "{run}/..", "--name", "run", "--lr", "0.1"], 2,
         "learning_rate", "saved"),
    case("run-needs-missing-plugin", ["train", "--resume", "{run}"], 1, "pip install daekit-testplugin",
         damage=None, plugin=True),
    case("run-status-random-listed", "runs {run}/..", 0, "run", damage=write("status.json", RANDOM)),
    case("run-in-someone-elses-directory", ["train", *TINY, "-o", "{garden}", "--name", "photos"], 2,
         "not a daekit run directory"),
]

CASES = [*VALUES, *SPECS, *CONFIG_FILES, *PATHS, *MODELS, *RUN_FILES]


def png(width: int, height: int, pixels: bytes | None = None) -> bytes:
    """A grey 8-bit PNG, written out by hand so that its header can claim any size."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    if pixels is None:
        pixels = b"".join(b"\0" + bytes(range(width)) for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(pixels)) + chunk(b"IEND", b""))


def make_garden(garden: Path, model: Path) -> None:
    """Every bad file the cases use, beside a few good ones."""
    (garden / "photos").mkdir(parents=True)
    (garden / "photos" / "ok.png").write_bytes(png(40, 36))
    (garden / "ok.txt").write_text("a file, not a directory\n")
    (garden / "empty").mkdir()
    (garden / "empty" / "readme.txt").write_text("no images here\n")
    for folder, name, data in (("truncated-png", "cut.png", png(28, 28)[:60]), ("text-png", "notes.png", b"hello\n" * 20),
                               ("bomb-png", "bomb.png", png(60000, 60000, pixels=b"\0")), ("zero-png", "zero.png", b"")):
        (garden / folder).mkdir()
        (garden / folder / "good.png").write_bytes(png(32, 32))
        (garden / folder / name).write_bytes(data)
    for folder in ("idx-truncated", "idx-bad-magic", "idx-not-gzip"):
        write_idx_set(garden / folder, train=40, test=10)
    images = garden / "idx-truncated" / "train-images-idx3-ubyte.gz"
    images.write_bytes(gzip.compress(gzip.decompress(images.read_bytes())[:-100]))
    images = garden / "idx-bad-magic" / "train-images-idx3-ubyte.gz"
    images.write_bytes(gzip.compress(b"\1\2\3\4" + gzip.decompress(images.read_bytes())[4:]))
    (garden / "idx-not-gzip" / "train-images-idx3-ubyte.gz").write_bytes(RANDOM)
    (garden / "garbled.toml").write_text("epochs = = 3\n[[[\n")
    (garden / "latin1.toml").write_bytes('name = "caf\xe9"\n'.encode("latin-1"))
    (garden / "unknown-key.toml").write_text("epochz = 3\n")
    (garden / "wrong-type.toml").write_text('seed = "many"\n')
    (garden / "bad-table.toml").write_text("[corruption]\nstddev = 0.2\n")
    data = model.read_bytes()
    for name, damage in MODEL_FILES.items():
        if damage.__code__.co_argcount == 1:  # of the file's bytes
            (garden / name).write_bytes(damage(data))
        else:
            damage(model, garden / name)


def digests(*roots: Path) -> dict[str, str]:
    """Every file and directory under ``roots``, with the SHA-256 of each file's bytes."""
    found = {}
    for root in roots:
        if not root.exists():
            continue
        for path in sorted(root.rglob("*")):
            if path.name == "lock":  # taken and released by each daekit train; its content is a pid while held
                continue
            found[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
    return found


@attrs.frozen
class Outcome:
    code: int
    stdout: str
    stderr: str
    changed: list[str]
    args: list[str]


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory, fashion_mnist) -> dict[str, Outcome]:
    root = tmp_path_factory.mktemp("torture")
    plugin_env = installed_plugin(root / "site", "tests.plugins.invert", "testplugin")
    trained = [  # a plain run, and a run whose corruption comes from a plugin
        (root / "base", "run", [], {}),
        (root / "base-plugin", "run", ["--corruption", "invert:p=0.5"], plugin_env),
    ]
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda spec: run_daekit("train", *TINY, "-o", spec[0], "--name", spec[1], *spec[2],
                                                        env=spec[3]), trained))
    for result in results:
        assert result.returncode == 0, result.stderr
    base, plugin_run = root / "base" / "run", root / "base-plugin" / "run"
    garden = root / "garden"
    make_garden(garden, base / "model.keras")

    def run(item: Case) -> tuple[str, Outcome]:
        here = root / "cases" / item.id
        here.mkdir(parents=True)
        source = plugin_run if item.plugin else base
        shutil.copytree(source, here / "copy" / "run")
        run_dir = here / "copy" / "run"
        if item.damage is not None:
            item.damage(run_dir)
        fill = {"{garden}": str(garden), "{run}": str(run_dir), "{case}": str(here), "{model}": str(base / "model.keras")}
        args = []
        for arg in item.args:
            for key, value in fill.items():
                arg = arg.replace(key, value)
            args.append(arg)
        watched = (garden, base, plugin_run, here)
        before = digests(*watched)
        result = run_daekit(*args, cwd=here)
        after = digests(*watched)
        changed = sorted(path for path in set(before) | set(after) if before.get(path) != after.get(path))
        return item.id, Outcome(result.returncode, result.stdout, result.stderr, changed, args)

    with ThreadPoolExecutor(2) as pool:
        return dict(pool.map(run, CASES)) | {"{garden}": garden}


def test_there_are_at_least_sixty_cases():
    assert len(CASES) >= 60 and len({item.id for item in CASES}) == len(CASES)


@pytest.mark.parametrize("item", CASES, ids=[item.id for item in CASES])
def test_refused_cleanly(outcomes, item: Case):
    outcome = outcomes[item.id]
    shown = f"daekit {' '.join(outcome.args)}\nexit {outcome.code}\n{outcome.stdout}\n{outcome.stderr}"
    assert outcome.code == item.code, shown
    if item.code:  # one message, however many problems it lists
        assert outcome.stderr.count("error:") == 1, shown
    assert "Traceback" not in outcome.stderr and "function_node" not in outcome.stderr, shown
    message = " ".join((outcome.stderr if item.code else outcome.stdout).split()).replace("│", "")
    message = " ".join(message.split())
    for word in item.words:
        word = word.replace("{garden}", str(outcomes["{garden}"]))
        assert word in message, shown
    # Nothing already saved changed: the garden, the trained runs and the case's own copy of a run.
    assert outcome.changed == [], shown
