"""daekit: plugin-based denoising autoencoders on TensorFlow 2 / Keras 3."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's C++ start-up chatter out of the way

from daekit.errors import (  # noqa: E402
    CheckpointError,
    ConfigError,
    DaekitError,
    DataError,
    ExportError,
    ModelFileError,
    NonFiniteError,
    PluginError,
    Preempted,
    RunInUseError,
    UnknownComponentError,
)
from daekit.hookspecs import hookimpl  # noqa: E402
from daekit.options import option  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "CheckpointError", "ConfigError", "Corruption", "DaekitError", "DataError", "ExportError", "Decoder", "Encoder", "Loss",
    "ModelFileError", "NonFiniteError", "PluginError", "Preempted", "RunInUseError", "UnknownComponentError",
    "hookimpl", "option",
    # What a plugin draws with, and checks itself with:
    "SeedStream", "per_image_uniform", "pixel_grid", "blend", "SEVERITY_BANDS", "BatchNormalization", "LayerStack",
    "run_layers", "ssim_per_image", "check_component",
    "ComponentSpec", "DenoisingAutoencoder", "TrainConfig", "build_model", "build_loss",
    "evaluate_model", "get_plugins", "load_data", "load_model", "save_model", "train", "denoise", "read_image",
    "write_image", "export", "embed",
]

# Everything a plugin needs is importable from `daekit` itself; the plugin API is this list.
_LAZY = {
    "Corruption": "daekit.corruption",
    "SeedStream": "daekit.corruption",
    "per_image_uniform": "daekit.corruption",
    "pixel_grid": "daekit.corruption",
    "blend": "daekit.corruption",
    "SEVERITY_BANDS": "daekit.corruption",
    "BatchNormalization": "daekit.layers",
    "LayerStack": "daekit.components",
    "run_layers": "daekit.components",
    "ssim_per_image": "daekit.metrics",
    "check_component": "daekit.testing",
    "Encoder": "daekit.components",
    "Decoder": "daekit.components",
    "Loss": "daekit.components",
    "ComponentSpec": "daekit.config",
    "TrainConfig": "daekit.config",
    "DenoisingAutoencoder": "daekit.model",
    "build_model": "daekit.model",
    "build_loss": "daekit.model",
    "get_plugins": "daekit.manager",
    "load_data": "daekit.data",
    "save_model": "daekit.saving",
    "load_model": "daekit.saving",
    "train": "daekit.training",
    "evaluate_model": "daekit.evaluate",
    "denoise": "daekit.tiling",
    "read_image": "daekit.data.files",
    "write_image": "daekit.data.files",
    "export": "daekit.deploy",
    "embed": "daekit.representation",
}


def __getattr__(name):
    # Everything that imports Keras (and so TensorFlow) loads on first use: `import daekit`
    # stays light, and the CLI can start TensorFlow its own way.
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'daekit' has no attribute {name!r}")
