"""tf.distribute on the CPU: two logical devices under `mirrored`, two worker processes on
127.0.0.1 under `multi-worker`; each leaves one run directory and a model that loads on one device."""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

import daekit
from daekit.distribute import cpu_cores
from tests.conftest import run_daekit

TINY = ["--encoder", "conv:filters=4,8,8", "--decoder", "conv:filters=8,4,tail_filters=4",
        "--limit", "600", "--test-limit", "64", "--epochs", "2"]


def loads_and_predicts_on_one_device(run_dir):
    model = daekit.load_model(run_dir / "model.keras")
    images = np.random.default_rng(0).random((4, 28, 28, 1), dtype=np.float32)
    out = model.predict(images, verbose=0)
    assert out.shape == images.shape and np.all(np.isfinite(out))


def test_mirrored_on_two_logical_cpus(tmp_path, fashion_mnist, plugins):
    result = run_daekit("train", *TINY, "--strategy", "mirrored", "--cpu-devices", "2", "-o", tmp_path, "--name", "m")
    assert result.returncode == 0, result.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["m"]
    manifest = json.loads((tmp_path / "m" / "manifest.json").read_text())
    assert manifest["strategy"]["name"] == "mirrored" and manifest["strategy"]["replicas"] == 2
    assert manifest["pipeline"]["batch_size"] == 64  # the global batch, 32 per replica
    # Each replica's operations get their share of the cores, so the replicas run side by side
    # (unless the environment sets the threads: then TensorFlow's own setting, 0, stays).
    shared = 0 if os.environ.get("TF_NUM_INTRAOP_THREADS") else max(1, cpu_cores() // 2)
    assert manifest["strategy"]["intra_op_threads"] == shared
    loads_and_predicts_on_one_device(tmp_path / "m")


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _photo_folder(folder):
    """Images of mixed sizes, depths and channels, for a patch run."""
    from daekit.data.files import write_image

    folder.mkdir()
    rng = np.random.default_rng(0)
    for index, (shape, dtype) in enumerate([((70, 90, 1), np.uint8), ((64, 100, 3), np.uint16), ((81, 65, 1), np.uint8),
                                            ((96, 96, 3), np.uint8), ((65, 77, 1), np.uint16)]):
        write_image(folder / f"{index}.png", rng.integers(0, np.iinfo(dtype).max, shape, dtype=dtype))
    return ["--data", str(folder), "--patch", "32", "--patches-per-epoch", "64", "--batch-size", "16", "--epochs", "2",
            "--encoder", "unet:filters=4,8,convs=1", "--decoder", "unet:filters=4,convs=1"]


@pytest.mark.parametrize("data", ["fashion-mnist", "folder"])
def test_multi_worker_two_processes_one_run_directory(tmp_path, fashion_mnist, plugins, data):
    args = TINY if data == "fashion-mnist" else _photo_folder(tmp_path / "photos")
    workers = [f"127.0.0.1:{port}" for port in _free_ports(2)]
    processes = []
    for index in range(2):
        tf_config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        env = {**os.environ, "TF_CONFIG": json.dumps(tf_config)}
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "daekit", "train", *args, "--strategy", "multi-worker", "-o", str(tmp_path / "out"),
             "--name", "mw"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    outputs = [process.communicate(timeout=600) for process in processes]
    assert [process.returncode for process in processes] == [0, 0], "\n".join(
        f"worker {index}:\n{err[-6000:]}" for index, (out, err) in enumerate(outputs))
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["mw"]  # only the chief wrote
    run_dir = tmp_path / "out" / "mw"
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["strategy"]["name"] == "multi-worker" and manifest["strategy"]["workers"] == 2
    assert json.loads((run_dir / "status.json").read_text())["status"] == "completed"
    assert len((run_dir / "metrics.csv").read_text().splitlines()) == 3
    if data == "fashion-mnist":
        loads_and_predicts_on_one_device(run_dir)
    else:  # each worker gathered only its part of every batch
        assert "its replicas' parts" in manifest["pipeline"]["workers"]


def test_multi_worker_without_tf_config_is_refused(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    result = subprocess.run([sys.executable, "-m", "daekit", "train", "--strategy", "multi-worker", "-o", str(tmp_path)],
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "strategy='multi-worker' needs TF_CONFIG" in result.stderr
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("precision", ["mixed_bfloat16"])
def test_precision_and_steps_per_execution_are_recorded(tmp_path, fashion_mnist, plugins, precision):
    result = run_daekit("train", *TINY, "--epochs", "1", "--precision", precision, "--steps-per-execution", "3",
                        "-o", tmp_path, "--name", "p")
    assert result.returncode == 0, result.stderr
    manifest = json.loads((tmp_path / "p" / "manifest.json").read_text())
    assert manifest["compile"]["precision"] == precision and manifest["compile"]["steps_per_execution"] == 3
    assert manifest["strategy"]["intra_op_threads"] == 0  # one device: TensorFlow's own choice
    loads_and_predicts_on_one_device(tmp_path / "p")


def test_steps_per_execution_must_divide_an_epoch(tmp_path, fashion_mnist):
    result = run_daekit("train", *TINY, "--steps-per-execution", "4", "-o", tmp_path, "--name", "s")
    assert result.returncode == 2
    assert "steps_per_execution=4 does not divide the 9 steps of an epoch" in result.stderr
    assert "choose one of 1, 3, 9" in result.stderr


def test_steps_per_execution_over_several_replicas_is_refused_before_anything_is_written(tmp_path):
    # Keras's own multi-step loop fails with several replicas (keras-team/keras#19246).
    result = run_daekit("train", *TINY, "--steps-per-execution", "3", "--strategy", "mirrored",
                        "--cpu-devices", "2", "-o", tmp_path, "--name", "spe")
    assert result.returncode == 2, result.stderr
    assert "steps_per_execution=3 with strategy=mirrored over 2 logical CPU devices" in result.stderr
    assert "keras-team/keras#19246" in result.stderr and "Traceback" not in result.stderr
    assert not any(tmp_path.iterdir())


def test_mirrored_with_batches_too_small_for_every_replica(tmp_path, fashion_mnist, plugins):
    # 2,313 training images in batches of 136 leave a last batch of one image, and 257
    # validation and test images in batches of 256 do too: one replica would get none, which
    # fails in BatchNormalization. Training leaves that image out of each epoch; inference
    # takes batches of 254 instead.
    result = run_daekit("train", "--encoder", "conv:filters=4,8,8", "--decoder", "conv:filters=8,4,tail_filters=4",
                        "--limit", "2570", "--test-limit", "257", "--batch-size", "136", "--epochs", "1",
                        "--strategy", "mirrored", "--cpu-devices", "2", "-o", tmp_path, "--name", "odd")
    assert result.returncode == 0, result.stderr
    manifest = json.loads((tmp_path / "odd" / "manifest.json").read_text())
    assert manifest["data"]["train"] == 2313 and manifest["data"]["validation"] == 257
    assert manifest["pipeline"]["validation_batch_size"] == 254
    assert "the last 1 image(s) of each epoch's order" in manifest["pipeline"]["left_out_per_epoch"]
    assert json.loads((tmp_path / "odd" / "evaluation.json").read_text())["images"] == 257


def test_replica_batches():
    from daekit.errors import ConfigError
    from daekit.data.pipeline import replica_batch, replica_remainder

    assert replica_remainder(2313, 136, 2) == 1 and replica_remainder(2313, 136, 1) == 0
    assert replica_remainder(54000, 32, 2) == 0 and replica_remainder(2314, 136, 4) == 2
    assert replica_batch(10000, 256, 2) == 256 and replica_batch(257, 256, 2) == 254
    assert replica_batch(257, 256, 1) == 256 and replica_batch(259, 256, 4) == 252
    with pytest.raises(ConfigError, match="1 images cannot be batched"):
        replica_batch(1, 256, 2)
    # Fewer images than a batch: the one batch must split evenly too.
    assert replica_batch(65, 256, 2) == 62 and replica_batch(64, 256, 2) == 64


def test_xla_over_logical_cpu_devices_is_refused(tmp_path, fashion_mnist):
    result = run_daekit("train", *TINY, "--jit-compile", "true", "--strategy", "mirrored", "--cpu-devices", "2",
                        "-o", tmp_path, "--name", "x")
    assert result.returncode == 2
    assert "jit_compile=true with strategy=mirrored over 2 logical CPU devices" in result.stderr
    assert "Traceback" not in result.stderr and not any(tmp_path.iterdir())  # refused before anything is written


MIRRORED_NOISE = """
import tensorflow as tf
from daekit.distribute import make_strategy
strategy = make_strategy("mirrored", 2)
import daekit
with strategy.scope():
    corruption = daekit.get_plugins().component("corruption", "gaussian")(seed=0, stddev=0.1)
@tf.function
def step():
    return strategy.run(lambda: corruption(tf.fill((2, 8, 8, 1), 0.5), training=True))
first, second = step().values, step().values
print(bool(tf.reduce_any(first[0] != first[1])), bool(tf.reduce_any(first[0] != second[0])))
"""


def test_mirrored_replicas_draw_their_own_noise():
    # Every replica reads the same mirrored seed state; without the replica folded into the
    # seed, each replica's share of the batch would get the same noise.
    result = subprocess.run([sys.executable, "-c", MIRRORED_NOISE], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "True"]  # replicas differ; each replica's steps differ
