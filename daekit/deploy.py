"""A trained denoiser's inference path as a SavedModel, an ONNX file or a LiteRT flatbuffer,
checked by loading it back with that format's own runtime, with a model card beside it.

What is exported is the encoder and decoder alone (:meth:`DenoisingAutoencoder.reconstruct`):
no corruption, no training-only layer, no daekit code. It takes a float32 NHWC batch in
[0, 1] and returns the denoised batch, clipped to [0, 1]. A fully convolutional model keeps
any height and width: the graph pads each side by reflection to the model's multiple and
crops the output back, as ``daekit denoise`` does. Other models take their training size.

Each export is written next to its destination, run back on check images with
``tf.saved_model.load``, ONNX Runtime or the LiteRT interpreter, compared with the Keras
model, and only then moved into place, so a failed export leaves an earlier one untouched.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from daekit.errors import ConfigError, ExportError
from daekit.tiling import size_multiple

FORMATS = ("saved_model", "onnx", "litert")
#: What the destination's name ends in, per format (a SavedModel is a directory).
SUFFIXES = {"saved_model": "", "onnx": ".onnx", "litert": ".tflite"}
#: Largest difference allowed between the export's output and the Keras model's.
TOLERANCE = 1e-5
INSTALL = "pip install 'daekit[export]'"
ONNX_OPSET = 17


def check_destination(path: str | Path, format: str) -> Path:
    """Refuse, before any work, a format daekit does not write or a destination it cannot use."""
    path = Path(path)
    if format not in FORMATS:
        raise ConfigError(f"--format {format!r}: choose one of {', '.join(FORMATS)}")
    suffix = SUFFIXES[format]
    if suffix and path.suffix != suffix:
        raise ConfigError(f"--out {path}: {format} exports are one file whose name ends in {suffix}")
    if not suffix and path.suffix in (".onnx", ".tflite", ".keras"):
        raise ConfigError(f"--out {path}: a saved_model export is a directory; give a name without {path.suffix}")
    if path.exists() and path.is_dir() != (not suffix):
        raise ConfigError(f"--out {path}: already exists as a {'directory' if path.is_dir() else 'file'}")
    parent = path.parent
    if parent.exists() and not parent.is_dir():
        raise ConfigError(f"--out {path}: {parent} is a file, not a directory")
    return path


def check_dependencies(format: str) -> None:
    """Name the missing packages an export needs, with the line that installs them."""
    needed = {"onnx": ["tf2onnx", "onnx", "onnxruntime"], "litert": [], "saved_model": []}[format]
    missing = [name for name in needed if not _installed(name)]
    if missing:
        raise ExportError(f"--format {format} needs {', '.join(missing)}, which {'is' if len(missing) == 1 else 'are'} "
                          f"not installed: {INSTALL}")


def _installed(name: str) -> bool:
    if name in sys.modules:  # imported already, or blocked (None)
        return sys.modules[name] is not None
    return importlib.util.find_spec(name) is not None


def inference_function(model):
    """The model's inference path as a ``tf.function`` with its input signature."""
    import tensorflow as tf

    multiple = size_multiple(model)
    height, width, channels = model.image_shape
    shape = (None, None, None, channels) if multiple else (None, height, width, channels)
    spec = tf.TensorSpec(shape, tf.float32, name="images")

    @tf.function(input_signature=[spec])
    def denoise(images):
        if multiple:
            size = tf.shape(images)
            pad_h, pad_w = (multiple - size[1] % multiple) % multiple, (multiple - size[2] % multiple) % multiple
            padded = tf.pad(images, [[0, 0], [0, pad_h], [0, pad_w], [0, 0]], mode="SYMMETRIC")
            # Pads computed at run time leave even the channels unknown to the LiteRT converter,
            # whose convolutions need them: a reshape to the same shape states them again.
            padded = tf.reshape(padded, [-1, size[1] + pad_h, size[2] + pad_w, channels])
            out = model.reconstruct(padded, training=False)[:, : size[1], : size[2], :]
        else:
            out = model.reconstruct(images, training=False)
        return {"denoised": tf.clip_by_value(out, 0.0, 1.0)}

    return denoise, spec


def check_images(model) -> list[np.ndarray]:
    """Noisy photographs to compare the export with the model on: two odd sizes for a fully
    convolutional model (so the padding is checked too), the training size otherwise."""
    from skimage import data

    from daekit.data.files import convert_channels, to_unit

    photo = to_unit(convert_channels(data.astronaut(), model.image_shape[-1]))
    rng = np.random.default_rng(0)
    if size_multiple(model):
        crops = [photo[100:161, 180:257], photo[20:84, 40:136]]  # 61x77 and 64x96
    else:
        import tensorflow as tf

        crops = [tf.image.resize(photo, model.image_shape[:2], antialias=True).numpy()]
    return [np.clip(crop + rng.normal(0, 0.1, crop.shape), 0, 1).astype(np.float32) for crop in crops]


def _write(model, format: str, path: Path, work: Path) -> None:
    import keras
    import tensorflow as tf

    function, spec = inference_function(model)
    if format == "onnx":
        import tf2onnx

        tf2onnx.convert.from_function(function, input_signature=[spec], opset=ONNX_OPSET, output_path=str(path))
        return
    saved = path if format == "saved_model" else work / "saved_model"
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(name="serve", fn=function, input_signature=[spec])
    archive.write_out(str(saved), verbose=False)
    if format == "litert":
        converter = tf.lite.TFLiteConverter.from_saved_model(str(saved))
        path.write_bytes(converter.convert())


def runtime(path: str | Path, format: str):
    """The export at ``path`` loaded by its format's own runtime, daekit not involved, as a
    function from a float32 NHWC batch to the denoised batch."""
    path = str(path)
    if format == "saved_model":
        import tensorflow as tf

        served = tf.saved_model.load(path).signatures["serving_default"]
        return lambda images: served(images=tf.constant(images))["denoised"].numpy()
    if format == "onnx":
        import onnxruntime

        session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
        return lambda images: session.run(["denoised"], {"images": images})[0]
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        import tensorflow as tf

        Interpreter = tf.lite.Interpreter
    runner = Interpreter(model_path=path).get_signature_runner("serving_default")
    return lambda images: runner(images=images)["denoised"]


def _verify(model, format: str, staged: Path, path: Path) -> list[dict]:
    from daekit.tiling import predict_tiled

    checks = []
    try:
        run = runtime(staged, format)
    except Exception as exc:  # the runtime's own failure, named
        raise ExportError(f"the {format} export for {path} does not load: {type(exc).__name__}: "
                          f"{str(exc).splitlines()[0] if str(exc) else ''}") from None
    for image in check_images(model):
        expected = np.clip(predict_tiled(model, image, tile=4096), 0.0, 1.0)
        try:
            got = np.asarray(run(image[None]))[0]
        except Exception as exc:  # the runtime's own failure, named
            raise ExportError(f"the {format} export for {path} does not run on a {image.shape[1]}x{image.shape[0]} "
                              f"image: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from None
        difference = float(np.abs(got - expected).max()) if got.shape == expected.shape else float("inf")
        checks.append({"height": image.shape[0], "width": image.shape[1], "max_difference": difference})
        if not difference <= TOLERANCE:
            raise ExportError(f"the {format} export differs from the model by {difference:.3g} (allowed {TOLERANCE}) "
                              f"on a {image.shape[1]}x{image.shape[0]} image; {path} was left as it was")
    return checks


def _versions(format: str) -> dict:
    names = ["daekit", "keras", "tensorflow"] + {"onnx": ["tf2onnx", "onnx", "onnxruntime"]}.get(format, [])
    versions = {}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def model_card(model, format: str, path: Path, checks: list[dict], run_dir: Path | None = None,
               robustness: Any = None) -> dict:
    """What an export is and where it came from, as the JSON card records it."""
    multiple = size_multiple(model)
    height, width, channels = model.image_shape
    manifest = dict(model.manifest)
    card = {
        "export": {"format": format, "file": path.name, "signature": "serving_default" if format != "onnx" else None,
                   "input": "images", "output": "denoised"},
        "accepts": {"dtype": "float32", "range": [0.0, 1.0], "layout": "NHWC", "channels": channels,
                    "height": None if multiple else height, "width": None if multiple else width,
                    "any_size": bool(multiple), "trained_on": [height, width]},
        "architecture": {kind: manifest.get(kind) for kind in ("encoder", "decoder")},
        "parameters": int(model.count_params()),
        "training_corruption": manifest.get("corruption"),
        "checked": {"tolerance": TOLERANCE, "images": checks},
        "versions": _versions(format),
    }
    if run_dir is not None:
        run_manifest = _read_json(run_dir / "manifest.json") or {}
        status = _read_json(run_dir / "status.json") or {}
        card["run"] = {"directory": str(run_dir), "data": run_manifest.get("data"),
                       "command": run_manifest.get("command"), "seed": run_manifest.get("seed"),
                       "plugins": run_manifest.get("plugins"), "progress": status.get("progress", {}).get("epoch")}
        card["evaluation"] = _read_json(run_dir / "evaluation.json") or status.get("evaluation")
        config = run_dir / "config.toml"
        if config.is_file():
            card["run"]["config"] = config.read_text(encoding="utf-8")
    if robustness is not None:
        card["robustness"] = robustness
    return card


def card_markdown(card: dict) -> str:
    """The card for people: what goes in and out, how it was trained, how it scored."""
    accepts, export = card["accepts"], card["export"]
    size = ("any height and width" if accepts["any_size"]
            else f"{accepts['height']}x{accepts['width']} only")
    parts = card["architecture"]
    lines = [f"# Denoiser: {parts['encoder']['name']} encoder, {parts['decoder']['name']} decoder ({export['format']})",
             "",
             f"- **File:** `{export['file']}`, input `{export['input']}`, output `{export['output']}`"
             + (f", signature `{export['signature']}`" if export["signature"] else ""),
             f"- **Takes:** float32, NHWC, values in [0, 1], {accepts['channels']} channel(s), {size} "
             f"(trained on {accepts['trained_on'][0]}x{accepts['trained_on'][1]}); returns the same shape, clipped to [0, 1].",
             f"- **Parameters:** {card['parameters']:,}",
             f"- **Trained against:** {_describe_part(card['training_corruption'])}",
             f"- **Parts:** " + "; ".join(f"{kind} {_describe_part(part)}" for kind, part in parts.items()),
             f"- **Checked:** " + ", ".join(f"{c['width']}x{c['height']}: {c['max_difference']:.1e}"
                                            for c in card["checked"]["images"])
             + f" largest difference from the Keras model (allowed {card['checked']['tolerance']})",
             "- **Versions:** " + ", ".join(f"{name} {version}" for name, version in card["versions"].items() if version)]
    run = card.get("run")
    if run:
        lines += ["", "## Training", "", f"- Run directory: `{run['directory']}`"]
        if run.get("data"):
            data = run["data"]
            lines.append(f"- Data: {data.get('name')} ({data.get('train')} training, {data.get('validation')} "
                         f"validation, {data.get('test')} test images)")
        if run.get("command"):
            lines.append(f"- Command: `{' '.join(run['command']) if isinstance(run['command'], list) else run['command']}`")
        if run.get("progress") is not None:
            lines.append(f"- Epochs trained: {run['progress']}")
    evaluation = card.get("evaluation")
    if evaluation and evaluation.get("denoised"):
        lines += ["", "## Evaluation (test set)", "", "| | PSNR (dB) | SSIM |", "| --- | ---: | ---: |"]
        for row in ("noisy", "denoised"):
            if evaluation.get(row):
                lines.append(f"| {row} | {evaluation[row]['psnr']:.2f} | {evaluation[row]['ssim']:.3f} |")
        for name, scores in (evaluation.get("baselines") or {}).items():
            lines.append(f"| {name} | {scores['psnr']:.2f} | {scores['ssim']:.3f} |")
    if card.get("robustness"):
        lines += ["", "## Robustness", "", "```json", json.dumps(card["robustness"], indent=1)[:4000], "```"]
    return "\n".join(lines) + "\n"


def _describe_part(part: dict | None) -> str:
    if not part:
        return "unknown"
    options = ", ".join(f"{key}={value}" for key, value in (part.get("options") or {}).items())
    source = part.get("distribution") or part.get("plugin")
    version = f" {part['version']}" if part.get("version") else ""
    return f"`{part['name']}`" + (f" ({options})" if options else "") + (f", from {source}{version}" if source else "")


def card_paths(path: Path) -> tuple[Path, Path]:
    """Where the Markdown and JSON cards of the export at ``path`` go: beside it."""
    return path.with_name(path.name + ".card.md"), path.with_name(path.name + ".card.json")


def _replace(new: Path, path: Path) -> None:
    """Move ``new`` to ``path``; an earlier export there goes only once the new one is in place."""
    if new.is_dir() and path.exists():
        old = path.with_name(f".{path.name}.old-{os.getpid()}")
        os.replace(path, old)
        os.replace(new, path)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(new, path)


def export(model, path: str | Path, format: str = "saved_model", robustness: Any = None) -> Path:
    """Export the inference path of ``model`` (a model, or the path of a ``.keras`` file) to
    ``path`` in ``format``, check it against the model, and write its card beside it.

    Example:
        >>> daekit.export("runs/photo/model.keras", "exports/photo.onnx", "onnx")

    Args:
        format: ``"saved_model"`` (a directory), ``"onnx"`` (``.onnx``) or ``"litert"`` (``.tflite``).
        robustness: A robustness matrix (``daekit evaluate --json``) to add to the card.

    Raises:
        ConfigError: An unknown format, or a destination that cannot be used.
        ExportError: A missing optional package (with the line that installs it), or an
            export whose output differs from the model's by more than :data:`TOLERANCE`.
    """
    path = check_destination(path, format)
    check_dependencies(format)
    run_dir = None
    if isinstance(model, (str, Path)):
        from daekit.saving import load_model

        parent = Path(model).resolve().parent
        run_dir = parent if (parent / "manifest.json").is_file() else None  # a run directory's model
        model = load_model(model)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    except OSError as exc:
        raise ExportError(f"--out {path}: cannot write in {path.parent}: {exc.strerror or exc}") from None
    try:
        staged = work / (path.name or "export")
        try:
            _write(model, format, staged, work)
        except OSError as exc:
            raise ExportError(f"cannot write the {format} export in {path.parent}: {exc.strerror or exc}") from None
        checks = _verify(model, format, staged, path)
        card = model_card(model, format, path, checks, run_dir, robustness)
        markdown, card_json = card_paths(path)
        (work / "card.md").write_text(card_markdown(card), encoding="utf-8")
        (work / "card.json").write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
        _replace(staged, path)
        os.replace(work / "card.md", markdown)
        os.replace(work / "card.json", card_json)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return path
