"""Degradations: seeded, in range, and doing what their names say."""

import numpy as np
import pytest
from skimage import data

from dci_cnn.degrade import PRESETS, degrade, gaussian_blur, jpeg, paper, resize, to_uint8
from dci_cnn.metrics import psnr


@pytest.fixture(scope="module")
def photo():
    return data.astronaut()[100:228, 150:278] / 255.0


@pytest.mark.parametrize("preset", sorted(PRESETS))
@pytest.mark.parametrize("colour", [False, True])
def test_presets_are_seeded_and_in_range(photo, preset, colour):
    image = photo if colour else photo.mean(-1)
    a, clean_a = degrade(image, preset, np.random.default_rng(7))
    b, clean_b = degrade(image, preset, np.random.default_rng(7))
    assert np.array_equal(a, b) and np.array_equal(clean_a, clean_b)
    assert a.shape == clean_a.shape and a.dtype == np.float32
    assert 0 <= a.min() and a.max() <= 1


def test_paper_preset_resizes_to_64(photo):
    degraded, clean = paper(photo, np.random.default_rng(0))
    assert degraded.shape == clean.shape == (64, 64, 3)
    assert psnr(clean, degraded) < 35


def test_jpeg_quality_orders_error(photo):
    errors = [psnr(photo, jpeg(photo, q)) for q in (5, 30, 90)]
    assert errors[0] < errors[1] < errors[2]
    assert jpeg(photo, 30).shape == photo.shape


def test_jpeg_subsampling_changes_colour(photo):
    assert not np.array_equal(jpeg(photo, 50, subsampling="4:2:0"), jpeg(photo, 50, subsampling="4:4:4"))


def test_blur_and_resize_and_uint8(photo):
    assert gaussian_blur(photo, 2.0).std() < photo.std()
    assert resize(photo, 32).shape == (32, 32, 3)
    assert to_uint8(np.array([0.0, 0.5, 1.2])).tolist() == [0, 128, 255]


def test_unknown_preset():
    with pytest.raises(ValueError, match="unknown degradation"):
        degrade(np.zeros((8, 8)), "gamma", np.random.default_rng())
