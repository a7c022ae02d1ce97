"""``deblur``: the one path every entry point takes from an array to its restoration.

validate -> describe the layout -> value mapping to [0, 1] (once, for the
whole image) -> planes (views, no copies) -> model per plane group -> tiles
-> back into a preallocated output of the input's layout.
"""

from __future__ import annotations

import functools
import math
import warnings
from dataclasses import dataclass

import numpy as np
import torch
from skimage._shared.utils import _supported_float_type
from tqdm.auto import tqdm

from ._quality import check_quality, estimate_for, with_quality
from ._tiling import restore_planes
from .devices import default_tile_size, fast_dtype, resolve_device
from .weights import LoadedModel, load_model, model_for

__all__ = ["Layout", "deblur", "describe"]


@dataclass(frozen=True)
class Layout:
    """How an image maps onto the network.

    Attributes
    ----------
    channel_axis : int or None
        Non-negative channel axis, or None for gray planes.
    channels : int
        Channels of the image (1 when ``channel_axis`` is None).
    model : LoadedModel
        The network that restores it.
    alpha : bool
        The fourth channel is alpha and is passed through untouched.
    """

    channel_axis: int | None
    channels: int
    model: LoadedModel
    alpha: bool

    @property
    def per_channel(self):
        """Channels go one by one through a gray network."""
        return self.channel_axis is not None and self.model.channels == 1


def _check_image(image):
    """Reject what cannot be an image, with the fix in the message."""
    dtype = image.dtype
    if dtype == bool:
        raise TypeError("image has dtype bool; convert it first, e.g. skimage.util.img_as_float(image)")
    if dtype.kind == "c":
        raise TypeError(f"image has complex dtype {dtype}; pass its magnitude (np.abs) or real part")
    if dtype.kind not in "uif":
        raise TypeError(f"image dtype {dtype} is not a real number type; convert it to uint8/uint16/float")
    if image.ndim < 2:
        raise ValueError(f"image must have at least 2 dimensions (rows, columns), got shape {image.shape}")
    if image.size == 0:
        raise ValueError(f"image is empty: shape {image.shape}")


def model_told_quality(model):
    """The model a JPEG quality goes to: the default family means ``"jpeg"`` (a quality says the image is a JPEG)."""
    return "jpeg" if model is None or model == "default" else model


def _model_for(model, channels, quality=None):
    if quality is not None:
        model = model_told_quality(model)
    model = model_for(model, channels)
    loaded = model if isinstance(model, LoadedModel) else load_model(model)
    return loaded if quality is None else with_quality(loaded, quality)


def describe(shape, channel_axis=None, model=None, quality=None):
    """Work out how an image of ``shape`` is restored.

    Parameters
    ----------
    shape : tuple of int
    channel_axis : int or None
    model : str, path, LoadedModel or None
    quality : int or None
        JPEG quality the model is told (the default family then means ``"jpeg"``).

    Returns
    -------
    Layout

    Raises
    ------
    ValueError
        If ``channel_axis`` is out of range, the image lacks spatial axes,
        or the channel count does not fit a named colour model.
    """
    ndim = len(shape)
    if channel_axis is None:
        loaded = _model_for(model, 1, quality)
        if loaded.channels != 1:
            raise ValueError(
                f"model {loaded.name!r} restores {loaded.channels}-channel images; "
                "pass channel_axis (e.g. channel_axis=-1 for RGB) or a gray model"
            )
        return Layout(None, 1, loaded, False)
    if not isinstance(channel_axis, (int, np.integer)) or isinstance(channel_axis, bool):
        raise TypeError(f"channel_axis must be an int or None, got {type(channel_axis).__name__}")
    if not -ndim <= channel_axis < ndim:
        raise ValueError(f"channel_axis={channel_axis} is out of range for an image with {ndim} dimensions")
    if ndim < 3:
        raise ValueError(f"an image with a channel axis needs rows, columns and channels; got shape {tuple(shape)}")
    axis = int(channel_axis) % ndim
    channels = int(shape[axis])
    loaded = _model_for(model, channels, quality)
    if loaded.channels == 3 and channels not in (3, 4):
        raise ValueError(
            f"model {loaded.name!r} restores RGB (3 channels, or RGBA), but channel axis {axis} has {channels}; "
            "pass a gray model to restore channel by channel, or check channel_axis"
        )
    return Layout(axis, channels, loaded, loaded.channels == 3 and channels == 4)


def _rounding_slack(dtype):
    """How far outside [0, 1] a float image may lie by rounding alone (then it is clipped)."""
    return max(1e-6, float(np.finfo(dtype).eps))


def _value_mapping(image, preserve_range, value_range):
    """Affine maps from the image's values to [0, 1] and back.

    Integers are scaled like ``img_as_float`` unless ``preserve_range``;
    with it, the image's own min/max (over the whole image) span [0, 1] and
    results are clipped to that range. Floats a rounding error outside
    [0, 1] are clipped into it.
    """
    dtype = image.dtype
    if preserve_range:
        lo, hi = value_range if value_range is not None else (float(np.min(image)), float(np.max(image)))
        span = hi - lo if hi > lo else 1.0
        # in float64, so the clip to the input's range holds exactly
        return (lambda t: (t - lo) / span), (lambda t: np.clip(np.asarray(t, np.float64) * span + lo, lo, hi))
    if dtype.kind == "f":
        lo, hi = value_range if value_range is not None else (float(np.min(image)), float(np.max(image)))
        slack = _rounding_slack(dtype)
        if lo < -slack or hi > 1 + slack:
            raise ValueError(
                f"float image has values from {dtype.type(lo)} to {dtype.type(hi)}, but float images must lie in [0, 1]; "
                "rescale it, or pass preserve_range=True to restore it in its own range"
            )
        if lo < 0 or hi > 1:
            return (lambda t: np.clip(t, 0, 1)), (lambda t: t)
        return (lambda t: t), (lambda t: t)
    if dtype.kind == "i":
        lo = value_range[0] if value_range is not None else float(np.min(image))
        if lo < 0:
            raise ValueError(
                f"signed integer image has negative values (min {lo:g}); pass preserve_range=True to restore it in its own range"
            )
    scale = float(np.iinfo(dtype).max)
    return (lambda t: t / scale), (lambda t: t)


def _check_finite(image, value_range):
    if image.dtype.kind == "f":
        lo, hi = value_range if value_range is not None else (np.min(image), np.max(image))
        if not (np.isfinite(lo) and np.isfinite(hi)):
            raise ValueError("image contains NaN or infinite values; replace them first, e.g. np.nan_to_num(image)")


@functools.lru_cache(maxsize=8)
def _module_on(model, device):
    """The network of ``model`` on ``device`` in channels_last layout (cached)."""
    module = model.module
    if device.type != "cpu":
        import copy

        module = copy.deepcopy(module).to(device)
    return module.to(memory_format=torch.channels_last)


def _progress_callback(progress):
    if callable(progress):
        return progress, None
    if progress:
        bar = tqdm(total=0, unit="tile", desc="deblur")

        def update(done, total):
            bar.total = total
            bar.update(done - bar.n)

        return update, bar
    return None, None


def _plane_pairs(source, target, layout):
    """``(source, target)`` views of shape (H, W, C) covering the whole image."""
    if layout.channel_axis is None:
        src, dst = source[..., None], target[..., None]
    else:
        src, dst = np.moveaxis(source, layout.channel_axis, -1), np.moveaxis(target, layout.channel_axis, -1)
    lead = src.shape[:-3]
    if layout.per_channel:
        groups = [slice(c, c + 1) for c in range(layout.channels)]
    else:
        groups = [slice(0, layout.model.channels)]
    return [(src[idx + (..., g)], dst[idx + (..., g)]) for idx in np.ndindex(*lead) for g in groups]


def deblur_array(
    image, layout, *, device, tile_size, preserve_range, progress, value_range=None, out=None, self_ensemble=False
):
    """Restore a NumPy array whose layout is already worked out (the core of :func:`deblur`)."""
    _check_finite(image, value_range)
    to_unit, from_unit = _value_mapping(image, preserve_range, value_range)
    if out is None:
        out = np.empty(image.shape, dtype=_supported_float_type(image.dtype))
    pairs = _plane_pairs(image, out, layout)
    if layout.alpha:
        alpha = (np.moveaxis(image, layout.channel_axis, -1)[..., 3:], np.moveaxis(out, layout.channel_axis, -1)[..., 3:])
        alpha[1][...] = from_unit(np.clip(to_unit(alpha[0].astype(np.float32)), 0, 1))
    device = resolve_device(device)
    callback, bar = _progress_callback(progress)
    try:
        restore_planes(
            pairs,
            _module_on(layout.model, device),
            layout.model,
            device=device,
            dtype=fast_dtype(device),
            tile_size=default_tile_size(device, layout.model.halo) if isinstance(tile_size, str) else tile_size,
            to_unit=to_unit,
            from_unit=from_unit,
            progress=callback,
            self_ensemble=self_ensemble,
        )
    finally:
        if bar is not None:
            bar.close()
    return out


def _from_tensor(tensor):
    """A torch tensor as a NumPy array: detached (``deblur`` is not differentiable) and on the CPU."""
    tensor = tensor.detach().cpu()
    return (tensor.float() if tensor.dtype == torch.bfloat16 else tensor).numpy()


#: Without a channel axis, a last axis this short under rows and columns this long looks like colours.
_COLOUR_LIKE, _LONG_SIDE = (3, 4), 16


def _warn_if_colours_look_like_columns(shape):
    """Warn when ``channel_axis=None`` meets an (H, W, 3 or 4) array: scikit-image's meaning (no channels) is kept."""
    if len(shape) >= 3 and shape[-1] in _COLOUR_LIKE and min(shape[-3], shape[-2]) >= _LONG_SIDE:
        warnings.warn(
            f"image of shape {tuple(shape)} is restored as {math.prod(shape[:-2])} gray planes of {shape[-2]}x{shape[-1]} pixels "
            "because channel_axis is None; if its last axis holds colours, pass channel_axis=-1",
            UserWarning,
            stacklevel=3,
        )


def _check_tile_size(tile_size):
    if tile_size is None or (isinstance(tile_size, str) and tile_size == "auto"):
        return
    if not isinstance(tile_size, (int, np.integer)) or isinstance(tile_size, bool):
        raise TypeError(f"tile_size must be an int, 'auto' or None, got {tile_size!r}")
    if tile_size < 16:
        raise ValueError(f"tile_size must be at least 16 pixels (or None for no tiling), got {tile_size}")


def _check_out(out, image):
    """``out`` must be a float NumPy array of the image's shape that shares no memory with it."""
    if not isinstance(out, np.ndarray):
        raise TypeError(f"out must be a NumPy array (np.empty, np.memmap, ...), got {type(out).__name__}")
    if out.shape != image.shape:
        raise ValueError(f"out has shape {out.shape}, but the image has shape {image.shape}")
    if out.dtype.kind != "f":
        raise TypeError(f"out must have a float dtype (float32 or float64), got {out.dtype}")
    if not out.flags.writeable:
        raise ValueError("out is read-only")
    if np.shares_memory(out, image):
        raise ValueError("out shares memory with the image; tiles read their neighbours' input, so restore into a new array")


def deblur(
    image,
    *,
    model=None,
    channel_axis=None,
    device="cpu",
    tile_size="auto",
    preserve_range=False,
    progress=False,
    out=None,
    self_ensemble=False,
    quality=None,
):
    """Remove compression artifacts, blur and noise with a convolutional network.

    Parameters
    ----------
    image : ndarray, dask array or torch.Tensor
        Input image of any real dtype. Without ``channel_axis``, the last two
        axes are rows and columns and any leading axes (Z, T, bands) are
        restored plane by plane. A tensor is read as an array (detached,
        copied to the CPU): ``deblur`` is not differentiable and returns
        NumPy.
    model : str, path-like or LoadedModel, optional
        A name from :func:`dci_cnn.list_models`, a ``.safetensors`` file
        with its model card beside it, or a family from
        :data:`dci_cnn.weights.MODEL_FAMILIES`, whose gray model restores gray
        planes and per-channel data and whose colour model 3 or 4 channels:
        ``"default"`` (None; blind to JPEG, blur and noise) or ``"jpeg"``
        (JPEG artifacts only, for images known to be just compressed).
    channel_axis : int or None, optional
        Axis of the channels. Three channels go through a colour model; a
        fourth (alpha) is kept untouched; 1, 2 or more than 4 channels
        (multiband data) go one by one through the gray model. None (no
        channels, as in scikit-image) on an array whose last axis has 3 or 4
        entries under 16 or more rows and columns warns that
        ``channel_axis=-1`` was probably meant.
    device : str or torch.device, optional
        ``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"mps"`` or ``"auto"``.
    tile_size : int, "auto" or None, optional
        The unit of memory, which follows the tile size, not the image size.
        The network runs down each plane in strips of about ``tile_size**2 /
        2`` pixels, computing every activation once, in bands at most ``4 *
        tile_size`` wide that overlap by the receptive field; the
        self-ensemble runs windows of ``tile_size`` plus the receptive field
        on each side. Either way the result does not depend on it. "auto"
        (default): 2048 on the CPU, 4096 on a CUDA GPU with 12 GiB or more,
        else 2048; half that for the paper's full-resolution network (see
        :func:`dci_cnn.devices.default_tile_size`). None: one pass per
        plane.
    preserve_range : bool, optional
        Keep the input's range: the image's min and max (over the whole
        image) are mapped to [0, 1] for the network and back afterwards.
        Use it for 12/16-bit microscopy. Otherwise integers are scaled as
        :func:`skimage.util.img_as_float` does and floats must lie in [0, 1]
        (values a rounding error outside, up to 1e-6 or the dtype's epsilon,
        are clipped).
    progress : bool or callable, optional
        True shows a tqdm bar over strips (or tiles); a callable is called
        as ``progress(done, total)`` after each and may raise to cancel.
    out : ndarray, optional
        Float array of the image's shape to write the result into, tile by
        tile, e.g. a float32 :class:`numpy.memmap` for images larger than
        memory. NumPy input only; store a dask result with ``to_zarr``.
    self_ensemble : bool, optional
        Average the network over the 8 flips and rotations of the image
        (geometric self-ensemble): 8 times slower, for a slightly higher
        PSNR (the gain per model and test set is in the models guide).
    quality : None, int or "auto", optional
        The JPEG quality (IJG quality factor, 1-100) the image was
        compressed at, for models with a quality adapter (the ``"jpeg"``
        family; with ``model`` None or ``"default"`` a quality selects it).
        None: blind, as without it. An int also works as a strength knob:
        lower removes more, higher keeps more detail. ``"auto"``: estimated
        from the pixels by :func:`dci_cnn.estimate_jpeg_quality`; blind when
        it finds no JPEG quantization or the model takes no quality (the
        default family stays itself). The adapter folds into the network,
        so a quality costs no time per pixel.

    Returns
    -------
    ndarray or dask array
        Same shape as ``image``; ``out`` if given, else float32 for
        float16/float32 input and float64 otherwise. In [0, 1] (clipped), or
        in the input's range with ``preserve_range`` (a constant image comes
        back constant).

    Raises
    ------
    TypeError
        For bool, complex or non-numeric images, or options of the wrong type.
    ValueError
        For empty, 0-D or 1-D images, NaN or infinite values, a
        ``channel_axis`` out of range, a channel count the model cannot
        take, an unknown model, a quality out of 1-100 or for a model
        without a quality adapter, an unavailable device, or an ``out`` of the
        wrong shape, read-only or overlapping the image.

    Warns
    -----
    UserWarning
        When ``channel_axis`` is None but the last axis looks like colours.

    Examples
    --------
    >>> from skimage import data
    >>> from dci_cnn import deblur
    >>> from dci_cnn.degrade import jpeg
    >>> clean = data.camera()[:128, :128] / 255.0
    >>> restored = deblur(jpeg(clean, quality=10))
    >>> restored.shape, restored.dtype
    ((128, 128), dtype('float32'))

    Colour images name their channel axis:

    >>> rgb = jpeg(data.astronaut()[:96, :96] / 255.0, quality=20)
    >>> deblur(rgb, channel_axis=-1).shape
    (96, 96, 3)
    """
    _check_tile_size(tile_size)
    for name, flag in (("preserve_range", preserve_range), ("self_ensemble", self_ensemble)):
        if not isinstance(flag, (bool, np.bool_)):
            raise TypeError(f"{name} must be True or False, got {flag!r}")
    quality = check_quality(quality)
    options = {"device": device, "tile_size": tile_size, "preserve_range": preserve_range, "self_ensemble": self_ensemble}
    if isinstance(image, torch.Tensor):
        image = _from_tensor(image)
    if channel_axis is None:
        _warn_if_colours_look_like_columns(np.shape(image))
    if type(image).__module__.startswith("dask"):
        if out is not None:
            raise TypeError("out is for NumPy input; store the lazy result of a dask array with to_zarr or dask.array.store")
        from ._dask import deblur_dask

        if quality == "auto":
            quality = estimate_for(image, describe(image.shape, channel_axis, model))
        return deblur_dask(image, model=model, channel_axis=channel_axis, quality=quality, **options)
    image = np.asarray(image)
    _check_image(image)
    if out is not None:
        _check_out(out, image)
    layout = describe(image.shape, channel_axis, model)
    if quality == "auto":
        quality = estimate_for(image, layout)
    if quality is not None:
        layout = describe(image.shape, channel_axis, model, quality)
    return deblur_array(image, layout, progress=progress, out=out, **options)
