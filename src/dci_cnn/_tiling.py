"""Tiles: run a network over planes of any size in bounded memory, identical to one pass.

A plane is padded (bottom/right, mirror) to the architecture's size
multiple and covered by windows of one shape, at most ``tile_size + 2 *
model.halo`` per side, that overlap by twice the halo (the receptive
field); from each window only the core whose pixels see a full halo (or the
plane's edge) is kept. Equal windows let every tile reuse the previous
tile's memory. Cores and windows start on multiples of the size multiple,
so down-sampling grids line up and the tiled result equals the untiled
one. Only the windows touching the bottom or right edge are padded, so no
copy of a whole plane is ever made.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ._heap import reuse_freed_buffers

__all__ = ["restore_planes", "tile_plan"]


def tile_plan(height, width, tile_size, multiple, halo):
    """Cores of a tiling and the windows the network sees for them.

    Along each axis, a plane longer than ``tile_size + 2 * halo`` is covered
    by windows of one size, at most that long, overlapping by ``2 * halo``;
    each window keeps the core whose pixels have ``halo`` pixels of context
    in it on both sides, or the plane's own edge. Equal windows let every
    tile reuse the previous tile's buffers instead of growing the heap, and
    the edge windows, which need a halo on one side only, keep wider cores.

    Parameters
    ----------
    height, width : int
        Padded plane size (multiples of ``multiple``).
    tile_size : int or None
        Largest interior core side; windows are at most ``tile_size + 2 *
        halo``. None: one tile.
    multiple : int
        The architecture's size multiple.
    halo : int
        Receptive-field radius (a multiple of ``multiple``).

    Returns
    -------
    list of ((int, int, int, int), (int, int, int, int))
        ``((y0, y1, x0, x1), (wy0, wy1, wx0, wx1))`` per tile: core, window.
    """
    if tile_size is None:
        return [((0, height, 0, width), (0, height, 0, width))]
    tile = max(multiple, tile_size // multiple * multiple)

    def spans(n):
        if n <= tile + 2 * halo:
            return [(0, n, 0, n)]
        count = -(-(n - 2 * halo) // tile)
        step = -(-(n - 2 * halo) // (count * multiple)) * multiple
        window = step + 2 * halo
        return [
            (0 if i == 0 else i * step + halo, n if i == count - 1 else (i + 1) * step + halo, start, start + window)
            for i in range(count)
            for start in [min(i * step, n - window)]
        ]

    return [
        ((y0, y1, x0, x1), (wy0, wy1, wx0, wx1))
        for y0, y1, wy0, wy1 in spans(height)
        for x0, x1, wx0, wx1 in spans(width)
    ]


def _padded(n, multiple):
    return math.ceil(n / multiple) * multiple


def _forward(module, batch, self_ensemble):
    """The network's float32 output, or its mean over the 8 flips and rotations of ``batch``."""
    if not self_ensemble:
        return module(batch).float()
    total = None
    for turns in range(4):
        for flip in (False, True):
            x = torch.rot90(batch, turns, (2, 3))
            y = module((x.flip(3) if flip else x).contiguous(memory_format=torch.channels_last)).float()
            y = torch.rot90(y.flip(3) if flip else y, -turns, (2, 3))
            total = y if total is None else total.add_(y)
    return total / 8


def restore_planes(
    pairs, module, model, *, device, dtype=None, tile_size=None, to_unit, from_unit, progress=None, self_ensemble=False
):
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
    self_ensemble : bool
        Average the network's outputs over the 8 flips and rotations of
        each window (8 times the work). Windows are multiples of the size
        multiple on the padded plane, so the tiled result still equals the
        untiled one.
    """
    if not pairs:
        return
    h, w = pairs[0][0].shape[:2]
    m = model.spec.size_multiple
    ph, pw = _padded(h, m), _padded(w, m)
    plan = tile_plan(ph, pw, tile_size, m, model.halo)
    total, done = len(pairs) * len(plan), 0
    with torch.inference_mode(), reuse_freed_buffers():
        for source, target in pairs:
            for (y0, y1, x0, x1), (ty0, ty1, tx0, tx1) in plan:
                tile = to_unit(np.asarray(source[ty0 : min(ty1, h), tx0 : min(tx1, w)], dtype=np.float32))
                if ty1 > h or tx1 > w:
                    tile = np.pad(tile, ((0, max(0, ty1 - h)), (0, max(0, tx1 - w)), (0, 0)), mode="symmetric")
                # an (H, W, C) array seen as (1, C, H, W) is already channels_last: no transposing copy
                batch = torch.from_numpy(np.ascontiguousarray(tile)).permute(2, 0, 1)[None]
                batch = batch.to(device, memory_format=torch.channels_last)
                with torch.autocast(device.type, dtype=dtype or torch.bfloat16, enabled=dtype is not None):
                    result = _forward(module, batch, self_ensemble)
                cy1, cx1 = min(y1, h), min(x1, w)
                result = result[0, :, y0 - ty0 : cy1 - ty0, x0 - tx0 : cx1 - tx0].clamp_(0, 1)
                target[y0:cy1, x0:cx1] = from_unit(result.permute(1, 2, 0).cpu().numpy())
                done += 1
                if progress is not None:
                    progress(done, total)
