"""Compound degradation (blur sigma 1 px, noise sigma 10, JPEG 40): the blind model beside scikit-image's
classical restoration given the true PSF.

Classical settings are tuned on a few *training* images (``--tune-data``), never on the evaluation set,
then every pipeline is scored on ``--data``. Prints a markdown table of mean PSNR/SSIM and seconds.

    python benchmarks/compound.py --data ../shared/data/eval/cbsd68 --tune-data ../shared/data/train/bsds500
"""

from __future__ import annotations

import argparse
import itertools
import time

import numpy as np
from scipy.ndimage import gaussian_filter
from skimage.restoration import denoise_tv_chambolle, richardson_lucy, unsupervised_wiener, wiener

from dci_cnn import deblur
from dci_cnn.degrade import to_uint8
from dci_cnn.evaluate import degrade_for_eval
from dci_cnn.imageio import as_channels, find_images, read_image
from dci_cnn.metrics import psnr, ssim


def true_psf(sigma):
    """The blur kernel ``degrade.gaussian_blur`` applies: scipy's Gaussian of a delta."""
    size = 2 * int(4 * sigma + 0.5) + 1
    delta = np.zeros((size, size))
    delta[size // 2, size // 2] = 1
    return gaussian_filter(delta, sigma)


def pipelines(psf):
    """Classical restorations, each a family ``{settings: restore(image)}`` over a small grid."""
    return {
        "wiener": {b: (lambda x, b=b: wiener(x, psf, balance=b)) for b in (0.01, 0.03, 0.1, 0.3)},
        "richardson_lucy": {n: (lambda x, n=n: richardson_lucy(x, psf, num_iter=n)) for n in (3, 5, 10, 30)},
        "unsupervised_wiener": {"-": lambda x: unsupervised_wiener(x, psf, rng=0)[0]},
        "denoise_tv_chambolle": {w: (lambda x, w=w: denoise_tv_chambolle(x, weight=w)) for w in (0.02, 0.05, 0.1)},
        "tv + richardson_lucy": {
            (w, n): (lambda x, w=w, n=n: richardson_lucy(denoise_tv_chambolle(x, weight=w), psf, num_iter=n))
            for w, n in itertools.product((0.02, 0.05), (3, 5, 10))
        },
        "tv + wiener": {
            (w, b): (lambda x, w=w, b=b: wiener(denoise_tv_chambolle(x, weight=w), psf, balance=b))
            for w, b in itertools.product((0.02, 0.05), (0.03, 0.1))
        },
    }


def load(files, limit=None):
    return [to_uint8(as_channels(read_image(f), 1)) / 255.0 for f in files[:limit]]


def score(images, restore, args):
    rows = []
    for i, clean in enumerate(images):
        degraded = degrade_for_eval(clean, "compound", args.quality, blur=args.blur, noise=args.noise, seed=i)
        start = time.perf_counter()
        restored = to_uint8(np.clip(restore(degraded), 0, 1)) / 255.0
        rows.append((psnr(clean, restored), ssim(clean, restored), time.perf_counter() - start))
    return np.mean(rows, axis=0)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="evaluation images (scored in gray)")
    parser.add_argument("--tune-data", required=True, help="training images to tune the classical settings on")
    parser.add_argument("--tune-images", type=int, default=6)
    parser.add_argument("--model", default=None, help="model name or .safetensors path (default: the gray model)")
    parser.add_argument("--quality", type=int, default=40)
    parser.add_argument("--blur", type=float, default=1.0)
    parser.add_argument("--noise", type=float, default=10.0)
    args = parser.parse_args(argv)

    psf = true_psf(args.blur)
    tune = load(find_images(args.tune_data), args.tune_images)
    images = load(find_images(args.data))
    rows = [("JPEG input (no restoration)", "", *score(images, lambda x: x, args))]
    for name, family in pipelines(psf).items():
        best = max(family, key=lambda k: score(tune, family[k], args)[0])
        rows.append((name, best, *score(images, family[best], args)))
    classical = max(rows[1:], key=lambda r: r[2])
    rows.append(("dci-cnn (blind)", args.model or "default", *score(images, lambda x: deblur(x, model=args.model), args)))
    base = rows[0][2]
    print(f"compound: blur sigma {args.blur} px, noise sigma {args.noise}, JPEG {args.quality}; "
          f"{len(images)} images from {args.data}; classical settings tuned on {len(tune)} images of {args.tune_data}\n")
    print("| method | settings (tuned) | PSNR | gain | SSIM | s/img |\n|---|---|---|---|---|---|")
    for name, setting, p, s, sec in rows:
        print(f"| {name} | {setting} | {p:.2f} | {p - base:+.2f} | {s:.4f} | {sec:.2f} |")
    print(f"\nbest classical pipeline: {classical[0]} ({classical[2] - base:+.2f} dB); "
          f"dci-cnn: {rows[-1][2] - base:+.2f} dB")


if __name__ == "__main__":
    main()
