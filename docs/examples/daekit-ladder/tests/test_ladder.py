import numpy as np
import pytest

import daekit
from daekit import check_component
from daekit_ladder import LadderDecoder, LadderEncoder, TouchedLoss


def test_the_encoder_trains_with_its_decoder(tmp_path):
    check_component(LadderEncoder, tmp_path, pair="ladder:filters=16,8", filters=(8, 16, 16))


def test_the_decoder_trains_with_its_encoder(tmp_path):
    check_component(LadderDecoder(filters=(8,)), tmp_path, pair="ladder:filters=8,16", image_shape=(28, 28, 3))


def test_the_loss_trains_and_weighs_touched_pixels(tmp_path):
    check_component(TouchedLoss, tmp_path, floor=0.25)
    loss = TouchedLoss(floor=0.25)
    y, p = np.zeros((1, 2, 2, 1), "float32"), np.full((1, 2, 2, 1), 0.5, "float32")
    mask = np.array([1, 0, 0, 0], "float32").reshape(1, 2, 2, 1)
    assert float(loss(y, p, sample_weight=loss.pixel_weights(mask))) == pytest.approx(0.5 * (1 + 3 * 0.25) / 4)


def test_sizes_that_do_not_halve_are_refused():
    with pytest.raises(daekit.ConfigError, match="decoder 'ladder' doubles"):
        daekit.build_model("gaussian", "ladder:filters=8,8", "ladder:filters=8", image_shape=(27, 27, 1))
