"""Photographs at their own size, through the real `daekit` command: a folder of images of
odd sizes, depths and formats trained on patches, scored whole, restored whole; and every
run that cannot work refused before its directory is written."""

import json

import numpy as np
import pytest

from daekit.data.files import read_image, write_image
from tests.conftest import run_daekit

TINY_UNET = ["--encoder", "unet:filters=4,8,convs=1", "--decoder", "unet:filters=4,convs=1"]
TRAIN = ["--patch", "32", "--patches-per-epoch", "48", "--batch-size", "16", "--epochs", "1", *TINY_UNET]


def pixels(shape, dtype=np.uint8, seed=0):
    """A smooth picture with some texture, so that denoising has something to keep."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[: shape[0], : shape[1]]
    base = 0.5 + 0.4 * np.sin(x / 13.0 + seed) * np.cos(y / 17.0)
    picture = np.clip(base[..., None] + 0.05 * rng.standard_normal((*shape[:2], shape[2])), 0, 1)
    return np.rint(picture * np.iinfo(dtype).max).astype(dtype)


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("photos")
    (folder / "sub").mkdir()
    write_image(folder / "odd.png", pixels((333, 517, 1)))
    write_image(folder / "deep.png", pixels((120, 160, 3), np.uint16, seed=1))
    write_image(folder / "sub" / "scan.tif", pixels((96, 130, 1), np.uint16, seed=2))
    write_image(folder / "sub" / "colour.jpg", pixels((90, 110, 3), seed=3))
    write_image(folder / "old.bmp", pixels((70, 64, 1), seed=4))
    return folder


@pytest.fixture(scope="module")
def photo_run(photos, tmp_path_factory):
    output = tmp_path_factory.mktemp("runs")
    result = run_daekit("train", "--data", photos, *TRAIN, "-o", output, "--name", "photo")
    assert result.returncode == 0, result.stdout + result.stderr
    return output / "photo", result


def test_a_folder_trains_on_patches_and_scores_whole_images(photo_run):
    run_dir, result = photo_run
    manifest = json.loads((run_dir / "manifest.json").read_text())
    files = manifest["data"]["files"]
    assert sorted(files["train"] + files["validation"] + files["test"]) == sorted(
        ["odd.png", "deep.png", "sub/scan.tif", "sub/colour.jpg", "old.bmp"])
    assert len(files["test"]) == 1 and len(files["validation"]) == 1
    assert manifest["data"]["image_shape"] == [32, 32, 1]
    assert "patches of 32x32" in manifest["pipeline"]["order"]
    evaluation = json.loads((run_dir / "evaluation.json").read_text())
    assert evaluation["images"] == 1 and evaluation["megapixels_per_second"] > 0
    metrics = (run_dir / "metrics.csv").read_text().splitlines()
    assert "val_psnr" in metrics[0] and len(metrics) == 2
    for figure in ("epoch_001.png", "loss.png", "test_denoised.png"):
        assert (run_dir / "figures" / figure).stat().st_size > 1000


def test_evaluate_a_folder_of_photographs_at_full_size(photo_run, photos, tmp_path):
    run_dir, _ = photo_run
    result = run_daekit("evaluate", run_dir / "model.keras", "--data", photos, "--baselines", "tv",
                        "--corruption", "gaussian:stddev=0.1", "--json", tmp_path / "e.json", "--figures", tmp_path / "f")
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "e.json").read_text())
    assert report["images"] == 5
    assert [row["method"] for row in report["rows"]] == ["noisy input", "total variation", "model"]
    assert (tmp_path / "f" / "comparison_1.png").exists()


def test_denoise_restores_each_image_at_its_own_size_depth_and_format(photo_run, photos, tmp_path):
    run_dir, _ = photo_run
    result = run_daekit("denoise", run_dir / "model.keras", photos, "--out", tmp_path / "out", "--tile", "64",
                        "--overlap", "32")
    assert result.returncode == 0, result.stderr
    for name in ("odd.png", "deep.png", "sub/scan.tif", "sub/colour.jpg", "old.bmp"):
        given, restored = read_image(photos / name), read_image(tmp_path / "out" / name)
        assert restored.shape == given.shape and restored.dtype == given.dtype, name


@pytest.mark.parametrize("extra, code, message", [
    (["--patch", "31", *TINY_UNET], 2, "31x31 images must then have sides divisible by 2"),
    (["--patch", "32"], 2, "takes 32x32 images only"),
    (["--patch", "100", *TINY_UNET], 1, "training image(s) are smaller than patch=100: "),
    (TINY_UNET, 1, "train on patches of them (--patch 64)"),
])
def test_runs_that_cannot_work_are_refused_before_the_directory_is_written(photos, tmp_path, extra, code, message):
    result = run_daekit("train", "--data", photos, "--epochs", "1", *extra, "-o", tmp_path, "--name", "refused")
    assert result.returncode == code, result.stderr
    assert message in " ".join(result.stderr.split())
    assert not (tmp_path / "refused").exists()


def test_evaluate_real_noisy_and_clean_pairs_matched_by_name(photo_run, photos, tmp_path):
    from daekit.data.files import read_image

    run_dir, _ = photo_run
    noisy_dir = tmp_path / "noisy"
    (noisy_dir / "sub").mkdir(parents=True)
    rng = np.random.default_rng(5)
    for name in ("odd.png", "deep.png", "sub/scan.tif"):
        clean = read_image(photos / name)
        peak = np.iinfo(clean.dtype).max
        noisy = np.clip(clean + rng.normal(0, 0.08 * peak, clean.shape), 0, peak).astype(clean.dtype)
        write_image((noisy_dir / name).with_suffix(".png"), noisy)  # the TIFF's partner is a PNG
    clean_dir = tmp_path / "clean"
    (clean_dir / "sub").mkdir(parents=True)
    for name in ("odd.png", "deep.png", "sub/scan.tif"):
        (clean_dir / name).write_bytes((photos / name).read_bytes())
    result = run_daekit("evaluate", run_dir / "model.keras", "--pairs", noisy_dir, clean_dir, "--baselines", "none",
                        "--json", tmp_path / "pairs.json")
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "pairs.json").read_text())
    assert report["images"] == 3 and [row["method"] for row in report["rows"]] == ["noisy input", "model"]
    assert 20 < report["rows"][0]["psnr"] < 24  # the noise written above, not noise drawn by daekit
    (clean_dir / "extra.png").write_bytes((photos / "odd.png").read_bytes())
    result = run_daekit("evaluate", run_dir / "model.keras", "--pairs", noisy_dir, clean_dir, "--baselines", "none")
    assert result.returncode == 1 and "extra.png: no noisy image of that name" in result.stderr
    result = run_daekit("evaluate", run_dir / "model.keras", "--data", photos, "--json", tmp_path / "missing" / "e.json")
    assert result.returncode == 1 and "missing does not exist" in result.stderr
