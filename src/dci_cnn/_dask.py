"""Lazy restoration of dask arrays: ``map_overlap`` with the receptive field as depth.

Spatial chunks are aligned to the network's size multiple and overlap by
its halo, so each chunk sees what one untiled pass would and the result
equals the in-memory one. Blocks name the model, not the network, so each
worker process loads the weights once (they are cached there).
"""

from __future__ import annotations

import numpy as np
from skimage._shared.utils import _supported_float_type

__all__ = ["deblur_dask"]


def _aligned(chunks, multiple):
    """Re-chunk one axis so every chunk but the last is a multiple of ``multiple``."""
    size, target = sum(chunks), max(multiple, max(chunks) // multiple * multiple)
    full = [target] * (size // target)
    return tuple(full + ([size - sum(full)] if size - sum(full) else []))


def deblur_dask(image, *, model, channel_axis, device, tile_size, preserve_range, self_ensemble=False, quality=None):
    """:func:`dci_cnn.deblur` for a dask array; returns a lazy dask array."""
    import dask.array as da

    from ._deblur import _check_finite, _check_image, _value_mapping, deblur_array, describe

    _check_image(image)
    layout = describe(image.shape, channel_axis, model, quality)
    value_range = None
    if image.dtype.kind == "f" or preserve_range or image.dtype.kind == "i":
        lo, hi = da.compute(image.min(), image.max())
        value_range = (float(lo), float(hi))
        _check_finite(image, value_range)
        _value_mapping(image, preserve_range, value_range)
    spatial = [a for a in range(image.ndim) if a != layout.channel_axis][-2:]
    spec = layout.model.spec
    chunks = list(image.chunks)
    for a in spatial:
        chunks[a] = _aligned(chunks[a], spec.size_multiple)
    if layout.channel_axis is not None:
        chunks[layout.channel_axis] = (image.shape[layout.channel_axis],)
    image = image.rechunk(tuple(chunks))
    # a halo beyond the array is all the neighbours there are (dask rejects depth > size)
    depth = {a: (min(layout.model.halo, image.shape[a]) if a in spatial else 0) for a in range(image.ndim)}
    out_dtype = _supported_float_type(image.dtype)
    weights, axis = layout.model.path, layout.channel_axis

    options = {"device": device, "tile_size": tile_size, "preserve_range": preserve_range, "self_ensemble": self_ensemble}

    def block(x):
        return deblur_array(x, describe(x.shape, axis, weights, quality), progress=False, value_range=value_range, **options)

    return da.map_overlap(
        block, image, depth=depth, boundary="none", trim=True, dtype=out_dtype, meta=np.empty((0,) * image.ndim, out_dtype)
    )
