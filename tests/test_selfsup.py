"""Denoising without clean images: the blind-spot corruption's rule, a loss that sees only the
hidden pixels, Noise2Void on one noisy image and Noise2Noise on noisy pairs through the real
`daekit` command, reloading, resuming, and the runs that cannot learn refused before they start."""

import json

import keras
import numpy as np
import pytest

import daekit
from daekit.data.files import read_image, write_image
from daekit.errors import ConfigError, DataError
from daekit.model import build_component, build_loss
from tests.conftest import run_daekit
from tests.test_faults import arrays as every_array

TINY_UNET = ["--encoder", "unet:filters=4,8,convs=1", "--decoder", "unet:filters=4,convs=1"]
SHORT = ["--patch", "32", "--patches-per-epoch", "32", "--batch-size", "8", "--epochs", "1"]


def noisy_picture(shape, seed=0, sigma=0.1, noise_seed=None):
    """A smooth 16-bit picture under Gaussian noise (drawn from ``noise_seed``), and its clean self."""
    rng = np.random.default_rng(seed if noise_seed is None else noise_seed)
    y, x = np.mgrid[: shape[0], : shape[1]]
    clean = (0.5 + 0.4 * np.sin(x / 9.0 + seed) * np.cos(y / 11.0))[..., None] * np.ones(shape[2])
    noisy = np.clip(clean + sigma * rng.standard_normal(shape), 0, 1)
    return np.rint(noisy * 65535).astype(np.uint16), np.rint(clean * 65535).astype(np.uint16)


@pytest.mark.parametrize("spec", ["blind_spot:rate=0.05", "blind_spot:rate=0.05,radius=1", "blind_spot:rate=0.05,replace=median"])
@pytest.mark.parametrize("shape", [(3, 9, 14, 1), (2, 5, 7, 3)])
def test_hidden_pixels_take_a_value_from_other_pixels_of_their_neighbourhood(spec, shape):
    corruption = build_component("corruption", spec, seed=0)
    radius = corruption.options.radius
    images = np.random.default_rng(1).random(shape).astype("float32")  # no two pixels alike
    hidden, mask = (np.asarray(a) for a in corruption.corrupt_with_mask(keras.ops.convert_to_tensor(images), 7))
    assert mask.shape == images.shape and set(np.unique(mask)) <= {0.0, 1.0}
    assert (mask == mask[..., :1]).all()  # a pixel's channels are hidden together
    np.testing.assert_array_equal(hidden[mask == 0], images[mask == 0])  # the rest is untouched
    spots = np.argwhere(mask[..., 0] > 0)
    assert len(spots) > 0
    for b, y, x in spots:
        others = np.array([images[b, y + dy, x + dx] for dy in range(-radius, radius + 1)
                           for dx in range(-radius, radius + 1) if (dy, dx) != (0, 0)
                           and 0 <= y + dy < shape[1] and 0 <= x + dx < shape[2]])
        if corruption.options.replace == "median":
            np.testing.assert_allclose(hidden[b, y, x], np.median(others, axis=0), rtol=1e-6)
        else:  # another pixel of the image, inside the square: never the pixel itself
            assert (others == hidden[b, y, x]).all(axis=1).any()
            assert not np.array_equal(hidden[b, y, x], images[b, y, x])


def test_the_hidden_share_follows_the_rate_and_the_seed():
    corruption = build_component("corruption", "blind_spot:rate=0.02", seed=0)
    images = keras.ops.convert_to_tensor(np.random.default_rng(0).random((8, 64, 64, 1)).astype("float32"))
    first = np.asarray(corruption.corrupt_with_mask(images, 3)[1])
    assert 0.015 < first.mean() < 0.025
    np.testing.assert_array_equal(first, np.asarray(corruption.corrupt_with_mask(images, 3)[1]))
    assert not np.array_equal(first, np.asarray(corruption.corrupt_with_mask(images, 4)[1]))
    assert not np.array_equal(first[0], first[1])  # drawn per image


@pytest.mark.parametrize("direction, axis", [("horizontal", 2), ("vertical", 1)])
def test_structured_blind_spots_also_hide_a_line_but_score_only_its_centre(direction, axis):
    corruption = build_component("corruption", f"blind_spot:rate=0.01,struct={direction},span=5", seed=0)
    images = np.full((1, 40, 40, 1), 0.5, "float32")
    hidden, mask = (np.asarray(a)[0, ..., 0] for a in corruption.corrupt_with_mask(keras.ops.convert_to_tensor(images), 2))
    changed = hidden != 0.5
    for y, x in np.argwhere(mask > 0):
        for step in (-2, -1, 1, 2):
            near = (y + step, x) if axis == 1 else (y, x + step)
            if 0 <= near[0] < 40 and 0 <= near[1] < 40 and not mask[near]:
                assert changed[near]
    lines = np.zeros_like(changed)
    for y, x in np.argwhere(mask > 0):
        if axis == 1:
            lines[max(0, y - 2):y + 3, x] = True
        else:
            lines[y, max(0, x - 2):x + 3] = True
    assert not (changed & ~lines).any()  # nothing off the lines changes


def test_the_loss_and_its_gradient_see_only_the_hidden_pixels():
    model = daekit.build_model("blind_spot:rate=0.05", "unet:filters=4,8,convs=1", "unet:filters=4,convs=1",
                               image_shape=(16, 16, 1), seed=0)
    model.compile(optimizer="adam", loss=build_loss("blind_spot"))
    noisy = keras.ops.convert_to_tensor(np.random.default_rng(0).random((4, 16, 16, 1)).astype("float32"))
    import tensorflow as tf

    with tf.GradientTape() as tape:
        output = model(noisy, training=True)
        tape.watch(output)
        mask = np.asarray(model._pending_mask)
        loss = model.compute_loss(noisy, noisy, output)
    gradient = np.asarray(tape.gradient(loss, output))
    assert mask.sum() > 0
    assert (gradient[mask == 0] == 0).all() and (gradient[mask > 0] != 0).all()
    expected = np.mean((np.asarray(output) - np.asarray(noisy))[mask > 0] ** 2)
    np.testing.assert_allclose(float(loss), expected, rtol=1e-5)


def test_redraw_compares_with_a_second_independent_draw():
    model = daekit.build_model("gaussian:stddev=0.1", "conv:filters=4,8,8", "conv:filters=8,4,tail_filters=4", seed=0)
    model.compile(optimizer="adam", loss="mse")
    object.__setattr__(model, "redraw_target", True)
    clean = keras.ops.convert_to_tensor(np.full((2, 28, 28, 1), 0.5, "float32"))
    output = model(clean, training=True)
    target = np.asarray(model._pending_target)
    noise = target - 0.5
    assert 0.08 < noise.std() < 0.12
    loss = float(model.compute_loss(clean, clean, output))
    np.testing.assert_allclose(loss, np.mean((np.asarray(output) - target) ** 2), rtol=1e-5)


@pytest.fixture(scope="module")
def noisy_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("noisy")
    for folder in ("noisy", "copies", "clean", "partial"):
        (root / folder).mkdir()
    for seed, name in enumerate(("a", "b", "c", "d")):
        noisy, clean = noisy_picture((48, 56, 1), seed)
        write_image(root / "noisy" / f"{name}.png", noisy)
        write_image(root / "copies" / f"{name}.tif", noisy_picture((48, 56, 1), seed, noise_seed=seed + 10)[0])
        write_image(root / "clean" / f"{name}.png", clean)
    write_image(root / "partial" / "a.png", noisy_picture((48, 56, 1), 0, noise_seed=10)[0])
    return root


@pytest.fixture(scope="module")
def n2v_run(noisy_files, tmp_path_factory):
    output = tmp_path_factory.mktemp("runs")
    result = run_daekit("train", "--preset", "n2v", "--data", noisy_files / "noisy" / "a.png", *TINY_UNET, *SHORT,
                        "-o", output, "--name", "n2v")
    assert result.returncode == 0, result.stdout + result.stderr
    return output / "n2v", result


def test_noise2void_trains_on_one_noisy_image_and_restores_it(n2v_run, noisy_files, tmp_path):
    run_dir, result = n2v_run
    assert "test noise2void loss:" in result.stdout and "Traceback" not in result.stderr
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["data"]["files"] == {"train": ["a.png"], "validation": ["a.png"], "test": ["a.png"]}
    assert "noise2void" in manifest["pipeline"]["target"] and manifest["pipeline"]["single_image"]
    evaluation = json.loads((run_dir / "evaluation.json").read_text())
    assert evaluation["method"] == "noise2void" and evaluation["self_supervised_loss"] > 0
    assert "noisy" not in evaluation  # nothing clean to score PSNR against
    header = (run_dir / "metrics.csv").read_text().splitlines()[0]
    assert header == "epoch,loss,val_loss"
    for figure in ("epoch_001.png", "loss.png", "test_denoised.png"):
        assert (run_dir / "figures" / figure).stat().st_size > 1000
    restored = run_daekit("denoise", run_dir / "model.keras", noisy_files / "noisy" / "a.png", "--out", tmp_path)
    assert restored.returncode == 0, restored.stdout + restored.stderr
    image = read_image(tmp_path / "a.png")
    assert image.shape == (48, 56, 1) and image.dtype == np.uint16
    # Reloaded, the model is the run's: same output, blind-spot corruption and loss included.
    model = daekit.load_model(run_dir / "model.keras")
    assert type(model.corruption).name == "blind_spot"
    noisy = read_image(noisy_files / "noisy" / "a.png")[None].astype("float32") / 65535
    np.testing.assert_allclose(np.asarray(model.predict(noisy, verbose=0))[0, ..., 0] * 65535,
                               image[..., 0].astype(float), atol=1.0)


def test_a_noise2void_model_is_scored_against_clean_references_when_there_are_some(n2v_run, noisy_files):
    result = run_daekit("evaluate", n2v_run[0] / "model.keras", "--pairs", noisy_files / "noisy", noisy_files / "clean",
                        "--baselines", "none")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "model" in result.stdout
    # Its own corruption hides pixels: it is no noise to score it under.
    refused = run_daekit("evaluate", n2v_run[0] / "model.keras", "--data", noisy_files / "clean", "--baselines", "none")
    assert refused.returncode == 2 and "draws no noise to evaluate under" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_noise2noise_trains_on_pairs_of_noisy_files(noisy_files, tmp_path):
    result = run_daekit("train", "--data", noisy_files / "noisy", "--pairs", noisy_files / "copies", "--target", "noisy",
                        "--corruption", "none", "--validation-split", "0.3", *TINY_UNET, *SHORT, "-o", tmp_path,
                        "--name", "n2n")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "test noise2noise loss:" in result.stdout
    evaluation = json.loads((tmp_path / "n2n" / "evaluation.json").read_text())
    assert evaluation["method"] == "noise2noise" and evaluation["images"] == 1
    assert "second noisy copies" in json.loads((tmp_path / "n2n" / "manifest.json").read_text())["pipeline"]["target"]


def test_noise2noise_pipeline_gives_the_same_patch_of_both_copies(noisy_files):
    from daekit.data import pipeline

    config = daekit.TrainConfig.resolve(data=str(noisy_files / "noisy"), pairs=str(noisy_files / "copies"),
                                        target="noisy", corruption="none", patch=16, patches_per_epoch=8, batch_size=4)
    plan = pipeline.prepare(config)
    inputs, targets = next(iter(pipeline.patch_dataset(plan, 4, seed=0)))
    difference = np.asarray(targets) - np.asarray(inputs)
    assert 0.1 < difference.std() < 0.2  # two independent draws of sigma 0.1, of the same clean pixels
    assert abs(difference.mean()) < 0.02


def test_a_self_supervised_run_resumes_to_the_weights_of_an_uninterrupted_one(noisy_files, tmp_path):
    settings = dict(preset="n2v", data=str(noisy_files / "noisy"), encoder="unet:filters=4,8,convs=1",
                    decoder="unet:filters=4,convs=1", patch=16, patches_per_epoch=16, batch_size=8,
                    validation_split=0.3, deterministic=True, output=str(tmp_path),
                    schedule="constant")  # a decay over the run would change with the epochs asked for

    def run(name, epochs):
        return daekit.train(daekit.TrainConfig.resolve(name=name, epochs=epochs, **settings), verbose=0)

    run("whole", 2)
    run("resumed", 1)
    run("resumed", 2)

    def arrays(name):
        pointer = json.loads((tmp_path / name / "checkpoints" / "checkpoint.json").read_text())
        return every_array(tmp_path / name / "checkpoints" / f"{pointer['latest']}.weights.h5")

    whole, resumed = arrays("whole"), arrays("resumed")
    assert whole.keys() == resumed.keys() and len(whole) > 10 and any("seed_state" in key for key in whole)
    for key in whole:
        np.testing.assert_array_equal(resumed[key], whole[key], err_msg=key)
    assert ((tmp_path / "whole" / "metrics.csv").read_text() == (tmp_path / "resumed" / "metrics.csv").read_text())


@pytest.mark.parametrize("settings, message", [
    (dict(target="noisy"), "fashion-mnist is clean"),
    (dict(target="noisy", data="FILES/a.png"), "would learn to copy its noisy input"),
    (dict(target="noisy", data="FILES/a.png", corruption="blind_spot"), "use --loss blind_spot"),
    (dict(data="FILES/a.png"), "is one image"),
    (dict(pairs="FILES"), "needs --target noisy"),
    (dict(target="redraw", corruption="none"), "draws no noise"),
    (dict(loss="blind_spot"), "scores only hidden pixels"),
    (dict(target="noisy", data="FILES", pairs="FILES/../partial", corruption="none"), "b.png: no image of that name"),
])
def test_runs_that_cannot_learn_are_refused_before_the_directory_is_written(noisy_files, tmp_path, settings, message):
    settings = {key: value.replace("FILES", str(noisy_files / "noisy")) for key, value in settings.items()}
    with pytest.raises((ConfigError, DataError), match=message):
        daekit.train(daekit.TrainConfig.resolve(output=str(tmp_path), name="refused", **settings), verbose=0)
    assert not (tmp_path / "refused").exists()
