"""Restoring image files with a trained model: ``daekit denoise``.

Each image is written at its own size, channels, bit depth and format (a 16-bit PNG gives a
16-bit PNG, a TIFF a TIFF); large images go through in tiles (:mod:`daekit.tiling`). Every
input is checked before the first is denoised: unreadable files, and sizes a model of one
size cannot take, are listed together.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from pathlib import Path

from daekit.data.files import IMAGE_SUFFIXES, ImageFile, list_images, probe, read_pixels, write_image
from daekit.errors import ConfigError, DataError
from daekit.rundir import check_creatable
from daekit.tiling import check_size, denoise, size_multiple


def _inputs(inputs: Iterable[Path]) -> list[tuple[Path, Path]]:
    """(file, name under the output directory) for every file given or found in a folder."""
    found = []
    for given in map(Path, inputs):
        if given.is_dir():
            found += [(path, path.relative_to(given)) for path in list_images(given)]
        elif given.is_file():
            found.append((given, Path(given.name)))
        else:
            raise DataError(f"{given}: no such file or directory")
    if not found:
        raise DataError(f"no image files ({', '.join(IMAGE_SUFFIXES)}) in {', '.join(map(str, inputs))}")
    return found


def plan_outputs(model, inputs: Iterable[Path], out: Path, resize: bool = False) -> list[tuple[ImageFile, Path]]:
    """Check every input and the output directory before any work: (input, output) pairs.

    Raises:
        DataError: Unreadable inputs (all of them), an output directory that is a file, or
            outputs that would overwrite an input or each other.
        ConfigError: Sizes that a model of one size only cannot take without ``resize``.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise DataError(f"--out {out}: is a file; give a directory for the denoised images")
    found = _inputs(inputs)
    infos, problems = [], []
    for path, _ in found:
        try:
            infos.append(probe(path))
        except DataError as exc:
            problems.append(str(exc))
    if problems:
        raise DataError(f"{len(problems)} of {len(found)} inputs cannot be read:\n" + "\n".join(problems[:20]))
    if not resize and size_multiple(model) is None:
        for info in infos:
            check_size(model, info.height, info.width, str(info.path))
    targets = [out / name for _, name in found]
    sources = {path.resolve() for path, _ in found}
    clashes = [str(target) for target in targets if target.resolve() in sources]
    if clashes or len(set(targets)) != len(targets):
        raise DataError(f"output names clash with inputs or with each other: {', '.join(clashes) or 'repeated names'}")
    # Not made yet: it is made with the first image written, so that a command refused on the way leaves nothing.
    check_creatable(out, "--out", "the denoised images", DataError)
    return list(zip(infos, targets))


def denoise_files(model, inputs: Iterable[Path], out: Path, tile: int | None = None, overlap: int | None = None,
                  resize: bool = False, progress: bool | None = None, memory: float | None = None,
                  on_file: Callable[[Path], None] | None = None) -> list[Path]:
    """Denoise image files and folders into ``out``, each at its own size, channels, bit
    depth and format; files found in a folder keep their path below it.

    Args:
        tile, overlap, memory: Tiling of large images (:func:`daekit.tiling.denoise`).
        resize: Let a model of one size only take other sizes by resizing to it and back.
        progress: A progress bar over the files; by default on a terminal.
    """
    pairs = plan_outputs(model, inputs, out, resize)
    if tile is not None and overlap is not None and overlap >= tile:
        raise ConfigError(f"--overlap {overlap} must be smaller than --tile {tile}")
    written = []
    progress = sys.stdout.isatty() if progress is None else progress
    if progress:
        from rich.progress import track

        pairs = track(pairs, description="denoising", transient=True)
    for info, target in pairs:
        restored = denoise(model, read_pixels(info), tile=tile, overlap=overlap, resize=resize, memory=memory)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DataError(f"{target.parent}: cannot create the directory: {exc.strerror or exc}") from None
        written.append(write_image(target, restored))
        if on_file is not None:
            on_file(target)
    return written
