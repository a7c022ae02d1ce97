"""Can a plain ``deblur(image)`` tell a JPEG-only image from a blurred, noisy one that was then compressed?

The ``jpeg`` models gain more on images that were only compressed; the default models gain more on
images blurred and noisy before compression (the ``compound`` degradation). Routing a plain
``deblur(image)`` to the ``jpeg`` family would need to tell the two apart from the decoded pixels.
This script measures the evidence a rule could use on both kinds of input: the JPEG quality
estimated from the pixels (``estimate_jpeg_quality``) and the noise level left in the image
(Immerkær's fast estimate, the mean absolute response of a 3x3 Laplacian difference kernel, on
the 0-255 scale), and prints their ranges. Overlapping ranges mean no threshold separates them.

    python benchmarks/jpeg_routing.py --data cbsd68/ [--limit N]
"""

import argparse

import numpy as np
from scipy.ndimage import convolve

from dci_cnn import estimate_jpeg_quality
from dci_cnn.evaluate import degrade_for_eval
from dci_cnn.imageio import as_channels, find_images, read_image

KERNEL = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], float)


def noise_sigma(image):
    """Immerkær (1996), *Fast noise variance estimation*: sigma on the 0-255 scale."""
    response = convolve(image * 255.0, KERNEL)[1:-1, 1:-1]
    return float(np.sqrt(np.pi / 2) * np.abs(response).mean() / 6)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="folder of clean reference images (scored as gray)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N images")
    args = parser.parse_args()
    cases = [(f"JPEG {q}", "jpeg", q) for q in (10, 20, 30, 40)] + [("blur 1 + noise 10 + JPEG 40", "compound", 40)]
    files = find_images(args.data)[: args.limit]
    print(f"{len(files)} images of {args.data}, as gray\n")
    print("| input | estimated quality (min–max) | noise sigma left (min / median / max) |")
    print("|---|---|---|")
    for label, degradation, quality in cases:
        qualities, sigmas = [], []
        for path in files:
            clean = as_channels(read_image(path), 1)
            degraded = degrade_for_eval(clean, degradation, quality)
            qualities.append(estimate_jpeg_quality(degraded))
            sigmas.append(noise_sigma(degraded))
        found = [q for q in qualities if q is not None]
        q_range = f"{min(found)}–{max(found)}" if found else "none"
        print(f"| {label} | {q_range} ({len(found)} of {len(files)} found) | "
              f"{min(sigmas):.2f} / {np.median(sigmas):.2f} / {max(sigmas):.2f} |")


if __name__ == "__main__":
    main()
