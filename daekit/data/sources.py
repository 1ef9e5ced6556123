"""Where images come from: the IDX data sets found on disk, or a folder of image files.

Images are kept as ``uint8`` arrays of shape ``(count, height, width, channels)``; the
training pipeline scales them to [0, 1] on the fly.
"""

from __future__ import annotations

import os
from pathlib import Path

import attrs
import numpy as np

from daekit.data.idx import read_idx
from daekit.errors import DataError

IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
IDX_DATASETS = {
    "fashion-mnist": ("Fashion-MNIST", "apt-get install dataset-fashion-mnist"),
    "mnist": ("MNIST", "the four MNIST IDX files from the data set's publisher"),
}
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg"}


@attrs.frozen
class ImageData:
    """Training and test images of one source, ``uint8`` in NHWC layout."""

    name: str
    source: str
    train: np.ndarray
    test: np.ndarray

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.train.shape[1:])


def _idx_file(directory: Path, stem: str) -> Path | None:
    for candidate in (directory / f"{stem}.gz", directory / stem):
        if candidate.is_file():
            return candidate
    return None


def candidate_dirs(name: str, data_dir: str | Path | None = None) -> list[Path]:
    """Directories searched for ``name``, in order."""
    if data_dir is not None:
        return [Path(data_dir)]
    dirs = []
    if os.environ.get("DAEKIT_DATA"):
        root = Path(os.environ["DAEKIT_DATA"])
        dirs += [root / name, root]
    dirs += [Path.home() / ".keras" / "datasets" / name, Path("/usr/share/datasets") / name]
    return dirs


def find_idx_dir(name: str, data_dir: str | Path | None = None) -> Path:
    """The first directory holding all four IDX files of ``name``.

    Raises:
        DataError: Listing where it looked and how to get the data.
    """
    looked = candidate_dirs(name, data_dir)
    for directory in looked:
        if all(_idx_file(directory, stem) for stem in IDX_FILES.values()):
            return directory
    title, how = IDX_DATASETS[name]
    files = ", ".join(f"{stem}.gz" for stem in IDX_FILES.values())
    if data_dir is not None:
        missing = [stem for stem in IDX_FILES.values() if not _idx_file(Path(data_dir), stem)]
        raise DataError(f"{title}: {data_dir} lacks {', '.join(missing)} (.gz or raw); it needs {files}")
    raise DataError(
        f"{title} not found; looked in {', '.join(map(str, looked))}. Get it with `{how}`, "
        f"or put {files} in $DAEKIT_DATA or a directory given with --data-dir"
    )


def load_idx_dataset(name: str, data_dir: str | Path | None = None) -> ImageData:
    """Read the four IDX files of Fashion-MNIST or MNIST, checking that they agree."""
    directory = find_idx_dir(name, data_dir)
    arrays = {}
    for split in ("train", "test"):
        images_path = _idx_file(directory, IDX_FILES[f"{split}_images"])
        labels_path = _idx_file(directory, IDX_FILES[f"{split}_labels"])
        images = read_idx(images_path, ndim=3)
        labels = read_idx(labels_path, ndim=1)
        if images.dtype != np.uint8:
            raise DataError(f"{images_path}: expected unsigned bytes (type 0x08), found {images.dtype}")
        if len(images) != len(labels):
            raise DataError(
                f"{images_path} holds {len(images)} images but {labels_path} holds {len(labels)} labels; "
                "the pair must have one label per image"
            )
        arrays[split] = images[..., None]
    return ImageData(name, str(directory), arrays["train"], arrays["test"])


def load_image_folder(folder: str | Path, image_size: int = 28, channels: int = 1, seed: int = 0,
                      test_split: float = 0.1) -> ImageData:
    """Read every PNG or JPEG under ``folder``, resized to ``image_size`` squares.

    Every unreadable file is reported, by path, before anything trains. A seeded
    ``test_split`` share becomes the test set.
    """
    import tensorflow as tf

    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: not a directory, and not a known data set (fashion-mnist, mnist)")
    paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if len(paths) < 2:
        raise DataError(f"{folder}: found {len(paths)} PNG or JPEG images; at least 2 are needed")
    images, bad = [], []
    for path in paths:
        try:
            image = tf.io.decode_image(tf.io.read_file(str(path)), channels=channels, expand_animations=False)
            image = tf.image.resize(image, (image_size, image_size), antialias=True)
            images.append(np.clip(np.rint(image.numpy()), 0, 255).astype(np.uint8))
        except (tf.errors.OpError, ValueError) as exc:
            bad.append(f"{path}: {getattr(exc, 'message', exc)}".splitlines()[0])
    if bad:
        shown = "\n".join(bad[:20]) + (f"\n... and {len(bad) - 20} more" if len(bad) > 20 else "")
        raise DataError(f"{len(bad)} of {len(paths)} images in {folder} cannot be read:\n{shown}")
    stack = np.stack(images)
    order = np.random.default_rng(seed).permutation(len(stack))
    n_test = max(1, int(round(len(stack) * test_split)))
    return ImageData(folder.name, str(folder), stack[order[n_test:]], stack[order[:n_test]])


def load_data(data: str = "fashion-mnist", data_dir: str | Path | None = None, image_size: int = 28,
              channels: int = 1, seed: int = 0) -> ImageData:
    """Load a named IDX data set or a folder of images.

    Example:
        >>> data = daekit.load_data("fashion-mnist")
        >>> data.train.shape, data.test.shape
        ((60000, 28, 28, 1), (10000, 28, 28, 1))
    """
    if data in IDX_DATASETS:
        return load_idx_dataset(data, data_dir)
    return load_image_folder(data, image_size=image_size, channels=channels, seed=seed)


def split_validation(images: np.ndarray, share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A seeded split of training images into (train, validation)."""
    order = np.random.default_rng(seed).permutation(len(images))
    n_val = max(1, int(round(len(images) * share)))
    if n_val >= len(images):
        raise DataError(f"{len(images)} training images are too few to keep {share:.0%} for validation")
    return images[order[n_val:]], images[order[:n_val]]
