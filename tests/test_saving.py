import numpy as np
import pytest

import daekit
from daekit.errors import ModelFileError
from tests.conftest import FakeEntryPoint, run_daekit


def tiny(plugins=None, corruption="gaussian"):
    return daekit.build_model(corruption, "conv:filters=8,16,32", "conv:filters=16,8,tail_filters=8", plugins=plugins)


def test_save_and_load_give_the_same_outputs(plugins, tmp_path):
    model = tiny()
    images = np.random.default_rng(0).random((3, 28, 28, 1), dtype=np.float32)
    path = daekit.save_model(model, tmp_path / "m.keras")
    loaded = daekit.load_model(path)
    np.testing.assert_allclose(loaded.predict(images, verbose=0), model.predict(images, verbose=0), atol=1e-6)
    assert loaded.manifest == model.manifest
    assert not list(tmp_path.glob(".*partial*"))


def test_refuses_other_suffixes(plugins, tmp_path):
    with pytest.raises(ModelFileError, match="must end in .keras"):
        daekit.save_model(tiny(), tmp_path / "m.h5")


@pytest.mark.parametrize(
    "content, expected",
    [
        (b"not a zip at all", "not a zip archive, or truncated"),
        (None, "not a zip archive, or truncated"),  # a real file cut in half
    ],
)
def test_damaged_model_files(plugins, tmp_path, content, expected):
    path = daekit.save_model(tiny(), tmp_path / "m.keras")
    data = path.read_bytes()
    path.write_bytes(content if content is not None else data[: len(data) // 2])
    with pytest.raises(ModelFileError, match=expected) as caught:
        daekit.load_model(path)
    assert str(path) in str(caught.value)


def test_missing_file(plugins, tmp_path):
    with pytest.raises(ModelFileError, match="no such model file"):
        daekit.load_model(tmp_path / "nothing.keras")


def test_missing_plugin_names_the_distribution(fake_entry_points, tmp_path):
    plugins = fake_entry_points(FakeEntryPoint("invert", "tests.plugins.invert", "daekit-invert", "2.0"))
    path = daekit.save_model(tiny(plugins, corruption="invert:p=0.3"), tmp_path / "m.keras")
    # A fresh process, where the plugin is not installed.
    result = run_daekit("evaluate", path, "--limit", "10")
    assert result.returncode == 1, result.stderr
    message = " ".join(result.stderr.split())
    assert "needs the corruption 'invert' from plugin 'invert' (daekit-invert 2.0)" in message
    assert "pip install daekit-invert" in message


def test_a_config_error_inside_a_saved_model_is_reported_plainly(plugins, tmp_path):
    import json
    import zipfile

    path = daekit.save_model(tiny(), tmp_path / "m.keras")
    with zipfile.ZipFile(path) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    config = json.loads(files["config.json"])
    config["config"]["encoder"]["config"]["kernel_size"] = -3
    files["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    with pytest.raises(ModelFileError, match=r"m.keras: cannot load the model: encoder 'conv': kernel_size=-3: must be >= 1"):
        daekit.load_model(path)


def test_models_saved_with_the_old_batch_norm_option_load(plugins):
    from daekit.plugins.conv import ConvDecoder, ConvEncoder

    assert ConvEncoder.from_config({"name": "conv", "batch_norm": False}).options.normalization == "none"
    assert ConvDecoder.from_config({"name": "conv", "batch_norm": True}).options.normalization == "batch"
