"""Training on random crops for the first epochs, then on whole images."""

import json

import numpy as np
import pytest

import daekit
from daekit.errors import ConfigError

UNET = dict(encoder="unet:filters=4,8,space_to_depth=2", decoder="unet:filters=4,space_to_depth=2", batch_size=16)


def test_crops_cut_each_image_at_its_own_corner_in_the_same_order():
    from daekit.training import epoch_crops, training_dataset

    images = np.random.default_rng(0).integers(0, 256, (40, 9, 7, 1), dtype=np.uint8)
    whole = np.concatenate([x.numpy() for x, _ in training_dataset(images, 8, seed=3, epochs=2)])
    cropped = np.concatenate([x.numpy() for x, _ in training_dataset(images, 8, seed=3, epochs=2, crop=4)])
    assert cropped.shape == (80, 4, 4, 1)
    corners = np.concatenate([epoch_crops(40, 3, epoch, (9, 7), 4) for epoch in range(2)])
    assert corners[:, 0].max() <= 5 and corners[:, 1].max() <= 3 and len(np.unique(corners, axis=0)) > 10
    for image, crop, (top, left) in zip(whole, cropped, corners):
        np.testing.assert_array_equal(crop, image[top:top + 4, left:left + 4])
    # Each epoch cuts anew, and a run resumed after 3 batches of the second epoch sees the same batches.
    assert not np.array_equal(corners[:40], corners[40:])
    resumed = np.concatenate([x.numpy() for x, _ in training_dataset(images, 8, 3, 1, 2, 3, crop=4)])
    np.testing.assert_array_equal(resumed, cropped[64:])
    # Flips mirror the same images as without crops; the crops stay where they were.
    flipped = np.concatenate([x.numpy() for x, _ in training_dataset(images, 8, 3, epochs=2, augment="flip", crop=4)])
    mirrored = np.all(flipped == cropped[:, :, ::-1], axis=(1, 2, 3))
    assert np.all(mirrored | np.all(flipped == cropped, axis=(1, 2, 3))) and 20 <= mirrored.sum() <= 60


def test_crop_epochs_then_whole_images(plugins, fashion_mnist, tmp_path, monkeypatch):
    from daekit import training

    shapes = []
    dataset = training.training_dataset

    def recorded(*args, **kwargs):
        made = dataset(*args, **kwargs)
        shapes.append(tuple(made.element_spec[0].shape[1:3]))
        return made

    monkeypatch.setattr(training, "training_dataset", recorded)
    config = daekit.TrainConfig.resolve(**UNET, epochs=3, crop=12, crop_epochs=2, limit=200, test_limit=40,
                                        output=str(tmp_path), name="crops")
    run = daekit.train(config, verbose=0)
    # One fit for the cropped epochs, one for the whole images; the step traced anew for each size
    # (the folding layers need static sizes: a step traced once for both would fail).
    assert shapes == [(12, 12), (28, 28)]
    assert len(run.history["val_psnr"]) == 3 and run.evaluation["images"] == 40
    pipeline = json.loads((run.run_dir / "manifest.json").read_text())["pipeline"]
    assert pipeline["crops"] == "random 12x12 crops in epochs 1 to 2, whole images from epoch 3"
    assert daekit.load_model(run.run_dir / "model.keras").predict(np.zeros((1, 28, 28, 1)), verbose=0).shape == (1, 28, 28, 1)


@pytest.mark.parametrize(
    "settings, message",
    [
        (dict(crop_epochs=2), "crop_epochs=2 needs crop"),
        (dict(crop=12, crop_epochs=3), "crop_epochs=3 is more than the run's epochs=2"),
        (dict(crop=32), "crop=32 is larger than the 28x28 training images; give at most 28"),
        (dict(crop=14), "crop=14: encoder 'unet' and decoder 'unet' cannot take 14x14 images: .*sides divisible by 4"),
        (dict(crop=12, encoder="conv:padding=same", decoder="conv:tail_filters=8,padding=same", batch_size=16),
         "crop=12: encoder 'conv' and decoder 'conv' cannot take 12x12 images: decoder 'conv' grows 28x28 images"),
    ],
)
def test_crop_settings_that_cannot_work_are_refused(plugins, fashion_mnist, tmp_path, settings, message):
    config = daekit.TrainConfig.resolve(**{**UNET, "epochs": 2, "limit": 100, "test_limit": 10, **settings},
                                        output=str(tmp_path), name="refused")
    with pytest.raises(ConfigError, match=message):
        daekit.train(config, verbose=0)
