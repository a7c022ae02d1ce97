"""The demo: a scikit-image sample compressed hard, restored, shown before/after.

Pictures are composed with Pillow alone, so the demo needs no plotting
library.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from skimage import data

from . import metrics
from ._deblur import deblur
from .degrade import jpeg, to_uint8
from .imageio import write_image

__all__ = ["before_after", "run_demo"]


def before_after(panels, labels, crop=None):
    """Side-by-side uint8 RGB figure of equally sized images, with an enlarged crop under each.

    Parameters
    ----------
    panels : list of ndarray
        Float images in [0, 1], gray or RGB, all the same shape.
    labels : list of str
        One caption per panel.
    crop : (y, x, size), optional
        Square region outlined in each panel and shown enlarged (nearest
        neighbour, to the panel's width) beneath it.
    """
    rgb = [np.repeat(p[..., None], 3, -1) if p.ndim == 2 else p for p in panels]
    width = rgb[0].shape[1]
    rows = [np.hstack([to_uint8(p) for p in rgb])]
    if crop is not None:
        y, x, size = crop
        zoom = max(1, width // size)
        zoomed = [np.kron(to_uint8(p[y : y + size, x : x + size]), np.ones((zoom, zoom, 1), np.uint8)) for p in rgb]
        rows.append(np.hstack([np.pad(z, ((0, 0), (0, width - z.shape[1]), (0, 0))) for z in zoomed]))
    figure = Image.fromarray(np.vstack(rows))
    draw = ImageDraw.Draw(figure)
    for i, label in enumerate(labels):
        if crop is not None:
            draw.rectangle((i * width + x, y, i * width + x + size, y + size), outline=(255, 220, 0), width=2)
        draw.rectangle((i * width + 4, 4, i * width + 8 + 7 * len(label), 20), fill=(0, 0, 0))
        draw.text((i * width + 6, 6), label, fill=(255, 255, 255))
    return np.asarray(figure)


def run_demo(out, *, quality=10, overwrite=False):
    """Restore JPEG-compressed ``skimage.data`` images; write figures into ``out`` and print PSNR/SSIM.

    Returns 0, the exit status of ``dci-cnn demo``.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    samples = {"astronaut": (data.astronaut() / 255.0, -1, (40, 170, 128)), "camera": (data.camera() / 255.0, None, (60, 200, 128))}
    for name, (clean, axis, crop) in samples.items():
        degraded = jpeg(clean, quality)
        restored = deblur(degraded, channel_axis=axis)
        before = (metrics.psnr(clean, degraded), metrics.ssim(clean, degraded, channel_axis=axis))
        after = (metrics.psnr(clean, restored), metrics.ssim(clean, restored, channel_axis=axis))
        figure = before_after(
            [degraded, restored, clean],
            [f"JPEG q{quality}: {before[0]:.2f} dB", f"dci-cnn: {after[0]:.2f} dB", "original"],
            crop=crop,
        )
        path = out / f"{name}_q{quality}.png"
        write_image(path, figure, overwrite=overwrite)
        print(f"{name:10s} JPEG q{quality}: PSNR {before[0]:.2f} dB, SSIM {before[1]:.4f}  ->  "
              f"restored: PSNR {after[0]:.2f} dB, SSIM {after[1]:.4f}  ({after[0] - before[0]:+.2f} dB)  {path}")
    return 0
