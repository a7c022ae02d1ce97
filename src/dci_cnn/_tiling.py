"""Tiles: run a network over planes of any size in bounded memory, identical to one pass.

A plane is padded (bottom/right, mirror) to the architecture's size
multiple and cut into cores of ``tile_size`` pixels; each core is run with a
halo of ``model.halo`` pixels of real neighbouring image around it (the
receptive field), and only the core of the output is kept. Cores and halos
are multiples of the size multiple, so down-sampling grids line up and the
tiled result equals the untiled one. Only the tiles touching the bottom or
right edge are padded, so no copy of a whole plane is ever made.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ._heap import reuse_freed_buffers

__all__ = ["tile_plan", "restore_planes"]


def tile_plan(height, width, tile_size, multiple):
    """Cores of a tiling as ``(y0, y1, x0, x1)`` tuples over a padded plane.

    Parameters
    ----------
    height, width : int
        Padded plane size (multiples of ``multiple``).
    tile_size : int or None
        Core side; rounded down to a multiple of ``multiple``. None: one tile.
    multiple : int
        The architecture's size multiple.
    """
    if tile_size is None or (height <= tile_size and width <= tile_size):
        return [(0, height, 0, width)]
    step = max(multiple, tile_size // multiple * multiple)
    return [
        (y, min(y + step, height), x, min(x + step, width))
        for y in range(0, height, step)
        for x in range(0, width, step)
    ]


def _padded(n, multiple):
    return math.ceil(n / multiple) * multiple


def restore_planes(pairs, module, model, *, device, dtype=None, tile_size=None, to_unit, from_unit, progress=None):
    """Run ``module`` over planes, tile by tile, writing into preallocated outputs.

    Parameters
    ----------
    pairs : list of (ndarray, ndarray)
        ``(source, target)`` views of shape ``(H, W, C)``, all the same size;
        ``C`` is the network's channel count. Sources may be any real dtype;
        targets any float dtype.
    module : torch.nn.Module
        Network in eval mode on ``device``.
    model : LoadedModel
        Gives the network's size multiple and halo.
    device : torch.device
    dtype : torch.dtype or None
        Autocast precision; None runs float32.
    tile_size : int or None
        Core side of the tiles; None runs each plane in one pass.
    to_unit, from_unit : callable
        Map a float32 tile from the source's values to [0, 1], and the
        network's clipped [0, 1] output back to the target's values.
    progress : callable, optional
        Called as ``progress(done, total)`` after every tile; it may raise
        to cancel.
    """
    if not pairs:
        return
    h, w = pairs[0][0].shape[:2]
    m, halo = model.spec.size_multiple, model.halo
    ph, pw = _padded(h, m), _padded(w, m)
    plan = tile_plan(ph, pw, tile_size, m)
    total, done = len(pairs) * len(plan), 0
    with torch.inference_mode(), reuse_freed_buffers():
        for source, target in pairs:
            for y0, y1, x0, x1 in plan:
                ty0, tx0 = max(0, y0 - halo), max(0, x0 - halo)
                ty1, tx1 = min(ph, y1 + halo), min(pw, x1 + halo)
                tile = to_unit(np.asarray(source[ty0 : min(ty1, h), tx0 : min(tx1, w)], dtype=np.float32))
                if ty1 > h or tx1 > w:
                    tile = np.pad(tile, ((0, max(0, ty1 - h)), (0, max(0, tx1 - w)), (0, 0)), mode="symmetric")
                # an (H, W, C) array seen as (1, C, H, W) is already channels_last: no transposing copy
                batch = torch.from_numpy(np.ascontiguousarray(tile)).permute(2, 0, 1)[None]
                batch = batch.to(device, memory_format=torch.channels_last)
                with torch.autocast(device.type, dtype=dtype or torch.bfloat16, enabled=dtype is not None):
                    result = module(batch)
                cy1, cx1 = min(y1, h), min(x1, w)
                result = result[0, :, y0 - ty0 : cy1 - ty0, x0 - tx0 : cx1 - tx0].float().clamp_(0, 1)
                target[y0:cy1, x0:cx1] = from_unit(result.permute(1, 2, 0).cpu().numpy())
                done += 1
                if progress is not None:
                    progress(done, total)
