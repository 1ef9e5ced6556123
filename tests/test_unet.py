"""The skip-connection contract between encoders and decoders, through the U-Net pair."""

import numpy as np
import pytest

import daekit
from daekit.errors import ConfigError


def test_unet_assembles_saves_and_reloads(plugins, tmp_path):
    model = daekit.build_model("gaussian", "unet:filters=8,16,32", "unet:filters=16,8", seed=0)
    images = np.random.default_rng(0).random((3, 28, 28, 1), dtype=np.float32)
    out = model.predict(images, verbose=0)
    assert out.shape == images.shape and out.min() >= 0.0 and out.max() <= 1.0
    loaded = daekit.load_model(daekit.save_model(model, tmp_path / "u.keras"))
    np.testing.assert_allclose(loaded.predict(images, verbose=0), out, atol=1e-6)


@pytest.mark.parametrize("merge", ["add", "project"])
def test_cheaper_merges_save_and_reload_and_cost_less(plugins, tmp_path, merge):
    encoder = "unet:filters=8,16,32"
    cheaper = daekit.build_model("gaussian", encoder, f"unet:filters=16,8,merge={merge}", seed=0)
    stacked = daekit.build_model("gaussian", encoder, "unet:filters=16,8", seed=0)
    # Each block's first 3x3 convolution reads 16 or 8 channels (add), or 16+16 and 8+8
    # (project), instead of 32+16 or 16+8; the 2x2 transposed convolutions that upsample, or
    # the 1x1 convolutions that project, cost less than that saves.
    assert cheaper.count_params() < stacked.count_params()
    images = np.random.default_rng(0).random((3, 28, 28, 1), dtype=np.float32)
    out = cheaper.predict(images, verbose=0)
    assert out.shape == images.shape
    loaded = daekit.load_model(daekit.save_model(cheaper, tmp_path / f"{merge}.keras"))
    np.testing.assert_allclose(loaded.predict(images, verbose=0), out, atol=1e-6)


def test_residual_unet_starts_near_the_identity(plugins):
    model = daekit.build_model("gaussian", "unet:filters=8,16", "unet:filters=8", seed=0)
    images = np.random.default_rng(0).random((2, 28, 28, 1), dtype=np.float32)
    assert np.abs(model.predict(images, verbose=0) - images).mean() < 0.5


@pytest.mark.parametrize(
    "encoder, decoder, message",
    [
        ("conv", "unet", "needs skip connections, and encoder 'conv' provides none"),
        ("unet", "conv", "decoder 'conv' decodes a flat code"),
        ("unet:filters=8,16", "unet", "encoder hands over 1 skip maps; give it 1 filters"),
        ("unet:filters=8,16,32,64", "unet:filters=32,16,8", "sides divisible by 8"),
        ("unet:filters=8,16,space_to_depth=2", "unet:filters=8", "give both the same space_to_depth"),
        ("unet:filters=8,16,32,space_to_depth=2", "unet:filters=16,8,space_to_depth=2", "sides divisible by 8"),
        ("unet:filters=8,16,32", "unet:filters=16,16,merge=add", r"give it filters=16,8 \(it has 16,16\)"),
    ],
)
def test_pairs_that_do_not_fit_are_refused_when_assembled(plugins, encoder, decoder, message):
    with pytest.raises(ConfigError, match=message):
        daekit.build_model("gaussian", encoder, decoder)


def test_unet_trains_and_denoises(plugins, fashion_mnist):
    data = daekit.load_data("fashion-mnist")
    clean = data.train[:512].astype("float32") / 255
    # Without BatchNorm, whose moving averages need more steps than a test can afford.
    model = daekit.build_model("gaussian", "unet:filters=8,16,normalization=none",
                               "unet:filters=8,normalization=none", seed=0)
    model.compile(optimizer="adam", loss=daekit.build_loss("mse"), jit_compile=False)
    model.fit(clean, clean, epochs=2, batch_size=32, verbose=0)
    report = daekit.evaluate_model(model, data.test[:200])
    assert report["denoised"]["psnr"] > report["noisy"]["psnr"]


def test_dense_autoencoder_and_mixed_pairs(plugins, tmp_path):
    model = daekit.build_model("gaussian", "dense:widths=64,code=16", "dense:widths=64", seed=0)
    assert model.count_params() == (784 * 64 + 64) + (64 * 16 + 16) + (16 * 64 + 64) + (64 * 784 + 784)
    images = np.random.default_rng(0).random((2, 28, 28, 1), dtype=np.float32)
    loaded = daekit.load_model(daekit.save_model(model, tmp_path / "d.keras"))
    np.testing.assert_allclose(loaded.predict(images, verbose=0), model.predict(images, verbose=0), atol=1e-6)
    mixed = daekit.build_model("gaussian", "conv:filters=4,4,4", "dense:widths=32")
    assert mixed.predict(images, verbose=0).shape == images.shape
    with pytest.raises(ConfigError, match="decoder 'dense' decodes a flat code"):
        daekit.build_model("gaussian", "unet:filters=8,16", "dense")


def test_conv_code_size_and_depth(plugins, tmp_path):
    # A dense bottleneck of 50 after a two-block encoder; the decoder projects it to 7x7x16.
    model = daekit.build_model("gaussian", "conv:filters=8,16,padding=same,code=50",
                               "conv:filters=8,channels=16,padding=same,tail_filters=8", seed=0)
    encoder_code = model.encoder.compute_output_shape((None, 28, 28, 1))
    assert tuple(encoder_code) == (None, 50)
    images = np.random.default_rng(0).random((2, 28, 28, 1), dtype=np.float32)
    loaded = daekit.load_model(daekit.save_model(model, tmp_path / "c.keras"))
    np.testing.assert_allclose(loaded.predict(images, verbose=0), model.predict(images, verbose=0), atol=1e-6)
    with pytest.raises(ConfigError, match=r"the encoder gives 50 \(give the decoder channels=N"):
        daekit.build_model("gaussian", "conv:code=50", "conv")


def test_space_to_depth_unet_folds_pixels_and_round_trips(plugins, tmp_path):
    from daekit.plugins.unet import depth_to_space, space_to_depth

    images = np.random.default_rng(0).random((2, 28, 28, 3), dtype=np.float32)
    folded = np.asarray(space_to_depth(images, 2))
    assert folded.shape == (2, 14, 14, 12)
    np.testing.assert_array_equal(folded[0, 0, 0], images[0, :2, :2].reshape(-1))  # one 2x2 block
    np.testing.assert_array_equal(np.asarray(depth_to_space(folded, 2)), images)
    model = daekit.build_model("gaussian", "unet:filters=8,16,space_to_depth=2", "unet:filters=8,space_to_depth=2", seed=0)
    gray = images[..., :1]
    loaded = daekit.load_model(daekit.save_model(model, tmp_path / "s.keras"))
    np.testing.assert_allclose(loaded.predict(gray, verbose=0), model.predict(gray, verbose=0), atol=1e-6)
