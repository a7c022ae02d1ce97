"""``deblur_image``: the plugin's command for scripts and napari-workflows, no GUI involved."""

from __future__ import annotations

from napari.types import ImageData

from ._restore import AUTO, restore

__all__ = ["deblur_image"]


def deblur_image(
    image: ImageData,
    model: str = AUTO,
    device: str = "cpu",
    tile_size: int | str = AUTO,
    rgb: bool = False,
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
    return restore(image, rgb=rgb, model=model, device=device, tile_size=tile_size, self_ensemble=self_ensemble)
