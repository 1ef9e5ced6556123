import numpy as np
import pytest
import tensorflow as tf

from daekit.data import load_data
from daekit.errors import DataError


def write_png(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    tf.io.write_file(str(path), tf.io.encode_png(array))


def test_folder_of_images_is_resized_and_split(tmp_path):
    rng = np.random.default_rng(0)
    for index in range(10):
        write_png(tmp_path / "imgs" / f"sub{index % 2}" / f"{index}.png", rng.integers(0, 256, (40, 30, 3), dtype=np.uint8))
    tf.io.write_file(str(tmp_path / "imgs" / "x.jpg"), tf.io.encode_jpeg(rng.integers(0, 256, (20, 20, 1), dtype=np.uint8)))
    data = load_data(str(tmp_path / "imgs"), image_size=16, channels=3, seed=1)
    assert data.train.shape == (10, 16, 16, 3) and data.test.shape == (1, 16, 16, 3)
    gray = load_data(str(tmp_path / "imgs"), image_size=16, channels=1, seed=1)
    assert gray.image_shape == (16, 16, 1)


def test_every_unreadable_image_is_named(tmp_path):
    rng = np.random.default_rng(0)
    for index in range(3):
        write_png(tmp_path / f"{index}.png", rng.integers(0, 256, (8, 8, 1), dtype=np.uint8))
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    (tmp_path / "text.jpg").write_text("not an image")
    with pytest.raises(DataError) as caught:
        load_data(str(tmp_path))
    message = str(caught.value)
    assert "2 of 5 images" in message
    assert str(tmp_path / "broken.png") in message and str(tmp_path / "text.jpg") in message


def test_not_a_folder_nor_a_data_set(tmp_path):
    with pytest.raises(DataError, match="not a directory, and not a known data set"):
        load_data(str(tmp_path / "fashion_mnist"))
