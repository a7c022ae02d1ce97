"""Tiles and strips: run a network over planes of any size in bounded memory, as one pass would.

A plane is padded (bottom/right, mirror) to the architecture's size
multiple. Networks that stream (:mod:`dci_cnn._streaming`) run down it in
horizontal strips of about ``tile_size ** 2 / 2`` pixels, each activation
computed once; planes wider than ``4 * tile_size`` are cut into vertical
bands that overlap by twice the halo (the receptive field). Other networks,
the geometric self-ensemble, and every network when the environment
variable ``DCI_CNN_STREAMING`` is ``0``, see windows of one shape, at most
``tile_size + 2 * model.halo`` per side, overlapping by twice the halo,
from each of which only the core whose pixels see a full halo (or the
plane's edge) is kept. Equal windows and strips let every step reuse the
previous one's memory. Cores and windows start on multiples of the size
multiple, so down-sampling grids line up and the result equals the one of
a single pass. Only the regions touching the bottom or right edge are
padded, so no copy of a whole plane is ever made.
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from ._heap import reuse_freed_buffers
from ._streaming import row_stepper

__all__ = ["axis_spans", "restore_planes", "tile_plan"]

#: Streamed bands are at most this many tiles wide (not counting their overlap).
BAND_TILES = 4

#: Streamed strips hold this many tiles' pixels: a strip costs about twice a window's memory per
#: pixel (each convolution copies its input rows, and strips of unequal length fragment the heap).
STRIP_TILES = 0.5


def axis_spans(n, tile, multiple, halo):
    """Cores along one axis and the windows the network sees for them.

    Parameters
    ----------
    n : int
        Padded length (a multiple of ``multiple``).
    tile : int
        Largest interior core length (a multiple of ``multiple``).
    multiple, halo : int
        The architecture's size multiple and receptive-field radius.

    Returns
    -------
    list of (int, int, int, int)
        ``(core start, core stop, window start, window stop)``: one span if
        ``n <= tile + 2 * halo``, else windows of one length, at most that,
        overlapping by ``2 * halo``.
    """
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
    return [
        ((y0, y1, x0, x1), (wy0, wy1, wx0, wx1))
        for y0, y1, wy0, wy1 in axis_spans(height, tile, multiple, halo)
        for x0, x1, wx0, wx1 in axis_spans(width, tile, multiple, halo)
    ]


def _streams(module):
    """Whether ``module`` runs in strips: it has a streaming form, and ``DCI_CNN_STREAMING`` is not ``0``."""
    return os.environ.get("DCI_CNN_STREAMING", "1") != "0" and row_stepper(module) is not None


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


@dataclass(frozen=True)
class _Run:
    """How windows go into the network and results into the target."""

    device: torch.device
    dtype: torch.dtype | None
    to_unit: Callable
    from_unit: Callable

    def batch(self, source, rows, cols):
        """The window ``rows`` x ``cols`` of the padded plane as a (1, C, H, W) channels_last batch in [0, 1]."""
        (y0, y1), (x0, x1) = rows, cols
        h, w = source.shape[:2]
        # the mirror padding below/right of the plane reflects rows and columns that may lie before the window
        ry0, rx0 = min(y0, max(0, 2 * h - y1)), min(x0, max(0, 2 * w - x1))
        tile = self.to_unit(np.asarray(source[ry0 : min(y1, h), rx0 : min(x1, w)], dtype=np.float32))
        if y1 > h or x1 > w:
            tile = np.pad(tile, ((0, max(0, y1 - h)), (0, max(0, x1 - w)), (0, 0)), mode="symmetric")
        tile = tile[y0 - ry0 :, x0 - rx0 :]
        # an (H, W, C) array seen as (1, C, H, W) is already channels_last: no transposing copy;
        # a view of a read-only image is copied (torch takes only writable memory)
        batch = torch.from_numpy(np.require(tile, requirements="CW")).permute(2, 0, 1)[None]
        return batch.to(self.device, memory_format=torch.channels_last)

    def autocast(self):
        return torch.autocast(self.device.type, dtype=self.dtype or torch.bfloat16, enabled=self.dtype is not None)

    def store(self, target, result, rows, cols, origin):
        """Write the part of ``result`` (1, C, h, w; top-left at ``origin``) inside ``rows`` x ``cols``."""
        h, w = target.shape[:2]
        (y0, y1), (x0, x1), (oy, ox) = rows, cols, origin
        y1, x1 = min(y1, h), min(x1, w)
        if y1 > y0:
            part = result[0, :, y0 - oy : y1 - oy, x0 - ox : x1 - ox].clamp_(0, 1)
            target[y0:y1, x0:x1] = self.from_unit(part.permute(1, 2, 0).cpu().numpy())


def _tiles(run, source, target, module, plan, self_ensemble):
    """Restore a plane window by window; yields after each."""
    for (y0, y1, x0, x1), (wy0, wy1, wx0, wx1) in plan:
        with run.autocast():
            result = _forward(module, run.batch(source, (wy0, wy1), (wx0, wx1)), self_ensemble)
        run.store(target, result, (y0, y1), (x0, x1), (wy0, wx0))
        yield


def _strips(run, source, target, module, plan, height):
    """Restore a plane band by band, each streamed down in strips; yields after each strip."""
    for (x0, x1, wx0, wx1), (y0, y1) in plan:
        if y0 == 0:
            step, written = row_stepper(module), 0
        with run.autocast():
            result = step(run.batch(source, (y0, y1), (wx0, wx1)), y1 == height).float()
        run.store(target, result, (written, written + result.shape[2]), (x0, x1), (written, wx0))
        written += result.shape[2]
        yield


def restore_planes(
    pairs, module, model, *, device, dtype=None, tile_size=None, to_unit, from_unit, progress=None, self_ensemble=False
):
    """Run ``module`` over planes, strip by strip or tile by tile, writing into preallocated outputs.

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
        The unit of memory: streamed strips hold about ``tile_size ** 2 / 2``
        pixels in bands at most ``4 * tile_size`` wide; windows are at most
        ``tile_size + 2 * halo`` square. None: each plane in one pass.
    to_unit, from_unit : callable
        Map a float32 tile from the source's values to [0, 1], and the
        network's clipped [0, 1] output back to the target's values.
    progress : callable, optional
        Called as ``progress(done, total)`` after every strip or tile; it
        may raise to cancel.
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
    run = _Run(device, dtype, to_unit, from_unit)
    if tile_size is not None and not self_ensemble and _streams(module):
        tile = max(m, tile_size // m * m)
        bands = axis_spans(pw, BAND_TILES * tile, m, model.halo)
        rows = max(m, int(STRIP_TILES * tile * tile) // (bands[0][3] - bands[0][2]) // m * m)
        plan = [(band, (y0, min(ph, y0 + rows))) for band in bands for y0 in range(0, ph, rows)]
        planes = [_strips(run, source, target, module, plan, ph) for source, target in pairs]
    else:
        plan = tile_plan(ph, pw, tile_size, m, model.halo)
        planes = [_tiles(run, source, target, module, plan, self_ensemble) for source, target in pairs]
    total = len(pairs) * len(plan)
    with torch.inference_mode(), reuse_freed_buffers():
        for done, _ in enumerate(itertools.chain.from_iterable(planes), 1):
            if progress is not None:
                progress(done, total)
