"""Data sources: the IDX data sets (Fashion-MNIST, MNIST) and folders of images."""

from daekit.data.sources import ImageData, find_idx_dir, load_data

__all__ = ["ImageData", "find_idx_dir", "load_data"]
