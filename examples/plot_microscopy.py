"""
Microscopy: histology, 16-bit, channel by channel
=================================================

Microscopy images are often passed around as JPEGs (slide scanners, image
databases, papers, e-mail) long after the raw files are gone. This example
uses the immunohistochemistry (IHC) slide from ``skimage.data`` and shows
three ways to restore it:

1. the RGB slide, compressed hard, restored with the colour model;
2. a 12-bit grayscale channel stored as ``uint16``, restored in its own
   value range with ``preserve_range=True``;
3. a two-channel stain stack (channel axis first) restored channel by
   channel with the gray model.
"""

import matplotlib.pyplot as plt
import numpy as np
from skimage import data
from skimage.color import rgb2hed
from skimage.exposure import rescale_intensity

from dci_cnn import deblur
from dci_cnn.degrade import jpeg
from dci_cnn.metrics import psnr, ssim

crop = np.s_[150:278, 220:348]  # nuclei and stained membranes


def stretch(channel):
    """Map the 0.5 and 99.5 percentiles to 0 and 1 (clipping outliers), as a viewer's auto-contrast does."""
    lo, hi = np.percentile(channel, (0.5, 99.5))
    return rescale_intensity(channel, in_range=(lo, hi), out_range=(0.0, 1.0))


def panel(ax, image, title, **kwargs):
    ax.imshow(image, interpolation="nearest", **kwargs)
    ax.set_title(title, fontsize=12)
    ax.set_axis_off()


# %%
# 1. An RGB histology slide at JPEG quality 15
# --------------------------------------------

ihc = data.immunohistochemistry() / 255.0  # (512, 512, 3) float in [0, 1]
ihc_jpeg = jpeg(ihc, 15)
ihc_restored = deblur(ihc_jpeg, channel_axis=-1)

s_in = psnr(ihc, ihc_jpeg), ssim(ihc, ihc_jpeg, channel_axis=-1)
s_out = psnr(ihc, ihc_restored), ssim(ihc, ihc_restored, channel_axis=-1)
print(f"RGB   JPEG q15: {s_in[0]:.2f} dB, SSIM {s_in[1]:.4f}   restored: {s_out[0]:.2f} dB, SSIM {s_out[1]:.4f}")

fig, axes = plt.subplots(2, 3, figsize=(10, 7), layout="constrained")
for col, (im, title) in enumerate(
    [
        (ihc_jpeg, f"JPEG q=15\nPSNR {s_in[0]:.2f} dB, SSIM {s_in[1]:.3f}"),
        (ihc_restored, f"dci-cnn (colour model)\nPSNR {s_out[0]:.2f} dB, SSIM {s_out[1]:.3f}"),
        (ihc, "original"),
    ]
):
    panel(axes[0, col], np.clip(im, 0, 1), title)
    axes[0, col].add_patch(plt.Rectangle((crop[1].start, crop[0].start), 128, 128, fill=False, ec="k", lw=1.2))
    panel(axes[1, col], np.clip(im[crop], 0, 1), "zoomed crop")
plt.show()

# %%
# 2. 16-bit data: keep its range with ``preserve_range``
# ------------------------------------------------------
# Cameras on microscopes record 12 to 16 bits. Here the haematoxylin stain
# (separated from the RGB slide with [`skimage.color.rgb2hed`](https://scikit-image.org/docs/stable/api/skimage.color.html#skimage.color.rgb2hed)) plays a
# 12-bit nuclear channel: values from 100 to 3900 stored as ``uint16``. It
# is then exported as an 8-bit JPEG (windowed to its own range, as viewers
# do) and read back into the 12-bit scale.
#
# By default ``deblur`` scales integers like [`skimage.util.img_as_float`](https://scikit-image.org/docs/stable/api/skimage.util.html#skimage.util.img_as_float):
# ``uint16`` is divided by 65535, so this image would reach the network as
# values below 0.06 -- nearly black, unlike anything it was trained on. With
# ``preserve_range=True`` the image's own minimum and maximum are mapped to
# [0, 1] for the network and back afterwards, and the result comes back in
# the input's units.

hed = np.moveaxis(rgb2hed(data.immunohistochemistry()), -1, 0)  # (3, 512, 512) stain densities
hema = stretch(hed[0])
nuclei16 = (100 + hema * 3800).round().astype(np.uint16)  # clean 12-bit channel
lo, hi = float(nuclei16.min()), float(nuclei16.max())
nuclei16_jpeg = (lo + jpeg((nuclei16 - lo) / (hi - lo), 20) * (hi - lo)).round().astype(np.uint16)

restored16 = deblur(nuclei16_jpeg, preserve_range=True)
print(f"16-bit input: {nuclei16_jpeg.dtype}, range {nuclei16_jpeg.min()}..{nuclei16_jpeg.max()}")
print(f"restored:     {restored16.dtype}, range {restored16.min():.1f}..{restored16.max():.1f}")

rng16 = hi - lo  # score in the data's own units
s_in = psnr(nuclei16, nuclei16_jpeg, data_range=rng16), ssim(nuclei16, nuclei16_jpeg, data_range=rng16)
s_out = psnr(nuclei16, restored16, data_range=rng16), ssim(nuclei16, restored16, data_range=rng16)
print(f"12-bit JPEG q20: {s_in[0]:.2f} dB, SSIM {s_in[1]:.4f}   restored: {s_out[0]:.2f} dB, SSIM {s_out[1]:.4f}")

fig, axes = plt.subplots(1, 3, figsize=(10, 3.8), layout="constrained")
kw = {"cmap": "magma", "vmin": lo, "vmax": hi}
panel(axes[0], nuclei16_jpeg[crop], f"uint16 via JPEG q=20\nPSNR {s_in[0]:.2f} dB, SSIM {s_in[1]:.3f}", **kw)
panel(axes[1], restored16[crop], f"deblur(..., preserve_range=True)\nPSNR {s_out[0]:.2f} dB, SSIM {s_out[1]:.3f}", **kw)
panel(axes[2], nuclei16[crop], "original 12-bit", **kw)
fig.colorbar(axes[2].images[0], ax=axes, shrink=0.8, label="counts")
plt.show()

# %%
# 3. Channel by channel: a stain stack with the channel axis first
# ----------------------------------------------------------------
# Fluorescence and stain-separated data are not RGB: each channel is its
# own measurement. Give ``deblur`` the channel axis; unless the stack has
# exactly 3 (or 4, RGBA) channels, each channel goes through the gray
# network on its own. Here the haematoxylin (nuclei) and DAB (the stained
# protein) channels form a ``(2, 512, 512)`` stack, channel axis first.
# (This slide has almost no eosin, so that channel is left out.)

stack = np.stack([stretch(hed[0]), stretch(hed[2])]).astype(np.float32)
stack_jpeg = np.stack([jpeg(c, 15) for c in stack])  # each channel exported as its own 8-bit JPEG
stack_restored = deblur(stack_jpeg, channel_axis=0)  # 2 channels: the gray model, one channel at a time
assert stack_restored.shape == stack.shape

names = ["haematoxylin", "DAB"]
fig, axes = plt.subplots(2, 3, figsize=(9, 6.4), layout="constrained")
for c, name in enumerate(names):
    p_in, p_out = psnr(stack[c], stack_jpeg[c]), psnr(stack[c], stack_restored[c])
    q_in, q_out = ssim(stack[c], stack_jpeg[c]), ssim(stack[c], stack_restored[c])
    verdict = "SSIM falls" if q_out < q_in else "SSIM rises"
    print(f"{name:13s} JPEG {p_in:.2f} dB / {q_in:.4f}  ->  restored {p_out:.2f} dB / {q_out:.4f}  ({verdict})")
    kw = {"cmap": "gray", "vmin": 0, "vmax": 1}
    panel(axes[c, 0], stack_jpeg[c][crop], f"{name}, JPEG q=15\nPSNR {p_in:.2f} dB, SSIM {q_in:.3f}", **kw)
    panel(axes[c, 1], stack_restored[c][crop], f"restored\nPSNR {p_out:.2f} dB, SSIM {q_out:.3f}", **kw)
    panel(axes[c, 2], stack[c][crop], "original", **kw)
plt.show()

# %%
# With exactly three channels that are not RGB, name the gray model so the
# channels stay apart: ``deblur(stack3, channel_axis=0, model="dci-unet-gray")``.

# %%
# Where restoration costs structure
# ---------------------------------
# PSNR rises on every image here, but SSIM does not always follow: on the
# haematoxylin channel, both the 8-bit one in the stack and its 12-bit
# version above, the printed SSIM is *lower* after restoration than before.
# The network was trained on photos; it removes the 8x8 blocks, and with
# them some of the fine granular texture of the stain, which SSIM counts as
# structure. The zoomed crops show it: smoother nuclei, cleaner edges, less
# grain. That is fine for looking at a slide and may help segmentation, but
# do not measure intensities or texture on restored channels; see
# [Limitations and good practice](../../user-guide/limitations.md).
