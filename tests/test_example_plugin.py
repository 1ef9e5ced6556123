"""The tutorial's third-party plugin package, installed for real and used through the CLI."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import TINY_MODEL, run_daekit

EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "examples" / "daekit-vignette"


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(EXAMPLE)],
        check=True, capture_output=True, text=True,
    )
    return {"PYTHONPATH": str(target)}


def test_the_plugin_is_found_through_its_entry_point(installed):
    result = run_daekit("plugins", "--json", env=installed)
    assert result.returncode == 0, result.stderr
    plugins = {p["name"]: p for p in json.loads(result.stdout)}
    assert plugins["vignette"]["distribution"] == "daekit-vignette"
    assert plugins["vignette"]["status"] == "ok"


def test_the_plugin_passes_its_own_tests(installed):
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(EXAMPLE / "tests")],
        capture_output=True, text=True, env={**__import__("os").environ, **installed}, cwd=EXAMPLE,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_train_with_the_plugin_then_load_without_it(installed, tmp_path, fashion_mnist):
    result = run_daekit(
        "train", "--corruption", "vignette:severity=3", "--corruption", "gaussian:stddev=0.05", *TINY_MODEL,
        "--epochs", "1", "--limit", "300", "--test-limit", "100", "--output", tmp_path, "--name", "vig", env=installed,
    )
    assert result.returncode == 0, result.stderr
    run = tmp_path / "vig"
    assert "corruption = \"chain[vignette:severity=3 | gaussian:stddev=0.05]\"" in (run / "config.toml").read_text()
    assert json.loads((run / "evaluation.json").read_text())["corruption"]["children"][0]["name"] == "vignette"
    result = run_daekit("evaluate", run / "model.keras", "--limit", "50", env=installed)
    assert result.returncode == 0, result.stderr
    result = run_daekit("evaluate", run / "model.keras", "--limit", "50")  # the plugin is not installed here
    assert result.returncode == 1
    message = " ".join(result.stderr.split())
    assert "needs the corruption 'vignette'" in message or "vignette" in message
    assert "pip install daekit-vignette" in message
