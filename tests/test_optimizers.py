import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from daekit.optimizers import FusedAdam, FusedAdamW


def adam_by_hand(gradients, rate, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    """Adam's update rule (Kingma and Ba, with Keras's placement of epsilon), in float64 numpy."""
    value = m = v = np.zeros_like(gradients[0])
    for step, gradient in enumerate(gradients, start=1):
        m = beta_1 * m + (1 - beta_1) * gradient
        v = beta_2 * v + (1 - beta_2) * gradient**2
        alpha = rate * np.sqrt(1 - beta_2**step) / (1 - beta_1**step)
        value = value - alpha * m / (np.sqrt(v) + epsilon)
    return value


def apply(optimizer, gradients, dtype):
    variable = keras.Variable(np.zeros_like(gradients[0]), dtype=dtype)
    for gradient in gradients:
        optimizer.apply([keras.ops.convert_to_tensor(gradient, dtype)], [variable])
    return variable.numpy()


def test_fused_adam_is_adam():
    rng = np.random.default_rng(0)
    # Gradients from 1e-9 (below epsilon) to 10, changing every step.
    gradients = [rng.standard_normal(500) * np.logspace(-9, 1, 500) for _ in range(4)]
    # In float64, against the rule itself (Keras keeps the learning rate in float32).
    fused = FusedAdam(learning_rate=1e-2)
    np.testing.assert_allclose(apply(fused, gradients, "float64"), adam_by_hand(gradients, float(np.float32(1e-2))),
                               rtol=1e-10)
    assert int(fused.iterations.numpy()) == 4
    # In float32, against Keras's own Adam, to float32 rounding: where steps of opposite signs
    # nearly cancel, that is up to about 1e-8 on weights that each step moves by up to 1e-2.
    np.testing.assert_allclose(apply(FusedAdam(learning_rate=1e-2), gradients, "float32"),
                               apply(keras.optimizers.Adam(learning_rate=1e-2), gradients, "float32"), rtol=1e-5, atol=1e-7)


def test_fused_adamw_decays_weights_as_keras_adamw():
    rng = np.random.default_rng(1)
    start = rng.standard_normal(200)
    gradients = [rng.standard_normal(200) for _ in range(3)]
    results = {}
    for cls in (keras.optimizers.AdamW, FusedAdamW):
        variable = keras.Variable(start, dtype="float32")
        optimizer = cls(learning_rate=1e-2, weight_decay=0.1)
        for gradient in gradients:
            optimizer.apply([keras.ops.convert_to_tensor(gradient, "float32")], [variable])
        results[cls.__name__] = variable.numpy()
    np.testing.assert_allclose(results["FusedAdamW"], results["AdamW"], rtol=1e-5, atol=1e-6)


def test_fused_adam_round_trips_through_a_keras_file(tmp_path):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer=FusedAdam(learning_rate=1e-3, beta_1=0.8), loss="mse")
    model.fit(np.ones((4, 3)), np.zeros((4, 2)), verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert type(loaded.optimizer) is FusedAdam and loaded.optimizer.beta_1 == pytest.approx(0.8)


def test_fused_adam_updates_every_replica_under_mirrored():
    # In a fresh process: the CPU is split into two logical devices before TensorFlow starts.
    script = textwrap.dedent("""
        import numpy as np, tensorflow as tf
        tf.config.set_logical_device_configuration(
            tf.config.list_physical_devices("CPU")[0], [tf.config.LogicalDeviceConfiguration()] * 2)
        import keras
        keras.config.set_floatx("float64")
        from daekit.optimizers import FusedAdam
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        x = np.random.default_rng(0).random((64, 6, 6, 1))
        weights = {}
        for cls in (keras.optimizers.Adam, FusedAdam):
            with strategy.scope():
                keras.utils.set_random_seed(0)
                model = keras.Sequential([keras.Input((6, 6, 1)), keras.layers.Conv2D(3, 3, padding="same"),
                                          keras.layers.Conv2D(1, 3, padding="same")])
                model.compile(optimizer=cls(learning_rate=1e-2), loss="mse")
            model.fit(x, x, batch_size=16, epochs=2, verbose=0, shuffle=False)
            for variable in model.trainable_variables:
                copies = [c.numpy() for c in variable.value.values]
                assert len(copies) == 2 and np.array_equal(copies[0], copies[1]), variable.path
            weights[cls.__name__] = [v.numpy() for v in model.trainable_variables]
        moved = max(np.abs(a).max() for a in weights["FusedAdam"])
        difference = max(np.abs(a - b).max() for a, b in zip(weights["Adam"], weights["FusedAdam"]))
        print(f"difference {difference:.3g} moved {moved:.3g}")
        assert difference < 1e-6 < moved, difference
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
