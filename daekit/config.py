"""Training configuration: attrs classes, presets, TOML files and the component syntax.

A component is written ``name:key=value,key=value`` (``conv:filters=32,64,128`` keeps the
list together because ``64`` and ``128`` have no ``=``). Values are converted and validated
by the component's own ``Options``. Precedence: preset, then config file, then CLI flags.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from daekit.errors import ConfigError
from daekit.options import build_options, option

STRATEGIES = ("default", "one-device", "mirrored", "multi-worker")
AUGMENTS = ("none", "flip")

KINDS = ("corruption", "encoder", "decoder", "loss")


@attrs.frozen
class ComponentSpec:
    """A component by registry name, with raw option values and, for composed
    corruptions, the specs of its parts.

    The text form is ``name:key=value,key=value`` or, for a composition,
    ``name[part | part]:key=value`` (for example ``one_of[gaussian | scratches:severity=3]:weights=3,1``).
    """

    name: str
    options: Mapping[str, Any] = attrs.field(factory=dict, hash=False)
    children: tuple[ComponentSpec, ...] = ()

    @classmethod
    def parse(cls, text: str) -> ComponentSpec:
        """Parse the text form; a part without ``=`` extends the previous option's value."""
        text = text.strip()
        bracket, colon = text.find("["), text.find(":")
        children: list[ComponentSpec] = []
        if bracket != -1 and (colon == -1 or bracket < colon):
            name, rest = text[:bracket], text[bracket + 1:]
            inner, rest = _split_bracket(rest, text)
            children = [cls.parse(part) for part in _split_top(inner, "|")]
            if rest and not rest.startswith(":"):
                raise ConfigError(f"component {text!r}: expected ':' after ']', got {rest!r}")
            rest = rest[1:]
        else:
            name, _, rest = text.partition(":")
        if not name.strip():
            raise ConfigError(f"component {text!r}: a name is missing (write name:key=value)")
        options: dict[str, str] = {}
        key = None
        for part in filter(None, (p.strip() for p in rest.split(","))):
            if "=" in part:
                key, _, value = part.partition("=")
                options[key.strip()] = value.strip()
            elif key is None:
                raise ConfigError(f"component {text!r}: expected key=value after ':', got {part!r}")
            else:
                options[key] += "," + part
        return cls(name.strip(), options, tuple(children))

    @classmethod
    def coerce(cls, value: Any) -> ComponentSpec:
        """Accept a spec, its text form, a TOML table ``{name = ..., option = ...}`` with an
        optional ``parts`` list, or a list of parts (a chain)."""
        if isinstance(value, ComponentSpec):
            return value
        if isinstance(value, str):
            return cls.parse(value)
        if isinstance(value, (list, tuple)):
            if len(value) == 1:
                return cls.coerce(value[0])
            return cls("chain", {}, tuple(cls.coerce(part) for part in value))
        if isinstance(value, Mapping) and isinstance(value.get("name"), str):
            parts = tuple(cls.coerce(part) for part in value.get("parts", ()))
            return cls(value["name"], {k: v for k, v in value.items() if k not in ("name", "parts")}, parts)
        raise ValueError(f"expected 'name:key=value', a table with a name, or a list, got {value!r}")

    def __str__(self) -> str:
        def text(value):
            if isinstance(value, (list, tuple)):
                return ",".join(map(str, value))
            return str(value).lower() if isinstance(value, bool) else str(value)

        result = self.name
        if self.children:
            result += "[" + " | ".join(map(str, self.children)) + "]"
        if self.options:
            result += ":" + ",".join(f"{k}={text(v)}" for k, v in self.options.items())
        return result


def _split_bracket(rest: str, text: str) -> tuple[str, str]:
    """Split ``a | b] tail`` at the ``]`` that closes the already opened bracket."""
    depth = 1
    for index, char in enumerate(rest):
        depth += {"[": 1, "]": -1}.get(char, 0)
        if depth == 0:
            return rest[:index], rest[index + 1:].strip()
    raise ConfigError(f"component {text!r}: '[' is never closed")


def _split_top(inner: str, separator: str) -> list[str]:
    """Split on ``separator`` outside brackets."""
    parts, depth, current = [], 0, ""
    for char in inner:
        depth += {"[": 1, "]": -1}.get(char, 0)
        if char == separator and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    return [part.strip() for part in [*parts, current] if part.strip()]


def _component(default: str):
    return attrs.field(default=ComponentSpec.parse(default), converter=ComponentSpec.coerce, metadata={"help": ""})


@attrs.frozen
class TrainConfig:
    """Everything a training run needs; :meth:`resolve` builds one from layered sources."""

    corruption: ComponentSpec = _component("gaussian:stddev=0.1")
    encoder: ComponentSpec = _component("conv:padding=same")
    decoder: ComponentSpec = _component("conv:tail_filters=32,padding=same")
    loss: ComponentSpec = _component("mse")
    optimizer: str = option("adam", choices=("adam", "adamw", "rmsprop", "sgd"),
                            help="Keras optimizer (adam and adamw update each variable with TensorFlow's fused kernel).")
    learning_rate: float = option(2e-3, min_exclusive=0.0, help="Learning rate.")
    beta_1: float = option(0.9, min=0.0, max=0.999999, help="Adam/AdamW beta_1 (momentum for SGD/RMSprop).")
    beta_2: float = option(0.999, min=0.0, max=0.999999, help="Adam/AdamW beta_2.")
    schedule: str = option("constant", choices=("constant", "cosine", "linear"),
                           help="Learning-rate schedule over the run: cosine and linear decay to zero.")
    epochs: int = option(3, min=1, help="Epochs to train.")
    batch_size: int = option(64, min=1, help="Global batch size.")
    seed: int = option(0, min=0, help="Seed of weights, data order, noise and the validation split.")
    data: str = option("fashion-mnist", help="'fashion-mnist', 'mnist' or a folder of images.")
    data_dir: str | None = option(None, type=str, help="Directory holding the IDX files.")
    image_size: int = option(28, min=4, help="Side images from a folder are resized to.")
    channels: int = option(1, choices=(1, 3), help="Channels of images from a folder.")
    jit_compile: str = option("auto", choices=("auto", "true", "false"), help="XLA compilation of the training step; auto: on GPUs only.")
    precision: str = option("float32", choices=("float32", "mixed_float16", "mixed_bfloat16"), help="Keras dtype policy of the model.")
    steps_per_execution: int = option(1, min=1, help="Training steps per compiled call.")
    prefetch: int = option(-1, min=-1, help="Batches the input pipeline prepares ahead; -1: tf.data AUTOTUNE.")
    strategy: str = option("default", choices=STRATEGIES, help="tf.distribute strategy.")
    cpu_devices: int = option(0, min=0, help="Split the CPU into this many logical devices (for 'mirrored' without GPUs).")
    checkpoint_every: int = option(200, min=0, help="Steps between checkpoints inside an epoch (0: at epoch ends only).")
    deterministic: bool = option(False, help="Deterministic TensorFlow ops: reruns and resumed runs give identical weights.")
    augment: str = option("none", choices=AUGMENTS, help="flip: mirror a random half of each epoch's training images left to right.")
    crop: int = option(0, min=0, help="Train on random crops of this side (pixels) instead of whole images; 0: whole images.")
    crop_epochs: int = option(0, min=0, help="Epochs, from the first, that train on crops (the rest on whole images); 0: all.")
    validation_split: float = option(0.1, min_exclusive=0.0, max=0.5, help="Share of training images kept for validation.")
    limit: int | None = option(None, type=int, min=2, help="Use at most this many training images.")
    test_limit: int | None = option(None, type=int, min=1, help="Evaluate on at most this many test images.")
    output: str = option("runs", help="Directory under which each run gets its own directory.")
    name: str | None = option(None, type=str, help="Name of the run directory (default: time and parts).")
    preset: str = option("default", help="The preset this config started from.")

    @classmethod
    def resolve(cls, preset: str | None = None, file: str | Path | None = None, **overrides) -> TrainConfig:
        """Preset, then TOML ``file``, then ``overrides`` (``None`` values are ignored).

        Raises:
            ConfigError: Listing every bad field.
        """
        from_file = load_toml(file) if file is not None else {}
        preset = preset or from_file.get("preset") or "default"
        if preset not in PRESETS:
            raise ConfigError(f"preset={preset!r}: unknown preset; choose one of {', '.join(PRESETS)}")
        values = {**PRESETS[preset], **from_file, **{k: v for k, v in overrides.items() if v is not None}}
        values["preset"] = preset
        return build_options(cls, values, owner=f"config {file}" if file else "config")

    def to_dict(self) -> dict[str, Any]:
        values = attrs.asdict(self, recurse=False)
        return {k: (str(v) if isinstance(v, ComponentSpec) else v) for k, v in values.items() if v is not None}


PRESETS: dict[str, dict[str, Any]] = {
    # The classic tutorial, exactly: it leaves outputs worse than their noisy inputs.
    "article": dict(
        corruption="gaussian:stddev=0.1", encoder="conv", decoder="conv", loss="mse", optimizer="adam",
        learning_rate=3e-6, beta_1=0.99, beta_2=0.999, batch_size=64, epochs=20,
    ),
    # The classic layers with 'same' padding (a 7x7 code map instead of 4x4), a decoder that
    # keeps 32 channels to the end instead of one, and Adam at a learning rate that learns,
    # decayed to zero over the run.
    "default": {"schedule": "cosine"},
    # A U-Net working on 2x2-folded pixels (FFDNet), three convolutions per block with SiLU,
    # residual output, trained on minus each image's PSNR with cosine decay, batch 32: 28.63 dB
    # on the test set after 30 minutes of training here (docs/recipes.md).
    "unet": dict(encoder="unet:filters=64,128,convs=3,activation=silu,space_to_depth=2",
                 decoder="unet:filters=64,convs=3,activation=silu,space_to_depth=2",
                 loss="psnr", schedule="cosine", epochs=12, batch_size=32),
}


def load_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML config file; errors name the file and the line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"config file {path}: {exc.strerror or exc}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path}: {exc}") from None


def dump_toml(values: Mapping[str, Any]) -> str:
    """Write flat values (strings, numbers, booleans) as TOML that :func:`load_toml` reads back."""
    lines = []
    for key, value in values.items():
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, (int, float)):
            text = repr(value)
        else:
            text = '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
        lines.append(f"{key} = {text}")
    return "\n".join(lines) + "\n"
