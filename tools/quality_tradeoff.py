"""The ``quality`` knob's trade-off: one JPEG restored at several ``quality`` values, PSNR and sharpness each.

    python tools/quality_tradeoff.py                 re-renders docs/images/quality-tradeoff.png, prints the table

The camera image (scikit-image) is compressed at JPEG quality 20 and
restored by the ``jpeg`` model told nothing (blind) and told each quality
in ``QUALITIES``. Sharpness is the mean Sobel gradient magnitude over that
of the clean image (1 = as sharp as the original; JPEG and strong
restoration lower it). Each panel shows the same crop.
"""

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from skimage import data
from skimage.filters import sobel

from dci_cnn import deblur
from dci_cnn.degrade import jpeg
from dci_cnn.metrics import psnr

COMPRESSED_AT = 20
QUALITIES = (5, 10, 20, 40, 70)
CROP = (slice(60, 220), slice(200, 360))


def sharpness(image, clean):
    """Mean gradient magnitude relative to the clean image's."""
    return float(sobel(image).mean() / sobel(clean).mean())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=Path(__file__).resolve().parents[1] / "docs" / "images" / "quality-tradeoff.png")
    args = parser.parse_args(argv)
    clean = data.camera() / 255.0
    compressed = jpeg(clean, COMPRESSED_AT).astype(np.float64)
    panels = [("JPEG input", compressed), ("blind (quality=None)", deblur(compressed, model="jpeg"))]
    panels += [(f"quality={q}", deblur(compressed, model="jpeg", quality=q)) for q in QUALITIES]
    print(f"camera (512x512) compressed at JPEG quality {COMPRESSED_AT}; model jpeg (dci-unet-gray-jpeg)")
    print("| setting | PSNR (dB) | sharpness |\n|---|---|---|")
    fig, axes = plt.subplots(1, len(panels), figsize=(2.1 * len(panels), 2.6))
    for ax, (name, image) in zip(axes, panels):
        score, sharp = psnr(clean, image), sharpness(image, clean)
        print(f"| {name} | {score:.2f} | {sharp:.3f} |")
        ax.imshow(image[CROP], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(f"{name}\n{score:.2f} dB, sharp. {sharp:.2f}", fontsize=7)
        ax.axis("off")
    fig.tight_layout(pad=0.3)
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
