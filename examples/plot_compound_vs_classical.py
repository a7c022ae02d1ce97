"""
Blur + noise + JPEG vs classical restoration
============================================

The DCI-CNN paper degrades images three times over: a Gaussian blur, white
Gaussian noise and JPEG compression. Classical methods each undo one of
these, given what they need to know:

* [`skimage.restoration.richardson_lucy`](https://scikit-image.org/docs/stable/api/skimage.restoration.html#skimage.restoration.richardson_lucy) and
  [`skimage.restoration.unsupervised_wiener`](https://scikit-image.org/docs/stable/api/skimage.restoration.html#skimage.restoration.unsupervised_wiener) deconvolve, and here they
  are handed the **true** point spread function (PSF) of the blur;
* [`skimage.restoration.denoise_tv_chambolle`](https://scikit-image.org/docs/stable/api/skimage.restoration.html#skimage.restoration.denoise_tv_chambolle) removes noise (and
  smooths blocks) by total-variation regularisation.

``dci_cnn.deblur`` is blind: it is told nothing about the blur, the noise or
the JPEG quality. The degraded input is made with
[`dci_cnn.evaluate.degrade_for_eval`][dci_cnn.evaluate.degrade_for_eval], the same function the evaluation
tables use.
"""

import time

import matplotlib.pyplot as plt
import numpy as np
from scipy.ndimage import gaussian_filter
from skimage import data
from skimage.restoration import denoise_tv_chambolle, richardson_lucy, unsupervised_wiener

from dci_cnn import deblur
from dci_cnn.evaluate import degrade_for_eval
from dci_cnn.metrics import psnr, ssim

BLUR, NOISE, QUALITY = 1.2, 8.0, 30  # blur sigma (pixels), noise sigma (0-255), JPEG quality

clean = data.camera() / 255.0
degraded = degrade_for_eval(clean, "compound", QUALITY, blur=BLUR, noise=NOISE, seed=0).astype(np.float64)

# %%
# The true PSF
# ------------
# ``degrade_for_eval`` blurs with [`scipy.ndimage.gaussian_filter`](https://docs.scipy.org/doc/scipy/reference/generated/scipy.ndimage.gaussian_filter.html)
# (truncated at 4 sigma); filtering a unit impulse gives exactly that kernel.

radius = int(4 * BLUR + 0.5)
impulse = np.zeros((2 * radius + 1,) * 2)
impulse[radius, radius] = 1.0
psf = gaussian_filter(impulse, BLUR, mode="constant")

# %%
# Restore with each method
# ------------------------
# The classical methods' parameters were picked on this very image for the
# best PSNR against the clean original (Richardson-Lucy iterations from 1
# to 8, TV weights from 0.02 to 0.15), which favours them;
# ``unsupervised_wiener`` estimates its regularisation itself, and the
# network runs with its defaults.

methods = {
    "Richardson-Lucy (true PSF)": lambda x: richardson_lucy(x, psf, num_iter=2, clip=True),
    "unsupervised Wiener (true PSF)": lambda x: np.clip(unsupervised_wiener(x, psf, rng=0)[0], 0, 1),
    "TV denoising (Chambolle)": lambda x: denoise_tv_chambolle(x, weight=0.02),
    "dci-cnn (blind)": lambda x: deblur(x),
}
results = {"degraded input": (degraded, 0.0)}
for name, method in methods.items():
    start = time.perf_counter()
    out = method(degraded)
    results[name] = (out, time.perf_counter() - start)

print(f"{'method':32s} {'PSNR':>7s} {'SSIM':>7s} {'seconds':>8s}")
for name, (out, sec) in results.items():
    print(f"{name:32s} {psnr(clean, out):7.2f} {ssim(clean, out):7.4f} {sec:8.2f}")

# %%
# Side by side
# ------------
# The crop holds the face and the camera: edges and fine detail, where
# blur, ringing and blocks show most.

crop = np.s_[80:240, 180:340]
panels = list(results.items()) + [("original", (clean, 0.0))]
fig, axes = plt.subplots(2, 3, figsize=(10.5, 7.6), layout="constrained")
for ax, (name, (out, sec)) in zip(axes.flat, panels):
    ax.imshow(np.clip(out[crop], 0, 1), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    title = name if name == "original" else f"{name}\nPSNR {psnr(clean, out):.2f} dB, SSIM {ssim(clean, out):.3f}"
    ax.set_title(title, fontsize=12)
    ax.set_axis_off()
fig.suptitle(f"blur sigma {BLUR} px + noise sigma {NOISE:g}/255 + JPEG q={QUALITY}", fontsize=13)
plt.show()

# %%
# The whole image
# ---------------

fig, axes = plt.subplots(1, 3, figsize=(11, 4), layout="constrained")
for ax, name in zip(axes, ["degraded input", "unsupervised Wiener (true PSF)", "dci-cnn (blind)"]):
    out = results[name][0]
    ax.imshow(np.clip(out, 0, 1), cmap="gray", vmin=0, vmax=1)
    ax.set_title(f"{name}\nPSNR {psnr(clean, out):.2f} dB, SSIM {ssim(clean, out):.3f}", fontsize=12)
    ax.set_axis_off()
plt.show()

# %%
# Deconvolution sharpens the JPEG blocks and the noise along with the
# image; total variation removes noise and blocks but also texture. A
# network trained on the compound degradation can undo all three at once
# without being told the PSF -- to the extent its training covered them.
