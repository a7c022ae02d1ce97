"""Image quality metrics: PSNR and SSIM from scikit-image, PSNR-B from its definition.

All take a reference and a test image with the same shape, in the same
``data_range`` (1.0 for float images in [0, 1]).
"""

from __future__ import annotations

import numpy as np
from skimage.metrics import mean_squared_error, peak_signal_noise_ratio, structural_similarity

__all__ = ["blocking_effect_factor", "mse", "psnr", "psnr_b", "ssim"]


def psnr(reference, test, data_range=1.0):
    """Peak signal-to-noise ratio in dB (:func:`skimage.metrics.peak_signal_noise_ratio`)."""
    return float(peak_signal_noise_ratio(reference, test, data_range=data_range))


def mse(reference, test):
    """Mean squared error (:func:`skimage.metrics.mean_squared_error`)."""
    return float(mean_squared_error(reference, test))


def ssim(reference, test, data_range=1.0, channel_axis=None):
    """Structural similarity (:func:`skimage.metrics.structural_similarity`, Gaussian-weighted as in Wang et al.)."""
    return float(
        structural_similarity(
            reference,
            test,
            data_range=data_range,
            channel_axis=channel_axis,
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
        )
    )


def blocking_effect_factor(image, block=8):
    """Blocking effect factor (BEF) of a gray image, as defined by Yim and Bovik (2011).

    Compares the squared differences of neighbouring pixels across 8x8 block
    boundaries with those inside blocks.

    Parameters
    ----------
    image : ndarray, shape (H, W)
    block : int
        Block size of the codec.

    Returns
    -------
    float
    """
    image = np.asarray(image, dtype=np.float64)
    h, w = image.shape
    dh = (image[:, :-1] - image[:, 1:]) ** 2  # differences between column j and j+1
    dv = (image[:-1, :] - image[1:, :]) ** 2
    cols_b = np.arange(block - 1, w - 1, block)  # pairs straddling a vertical block edge
    rows_b = np.arange(block - 1, h - 1, block)
    cols_bc = np.setdiff1d(np.arange(w - 1), cols_b)
    rows_bc = np.setdiff1d(np.arange(h - 1), rows_b)
    n_hb, n_hbc = h * len(cols_b), h * len(cols_bc)
    n_vb, n_vbc = w * len(rows_b), w * len(rows_bc)
    d_b = (dh[:, cols_b].sum() + dv[rows_b, :].sum()) / max(n_hb + n_vb, 1)
    d_bc = (dh[:, cols_bc].sum() + dv[rows_bc, :].sum()) / max(n_hbc + n_vbc, 1)
    eta = 0.0 if block >= min(h, w) else np.log2(block) / np.log2(min(h, w))
    return float(eta * max(d_b - d_bc, 0.0))


def psnr_b(reference, test, data_range=1.0):
    """PSNR-B (Yim and Bovik, 2011): PSNR with the MSE increased by the blocking effect factor.

    Colour images ``(H, W, C)`` are scored channel by channel and averaged,
    as in the published tables.
    """
    reference, test = np.asarray(reference, dtype=np.float64), np.asarray(test, dtype=np.float64)
    if reference.shape != test.shape:
        raise ValueError(f"images differ in shape: {reference.shape} vs {test.shape}")
    if reference.ndim == 3:
        return float(np.mean([psnr_b(reference[..., c], test[..., c], data_range) for c in range(reference.shape[-1])]))
    mse_b = np.mean((reference - test) ** 2) + blocking_effect_factor(test)
    return float(10 * np.log10(data_range**2 / max(mse_b, 1e-20)))
