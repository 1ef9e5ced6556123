"""A run never loses work: kills, signals, NaNs, damaged checkpoints, changed configs and two
writers, each caused for real in a `daekit train` subprocess at a repeatable step."""

import json
import shutil
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

from tests.conftest import installed_plugin, run_daekit

STEPS = 24  # per epoch: 1,536 training images in batches of 64 (10% of --limit kept for validation)
ARGS = ["--corruption", "faulty", "--encoder", "conv:filters=4,8,8", "--decoder", "conv:filters=8,4,tail_filters=4",
        "--limit", "1707", "--test-limit", "64", "--epochs", "2", "--checkpoint-every", "5",
        "--deterministic", "true", "--schedule", "cosine"]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    return installed_plugin(tmp_path_factory.mktemp("site"), "tests.plugins.faults", "faults")


def at(step):
    """The fault plugin's call count at global training step ``step`` (its first call draws
    the validation noise)."""
    return step + 1


def train(env, output, name, *extra, fault=None, check=True):
    result = run_daekit("train", *ARGS, "-o", output, "--name", name, *extra,
                        env={**env, "DAEKIT_TEST_FAULT": fault or ""})
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def arrays(path):
    """Every array of an HDF5 file, by its path inside it."""
    found = {}

    def keep(name, item):  # returns None: h5py stops visiting at the first other return value
        if isinstance(item, h5py.Dataset):
            found[name] = item[()]

    with h5py.File(path) as handle:
        handle.visititems(keep)
    return found


def weights(run_dir):
    """Every array in the run's newest checkpoint (model weights, optimizer and noise state)."""
    pointer = json.loads((run_dir / "checkpoints" / "checkpoint.json").read_text())
    return arrays(run_dir / "checkpoints" / f"{pointer['latest']}.weights.h5")


def status(run_dir):
    return json.loads((run_dir / "status.json").read_text())


@pytest.fixture(scope="module")
def reference(env, tmp_path_factory, fashion_mnist):
    """An uninterrupted run of the same config."""
    output = tmp_path_factory.mktemp("reference")
    train(env, output, "run")
    return output / "run"


def assert_same_weights(run_dir, reference):
    ours, theirs = weights(run_dir), weights(reference)
    assert ours.keys() == theirs.keys()
    for path in theirs:
        np.testing.assert_array_equal(ours[path], theirs[path], err_msg=path)


@pytest.fixture(scope="module")
def killed(env, tmp_path_factory, fashion_mnist):
    """A run killed with SIGKILL at epoch 2, step 13, for tests to copy and resume."""
    output = tmp_path_factory.mktemp("killed")
    result = train(env, output, "run", fault=f"kill:{at(STEPS + 13)}", check=False)
    assert result.returncode == -signal.SIGKILL
    return output / "run"


def test_sigkill_mid_epoch_then_rerun_ends_with_identical_weights(env, tmp_path, reference, killed):
    shutil.copytree(killed, tmp_path / "run")
    pointer = json.loads((tmp_path / "run" / "checkpoints" / "checkpoint.json").read_text())
    assert pointer["global_step"] == STEPS + 10  # the last checkpoint, inside epoch 2
    assert status(tmp_path / "run")["status"] == "running"  # as the kill left it
    assert not (tmp_path / "run" / "model.keras").exists()
    listed = run_daekit("runs", tmp_path, "--json")  # nobody holds its lock: it died while running
    assert listed.returncode == 0 and json.loads(listed.stdout)[0]["state"] == "stopped", listed.stderr
    resumed = train(env, tmp_path, "run")  # the same command again
    assert f"resuming at epoch 2 of 2, step 11 of {STEPS}" in resumed.stdout
    assert status(tmp_path / "run")["status"] == "completed"
    assert json.loads(run_daekit("runs", tmp_path, "--json").stdout)[0]["state"] == "completed"
    assert_same_weights(tmp_path / "run", reference)
    rows = (tmp_path / "run" / "metrics.csv").read_text().splitlines()
    assert len(rows) == 3  # a header and one row per epoch, none twice
    # The resumed epoch's means cover all its steps, not only those after the restart.
    assert rows == (reference / "metrics.csv").read_text().splitlines()


@pytest.mark.parametrize("fault, code", [("term", 143), ("int", 130)])
def test_sigterm_and_sigint_save_mark_preempted_and_resume(env, tmp_path, reference, fault, code):
    stopped = train(env, tmp_path, "run", fault=f"{fault}:{at(7)}", check=False)
    assert stopped.returncode == code, stopped.stdout + stopped.stderr
    assert "rerun the same command to continue" in stopped.stderr
    state = status(tmp_path / "run")
    assert state["status"] == "preempted" and "epoch 1, step 7 of 24" in state["error"]
    pointer = json.loads((tmp_path / "run" / "checkpoints" / "checkpoint.json").read_text())
    assert pointer["global_step"] == 7  # the step it was in finished, then it saved
    resumed = run_daekit("train", "--resume", tmp_path / "run", env={**env, "DAEKIT_TEST_FAULT": ""})
    assert resumed.returncode == 0, resumed.stderr
    assert_same_weights(tmp_path / "run", reference)
    assert (tmp_path / "run" / "metrics.csv").read_text() == (reference / "metrics.csv").read_text()


def test_resume_with_settings_that_cannot_go_together_is_refused_and_changes_nothing(env, tmp_path, fashion_mnist):
    # Several steps per execution over several replicas fail inside Keras (keras-team/keras#19246):
    # the rule between the settings refuses them before the run directory is touched.
    stopped = train(env, tmp_path, "run", fault=f"term:{at(7)}", check=False)
    assert stopped.returncode == 143, stopped.stdout + stopped.stderr
    before = {path: path.read_bytes() for path in (tmp_path / "run").rglob("*") if path.is_file()}
    refused = run_daekit("train", "--resume", tmp_path / "run", "--strategy", "mirrored", "--cpu-devices", "2",
                         "--steps-per-execution", "4", env={**env, "DAEKIT_TEST_FAULT": ""})
    assert refused.returncode == 2, refused.stderr
    assert "keras-team/keras#19246" in refused.stderr and "Traceback" not in refused.stderr
    assert {path: path.read_bytes() for path in (tmp_path / "run").rglob("*") if path.is_file()} == before


def test_nan_loss_stops_naming_epoch_and_step_and_keeps_the_good_checkpoint(env, tmp_path, fashion_mnist):
    failed = train(env, tmp_path, "run", fault=f"nan:{at(STEPS + 8)}", check=False)
    assert failed.returncode == 1
    assert "the loss became nan at epoch 2, step 8 of 24" in failed.stderr
    assert "the last good checkpoint is at epoch 2, step 5" in failed.stderr
    assert status(tmp_path / "run")["status"] == "failed"
    assert not (tmp_path / "run" / "model.keras").exists()
    saved = list((tmp_path / "run" / "checkpoints").glob("*.weights.h5"))
    assert saved
    for path in saved:
        for name, array in arrays(path).items():
            assert array.dtype.kind != "f" or np.all(np.isfinite(array)), f"{path.name}:{name}"


@pytest.mark.parametrize("damage", ["truncated", "overwritten"])
def test_damaged_newest_checkpoint_falls_back_to_the_one_before(env, tmp_path, reference, killed, damage):
    shutil.copytree(killed, tmp_path / "run")
    newest = tmp_path / "run" / "checkpoints" / f"ckpt-{STEPS + 10:09d}.weights.h5"
    data = newest.read_bytes()
    if damage == "truncated":
        newest.write_bytes(data[:1000])
    else:  # 4 KB of the weights overwritten in place: the file keeps its length and still loads
        middle = len(data) // 2
        newest.write_bytes(data[:middle] + np.random.default_rng(0).bytes(4096) + data[middle + 4096:])
        assert newest.stat().st_size == len(data)
    resumed = train(env, tmp_path, "run")
    assert f"checkpoint {newest} is damaged or unreadable" in resumed.stderr
    if damage == "overwritten":
        assert "SHA-256" in resumed.stderr
    assert_same_weights(tmp_path / "run", reference)  # from the checkpoint at step 29, exactly


def test_changed_config_is_refused_and_added_epochs_continue(env, tmp_path, fashion_mnist):
    train(env, tmp_path, "run", "--epochs", "1")
    refused = train(env, tmp_path, "run", "--epochs", "1", "--lr", "0.01", "--encoder", "conv:filters=4,8,16",
                    check=False)
    assert refused.returncode == 2
    assert "learning_rate: saved 0.002, now 0.01" in refused.stderr
    assert "encoder: saved 'conv:filters=4,8,8', now 'conv:filters=4,8,16'" in refused.stderr
    assert status(tmp_path / "run")["status"] == "completed"  # left as it was
    train(env, tmp_path, "run", "--epochs", "2")
    assert len((tmp_path / "run" / "metrics.csv").read_text().splitlines()) == 3
    # Fewer epochs than the run has trained: refused before anything is written, so the plain
    # resume that follows still reports the completed run.
    before = {path: path.read_bytes() for path in (tmp_path / "run").rglob("*") if path.is_file()}
    fewer = run_daekit("train", "--resume", tmp_path / "run", "--epochs", "1", env={**env, "DAEKIT_TEST_FAULT": ""})
    assert fewer.returncode == 2 and "already trained 2 epochs" in fewer.stderr, fewer.stderr
    assert {path: path.read_bytes() for path in (tmp_path / "run").rglob("*") if path.is_file()} == before
    again = run_daekit("train", "--resume", tmp_path / "run", env={**env, "DAEKIT_TEST_FAULT": ""})
    assert again.returncode == 0 and "test PSNR" in again.stdout, again.stderr


def test_one_writer_per_run_directory(env, tmp_path, fashion_mnist):
    command = [sys.executable, "-m", "daekit", "train", *ARGS, "-o", str(tmp_path), "--name", "run"]
    first = subprocess.Popen(command, env={**__import__("os").environ, **env, "DAEKIT_TEST_FAULT": ""},
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 120
        while not (tmp_path / "run" / "lock").exists() or not (tmp_path / "run" / "lock").read_text():
            assert time.time() < deadline and first.poll() is None
            time.sleep(0.05)
        second = train(env, tmp_path, "run", check=False)
        assert second.returncode == 1
        assert f"run directory {tmp_path / 'run'} is being written by another daekit train (pid {first.pid})" in second.stderr
    finally:
        assert first.wait(timeout=300) == 0
    assert status(tmp_path / "run")["status"] == "completed"


@pytest.fixture(scope="module")
def one_epoch(env, tmp_path_factory, fashion_mnist):
    """A finished run of one epoch, for tests to copy and damage."""
    output = tmp_path_factory.mktemp("one-epoch")
    train(env, output, "run", "--epochs", "1")
    return output / "run"


@pytest.mark.parametrize("damage", [b"", b'{"status": "comp', bytes(range(256)) * 2, b"[1, 2]",
                                    b'{"status": "completed", "progress": [1]}'],
                         ids=["empty", "truncated", "random", "a-list", "wrong-shape"])
def test_a_damaged_status_file_is_named_and_the_run_resumes_from_its_checkpoints(env, tmp_path, one_epoch, damage):
    shutil.copytree(one_epoch, tmp_path / "run")
    (tmp_path / "run" / "status.json").write_bytes(damage)
    resumed = train(env, tmp_path, "run", "--epochs", "1")
    assert f"{tmp_path / 'run' / 'status.json'} is damaged" in " ".join(resumed.stderr.split())
    assert "Traceback" not in resumed.stderr and "test PSNR" in resumed.stdout
    assert status(tmp_path / "run")["status"] == "completed"


def test_a_damaged_checkpoint_record_is_named_as_itself(env, tmp_path, one_epoch):
    shutil.copytree(one_epoch, tmp_path / "run")
    newest = json.loads((tmp_path / "run" / "checkpoints" / "checkpoint.json").read_text())["latest"]
    record = tmp_path / "run" / "checkpoints" / f"{newest}.json"
    record.write_text("{")
    (tmp_path / "run" / "status.json").write_text("")  # so that the resume restores a checkpoint
    resumed = train(env, tmp_path, "run", "--epochs", "1")
    assert f"checkpoint {record} is damaged or unreadable" in " ".join(resumed.stderr.split())
    assert f"{newest}.weights.h5 is damaged" not in resumed.stderr


PATCH_ARGS = ["--encoder", "unet:filters=4,8,convs=1", "--decoder", "unet:filters=4,convs=1", "--patch", "16",
              "--patches-per-epoch", str(STEPS * 64), "--augment", "dihedral"]


def test_sigkill_in_a_patch_run_resumes_to_the_batches_and_weights_of_an_uninterrupted_one(env, tmp_path, fashion_mnist):
    # Each step's image, corner and turn come from (seed, epoch): the resumed epoch replays them.
    train(env, tmp_path / "reference", "run", *PATCH_ARGS)
    killed = train(env, tmp_path, "run", *PATCH_ARGS, fault=f"kill:{at(STEPS + 13)}", check=False)
    assert killed.returncode == -signal.SIGKILL
    train(env, tmp_path, "run", *PATCH_ARGS)
    assert status(tmp_path / "run")["status"] == "completed"
    assert_same_weights(tmp_path / "run", tmp_path / "reference" / "run")
