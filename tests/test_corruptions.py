"""Every built-in corruption against the conformance checks, severities on real data,
per-image randomness, masks, probability and composition."""

import json

import keras
import numpy as np
import pytest

import daekit
from daekit.corruption import SEVERITY_BANDS, ReplicaSeedGenerator
from daekit.errors import ConfigError
from daekit.evaluate import corrupt_images, to_float
from daekit.manager import Plugins
from daekit.metrics import per_image_scores
from daekit.model import build_component
from daekit.testing import check_component
from tests.conftest import run_daekit

_builtins = Plugins()
_builtins.load_entry_points(only="daekit")
CORRUPTIONS = _builtins.registries["corruption"].names()
WITH_SEVERITIES = [name for name in CORRUPTIONS if _builtins.registries["corruption"].get(name).SEVERITIES]
COMPOSITE_EXAMPLE = "[gaussian | salt_and_pepper:probability=0.5]"
# Levels that cannot reach their band on 28x28 Fashion-MNIST (docs/corruptions.md says why).
OUTSIDE_BAND = {("downscale", 1), ("downscale", 2), ("jpeg", 5)}


def example(name):
    return f"{name}{COMPOSITE_EXAMPLE}" if name in ("chain", "one_of") else name


@pytest.fixture(scope="module")
def test_images(fashion_mnist):
    return to_float(daekit.load_data("fashion-mnist").test[:300])


@pytest.mark.parametrize("name", CORRUPTIONS)
def test_conformance(plugins, name, tmp_path):
    check_component(build_component("corruption", example(name)), tmp_path)


@pytest.mark.parametrize("name", WITH_SEVERITIES)
def test_severity_levels_fall_in_their_bands(plugins, name, test_images):
    cls = plugins.component("corruption", name)
    means = []
    for level in range(1, 6):
        noisy = corrupt_images(cls(severity=level), test_images, seed=0)
        means.append(float(np.mean(np.minimum(per_image_scores(test_images, noisy)["psnr"], 60.0))))
        low, high = SEVERITY_BANDS[level]
        if (name, level) not in OUTSIDE_BAND:
            assert low - 0.5 <= means[-1] < high + 0.5, f"{name} severity {level}: {means[-1]:.1f} dB"
    assert all(a > b for a, b in zip(means, means[1:]) if b < 40), f"{name}: PSNR must fall with severity: {means}"


def test_severity_and_explicit_options(plugins):
    assert build_component("corruption", "gaussian:severity=3").options.stddev == 0.12
    assert build_component("corruption", "gaussian:severity=3,stddev=0.12").options.stddev == 0.12
    with pytest.raises(ConfigError, match="severity 3 sets stddev; give one or the other"):
        build_component("corruption", "gaussian:severity=3,stddev=0.3")
    with pytest.raises(ConfigError, match="severity='9': levels are 1, 2, 3, 4, 5"):
        build_component("corruption", "gaussian:severity=9")
    with pytest.raises(ConfigError, match="probability=1.5"):
        build_component("corruption", "gaussian:probability=1.5")


def test_random_parameters_are_drawn_per_image(plugins):
    images = np.full((64, 28, 28, 1), 0.5, np.float32)
    out = keras.ops.convert_to_numpy(build_component("corruption", "gaussian:stddev=0.02,stddev_max=0.2").apply(images, 3))
    per_image = (out - images).reshape(64, -1).std(axis=1)
    assert per_image.min() < 0.06 and per_image.max() > 0.15
    dropped = keras.ops.convert_to_numpy(build_component("corruption", "coarse_dropout:value=0").apply(images, 3))
    positions = (dropped == 0).reshape(64, -1)
    assert len({row.tobytes() for row in positions}) == 64  # holes differ from image to image


def test_probability_and_one_of_weights(plugins):
    images = np.full((200, 8, 8, 1), 0.5, np.float32)
    never = build_component("corruption", "gaussian:probability=0")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(never.apply(images, 1)), images)
    half = keras.ops.convert_to_numpy(build_component("corruption", "gaussian:probability=0.5").apply(images, 1))
    touched = (half != images).reshape(200, -1).any(axis=1).mean()
    assert 0.35 < touched < 0.65
    only_first = build_component("corruption", "one_of[uniform:amplitude=0.01 | salt_and_pepper:amount=1]:weights=1,0")
    out = keras.ops.convert_to_numpy(only_first.apply(images, 2))
    assert np.abs(out - images).max() <= 0.01
    with pytest.raises(ConfigError, match="3 weights for 2 parts"):
        build_component("corruption", "one_of[gaussian | uniform]:weights=1,2,3")


def test_masks_cover_exactly_the_touched_pixels(plugins):
    images = np.random.default_rng(0).uniform(0.2, 0.8, (8, 28, 28, 3)).astype(np.float32)
    for spec in ("pixel_dropout", "coarse_dropout:fill=noise", "grid_mask", "line_mask", "salt_and_pepper", "scratches:severity=4"):
        corrupted, mask = build_component("corruption", spec).apply(images, 4, with_mask=True)
        corrupted, mask = keras.ops.convert_to_numpy(corrupted), keras.ops.convert_to_numpy(mask)
        assert mask.mean() > 0.0, spec
        np.testing.assert_array_equal(corrupted[mask == 0], images[mask == 0], err_msg=spec)


def test_replica_seed_generator_draws_as_a_plain_one_on_one_device():
    # The replica offset (tests/test_distribute.py) must leave single-device runs unchanged.
    plain, aware = keras.random.SeedGenerator(7), ReplicaSeedGenerator(7)
    for _ in range(3):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(keras.random.normal((16,), seed=plain)),
                                      keras.ops.convert_to_numpy(keras.random.normal((16,), seed=aware)))


def test_seed_state_survives_save_and_reload(plugins, tmp_path):
    model = daekit.build_model("gaussian", "conv:filters=4,4,4", "conv:filters=4,4,tail_filters=4", seed=5)
    images = np.full((2, 28, 28, 1), 0.5, np.float32)
    for _ in range(3):
        model.corruption(images, training=True)
    loaded = daekit.load_model(daekit.save_model(model, tmp_path / "m.keras"))
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(loaded.corruption(images, training=True)),
        keras.ops.convert_to_numpy(model.corruption(images, training=True)),
    )


def test_composition_from_toml_and_python(plugins, tmp_path):
    path = tmp_path / "run.toml"
    path.write_text('corruption = ["gaussian:stddev=0.05", "scratches:severity=2"]\n'
                    '[loss]\nname = "masked"\nweight = 4\n')
    config = daekit.TrainConfig.resolve(file=path)
    assert str(config.corruption) == "[gaussian:stddev=0.05 | scratches:severity=2]"
    chain = build_component("corruption", config.corruption)
    assert [type(c).name for c in chain.children] == ["gaussian", "scratches"] and type(chain).chains
    table = {"name": "one_of", "weights": [3, 1], "parts": ["jpeg:quality=10", {"name": "uniform", "amplitude": 0.1}]}
    one_of = build_component("corruption", daekit.ComponentSpec.coerce(table))
    assert one_of.options.weights == (3.0, 1.0) and one_of.children[1].options.amplitude == 0.1


def test_a_list_of_corruptions_needs_a_plugin_that_chains(tmp_path):
    # The core knows the chaining corruption only by what it declares (chains = True), so a
    # plugin set without one says so instead of failing on a name it assumed.
    without = Plugins()
    without.load_entry_points(only="noise")
    with pytest.raises(daekit.ConfigError, match="needs a corruption that chains its parts"):
        build_component("corruption", ["gaussian", "uniform"], without)
    assert type(build_component("corruption", "gaussian", without)).name == "gaussian"
    result = run_daekit("train", "--corruption", "gaussian", "--corruption", "uniform", "-o", tmp_path,
                        env={"DAEKIT_LOAD_PLUGINS": "noise,conv,losses"})
    assert result.returncode == 2 and "needs a corruption that chains its parts" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and not any(tmp_path.iterdir())


def test_masked_loss_weights_touched_pixels(plugins):
    loss = daekit.build_loss("masked:weight=5")
    y = np.zeros((1, 2, 2, 1), np.float32)
    p = np.full((1, 2, 2, 1), 0.5, np.float32)
    mask = np.array([1, 0, 0, 0], np.float32).reshape(1, 2, 2, 1)
    assert float(loss(y, p)) == pytest.approx(0.25)
    assert float(loss(y, p, sample_weight=loss.pixel_weights(mask))) == pytest.approx(0.25 * 8 / 4)


def test_masked_loss_trains_with_the_corruption_mask(plugins, fashion_mnist):
    clean = to_float(daekit.load_data("fashion-mnist").train[:128])
    model = daekit.build_model("coarse_dropout", "conv:filters=4,8,8", "conv:filters=8,4,tail_filters=4", seed=0)
    model.compile(optimizer="adam", loss=daekit.build_loss("masked:weight=20"))
    weighted = model.fit(clean, clean, epochs=1, batch_size=64, verbose=0, shuffle=False).history["loss"][0]
    model2 = daekit.build_model("coarse_dropout", "conv:filters=4,8,8", "conv:filters=8,4,tail_filters=4", seed=0)
    model2.compile(optimizer="adam", loss=daekit.build_loss("masked:weight=1"))
    plain = model2.fit(clean, clean, epochs=1, batch_size=64, verbose=0, shuffle=False).history["loss"][0]
    assert weighted > plain * 1.5  # the same first step, the dropped blocks weigh 20 times more


def test_evaluation_records_composed_corruptions(plugins):
    from daekit.evaluate import describe_corruption

    chain = build_component("corruption", "chain[gaussian:stddev=0.2 | jpeg:quality=10,probability=0.5]")
    described = describe_corruption(chain)
    assert [part["name"] for part in described["children"]] == ["gaussian", "jpeg"]
    assert described["children"][1]["probability"] == 0.5
    json.dumps(described)


@pytest.mark.parametrize("kind", ["encoder", "decoder", "loss"])
def test_other_components_conform(plugins, kind, tmp_path):
    for name in plugins.registries[kind].names():
        check_component(build_component(kind, name), tmp_path)


@keras.saving.register_keras_serializable(package="tests")
class StaleNoise(daekit.Corruption):
    """Noise that takes an int seed but ignores a seed generator: the same noise at every step."""

    name = "stale_noise"

    def corrupt(self, images, seed):
        seed = seed if isinstance(seed, int) else 0
        return keras.ops.clip(images + keras.random.normal(keras.ops.shape(images), stddev=0.1, seed=seed), 0.0, 1.0)


def test_check_component_catches_noise_that_repeats_at_every_step(tmp_path):
    with pytest.raises(AssertionError, match="two training steps drew the same noise"):
        check_component(StaleNoise(seed=1), tmp_path)
