import gzip
import importlib
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from daekit.manager import Plugins, set_plugins

FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
TINY_MODEL = ["--encoder", "conv:filters=8,16,32", "--decoder", "conv:filters=16,8,tail_filters=8"]


class FakeDistribution:
    def __init__(self, name, version):
        self.name = name
        self.version = version


class FakeEntryPoint:
    """Stands in for an importlib.metadata entry point of a third-party plugin."""

    group = "daekit"

    def __init__(self, name, module, distribution="daekit-testplugin", version="9.9"):
        self.name = name
        self.value = module
        self.dist = FakeDistribution(distribution, version)

    def load(self):
        return importlib.import_module(self.value)


@pytest.fixture(scope="session", autouse=True)
def plugin_catalogue_cache(tmp_path_factory):
    """The tests' own cache of the plugin catalogue (daekit.catalogue), for every subprocess too."""
    previous = os.environ.get("DAEKIT_CACHE")
    os.environ["DAEKIT_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if previous is None:
        os.environ.pop("DAEKIT_CACHE", None)
    else:
        os.environ["DAEKIT_CACHE"] = previous


@pytest.fixture
def fake_entry_points(monkeypatch):
    """Call with extra FakeEntryPoints; returns a fresh Plugins loaded with the real ones too."""
    real = list(importlib.metadata.entry_points(group="daekit"))

    def load(*extra):
        monkeypatch.setattr(importlib.metadata, "entry_points", lambda group=None: [*real, *extra])
        plugins = Plugins()
        plugins.load_entry_points(only="")
        return plugins

    return load


@pytest.fixture
def plugins():
    """Fresh built-in plugins, installed as the process-wide ones for the test."""
    fresh = Plugins()
    fresh.load_entry_points(only="daekit")
    set_plugins(fresh)
    try:
        yield fresh
    finally:
        set_plugins(None)


@pytest.fixture(scope="session")
def fashion_mnist():
    if not (FASHION_MNIST / "train-images-idx3-ubyte.gz").exists():
        pytest.fail("the real Fashion-MNIST is needed: apt-get install dataset-fashion-mnist")
    return FASHION_MNIST


def idx_bytes(array: np.ndarray, type_code: int = 0x08) -> bytes:
    header = bytes([0, 0, type_code, array.ndim]) + b"".join(struct.pack(">I", n) for n in array.shape)
    return header + array.astype(">u1" if type_code == 0x08 else array.dtype).tobytes()


def write_idx_set(directory: Path, train=40, test=10, side=28, gz=True) -> Path:
    """A small, valid IDX data set of random images, written by the test itself."""
    rng = np.random.default_rng(0)
    directory.mkdir(parents=True, exist_ok=True)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (train, side, side), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, (train,), dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (test, side, side), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, (test,), dtype=np.uint8),
    }
    for stem, array in arrays.items():
        data = idx_bytes(array)
        if gz:
            (directory / f"{stem}.gz").write_bytes(gzip.compress(data))
        else:
            (directory / stem).write_bytes(data)
    return directory


def run_daekit(*args, cwd=None, env=None, timeout=600):
    """Run the real `daekit` command in a subprocess."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "daekit", *map(str, args)],
        capture_output=True, text=True, cwd=cwd, env=full_env, timeout=timeout,
    )


REPO = Path(__file__).resolve().parent.parent


def installed_plugin(directory: Path, module: str, name: str = "testplugin") -> dict:
    """Environment for a subprocess in which ``module`` is an installed daekit plugin: a
    distribution's metadata with its entry point, as pip would write it, on PYTHONPATH."""
    dist = directory / f"daekit_{name}-1.0.dist-info"
    dist.mkdir(parents=True, exist_ok=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: daekit-{name}\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[daekit]\n{name} = {module}\n")
    return {"PYTHONPATH": os.pathsep.join([str(directory), str(REPO)])}
