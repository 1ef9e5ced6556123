"""daekit export: each format written from a trained model, then run back in a process that
cannot import daekit (nor the plugin a part came from), against the model's own output."""

import json
import subprocess
import sys

import numpy as np
import pytest

import daekit
from daekit.tiling import predict_tiled
from tests.conftest import FakeEntryPoint, run_daekit

TINY_UNET = ["--encoder", "unet:filters=4,8,convs=1", "--decoder", "unet:filters=4,convs=1"]

# Runs each export with its format's own runtime; daekit cannot be imported.
WITHOUT_DAEKIT = r"""
import json, sys
sys.modules["daekit"] = None
import numpy as np
checks = json.loads(sys.argv[1])
for check in checks:
    images = np.load(check["input"])
    if check["format"] == "saved_model":
        import tensorflow as tf
        served = tf.saved_model.load(check["path"]).signatures["serving_default"]
        out = served(images=tf.constant(images))["denoised"].numpy()
    elif check["format"] == "onnx":
        import onnxruntime
        session = onnxruntime.InferenceSession(check["path"], providers=["CPUExecutionProvider"])
        out = session.run(None, {"images": images})[0]
    else:
        from ai_edge_litert.interpreter import Interpreter
        out = Interpreter(model_path=check["path"]).get_signature_runner()(images=images)["denoised"]
    np.save(check["output"], out)
print("ran", len(checks))
"""


@pytest.fixture(scope="module")
def trained(tmp_path_factory, fashion_mnist):
    output = tmp_path_factory.mktemp("runs")
    result = run_daekit("train", *TINY_UNET, "--limit", "256", "--test-limit", "32", "--epochs", "1", "-o", output,
                        "--name", "tiny")
    assert result.returncode == 0, result.stderr
    return output / "tiny"


def run_without_daekit(tmp_path, exports, images):
    """Each (format, path) run on ``images`` by its runtime in a process without daekit."""
    checks = []
    for index, (format, path) in enumerate(exports):
        np.save(tmp_path / f"in{index}.npy", images)
        checks.append({"format": format, "path": str(path), "input": str(tmp_path / f"in{index}.npy"),
                       "output": str(tmp_path / f"out{index}.npy")})
    result = subprocess.run([sys.executable, "-c", WITHOUT_DAEKIT, json.dumps(checks)], capture_output=True, text=True,
                            timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    return [np.load(check["output"]) for check in checks]


def test_every_format_runs_without_daekit_at_two_sizes(tmp_path, trained):
    exports = [("saved_model", tmp_path / "sm"), ("onnx", tmp_path / "tiny.onnx"), ("litert", tmp_path / "tiny.tflite")]
    result = run_daekit("export", trained / "model.keras", "--format", "onnx", "--out", exports[1][1])
    assert result.returncode == 0, result.stderr
    assert "wrote" in result.stdout and exports[1][1].is_file()
    daekit.export(trained / "model.keras", exports[0][1], "saved_model")
    daekit.export(trained / "model.keras", exports[2][1], "litert")
    model = daekit.load_model(trained / "model.keras")
    rng = np.random.default_rng(0)
    for height, width in [(28, 28), (45, 37)]:  # the training size and one the U-Net must pad
        images = rng.random((2, height, width, 1), dtype=np.float32)
        expected = np.stack([np.clip(predict_tiled(model, image, tile=4096), 0, 1) for image in images])
        for (format, _), got in zip(exports, run_without_daekit(tmp_path, exports, images)):
            assert got.shape == images.shape, format
            assert np.abs(got - expected).max() < 1e-5, format
    card = json.loads((tmp_path / "tiny.onnx.card.json").read_text())
    assert card["parameters"] == model.count_params() and card["accepts"]["any_size"]
    assert card["accepts"]["channels"] == 1 and card["training_corruption"]["name"] == "gaussian"
    assert card["evaluation"] == json.loads((trained / "evaluation.json").read_text())  # what the run recorded
    assert card["versions"]["onnxruntime"] and card["checked"]["images"][0]["max_difference"] < 1e-5
    markdown = (tmp_path / "tiny.onnx.card.md").read_text()
    assert "any height and width" in markdown and f"{model.count_params():,}" in markdown
    assert (tmp_path / "sm.card.md").is_file() and (tmp_path / "tiny.tflite.card.json").is_file()


def test_a_model_with_a_plugin_part_runs_without_the_plugin(tmp_path, fake_entry_points):
    plugins = fake_entry_points(FakeEntryPoint("invert", "tests.plugins.invert", "daekit-invert", "2.0"))
    model = daekit.build_model("invert:p=0.5", "conv:filters=4,8", "conv:filters=8,tail_filters=4",
                               image_shape=(28, 28, 1), seed=0, plugins=plugins)
    daekit.save_model(model, tmp_path / "plugin.keras")
    exported = daekit.export(daekit.load_model(tmp_path / "plugin.keras", plugins=plugins), tmp_path / "plugin.onnx",
                             "onnx")
    card = json.loads((tmp_path / "plugin.onnx.card.json").read_text())
    assert card["training_corruption"]["distribution"] == "daekit-invert" and not card["accepts"]["any_size"]
    assert card["accepts"]["height"] == 28  # a dense code: its training size only
    images = np.random.default_rng(1).random((3, 28, 28, 1), dtype=np.float32)
    (got,) = run_without_daekit(tmp_path, [("onnx", exported)], images)
    np.testing.assert_allclose(got, np.clip(model.predict(images, verbose=0), 0, 1), atol=1e-5)


def test_a_failed_check_leaves_the_earlier_export_as_it_was(tmp_path, trained, monkeypatch):
    from daekit import deploy

    path = daekit.export(trained / "model.keras", tmp_path / "sm", "saved_model")
    before = {p.relative_to(path): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}
    card = (tmp_path / "sm.card.json").read_bytes()
    monkeypatch.setattr(deploy, "TOLERANCE", -1.0)  # no output can pass
    with pytest.raises(daekit.ExportError, match=r"differs from the model by .*/sm was left as it was"):
        daekit.export(trained / "model.keras", path, "saved_model")
    assert {p.relative_to(path): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()} == before
    assert (tmp_path / "sm.card.json").read_bytes() == card
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sm", "sm.card.json", "sm.card.md"]  # no leftovers


@pytest.mark.parametrize("args, message", [
    (["--format", "tflite", "--out", "x.tflite"], "--format 'tflite': choose one of saved_model, onnx, litert"),
    (["--format", "onnx", "--out", "x.tflite"], "onnx exports are one file whose name ends in .onnx"),
    (["--format", "saved_model", "--out", "x.onnx"], "a saved_model export is a directory"),
    (["--format", "onnx", "--out", "x.onnx", "--robustness", "nope.json"], "--robustness nope.json: not a readable JSON"),
])
def test_bad_formats_and_destinations_are_refused_before_any_work(tmp_path, args, message):
    result = run_daekit("export", tmp_path / "absent.keras", *args, cwd=tmp_path)
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert not list(tmp_path.iterdir())


def test_a_missing_optional_package_gives_the_install_line(tmp_path, trained):
    blocked = ("import sys; sys.modules['onnxruntime'] = None; sys.argv = ['daekit'] + sys.argv[1:]; "
               "from daekit.cli import main; main()")
    result = subprocess.run([sys.executable, "-c", blocked, "export", str(trained / "model.keras"), "--format", "onnx",
                             "--out", str(tmp_path / "x.onnx")], capture_output=True, text=True, timeout=300)
    assert result.returncode == 1
    assert "needs onnxruntime, which is not installed: pip install 'daekit[export]'" in result.stderr
    assert not list(tmp_path.iterdir())
