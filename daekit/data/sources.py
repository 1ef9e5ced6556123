"""Where images come from: the IDX data sets found on disk, or a folder of image files.

IDX images are kept as ``uint8`` arrays of shape ``(count, height, width, channels)``; a
folder's images as an :class:`~daekit.data.folder.ImageList`, each at its own size and bit
depth, memory-mapped. The training pipeline scales them to [0, 1] on the fly.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from daekit.data.files import MAX_PIXELS
from daekit.data.folder import ImageList, load_folder
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
#: The class of each label value, as the data sets' publishers name them.
CLASS_NAMES = {
    "fashion-mnist": ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                      "Ankle boot"),
    "mnist": tuple(str(digit) for digit in range(10)),
}


@attrs.frozen
class ImageData:
    """Training and test images of one source: ``uint8`` NHWC arrays (IDX data sets) or
    :class:`~daekit.data.folder.ImageList` (folders)."""

    name: str
    source: str
    train: Any
    test: Any
    #: Each image's class index, or ``None`` for unlabelled data; ``class_names`` names them.
    train_labels: np.ndarray | None = None
    test_labels: np.ndarray | None = None
    class_names: tuple[str, ...] | None = None
    unlabelled: str | None = None  # why a folder has no labels
    #: One image file: it is trained on, validated and tested on (self-supervised runs).
    single: bool = False

    @property
    def labelled(self) -> bool:
        return self.class_names is not None

    @property
    def image_shape(self) -> tuple[int | None, int | None, int]:
        """``(height, width, channels)``; ``None`` for a side the training images do not share."""
        return self.train.shape if isinstance(self.train, ImageList) else tuple(self.train.shape[1:])


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
    arrays, labelled = {}, {}
    classes = CLASS_NAMES[name]
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
        if labels.dtype != np.uint8 or (len(labels) and int(labels.max()) >= len(classes)):
            raise DataError(f"{labels_path}: labels must be unsigned bytes from 0 to {len(classes) - 1}, one of the "
                            f"{len(classes)} classes; found {labels.dtype} up to {labels.max() if len(labels) else '-'}")
        arrays[split] = images[..., None]
        labelled[split] = labels.astype(np.int64)
    return ImageData(name, str(directory), arrays["train"], arrays["test"], labelled["train"], labelled["test"], classes)


def folder_classes(images: ImageList) -> tuple[str, ...] | None:
    """The classes of a folder's images, from their first-level subfolder names (as
    ``keras.utils.image_dataset_from_directory`` infers them), sorted; ``None`` when any
    image lies directly in the folder, which leaves the folder unlabelled."""
    parts = [Path(name).parts for name in images.names]
    if not parts or any(len(part) < 2 for part in parts):
        return None
    return tuple(sorted({part[0] for part in parts}))


def folder_labels(images: ImageList, classes: tuple[str, ...], folder: str | Path) -> np.ndarray:
    """Each image's class index among ``classes``, from its first-level subfolder.

    Raises:
        DataError: Images in a subfolder that is not one of ``classes``, or directly in the folder.
    """
    index = {name: i for i, name in enumerate(classes)}
    labels, strays = [], []
    for name in images.names:
        parts = Path(name).parts
        if len(parts) < 2 or parts[0] not in index:
            strays.append(name)
        else:
            labels.append(index[parts[0]])
    if strays:
        raise DataError(f"{len(strays)} image(s) in {folder} are not in a subfolder named after one of the classes "
                        f"({', '.join(classes)}): {', '.join(strays[:5])}{' ...' if len(strays) > 5 else ''}")
    return np.asarray(labels, np.int64)


def load_image_folder(folder: str | Path, channels: int = 1, seed: int = 0, test_split: float = 0.1,
                      resize: int | None = None, test_data: str | Path | None = None,
                      max_pixels: int = MAX_PIXELS) -> ImageData:
    """Every image file under ``folder`` at its own size (``resize`` makes them squares), in
    ``channels``; a seeded ``test_split`` share of the files, or the folder ``test_data``,
    becomes the test set. Every unusable file is reported, by path, before anything trains.
    """
    folder = Path(folder)
    if folder.is_file():  # one image: validated and tested on itself, unless other folders are given
        image = load_folder(folder, channels, resize, max_pixels)
        test = load_folder(test_data, channels, resize, max_pixels) if test_data is not None else image
        return ImageData(folder.stem, str(folder), image, test, unlabelled=f"{folder} is one image", single=True)
    if not folder.is_dir():
        raise DataError(f"{folder}: not an image file or a directory, and not a known data set (fashion-mnist, mnist)")
    images = load_folder(folder, channels, resize, max_pixels, minimum=1 if test_data else 2)
    classes = folder_classes(images)
    if test_data is not None:
        train, test = images, load_folder(test_data, channels, resize, max_pixels)
    else:
        train, test = split_validation(images, test_split, seed, purpose="testing")
    if classes is None:
        return ImageData(folder.name, str(folder), train, test,
                         unlabelled=f"{folder} is unlabelled: its classes are its first-level subfolders, and some "
                                    "images lie directly in it")
    try:  # labels never stop a denoising run: a folder they do not fit is unlabelled, with the reason
        return ImageData(folder.name, str(folder), train, test, folder_labels(train, classes, folder),
                         folder_labels(test, classes, test_data or folder), classes)
    except DataError as exc:
        return ImageData(folder.name, str(folder), train, test, unlabelled=str(exc))


def load_data(data: str = "fashion-mnist", data_dir: str | Path | None = None, channels: int = 1, seed: int = 0,
              resize: int | None = None, test_data: str | Path | None = None, max_pixels: int = MAX_PIXELS) -> ImageData:
    """Load a named IDX data set or a folder of images.

    Example:
        >>> data = daekit.load_data("fashion-mnist")
        >>> data.train.shape, data.test.shape
        ((60000, 28, 28, 1), (10000, 28, 28, 1))
    """
    if data in IDX_DATASETS:
        return load_idx_dataset(data, data_dir)
    return load_image_folder(data, channels=channels, seed=seed, resize=resize, test_data=test_data,
                             max_pixels=max_pixels)


def take(images, indices):
    """The images at ``indices`` of an array or an :class:`ImageList`."""
    return images.subset(indices) if isinstance(images, ImageList) else images[np.asarray(indices, int)]


def split_validation(images, share: float, seed: int, purpose: str = "validation"):
    """A seeded split of images (an array, or the files of an :class:`ImageList`) into (rest, held out)."""
    order = np.random.default_rng(seed).permutation(len(images))
    n_val = max(1, int(round(len(images) * share)))
    if n_val >= len(images):
        raise DataError(f"{len(images)} images are too few to keep {share:.0%} for {purpose}")
    return take(images, order[n_val:]), take(images, order[:n_val])
