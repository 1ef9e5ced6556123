import keras
import numpy as np
import pytest

import daekit
from daekit.errors import ConfigError


def test_classic_model_has_the_published_parameter_counts(plugins):
    model = daekit.build_model("gaussian:stddev=0.1", "conv", "conv")
    non_trainable = sum(int(np.prod(w.shape)) for w in model.non_trainable_weights)
    assert model.count_params() == 186_511
    assert non_trainable == 642
    assert model.encoder.compute_output_shape((None, 28, 28, 1)) == (None, 2048)


def test_layers_of_the_classic_model(plugins):
    model = daekit.build_model()
    kinds = [type(layer).__name__ for layer in model.encoder.stack]
    assert kinds == ["Conv2D", "BatchNormalization", "LeakyReLU", "MaxPooling2D"] * 2 + [
        "Conv2D", "BatchNormalization", "LeakyReLU", "Flatten"]
    convs = [layer for layer in model.encoder.stack if isinstance(layer, keras.layers.Conv2D)]
    assert [(c.filters, c.padding) for c in convs] == [(32, "same"), (64, "valid"), (128, "valid")]
    transposed = [l for l in model.decoder.stack if isinstance(l, keras.layers.Conv2DTranspose)]
    assert [t.filters for t in transposed] == [64, 32, 1, 1]
    assert transposed[-1].activation.__name__ == "sigmoid"
    assert all(l.negative_slope == pytest.approx(0.2) for l in model.encoder.stack if isinstance(l, keras.layers.LeakyReLU))


def test_corruption_only_in_training_and_seeded(plugins):
    images = np.full((4, 28, 28, 1), 0.5, np.float32)
    corruption = daekit.build_model(seed=7).corruption
    assert np.array_equal(corruption(images), images)
    first = keras.ops.convert_to_numpy(corruption(images, training=True))
    second = keras.ops.convert_to_numpy(corruption(images, training=True))
    assert not np.array_equal(first, second)  # fresh noise every step
    again = daekit.build_model(seed=7).corruption
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(again(images, training=True)), first)
    assert first.min() >= 0.0 and first.max() <= 1.0
    assert abs(float(np.std(first)) - 0.1) < 0.01


def test_incompatible_encoder_and_decoder_is_a_clear_error(plugins):
    with pytest.raises(ConfigError, match=r"from a 4x4 map, but the encoder's code flattens a 7x7x128 map"):
        daekit.build_model("gaussian", "conv:padding=same", "conv")
    with pytest.raises(ConfigError, match=r"from a 4x4 map, but the encoder's code flattens a 12x12x16 map"):
        daekit.build_model("gaussian", "conv:filters=8,16", "conv")
    with pytest.raises(ConfigError, match="cannot produce images of 28x28 with 4 upsampling blocks"):
        daekit.build_model("gaussian", "conv", "conv:filters=8,8,8,8")


def test_every_bad_component_option_is_listed(plugins):
    with pytest.raises(ConfigError) as caught:
        daekit.build_model("gaussian:stddev=-1", "conv:filters=a", "nope")
    assert len(caught.value.problems) == 3


def test_config_round_trip_and_manifest(plugins):
    model = daekit.build_model("gaussian:stddev=0.2", "conv:filters=8,16,32", "conv:filters=16,8,tail_filters=8")
    rebuilt = daekit.DenoisingAutoencoder.from_config(model.get_config())
    assert rebuilt.corruption.options.stddev == 0.2
    assert rebuilt.encoder.options.filters == (8, 16, 32)
    assert model.manifest["encoder"] == {
        "kind": "encoder", "name": "conv", "registered_name": "daekit>ConvEncoder",
        "plugin": "conv", "distribution": "daekit", "version": daekit.__version__,
    }
    assert model.manifest["corruption"]["plugin"] == "noise"


def test_losses(plugins):
    y = np.zeros((2, 4, 4, 1), np.float32)
    p = np.full((2, 4, 4, 1), 0.5, np.float32)
    assert float(daekit.build_loss("mse")(y, p)) == pytest.approx(0.25)
    assert float(daekit.build_loss("mae")(y, p)) == pytest.approx(0.5)
    assert float(daekit.build_loss("bce")(y, p)) == pytest.approx(np.log(2), rel=1e-4)


def test_ssim_charbonnier_and_mixed_losses(plugins):
    import tensorflow as tf

    rng = np.random.default_rng(0)
    y = rng.random((3, 28, 28, 1), dtype=np.float32)
    p = np.clip(y + rng.normal(0, 0.1, y.shape), 0, 1).astype(np.float32)
    reference = float(tf.reduce_mean(tf.image.ssim(y, p, max_val=1.0)))
    assert float(daekit.build_loss("ssim")(y, p)) == pytest.approx(1.0 - reference, abs=1e-4)
    assert float(daekit.build_loss("ssim")(y, y)) == pytest.approx(0.0, abs=1e-5)
    from daekit.metrics import ssim as ssim_metric  # the training metric: separable, same values

    np.testing.assert_allclose(ssim_metric(y, p).numpy(), tf.image.ssim(y, p, max_val=1.0).numpy(), atol=1e-5)
    assert float(daekit.build_loss("charbonnier:epsilon=0.001")(y, y)) == pytest.approx(0.001, rel=1e-3)
    per_image_psnr = -10 * np.log10(np.mean((p - y) ** 2, axis=(1, 2, 3)))
    assert float(daekit.build_loss("psnr")(y, p)) == pytest.approx(80.0 - per_image_psnr.mean(), rel=1e-4)
    assert float(daekit.build_loss("psnr")(y, y)) == pytest.approx(0.0, abs=1e-6)  # epsilon 1e-8: -PSNR + 80
    mixed = float(daekit.build_loss("ssim_l1:alpha=0.5")(y, p))
    l1 = float(np.mean(np.abs(p - y)))
    assert mixed == pytest.approx(0.5 * (1.0 - reference) + 0.5 * l1, abs=1e-4)


def test_conv_activation_and_normalization_options(plugins):
    import keras

    model = daekit.build_model("gaussian", "conv:activation=gelu,normalization=layer", "conv:normalization=none")
    kinds = {type(layer).__name__ for layer in model.encoder.stack}
    assert "LayerNormalization" in kinds and "BatchNormalization" not in kinds
    assert any(isinstance(l, keras.layers.Activation) for l in model.encoder.stack)
    assert not any(isinstance(l, keras.layers.BatchNormalization) for l in model.decoder.stack)
    with pytest.raises(ConfigError, match="normalization='group'"):
        daekit.build_model("gaussian", "conv:normalization=group", "conv")


def test_psnr_metric_matches_tensorflow(plugins):
    import tensorflow as tf

    from daekit.metrics import per_image_scores, psnr

    rng = np.random.default_rng(1)
    y = rng.random((5, 28, 28, 1), dtype=np.float32)
    p = np.clip(y + rng.normal(0, 0.1, y.shape), 0, 1).astype(np.float32)
    np.testing.assert_allclose(psnr(y, p).numpy(), tf.image.psnr(y, p, max_val=1.0).numpy(), rtol=1e-5)
    np.testing.assert_allclose(per_image_scores(y, p, batch_size=2)["psnr"], tf.image.psnr(y, p, max_val=1.0).numpy(), rtol=1e-5)


# Modules that build, train-step, score and evaluate models: written in keras.ops so that they
# run on any Keras backend (bench/gpu_jax.py runs them on JAX). TensorFlow may be imported
# inside a function that runs only on the TensorFlow backend, never at module level.
BACKEND_INDEPENDENT = [
    "daekit/components.py", "daekit/config.py", "daekit/corruption.py", "daekit/evaluate.py",
    "daekit/layers.py", "daekit/manager.py", "daekit/metrics.py", "daekit/model.py",
    "daekit/optimizers.py", "daekit/options.py", "daekit/registry.py", "daekit/data/idx.py",
    "daekit/data/sources.py",
]


def test_model_code_imports_no_tensorflow_at_module_level():
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    paths = [root / name for name in BACKEND_INDEPENDENT] + sorted((root / "plugins").glob("*.py"))
    offenders = []
    for path in paths:
        for node in ast.parse(path.read_text()).body:
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{path.relative_to(root)}: {n}" for n in names if n.split(".")[0] == "tensorflow"]
    assert len(paths) > len(BACKEND_INDEPENDENT)  # the plugins were found
    assert offenders == []
