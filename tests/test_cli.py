"""The real `daekit` command, run in subprocesses on the real Fashion-MNIST."""

import csv
import json

import numpy as np
import pytest

from tests.conftest import TINY_MODEL, run_daekit


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, fashion_mnist):
    out = tmp_path_factory.mktemp("runs")
    result = run_daekit(
        "train", *TINY_MODEL, "--epochs", "2", "--limit", "400", "--test-limit", "64",
        "--batch-size", "32", "--output", out, "--name", "tiny", "--seed", "3",
    )
    assert result.returncode == 0, result.stderr
    return out / "tiny", result


def test_train_leaves_a_complete_run_directory(tiny_run):
    run_dir, result = tiny_run
    assert "test PSNR: noisy" in result.stdout
    assert json.loads((run_dir / "status.json").read_text())["status"] == "completed"
    rows = list(csv.DictReader((run_dir / "metrics.csv").open()))
    assert len(rows) == 2
    assert {"loss", "val_loss", "val_psnr", "val_ssim"} <= set(rows[0])
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["seed"] == 3 and manifest["data"]["train"] == 360 and manifest["data"]["test"] == 64
    assert manifest["model"]["encoder"]["distribution"] == "daekit"
    assert manifest["devices"]
    assert "limit = 400" in (run_dir / "config.toml").read_text()
    for figure in ("epoch_001.png", "epoch_002.png", "loss.png", "test_denoised.png"):
        assert (run_dir / "figures" / figure).read_bytes()[:4] == b"\x89PNG"
    assert list((run_dir / "logs").rglob("events.out.tfevents*"))
    evaluation = json.loads((run_dir / "evaluation.json").read_text())
    assert evaluation["images"] == 64
    assert 21.0 < evaluation["noisy"]["psnr"] < 22.2


def test_one_line_per_epoch_when_not_a_terminal(tiny_run):
    _, result = tiny_run
    assert result.stdout.count("Epoch ") == 2
    assert "val_psnr" in result.stdout


def test_reloads_in_a_fresh_process_with_the_same_outputs(tiny_run, tmp_path):
    import daekit

    run_dir, _ = tiny_run
    images = np.random.default_rng(1).random((4, 28, 28, 1), dtype=np.float32)
    np.save(tmp_path / "x.npy", images)
    script = (
        "import sys, numpy as np, daekit;"
        f"m = daekit.load_model({str(run_dir / 'model.keras')!r});"
        f"np.save({str(tmp_path / 'y.npy')!r}, m.predict(np.load({str(tmp_path / 'x.npy')!r}), verbose=0))"
    )
    import subprocess
    import sys

    subprocess.run([sys.executable, "-c", script], check=True, capture_output=True)
    here = daekit.load_model(run_dir / "model.keras").predict(images, verbose=0)
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), here, atol=1e-6)


def test_evaluate_prints_a_table_and_writes_json(tiny_run, tmp_path):
    run_dir, _ = tiny_run
    result = run_daekit("evaluate", run_dir / "model.keras", "--limit", "64", "--json", tmp_path / "e.json",
                        "--csv", tmp_path / "e.csv", "--figures", tmp_path / "figs")
    assert result.returncode == 0, result.stderr
    for method in ("noisy input", "total variation", "wavelet", "non-local means", "model"):
        assert method in result.stdout
    report = json.loads((tmp_path / "e.json").read_text())
    rows = {row["method"]: row for row in report["rows"]}
    recorded = json.loads((run_dir / "evaluation.json").read_text())
    assert rows["noisy input"]["psnr"] == pytest.approx(recorded["noisy"]["psnr"], rel=1e-5)
    assert rows["model"]["psnr"] == pytest.approx(recorded["denoised"]["psnr"], rel=1e-4)
    assert rows["non-local means"]["psnr"] > rows["noisy input"]["psnr"]
    assert (tmp_path / "e.csv").read_text().splitlines()[0] == "corruption,method,psnr,ssim,images_per_second"
    for figure in ("heatmap.png", "comparison_1.png"):
        assert (tmp_path / "figs" / figure).read_bytes()[:4] == b"\x89PNG"


def test_evaluate_a_robustness_matrix(tiny_run, tmp_path):
    run_dir, _ = tiny_run
    result = run_daekit("evaluate", run_dir / "model.keras", "--limit", "50", "--baselines", "tv", "--workers", "2",
                        "--corruption", "gaussian:severity=1", "--corruption", "scratches:severity=3", "--json", tmp_path / "m.json")
    assert result.returncode == 0, result.stderr
    assert "total variation" in result.stdout
    report = json.loads((tmp_path / "m.json").read_text())
    rows = report["rows"]
    assert report["workers"] == 2
    assert [(r["corruption"], r["method"]) for r in rows] == [
        (c, m) for c in ("gaussian:severity=1", "scratches:severity=3") for m in ("noisy input", "total variation", "model")]
    result = run_daekit("evaluate", run_dir / "model.keras", "--baselines", "tv,median")
    assert result.returncode == 2 and "baselines=median: unknown" in result.stderr


def test_denoise_image_files(tiny_run, tmp_path):
    import tensorflow as tf

    run_dir, _ = tiny_run
    rng = np.random.default_rng(0)
    inputs = []
    for name, shape in (("a.png", (28, 28, 1)), ("b.png", (40, 30, 3))):
        path = tmp_path / name
        tf.io.write_file(str(path), tf.io.encode_png(rng.integers(0, 256, shape, dtype=np.uint8)))
        inputs.append(path)
    # The tiny model flattens its map to a code: it takes 28x28 images only, and says why.
    result = run_daekit("denoise", run_dir / "model.keras", *inputs, "--out", tmp_path / "out")
    assert result.returncode == 2 and "b.png are 40x30" in result.stderr and "not fully convolutional" in result.stderr
    assert not (tmp_path / "out").exists()
    result = run_daekit("denoise", run_dir / "model.keras", *inputs, "--out", tmp_path / "out", "--resize")
    assert result.returncode == 0, result.stderr
    for name, shape in (("a.png", (28, 28, 1)), ("b.png", (40, 30, 3))):  # each at its own size and channels
        image = tf.io.decode_png(tf.io.read_file(str(tmp_path / "out" / name))).numpy()
        assert image.shape == shape
    (tmp_path / "bad.png").write_bytes(b"not a png")
    result = run_daekit("denoise", run_dir / "model.keras", tmp_path / "bad.png", "--out", tmp_path / "out2")
    assert result.returncode == 1
    assert "bad.png: not a PNG file" in result.stderr
    assert not (tmp_path / "out2").exists()
    (tmp_path / "file").write_text("")
    result = run_daekit("denoise", run_dir / "model.keras", inputs[0], "--out", tmp_path / "file")
    assert result.returncode == 1 and "--out" in result.stderr and "is a file" in result.stderr


def test_article_preset_runs_the_classic_model(tmp_path, fashion_mnist):
    result = run_daekit("train", "--preset", "article", "--epochs", "1", "--limit", "200", "--test-limit", "50",
                        "--output", tmp_path, "--name", "article")
    assert result.returncode == 0, result.stderr
    manifest = json.loads((tmp_path / "article" / "manifest.json").read_text())
    assert manifest["parameters"] == {"total": 186511, "non_trainable": 642}
    config = (tmp_path / "article" / "config.toml").read_text()
    assert "learning_rate = 3e-06" in config and "beta_1 = 0.99" in config and "batch_size = 64" in config


def test_plugins_and_components_commands():
    result = run_daekit("plugins", "--json")
    assert result.returncode == 0, result.stderr
    names = {p["name"]: p for p in json.loads(result.stdout)}
    assert names["conv"]["status"] == "ok" and names["conv"]["distribution"] == "daekit"
    result = run_daekit("components")
    assert result.returncode == 0
    for word in ("corruptions", "gaussian", "stddev=0.1", "tail_filters=1", "mse", "bce"):
        assert word in result.stdout


def test_preview_every_severity_and_chosen_corruptions(tmp_path, fashion_mnist):
    result = run_daekit("preview", "--out", tmp_path / "all.png", "--images", "4")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "all.png").read_bytes()[:4] == b"\x89PNG"
    result = run_daekit("preview", "--out", tmp_path / "some.png", "--corruption", "scratches:severity=3",
                        "--corruption", "one_of[jpeg:quality=10 | grid_mask]:weights=1,1")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "some.png").stat().st_size > 10_000
    result = run_daekit("preview", "--out", tmp_path / "bad.png", "--corruption", "scrathces")
    assert result.returncode == 2
    assert "did you mean 'scratches'?" in " ".join(result.stderr.split())
    assert not (tmp_path / "bad.png").exists()


def test_preview_a_folder_of_colour_images(tmp_path):
    import tensorflow as tf

    rng = np.random.default_rng(0)
    for index in range(4):
        tf.io.write_file(str(tmp_path / "imgs" / f"{index}.png"),
                         tf.io.encode_png(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)))
    result = run_daekit("preview", "--out", tmp_path / "f.png", "--data", tmp_path / "imgs", "--channels", "3",
                        "--resize", "32", "--corruption", "jpeg:severity=4", "--images", "2")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "f.png").exists()


HELP_WITHOUT_TENSORFLOW = """
import sys
from daekit.cli import main
sys.argv = ["daekit", *sys.argv[1:]]
try:
    main()
except SystemExit:
    pass
print("tensorflow imported:", "tensorflow" in sys.modules, "keras imported:", "keras" in sys.modules)
"""


@pytest.mark.parametrize("args", [["--help"], ["train", "--help"], ["evaluate", "--help"]])
def test_help_starts_neither_keras_nor_tensorflow(args):
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-c", HELP_WITHOUT_TENSORFLOW, *args], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert "Usage: daekit" in result.stdout
    assert result.stdout.strip().endswith("tensorflow imported: False keras imported: False")


def test_train_options_are_the_declared_settings():
    # One declaration per setting: the CLI's options, names and help texts are read from it.
    import attrs
    import typer

    from daekit.cli import app
    from daekit.config import TrainConfig

    command = typer.main.get_command(app).commands["train"]
    options = {param.name: param for param in command.params}
    assert set(options) == {field.name for field in attrs.fields(TrainConfig)} | {"config", "resume"}
    for field in attrs.fields(TrainConfig):
        assert options[field.name].help == field.metadata["help"]
        assert f"--{field.name.replace('_', '-')}" in options[field.name].opts
    assert "--lr" in options["learning_rate"].opts and options["corruption"].multiple


def test_plugins_exits_1_when_a_plugin_failed_to_load(tmp_path):
    from tests.conftest import installed_plugin

    env = installed_plugin(tmp_path, "tests.plugins.broken_import", "broken")
    result = run_daekit("plugins", env=env)
    assert result.returncode == 1
    assert "broken" in result.stdout and "failed" in result.stdout
    assert "1 plugin(s) failed to load: 'broken' (daekit-broken 1.0)" in " ".join(result.stderr.split())
    assert run_daekit("plugins", "--json", env=env).returncode == 1


def test_listing_plugins_and_components_reads_the_catalogue_without_tensorflow(tmp_path):
    import subprocess
    import sys

    env = {**__import__("os").environ, "DAEKIT_CACHE": str(tmp_path)}

    def listing(*args):
        return subprocess.run([sys.executable, "-c", HELP_WITHOUT_TENSORFLOW, *args], capture_output=True, text=True,
                              timeout=300, env=env)

    first = listing("components", "loss")  # nothing cached yet: the plugins load, and Keras with them
    assert first.returncode == 0, first.stderr
    assert "tensorflow imported: True" in first.stdout and "masked" in first.stdout
    [catalogue] = tmp_path.glob("catalogue-*.json")
    for args in (["components", "loss"], ["plugins", "--json"]):
        again = listing(*args)
        assert again.returncode == 0, again.stderr
        assert again.stdout.strip().endswith("tensorflow imported: False keras imported: False")
    assert listing("components", "loss").stdout.splitlines()[:-1] == first.stdout.splitlines()[:-1]
    catalogue.write_text("{damaged")  # a damaged catalogue is rebuilt, not trusted
    rebuilt = listing("components", "loss")
    assert rebuilt.returncode == 0 and "masked" in rebuilt.stdout and "tensorflow imported: True" in rebuilt.stdout
    fewer = subprocess.run([sys.executable, "-m", "daekit", "components", "loss"], capture_output=True, text=True,
                           timeout=300, env={**env, "DAEKIT_LOAD_PLUGINS": "noise"})
    assert fewer.returncode == 0 and "masked" not in fewer.stdout  # another plugin set, another catalogue
