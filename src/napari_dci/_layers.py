"""Input snapshots and output layers: what a job reads from the viewer and what it writes back.

A :class:`Snapshot` is taken when a job starts, so switching or editing
layers during the run cannot mix results. The output layer is named
``<name> [deblurred]``, carries the input's spatial metadata and display
settings, and is updated in place by re-runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from napari.layers import Image
from napari.utils.transforms import Affine

__all__ = ["KEPT", "Snapshot", "capture", "leading_axes", "output_name", "show_result"]

#: Layer attributes copied from the input to the output layer.
KEPT = (
    "scale",
    "translate",
    "rotate",
    "shear",
    "affine",
    "units",
    "axis_labels",
    "colormap",
    "contrast_limits",
    "gamma",
    "blending",
    "opacity",
    "interpolation2d",
    "interpolation3d",
    "rendering",
    "metadata",
)


@dataclass(frozen=True)
class Snapshot:
    """An Image layer's data and settings, frozen when a job starts.

    Attributes
    ----------
    name : str
        Name of the input layer.
    data : array-like or list of array-like
        The data to restore (one plane of it for "current plane only"); a
        list of levels for multiscale layers.
    rgb, multiscale : bool
        As on the layer.
    settings : dict
        The :data:`KEPT` attributes for the output layer.
    """

    name: str
    data: object
    rgb: bool
    multiscale: bool
    settings: dict = field(repr=False)


def leading_axes(layer):
    """Number of axes before the image plane (Z, T, bands), not counting RGB channels."""
    return layer.ndim - 2


def output_name(name):
    """Name of the output layer of the input layer ``name``."""
    return f"{name} [deblurred]"


def _check(layer):
    if not isinstance(layer, Image):
        raise TypeError(
            f"{layer.name!r} is a {type(layer).__name__} layer; dci-cnn restores Image layers (intensities)"
        )


def capture(layer, point=None):
    """Snapshot ``layer`` for a job.

    Parameters
    ----------
    layer : napari.layers.Layer
        The input; must be an Image layer.
    point : sequence of float, optional
        World position of the viewer (``viewer.dims.point``); when given, only
        the plane through it is captured, as a stack of one plane placed
        where it sits in the input. Ignored for multiscale layers.

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
    lead = leading_axes(layer)
    if point is not None and lead and not layer.multiscale:
        position = layer.world_to_data(point)[:lead]
        index = np.clip(np.rint(position).astype(int), 0, np.asarray(data.shape[:lead]) - 1)
        data = data[tuple(slice(i, i + 1) for i in index)]
        offset = np.zeros(layer.ndim)
        offset[:lead] = index
        linear = Affine(scale=layer.scale, rotate=layer.rotate, shear=layer.shear)
        settings["translate"] = np.asarray(layer.translate) + linear(offset)
    return Snapshot(layer.name, data, layer.rgb, layer.multiscale, settings)


def _compatible(layer, snapshot, data):
    """Whether ``layer`` can take ``data`` in place (napari cannot change these after creation)."""
    ndim = (np.ndim(data[0]) if snapshot.multiscale else np.ndim(data)) - snapshot.rgb
    return (
        isinstance(layer, Image)
        and layer.rgb == snapshot.rgb
        and layer.multiscale == snapshot.multiscale
        and layer.ndim == ndim
    )


def show_result(viewer, snapshot, data):
    """Put ``data`` into the output layer of ``snapshot``, creating or updating it.

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
    if existing is not None and _compatible(existing, snapshot, data):
        existing.data = data
        for key, value in snapshot.settings.items():
            setattr(existing, key, value)
        existing.refresh()
        return existing
    layer = Image(data, name=name, rgb=snapshot.rgb, multiscale=snapshot.multiscale, **snapshot.settings)
    if existing is None:
        viewer.layers.append(layer)
    else:
        viewer.layers[viewer.layers.index(existing)] = layer
    return layer
