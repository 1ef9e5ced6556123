"""The ``daekit`` command line: parses arguments and calls the library, nothing more.

Usage and config errors exit 2 with one message listing every bad field; other daekit
errors exit 1 with one line; tracebacks never show local variables.
"""

from __future__ import annotations

import contextlib
import errno
import importlib.util
import inspect
import json
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import attrs
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from daekit.errors import ConfigError, DaekitError, DataError, Preempted
from daekit.kinds import KINDS

app = typer.Typer(
    name="daekit",
    help="Train, evaluate and use denoising autoencoders built from plugins.",
    epilog="Plugins may add commands of their own; `daekit plugins` lists each plugin's hooks.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)
console = Console()
errors = Console(stderr=True)


@contextlib.contextmanager
def reported_errors():
    """Turn daekit errors into a message and an exit code."""
    try:
        yield
    except ConfigError as exc:
        errors.print("[bold red]error:[/] " + escape("\n  ".join(exc.problems)), highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    except Preempted as exc:
        errors.print(f"stopped: {escape(str(exc))}; rerun the same command to continue", highlight=False, soft_wrap=True)
        raise typer.Exit(128 + exc.signal) from None
    except DaekitError as exc:
        errors.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        errors.print("interrupted")
        raise typer.Exit(130) from None
    except OSError as exc:  # the environment, not daekit: a full disk, a permission, a vanished file
        message = exc.strerror if exc.errno is not None and exc.strerror else str(exc)
        if exc.filename:
            message = f"{exc.filename}: {message}"
        if exc.errno == errno.ENOSPC:
            message += "; free some space (nothing saved before was replaced) and rerun the same command"
        errors.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None


#: The largest seed NumPy's legacy seeding (keras.utils.set_random_seed) takes.
SEED_MAX = 2**32 - 1


def _opt(help: str, metavar: str | None = None, *names: str):
    return typer.Option(*names, help=help, metavar=metavar, show_default=False)


def _setting_option(field: attrs.Attribute):
    """The CLI option of one training setting, from its declaration in daekit.config."""
    meta = field.metadata
    names = ("--" + field.name.replace("_", "-"), *meta.get("flags", ()))
    kind = str(field.type)
    metavar = meta.get("metavar") or next((word.upper() for word in ("bool", "int", "float") if word in kind), "TEXT")
    value = list[str] if meta.get("multiple") else str  # daekit converts and validates, all problems at once
    return Annotated[Optional[value], typer.Option(*names, help=meta["help"], metavar=metavar, show_default=False)]


def setting_help(name: str) -> str:
    """The help text of training setting ``name``, for commands that take the same value."""
    from daekit.config import TrainConfig

    return attrs.fields_dict(TrainConfig)[name].metadata["help"]


def _train(config: Optional[Path] = None, resume: Optional[Path] = None, **settings):
    """Train a denoising autoencoder and leave metrics, figures and the model in a run directory."""
    with reported_errors():
        _start_tensorflow_quietly()
        from daekit.config import TrainConfig
        from daekit.training import train as run_training

        if resume is not None:
            if config is not None or any(settings[key] is not None for key in ("preset", "output", "name")):
                raise ConfigError("--resume takes the run's own config; give no --config, --preset, --output or --name with it")
            if not (resume / "config.toml").is_file():
                raise ConfigError(f"--resume {resume}: not a daekit run directory (no config.toml)")
            from daekit.rundir import check_run_config

            check_run_config(resume / "config.toml")
            config, settings["output"], settings["name"] = resume / "config.toml", str(resume.parent), resume.name
        settings["corruption"] = settings.get("corruption") or None
        result = run_training(TrainConfig.resolve(file=config, **settings))
        report = result.evaluation
        if result.run_dir is None:
            console.print("this worker's run is complete; the chief wrote the run directory", highlight=False)
            return
        if "self_supervised_loss" in report:  # no clean images to score against
            console.print(f"run: {result.run_dir}\ntest {report['method']} loss: {report['self_supervised_loss']:.5f} "
                          f"({report['images']} noisy images; no clean ones to compute PSNR against)",
                          highlight=False, soft_wrap=True)
            return
        console.print(
            f"run: {result.run_dir}\n"
            f"test PSNR: noisy {report['noisy']['psnr']:.2f} dB -> denoised {report['denoised']['psnr']:.2f} dB; "
            f"SSIM {report['noisy']['ssim']:.3f} -> {report['denoised']['ssim']:.3f} ({report['images']} images)",
            highlight=False, soft_wrap=True,  # one line each, also in logs
        )


def _train_signature() -> inspect.Signature:
    """``train``'s options: ``--config``, one per training setting (daekit.config), ``--resume``."""
    from daekit.config import TrainConfig

    keyword = inspect.Parameter.KEYWORD_ONLY
    return inspect.Signature([
        inspect.Parameter("config", keyword, default=None, annotation=Annotated[Optional[Path], _opt(
            "TOML config file; flags override its values.", "FILE", "--config", "-c")]),
        *(inspect.Parameter(field.name, keyword, default=None, annotation=_setting_option(field))
          for field in attrs.fields(TrainConfig)),
        inspect.Parameter("resume", keyword, default=None, annotation=Annotated[Optional[Path], _opt(
            "Continue the run in this directory (with its saved config; --epochs may add epochs).", "RUN_DIR")]),
    ])


_train.__signature__ = _train_signature()
app.command("train")(_train)


_FRESH = typer.Option("--fresh", help="Load the plugins now instead of reading the cached catalogue of them.")


@app.command()
def plugins(as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
            fresh: Annotated[bool, _FRESH] = False):
    """List plugins: name, distribution, version, hooks, status and errors. Exits with
    status 1 when a plugin failed to load, so CI can run it as a check."""
    from daekit.catalogue import load

    infos = load(fresh, before_loading=_start_tensorflow_quietly)["plugins"]
    if as_json:
        console.print_json(json.dumps(infos))
    else:
        table = Table("name", "distribution", "version", "hooks", "status", "error")
        for info in infos:
            table.add_row(info["name"], info["distribution"] or "", info["version"] or "", ", ".join(info["hooks"]),
                          info["status"], escape(info["error"] or ""))
        console.print(table)
    failed = [info["label"] for info in infos if info["status"] != "ok"]
    if failed:
        errors.print(f"[bold red]error:[/] {len(failed)} plugin(s) failed to load: {escape(', '.join(failed))}",
                     highlight=False, soft_wrap=True)
        raise typer.Exit(1)


@app.command()
def runs(output: Annotated[Path, typer.Argument(help="The directory holding run directories (train's --output).")] = Path("runs"),
         as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False):
    """The runs under a directory and where each stands: running, completed, failed, preempted,
    or stopped (its process died while running; rerun the same command to resume it)."""
    with reported_errors():
        from daekit.rundir import list_runs

        rows = list_runs(output)
        if as_json:
            print(json.dumps(rows, indent=2))
            return
        table = Table("run", "state", "epochs", "test PSNR", "updated")
        for row in rows:
            table.add_row(escape(row["name"]), row["state"], "" if row["epochs"] is None else str(row["epochs"]),
                          "" if row["psnr"] is None else f"{row['psnr']:.2f}", row["updated"] or "")
        console.print(table)


@app.command()
def components(kind: Annotated[Optional[str], typer.Argument(help=f"{', '.join(KINDS)}; all if omitted.")] = None,
               fresh: Annotated[bool, _FRESH] = False):
    """List registered components by kind, with their options and defaults."""
    from daekit.catalogue import load

    with reported_errors():
        if kind is not None and kind not in KINDS:
            raise ConfigError(f"kind={kind!r}: choose one of {', '.join(KINDS)}")
    for name, entries in load(fresh, before_loading=_start_tensorflow_quietly)["kinds"].items():
        if kind is not None and name != kind:
            continue
        table = Table("name", "plugin", "options (default)", title=KINDS[name].plural, title_justify="left",
                      highlight=False)
        for entry in entries:
            options = "\n".join(f"{option}={default}: {help}" for option, default, help in entry["options"])
            if name == "corruption":  # what every corruption takes besides its options
                levels = "severity=1..5, " if entry["severities"] else ""
                options = (options + "\n" if options else "") + f"[{levels}probability=1.0, seed]"
            table.add_row(entry["name"], entry["plugin"], escape(options) or "-")
        console.print(table)


@app.command()
def evaluate(
    model: Annotated[Path, typer.Argument(help="A .keras file saved by daekit.")],
    corruption: Annotated[Optional[list[str]], _opt("Corruption to evaluate under (repeatable; default: the model's own).", "SPEC")] = None,
    baselines: Annotated[str, typer.Option(help="Classical denoisers to compare: all, none, or names (tv,wavelet,nlm,bm3d).")] = "all",
    data: Annotated[str, typer.Option(help=setting_help("data"))] = "fashion-mnist",
    data_dir: Annotated[Optional[str], _opt(setting_help("data_dir"), "DIR")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the noise.", min=0, max=SEED_MAX)] = 1234,
    limit: Annotated[Optional[int], typer.Option(help="Evaluate on at most this many test images.", min=1)] = None,
    workers: Annotated[int, typer.Option(help="Processes for the classical denoisers (one image per core at a time).", min=1)] = 1,
    json_path: Annotated[Optional[Path], typer.Option("--json", help="Also write the results as JSON to this file.")] = None,
    csv_path: Annotated[Optional[Path], typer.Option("--csv", help="Also write the results as CSV to this file.")] = None,
    figures: Annotated[Optional[Path], typer.Option(help="Directory for a PSNR heatmap and comparison figures.")] = None,
    pairs: Annotated[Optional[tuple[Path, Path]], typer.Option(
        metavar="NOISY_DIR CLEAN_DIR", help="Score real noisy images against clean ones, matched by file name; no noise is drawn.")] = None,
):
    """PSNR and SSIM of the noisy input, classical denoisers and the model, over the test set
    (Fashion-MNIST's, or every image of a folder, whole), for the model's own corruption or a
    list of corruptions (a robustness matrix), or over real noisy/clean pairs."""
    with reported_errors():
        _start_tensorflow_quietly()
        import csv

        from daekit import baselines as classical
        from daekit.data import load_data
        from daekit.figures import comparison_rows, psnr_heatmap, save_figure
        from daekit.model import build_component
        from daekit.robustness import evaluate_matrix, evaluate_pairs
        from daekit.saving import load_model

        chosen = classical.resolve(baselines)
        for path in (json_path, csv_path):  # checked before the evaluation, not after it
            if path is not None and not path.parent.is_dir():
                raise DataError(f"{path}: its directory {path.parent} does not exist")
        specs = corruption or []
        noises = [(spec, build_component("corruption", spec)) for spec in specs]
        loaded = load_model(model)
        if not noises:
            own = type(loaded.corruption).name
            if pairs is None and (getattr(loaded.corruption, "blind_spot", False) or own == "none"):
                raise ConfigError(f"{model}: its training corruption {own!r} draws no noise to evaluate under; give "
                                  "the noise (--corruption gaussian:stddev=0.1), or real noisy and clean images "
                                  "(--pairs NOISY_DIR CLEAN_DIR)")
            noises = [(str(loaded.manifest.get("corruption", {}).get("name", "model's own")), loaded.corruption)]
        from daekit.data.folder import load_folder, match_pairs

        if pairs is not None:
            if corruption:
                raise ConfigError("--pairs scores real noise: give no --corruption with it")
            channels = loaded.image_shape[2]
            noisy, images = match_pairs(load_folder(pairs[0], channels), load_folder(pairs[1], channels), *pairs)
            noisy, images = noisy.head(limit), images.head(limit)
            rows, found = evaluate_pairs(loaded, noisy, images, chosen, keep=8)
            kept = {"real noise": found}
        elif data in ("fashion-mnist", "mnist"):
            images = load_data(data, data_dir=data_dir).test
            images = images[:limit] if limit else images
            rows, kept = evaluate_matrix(loaded, images, noises, chosen, seed=seed, keep=8, workers=workers)
        else:  # every image of the folder, whole, at its own size
            images = load_folder(data, channels=loaded.image_shape[2]).head(limit)
            rows, kept = evaluate_matrix(loaded, images, noises, chosen, seed=seed, keep=8, workers=workers)
        table = Table("corruption", "method", "PSNR (dB)", "SSIM", "images/s",
                      title=escape(f"{model} on {len(images)} test images, seed {seed}"
                                   + (f", classical denoisers in {workers} processes" if chosen and workers > 1 else "")))
        for row in rows:
            rate = f"{row['images_per_second']:,.0f}" if row["images_per_second"] else ""
            table.add_row(escape(row["corruption"]), row["method"], f"{row['psnr']:.2f}", f"{row['ssim']:.4f}", rate)
        console.print(table)
        report = {"model": str(model), "images": len(images), "seed": seed, "workers": workers, "rows": rows}
        if json_path is not None:
            json_path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
            console.print(f"wrote {json_path}")
        if csv_path is not None:
            with csv_path.open("w", newline="", encoding="utf-8") as handle:
                writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
                writer.writeheader()
                writer.writerows(rows)
            console.print(f"wrote {csv_path}")
        if figures is not None:
            save_figure(psnr_heatmap(rows, title=f"mean PSNR, {len(images)} test images"), figures / "heatmap.png")
            for index, (label, outputs) in enumerate(kept.items()):
                clean = outputs.pop("clean")
                save_figure(comparison_rows(clean, outputs, title=label), figures / f"comparison_{index + 1}.png")
            console.print(f"wrote figures to {figures}")


@app.command()
def denoise(
    model: Annotated[Path, typer.Argument(help="A .keras file saved by daekit.")],
    inputs: Annotated[list[Path], typer.Argument(help="Image files or folders (PNG at 8 or 16 bits, JPEG, BMP, TIFF).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory for the denoised images (same names and formats).")],
    tile: Annotated[Optional[int], typer.Option(help="Tile side for large images (default: the largest whose pass fits --memory).", min=8)] = None,
    overlap: Annotated[Optional[int], typer.Option(help="Overlap of neighbouring tiles (default 128).", min=0)] = None,
    memory: Annotated[Optional[float], typer.Option(help="GiB the tiles of one pass may take (default: a quarter of the memory available).", min=0.01)] = None,
    resize: Annotated[bool, typer.Option("--resize", help="Let a model of one size take other sizes by resizing to it and back.")] = False,
):
    """Denoise image files with a saved model, each at its own size, channels, bit depth and format."""
    with reported_errors():
        _start_tensorflow_quietly()
        from daekit.images import denoise_files
        from daekit.saving import load_model

        denoise_files(load_model(model), inputs, out, tile=tile, overlap=overlap, resize=resize,
                      memory=None if memory is None else memory * 2**30,
                      on_file=lambda path: console.print(str(path), highlight=False))


@app.command()
def export(
    model: Annotated[Path, typer.Argument(help="A .keras file saved by daekit.")],
    format: Annotated[str, typer.Option("--format", "-f", help="saved_model (a directory), onnx (.onnx) or litert (.tflite).")] = "saved_model",
    out: Annotated[Path, typer.Option("--out", "-o", help="Where the export goes; its model card is written beside it.")] = Path("export"),
    robustness: Annotated[Optional[Path], _opt("A robustness matrix (daekit evaluate --json) to add to the model card.", "JSON")] = None,
):
    """Export a model's inference path (no corruption) to run without daekit, checked against the model."""
    with reported_errors():
        from daekit.deploy import check_dependencies, check_destination

        check_destination(out, format)
        check_dependencies(format)
        matrix = None
        if robustness is not None:
            try:
                matrix = json.loads(robustness.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise ConfigError(f"--robustness {robustness}: not a readable JSON file ({exc})") from None
        _start_tensorflow_quietly()
        from daekit.deploy import export as export_model

        path = export_model(model, out, format, robustness=matrix)
        console.print(f"wrote {path} and its model card {path.name}.card.md", highlight=False)


def _labelled_data(data: str, data_dir, model, resize):
    from daekit.data import load_data

    return load_data(data, data_dir=data_dir, channels=model.image_shape[-1], resize=resize)


@app.command()
def embed(
    model: Annotated[Path, typer.Argument(help="A .keras file saved by daekit.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="The .npz file to write.")],
    data: Annotated[str, typer.Option(help=setting_help("data"))] = "fashion-mnist",
    data_dir: Annotated[Optional[str], _opt(setting_help("data_dir"), "DIR")] = None,
    split: Annotated[str, typer.Option(help="The images to embed: test, train or both.")] = "test",
    limit: Annotated[Optional[int], typer.Option(help="At most this many images of each split.", min=1)] = None,
    resize: Annotated[Optional[int], typer.Option(help=setting_help("resize"), min=4)] = None,
):
    """Write the encoder's code of each image (flat codes as they are, feature maps averaged
    over space), with its label and index or file name, to an .npz file."""
    with reported_errors():
        if split not in ("test", "train", "both"):
            raise ConfigError(f"--split {split!r}: choose test, train or both")
        if out.suffix != ".npz":
            raise ConfigError(f"--out {out}: the codes are written as an .npz file; give a name ending in .npz")
        if not out.parent.is_dir():
            raise DataError(f"--out {out}: its directory {out.parent} does not exist")
        _start_tensorflow_quietly()
        import numpy as np

        from daekit.data.folder import ImageList
        from daekit.representation import embed as codes_of
        from daekit.saving import load_model

        loaded = load_model(model)
        source = _labelled_data(data, data_dir, loaded, resize)
        arrays = {"codes": [], "split": [], "labels": [], "index": []}
        for name in (("train", "test") if split == "both" else (split,)):
            images = getattr(source, name)
            count = min(limit or len(images), len(images))
            chosen = images.head(count) if isinstance(images, ImageList) else images[:count]
            arrays["codes"].append(codes_of(loaded, [chosen[i] for i in range(count)]
                                            if isinstance(chosen, ImageList) else chosen))
            arrays["split"].append(np.full(count, name))
            arrays["index"].append(np.asarray(chosen.names) if isinstance(chosen, ImageList) else np.arange(count))
            if source.labelled:
                arrays["labels"].append(getattr(source, f"{name}_labels")[:count])
        written = {key: np.concatenate(value) for key, value in arrays.items() if value}
        if source.labelled:
            written["class_names"] = np.asarray(source.class_names)
        written["names" if isinstance(source.test, ImageList) else "index"] = written.pop("index")
        partial = out.with_name(f".{out.stem}.partial.npz")
        try:
            np.savez(partial, **written)
            partial.replace(out)
        except OSError as exc:
            partial.unlink(missing_ok=True)
            raise DataError(f"--out {out}: cannot write: {exc.strerror or exc}") from None
        codes = written["codes"]
        console.print(f"wrote {out}: {len(codes)} codes of width {codes.shape[1]}"
                      + ("" if source.labelled else " (unlabelled)"), highlight=False)


@app.command()
def probe(
    model: Annotated[Path, typer.Argument(help="A .keras file saved by daekit.")],
    data: Annotated[str, typer.Option(help=setting_help("data"))] = "fashion-mnist",
    data_dir: Annotated[Optional[str], _opt(setting_help("data_dir"), "DIR")] = None,
    train_limit: Annotated[Optional[int], typer.Option(help="Train the probes on at most this many images.", min=2)] = None,
    test_limit: Annotated[Optional[int], typer.Option(help="Score them on at most this many test images.", min=1)] = None,
    k: Annotated[int, typer.Option(help="Neighbours of the k-NN probe.", min=1)] = 5,
    resize: Annotated[Optional[int], typer.Option(help=setting_help("resize"), min=4)] = None,
    seed: Annotated[int, typer.Option(help="Seed of the linear probe's training.", min=0, max=SEED_MAX)] = 0,
    json_path: Annotated[Optional[Path], typer.Option("--json", help="Also write the results as JSON to this file.")] = None,
    figures: Annotated[Optional[Path], typer.Option(help="Directory for a map of the test codes and a retrieval grid.")] = None,
    map_method: Annotated[str, typer.Option("--map", help="The map's projection: pca, or tsne (needs scikit-learn).")] = "pca",
):
    """Score the codes on the labels: a linear probe and k nearest neighbours, beside the
    same probes on the raw pixels and on a PCA of the pixels as wide as the code."""
    with reported_errors():
        if map_method not in ("pca", "tsne"):
            raise ConfigError(f"--map {map_method!r}: choose pca or tsne")
        if map_method == "tsne" and importlib.util.find_spec("sklearn") is None:
            raise ConfigError("--map tsne needs scikit-learn: pip install 'daekit[tsne]'")
        if json_path is not None and not json_path.parent.is_dir():
            raise DataError(f"--json {json_path}: its directory {json_path.parent} does not exist")
        _start_tensorflow_quietly()
        import numpy as np

        from daekit.figures import save_figure
        from daekit.representation import code_map_figure, nearest, probe_report, retrieval_figure
        from daekit.saving import load_model

        loaded = load_model(model)
        source = _labelled_data(data, data_dir, loaded, resize)
        report = probe_report(loaded, source, train_limit, test_limit, k=k, seed=seed)
        codes_train, codes_test = report.pop("codes")
        images_train, images_test = report.pop("images")
        labels_train, labels_test = report.pop("labels")
        table = Table(title=f"test accuracy, {report['test']} images ({report['train']} to train the probes), "
                            f"chance {report['chance']:.3f}")
        for column in ("features", "linear probe", f"{k}-NN"):
            table.add_column(column, justify="left" if column == "features" else "right")
        for row in report["rows"]:
            table.add_row(row["features"], f"{row['linear_probe']:.4f}", f"{row['knn']:.4f}")
        console.print(table)
        if json_path is not None:
            json_path.write_text(json.dumps({"model": str(model), **report}, indent=2) + "\n", encoding="utf-8")
            console.print(f"wrote {json_path}")
        if figures is not None:
            names = report["classes"]
            save_figure(code_map_figure(codes_test, labels_test, names, map_method, seed), figures / "code_map.png")
            queries = np.random.default_rng(seed).choice(len(images_test), size=min(8, len(images_test)), replace=False)
            found = nearest(codes_train, codes_test[queries], k=min(6, len(images_train)))
            save_figure(retrieval_figure(images_test[queries], images_train[found], labels_test[queries],
                                         labels_train[found], names), figures / "retrieval.png")
            console.print(f"wrote figures to {figures}")


@app.command()
def preview(
    out: Annotated[Path, typer.Option("--out", "-o", help="PNG file to write.")],
    corruption: Annotated[Optional[list[str]], _opt("A corruption per row (repeatable); default: every corruption at severities 1 to 5.", "SPEC")] = None,
    data: Annotated[str, typer.Option(help=setting_help("data"))] = "fashion-mnist",
    data_dir: Annotated[Optional[str], _opt(setting_help("data_dir"), "DIR")] = None,
    images: Annotated[int, typer.Option(help="Images per row.", min=1, max=32)] = 8,
    resize: Annotated[Optional[int], typer.Option(help=setting_help("resize"), min=4)] = None,
    channels: Annotated[int, typer.Option(help=setting_help("channels"), min=1, max=3)] = 1,
    seed: Annotated[int, typer.Option(help="Seed of the corruptions and of the image choice.", min=0, max=SEED_MAX)] = 0,
):
    """Draw real images under corruptions, each cell labelled with its PSNR."""
    with reported_errors():
        _start_tensorflow_quietly()
        import numpy as np

        from daekit.data import load_data
        from daekit.figures import save_figure
        from daekit.manager import get_plugins
        from daekit.model import build_component
        from daekit.preview import corruption_figure, severity_figure

        specs = corruption or []
        built = [(spec, build_component("corruption", spec)) for spec in specs]  # bad specs fail before data loads
        if data in ("fashion-mnist", "mnist"):
            test = load_data(data, data_dir=data_dir).test
            chosen = test[np.random.default_rng(seed).choice(len(test), size=min(images, len(test)), replace=False)]
        else:  # a folder: crops of the user's images at full resolution
            from daekit.data.folder import load_folder
            from daekit.preview import full_resolution_crops

            found = load_folder(data, channels=channels, resize=resize)
            chosen = full_resolution_crops(found, images, seed)
        if built:
            figure = corruption_figure(chosen, built, seed=seed)
        else:
            registry = get_plugins().registries["corruption"]
            classes = [registry.get(name) for name in registry.names() if registry.get(name).SEVERITIES]
            figure = severity_figure(chosen[0], classes, seed=seed)
        console.print(str(save_figure(figure, out)), highlight=False)


def _start_tensorflow_quietly() -> None:
    """Import TensorFlow and find devices with file descriptor 2 closed.

    TensorFlow's C++ start-up writes several lines (oneDNN notices, CUDA probes) to stderr
    before any Python logging setting applies; they would bury daekit's one-line errors. The
    devices found are recorded in each run's manifest. ``DAEKIT_TF_LOGS=1`` keeps the lines.
    """
    if os.environ.get("DAEKIT_TF_LOGS") == "1":
        return
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        import tensorflow as tf

        tf.config.list_physical_devices()  # not logical ones: --cpu-devices must still be able to split the CPU
    except Exception:
        pass  # the real import below reports it, with stderr open
    finally:
        os.dup2(saved, 2)
        os.close(devnull)
        os.close(saved)


def main() -> None:
    """Entry point of the ``daekit`` command.

    TensorFlow starts only in the commands that need it, so ``daekit --help`` answers at once.
    Plugins' own commands are loaded (which imports the plugins, and so Keras) only when the
    command line names a command that is not built in.
    """
    builtin = {command.name or command.callback.__name__ for command in app.registered_commands}
    named = next((arg for arg in sys.argv[1:] if not arg.startswith("-")), None)
    if named is not None and named not in builtin:
        _start_tensorflow_quietly()
        with contextlib.suppress(Exception):
            from daekit.manager import get_plugins

            get_plugins().add_commands(app)
    try:
        code = app(prog_name="daekit", standalone_mode=False)
    except typer.Abort:
        errors.print("interrupted")
        sys.exit(130)
    except typer.TyperException as exc:  # the command line's own errors: an unknown option, a value out of range
        context = getattr(exc, "ctx", None)
        if type(exc).__name__ == "NoArgsIsHelpError":  # a bare `daekit`: its help is printed already
            sys.exit(2)
        hint = f" (see '{context.command_path} --help')" if context is not None else ""
        message = exc.format_message().rstrip(".")
        errors.print(f"[bold red]error:[/] {escape(message)}{hint}", highlight=False, soft_wrap=True)
        sys.exit(getattr(exc, "exit_code", 2))
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    sys.exit(main())
