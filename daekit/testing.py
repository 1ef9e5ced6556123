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
    step = tf.function(lambda x: corruption(x, training=True))
    step(images)  # one trace, then two steps of the same graph
    assert corruption(images, training=True).shape == images.shape
    _check_saved(corruption, directory)


def _check_saved(corruption: Corruption, directory: Path) -> None:
    from daekit.model import build_model
    from daekit.saving import load_model, save_model

    model = build_model(corruption, "conv:filters=4,4,4", "conv:filters=4,4,tail_filters=4")
    path = save_model(model, Path(directory) / f"{type(corruption).name}.keras")
    loaded = load_model(path)
    images = np.random.default_rng(2).random(SHAPES[0], dtype=np.float32)
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(loaded.corruption.apply(images, 5)),
        keras.ops.convert_to_numpy(corruption.apply(images, 5)),
        err_msg=f"{corruption.describe()}: corrupts differently after save and reload",
    )


def check_component(component: type[Component] | Component, directory: str | Path, **options) -> None:
    """Assert that a component honours daekit's contract; raise AssertionError if not.

    Checks the config JSON round trip and, for corruptions: shapes and dtype for 1 and 3
    channels and odd sizes, values in [0, 1], the same output for the same seed, the mask,
    ``tf.function`` with XLA, inference passing images through, and save and reload inside
    a model. Losses are checked for a finite scalar; encoders and decoders are assembled.

    Args:
        component: A component class (built with ``options``) or an instance.
        directory: A scratch directory for saved models.
    """
    instance = component(**options) if isinstance(component, type) else component
    if isinstance(instance, Corruption):
        _check_corruption(instance, Path(directory))
    elif isinstance(instance, Loss):
        _round_trip(instance)
        y = np.random.default_rng(0).random(SHAPES[0], dtype=np.float32)
        value = float(instance(y, np.clip(y + 0.1, 0, 1)))
        assert np.isfinite(value) and value >= 0.0, f"{instance.describe()}: loss {value}"
    elif isinstance(instance, (Encoder, Decoder)):
        _round_trip(instance)
    else:
        raise TypeError(f"{instance!r} is not a daekit component")
