"""The Python API, as the README shows it, on small real data."""

import json
import math

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

import daekit
from daekit.evaluate import corrupt_images


def test_build_fit_evaluate_save_load(plugins, fashion_mnist, tmp_path):
    model = daekit.build_model("gaussian:stddev=0.2", "conv:filters=8,16,32", "conv:filters=16,8,tail_filters=8", seed=0)
    model.compile(optimizer="adam", loss=daekit.build_loss("mse"))
    data = daekit.load_data("fashion-mnist")
    clean = data.train[:256].astype("float32") / 255
    history = model.fit(clean, clean, epochs=2, batch_size=64, verbose=0)
    assert history.history["loss"][1] < history.history["loss"][0]
    report = daekit.evaluate_model(model, data.test[:100])
    assert report["images"] == 100 and report["corruption"] == {"name": "gaussian", "stddev": 0.2, "stddev_max": 0.0}
    assert 15.0 < report["noisy"]["psnr"] < 17.0
    path = daekit.save_model(model, tmp_path / "model.keras")
    again = daekit.load_model(path)
    noisy = corrupt_images(model.corruption, data.test[:8], seed=5)
    np.testing.assert_allclose(again.predict(noisy, verbose=0), model.predict(noisy, verbose=0), atol=1e-6)


def test_evaluation_predicts_one_batch_per_call_and_leaves_the_model_as_compiled(plugins):
    from daekit.evaluate import timed_predict

    model = daekit.build_model("gaussian:stddev=0.1", "conv:filters=4,8,8", "conv:filters=8,4,tail_filters=4", seed=0)
    model.compile(optimizer="adam", loss="mse", steps_per_execution=4)
    noisy = np.random.default_rng(0).random((70, 28, 28, 1)).astype("float32")
    seen = []
    step = model.predict_step
    object.__setattr__(model, "predict_step", lambda data: seen.append(model.steps_per_execution) or step(data))
    outputs, seconds = timed_predict(model, noisy, batch_size=16)
    assert outputs.shape == noisy.shape and seconds > 0 and set(seen) == {1}
    assert model.steps_per_execution == 4
    np.testing.assert_allclose(outputs, model.predict(noisy, batch_size=16, verbose=0), atol=1e-6)


def test_evaluation_noise_is_the_same_for_every_model(plugins, fashion_mnist):
    data = daekit.load_data("fashion-mnist")
    first = daekit.build_model(seed=1).corruption
    second = daekit.build_model(seed=2).corruption
    np.testing.assert_array_equal(corrupt_images(first, data.test[:64], seed=9), corrupt_images(second, data.test[:64], seed=9))


def test_train_from_python(plugins, fashion_mnist, tmp_path):
    import keras

    class ValidationBatches(keras.callbacks.Callback):
        count = 0

        def on_test_batch_begin(self, batch, logs=None):
            self.count += 1

    counter = ValidationBatches()
    config = daekit.TrainConfig.resolve(
        encoder="conv:filters=8,16,32", decoder="conv:filters=16,8,tail_filters=8", epochs=1,
        limit=600, validation_split=0.5, test_limit=50, output=str(tmp_path), name="lib", seed=4,
    )
    run = daekit.train(config, verbose=0, callbacks=[counter])
    assert run.run_dir == tmp_path / "lib"
    assert set(run.history) >= {"loss", "val_loss", "val_psnr", "val_ssim"}
    assert (run.run_dir / "model.keras").exists()
    assert run.evaluation["images"] == 50
    # The 300 validation images go through in evaluation's batches of 256, not the training batch's 64.
    assert counter.count == 2
    assert json.loads((run.run_dir / "manifest.json").read_text())["pipeline"]["validation_batch_size"] == 256


def test_flip_augmentation_mirrors_half_of_each_epoch_in_the_same_order():
    from daekit.data.pipeline import training_dataset

    images = np.random.default_rng(0).integers(0, 256, (40, 6, 5, 1), dtype=np.uint8)
    plain = np.concatenate([x.numpy() for x, _ in training_dataset(images, 8, seed=3, epochs=2)])
    flipped = np.concatenate([x.numpy() for x, _ in training_dataset(images, 8, seed=3, epochs=2, augment="flip")])
    mirrored = np.all(flipped == plain[:, :, ::-1], axis=(1, 2, 3))
    assert np.all(mirrored | np.all(flipped == plain, axis=(1, 2, 3)))  # same images, same order
    assert 20 <= mirrored.sum() <= 60 and mirrored[:40].tolist() != mirrored[40:].tolist()
    # A run resumed after 3 batches of the second epoch sees exactly the batches it would have.
    resumed = np.concatenate([x.numpy() for x, _ in training_dataset(images, 8, 3, 1, 2, 3, augment="flip")])
    np.testing.assert_array_equal(resumed, flipped[64:])
    with pytest.raises(daekit.ConfigError, match="augment='rotate'"):
        training_dataset(images, 8, seed=3, augment="rotate")


def test_a_failed_run_is_marked_failed(plugins, tmp_path, monkeypatch):
    import json

    from daekit import report

    def explode(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(report, "save_model", explode)
    config = daekit.TrainConfig.resolve(
        encoder="conv:filters=8,16,32", decoder="conv:filters=16,8,tail_filters=8", epochs=1,
        limit=100, test_limit=20, output=str(tmp_path), name="fails",
    )
    with pytest.raises(RuntimeError, match="disk full"):
        daekit.train(config, verbose=0)
    status = json.loads((tmp_path / "fails" / "status.json").read_text())
    assert status["status"] == "failed" and "disk full" in status["error"]


def test_plugins_can_add_commands(plugins):
    class CommandPlugin:
        @daekit.hookimpl
        def register_commands(self, app):
            @app.command()
            def hello(name: str):
                print(f"hello {name}")

    plugins.add(CommandPlugin(), name="hello")
    app = typer.Typer()

    @app.command()
    def other():
        pass

    plugins.add_commands(app)
    result = CliRunner().invoke(app, ["hello", "world"])
    assert result.exit_code == 0 and "hello world" in result.output


@pytest.mark.parametrize("name, quarter", [("cosine", 0.5e-3 * (1 + math.cos(math.pi / 4))), ("linear", 0.75e-3)])
def test_schedules_decay_the_learning_rate_to_zero(plugins, name, quarter):
    from daekit.optimizers import make_optimizer

    config = daekit.TrainConfig.resolve(schedule=name, epochs=2, learning_rate=1e-3)
    rate = make_optimizer(config, steps_per_epoch=10)._learning_rate
    assert [float(rate(step)) for step in (0, 5, 10, 20)] == pytest.approx([1e-3, quarter, 0.5e-3, 0.0], abs=1e-9)


def test_presets_schedules():
    assert daekit.TrainConfig.resolve().schedule == "cosine"
    assert daekit.TrainConfig.resolve(preset="article").schedule == "constant"
    assert daekit.TrainConfig.resolve(preset="unet").schedule == "cosine"


def test_a_directory_that_is_not_a_run_is_not_taken_over(tmp_path):
    from daekit.rundir import RunDirectory

    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    config = daekit.TrainConfig.resolve(output=str(tmp_path), name="mine")
    with pytest.raises(daekit.ConfigError, match="exists and is not a daekit run directory"):
        RunDirectory.open(config)
    assert [p.name for p in (tmp_path / "mine").iterdir()] == ["notes.txt"]


def test_classical_denoisers_in_worker_processes_give_the_same_images(plugins, fashion_mnist):
    from daekit import baselines

    noisy = corrupt_images(daekit.build_model(seed=1).corruption, daekit.load_data("fashion-mnist").test[:12], 1234)
    alone = baselines.denoise("tv", noisy)
    assert np.array_equal(baselines.denoise("tv", noisy, workers=2), alone)
    stronger = baselines.denoise("tv", noisy, strength=2.0)  # total variation: smoother, so less spread
    assert np.mean(np.std(stronger, axis=(1, 2, 3))) < np.mean(np.std(alone, axis=(1, 2, 3)))
    assert baselines.BASELINES["tv"][1](noisy)[0].shape == alone[0].shape == (28, 28, 1)
    with pytest.raises(daekit.ConfigError, match="baselines=median: unknown"):
        baselines.denoise("median", noisy)
    with pytest.raises(daekit.ConfigError, match="workers=0: give at least 1 process"):
        baselines.denoise("tv", noisy, workers=0)


def test_refused_resumes_change_nothing_and_equivalent_components_resume(plugins, fashion_mnist, tmp_path):
    import attrs

    settings = dict(encoder="conv:filters=8,16,32", decoder="conv:filters=16,8,tail_filters=8", epochs=2, limit=100,
                    test_limit=20, output=str(tmp_path), name="r")
    first = daekit.train(daekit.TrainConfig.resolve(**settings), verbose=0)
    run = tmp_path / "r"

    def files():
        return {path: path.read_bytes() for path in run.rglob("*") if path.is_file()}

    before = files()
    with pytest.raises(daekit.ConfigError, match=r"epochs=1: the run in .* already trained 2 epochs"):
        daekit.train(attrs.evolve(daekit.TrainConfig.resolve(**settings), epochs=1), verbose=0)
    with pytest.raises(daekit.ConfigError, match="corruption: saved 'gaussian:stddev=0.1', now 'gaussian:stddev=0.2'"):
        daekit.train(daekit.TrainConfig.resolve(**settings, corruption="gaussian:stddev=0.2"), verbose=0)
    assert files() == before  # refused before a byte of the run directory was written
    # Specs that build the same corruption are the same run: it reports its results.
    for same in ("gaussian", "gaussian:stddev=0.10", "gaussian:stddev=0.1,probability=1"):
        again = daekit.train(daekit.TrainConfig.resolve(**settings, corruption=same), verbose=0)
        assert again.evaluation == first.evaluation


@pytest.mark.parametrize("name", ["../escape", "a/b", "..", "."])
def test_a_run_name_is_one_path_component(name):
    with pytest.raises(daekit.ConfigError, match="a run's name is one path component"):
        daekit.TrainConfig.resolve(name=name)
