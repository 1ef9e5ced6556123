"""Choosing a tf.distribute strategy for a run, and which process writes its files."""

from __future__ import annotations

import json
import os

import tensorflow as tf

from daekit.config import MULTI_STEP_REPLICAS, STRATEGIES
from daekit.errors import ConfigError


def cpu_cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def split_cpu(count: int, share_cores: bool = False) -> None:
    """Expose the CPU as ``count`` logical devices, so ``mirrored`` can run on a machine
    without GPUs. With ``share_cores``, each operation gets the cores divided by ``count`` as
    threads (unless ``TF_NUM_INTRAOP_THREADS`` sets them), so that the replicas' operations run
    side by side rather than each spreading over every core. Must happen before TensorFlow
    starts its runtime."""
    if count <= 1:
        return
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)
        if share_cores and not os.environ.get("TF_NUM_INTRAOP_THREADS"):
            tf.config.threading.set_intra_op_parallelism_threads(max(1, cpu_cores() // count))
    except RuntimeError:
        current = len(tf.config.list_logical_devices("CPU"))
        if current != count:
            raise ConfigError(
                f"cpu_devices={count}: TensorFlow already started with {current} CPU device(s) in this "
                "process; set cpu_devices in a fresh process (the daekit CLI does)"
            ) from None


def make_strategy(name: str, cpu_devices: int = 0) -> tf.distribute.Strategy:
    """The strategy called ``name``; the batch size of a run is the global batch under all."""
    # Replicas on the CPU's logical devices share its cores (see split_cpu).
    split_cpu(cpu_devices, share_cores=name == "mirrored" and not tf.config.list_physical_devices("GPU"))
    if name == "multi-worker":
        if not os.environ.get("TF_CONFIG"):
            raise ConfigError("strategy='multi-worker' needs TF_CONFIG describing the cluster and this "
                              "process's task (docs/distributed.md)")
        try:
            json.loads(os.environ["TF_CONFIG"])
        except ValueError as exc:
            raise ConfigError(f"TF_CONFIG is not valid JSON: {exc}") from None
        return tf.distribute.MultiWorkerMirroredStrategy()
    gpus = [device.name for device in tf.config.list_logical_devices("GPU")]
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "one-device":
        return tf.distribute.OneDeviceStrategy(gpus[0] if gpus else "/cpu:0")
    if name == "mirrored":
        devices = gpus or [device.name for device in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices)
    raise ConfigError(f"strategy={name!r}: choose one of {', '.join(STRATEGIES)}")


def resolve_jit_compile(setting: str) -> bool:
    """``auto`` compiles the training step with XLA on GPUs only: on the CPU, XLA's random
    number kernels make noise corruptions about 25 times slower (bench/corruptions.py)."""
    if setting == "auto":
        return bool(tf.config.list_physical_devices("GPU"))
    return setting == "true"


def check_steps(steps_per_execution: int, steps_per_epoch: int, replicas: int) -> None:
    """Refuse ``steps_per_execution`` where Keras cannot run it: across the end of an epoch,
    or over several replicas (the rule between settings in daekit.config catches the cases
    that the settings alone decide; this one also sees several GPUs under ``mirrored``).

    Raises:
        ConfigError: Naming the setting and what would work.
    """
    if steps_per_epoch % steps_per_execution:
        # Keras runs whole executions: the last one of an epoch would take batches of the next.
        fitting = [n for n in range(1, min(steps_per_epoch, 64) + 1) if steps_per_epoch % n == 0]
        raise ConfigError(
            f"steps_per_execution={steps_per_execution} does not divide the {steps_per_epoch} steps of an epoch "
            f"(Keras would run the last execution into the next epoch); choose one of {', '.join(map(str, fitting))}")
    if steps_per_execution > 1 and replicas > 1:
        raise ConfigError(f"steps_per_execution={steps_per_execution} over {replicas} replicas: {MULTI_STEP_REPLICAS}")


def is_writer(strategy: tf.distribute.Strategy) -> bool:
    """Whether this process writes the run directory: the chief under multi-worker, else always."""
    return bool(getattr(strategy.extended, "should_checkpoint", True))


def describe(strategy: tf.distribute.Strategy, name: str) -> dict:
    """The strategy, its replicas and devices, for the run manifest."""
    described = {"name": name, "class": type(strategy).__name__, "replicas": strategy.num_replicas_in_sync,
                 "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads()}  # 0: TensorFlow's choice
    try:
        devices = strategy.extended.worker_devices
    except (RuntimeError, AttributeError):  # the default strategy has none to list
        devices = None
    if devices:
        described["devices"] = list(devices)
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is not None and getattr(resolver, "task_type", None):
        described["task"] = {"type": resolver.task_type, "index": resolver.task_id}
        described["workers"] = len(resolver.cluster_spec().as_dict().get("worker", []))
    return described


def fit_multi_worker(model) -> None:
    """Adapt a built, compiled model to Keras's fit and evaluate under MultiWorkerMirroredStrategy.

    Keras (3.15) reduces the scalar logs of each step across workers with a mean over axis 0,
    which a scalar does not have, and reduces a first (input, target) batch across the cluster
    to build an unbuilt model, which the strategy cannot do on a tuple. So the steps return
    their logs as one-element vectors (the mean over workers is then a scalar again), and the
    already built model's strategy is left unset so that the build is skipped; every call must
    then run inside the strategy's scope, which Keras uses instead.
    """
    from keras import ops

    def vectors(step):
        def wrapped(data):
            return {key: ops.reshape(value, (1,)) for key, value in step(data).items()}
        return wrapped

    object.__setattr__(model, "train_step", vectors(model.train_step))
    object.__setattr__(model, "test_step", vectors(model.test_step))
    model._distribute_strategy = None
