"""Image files at their own size and bit depth, the decoded cache, the patch sampler and tiling."""

import struct
import zlib

import numpy as np
import pytest

import daekit
from daekit.data import load_data
from daekit.data.files import probe, read_image, write_image
from daekit.data.folder import load_folder
from daekit.data.sampler import DIHEDRAL, epoch_patches, gather, patches_per_epoch, transformed
from daekit.errors import ConfigError, DataError
from daekit.tiling import denoise, predict_tiled, size_multiple

TINY_UNET = ("unet:filters=4,8,convs=1,space_to_depth=2", "unet:filters=4,convs=1,space_to_depth=2")


def random_pixels(shape, dtype=np.uint8, seed=0):
    return np.random.default_rng(seed).integers(0, np.iinfo(dtype).max + 1, shape, dtype=dtype)


@pytest.mark.parametrize("suffix", [".png", ".tif"])
@pytest.mark.parametrize("shape", [(33, 51, 1), (33, 51, 3), (20, 17, 4)])
def test_16_bit_round_trips(tmp_path, suffix, shape):
    pixels = random_pixels(shape, np.uint16)
    path = write_image(tmp_path / f"a{suffix}", pixels)
    info = probe(path)
    assert (info.height, info.width, info.channels, info.bits) == (shape[0], shape[1], shape[2], 16)
    back = read_image(path)
    assert back.dtype == np.uint16 and np.array_equal(back, pixels)


def test_8_bit_formats_keep_size_and_channels(tmp_path):
    pixels = random_pixels((29, 41, 3))
    for suffix in (".png", ".bmp", ".tif"):
        assert np.array_equal(read_image(write_image(tmp_path / f"a{suffix}", pixels)), pixels)
    jpeg = read_image(write_image(tmp_path / "a.jpg", pixels))  # lossy, but the same size and channels
    assert jpeg.shape == pixels.shape and jpeg.dtype == np.uint8


def _png_claiming(path, width, height):
    """A PNG whose header claims ``width`` x ``height`` pixels, with almost no data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + chunk
                     + struct.pack(">I", zlib.crc32(chunk)) + b"\x00" * 16)


def test_a_folder_lists_every_unusable_file_before_decoding(tmp_path):
    for index in range(3):
        write_image(tmp_path / f"{index}.png", random_pixels((8, 8, 1), seed=index))
    good = (tmp_path / "0.png").read_bytes()
    (tmp_path / "truncated.png").write_bytes(good[: len(good) // 2])
    (tmp_path / "text.png").write_text("not an image")
    _png_claiming(tmp_path / "bomb.png", 100_000, 100_000)
    with pytest.raises(DataError) as caught:
        load_folder(tmp_path)
    message = str(caught.value)
    assert "2 of 6 images" in message and "cannot be used" in message
    assert "text.png: not a PNG file" in message
    assert "bomb.png: 100000x100000 is 10,000,000,000 pixels, over the limit" in message
    (tmp_path / "text.png").unlink()
    (tmp_path / "bomb.png").unlink()
    with pytest.raises(DataError, match=r"1 of 4 images .* cannot be decoded:\n.*truncated.png"):
        load_folder(tmp_path)


def test_a_folder_of_mixed_channels_depths_and_sizes(tmp_path):
    write_image(tmp_path / "grey.png", random_pixels((40, 30, 1)))
    (tmp_path / "sub").mkdir()
    write_image(tmp_path / "sub" / "deep.png", random_pixels((25, 35, 3), np.uint16))
    write_image(tmp_path / "rgba.png", random_pixels((20, 50, 4)))
    write_image(tmp_path / "scan.tif", random_pixels((33, 33, 1), np.uint16))
    for channels in (1, 3):
        images = load_folder(tmp_path, channels=channels)
        assert images.names == ("grey.png", "rgba.png", "scan.tif", "sub/deep.png")
        assert images.sizes == [(40, 30), (20, 50), (33, 33), (25, 35)]
        arrays = [images[i] for i in range(len(images))]
        assert {a.shape[-1] for a in arrays} == {channels}
        assert [a.dtype for a in arrays] == [np.uint8, np.uint8, np.uint16, np.uint16]
        assert all(isinstance(a, np.memmap) for a in arrays)  # read from the decoded cache
        assert 0.0 <= images.unit(3).min() and images.unit(3).max() <= 1.0
    grey = load_folder(tmp_path, channels=1).unit(3)
    colour = load_folder(tmp_path, channels=3).unit(3)
    expected = colour @ np.array([0.2989, 0.5870, 0.1140], np.float32)
    assert np.abs(grey[..., 0] - expected).max() < 1.0 / 65535 + 1e-6
    data = load_data(str(tmp_path), seed=0)
    assert len(data.train) == 3 and len(data.test) == 1 and data.image_shape[:2] == (None, None)
    assert load_data(str(tmp_path), resize=16).image_shape == (16, 16, 1)


def test_patch_draws_depend_on_seed_and_epoch_alone():
    sizes = [(100, 60), (20, 20), (300, 200)]
    first = epoch_patches(sizes, (16, 16), 500, seed=3, epoch=2, augment="dihedral")
    again = epoch_patches(sizes, (16, 16), 500, seed=3, epoch=2, augment="dihedral")
    other = epoch_patches(sizes, (16, 16), 500, seed=3, epoch=3, augment="dihedral")
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not np.array_equal(first[0], other[0])
    image, top, left, transform = first
    heights, widths = np.array(sizes)[image].T
    assert (top >= 0).all() and (left >= 0).all() and (top + 16 <= heights).all() and (left + 16 <= widths).all()
    assert set(transform) == set(range(DIHEDRAL))
    shares = np.bincount(image, minlength=3) / 500  # in proportion to area: 6000, 400, 60000
    assert abs(shares[2] - 60000 / 66400) < 0.06 and shares[1] < 0.03
    assert patches_per_epoch(sizes, (16, 16)) == -(-66400 // 256)
    whole = epoch_patches([(8, 8)] * 5, (8, 8), 5, seed=0, epoch=0)
    assert sorted(whole[0]) == list(range(5)) and not whole[1].any()  # whole images: a permutation


def test_dihedral_transforms_are_the_eight_symmetries():
    square = np.arange(9).reshape(3, 3, 1)
    results = {transformed(square, t).tobytes() for t in range(DIHEDRAL)}
    assert len(results) == 8
    pixels = random_pixels((10, 12, 1), np.uint16)
    batch = gather([pixels], (4, 4), [0], [2], [3], [0])
    assert batch.dtype == np.float32 and np.allclose(batch[0], pixels[2:6, 3:7] / 65535.0)


def test_tiled_and_whole_outputs_agree_at_odd_sizes():
    model = daekit.build_model("gaussian", *TINY_UNET, image_shape=(16, 16, 1), seed=0)
    assert size_multiple(model) == 4
    image = np.random.default_rng(0).random((333, 517, 1)).astype(np.float32)
    whole = predict_tiled(model, image, tile=4096)
    tiled = predict_tiled(model, image, tile=96, overlap=64)
    assert whole.shape == tiled.shape == image.shape
    assert np.abs(whole - tiled).max() < 1e-4
    with pytest.raises(ConfigError, match="overlap=96 must be smaller than tile=96"):
        predict_tiled(model, image, tile=96, overlap=96)


def test_the_default_tile_is_the_largest_whose_pass_fits_the_memory_budget():
    from daekit.tiling import MAX_TILE, pass_bytes_per_pixel, tile_for

    model = daekit.build_model("gaussian", *TINY_UNET, image_shape=(16, 16, 1), seed=0)
    wider = daekit.build_model("gaussian", "unet:filters=8,16,convs=1", "unet:filters=8,convs=1",
                               image_shape=(16, 16, 1), seed=0)
    per_pixel = pass_bytes_per_pixel(model)
    # At least the input, the output and one 4-channel map per pixel; a wider network more.
    assert 4 * (1 + 1 + 4) <= per_pixel < pass_bytes_per_pixel(wider)
    sides = [tile_for(model, gib * 2**30) for gib in (0.001, 0.01, 0.1, 1, 100)]
    assert sides == sorted(sides) and sides[0] == 256 and sides[-1] == MAX_TILE
    assert all(side % 4 == 0 and side**2 * per_pixel <= gib * 2**30 for side, gib in zip(sides[1:-1], (0.01, 0.1, 1)))
    assert tile_for(model) >= 256  # from the memory available now
    image = np.random.default_rng(1).random((300, 530, 1)).astype(np.float32)
    small_budget = predict_tiled(model, image, memory=256**2 * per_pixel)  # 256-pixel tiles, one per call
    np.testing.assert_allclose(small_budget, predict_tiled(model, image, tile=4096), atol=1e-4)


def test_denoise_keeps_size_channels_and_bit_depth():
    grey = daekit.build_model("gaussian", *TINY_UNET, image_shape=(16, 16, 1), seed=0)
    colour = daekit.build_model("gaussian", *TINY_UNET, image_shape=(16, 16, 3), seed=0)
    for model in (grey, colour):
        for pixels in (random_pixels((37, 23, 3), np.uint16), random_pixels((37, 23)), random_pixels((9, 11, 4))):
            restored = denoise(model, pixels)
            assert restored.shape == pixels.shape and restored.dtype == pixels.dtype
    rgba = random_pixels((9, 11, 4))
    assert np.array_equal(denoise(grey, rgba)[..., 3], rgba[..., 3])  # alpha passes through
    floats = denoise(grey, np.full((10, 10), 0.5))
    assert floats.dtype == np.float32 and floats.shape == (10, 10)
    fixed = daekit.build_model("gaussian", "conv:filters=4,8,padding=same", "conv:filters=8,tail_filters=4,padding=same",
                               image_shape=(16, 16, 1), seed=0)
    assert size_multiple(fixed) is None
    with pytest.raises(ConfigError, match="takes 16x16 images only.*not fully convolutional"):
        denoise(fixed, random_pixels((20, 20)))
    assert denoise(fixed, random_pixels((20, 20)), resize=True).shape == (20, 20)


def test_a_resumed_patch_pipeline_replays_the_batches_of_an_uninterrupted_one(tmp_path):
    from daekit.config import TrainConfig
    from daekit.data import pipeline

    for index, shape in enumerate([(40, 52, 1), (33, 70, 3), (64, 64, 1), (45, 45, 1), (50, 61, 3)]):
        write_image(tmp_path / f"{index}.png", random_pixels(shape, seed=index))
    config = TrainConfig.resolve(data=str(tmp_path), patch=16, batch_size=8, patches_per_epoch=40, augment="dihedral")
    plan = pipeline.prepare(config)
    assert plan.steps_per_epoch == 5 and plan.image_shape == (16, 16, 1)

    def batches(first_epoch, skip, parts=(0, 1, 1)):
        dataset = pipeline.patch_dataset(plan, 8, config.seed, first_epoch, 3, skip, 0, "dihedral", parts)
        return [x.numpy() for x, _ in dataset]

    everything = batches(0, 0)
    assert len(everything) == 15 and everything[0].shape == (8, 16, 16, 1)
    resumed = batches(1, 2)  # epoch 1 from its third batch, then epoch 2
    assert len(resumed) == 8
    for ours, theirs in zip(resumed, everything[7:]):
        np.testing.assert_array_equal(ours, theirs)
    assert not np.array_equal(everything[0], everything[5])  # each epoch draws anew
    # Three replicas on two workers, resumed: each worker yields its replicas' parts of every
    # batch, and together they are the batches of one process.
    first, second = batches(1, 2, (0, 2, 3)), batches(1, 2, (2, 1, 3))
    assert len(first) == 16 and len(second) == 8 and {len(part) for part in first + second} == {2, 3}
    for step, theirs in enumerate(everything[7:]):
        np.testing.assert_array_equal(np.concatenate([first[2 * step], first[2 * step + 1], second[step]]), theirs)


def test_configs_written_before_images_kept_their_size_still_load(tmp_path):
    from daekit.config import TrainConfig

    (tmp_path / "idx.toml").write_text('data = "fashion-mnist"\nimage_size = 28\nepochs = 2\n')
    assert TrainConfig.resolve(file=tmp_path / "idx.toml").resize is None
    (tmp_path / "folder.toml").write_text('data = "photos"\nimage_size = 32\n')
    assert TrainConfig.resolve(file=tmp_path / "folder.toml").resize == 32
