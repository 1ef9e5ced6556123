"""A full disk loses nothing and says so: real runs on a small tmpfs (where this machine lets
the tests mount one; skipped with the reason otherwise)."""

import json
import subprocess

import pytest

from tests.conftest import run_daekit

TINY = ["--encoder", "conv:filters=4,8,8", "--decoder", "conv:filters=8,4,tail_filters=4", "--limit", "300",
        "--test-limit", "32"]


@pytest.fixture
def small_disk(tmp_path):
    mounted = []

    def mount(size):
        point = tmp_path / f"disk{len(mounted)}"
        point.mkdir()
        result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(point)],
                                capture_output=True, text=True)
        if result.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip() or 'mount failed'}")
        mounted.append(point)
        return point

    yield mount
    for point in mounted:
        subprocess.run(["umount", str(point)], capture_output=True)


def assert_one_line_error(result, *words):
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and "Segmentation" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and all(word in errors[0] for word in words), result.stderr


def test_a_run_that_fills_the_disk_stops_with_one_line_and_a_readable_status(small_disk):
    disk = small_disk("100k")
    result = run_daekit("train", *TINY, "--epochs", "1", "-o", disk, "--name", "full")
    assert_one_line_error(result, "cannot write", "free")
    status = json.loads((disk / "full" / "status.json").read_text())
    assert status["status"] == "failed" and "free" in status["error"]
    assert not [path for path in (disk / "full").rglob("*") if "partial" in path.name]


def test_extending_a_completed_run_on_a_full_disk_keeps_its_record_and_model(small_disk):
    disk = small_disk("3m")
    assert run_daekit("train", *TINY, "--epochs", "1", "-o", disk, "--name", "done").returncode == 0
    record, model = (disk / "done" / "status.json").read_bytes(), (disk / "done" / "model.keras").read_bytes()
    filler = disk / "filler"
    with open(filler, "wb", buffering=0) as handle:  # fill it to the last block
        try:
            while True:
                handle.write(b"\0" * 4096)
        except OSError:
            pass
    result = run_daekit("train", *TINY, "--epochs", "2", "-o", disk, "--name", "done")
    assert_one_line_error(result)
    assert (disk / "done" / "status.json").read_bytes() == record
    assert json.loads(record)["status"] == "completed"
    assert (disk / "done" / "model.keras").read_bytes() == model
