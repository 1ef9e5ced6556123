"""daekit.layers.BatchNormalization: Keras's layer on TensorFlow's fused kernel, same results."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from daekit.layers import BatchNormalization


def _pair(shape, **options):
    keras.utils.set_random_seed(3)
    ours, theirs = BatchNormalization(**options), keras.layers.BatchNormalization(**options)
    ours.build(shape)
    theirs.build(shape)
    for a, b in zip(ours.weights, theirs.weights):  # non-trivial gamma, beta and moving statistics
        value = np.random.default_rng(len(a.path)).uniform(0.5, 1.5, a.shape).astype("float32")
        a.assign(value)
        b.assign(value)
    return ours, theirs


def _close(a, b, tol=2e-5):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=tol, atol=tol)


@pytest.mark.parametrize("options", [{}, {"momentum": 0.9, "epsilon": 1e-3}, {"center": False, "scale": False}])
def test_fused_batch_norm_matches_keras_in_training(options):
    x = tf.random.stateless_normal((6, 5, 7, 3), seed=(1, 2)) * 4.0 + 2.0
    ours, theirs = _pair(x.shape, **options)
    for _ in range(3):  # the moving statistics follow Keras's update step after step
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(x)
            y_ours, y_theirs = ours(x, training=True), theirs(x, training=True)
            loss_ours, loss_theirs = tf.reduce_sum(y_ours ** 3), tf.reduce_sum(y_theirs ** 3)
        _close(y_ours, y_theirs)
        _close(tape.gradient(loss_ours, x), tape.gradient(loss_theirs, x), 1e-4)
        for a, b in zip(tape.gradient(loss_ours, ours.trainable_weights),
                        tape.gradient(loss_theirs, theirs.trainable_weights)):
            _close(a, b, 1e-4)
        _close(ours.moving_mean, theirs.moving_mean)
        _close(ours.moving_variance, theirs.moving_variance)
    _close(ours(x, training=False), theirs(x, training=False))


def test_fused_batch_norm_under_mixed_precision_and_fallbacks():
    x = tf.random.stateless_normal((4, 6, 6, 2), seed=(5, 6))
    ours, theirs = _pair(x.shape, dtype="mixed_float16")
    y = ours(tf.cast(x, "float16"), training=True)
    assert y.dtype == tf.float16
    _close(y, theirs(tf.cast(x, "float16"), training=True), 2e-3)
    # Shapes and options the fused kernel does not take run Keras's own layer.
    for shape, options in [((8, 5), {}), ((4, 6, 6, 2), {"axis": 1}), ((4, 6, 6, 2), {"epsilon": 1e-6})]:
        x = tf.random.stateless_normal(shape, seed=(7, 8))
        ours, theirs = _pair(shape, **options)
        assert not ours._fusable(x, None)
        _close(ours(x, training=True), theirs(x, training=True))


def test_fused_batch_norm_saves_and_loads(tmp_path):
    inputs = keras.Input((8, 8, 3))
    model = keras.Model(inputs, BatchNormalization(momentum=0.5)(inputs))
    model(np.random.default_rng(0).normal(size=(4, 8, 8, 3)).astype("float32"), training=True)
    model.save(tmp_path / "bn.keras")
    loaded = keras.saving.load_model(tmp_path / "bn.keras")
    assert type(loaded.layers[-1]) is BatchNormalization and loaded.layers[-1].momentum == 0.5
    x = np.ones((2, 8, 8, 3), "float32")
    _close(loaded(x), model(x))


def test_the_fused_path_runs_on_the_keras_it_is_pinned_to():
    # The fused path reads Keras's private _reduction_axes; pyproject.toml pins Keras to the
    # versions it is tested with, and on those the fused kernel must be the one that runs.
    from daekit import layers

    layer = layers.BatchNormalization()
    layer.build((None, 4, 4, 3))
    assert layers._TESTED and list(layer._reduction_axes) == [0, 1, 2]
    assert layer._fusable(np.zeros((2, 4, 4, 3), np.float32), None)
