"""JPEG quality: read it from a file's quantization tables, or estimate it from decoded pixels.

The *quality* is the IJG (libjpeg) quality factor, 1-100: libjpeg, Pillow, OpenCV and most
software scale two standard tables (Annex K of the JPEG standard) by it. A file's tables give
it exactly (:func:`read_jpeg_quality`); decoded pixels keep its trace, as the block DCT
coefficients of a decoded JPEG sit on multiples of the quantization steps
(:func:`estimate_jpeg_quality`).
"""

from __future__ import annotations

import functools
import io
import os
from dataclasses import dataclass, field

import numpy as np
import scipy.fft
from PIL import Image, JpegImagePlugin

from ._deblur import _check_image

__all__ = ["JpegQuality", "estimate_jpeg_quality", "ijg_table", "read_jpeg_quality"]

#: Annex K tables in natural (row-major) order, as libjpeg's ``jpeg_set_quality`` scales them.
_LUMA = np.array(
    [
        [16, 11, 10, 16, 24, 40, 51, 61],
        [12, 12, 14, 19, 26, 58, 60, 55],
        [14, 13, 16, 24, 40, 57, 69, 56],
        [14, 17, 22, 29, 51, 87, 80, 62],
        [18, 22, 37, 56, 68, 109, 103, 77],
        [24, 35, 55, 64, 81, 104, 113, 92],
        [49, 64, 78, 87, 103, 121, 120, 101],
        [72, 92, 95, 98, 112, 100, 103, 99],
    ]
)
_CHROMA = np.full((8, 8), 99)
_CHROMA[:4, :4] = [[17, 18, 24, 47], [18, 21, 26, 66], [24, 26, 56, 99], [47, 66, 99, 99]]

_QUALITIES = np.arange(1, 101)
_SUBSAMPLING_NAMES = {(1, 1): "4:4:4", (2, 1): "4:2:2", (2, 2): "4:2:0", (1, 2): "4:4:0", (4, 1): "4:1:1"}


def ijg_table(quality, *, chroma=False, baseline=True):
    """libjpeg's quantization table for an IJG quality (``jpeg_set_quality``).

    Parameters
    ----------
    quality : int
        1-100.
    chroma : bool
        The chroma table instead of the luma one.
    baseline : bool
        Clip steps to 255 (8-bit tables), as libjpeg, Pillow and OpenCV do; else to 32767.

    Returns
    -------
    ndarray
        8x8 uint16, natural (row-major) order.

    Examples
    --------
    >>> ijg_table(50)[0, :4]
    array([16, 11, 10, 16], dtype=uint16)
    """
    if not 1 <= int(quality) <= 100:
        raise ValueError(f"quality must be in 1..100, got {quality}")
    quality = int(quality)
    scale = 5000 // quality if quality < 50 else 200 - 2 * quality
    table = ((_CHROMA if chroma else _LUMA) * scale + 50) // 100
    return np.clip(table, 1, 255 if baseline else 32767).astype(np.uint16)


def _all_tables(chroma):
    """Every IJG table, baseline-clipped and not: shape (2, 100, 8, 8)."""
    return np.stack([[ijg_table(q, chroma=chroma, baseline=b) for q in _QUALITIES] for b in (True, False)])


_TABLES = {False: _all_tables(False), True: _all_tables(True)}


def _match_quality(table, chroma, prefer=None):
    """The IJG quality whose table is ``table`` (exact) or nearest to it, and the mean step error."""
    tables = _TABLES[chroma]
    errors = np.abs(tables.astype(np.int64) - table.astype(np.int64)).mean(axis=(2, 3)).min(axis=0)
    exact = np.flatnonzero(errors == 0) + 1
    if exact.size:
        quality = prefer if prefer in exact else int(exact.max())
        return quality, 0.0
    best = int(np.argmin(errors))
    return best + 1, float(errors[best])


@dataclass(frozen=True, eq=False)
class JpegQuality:
    """What a JPEG file says about its compression.

    Attributes
    ----------
    quality : int
        IJG quality of the luma table (the first component's), 1-100: exact when ``standard``,
        else the nearest.
    tables : tuple of ndarray
        The quantization tables, 8x8 uint16 in natural (row-major) order: the luma table first,
        then the chroma table(s) in the order the components use them.
    qualities : tuple of int
        The IJG quality of each table (exact or nearest).
    errors : tuple of float
        Mean absolute difference, in quantization steps, between each table and libjpeg's table
        at its quality; 0 for a standard table.
    standard : bool
        Every table is libjpeg's standard table scaled at some quality.
    subsampling : str or None
        Chroma subsampling, "4:4:4", "4:2:2", "4:2:0", "4:4:0", "4:1:1" (other layouts as
        "HxV" sampling factors of each component); None for gray.
    progressive : bool
        Progressive (multi-scan) encoding.
    """

    quality: int
    tables: tuple = field(repr=False)
    qualities: tuple
    errors: tuple
    standard: bool
    subsampling: str | None
    progressive: bool

    def to_dict(self):
        """Plain Python values (tables as nested lists of int): ready for JSON or layer metadata."""
        return {
            "quality": self.quality,
            "tables": [t.tolist() for t in self.tables],
            "qualities": list(self.qualities),
            "errors": list(self.errors),
            "standard": self.standard,
            "subsampling": self.subsampling,
            "progressive": self.progressive,
        }

    def __eq__(self, other):
        if not isinstance(other, JpegQuality):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    __hash__ = None


def _source_name(source):
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return "the bytes given"
    if isinstance(source, Image.Image):
        return getattr(source, "filename", "") or "the PIL image given"
    return getattr(source, "name", None) or f"the {type(source).__name__} given"


def _subsampling(layers):
    if len(layers) < 3:
        return None
    (h, v), chroma = layers[0][1:3], {layer[1:3] for layer in layers[1:3]}
    if chroma == {(1, 1)} and (h, v) in _SUBSAMPLING_NAMES:
        return _SUBSAMPLING_NAMES[(h, v)]
    return ",".join(f"{layer[1]}x{layer[2]}" for layer in layers)


def _describe(image, name):
    if not isinstance(image, JpegImagePlugin.JpegImageFile) or not getattr(image, "quantization", None):
        what = f"a {image.format} image" if image.format else "an image without its JPEG file"
        raise ValueError(
            f"{name} is {what}, not a JPEG with quantization tables; pass a JPEG file "
            "(a PIL image straight from Image.open, before convert/copy), or estimate the quality "
            "from the decoded pixels with dci_cnn.estimate_jpeg_quality"
        )
    # Pillow >= 8.3 keeps the tables in natural order (it un-zigzags the DQT marker's order).
    ids = [layer[3] for layer in image.layer]
    order = list(dict.fromkeys(i for i in ids if i in image.quantization))
    order += [i for i in sorted(image.quantization) if i not in order]
    tables = [np.asarray(image.quantization[i], dtype=np.uint16).reshape(8, 8) for i in order]
    for t in tables:
        t.setflags(write=False)
    luma_quality, luma_error = _match_quality(tables[0], chroma=False)
    matches = [(luma_quality, luma_error)] + [_match_quality(t, True, prefer=luma_quality) for t in tables[1:]]
    return JpegQuality(
        quality=luma_quality,
        tables=tuple(tables),
        qualities=tuple(m[0] for m in matches),
        errors=tuple(m[1] for m in matches),
        standard=all(m[1] == 0 for m in matches),
        subsampling=_subsampling(image.layer),
        progressive=bool(image.info.get("progressive", False)),
    )


def read_jpeg_quality(source):
    """The quantization tables and IJG quality of a JPEG file.

    Parameters
    ----------
    source : str, path-like, bytes, file object or PIL.Image.Image
        A JPEG file, its bytes, an open binary file, or a PIL image as ``Image.open`` returned it.
        Only the header is read.

    Returns
    -------
    JpegQuality
        ``quality`` (of the luma table), ``tables``, ``qualities``, ``errors``, ``standard``,
        ``subsampling``, ``progressive``; ``to_dict()`` gives plain Python values.

    Raises
    ------
    ValueError
        If the source is not a JPEG (the message names it and what to do instead).

    Examples
    --------
    >>> import io, numpy as np
    >>> from PIL import Image
    >>> buffer = io.BytesIO()
    >>> Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(buffer, "JPEG", quality=75)
    >>> info = read_jpeg_quality(buffer.getvalue())
    >>> info.quality, info.standard, info.subsampling
    (75, True, '4:2:0')
    """
    name = _source_name(source)
    if isinstance(source, Image.Image):
        return _describe(source, name)
    if isinstance(source, (bytes, bytearray, memoryview)):
        source = io.BytesIO(bytes(source))
    try:
        image = Image.open(source)
    except Image.UnidentifiedImageError:
        raise ValueError(
            f"{name} is not an image file Pillow can read, so not a JPEG; pass a JPEG file, or estimate "
            "the quality from decoded pixels with dci_cnn.estimate_jpeg_quality"
        ) from None
    try:
        return _describe(image, name)
    finally:
        if isinstance(source, (str, os.PathLike)):
            image.close()


# --- estimation from pixels -------------------------------------------------------------------

_DCT8 = scipy.fft.dct(np.eye(8), norm="ortho", axis=0)  # rows: basis functions; JPEG's FDCT is this orthonormal DCT-II
_NOISE_SIGMA = 0.6  # spread of decoded coefficients around their lattice (pixel rounding, colour conversion)
_OUTLIER = 1e-3  # probability floor: coefficients off any lattice (clipping, edits)
_MIN_EVIDENCE = 50.0  # log-likelihood ratio (nats) below which no quantization is reported
_GRID_BLOCKS = 1024  # blocks sampled per grid offset when searching the 8x8 grid
_RESOLUTION = 4  # coefficient histograms have bins of 1/4


def _luma(image, channel_axis):
    """Y of YCbCr on the 0-255 scale (libjpeg's weights) as float32, and where a channel is clipped."""
    image = np.asarray(image)
    _check_image(image)
    if channel_axis is None:
        if image.ndim != 2:
            raise ValueError(
                f"estimate_jpeg_quality takes one 2-D image, got shape {image.shape}; pass channel_axis "
                "(e.g. channel_axis=-1) for colour, or one plane of a stack"
            )
        channels = image[..., None]
    else:
        if image.ndim != 3:
            raise ValueError(f"a colour image has rows, columns and channels; got shape {image.shape}")
        channels = np.moveaxis(image, channel_axis, -1)
        if channels.shape[-1] not in (1, 3, 4):
            raise ValueError(
                f"channel axis {channel_axis} has {channels.shape[-1]} channels; JPEG quality is estimated "
                "from gray, RGB or RGBA images (check channel_axis)"
            )
        channels = channels[..., :3]
    if min(channels.shape[:2]) < 16:
        raise ValueError(f"image of shape {image.shape} is too small to estimate JPEG quality (at least 16x16)")
    if image.dtype.kind == "f":
        low, high = float(np.min(channels)), float(np.max(channels))
        if not (np.isfinite(low) and np.isfinite(high)):
            raise ValueError("image has NaN or infinite values; JPEG quality needs the decoded pixels as they were")
        if low < -0.01 or high > 1.01:
            raise ValueError(
                f"float image values span [{low:.4g}, {high:.4g}], but floats are taken in [0, 1]; "
                "divide 0-255 data by 255, or pass the uint8 array"
            )
        scale = 255.0
    else:
        scale = 255.0 / np.iinfo(image.dtype).max
    channels = channels.astype(np.float32) * np.float32(scale)
    clipped = ((channels < 0.5) | (channels > 254.5)).any(axis=-1)
    plane = channels[..., 0] if channels.shape[-1] == 1 else channels @ np.array([0.299, 0.587, 0.114], np.float32)
    return plane, clipped


def _blocks(array, dy, dx):
    """The 8x8 blocks starting at (dy, dx), shape (rows, columns, 8, 8)."""
    h, w = (array.shape[0] - dy) // 8 * 8, (array.shape[1] - dx) // 8 * 8
    return array[dy : dy + h, dx : dx + w].reshape(h // 8, 8, w // 8, 8).swapaxes(1, 2)


def _grid_offset(plane):
    """The (dy, dx) of the 8x8 grid: where high-frequency DCT coefficients are most often zero.

    Scored on rows of blocks spread down the image (about ``_GRID_BLOCKS`` blocks), at all 64 offsets.
    """
    rows, cols = (plane.shape[0] - 8) // 8, (plane.shape[1] - 8) // 8
    block_rows = np.linspace(0, rows - 1, min(rows, max(1, _GRID_BLOCKS // cols))).astype(np.int64)
    row_index = block_rows[None, :, None] * 8 + np.arange(8)[:, None, None] + np.arange(8)  # (dy, block row, 8)
    basis = _DCT8.astype(np.float32)
    strips = basis @ plane[row_index]  # (dy, block row, u, x)
    low_u, high_u = strips[:, :, :4], strips[:, :, 4:]
    scores = np.empty((8, 8), np.int64)
    for dx in range(8):
        # the coefficients with u >= 4 or v >= 4, as (dy, block row, u, block column) x v
        high = high_u[..., dx : dx + 8 * cols].reshape(-1, 8) @ basis.T
        mixed = low_u[..., dx : dx + 8 * cols].reshape(-1, 8) @ basis[4:].T
        scores[:, dx] = sum(np.count_nonzero(np.abs(c.reshape(8, -1)) < 0.75, axis=1) for c in (high, mixed))
    dy, dx = np.unravel_index(np.argmax(scores), scores.shape)
    return int(dy), int(dx)


@functools.cache
def _lattice_log_ratio():
    """Log-likelihood ratio of a coefficient |c| = k / RESOLUTION on the lattice of step s vs off any lattice.

    Shape (255, 1024 * RESOLUTION + 1): row s - 1, column k. Step 1 carries no evidence (row of zeros),
    nor does a coefficient that rounds to 0 on the lattice: near-zero coefficients fill smooth blocks
    whether or not they were quantized, and would otherwise vouch for any large step.
    """
    steps = np.arange(1, 256)[:, None]
    value = np.arange(1024 * _RESOLUTION + 1)[None, :] / _RESOLUTION
    residual = value - steps * np.rint(value / steps)
    density = steps * np.exp(-0.5 * (residual / _NOISE_SIGMA) ** 2) / (_NOISE_SIGMA * np.sqrt(2 * np.pi))
    ratio = np.log((1 - _OUTLIER) * density + _OUTLIER).astype(np.float32)
    ratio[np.broadcast_to(value < steps / 2, ratio.shape)] = 0  # rounds to 0 on this lattice: smooth unquantized blocks have them too
    ratio[0] = 0
    return ratio


def _quality_evidence(coef):
    """Lattice evidence for each IJG quality's luma table (AC steps), shape (100,).

    The sum, over AC frequencies and coefficients off the zero peak, of the log-likelihood ratio
    that the coefficient sits on a multiple of the table's step rather than anywhere.
    """
    ratio = _lattice_log_ratio()
    size = ratio.shape[1]
    k = np.minimum(np.rint(np.abs(coef.reshape(-1, 64)[:, 1:]) * _RESOLUTION), size - 1).astype(np.int64)
    k += np.arange(63) * size  # one histogram per AC frequency
    k = k[k % size > _RESOLUTION]  # the zero peak says nothing about the step
    counts = np.bincount(k.ravel(), minlength=63 * size).reshape(63, size)
    used = int(np.flatnonzero(counts.any(axis=0)).max(initial=0)) + 1
    evidence = counts[:, :used].astype(np.float32) @ ratio[:, :used].T  # (frequency, step)
    steps = _TABLES[False][0].reshape(100, 64)[:, 1:].astype(np.int64) - 1
    return evidence[np.arange(63), steps].sum(axis=1)


def estimate_jpeg_quality(image, *, channel_axis=None):
    """Estimate the IJG quality a decoded JPEG was compressed at, from its pixels.

    Finds the 8x8 block grid (the image may have been cropped), takes the block DCT of the luma
    there and scores every IJG quality by how well its luma table's steps explain the lattices
    the coefficients sit on.

    Parameters
    ----------
    image : ndarray
        2-D gray, or colour with ``channel_axis`` (RGB or RGBA; the luma Y = 0.299 R + 0.587 G +
        0.114 B is used). Integers are taken at their dtype's full range, floats in [0, 1].
    channel_axis : int or None
        The colour axis, or None for a gray image.

    Returns
    -------
    int or None
        The quality, 1-100; None when the pixels show no JPEG quantization (never compressed,
        resized or filtered after compression, or compressed so lightly that no step exceeds 1).

    Examples
    --------
    >>> from skimage import data
    >>> from dci_cnn.degrade import jpeg
    >>> estimate_jpeg_quality(jpeg(data.camera() / 255.0, 40))
    40
    >>> estimate_jpeg_quality(data.camera()) is None
    True
    """
    plane, clipped = _luma(image, channel_axis)
    dy, dx = _grid_offset(plane)
    blocks = _blocks(plane, dy, dx)[~_blocks(clipped, dy, dx).any(axis=(2, 3))]
    evidence = _quality_evidence(scipy.fft.dctn(blocks - 128.0, axes=(1, 2), norm="ortho"))
    best = int(np.argmax(evidence))
    return best + 1 if evidence[best] >= _MIN_EVIDENCE else None
