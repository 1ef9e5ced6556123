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
from daekit.kinds import KINDS
from daekit.options import build_options, option

STRATEGIES = ("default", "one-device", "mirrored", "multi-worker")
AUGMENTS = ("none", "flip", "dihedral")
TARGETS = ("clean", "noisy", "redraw")
#: Why several steps per execution are refused over several replicas (the settings rule here,
#: the replicas found in daekit.distribute).
MULTI_STEP_REPLICAS = ("Keras cannot run several steps per execution over more than one replica "
                       "(keras-team/keras#19246); use steps_per_execution=1 with this strategy")

@attrs.frozen
class ComponentSpec:
    """A component by registry name, with raw option values and, for composed
    corruptions, the specs of its parts.

    The text form is ``name:key=value,key=value`` or, for a composition,
    ``name[part | part]:key=value`` (for example ``one_of[gaussian | scratches:severity=3]:weights=3,1``).
    A list of parts without a name, ``[part | part]`` (what a repeated ``--corruption`` or a
    TOML list gives), is a sequence: the registry's chaining component applies the parts in
    order (:meth:`daekit.manager.Plugins.chaining`).
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
        if not name.strip() and not children:
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
            return cls("", {}, tuple(cls.coerce(part) for part in value))
        if isinstance(value, Mapping) and isinstance(value.get("name"), str):
            parts = tuple(cls.coerce(part) for part in value.get("parts", ()))
            return cls(value["name"], {k: v for k, v in value.items() if k not in ("name", "parts")}, parts)
        raise ValueError(f"expected 'name:key=value', a table with a name, or a list, got {value!r}")

    @property
    def is_sequence(self) -> bool:
        """Whether this is an unnamed list of parts, to be applied in order."""
        return not self.name and bool(self.children)

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


def _component(kind: str, default: str, metavar: str = "SPEC", multiple: bool = False, help: str = ""):
    """A training setting that names a component of ``kind``."""
    return attrs.field(default=ComponentSpec.parse(default), converter=ComponentSpec.coerce, metadata={
        "help": help or f"The {kind}, which {KINDS[kind].help}, e.g. {default} (daekit components {kind} lists them).",
        "metavar": metavar,
        "multiple": multiple, "resumable": False, "flags": ()})


def setting(default: Any, *, help: str, resumable: bool = False, flags: tuple[str, ...] = (), metavar: str | None = None,
            **constraints) -> Any:
    """Declare one training setting, once, for every place that reads it.

    The TOML key and :meth:`TrainConfig.resolve` keyword are the field's name; the CLI option
    is ``--name-with-dashes`` plus ``flags``, with ``help`` as its help text and ``metavar``
    (default: the value's type). ``resumable`` says whether a resumed run may change it. The
    converters and ``constraints`` are those of :func:`daekit.option`.
    """
    return option(default, help=help, **constraints,
                  metadata={"resumable": resumable, "flags": flags, "metavar": metavar, "multiple": False})


def _check_rules(config: TrainConfig) -> None:
    """Rules between settings, checked whenever a config is built (so before any run directory
    is written). Rules that need the devices found at run time live in :mod:`daekit.distribute`."""
    if config.name is not None and (Path(config.name).name != config.name or config.name == ".."
                                    or "\\" in config.name):
        raise ValueError(f"name={config.name!r}: a run's name is one path component, without '/' or '..'; "
                         "put the directory it goes under in --output")
    split_cpu = config.strategy == "mirrored" and config.cpu_devices > 1
    if config.jit_compile == "true" and split_cpu:
        # TensorFlow compiles the replicas' step for the first device, which then cannot
        # reach the variables of the others ("Trying to access resource ... located in device").
        raise ValueError(
            f"jit_compile=true with strategy=mirrored over {config.cpu_devices} logical CPU devices: XLA cannot reach "
            "the variables of replicas on other CPU devices; use jit_compile=auto (XLA on GPUs only) or false, "
            "or train on one device")
    if config.steps_per_execution > 1 and (split_cpu or config.strategy == "multi-worker"):
        over = f"{config.cpu_devices} logical CPU devices" if split_cpu else "several workers"
        raise ValueError(
            f"steps_per_execution={config.steps_per_execution} with strategy={config.strategy} over {over}: "
            + MULTI_STEP_REPLICAS)


@attrs.frozen
class TrainConfig:
    """Everything a training run needs; :meth:`resolve` builds one from layered sources.

    Each field is declared once, with :func:`setting` (or a component spec): its name, type,
    default, help, validation and whether a resumed run may change it. The CLI's options,
    TOML files, :meth:`resolve` and the resume check all read these declarations.
    """

    preset: str = setting("default", metavar="NAME", resumable=True,
                          help="Starting recipe: 'default', 'unet' (stronger), 'photo' (photographs of any size, on patches), 'n2v' (noisy photographs without clean copies) or 'article' (the classic recipe, exactly).")
    corruption: ComponentSpec = _component("corruption", "gaussian:stddev=0.1", multiple=True, help=(
        "Corruption, e.g. gaussian:stddev=0.2; repeat to apply several in order."))
    encoder: ComponentSpec = _component("encoder", "conv:padding=same")
    decoder: ComponentSpec = _component("decoder", "conv:tail_filters=32,padding=same")
    loss: ComponentSpec = _component("loss", "mse")
    target: str = setting("clean", choices=TARGETS, metavar="KIND", help=(
        "What the loss compares the output with: clean (the data are clean; the corruption makes the input), "
        "noisy (the data are noisy and there are no clean copies: their own pixels, hidden by a blind-spot "
        "corruption (Noise2Void), or their --pairs copies (Noise2Noise)) or redraw (a second, independent draw "
        "of the corruption of the clean data: Noise2Noise simulated)."))
    pairs: str | None = setting(None, type=str, metavar="DIR", help=(
        "With --target noisy: a folder holding a second noisy copy of each image of --data (and of --val-data and "
        "--test-data), matched by file name: the loss compares the output with the copy (Noise2Noise)."))
    optimizer: str = setting("adam", choices=("adam", "adamw", "rmsprop", "sgd"), metavar="NAME",
                             help="Keras optimizer: adam, adamw, rmsprop or sgd.")
    learning_rate: float = setting(2e-3, min_exclusive=0.0, flags=("--lr",), help="Learning rate.")
    beta_1: float = setting(0.9, min=0.0, max=0.999999, help="Adam/AdamW beta_1 (momentum for SGD/RMSprop).")
    beta_2: float = setting(0.999, min=0.0, max=0.999999, help="Adam/AdamW beta_2.")
    schedule: str = setting("constant", choices=("constant", "cosine", "linear"), metavar="NAME",
                            help="Learning-rate schedule: constant, or cosine or linear (decay to zero over the run).")
    epochs: int = setting(3, min=1, resumable=True, help="Epochs to train (a resumed run may be given more).")
    batch_size: int = setting(64, min=1, help="Global batch size.")
    seed: int = setting(0, min=0, max=2**32 - 1, help="Seed of weights, data order, noise and the validation split.")
    data: str = setting("fashion-mnist", metavar="DATA",
                        help="fashion-mnist, mnist, or a folder of images (PNG at 8 or 16 bits, JPEG, BMP, TIFF), "
                             "read recursively at their own sizes.")
    data_dir: str | None = setting(None, type=str, metavar="DIR", help="Directory holding the IDX files.")
    val_data: str | None = setting(None, type=str, metavar="DIR",
                                   help="A folder of validation images (default: a seeded share of the training files).")
    test_data: str | None = setting(None, type=str, metavar="DIR",
                                    help="A folder of test images (default: a seeded tenth of a folder's files).")
    channels: int = setting(1, choices=(1, 3), help="Channels images from a folder are converted to: 1 (luminance) or 3 (RGB).")
    resize: int | None = setting(None, type=int, min=4, metavar="SIDE",
                                 help="Resize images from a folder to SIDE x SIDE squares (default: their own size).")
    max_pixels: int = setting(225_000_000, min=1, metavar="PIXELS",
                              help="Refuse image files with more pixels than this (decompression bombs).")
    patch: int | None = setting(None, type=int, min=4, metavar="SIDE",
                                help="Train on random SIDE x SIDE patches, drawn from the images in proportion to their "
                                     "area; validation and test score whole images.")
    patches_per_epoch: int | None = setting(None, type=int, min=1, metavar="COUNT",
                                            help="Patches in an epoch (default: as many as tile the training pixels once).")
    validation_split: float = setting(0.1, min_exclusive=0.0, max=0.5, help="Share of training images kept for validation.")
    augment: str = setting("none", choices=AUGMENTS, metavar="MODE",
                           help="none; flip: mirror a random half of each epoch's images left to right; dihedral: "
                                "one of the eight flips and quarter turns per patch.")
    limit: int | None = setting(None, type=int, min=2, help="Use at most this many training images.")
    test_limit: int | None = setting(None, type=int, min=1, resumable=True, help="Evaluate on at most this many test images.")
    output: str = setting("runs", flags=("-o",), metavar="DIR", resumable=True,
                          help="Directory under which each run gets its own directory.")
    name: str | None = setting(None, type=str, metavar="NAME", resumable=True,
                               help="Name of the run directory; rerunning with the same name continues the run.")
    precision: str = setting("float32", choices=("float32", "mixed_float16", "mixed_bfloat16"), metavar="POLICY",
                             help="Keras dtype policy: float32, mixed_float16 or mixed_bfloat16.")
    jit_compile: str = setting("auto", choices=("auto", "true", "false"), metavar="MODE", resumable=True,
                               help="XLA for the training step: auto (GPUs only), true or false.")
    steps_per_execution: int = setting(1, min=1, resumable=True, help="Training steps per compiled call.")
    prefetch: int = setting(-1, min=-1, resumable=True, help="Batches the input pipeline prepares ahead; -1: AUTOTUNE.")
    strategy: str = setting("default", choices=STRATEGIES, metavar="NAME", resumable=True,
                            help="tf.distribute strategy: default, one-device, mirrored (all local GPUs, or --cpu-devices) "
                                 "or multi-worker (TF_CONFIG).")
    cpu_devices: int = setting(0, min=0, resumable=True,
                               help="Split the CPU into this many logical devices (for mirrored without GPUs).")
    checkpoint_every: int = setting(200, min=0, resumable=True,
                                    help="Steps between checkpoints inside an epoch (0: at epoch ends only).")
    deterministic: bool = setting(False, resumable=True,
                                  help="Deterministic TensorFlow ops: reruns and resumed runs give identical weights.")

    def __attrs_post_init__(self):
        _check_rules(self)

    @classmethod
    def resolve(cls, preset: str | None = None, file: str | Path | None = None, **overrides) -> TrainConfig:
        """Preset, then TOML ``file``, then ``overrides`` (``None`` values are ignored).

        Raises:
            ConfigError: Listing every bad field.
        """
        from_file = _upgrade(load_toml(file)) if file is not None else {}
        preset = preset or from_file.get("preset") or "default"
        if not isinstance(preset, str) or preset not in PRESETS:
            raise ConfigError(f"preset={preset!r}: unknown preset; choose one of {', '.join(PRESETS)}")
        values = {**PRESETS[preset], **from_file, **{k: v for k, v in overrides.items() if v is not None}}
        values["preset"] = preset
        try:
            return build_options(cls, values, owner=f"config {file}" if file else "config")
        except ConfigError as exc:  # the components' problems too, in the same pass
            raise ConfigError(exc.problems + _component_problems(values)) from None

    def to_dict(self) -> dict[str, Any]:
        values = attrs.asdict(self, recurse=False)
        return {k: (str(v) if isinstance(v, ComponentSpec) else v) for k, v in values.items() if v is not None}


def _component_problems(values: Mapping[str, Any]) -> list[str]:
    """The problems of the components ``values`` name (unknown names, bad options), for a
    config whose other fields are refused, so that one message lists them all. Specs that do
    not parse are field problems already. Resolving the names loads the plugins."""
    from daekit.manager import get_plugins
    from daekit.model import check_specs

    specs = {}
    for kind in KINDS:
        try:
            specs[kind] = ComponentSpec.coerce(values.get(kind, attrs.fields_dict(TrainConfig)[kind].default))
        except (ConfigError, ValueError):
            continue
    try:
        check_specs(specs, get_plugins())
    except ConfigError as exc:
        return exc.problems
    return []


def resumable_settings() -> frozenset[str]:
    """The settings a resumed run may change: how long it trains, where, and how fast, but not what."""
    return frozenset(field.name for field in attrs.fields(TrainConfig) if field.metadata.get("resumable"))


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
    # A U-Net for natural photographs of any size, trained on 64x64 patches in all eight
    # orientations under Gaussian noise of a strength drawn per image from sigma 5 to 50 (of
    # 255), so that one model serves every noise level (docs/photographs.md). Without
    # BatchNorm, as DRUNet: the statistics of small batches of patches from unlike
    # photographs swing too far (bench/results/photos-screens.txt). Grey; RGB with --channels 3.
    "photo": dict(encoder="unet:filters=64,128,convs=3,activation=silu,space_to_depth=2,normalization=none",
                  decoder="unet:filters=64,convs=3,activation=silu,space_to_depth=2,normalization=none",
                  corruption="gaussian:stddev=0.02,stddev_max=0.2", loss="mse", learning_rate=1e-3,
                  schedule="cosine", patch=64, augment="dihedral", batch_size=16, epochs=12),
    # Noise2Void on the photo preset's network: noisy photographs and no clean copies, 1% of
    # each patch's pixels hidden behind a random neighbour and scored (docs/self-supervised.md).
    "n2v": dict(encoder="unet:filters=64,128,convs=3,activation=silu,space_to_depth=2,normalization=none",
                decoder="unet:filters=64,convs=3,activation=silu,space_to_depth=2,normalization=none",
                corruption="blind_spot", loss="blind_spot", target="noisy", learning_rate=1e-3,
                schedule="cosine", patch=64, augment="dihedral", batch_size=16, epochs=12),
    "unet": dict(encoder="unet:filters=64,128,convs=3,activation=silu,space_to_depth=2",
                 decoder="unet:filters=64,convs=3,activation=silu,space_to_depth=2",
                 loss="psnr", schedule="cosine", epochs=12, batch_size=32),
}


def _upgrade(values: dict[str, Any]) -> dict[str, Any]:
    """Config files (and run directories) written before images kept their own size still
    load: their ``image_size`` was the side a folder's images were resized to, now ``resize``;
    IDX data sets ignored it."""
    values = dict(values)
    if "image_size" in values:
        side = values.pop("image_size")
        if values.get("data", "fashion-mnist") not in ("fashion-mnist", "mnist"):
            values.setdefault("resize", side)
    return values


def load_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML config file; errors name the file and the line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"config file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config file {path}: not UTF-8 text (byte {exc.start}); TOML files are UTF-8") from None
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
