"""npe2 reader for JPEG files: the picture upright, and what the file says about its compression.

Each layer's ``metadata["jpeg"]`` holds :func:`dci_cnn.read_jpeg_quality`'s
record (IJG quality, quantization tables, chroma subsampling, progressive)
plus the EXIF orientation the pixels were turned by, so a restoration can use
the file's quality later.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from dci_cnn import read_jpeg_quality

__all__ = ["get_reader", "read_jpeg"]

SUFFIXES = (".jpg", ".jpeg", ".jpe", ".jfif")
EXIF_ORIENTATION = 0x0112


def get_reader(path):
    """The reader for ``path`` (a file or list of files) if every file is a JPEG, else None."""
    paths = [path] if isinstance(path, (str, Path)) else list(path)
    if paths and all(str(p).lower().endswith(SUFFIXES) for p in paths):
        return read_jpeg
    return None


def read_jpeg(path):
    """Read JPEG file(s) as Image layers, upright, with ``metadata["jpeg"]``.

    Parameters
    ----------
    path : str, path-like or list of them

    Returns
    -------
    list of LayerDataTuple
    """
    paths = [path] if isinstance(path, (str, Path)) else list(path)
    return [_layer(Path(p)) for p in paths]


def _layer(path):
    with Image.open(path) as image:
        record = read_jpeg_quality(image).to_dict()
        record["exif_orientation"] = int(image.getexif().get(EXIF_ORIENTATION, 1))
        record["mode"] = image.mode
        upright = ImageOps.exif_transpose(image)
        pixels = np.asarray(upright if upright.mode in ("L", "RGB") else upright.convert("RGB"))
    settings = {"name": path.stem, "rgb": pixels.ndim == 3, "metadata": {"jpeg": record, "path": str(path)}}
    return pixels, settings, "image"
