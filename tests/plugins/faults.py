"""A test plugin that breaks a training run at a repeatable step.

The corruption ``faulty`` is Gaussian noise that also counts its calls in its process; a
run's first call draws the validation noise, so call N + 1 is training step N. The environment picks the fault, so that the broken run and the clean run it is
compared with have the same config:

- ``DAEKIT_TEST_FAULT=kill:N``: SIGKILL the process during call N;
- ``DAEKIT_TEST_FAULT=term:N`` / ``int:N``: send SIGTERM / SIGINT during call N;
- ``DAEKIT_TEST_FAULT=nan:N``: make call N's output (and so that step's loss) NaN.
"""

import os
import signal

import keras
import numpy as np
import tensorflow as tf

import daekit
from daekit.plugins.noise import GaussianNoise


class _Counter:
    steps = 0


def _tick():
    _Counter.steps += 1
    fault, _, step = os.environ.get("DAEKIT_TEST_FAULT", "").partition(":")
    if fault and _Counter.steps == int(step):
        if fault == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        if fault in ("term", "int"):
            os.kill(os.getpid(), signal.SIGTERM if fault == "term" else signal.SIGINT)
        if fault == "nan":
            return np.float32("nan")
    return np.float32(0.0)


@keras.saving.register_keras_serializable(package="daekit_test_faults")
class Faulty(GaussianNoise):
    """Gaussian noise, plus the fault ``DAEKIT_TEST_FAULT`` asks for."""

    name = "faulty"

    def corrupt(self, images, seed):
        tick = tf.ensure_shape(tf.py_function(_tick, [], tf.float32), ())  # exactly 0.0 unless NaN is asked for
        return super().corrupt(images, seed) + tick


@daekit.hookimpl
def register_corruptions(register):
    register(Faulty)
