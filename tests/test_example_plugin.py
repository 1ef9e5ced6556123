"""The example third-party plugin packages, installed for real and used through the CLI: the
tutorial's corruption (daekit-vignette) and a skip-connected encoder/decoder pair with a loss
on the corrupted pixels (daekit-ladder)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import TINY_MODEL, run_daekit

EXAMPLES = Path(__file__).resolve().parents[1] / "docs" / "examples"
EXAMPLE = EXAMPLES / "daekit-vignette"


def install(example: Path, target: Path) -> dict:
    """pip-install an example package into ``target``; the environment that finds it."""
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(example)],
        check=True, capture_output=True, text=True,
    )
    return {"PYTHONPATH": str(target)}


def own_tests(example: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(example / "tests")],
        capture_output=True, text=True, env={**__import__("os").environ, **env}, cwd=example,
    )


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    return install(EXAMPLE, tmp_path_factory.mktemp("site"))


@pytest.fixture(scope="module")
def ladder(tmp_path_factory):
    return install(EXAMPLES / "daekit-ladder", tmp_path_factory.mktemp("ladder"))


def test_the_plugin_is_found_through_its_entry_point(installed):
    result = run_daekit("plugins", "--json", env=installed)
    assert result.returncode == 0, result.stderr
    plugins = {p["name"]: p for p in json.loads(result.stdout)}
    assert plugins["vignette"]["distribution"] == "daekit-vignette"
    assert plugins["vignette"]["status"] == "ok"


def test_the_plugin_passes_its_own_tests(installed):
    result = own_tests(EXAMPLE, installed)
    assert result.returncode == 0, result.stdout + result.stderr


def test_train_with_the_plugin_then_load_without_it(installed, tmp_path, fashion_mnist):
    result = run_daekit(
        "train", "--corruption", "vignette:severity=3", "--corruption", "gaussian:stddev=0.05", *TINY_MODEL,
        "--epochs", "1", "--limit", "300", "--test-limit", "100", "--output", tmp_path, "--name", "vig", env=installed,
    )
    assert result.returncode == 0, result.stderr
    run = tmp_path / "vig"
    assert "corruption = \"[vignette:severity=3 | gaussian:stddev=0.05]\"" in (run / "config.toml").read_text()
    assert json.loads((run / "evaluation.json").read_text())["corruption"]["children"][0]["name"] == "vignette"
    result = run_daekit("evaluate", run / "model.keras", "--limit", "50", env=installed)
    assert result.returncode == 0, result.stderr
    result = run_daekit("evaluate", run / "model.keras", "--limit", "50")  # the plugin is not installed here
    assert result.returncode == 1
    message = " ".join(result.stderr.split())
    assert "needs the corruption 'vignette'" in message or "vignette" in message
    assert "pip install daekit-vignette" in message


def test_the_ladder_pair_and_loss_pass_check_component(ladder):
    result = own_tests(EXAMPLES / "daekit-ladder", ladder)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 passed" in result.stdout


def test_train_with_the_ladder_pair_and_the_mask_loss_from_the_cli(ladder, tmp_path, fashion_mnist):
    result = run_daekit(
        "train", "--corruption", "coarse_dropout", "--encoder", "ladder:filters=8,16", "--decoder", "ladder:filters=8",
        "--loss", "touched:floor=0.2", "--epochs", "1", "--limit", "300", "--test-limit", "50",
        "--output", tmp_path, "--name", "ladder", env=ladder,
    )
    assert result.returncode == 0, result.stderr
    manifest = json.loads((tmp_path / "ladder" / "manifest.json").read_text())
    assert manifest["model"]["encoder"]["distribution"] == "daekit-ladder"
    evaluation = json.loads((tmp_path / "ladder" / "evaluation.json").read_text())
    assert evaluation["denoised"]["psnr"] > 0 and (tmp_path / "ladder" / "model.keras").exists()
