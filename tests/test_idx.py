import gzip

import numpy as np
import pytest

from daekit.data.idx import read_idx
from daekit.data.sources import find_idx_dir, load_data, load_idx_dataset
from daekit.errors import DataError
from tests.conftest import idx_bytes, write_idx_set


def test_reads_the_real_fashion_mnist(fashion_mnist):
    data = load_idx_dataset("fashion-mnist", fashion_mnist)
    assert data.train.shape == (60000, 28, 28, 1) and data.test.shape == (10000, 28, 28, 1)
    assert data.train.dtype == np.uint8 and data.train.max() == 255


def test_raw_and_gz_agree(tmp_path):
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    (tmp_path / "a").write_bytes(idx_bytes(array))
    (tmp_path / "a.gz").write_bytes(gzip.compress(idx_bytes(array)))
    np.testing.assert_array_equal(read_idx(tmp_path / "a"), array)
    np.testing.assert_array_equal(read_idx(tmp_path / "a.gz"), array)


def test_truncated_gzip(tmp_path):
    data = gzip.compress(idx_bytes(np.zeros((5, 28, 28), np.uint8)))
    path = tmp_path / "images.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=r"images.gz: the gzip stream is truncated"):
        read_idx(path)


def test_truncated_raw_file(tmp_path):
    path = tmp_path / "images"
    path.write_bytes(idx_bytes(np.zeros((5, 28, 28), np.uint8))[:-7])
    with pytest.raises(DataError, match=r"images: truncated: a 5x28x28 IDX array of uint8 needs 3936 bytes.*found 3929"):
        read_idx(path)


def test_appended_bytes(tmp_path):
    path = tmp_path / "labels"
    path.write_bytes(idx_bytes(np.zeros(5, np.uint8)) + b"junk")
    with pytest.raises(DataError, match="has extra bytes"):
        read_idx(path)


def test_bad_magic(tmp_path):
    path = tmp_path / "labels"
    path.write_bytes(b"\x89PNG" + bytes(20))
    with pytest.raises(DataError, match=r"bad magic number at byte 0.*0x89504e47"):
        read_idx(path)


def test_unknown_type_code(tmp_path):
    path = tmp_path / "labels"
    path.write_bytes(bytes([0, 0, 0x07, 1, 0, 0, 0, 0]))
    with pytest.raises(DataError, match="unknown IDX type code 0x07 at byte 2"):
        read_idx(path)


def test_wrong_number_of_dimensions(tmp_path):
    path = tmp_path / "images"
    path.write_bytes(idx_bytes(np.zeros((4, 28), np.uint8)))
    with pytest.raises(DataError, match="expected 3 dimensions, the header at byte 3 says 2"):
        read_idx(path, ndim=3)


def test_wrong_dimension_size(tmp_path):
    path = tmp_path / "images"
    path.write_bytes(idx_bytes(np.zeros((4, 28, 27), np.uint8)))
    with pytest.raises(DataError, match=r"dimension 2 \(at byte 12\) is 27, expected 28"):
        read_idx(path, shape=(None, 28, 28))


def test_mismatched_image_and_label_counts(tmp_path):
    directory = write_idx_set(tmp_path / "fm", train=40, test=10)
    (directory / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(np.zeros(9, np.uint8))))
    with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte.gz holds 10 images but .*t10k-labels-idx1-ubyte.gz holds 9 labels"):
        load_idx_dataset("fashion-mnist", directory)


def test_search_order_and_missing_message(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DAEKIT_DATA", str(tmp_path / "data"))
    with pytest.raises(DataError) as caught:
        find_idx_dir("mnist")
    assert "apt-get" not in str(caught.value) or "MNIST not found" in str(caught.value)
    assert str(tmp_path / "data") in str(caught.value)
    write_idx_set(tmp_path / "data" / "mnist", gz=False)
    assert find_idx_dir("mnist") == tmp_path / "data" / "mnist"
    assert load_data("mnist").train.shape == (40, 28, 28, 1)


def test_explicit_directory_lacking_files(tmp_path):
    with pytest.raises(DataError, match=r"lacks train-images-idx3-ubyte"):
        find_idx_dir("fashion-mnist", tmp_path)
