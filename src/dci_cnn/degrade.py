"""Degradation pipelines: what compression and capture do to an image.

Images are float arrays in [0, 1], shaped ``(H, W)`` or ``(H, W, 3)``.
Every random choice comes from the ``numpy.random.Generator`` passed in, so
a seeded generator reproduces a degradation exactly.

Presets (see :data:`PRESETS`):

``paper``
    The DCI-CNN paper: bicubic resize to 64x64, Gaussian blur whose radius
    is a percentage of the image size, Gaussian noise with sigma in
    {5, 10, 15, 20} (0-255 scale), JPEG.
``jpeg``
    JPEG at quality 5-95 with 4:2:0 or 4:4:4 chroma, sometimes compressed
    twice with the second block grid shifted, as re-posted web images are.
``mixed``
    Blur, noise and JPEG in random amounts and order: the blind default.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image
from scipy.ndimage import gaussian_filter

__all__ = [
    "PRESETS",
    "degrade",
    "gaussian_blur",
    "gaussian_noise",
    "jpeg",
    "jpeg_known",
    "jpeg_random",
    "mixed",
    "paper",
    "recompress",
    "resize",
    "to_uint8",
]

_SUBSAMPLING = {"4:4:4": 0, "4:2:2": 1, "4:2:0": 2}


def to_uint8(image):
    """Round a float image in [0, 1] to uint8, the 8-bit convention of the benchmarks."""
    return np.clip(np.rint(np.asarray(image, dtype=np.float64) * 255.0), 0, 255).astype(np.uint8)


def jpeg(image, quality, *, subsampling="4:2:0"):
    """Compress and decompress an image with Pillow's JPEG codec.

    Parameters
    ----------
    image : ndarray
        Float image in [0, 1], ``(H, W)`` or ``(H, W, 3)``.
    quality : int
        JPEG quality factor, 1-100.
    subsampling : {"4:2:0", "4:2:2", "4:4:4"}
        Chroma subsampling (ignored for gray images).

    Returns
    -------
    ndarray
        The decoded image as float32 in [0, 1], same shape.
    """
    if not 1 <= int(quality) <= 100:
        raise ValueError(f"JPEG quality must be in 1..100, got {quality}")
    if subsampling not in _SUBSAMPLING:
        raise ValueError(f"subsampling must be one of {sorted(_SUBSAMPLING)}, got {subsampling!r}")
    buf = io.BytesIO()
    Image.fromarray(to_uint8(image)).save(buf, format="JPEG", quality=int(quality), subsampling=_SUBSAMPLING[subsampling])
    buf.seek(0)
    return np.asarray(Image.open(buf), dtype=np.float32) / 255.0


def gaussian_blur(image, sigma):
    """Blur the spatial axes with a Gaussian of standard deviation ``sigma`` pixels."""
    sigmas = (sigma, sigma) + (0,) * (image.ndim - 2)
    return gaussian_filter(np.asarray(image, dtype=np.float32), sigmas, mode="reflect")


def gaussian_noise(image, sigma, rng):
    """Add white Gaussian noise; ``sigma`` is on the 0-255 scale, as in the paper."""
    return image + rng.normal(0.0, sigma / 255.0, size=image.shape).astype(np.float32)


def paper(image, rng, *, size=64, blur_percent=(0.0, 2.0), noise_sigmas=(5, 10, 15, 20), quality=(10, 40)):
    """The paper's pipeline: resize, blur, noise, JPEG.

    Parameters
    ----------
    image : ndarray
        Clean float image in [0, 1].
    rng : numpy.random.Generator
        Source of randomness.
    size : int or None
        Side of the bicubic resize (64 in the paper); None keeps the size.
    blur_percent : (float, float)
        Range of the blur radius as a percentage of the image side.
    noise_sigmas : sequence of float
        Noise levels (0-255 scale) to draw from.
    quality : (int, int)
        Range of JPEG quality factors (the paper does not state one).

    Returns
    -------
    degraded, clean : ndarray
        The degraded image and the clean target, both at the resized size.
    """
    clean = resize(image, size) if size else np.asarray(image, dtype=np.float32)
    sigma = rng.uniform(*blur_percent) / 100.0 * clean.shape[0]
    out = gaussian_blur(clean, sigma) if sigma > 0 else clean
    out = gaussian_noise(out, rng.choice(noise_sigmas), rng)
    out = jpeg(np.clip(out, 0, 1), int(rng.integers(quality[0], quality[1] + 1)))
    return out, clean


def resize(image, size):
    """Bicubic resize to ``size x size`` with Pillow (the paper's interpolation)."""
    mode = "F"
    planes = [image] if image.ndim == 2 else [image[..., c] for c in range(image.shape[-1])]
    out = [np.asarray(Image.fromarray(np.asarray(p, dtype=np.float32), mode).resize((size, size), Image.BICUBIC)) for p in planes]
    out = out[0] if image.ndim == 2 else np.stack(out, axis=-1)
    return np.clip(out, 0, 1).astype(np.float32)


def _random_quality(rng, low=5, high=95):
    """Draw a JPEG quality: 45 % from the low range where artifacts are worst, 35 % from
    the whole range and 20 % from the high range, where a model must learn to leave
    fine detail alone."""
    u = rng.random()
    if u < 0.45:
        return int(rng.integers(low, min(45, high) + 1))
    if u < 0.8:
        return int(rng.integers(low, high + 1))
    return int(rng.integers(max(low, 70), high + 1))


def jpeg_random(image, rng, *, quality=(5, 95), double_prob=0.25):
    """The ``jpeg`` preset: random quality, chroma subsampling and double compression.

    Returns
    -------
    degraded, clean : ndarray
    """
    return jpeg_known(image, rng, quality=quality, double_prob=double_prob)[:2]


def jpeg_known(image, rng, *, quality=(5, 95), double_prob=0.25):
    """:func:`jpeg_random` that also returns the quality of the last compression.

    A second compression (``double_prob``) has its own quality and its block
    grid shifted by a random offset, as re-posted web images do; the quality
    returned is the last one, the one a file's tables show.

    Returns
    -------
    degraded, clean : ndarray
    quality : int
    """
    clean = np.asarray(image, dtype=np.float32)
    sub = "4:2:0" if rng.random() < 0.7 else "4:4:4"
    last = _random_quality(rng, *quality)
    out = jpeg(clean, last, subsampling=sub)
    if rng.random() < double_prob:
        shift = tuple(int(v) for v in rng.integers(0, 8, size=2))
        last = _random_quality(rng, *quality)
        out = recompress(out, last, shift=shift, subsampling=sub)
    return out, clean, last


def recompress(image, quality, *, shift=(4, 4), subsampling="4:2:0"):
    """Compress a decoded JPEG again on a block grid shifted by ``shift`` (rows, columns) pixels.

    The image is padded (reflected) at the top and left by ``shift``,
    compressed and cropped back, as a crop of a re-posted image is.
    """
    dy, dx = shift
    shifted = np.pad(image, ((dy, 0), (dx, 0)) + ((0, 0),) * (image.ndim - 2), mode="reflect")
    return jpeg(shifted, quality, subsampling=subsampling)[dy:, dx:]


def mixed(image, rng, *, blur_prob=0.25, noise_prob=0.25, max_blur=1.6, max_noise=20.0):
    """The blind ``mixed`` preset: blur and noise in random order and amounts, then JPEG.

    Returns
    -------
    degraded, clean : ndarray
    """
    clean = np.asarray(image, dtype=np.float32)
    out = clean
    steps = ["blur", "noise"]
    rng.shuffle(steps)
    for step in steps:
        if step == "blur" and rng.random() < blur_prob:
            out = gaussian_blur(out, rng.uniform(0.3, max_blur))
        elif step == "noise" and rng.random() < noise_prob:
            out = gaussian_noise(out, rng.uniform(1.0, max_noise), rng)
    if rng.random() < 0.9:
        out, _ = jpeg_random(np.clip(out, 0, 1), rng)
    return np.clip(out, 0, 1).astype(np.float32), clean


PRESETS = {"paper": paper, "jpeg": jpeg_random, "mixed": mixed}


def degrade(image, preset, rng):
    """Apply a named preset; returns ``(degraded, clean)``."""
    if preset not in PRESETS:
        raise ValueError(f"unknown degradation {preset!r}; choose one of {sorted(PRESETS)}")
    return PRESETS[preset](image, rng)
