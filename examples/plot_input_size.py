"""
The paper's input-size experiment
=================================

The DCI-CNN paper trains on 64 x 64 images and asks how the restoration
holds up when the input is smaller or larger (its Table 3): every test
image is resized to one square size, compressed as JPEG, restored, and
scored. ``dci-cnn evaluate`` runs exactly this with ``--sizes``; this
example runs it on a folder of images written from ``skimage.data``, then
plots the table.

The numbers on the [Reproducing the paper](../../paper.md) page come from
the same command on the paper's test sets.
"""

import json
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
from skimage import data, io

from dci_cnn.cli import main as dci_cnn

# %%
# A folder of test images
# -----------------------
# Six photos and scans that ship with scikit-image, saved as PNG. The
# evaluation scores gray images (the gray model), converting colour files
# with the ITU-R 601 luma weights.

scratch = tempfile.TemporaryDirectory(prefix="dci-cnn-eval-")  # removed at the end
folder = Path(scratch.name)
for name in ["camera", "astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry"]:
    io.imsave(folder / f"{name}.png", getattr(data, name)(), check_contrast=False)

# %%
# Run the evaluate command
# ------------------------
# The same as typing, in a shell:
#
#     dci-cnn evaluate --data FOLDER --channels 1 --sizes 32 64 128 256 --quality 10 20 40 --json size.json
#
# It prints a Markdown table: for every (size, quality) the mean PSNR,
# SSIM, PSNR-B and MSE of the JPEG input and of the restored output (both
# rounded to 8 bits, as in the paper), and the seconds per image.

sizes, qualities = [32, 64, 128, 256], [10, 20, 40]
result = folder / "size.json"
dci_cnn(["evaluate", "--data", str(folder), "--channels", "1", "--sizes", *map(str, sizes),
         "--quality", *map(str, qualities), "--json", str(result)])

# %%
# PSNR gain against input size
# ----------------------------
# One line per JPEG quality: how many dB the network adds on average, for
# each input size. Below, the absolute PSNR-B, the blocking-aware metric of
# the paper's tables.

summary = json.loads(result.read_text())["summary"]
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
for q in qualities:
    rows = sorted((r for r in summary if r["quality"] == q), key=lambda r: r["size"])
    x = [r["size"] for r in rows]
    ax1.plot(x, [r["psnr_gain"] for r in rows], "o-", label=f"q={q}")
    line, = ax2.plot(x, [r["psnr_b_out"] for r in rows], "o-", label=f"q={q} restored")
    ax2.plot(x, [r["psnr_b_in"] for r in rows], "x--", color=line.get_color(), alpha=0.6, label=f"q={q} JPEG")
for ax in (ax1, ax2):
    ax.set_xscale("log", base=2)
    ax.set_xticks(sizes, [f"{s}x{s}" for s in sizes])
    ax.set_xlabel("input size (pixels)")
    ax.grid(alpha=0.3)
ax1.axhline(0, color="k", lw=0.8)
ax1.set_ylabel("PSNR gain (dB)")
ax1.set_title(f"mean PSNR gain over {summary[0]['images']} images")
ax1.legend(title="JPEG quality")
ax2.set_ylabel("PSNR-B (dB)")
ax2.set_title("PSNR-B of JPEG input (dashed) and output")
ax2.legend(fontsize=11, ncol=2)
plt.show()
scratch.cleanup()

# %%
# At 32 x 32 pixels an image is only 4 x 4 JPEG blocks: there is little
# context to tell an artifact from detail. The paper's point is that a
# convolutional network restores any size once trained; how much it gains
# at each size is what the table measures.
