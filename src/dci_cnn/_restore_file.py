"""``restore_file``: one image file in, its restoration out, whole.

read (every page, frame and series; EXIF orientation applied; metadata) ->
deblur (colour model for RGB(A), gray model for gray, bands and gray+alpha;
alpha and GDAL no-data pixels kept) -> the input's dtype -> written
atomically, as PNG or TIFF with the input's metadata. A TIFF series (a
page, or a stack of pages) of more than :data:`LARGE_PIXELS` pixels is
restored chunk by chunk from disk (tifffile's zarr store -> dask ->
:func:`dci_cnn.deblur`) into a tiled TIFF (BigTIFF where needed), one tile
in memory at a time.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import tifffile
from PIL import Image, ImageSequence, UnidentifiedImageError

from ._deblur import deblur
from ._files import atomic_write
from ._quality import quality_for_file
from ._tiff_metadata import nodata, series_options
from .imageio import (
    TIFF_SUFFIXES,
    orientation_of,
    pillow_array,
    png_bytes,
    png_metadata_chunks,
    png_profile_chunks,
    upright,
)

__all__ = ["LARGE_PIXELS", "output_suffix", "restore_file", "restored_like"]

#: TIFF series (all their pages) with more pixels are restored chunk by chunk from disk.
LARGE_PIXELS = 64_000_000
#: Side of the chunks (and output tiles) of large series; a multiple of 16 as TIFF tiles must be.
CHUNK = 1024
#: Outputs with more pixel bytes are BigTIFF (classic TIFF offsets end at 4 GiB; the margin is for tags).
BIGTIFF_BYTES = 2**32 - 2**27


@dataclass
class _Series:
    """Pixels as the file stores them (ndarray, or dask for large pages) and how they map onto the networks."""

    data: object
    page_shape: tuple  # one page: (rows, columns), (rows, columns, samples) or planar (samples, rows, columns)
    pages: int
    options: dict  # TiffWriter.write keywords for the whole series
    samples: int | None = None  # axis of the samples (colour channels or bands) in data
    rgb: bool = False  # samples are RGB or RGBA: the colour model
    alpha: bool = False  # the last sample is alpha: kept as it is
    nodata: float | None = None  # pixels of this value (NaN allowed) stay as they are


@dataclass
class _Content:
    series: list
    png_chunks: list = field(default_factory=list)  # ancillary PNG chunks for a PNG output


def output_suffix(source, format=None):
    """The output suffix for ``source``: ``".tif"`` for TIFF inputs and multi-frame images, else ``".png"``.

    TIFF stays TIFF (pages, any dtype and its tags); a GIF, WebP or APNG
    with several frames becomes a multi-page TIFF; other images become PNG
    (8 or 16 bit). ``format`` ("png" or "tif") overrides the choice.
    """
    if format:
        return "." + format.lower().lstrip(".")
    source = Path(source)
    if source.suffix.lower() in TIFF_SUFFIXES:
        return ".tif"
    try:
        with Image.open(source) as im:
            return ".tif" if getattr(im, "n_frames", 1) > 1 else ".png"
    except (UnidentifiedImageError, OSError):
        return ".png"  # reading it will say what is wrong


def restored_like(restored, dtype, preserve_range):
    """Cast a restoration (NumPy or dask) back to the input's ``dtype``.

    Integers come back as the input stored them (``img_as_ubyte``-style
    rounding of [0, 1] to the type's range, or the values themselves with
    ``preserve_range``); floats keep their precision.
    """
    dtype = np.dtype(dtype)
    if dtype.kind in "ui":
        info = np.iinfo(dtype)
        scaled = restored if preserve_range else restored * float(info.max)
        return np.clip(np.rint(scaled), info.min, info.max).astype(dtype)
    return restored.astype(dtype)


def restore_file(source, target, *, overwrite=False, channel_axis="auto", **deblur_options):
    """Restore the image file ``source`` into ``target`` (``.png`` or ``.tif``), keeping what the file holds.

    Parameters
    ----------
    source, target : path-like
    overwrite : bool
        Replace an existing ``target``.
    channel_axis : "auto", int or None
        "auto": from the file (RGB/RGBA through the colour model; gray,
        gray+alpha and bands through the gray model, alpha kept). An int or
        None is passed to :func:`dci_cnn.deblur` for every page as it is.
    **deblur_options
        ``model``, ``device``, ``tile_size``, ``preserve_range``,
        ``self_ensemble``, ``quality`` for :func:`dci_cnn.deblur`;
        ``quality="auto"`` tells a model with a quality adapter a JPEG
        file's own quality (read from its tables), else estimates it.

    Raises
    ------
    ValueError
        If ``source`` cannot be read, or ``target``'s format cannot hold it
        (checked before any restoring).
    FileExistsError
        If ``target`` exists and ``overwrite`` is False.
    """
    source, target = Path(source), Path(target)
    suffix = target.suffix.lower()
    if suffix not in TIFF_SUFFIXES | {".png"}:
        raise ValueError(f"can write .png or .tif/.tiff, not {target.suffix!r} ({target})")
    if target.exists() and not overwrite:
        raise FileExistsError(f"{target} exists; pass overwrite to replace it")
    preserve_range = deblur_options.get("preserve_range", False)
    with contextlib.ExitStack() as stack:
        content = _read(source, stack)
        if suffix == ".png":
            _check_png(content, source)
        restored = [_restore(s, channel_axis, preserve_range, deblur_options, source) for s in content.series]
        writer = _write_png if suffix == ".png" else _write_tiff
        atomic_write(target, lambda tmp: writer(tmp, content, restored), overwrite=overwrite)


# reading -----------------------------------------------------------------------------------------------


def _read(path, stack):
    try:
        if path.suffix.lower() in TIFF_SUFFIXES:
            return _read_tiff(stack.enter_context(tifffile.TiffFile(path)), path)
        return _read_pillow(path)
    except (UnidentifiedImageError, OSError, tifffile.TiffFileError, SyntaxError, EOFError) as exc:
        raise ValueError(f"cannot read {path} as an image: {exc}") from None


def _read_pillow(path):
    with Image.open(path) as im:
        orientation = orientation_of(im)
        frames = [upright(pillow_array(frame, path), orientation) for frame in ImageSequence.Iterator(im)]
        chunks = png_metadata_chunks(im, path)
        icc, dpi = im.info.get("icc_profile"), im.info.get("dpi")
    if {f.ndim for f in frames} == {3} and {f.shape[2] for f in frames} == {3, 4}:  # GIF: some frames with alpha
        frames = [f if f.shape[2] == 4 else np.dstack([f, np.full(f.shape[:2], 255, f.dtype)]) for f in frames]
    if len({(f.shape, f.dtype) for f in frames}) > 1:
        raise ValueError(f"the frames of {path} differ in size or mode; save them as separate images")
    first = frames[0]
    channels = first.shape[2] if first.ndim == 3 else 1
    page = {"photometric": "rgb" if channels >= 3 else "minisblack", "extrasamples": [2] if channels in (2, 4) else None,
            "iccprofile": icc, "metadata": None}
    if dpi:
        page.update(resolution=tuple(float(d) for d in dpi), resolutionunit="inch")
    data = np.stack(frames) if len(frames) > 1 else first
    series = _Series(data, first.shape, len(frames), page, samples=data.ndim - 1 if channels > 1 else None,
                     rgb=channels >= 3, alpha=channels in (2, 4))
    return _Content([series], chunks)


def _read_tiff(tif, path):
    content = _Content([])
    for series in tif.series:
        key = series.keyframe
        if key.photometric == 3:
            raise ValueError(f"{path} is a palette TIFF (its values are colour indices); convert it to RGB first")
        if key.bitspersample == 1:
            raise ValueError(f"{path} is a 1-bit TIFF; there is nothing between black and white to restore")
        axes = series.get_axes(False)
        samples = axes.index("S") if "S" in axes else None
        rgb = key.photometric in (2, 6) and key.samplesperpixel in (3, 4)
        alpha = not rgb and key.samplesperpixel > 1 and key.extrasamples[-1:] in ((1,), (2,))
        npages = int(np.prod(series.get_shape(False))) // int(np.prod(key.shape))
        if npages * key.imagelength * key.imagewidth > LARGE_PIXELS:
            try:
                import dask.array as da
                import zarr
            except ImportError:
                raise ValueError(
                    f"{path} holds more than {LARGE_PIXELS / 1e6:g} MP, restored chunk by chunk with dask and zarr: "
                    "pip install 'dci-cnn[dask]'"
                ) from None
            stored = da.from_zarr(zarr.open(series.aszarr(level=0, squeeze=False), mode="r"))
            data = stored.rechunk(tuple(CHUNK if a in "YX" else (-1 if a == "S" else 1) for a in axes))
        else:
            data = series.asarray(level=0, squeeze=False)
        options = series_options(tif, [tif.pages.get(p.index, aspage=True) for p in series.pages if p is not None])
        content.series.append(_Series(data, key.shape, npages, options, samples, rgb, alpha, nodata(key)))
    if content.series:
        content.png_chunks = _png_chunks_of_tiff(content.series[0].options)
    return content


def _png_chunks_of_tiff(options):
    """ICC profile and DPI of a TIFF page as PNG chunks (for a PNG output asked for)."""
    resolution, unit = options.get("resolution"), options.get("resolutionunit")
    dpi = [n / d * (2.54 if unit == 3 else 1) for n, d in resolution] if resolution and unit in (2, 3) else None
    return png_profile_chunks(options.get("iccprofile"), dpi)


# restoring ---------------------------------------------------------------------------------------------


def _xp(data):
    if type(data).__module__.startswith("dask"):
        import dask.array as da

        return da
    return np


def _restore(series, channel_axis, preserve_range, options, source):
    """The restoration of one series, in its dtype and layout."""
    data, xp = series.data, _xp(series.data)

    def restore(pixels, channel_axis):
        quality = quality_for_file(options.get("quality"), source, pixels, options.get("model"), channel_axis)
        return deblur(pixels, channel_axis=channel_axis, **{**options, "quality": quality})

    mask = None
    if series.nodata is not None:
        mask = xp.isnan(data) if np.isnan(series.nodata) else data == series.nodata
        valid = ~mask
        count = valid.sum()
        total = xp.where(valid, data, 0).sum(dtype=np.float64)
        if xp is not np:
            import dask

            count, total = dask.compute(count, total)
        # no-data pixels are filled with the mean for the network (so they pull nothing to an extreme) and put back after
        data = xp.where(mask, np.asarray(total / count if count else 0).astype(data.dtype), data)
    if channel_axis != "auto":
        restored = restored_like(restore(data, channel_axis=channel_axis), data.dtype, preserve_range)
    elif series.rgb:
        restored = restored_like(restore(data, channel_axis=series.samples), data.dtype, preserve_range)
    elif series.samples is None:
        restored = restored_like(restore(data, channel_axis=None), data.dtype, preserve_range)
    else:  # bands (and gray+alpha): each band a gray plane, alpha as it was
        bands = xp.moveaxis(data, series.samples, 0)
        color = bands[:-1] if series.alpha else bands
        restored = restored_like(restore(color, channel_axis=None), data.dtype, preserve_range)
        if series.alpha:
            restored = xp.concatenate([restored, bands[-1:]], axis=0)
        restored = xp.moveaxis(restored, 0, series.samples)
    if mask is not None:
        restored = xp.where(mask, series.data, restored)
    return restored


# writing -----------------------------------------------------------------------------------------------


def _check_png(content, source):
    """A PNG holds one 8/16-bit gray, gray+alpha, RGB or RGBA image: say so before any work."""
    series = content.series[0]
    if len(content.series) > 1 or series.pages > 1:
        raise ValueError(f"{source} holds several pages or frames; a PNG holds one: write a .tif")
    if series.data.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"{source} is {series.data.dtype}; a PNG holds uint8 or uint16: write a .tif")
    shape = series.page_shape
    if not (len(shape) == 2 or (len(shape) == 3 and series.samples is not None and shape[2] <= 4)):
        raise ValueError(f"{source} has pages of shape {shape}; a PNG holds gray, gray+alpha, RGB or RGBA: write a .tif")


def _write_png(tmp, content, restored):
    Path(tmp).write_bytes(png_bytes(np.asarray(restored[0]).reshape(content.series[0].page_shape), content.png_chunks))


def _tiles(pages, chunk):
    """The tiles of lazy pages ``(page, rows, columns[, samples])`` in TIFF order, each computed on its own."""
    for page in pages:
        for y in range(0, page.shape[0], chunk):
            for x in range(0, page.shape[1], chunk):
                yield np.asarray(page[y : y + chunk, x : x + chunk].compute(scheduler="synchronous"))


def _write_tiff(tmp, content, restored):
    nbytes = sum(r.size * r.dtype.itemsize for r in restored)
    with tifffile.TiffWriter(tmp, bigtiff=nbytes > BIGTIFF_BYTES, ome=False, imagej=False, shaped=False) as tif:
        for series, result in zip(content.series, restored, strict=True):
            pages, options = result.reshape((series.pages, *series.page_shape)), series.options
            if isinstance(pages, np.ndarray):
                tif.write(pages[0] if series.pages == 1 else pages, **options)
                continue
            if options.get("planarconfig") == 2:  # lazy planar pages are written contiguous, tile by tile
                pages, options = pages.transpose(0, 2, 3, 1), {**options, "planarconfig": 1}
            shape = pages.shape[1:] if series.pages == 1 else pages.shape
            tif.write(_tiles(pages, CHUNK), shape=shape, dtype=pages.dtype, **{**options, "tile": (CHUNK, CHUNK)})
