"""Data sources: the IDX data sets (Fashion-MNIST, MNIST) and folders of images."""

from daekit.data.folder import ImageList, load_folder
from daekit.data.sources import ImageData, find_idx_dir, load_data

__all__ = ["ImageData", "ImageList", "find_idx_dir", "load_data", "load_folder"]
