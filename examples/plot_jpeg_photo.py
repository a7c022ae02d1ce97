"""
JPEG artifacts in a photo at four qualities
===========================================

A photo saved at a low JPEG quality shows 8x8 blocks in flat areas, ringing
around edges and smeared colour (the chroma is stored at half resolution).
Here the astronaut photo from ``skimage.data`` is compressed at four
qualities with Pillow's JPEG codec and restored with [`dci_cnn.deblur`][dci_cnn.deblur].
The zoomed crops show where the artifacts live: 8x8 blocks in the smooth
skin, ringing along the hair and the eyes.
"""

# mkdocs_gallery_thumbnail_number = 2

import io
import time

import matplotlib.pyplot as plt
import numpy as np
from PIL import Image
from skimage import data

from dci_cnn import deblur
from dci_cnn.degrade import jpeg, to_uint8
from dci_cnn.metrics import psnr, ssim

clean = data.astronaut() / 255.0  # float64 RGB in [0, 1], 512 x 512
qualities = [10, 20, 30, 50]


def jpeg_kilobytes(image, quality):
    """Size of the JPEG file that ``jpeg(image, quality)`` decodes."""
    buf = io.BytesIO()
    Image.fromarray(to_uint8(image)).save(buf, format="JPEG", quality=quality)
    return buf.tell() / 1024


# %%
# Compress and restore
# --------------------
# ``jpeg`` encodes and decodes in memory, returning float32 in [0, 1].
# Colour images name their channel axis, so the colour model is used.

results = []
for q in qualities:
    degraded = jpeg(clean, q)
    start = time.perf_counter()
    restored = deblur(degraded, channel_axis=-1)
    seconds = time.perf_counter() - start
    scores = [(psnr(clean, im), ssim(clean, im, channel_axis=-1)) for im in (degraded, restored)]
    results.append((q, degraded, restored, scores, seconds))
    print(f"quality {q:2d} ({jpeg_kilobytes(clean, q):5.1f} kB): "
          f"JPEG {scores[0][0]:.2f} dB / SSIM {scores[0][1]:.4f} -> "
          f"restored {scores[1][0]:.2f} dB / SSIM {scores[1][1]:.4f} in {seconds:.2f} s")

# %%
# Zoomed crops
# ------------
# Each row is one quality; the right column is the original for reference.

crop = np.s_[40:168, 170:298]  # the face: blocks in the skin, ringing at the hair and eyes
fig, axes = plt.subplots(len(qualities), 3, figsize=(9, 3.1 * len(qualities)), layout="constrained")
for row, (q, degraded, restored, scores, _) in zip(axes, results):
    (p_in, s_in), (p_out, s_out) = scores
    row[0].imshow(degraded[crop], interpolation="nearest")
    row[0].set_title(f"JPEG q={q}\nPSNR {p_in:.2f} dB, SSIM {s_in:.3f}", fontsize=12)
    row[1].imshow(np.clip(restored[crop], 0, 1), interpolation="nearest")
    row[1].set_title(f"dci-cnn\nPSNR {p_out:.2f} dB, SSIM {s_out:.3f}", fontsize=12)
    row[2].imshow(clean[crop], interpolation="nearest")
    row[2].set_title("original", fontsize=12)
    for ax in row:
        ax.set_axis_off()
plt.show()

# %%
# The whole picture at quality 10
# -------------------------------
# The rectangle marks the crop above. Scores are over the whole image.

q, degraded, restored, scores, _ = results[0]
fig, axes = plt.subplots(1, 3, figsize=(10.5, 4.4), layout="constrained")
for ax, im, title in zip(
    axes,
    (degraded, restored, clean),
    (f"JPEG q={q}: {scores[0][0]:.2f} dB", f"restored: {scores[1][0]:.2f} dB", "original"),
):
    ax.imshow(np.clip(im, 0, 1))
    ax.add_patch(plt.Rectangle((crop[1].start, crop[0].start), 128, 128, fill=False, ec="yellow", lw=1.5))
    ax.set_title(title, fontsize=13)
    ax.set_axis_off()
plt.show()

# %%
# Quality curve
# -------------
# PSNR of the JPEG and of its restoration against the file size. The gap
# between the two curves is what the network adds; reading the JPEG curve
# at the restored PSNR tells which larger file would look as good.

kb = [jpeg_kilobytes(clean, q) for q in qualities]
fig, ax = plt.subplots(figsize=(6, 4), layout="constrained")
ax.plot(kb, [r[3][0][0] for r in results], "o-", label="JPEG")
ax.plot(kb, [r[3][1][0] for r in results], "s-", label="JPEG + dci-cnn")
for k, q, r in zip(kb, qualities, results):
    ax.annotate(f"q={q}", (k, r[3][0][0]), textcoords="offset points", xytext=(4, -12), fontsize=11)
ax.set_xlabel("JPEG file size (kB)")
ax.set_ylabel("PSNR (dB)")
ax.set_title("astronaut, 512 x 512 RGB")
ax.grid(alpha=0.3)
ax.legend()
plt.show()
