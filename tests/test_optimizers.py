"""The optimizer and dtype policy a config asks for: Keras's own classes, with its settings."""

import keras
import pytest

import daekit
from daekit.optimizers import dtype_policy, make_optimizer


@pytest.mark.parametrize("name, cls", [("adam", keras.optimizers.Adam), ("adamw", keras.optimizers.AdamW),
                                       ("rmsprop", keras.optimizers.RMSprop), ("sgd", keras.optimizers.SGD)])
def test_each_optimizer_is_keras_own_with_the_configured_settings(name, cls):
    config = daekit.TrainConfig.resolve(optimizer=name, learning_rate=1e-3, beta_1=0.8, beta_2=0.99, schedule="constant")
    optimizer = make_optimizer(config, steps_per_epoch=10)
    assert type(optimizer) is cls and float(optimizer.learning_rate) == pytest.approx(1e-3)
    if name.startswith("adam"):
        assert optimizer.beta_1 == pytest.approx(0.8) and optimizer.beta_2 == pytest.approx(0.99)
    else:
        assert optimizer.momentum == pytest.approx(0.8)


def test_dtype_policy_is_restored_after_building():
    before = keras.config.dtype_policy().name
    with dtype_policy("mixed_bfloat16"):
        assert keras.config.dtype_policy().name == "mixed_bfloat16"
    assert keras.config.dtype_policy().name == before
