"""Reading and writing image files, keeping bit depth and orientation, writing atomically.

TIFF goes through tifffile (any bit depth, stacks); PNG pixels through
imagecodecs (8 and 16 bit, gray, gray+alpha, RGB, RGBA, which Pillow cannot
all write); everything else through Pillow (JPEG, BMP, WebP, GIF, ...).
Images come back upright: an EXIF orientation is applied as viewers do
(``PIL.ImageOps.exif_transpose``). Whole files with their metadata, pages
and frames are :func:`dci_cnn._restore_file.restore_file`'s business.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import imagecodecs
import numpy as np
import tifffile
from PIL import Image, UnidentifiedImageError
from skimage.util import img_as_float32

from ._files import atomic_write

__all__ = ["IMAGE_SUFFIXES", "as_channels", "find_images", "read_image", "write_image"]

#: File suffixes treated as images when a folder is given.
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".webp", ".gif"}
TIFF_SUFFIXES = {".tif", ".tiff"}
_ORIENTATION = 0x0112
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# ancillary chunks that stay true when the pixels are restored (colour space, physical size, text, time)
_PNG_KEPT = {b"iCCP", b"sRGB", b"gAMA", b"cHRM", b"pHYs", b"tEXt", b"zTXt", b"iTXt", b"tIME"}


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


def orientation_of(im):
    """The EXIF orientation (1-8) of a Pillow image; 1 (upright) when it has none."""
    value = im.getexif().get(_ORIENTATION, 1)
    return value if value in range(1, 9) else 1


def upright(array, orientation):
    """``array`` (rows, columns first) turned as ``PIL.ImageOps.exif_transpose`` turns an image of that orientation."""
    turns = {
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: a.swapaxes(0, 1),
        6: lambda a: np.rot90(a, -1),
        7: lambda a: a[::-1, ::-1].swapaxes(0, 1),
        8: lambda a: np.rot90(a, 1),
    }
    return np.ascontiguousarray(turns[orientation](array)) if orientation in turns else array


def _png_bit_depth(path):
    with open(path, "rb") as fh:
        head = fh.read(26)
    return head[24] if head[:8] == _PNG_SIGNATURE and len(head) == 26 else 8


def pillow_array(im, path):
    """The pixels of a Pillow image (or the current frame) as gray ``(H, W)``, gray+alpha, RGB or RGBA ``(H, W, C)``.

    16-bit PNGs are decoded by imagecodecs (Pillow reduces 16-bit colour to
    8 bit); palette images become RGB or RGBA, bilevel images gray, CMYK and
    other colour spaces RGB.
    """
    if im.format == "PNG" and getattr(im, "n_frames", 1) == 1 and _png_bit_depth(path) == 16:
        return imagecodecs.png_decode(Path(path).read_bytes())
    if im.mode in ("P", "PA"):
        im = im.convert("RGBA" if "transparency" in im.info or im.mode == "PA" else "RGB")
    elif im.mode == "1":
        im = im.convert("L")
    elif im.mode not in ("L", "LA", "RGB", "RGBA", "I", "F") and not im.mode.startswith("I;16"):
        im = im.convert("RGBA" if "A" in im.mode else "RGB")
    if im.mode.startswith("I;16"):
        return np.asarray(im, dtype=np.uint16)
    return np.asarray(im)


def png_chunk(kind, data):
    """One PNG chunk: length, type, data, CRC."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _chunks(raw):
    pos = 8
    while pos + 8 <= len(raw):
        (length,) = struct.unpack(">I", raw[pos : pos + 4])
        yield raw[pos + 4 : pos + 8], raw[pos : pos + 12 + length]
        pos += 12 + length


def png_profile_chunks(icc_profile=None, dpi=None):
    """PNG chunks for an ICC profile (iCCP) and a resolution in dots per inch (pHYs)."""
    chunks = []
    if icc_profile:
        chunks.append(png_chunk(b"iCCP", b"ICC Profile\x00\x00" + zlib.compress(icc_profile)))
    if dpi:
        ppm = [round(float(d) / 0.0254) for d in dpi]
        chunks.append(png_chunk(b"pHYs", struct.pack(">IIB", ppm[0], ppm[1], 1)))
    return chunks


def png_metadata_chunks(im, path):
    """What an image file says besides its pixels, as PNG chunks for its restoration.

    From a PNG: colour space (iCCP, sRGB, gAMA, cHRM), physical size
    (pHYs), text and time, as stored. From other formats: the ICC profile
    and DPI. EXIF comes along without its orientation, which the pixels
    now have.
    """
    if im.format == "PNG":
        chunks = [chunk for kind, chunk in _chunks(Path(path).read_bytes()) if kind in _PNG_KEPT]
    else:
        chunks = png_profile_chunks(im.info.get("icc_profile"), im.info.get("dpi"))
    exif = im.getexif()
    if len(exif):
        exif.pop(_ORIENTATION, None)
        data = exif.tobytes()
        chunks.append(png_chunk(b"eXIf", data[6:] if data.startswith(b"Exif\x00\x00") else data))
    return chunks


def png_bytes(image, chunks=()):
    """PNG file bytes of a uint8/uint16 gray, gray+alpha, RGB or RGBA array, with ancillary ``chunks`` after IHDR."""
    raw = imagecodecs.png_encode(np.ascontiguousarray(image))
    end_of_ihdr = 8 + 25
    return raw[:end_of_ihdr] + b"".join(chunks) + raw[end_of_ihdr:]


def read_image(path):
    """Read an image file into an ndarray of its stored dtype, upright.

    Gray images come back ``(H, W)``, colour ``(H, W, 3)`` (alpha kept as a
    fourth channel, gray+alpha as RGBA); palette and 1-bit images are
    converted to RGB/L; 16-bit PNGs stay 16 bit. A TIFF gives its first
    series, other formats their first frame.

    Raises
    ------
    ValueError
        If the file cannot be decoded as an image.
    """
    path = Path(path)
    try:
        if path.suffix.lower() in TIFF_SUFFIXES:
            return tifffile.imread(path)
        with Image.open(path) as im:
            image = upright(pillow_array(im, path), orientation_of(im))
    except (UnidentifiedImageError, OSError, tifffile.TiffFileError, SyntaxError) as exc:
        raise ValueError(f"cannot read {path} as an image: {exc}") from None
    if image.ndim == 3 and image.shape[-1] == 2:
        image = image[..., [0, 0, 0, 1]]
    return image


def write_image(path, image, *, overwrite=False):
    """Write an array to PNG or TIFF atomically, keeping its dtype.

    Parameters
    ----------
    path : path-like
        ``.png`` (uint8 or uint16, gray/gray+alpha/RGB/RGBA) or
        ``.tif``/``.tiff`` (any dtype and shape).
    image : ndarray
    overwrite : bool
        Replace an existing file; without it, an existing file raises
        ``FileExistsError``.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in TIFF_SUFFIXES | {".png"}:
        raise ValueError(f"can write .png or .tif/.tiff, not {path.suffix!r} ({path})")
    image = np.asarray(image)
    if suffix == ".png" and image.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"PNG holds uint8 or uint16, got {image.dtype}; write a .tif for other dtypes")
    if suffix == ".png" and not (image.ndim == 2 or (image.ndim == 3 and image.shape[-1] <= 4)):
        raise ValueError(f"PNG holds gray, gray+alpha, RGB or RGBA, got shape {image.shape}; write a .tif")

    def write(tmp):
        if suffix in TIFF_SUFFIXES:
            rgb = image.ndim == 3 and image.shape[-1] in (3, 4)
            tifffile.imwrite(tmp, image, photometric="rgb" if rgb else "minisblack")
        else:
            Path(tmp).write_bytes(png_bytes(image))

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
