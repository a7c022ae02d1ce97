"""What a TIFF page says besides its pixels, as ``tifffile.TiffWriter.write`` keywords for its restoration.

Every tag that describes the image is copied as stored: GeoTIFF
(ModelPixelScale, ModelTiepoint, ModelTransformation, GeoKeyDirectory and
its double/ASCII parameters), GDAL_METADATA and GDAL_NODATA, the
ImageDescription (OME-XML, ImageJ's header, tifffile's shape), ImageJ's
binary metadata (channel names, ranges, LUTs), resolution, ICC profile,
orientation, software, dates. The tags that describe the storage (sizes,
offsets, sample layout, tiles, compression) are written anew by tifffile.
"""

from __future__ import annotations

import math

import tifffile

__all__ = ["nodata", "series_options"]

# written by tifffile from the data and the keywords below, or stale after restoration (sample min/max)
_STORAGE_TAGS = {
    254, 255, 256, 257, 258, 259, 262, 266, 270, 273, 277, 278, 279, 280, 281, 282, 283, 284, 296, 305, 317, 320,
    322, 323, 324, 325, 330, 338, 339, 340, 341, 347, 529, 530, 531, 532, 32997, 32998, 34675, 50838, 50839,
}
# kept as stored; other codecs (JPEG, WebP, JPEG 2000, ...) are lossy or exotic: deflate instead
_LOSSLESS = {1, 5, 8, 32773, 32946, 34925, 34926, 50000}
_IMAGEJ_BINARY = ("Info", "Labels", "Ranges", "LUTs", "Plot", "ROI", "Overlays", "Properties")


def _extratag(tag):
    """``(code, dtype, count, value, writeonce)`` for ``TiffWriter.write(extratags=...)``, or None for pointers."""
    value = tag.value
    if isinstance(value, dict) or tag.dtype in (13, 18):  # EXIF/GPS sub-IFDs: offsets into the old file
        return None
    if tag.dtype in (5, 10):  # rationals come back as (numerator, denominator) pairs
        value = tuple(value) if tag.count > 1 or not isinstance(value[0], tuple) else value[0]
    elif tag.dtype == 2 and isinstance(value, bytes):
        value = value.decode("latin-1")
    count = tag.count if tag.dtype != 2 else None
    return (tag.code, int(tag.dtype), count, value, False)


def series_options(tif, pages):
    """Keywords for one ``TiffWriter.write`` of a whole series that give its pages the tags of ``pages`` (``TiffPage``s).

    The series is written in one call, so its pages are contiguous as
    ImageJ and tifffile's shaped series expect. Tags are those of the first
    page: on every page where every page had them alike, else on the first.
    """
    page = pages[0]
    tags = page.tags
    options = {
        "photometric": "rgb" if page.photometric == 6 else page.photometric,  # YCbCr is decoded to RGB
        "planarconfig": page.planarconfig if page.samplesperpixel > 1 else None,
        "extrasamples": page.extrasamples or None,
        "compression": page.compression if page.compression in _LOSSLESS else 8,
        "predictor": page.predictor if page.compression in _LOSSLESS and page.compression != 1 else None,
        "tile": (page.tilelength, page.tilewidth) if page.is_tiled else None,
        "subfiletype": page.subfiletype,
        "description": page.description or None,
        "software": page.software or False,
        "iccprofile": page.iccprofile,
        "metadata": None,
        "extratags": [],
    }
    if "XResolution" in tags and "YResolution" in tags:
        options["resolution"] = (tags["XResolution"].value, tags["YResolution"].value)
        options["resolutionunit"] = page.resolutionunit
    for tag in tags:
        if tag.code not in _STORAGE_TAGS:
            extra = _extratag(tag)
            if extra is not None:
                alike = all(other.tags.valueof(tag.code) == tag.value for other in pages[1:])
                options["extratags"].append(extra if alike else extra[:4] + (True,))
    if tif.is_imagej:
        binary = {k: v for k, v in (tif.imagej_metadata or {}).items() if k in _IMAGEJ_BINARY}
        if binary:
            options["extratags"] += list(tifffile.imagej_metadata_tag(binary, tif.byteorder))
    return options


def nodata(page):
    """GDAL's no-data value of ``page`` (NaN allowed), or None."""
    text = page.tags.valueof(42113)
    if text is None:
        return None
    try:
        value = float(str(text).strip().strip("\x00"))
    except ValueError:
        return None
    return value if math.isfinite(value) or math.isnan(value) else None
