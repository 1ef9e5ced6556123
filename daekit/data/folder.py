"""A folder of image files as a data source: listed and checked first, decoded once into a
cache, then memory-mapped, so that memory does not grow with the folder.

Each file is decoded to the run's channels (and size, with ``resize``) and kept as a ``.npy``
array of its own bit depth under ``<cache>/images`` (``$DAEKIT_CACHE``, else
``~/.cache/daekit``), keyed by the file's path, size and modification time: a second run on
the same folder reads no image again, and the operating system pages the pixels in and out
as the sampler touches them.
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

import attrs
import numpy as np

from daekit.data.files import MAX_PIXELS, ImageFile, convert_channels, list_images, probe, read_pixels, to_unit
from daekit.errors import DataError

_CACHE_VERSION = "1"
_SHOWN = 20


@functools.lru_cache(maxsize=256)
def _mapped(path: str) -> np.ndarray:
    # Each map holds a file descriptor: a folder of many thousand files keeps only the
    # recently used ones open.
    return np.load(path, mmap_mode="r")


@attrs.frozen
class ImageList:
    """The images of one split, each ``(height, width, channels)`` ``uint8`` or ``uint16``,
    memory-mapped from the decoded cache when read, with the names of the files they came
    from. Sizes are known without opening a file."""

    files: tuple = attrs.field(converter=tuple)  # the decoded cache's .npy files
    shapes: tuple = attrs.field(converter=tuple)
    names: tuple = attrs.field(converter=tuple)

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> np.ndarray:
        return _mapped(str(self.files[index]))

    def subset(self, indices: Sequence[int]) -> ImageList:
        return ImageList(*([column[i] for i in indices] for column in (self.files, self.shapes, self.names)))

    def head(self, count: int | None) -> ImageList:
        return self if count is None else self.subset(range(min(count, len(self))))

    def unit(self, index: int) -> np.ndarray:
        """Image ``index`` as float32 in [0, 1], scaled by its bit depth."""
        return to_unit(np.asarray(self[index]))

    @property
    def sizes(self) -> list[tuple[int, int]]:
        return [tuple(shape[:2]) for shape in self.shapes]

    @property
    def channels(self) -> int:
        return int(self.shapes[0][-1])

    @property
    def shape(self) -> tuple[int | None, int | None, int]:
        """``(height, width, channels)``, with ``None`` for a side the images do not share."""
        heights, widths = {size[0] for size in self.sizes}, {size[1] for size in self.sizes}
        return (heights.pop() if len(heights) == 1 else None, widths.pop() if len(widths) == 1 else None, self.channels)


def cache_root() -> Path:
    from daekit.catalogue import cache_dir

    return cache_dir() / "images"


def _cache_path(info: ImageFile, channels: int, resize: int | None) -> Path:
    stat = info.path.stat()
    key = f"{_CACHE_VERSION}|{info.path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{channels}|{resize}"
    return cache_root() / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.npy"


def _resized(pixels: np.ndarray, side: int) -> np.ndarray:
    import tensorflow as tf

    peak = 65535.0 if pixels.dtype == np.uint16 else 255.0
    image = tf.image.resize(tf.cast(pixels, tf.float32), (side, side), antialias=True).numpy()
    return np.rint(np.clip(image, 0.0, peak)).astype(pixels.dtype)


def decoded(info: ImageFile, channels: int, resize: int | None = None) -> tuple[Path, tuple[int, ...]]:
    """The cache file holding the pixels of ``info`` at ``channels`` (and ``resize``), and
    their shape; decoded and cached on first use."""
    path = _cache_path(info, channels, resize)
    try:
        cached = np.load(path, mmap_mode="r")
        if cached.ndim == 3 and cached.shape[-1] == channels:
            return path, cached.shape
    except (OSError, ValueError, EOFError):
        pass  # absent or damaged: decode again
    pixels = convert_channels(read_pixels(info), channels)
    if resize:
        pixels = _resized(pixels, resize)
    temporary = path.with_name(f"{path.stem}.{os.getpid()}.partial.npy")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(temporary, np.ascontiguousarray(pixels))
        temporary.replace(path)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise DataError(f"cannot write the decoded image cache in {path.parent}: {exc.strerror or exc} "
                        "(free space there, or set DAEKIT_CACHE to another directory)") from None
    _mapped.cache_clear()  # a file decoded again replaces one that may be open
    return path, pixels.shape


def _listing(problems: list[str], total: int, folder: Path, what: str) -> str:
    shown = "\n".join(problems[:_SHOWN])
    more = f"\n... and {len(problems) - _SHOWN} more" if len(problems) > _SHOWN else ""
    return f"{len(problems)} of {total} images in {folder} {what}:\n{shown}{more}"


def load_folder(folder: str | Path, channels: int = 1, resize: int | None = None,
                max_pixels: int = MAX_PIXELS, minimum: int = 1) -> ImageList:
    """Every image file under ``folder``, checked, decoded into the cache and memory-mapped.

    Every file is checked from its header first (unreadable files, unknown formats and
    images over ``max_pixels`` are listed together), then decoded (truncated or damaged
    files are listed together), before anything trains.

    Raises:
        DataError: Listing every file at fault.
    """
    folder = Path(folder)
    if folder.is_file():  # one image file: its name is its own
        paths, root = [folder], folder.parent
    else:
        paths, root = list_images(folder), folder
    if len(paths) < minimum:
        raise DataError(f"{folder}: found {len(paths)} image files (PNG, JPEG, BMP or TIFF); at least {minimum} needed")
    infos, problems = [], []
    for path in paths:
        try:
            infos.append(probe(path, max_pixels))
        except DataError as exc:
            problems.append(str(exc))
    if problems:
        raise DataError(_listing(problems, len(paths), folder, "cannot be used"))
    entries = []
    for info in infos:
        try:
            entries.append(decoded(info, channels, resize))
        except DataError as exc:
            if "decoded image cache" in str(exc):
                raise
            problems.append(str(exc))
    if problems:
        raise DataError(_listing(problems, len(paths), folder, "cannot be decoded"))
    return ImageList([file for file, _ in entries], [shape for _, shape in entries],
                     [str(path.relative_to(root)) for path in paths])


def match_pairs(noisy: ImageList, clean: ImageList, noisy_dir: str | Path, clean_dir: str | Path) -> tuple[ImageList, ImageList]:
    """The images of two folders paired by file name (the path below each folder, without
    its suffix, so ``a.jpg`` pairs with ``a.png``), in the clean folder's order.

    Raises:
        DataError: Files without a partner, or a pair of different sizes, all listed.
    """
    def stems(images):
        return {str(Path(name).with_suffix("")): index for index, name in enumerate(images.names)}

    noisy_at, clean_at = stems(noisy), stems(clean)
    problems = [f"{noisy_dir}/{noisy.names[i]}: no clean image of that name in {clean_dir}"
                for stem, i in noisy_at.items() if stem not in clean_at]
    problems += [f"{clean_dir}/{clean.names[i]}: no noisy image of that name in {noisy_dir}"
                 for stem, i in clean_at.items() if stem not in noisy_at]
    pairs = [(noisy_at[stem], i) for stem, i in clean_at.items() if stem in noisy_at]
    problems += [f"{noisy_dir}/{noisy.names[a]} is {noisy.sizes[a][1]}x{noisy.sizes[a][0]} but {clean_dir}/"
                 f"{clean.names[b]} is {clean.sizes[b][1]}x{clean.sizes[b][0]}" for a, b in pairs
                 if noisy.sizes[a] != clean.sizes[b]]
    if problems:
        raise DataError(f"{len(problems)} problem(s) pairing {noisy_dir} with {clean_dir}:\n" + "\n".join(problems[:_SHOWN]))
    return noisy.subset([a for a, _ in pairs]), clean.subset([b for _, b in pairs])


def partners(images: ImageList, copies: ImageList, images_dir: str | Path, copies_dir: str | Path) -> ImageList:
    """The image of ``copies`` paired by file name (as :func:`match_pairs`) with each of
    ``images``, in their order: the second noisy copies of a Noise2Noise run.

    Raises:
        DataError: Images without a copy, or a copy of another size, all listed.
    """
    at = {str(Path(name).with_suffix("")): index for index, name in enumerate(copies.names)}
    problems, chosen = [], []
    for index, name in enumerate(images.names):
        other = at.get(str(Path(name).with_suffix("")))
        if other is None:
            problems.append(f"{images_dir}/{name}: no image of that name in {copies_dir}")
        elif copies.shapes[other] != images.shapes[index]:
            (h, w, c), (oh, ow, oc) = images.shapes[index], copies.shapes[other]
            problems.append(f"{images_dir}/{name} is {w}x{h}x{c} but {copies_dir}/{copies.names[other]} is {ow}x{oh}x{oc}")
        else:
            chosen.append(other)
    if problems:
        raise DataError(f"{len(problems)} problem(s) pairing {images_dir} with its copies in {copies_dir}:\n"
                        + "\n".join(problems[:_SHOWN]))
    return copies.subset(chosen)
