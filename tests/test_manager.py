import pytest

import daekit
from daekit.errors import PluginError, UnknownComponentError
from tests.conftest import FakeEntryPoint


def test_builtins_load_through_entry_points(plugins):
    assert {"noise", "quantize", "masking", "scratches", "blur", "compose", "conv", "losses"} <= set(plugins.infos)
    assert all(info.status == "ok" and info.distribution == "daekit" for info in plugins.infos.values())
    assert set(plugins.registries["corruption"].names()) == {
        "gaussian", "poisson", "speckle", "salt_and_pepper", "uniform", "quantize", "jpeg", "pixel_dropout",
        "coarse_dropout", "grid_mask", "line_mask", "scratches", "gaussian_blur", "motion_blur", "downscale",
        "chain", "one_of", "none", "blind_spot"}
    assert set(plugins.registries["loss"].names()) >= {"mse", "mae", "bce", "masked", "blind_spot"}
    assert plugins.infos["conv"].hooks == ["register_decoders", "register_encoders"]


def test_broken_plugin_is_reported_and_others_still_work(fake_entry_points):
    plugins = fake_entry_points(FakeEntryPoint("broken", "tests.plugins.broken_import", "daekit-broken", "1.2.3"))
    info = plugins.infos["broken"]
    assert info.status == "failed"
    assert info.distribution == "daekit-broken" and info.version == "1.2.3"
    assert "daekit_this_module_does_not_exist" in info.error
    assert plugins.component("corruption", "gaussian").name == "gaussian"
    with pytest.raises(UnknownComponentError) as caught:
        plugins.component("corruption", "sparkles")
    assert "'broken' (daekit-broken 1.2.3) failed to load" in str(caught.value)


def test_misspelt_hook_is_reported(fake_entry_points):
    plugins = fake_entry_points(FakeEntryPoint("typo", "tests.plugins.misspelt_hook"))
    info = plugins.infos["typo"]
    assert info.status == "failed"
    assert "register_corruption" in info.error
    assert "did you mean 'register_corruption' -> 'register_corruptions'?" in info.error
    assert plugins.infos["noise"].status == "ok"


def test_duplicate_name_names_both_plugins(fake_entry_points):
    plugins = fake_entry_points(FakeEntryPoint("dup", "tests.plugins.duplicate_gaussian", "daekit-dup", "0.1"))
    assert plugins.infos["dup"].status == "failed"
    with pytest.raises(PluginError) as caught:
        plugins.component("corruption", "gaussian")
    message = str(caught.value)
    assert "'noise' (daekit 0.1.0)" in message and "'dup' (daekit-dup 0.1)" in message
    assert "DAEKIT_LOAD_PLUGINS" in message
    assert plugins.component("corruption", "poisson").name == "poisson"  # the clash blocks only its own name


@pytest.mark.parametrize(
    "module, expected",
    [
        ("tests.plugins.unregistered", "not registered with Keras"),
        ("tests.plugins.not_a_corruption", "not a subclass of daekit.Corruption"),
    ],
)
def test_invalid_registrations_are_refused(fake_entry_points, module, expected):
    plugins = fake_entry_points(FakeEntryPoint("bad", module))
    assert plugins.infos["bad"].status == "failed"
    assert expected in plugins.infos["bad"].error
    assert "nothing" not in plugins.registries["corruption"] and "unregistered" not in plugins.registries["corruption"]


def test_valid_third_party_plugin_registers(fake_entry_points):
    plugins = fake_entry_points(FakeEntryPoint("invert", "tests.plugins.invert", "daekit-invert", "2.0"))
    assert plugins.infos["invert"].status == "ok"
    assert plugins.registries["corruption"].plugin_of("invert").distribution == "daekit-invert"


def test_unknown_component_suggests_a_close_name(plugins):
    with pytest.raises(UnknownComponentError) as caught:
        plugins.component("encoder", "cnov")
    assert "did you mean 'conv'?" in str(caught.value)
    assert "Known encoders: conv" in str(caught.value)


def test_load_plugins_filter(fake_entry_points, monkeypatch):
    monkeypatch.setenv("DAEKIT_LOAD_PLUGINS", "daekit")
    plugins = fake_entry_points(FakeEntryPoint("invert", "tests.plugins.invert"))
    plugins2 = daekit.manager.Plugins()
    plugins2.load_entry_points()
    assert "invert" not in plugins2.infos and "noise" in plugins2.infos
    assert "invert" in plugins.infos  # only="" loads everything


def test_no_module_imports_the_top_level_plugins_name():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    for path in [*root.glob("daekit/**/*.py"), *root.glob("plugins/**/*.py"), *root.glob("tests/**/*.py")]:
        for line in path.read_text().splitlines():
            stripped = line.strip()
            assert not stripped.startswith(("import plugins", "from plugins")), f"{path}: {line}"
    for path in root.glob("daekit/**/*.py"):
        assert "daekit.plugins" not in path.read_text(), f"the core must not import built-ins: {path}"


def test_unknown_names_list_the_known_ones_in_plain_words(plugins):
    with pytest.raises(UnknownComponentError, match="Known losses: "):
        plugins.component("loss", "nosuch")
    with pytest.raises(UnknownComponentError, match="Known corruptions: "):
        plugins.component("corruption", "nosuch")
