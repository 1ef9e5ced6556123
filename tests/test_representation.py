"""Codes as features: labels kept with their images, codes extracted, probes that can tell
separable data from shuffled labels, and the commands end to end."""

import json

import numpy as np
import pytest

import daekit
from daekit.data.files import write_image
from daekit.data.sources import CLASS_NAMES, load_data
from daekit.errors import DataError
from daekit.representation import embed, knn_accuracy, linear_probe
from tests.conftest import idx_bytes, run_daekit, write_idx_set

CODE_MODEL = ["--encoder", "conv:filters=4,8,code=8", "--decoder", "conv:filters=8,4,tail_filters=4,channels=4"]


def test_idx_labels_travel_with_their_images_and_are_checked(tmp_path):
    directory = write_idx_set(tmp_path / "idx", train=40, test=10)
    data = load_data("fashion-mnist", data_dir=directory)
    assert data.labelled and data.class_names == CLASS_NAMES["fashion-mnist"] and data.class_names[9] == "Ankle boot"
    assert data.train_labels.shape == (40,) and data.test_labels.shape == (10,)
    import gzip
    stored = np.frombuffer(gzip.decompress((directory / "train-labels-idx1-ubyte.gz").read_bytes())[8:], np.uint8)
    np.testing.assert_array_equal(data.train_labels, stored)
    (directory / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(np.full(10, 12, np.uint8))))
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte.gz: labels must be unsigned bytes from 0 to 9"):
        load_data("fashion-mnist", data_dir=directory)


def test_a_folder_takes_its_labels_from_its_first_level_subfolders(tmp_path):
    rng = np.random.default_rng(0)
    for index in range(12):
        path = tmp_path / "shapes" / ("circles", "squares", "lines")[index % 3] / "deeper" / f"{index}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_image(path, rng.integers(0, 255, (16, 16, 1), dtype=np.uint8))
    data = load_data(str(tmp_path / "shapes"), seed=0)
    assert data.class_names == ("circles", "lines", "squares")
    for images, labels in ((data.train, data.train_labels), (data.test, data.test_labels)):
        assert [data.class_names[label] for label in labels] == [name.split("/")[0] for name in images.names]
    write_image(tmp_path / "shapes" / "loose.png", rng.integers(0, 255, (16, 16, 1), dtype=np.uint8))
    loose = load_data(str(tmp_path / "shapes"), seed=0)
    assert not loose.labelled and "some images lie directly in it" in loose.unlabelled


def test_codes_have_one_row_per_image_and_do_not_change_between_calls():
    flat = daekit.build_model("gaussian", "conv:filters=4,8,code=8", "conv:filters=8,4,tail_filters=4,channels=4",
                              image_shape=(28, 28, 1), seed=0)
    images = np.random.default_rng(0).integers(0, 256, (300, 28, 28, 1), dtype=np.uint8)
    codes = embed(flat, images, batch_size=128)
    assert codes.shape == (300, 8) and codes.dtype == np.float32
    np.testing.assert_array_equal(codes, embed(flat, images, batch_size=128))  # the corruption takes no part
    np.testing.assert_allclose(codes, embed(flat, images), atol=1e-6)  # other batches, the same codes
    np.testing.assert_allclose(codes[:5], embed(flat, images[:5].astype(np.float32) / 255.0), atol=1e-6)
    unet = daekit.build_model("gaussian", "unet:filters=4,8,convs=1", "unet:filters=4,convs=1",
                              image_shape=(16, 16, 1), seed=0)
    sizes = [np.random.default_rng(i).random((h, w, 1)).astype(np.float32) for i, (h, w) in enumerate([(16, 16), (36, 20)])]
    pooled = embed(unet, sizes)  # the coarsest map, averaged over space, whatever the size
    assert pooled.shape == (2, 8)


def test_the_probes_find_separable_classes_and_not_shuffled_ones():
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 4, (4, 16))
    labels = rng.integers(0, 4, 800)
    features = centres[labels] + rng.normal(0, 1, (800, 16))
    train, test = slice(0, 600), slice(600, 800)
    assert linear_probe(features[train], labels[train], features[test], labels[test], 4, epochs=20) > 0.95
    assert knn_accuracy(features[train], labels[train], features[test], labels[test]) > 0.95
    shuffled = rng.permutation(labels)
    assert linear_probe(features[train], shuffled[train], features[test], shuffled[test], 4, epochs=20) < 0.45
    assert knn_accuracy(features[train], shuffled[train], features[test], shuffled[test]) < 0.45


def test_a_plain_autoencoder_trains_then_embeds_and_probes_from_the_cli(tmp_path, fashion_mnist):
    result = run_daekit("train", "--corruption", "none", *CODE_MODEL, "--limit", "400", "--test-limit", "64",
                        "--epochs", "1", "-o", tmp_path, "--name", "ae")
    assert result.returncode == 0, result.stderr
    model = tmp_path / "ae" / "model.keras"
    assert daekit.load_model(model).manifest["corruption"]["name"] == "none"
    result = run_daekit("embed", model, "--out", tmp_path / "codes.npz", "--split", "both", "--limit", "50")
    assert result.returncode == 0, result.stderr
    with np.load(tmp_path / "codes.npz") as codes:
        assert codes["codes"].shape == (100, 8) and list(np.unique(codes["split"])) == ["test", "train"]
        assert codes["labels"].shape == (100,) and codes["class_names"][0] == "T-shirt/top"
        np.testing.assert_array_equal(codes["index"][:50], np.arange(50))
    result = run_daekit("probe", model, "--train-limit", "200", "--test-limit", "100", "--json", tmp_path / "p.json",
                        "--figures", tmp_path / "figs")
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "p.json").read_text())
    assert [row["features"] for row in report["rows"]] == ["codes (8)", "pixels (784)", "PCA of the pixels (8)"]
    assert all(report["chance"] < row["knn"] <= 1 for row in report["rows"])  # real classes, found
    for figure in ("code_map.png", "retrieval.png"):
        assert (tmp_path / "figs" / figure).read_bytes()[:4] == b"\x89PNG"
    refused = run_daekit("embed", model, "--out", tmp_path / "codes.txt")
    assert refused.returncode == 2 and "give a name ending in .npz" in refused.stderr
    refused = run_daekit("probe", model, "--map", "umap")
    assert refused.returncode == 2 and "--map 'umap': choose pca or tsne" in refused.stderr


def test_probing_an_unlabelled_folder_says_why(tmp_path):
    rng = np.random.default_rng(0)
    (tmp_path / "flat").mkdir()
    for index in range(4):
        write_image(tmp_path / "flat" / f"{index}.png", rng.integers(0, 255, (16, 16, 1), dtype=np.uint8))
    model = daekit.build_model("gaussian", "unet:filters=4,8,convs=1", "unet:filters=4,convs=1", image_shape=(16, 16, 1),
                               seed=0)
    daekit.save_model(model, tmp_path / "m.keras")
    result = run_daekit("probe", tmp_path / "m.keras", "--data", tmp_path / "flat")
    assert result.returncode == 1 and "is unlabelled: its classes are its first-level subfolders" in result.stderr
