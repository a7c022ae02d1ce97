"""Restore a layer's array into an array of the same dtype and value range.

Keeping dtype and range lets the output layer reuse the input's contrast
limits and histogram. uint8 data is read as the 0-255 JPEG domain; other
integer and float data keep their own range (``preserve_range``), as 12/16-bit
microscopy and satellite radiances need. NumPy arrays are restored now, tile
by tile with progress; anything else (dask, zarr, other lazy arrays) becomes a
lazy dask array that restores only the chunks napari asks for.
"""

from __future__ import annotations

import numpy as np

from dci_cnn import deblur
from dci_cnn.devices import default_tile_size, resolve_device
from dci_cnn.models import ARCHITECTURES
from dci_cnn.weights import MODEL_FAMILIES, model_card

__all__ = ["AUTO", "as_dask", "auto_tile_size", "is_lazy", "restore"]

#: Widget and command value meaning "choose for me" (model and tile size).
AUTO = "auto"

#: Smallest tile side on the CPU, so that progress and Cancel stay responsive.
CPU_TILE_SIZE = 512

#: On the CPU, tiles are at least this many halos wide, so the overlap costs at most 2/32 = 6 % extra
#: work between streamed bands (4 tiles wide), and (1 + 2/8)^2 - 1 = 56 % between self-ensemble windows.
CPU_TILE_HALOS = 8


def auto_tile_size(device, model=AUTO):
    """Tile size the plugin uses for ``tile_size="auto"`` on ``device``.

    On the CPU, the larger of :data:`CPU_TILE_SIZE` and :data:`CPU_TILE_HALOS`
    times the model's halo (1280 for the default U-Nets, 2432 for the `jpeg` ones, 512 for the paper's
    network): strips small enough that progress and Cancel respond quickly
    (about half a tile's pixels each), bands wide enough that their overlap
    costs at most 6 % extra work (56 % for the windows of the
    self-ensemble); elsewhere the library's
    :func:`dci_cnn.devices.default_tile_size`.

    Parameters
    ----------
    device : str
        ``"cpu"``, ``"cuda:N"``, ``"mps"`` or ``"auto"``.
    model : str, optional
        Model name, a ``.safetensors`` path, a family (the largest halo of
        its members) or ``"auto"`` (the default family).

    Raises
    ------
    ValueError
        If the device is not available or the model unknown.
    """
    resolved = resolve_device(device)
    family = MODEL_FAMILIES.get("default" if model == AUTO else model)
    halo = max(_halo(name) for name in (family.values() if family else [model]))
    if resolved.type != "cpu":
        return default_tile_size(resolved, halo)
    return max(CPU_TILE_SIZE, CPU_TILE_HALOS * halo)


def _halo(model):
    """A model's halo, read from its card without loading its weights."""
    card = model_card(model)
    return ARCHITECTURES[card["architecture"]].halo(**card["arguments"])


def is_lazy(data):
    """Whether ``data`` is restored lazily (anything but an in-memory NumPy array)."""
    return not isinstance(data, np.ndarray)


def as_dask(data, rgb=False):
    """A dask array over ``data`` with one plane per chunk along the leading axes."""
    import dask.array as da

    if not type(data).__module__.startswith("dask"):
        chunks = getattr(data, "chunks", None)
        data = da.from_array(data, chunks=chunks if isinstance(chunks, tuple) else "auto")
    leading = data.ndim - (3 if rgb else 2)
    return data.rechunk({axis: 1 for axis in range(leading)})


def _float_out(data, dtype):
    """A float32 array for the result of 8/16-bit NumPy data (exact after rounding, half of float64); else None."""
    if isinstance(data, np.ndarray) and dtype.kind in "ui" and dtype.itemsize <= 2:
        return np.empty(data.shape, np.float32)
    return None


def _in_dtype(restored, dtype):
    """Map a :func:`dci_cnn.deblur` result back to the input's dtype (in place for NumPy results)."""
    eager = isinstance(restored, np.ndarray)
    if dtype == np.uint8:
        restored = np.multiply(restored, 255, out=restored) if eager else restored * 255
    if dtype.kind in "ui":
        restored = np.rint(restored, out=restored) if eager else np.rint(restored)
    return restored.astype(dtype, copy=False)


def restore(
    data,
    *,
    rgb,
    channel_axis=None,
    model=AUTO,
    device="cpu",
    tile_size=AUTO,
    self_ensemble=False,
    quality=None,
    progress=None,
    lazy=False,
):
    """Deblur one layer array, keeping its shape, dtype and value range.

    Parameters
    ----------
    data : array-like
        Image data: leading axes (Z, T, bands) are restored plane by plane.
    rgb : bool
        The last axis holds RGB(A) channels (colour model).
    channel_axis : int or None, optional
        Axis of channels or bands of non-RGB data: each one is restored on
        its own by the gray model, and the image is the last two other axes.
    model : str, optional
        Model name, a ``.safetensors`` path, a family (``"jpeg"``) or
        ``"auto"``: the family's gray or colour model by ``rgb``.
    device : str, optional
        ``"cpu"``, ``"cuda:N"``, ``"mps"`` or ``"auto"``.
    tile_size : int or "auto", optional
        Tile size in pixels (see :func:`dci_cnn.deblur`).
    self_ensemble : bool, optional
        Average over the 8 flips and rotations (8 times slower).
    quality : None, int or "auto", optional
        JPEG quality the model restores for (see :func:`dci_cnn.deblur`).
    progress : callable, optional
        ``progress(done, total)`` after each tile (NumPy input only); it may
        raise to cancel.
    lazy : bool, optional
        Return a lazy dask array even for NumPy input.

    Returns
    -------
    ndarray or dask array
        Same shape and dtype as ``data``; lazy if ``lazy`` or if ``data`` is
        not a NumPy array.
    """
    if channel_axis is not None and not rgb:  # channels to the front: planes for the gray model, then back
        data = np.moveaxis(as_dask(data) if is_lazy(data) else data, channel_axis, 0)
        options = {"model": model, "device": device, "tile_size": tile_size, "self_ensemble": self_ensemble,
                   "quality": quality}
        return np.moveaxis(restore(data, rgb=False, progress=progress, lazy=lazy, **options), 0, channel_axis)
    dtype = np.dtype(data.dtype)
    device = str(resolve_device(device))
    if lazy or is_lazy(data):
        data, progress = as_dask(data, rgb), False
    restored = deblur(
        data,
        model=None if model == AUTO else model,
        channel_axis=-1 if rgb else None,
        device=device,
        tile_size=auto_tile_size(device, model) if tile_size == AUTO else tile_size,
        preserve_range=dtype != np.uint8,
        progress=progress or False,
        out=_float_out(data, dtype),
        self_ensemble=self_ensemble,
        quality=quality,
    )
    return _in_dtype(restored, dtype)
