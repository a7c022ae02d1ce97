"""Metrics: PSNR-B against its definition written out pixel pair by pixel pair."""

import numpy as np
import pytest

from dci_cnn.degrade import jpeg
from dci_cnn.metrics import blocking_effect_factor, mse, psnr, psnr_b, ssim


def _bef_by_definition(image, block=8):
    """Yim & Bovik (2011), eq. 1-5, with explicit loops over neighbouring pixel pairs."""
    image = np.asarray(image, dtype=np.float64)
    h, w = image.shape
    boundary, inner = [], []
    for i in range(h):
        for j in range(w - 1):
            (boundary if j % block == block - 1 else inner).append((image[i, j] - image[i, j + 1]) ** 2)
    for i in range(h - 1):
        for j in range(w):
            (boundary if i % block == block - 1 else inner).append((image[i, j] - image[i + 1, j]) ** 2)
    eta = np.log2(block) / np.log2(min(h, w))
    return eta * max(np.mean(boundary) - np.mean(inner), 0.0)


def test_bef_matches_definition():
    image = jpeg(np.random.default_rng(0).random((40, 56)), quality=10)
    assert blocking_effect_factor(image) == pytest.approx(_bef_by_definition(image), rel=1e-12)


def test_psnr_b_matches_definition():
    rng = np.random.default_rng(1)
    clean = rng.random((48, 64))
    test = jpeg(clean, quality=15)
    expected = 10 * np.log10(1 / (np.mean((clean - test) ** 2) + _bef_by_definition(test)))
    assert psnr_b(clean, test) == pytest.approx(expected, rel=1e-12)


def test_psnr_b_penalises_blocking_only():
    clean = np.random.default_rng(2).random((64, 64))
    blocky = jpeg(clean, quality=5)
    assert psnr_b(clean, blocky) < psnr(clean, blocky)
    smooth = np.tile(np.linspace(0, 1, 64), (64, 1))
    assert blocking_effect_factor(smooth) == 0.0


def test_psnr_b_colour_is_channel_mean():
    rng = np.random.default_rng(3)
    clean = rng.random((32, 32, 3))
    test = jpeg(clean, quality=20)
    assert psnr_b(clean, test) == pytest.approx(np.mean([psnr_b(clean[..., c], test[..., c]) for c in range(3)]))


def test_shape_mismatch():
    with pytest.raises(ValueError, match="differ in shape"):
        psnr_b(np.zeros((8, 8)), np.zeros((8, 9)))


def test_psnr_mse_ssim_agree():
    clean = np.random.default_rng(4).random((32, 32))
    noisy = np.clip(clean + 0.05, 0, 1)
    assert psnr(clean, noisy) == pytest.approx(10 * np.log10(1 / mse(clean, noisy)))
    assert ssim(clean, clean) == pytest.approx(1.0)
    assert ssim(clean, noisy) < 1.0
