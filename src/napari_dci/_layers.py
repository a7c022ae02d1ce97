"""Input snapshots and output layers: what a job reads from the viewer and what it writes back.

A :class:`Snapshot` is taken when a job starts, so switching or editing
layers during the run cannot mix results. The output layer is named
``<name> [deblurred]``, has the input's full shape, carries its spatial
metadata and display settings, and is updated in place by re-runs: a
"current plane" run writes its plane and leaves the others as they were,
and display settings the user changed on the output are kept.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field

import numpy as np
from napari.layers import Image
from napari.utils.notifications import show_info

from ._channels import image_axes

__all__ = ["DISPLAY", "KEPT", "Snapshot", "capture", "output_name", "plane_axes", "show_result"]

#: Display settings of the output layer; those the user changed on it are kept by re-runs.
DISPLAY = (
    "colormap",
    "contrast_limits",
    "gamma",
    "blending",
    "opacity",
    "interpolation2d",
    "interpolation3d",
    "rendering",
)

#: Layer attributes copied from the input to the output layer.
KEPT = ("scale", "translate", "rotate", "shear", "affine", "units", "axis_labels", *DISPLAY, "metadata")

#: Output layer -> the display settings a run last gave it (to tell the user's own changes apart).
_applied = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class Snapshot:
    """An Image layer's data and settings, frozen when a job starts.

    Attributes
    ----------
    name : str
        Name of the input layer.
    data : array-like or list of array-like
        The data to restore (for "current plane only", the plane's region of
        the input, with its plane axes kept as length 1); a list of levels for
        multiscale layers.
    rgb, multiscale : bool
        As on the layer.
    channel_axis : int or None
        Axis of channels or bands (the last axis for RGB layers).
    shape : tuple of int
        Shape of the whole input (of its first level when multiscale).
    region : tuple of slice or None
        Where ``data`` sits in the input, or None when it is all of it.
    settings : dict
        The :data:`KEPT` attributes for the output layer.
    """

    name: str
    data: object
    rgb: bool
    multiscale: bool
    channel_axis: int | None
    shape: tuple
    region: tuple | None
    settings: dict = field(repr=False)


def plane_axes(ndim, channel_axis):
    """Axes that index planes (Z, T, ...): all but the image's rows and columns and a channel axis after them.

    A channel axis before the image (``(band, y, x)``) is on a slider in
    napari and each channel is restored on its own, so it indexes planes too.
    """
    image = image_axes(ndim, channel_axis)
    return tuple(a for a in range(ndim) if a not in image and (a != channel_axis or a < image[0]))


def output_name(name):
    """Name of the output layer of the input layer ``name``."""
    return f"{name} [deblurred]"


def _check(layer):
    if not isinstance(layer, Image):
        raise TypeError(
            f"{layer.name!r} is a {type(layer).__name__} layer; dci-cnn restores Image layers (intensities)"
        )


def capture(layer, point=None, channel_axis=None):
    """Snapshot ``layer`` for a job.

    Parameters
    ----------
    layer : napari.layers.Layer
        The input; must be an Image layer.
    point : sequence of float, optional
        World position of the viewer (``viewer.dims.point``); when given, only
        the plane through it (all its channels) is captured. Ignored for
        multiscale layers.
    channel_axis : int or None, optional
        Axis of channels or bands of a non-RGB layer.

    Returns
    -------
    Snapshot

    Raises
    ------
    TypeError
        If ``layer`` is not an Image layer.
    """
    _check(layer)
    settings = {key: getattr(layer, key) for key in KEPT}
    settings["affine"] = layer.affine.affine_matrix
    settings["metadata"] = dict(layer.metadata)
    data = list(layer.data) if layer.multiscale else layer.data
    shape = tuple(data[0].shape if layer.multiscale else data.shape)
    axis = len(shape) - 1 if layer.rgb else channel_axis
    planes, region = plane_axes(len(shape), axis), None
    if point is not None and planes and not layer.multiscale:
        position = layer.world_to_data(point)
        region = tuple(
            slice(i, i + 1) if a in planes else slice(None)
            for a, i in enumerate(np.clip(np.rint(position).astype(int), 0, np.asarray(shape) - 1))
        )
        data = data[region]
    return Snapshot(layer.name, data, layer.rgb, layer.multiscale, axis, shape, region, settings)


def _compatible(layer, snapshot, data):
    """Whether ``layer`` can take ``data`` in place (napari cannot change these after creation)."""
    ndim = (np.ndim(data[0]) if snapshot.multiscale else np.ndim(data)) - snapshot.rgb
    return (
        isinstance(layer, Image)
        and layer.rgb == snapshot.rgb
        and layer.multiscale == snapshot.multiscale
        and layer.ndim == ndim
    )


def _display(layer):
    """The layer's :data:`DISPLAY` settings in comparable form."""
    values = {key: getattr(layer, key) for key in DISPLAY}
    values["colormap"] = layer.colormap.name
    values["contrast_limits"] = tuple(float(v) for v in layer.contrast_limits)
    return values


def _same(old, new):
    """Whether setting ``new`` would change nothing (each napari setter redraws the layer)."""
    old, new = (getattr(v, "name", v) for v in (old, new))  # colormaps by name
    try:
        return bool(np.array_equal(np.asarray(old, dtype=object), np.asarray(new, dtype=object)))
    except (TypeError, ValueError):
        return old == new


def _apply(layer, settings):
    """Set ``settings`` on ``layer``, except display settings the user changed since the last run."""
    applied, current = _applied.get(layer), _display(layer)
    for key, value in settings.items():
        if key in DISPLAY and applied is not None and current[key] != applied[key]:
            continue  # changed by the user on the output layer: theirs to keep
        if not _same(getattr(layer, key), value):
            setattr(layer, key, value)
    _applied[layer] = _display(layer)


def _holds_plane_writes(layer, snapshot):
    """Whether ``layer``'s data can take a plane in place: an in-memory array of the input's shape and dtype."""
    data = layer.data
    return isinstance(data, np.ndarray) and data.shape == snapshot.shape and data.dtype == snapshot.data.dtype


def show_result(viewer, snapshot, data):
    """Put ``data`` into the output layer of ``snapshot``, creating or updating it.

    A plane (``snapshot.region``) is written into the output of the input's
    full shape, leaving the other planes as they were (zeros in a new
    output). An output that cannot take it (another shape) is kept, renamed
    ``... (previous)``, and a new one is made.

    Parameters
    ----------
    viewer : napari.Viewer
    snapshot : Snapshot
        The input the data was restored from.
    data : array-like or list of array-like
        The restored data (levels for multiscale).

    Returns
    -------
    napari.layers.Image
        The output layer.
    """
    name = output_name(snapshot.name)
    existing = next((layer for layer in viewer.layers if layer.name == name), None)
    if snapshot.region is not None:
        if existing is not None and _holds_plane_writes(existing, snapshot) and _compatible(existing, snapshot, data):
            existing.data[snapshot.region] = data
            _apply(existing, snapshot.settings)
            existing.refresh()
            return existing
        full = np.zeros(snapshot.shape, data.dtype)
        full[snapshot.region] = data
        data = full
        if existing is not None:
            existing.name = f"{name} (previous)"
            show_info(f"dci-cnn: kept the earlier output as {existing.name!r}; the plane went into a new {name!r}")
            existing = None
    if existing is not None and _compatible(existing, snapshot, data):
        existing.data = data  # redraws it
        _apply(existing, snapshot.settings)
        return existing
    layer = Image(data, name=name, rgb=snapshot.rgb, multiscale=snapshot.multiscale, **snapshot.settings)
    _applied[layer] = _display(layer)
    if existing is None:
        viewer.layers.append(layer)
    else:
        viewer.layers[viewer.layers.index(existing)] = layer
    return layer
