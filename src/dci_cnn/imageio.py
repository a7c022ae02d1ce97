"""Reading and writing image files, keeping bit depth, writing atomically.

TIFF goes through tifffile (any bit depth, stacks); everything else through
Pillow (JPEG, PNG 8/16-bit, BMP, WebP, ...).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tifffile
from PIL import Image, UnidentifiedImageError
from skimage.util import img_as_float32

from ._files import atomic_write

__all__ = ["IMAGE_SUFFIXES", "as_channels", "find_images", "read_image", "write_image"]

#: File suffixes treated as images when a folder is given.
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".webp"}
_TIFF = {".tif", ".tiff"}


def find_images(folder):
    """All image files below ``folder``, recursively, sorted.

    Hidden files and folders (names starting with ``.``, such as unfinished
    outputs of an interrupted run) are skipped.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"{folder} is not a folder")
    return sorted(
        p for p in folder.rglob("*")
        if p.suffix.lower() in IMAGE_SUFFIXES and not any(part.startswith(".") for part in p.relative_to(folder).parts)
        and p.is_file()
    )


def read_image(path):
    """Read an image file into an ndarray of its stored dtype.

    Gray images come back ``(H, W)``, colour ``(H, W, 3)`` (alpha kept as a
    fourth channel); palette and 1-bit images are converted to RGB/L.

    Raises
    ------
    ValueError
        If the file cannot be decoded as an image.
    """
    path = Path(path)
    try:
        if path.suffix.lower() in _TIFF:
            return tifffile.imread(path)
        with Image.open(path) as im:
            if im.mode in ("P", "1", "CMYK", "YCbCr", "LA"):
                im = im.convert("RGBA" if "transparency" in im.info or im.mode == "LA" else "RGB")
            if im.mode.startswith("I;16"):
                return np.asarray(im, dtype=np.uint16)
            return np.asarray(im)
    except (UnidentifiedImageError, OSError, tifffile.TiffFileError, SyntaxError) as exc:
        raise ValueError(f"cannot read {path} as an image: {exc}") from None


def write_image(path, image, *, overwrite=False):
    """Write an array to PNG or TIFF atomically, keeping its dtype.

    Parameters
    ----------
    path : path-like
        ``.png`` (uint8 or uint16, gray/RGB/RGBA) or ``.tif``/``.tiff``
        (any dtype and shape).
    image : ndarray
    overwrite : bool
        Replace an existing file; without it, an existing file raises
        ``FileExistsError``.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in _TIFF | {".png"}:
        raise ValueError(f"can write .png or .tif/.tiff, not {path.suffix!r} ({path})")
    image = np.asarray(image)
    if suffix == ".png" and image.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"PNG holds uint8 or uint16, got {image.dtype}; write a .tif for other dtypes")
    if suffix == ".png" and image.dtype == np.uint16 and image.ndim != 2:
        raise ValueError("Pillow cannot write 16-bit colour PNG; write a .tif instead")

    def write(tmp):
        if suffix in _TIFF:
            rgb = image.ndim == 3 and image.shape[-1] in (3, 4)
            tifffile.imwrite(tmp, image, photometric="rgb" if rgb else "minisblack")
        else:
            Image.fromarray(image).save(tmp, format="PNG")

    atomic_write(path, write, overwrite=overwrite)


def as_channels(image, channels):
    """Float32 ``(H, W)`` for gray (ITU-R 601 luma) or ``(H, W, 3)`` for colour from any stored image; alpha is dropped."""
    image = img_as_float32(image)
    if image.ndim == 3 and image.shape[-1] == 4:
        image = image[..., :3]
    if channels == 1 and image.ndim == 3:
        image = image @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    elif channels == 3 and image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=-1)
    return np.ascontiguousarray(image)
