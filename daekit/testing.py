"""Conformance checks for components, for daekit's own tests and third-party authors.

Example, in a plugin's test suite::

    from daekit.testing import check_component
    from my_noise import Vignette

    def test_vignette_conforms(tmp_path):
        check_component(Vignette, tmp_path)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from daekit.components import Component, Decoder, Encoder, Loss
from daekit.corruption import Corruption

SHAPES = ((4, 28, 28, 1), (3, 17, 23, 3))


def _normalised(config: dict) -> Any:
    return json.loads(json.dumps(config, sort_keys=True, default=str))


def _round_trip(component: Component) -> Component:
    config = _normalised(component.get_config())
    rebuilt = type(component).from_config(json.loads(json.dumps(config)))
    assert _normalised(rebuilt.get_config()) == config, f"{component.describe()}: get_config/from_config do not round-trip"
    return rebuilt


def _check_corruption(corruption: Corruption, directory: Path) -> None:
    rebuilt = _round_trip(corruption)
    name = corruption.describe()
    for shape in SHAPES:
        images = np.random.default_rng(0).random(shape, dtype=np.float32)
        out = keras.ops.convert_to_numpy(corruption.apply(images, 11))
        assert out.shape == shape, f"{name}: shape {shape} became {out.shape}"
        assert out.dtype == np.float32, f"{name}: dtype float32 became {out.dtype}"
        assert np.isfinite(out).all() and out.min() >= 0.0 and out.max() <= 1.0, f"{name}: values leave [0, 1]"
        again = keras.ops.convert_to_numpy(corruption.apply(images, 11))
        np.testing.assert_array_equal(out, again, err_msg=f"{name}: the same seed gave different outputs")
        same = keras.ops.convert_to_numpy(rebuilt.apply(images, 11))
        np.testing.assert_array_equal(out, same, err_msg=f"{name}: a rebuilt copy corrupts differently")
        corrupted, mask = corruption.apply(images, 11, with_mask=True)
        mask = keras.ops.convert_to_numpy(mask)
        assert mask.shape == shape and set(np.unique(mask)) <= {0.0, 1.0}, f"{name}: the mask is not 0/1 of the image's shape"
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(corrupted), out, err_msg=f"{name}: with_mask changed the output")
        # XLA may pick another random-number algorithm than eager mode, so compiled output is
        # compared with itself: valid, deterministic for the seed, and in range.
        compiled = tf.function(lambda x: corruption.apply(x, 11), jit_compile=True)
        first = compiled(tf.constant(images)).numpy()
        np.testing.assert_array_equal(first, compiled(tf.constant(images)).numpy(), err_msg=f"{name}: XLA not deterministic")
        assert first.shape == shape and first.min() >= 0.0 and first.max() <= 1.0, f"{name}: under XLA, values leave [0, 1]"
    # As a layer: corrupts only in training, and draws fresh noise at every step of a graph.
    images = tf.constant(np.random.default_rng(1).random(SHAPES[0], dtype=np.float32))
    np.testing.assert_array_equal(corruption(images).numpy(), images.numpy(), err_msg=f"{name}: corrupts in inference")
    assert corruption(images, training=True).shape == images.shape
    _fresh_noise(corruption, images)
    _check_saved(corruption, directory)


def _fresh_noise(corruption: Corruption, images) -> None:
    """A corruption that depends on its seed must draw new noise at every training step."""
    name = corruption.describe()
    if np.array_equal(keras.ops.convert_to_numpy(corruption.apply(images, 11)),
                      keras.ops.convert_to_numpy(corruption.apply(images, 12))):
        return  # the same output for any seed: a deterministic corruption (a fixed blur, say)
    step = tf.function(lambda x: corruption(x, training=True))
    first, second = step(images).numpy(), step(images).numpy()  # one trace, two steps of one graph
    assert not np.array_equal(first, second), f"{name}: two training steps drew the same noise"


@keras.saving.register_keras_serializable(package="daekit.testing")
class ProbeCorruption(Corruption):
    """Uniform noise of +-0.1: the corruption the checks put in front of encoders and decoders."""

    name = "probe"

    def corrupt(self, images, seed):
        noise = keras.random.uniform(keras.ops.shape(images), -0.1, 0.1, seed=seed)
        return keras.ops.clip(images + noise, 0.0, 1.0)


@keras.saving.register_keras_serializable(package="daekit.testing")
class ProbeEncoder(Encoder):
    """One 3x3 convolution: the encoder the checks pair a decoder-free loss or corruption with."""

    name = "probe"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.conv = keras.layers.Conv2D(4, 3, padding="same", activation="relu")

    def build(self, input_shape):
        self.conv.build(input_shape)

    def call(self, images, training=False):
        return self.conv(images)

    def compute_output_shape(self, input_shape):
        return self.conv.compute_output_shape(input_shape)


@keras.saving.register_keras_serializable(package="daekit.testing")
class ProbeDecoder(Decoder):
    """One 3x3 convolution back to the image's channels, the partner of :class:`ProbeEncoder`."""

    name = "probe"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.conv = keras.layers.Conv2D(self.image_shape[-1], 3, padding="same", activation="sigmoid")

    def build(self, input_shape):
        self.conv.build(input_shape)

    def call(self, code, training=False):
        return self.conv(code)


def _check_saved(corruption: Corruption, directory: Path) -> None:
    from daekit.model import build_model
    from daekit.saving import load_model, save_model

    model = build_model(corruption, ProbeEncoder(), ProbeDecoder(image_shape=SHAPES[0][1:]),
                        image_shape=SHAPES[0][1:])
    path = save_model(model, Path(directory) / f"{type(corruption).name}.keras")
    loaded = load_model(path)
    images = np.random.default_rng(2).random(SHAPES[0], dtype=np.float32)
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(loaded.corruption.apply(images, 5)),
        keras.ops.convert_to_numpy(corruption.apply(images, 5)),
        err_msg=f"{corruption.describe()}: corrupts differently after save and reload",
    )


def _for_images(component: Component, image_shape) -> Component:
    """A decoder rebuilt for ``image_shape`` (it is told its output's shape); others as they are."""
    if isinstance(component, Decoder) and tuple(component.image_shape) != tuple(image_shape):
        return type(component).from_config({**component.get_config(), "image_shape": list(image_shape)})
    return component


def _partner(instance: Encoder | Decoder, pair, image_shape) -> Encoder | Decoder:
    """The other half of an encoder/decoder pair: ``pair``, or the component of the other
    kind registered under the same name (plugins usually ship matching halves)."""
    from daekit.manager import get_plugins
    from daekit.model import build_component

    other = "decoder" if isinstance(instance, Encoder) else "encoder"
    if pair is None:
        if type(instance).name not in get_plugins().registries[other]:
            raise AssertionError(f"{instance.describe()}: no {other} named {type(instance).name!r} is registered; "
                                 f"pass the {other} to train it with as pair=")
        pair = type(instance).name
    if isinstance(pair, type):
        pair = pair()
    return _for_images(build_component(other, pair), image_shape)


def _trains(encoder, decoder, loss, image_shape, directory: Path, label: str) -> None:
    """Assemble a model, train one step, check its output, save and reload it."""
    from daekit.model import build_model
    from daekit.saving import load_model, save_model

    model = build_model(ProbeCorruption(seed=0), encoder, decoder, image_shape=image_shape)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss=loss)
    images = np.random.default_rng(3).random((4, *image_shape), dtype=np.float32)
    before = [np.array(w) for w in model.trainable_weights]
    value = float(np.asarray(model.train_on_batch(images, images)).ravel()[0])
    assert np.isfinite(value), f"{label}: the first training step's loss is {value}"
    assert any(not np.array_equal(b, np.array(w)) for b, w in zip(before, model.trainable_weights)), \
        f"{label}: one training step changed no weight"
    out = model.predict(images, verbose=0)
    assert out.shape == images.shape and out.dtype == np.float32 and np.isfinite(out).all(), \
        f"{label}: the model turned images of {images.shape} into {out.dtype} of {out.shape}"
    loaded = load_model(save_model(model, Path(directory) / "check.keras"))
    np.testing.assert_allclose(loaded.predict(images, verbose=0), out, atol=1e-5,
                               err_msg=f"{label}: predicts differently after save and reload")


def _check_loss(loss: Loss, directory: Path) -> None:
    _round_trip(loss)
    name = loss.describe()
    y = np.random.default_rng(0).random(SHAPES[0], dtype=np.float32)
    value = float(loss(y, np.clip(y + 0.1, 0, 1)))
    assert np.isfinite(value) and value >= 0.0, f"{name}: loss {value}"
    if loss.uses_mask:
        weights = keras.ops.convert_to_numpy(loss.pixel_weights(keras.ops.convert_to_tensor((y > 0.5).astype("float32"))))
        assert np.broadcast_shapes(weights.shape, y.shape) == y.shape and np.isfinite(weights).all(), \
            f"{name}: pixel_weights gave {weights.shape} for a mask of {y.shape}"
    _trains(ProbeEncoder(), ProbeDecoder(image_shape=SHAPES[0][1:]), loss, SHAPES[0][1:], directory, name)


def check_component(component: type[Component] | Component, directory: str | Path, pair=None,
                    image_shape: tuple[int, int, int] = (32, 32, 1), **options) -> None:
    """Assert that a component honours daekit's contract; raise AssertionError if not.

    Every component: its config survives a JSON round trip. Corruptions: shapes and dtype
    for 1 and 3 channels and odd sizes, values in [0, 1], the same output for the same seed,
    fresh noise at every training step, the mask, ``tf.function`` with XLA, inference passing
    images through, and save and reload inside a model. Losses: a finite, non-negative value,
    ``pixel_weights`` if they use the mask, and one training step. Encoders and decoders: a
    model assembled with the other half (``pair``) trains one step, keeps the image's shape and
    predicts the same after save and reload.

    Args:
        component: A component class (built with ``options``) or an instance.
        directory: A scratch directory for saved models.
        pair: For an encoder, the decoder to train it with (for a decoder, the encoder): a
            class, an instance or a spec; by default the other kind's component of the same name.
        image_shape: The images an encoder/decoder pair is trained on.
    """
    instance = component(**options) if isinstance(component, type) else component
    if isinstance(instance, Corruption):
        _check_corruption(instance, Path(directory))
    elif isinstance(instance, Loss):
        _check_loss(instance, Path(directory))
    elif isinstance(instance, (Encoder, Decoder)):
        _round_trip(instance)
        instance, other = _for_images(instance, image_shape), _partner(instance, pair, image_shape)
        encoder, decoder = (instance, other) if isinstance(instance, Encoder) else (other, instance)
        _trains(encoder, decoder, "mse", image_shape, Path(directory), f"{encoder.describe()} with {decoder.describe()}")
    else:
        raise TypeError(f"{instance!r} is not a daekit component")
