"""``deblur_image``: the plugin's command for scripts and napari-workflows, no GUI involved."""

from __future__ import annotations

import warnings

import numpy as np
from napari.types import ImageData

from ._channels import guess_channel_axis, image_axes
from ._restore import AUTO, restore

__all__ = ["deblur_image"]


def deblur_image(
    image: ImageData,
    model: str = AUTO,
    device: str = "cpu",
    tile_size: int | str = AUTO,
    rgb: bool = False,
    channel_axis: int | None = None,
    quality: int | str | None = None,
    self_ensemble: bool = False,
) -> ImageData:
    """Deblur image data the way the widget does, returning data of the same shape, dtype and range.

    Parameters
    ----------
    image : ImageData
        Gray planes with any leading axes (Z, T, bands), or RGB(A) in the last
        axis with ``rgb=True``. NumPy input is restored now; dask or zarr
        input gives a lazy dask array.
    model : str, optional
        Model name, ``.safetensors`` path, ``"jpeg"`` (the JPEG-only gray or
        colour model) or ``"auto"`` (the blind default gray or colour model).
    device : str, optional
        ``"cpu"``, ``"cuda:N"``, ``"mps"`` or ``"auto"``.
    tile_size : int or "auto", optional
        Tile side in pixels.
    rgb : bool, optional
        The last axis holds RGB(A) channels.
    channel_axis : int or None, optional
        Axis of channels or bands of non-RGB data, each restored on its own by
        the gray model. None: every axis but the last two indexes planes; a
        ``UserWarning`` says so when the last axis looks like bands (at most 16
        long and far shorter than the two before it, as in ``(y, x, band)``).
    quality : None, int or "auto", optional
        JPEG quality for models with a quality adapter (see :func:`dci_cnn.deblur`).
    self_ensemble : bool, optional
        Average over the 8 flips and rotations: 8 times slower, a little better.

    Returns
    -------
    ImageData

    Examples
    --------
    >>> import numpy as np
    >>> from napari_dci import deblur_image
    >>> deblur_image(np.zeros((2, 64, 64), np.uint8)).dtype
    dtype('uint8')
    """
    shape = np.shape(image)
    if channel_axis is None and not rgb:
        guess = guess_channel_axis(shape)
        if guess.guessed:
            rows, cols = (shape[a] for a in image_axes(len(shape), None))
            warnings.warn(f"image of shape {shape} is restored as planes of {rows} x {cols} pixels, but its last axis "
                          f"looks like bands; pass channel_axis={guess.axis} to restore it band by band",
                          UserWarning, stacklevel=2)
    return restore(image, rgb=rgb, channel_axis=channel_axis, model=model, device=device, tile_size=tile_size,
                   self_ensemble=self_ensemble, quality=quality)
