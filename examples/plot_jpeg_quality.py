"""
JPEG quality as a strength knob
===============================

A JPEG file stores its own quantization tables, so the quality it was saved
at can be read back exactly with [`dci_cnn.read_jpeg_quality`][dci_cnn.read_jpeg_quality]
(or estimated from decoded pixels with [`dci_cnn.estimate_jpeg_quality`][dci_cnn.estimate_jpeg_quality]).
The `jpeg` models take it through ``deblur(..., quality=...)``: told the
true quality, they restore for exactly that amount of compression. Told a
lower one, they remove more (smoother, fewer artifacts left); told a higher
one, they keep more (sharper, some artifacts left). Here one photo, saved at
quality 20, is restored at several settings, with its PSNR and a sharpness
measure for each.
"""

# mkdocs_gallery_thumbnail_number = 2

import io

import matplotlib.pyplot as plt
import numpy as np
from PIL import Image
from skimage import data
from skimage.filters import sobel

from dci_cnn import deblur, read_jpeg_quality
from dci_cnn.metrics import psnr

clean = data.astronaut()  # uint8 RGB, 512 x 512
buffer = io.BytesIO()
Image.fromarray(clean).save(buffer, format="JPEG", quality=20)  # Pillow's default 4:2:0 chroma
record = read_jpeg_quality(buffer.getvalue())
print(f"read from the file: quality {record.quality}, chroma {record.subsampling}")
degraded = np.asarray(Image.open(buffer)) / 255.0
clean = clean / 255.0


def sharpness(image):
    """Mean gradient magnitude (Sobel, on the luma) in % of the original's: 100 is as sharp as the original."""
    luma = image @ [0.299, 0.587, 0.114]
    return 100 * sobel(luma).mean() / sobel(clean @ [0.299, 0.587, 0.114]).mean()


# %%
# Restore at several settings
# ---------------------------
# ``quality=None`` is the blind model (not told); ``"auto"`` would estimate the
# quality from the pixels (here it finds 20 too).

settings = [5, 10, 20, 30, 50, 80]
restored = {None: deblur(degraded, channel_axis=-1, model="jpeg")}
for q in settings:
    restored[q] = deblur(degraded, channel_axis=-1, model="jpeg", quality=q)
print(f"{'setting':>10} {'PSNR dB':>8} {'sharpness %':>12}")
print(f"{'JPEG':>10} {psnr(clean, degraded):8.2f} {sharpness(degraded):12.1f}")
for q, image in restored.items():
    print(f"{'blind' if q is None else q:>10} {psnr(clean, image):8.2f} {sharpness(image):12.1f}")

# %%
# PSNR and sharpness per setting
# ------------------------------
# The true quality (20) gives the best PSNR; lower settings smooth more
# (sharpness falls), higher ones keep more of the JPEG's texture and its
# artifacts (sharpness rises towards the JPEG's own, which blocking and
# ringing inflate).

fig, left = plt.subplots(figsize=(7, 4), layout="constrained")
left.plot(settings, [psnr(clean, restored[q]) for q in settings], "o-", color="C0", label="told this quality")
left.axhline(psnr(clean, restored[None]), color="C0", linestyle="--", label="blind (quality=None)")
left.axhline(psnr(clean, degraded), color="C0", linestyle=":", label="JPEG input")
left.axvline(record.quality, color="0.6", linewidth=1)
left.set_xlabel("quality told to the model (the file's is 20)")
left.set_ylabel("PSNR (dB)", color="C0")
right = left.twinx()
right.plot(settings, [sharpness(restored[q]) for q in settings], "s-", color="C3", label="sharpness")
right.axhline(100, color="C3", linestyle=":", linewidth=1)
right.set_ylabel("sharpness (% of the original's)", color="C3")
left.legend(loc="lower right")
plt.show()

# %%
# What the settings look like
# ---------------------------
# A lower setting wipes out blocks and ringing along with fine texture; a
# higher one keeps texture and some blocking.

crop = np.s_[40:168, 170:298]
shown = [("JPEG q=20", degraded), ("told 5", restored[5]), ("told 20 (the file's)", restored[20]),
         ("told 80", restored[80]), ("original", clean)]
fig, axes = plt.subplots(1, len(shown), figsize=(3 * len(shown), 3.4), layout="constrained")
for ax, (title, image) in zip(axes, shown):
    ax.imshow(np.clip(image[crop], 0, 1), interpolation="nearest")
    ax.set_title(f"{title}\n{psnr(clean, image):.2f} dB, sharpness {sharpness(image):.0f} %", fontsize=10)
    ax.set_axis_off()
plt.show()
