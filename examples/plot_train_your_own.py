"""
Train your own model: fine-tune in 30 seconds
=============================================

The shipped models are trained on natural photos. For a particular kind of
image -- one microscope, one satellite sensor, scanned documents -- a model
trained on that kind of image can do better. ``dci-cnn train`` makes
(degraded, clean) pairs on the fly from a folder of clean images, so all it
needs is the folder.

This example writes a small folder of training images from
``skimage.data`` and **fine-tunes** the shipped gray model on it for about
30 seconds on the CPU: starting from trained weights, the model restores
JPEG images well from its first step, and every step adapts it to the new
images. Training from scratch (leave out ``--init``) is the same command but
needs thousands of steps, hours on a CPU, before it matches the shipped
model; see [the training guide](../../training.md).
"""

# mkdocs_gallery_thumbnail_number = 2

import csv
import json
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from skimage import data, io
from skimage.color import rgb2gray
from skimage.util import img_as_ubyte

from dci_cnn import deblur, load_model
from dci_cnn.degrade import jpeg
from dci_cnn.metrics import psnr, ssim
from dci_cnn.train import main as train_main

scratch = tempfile.TemporaryDirectory(prefix="dci-cnn-train-")  # removed at the end
work = Path(scratch.name)

# %%
# A folder of clean images
# ------------------------
# Any folder of PNG, TIFF or (good-quality) JPEG files works; sub-folders
# are searched too. Here: a few gray images that ship with scikit-image.
# ``camera`` is kept out, to test on.

folder = work / "images"
folder.mkdir()
sources = {
    "astronaut": data.astronaut(), "coffee": data.coffee(), "chelsea": data.chelsea(), "rocket": data.rocket(),
    "immunohistochemistry": data.immunohistochemistry(), "hubble": data.hubble_deep_field(),
    "coins": data.coins(), "moon": data.moon(), "page": data.page(), "cell": data.cell(),
}
for name, image in sources.items():
    gray = image if image.ndim == 2 else img_as_ubyte(rgb2gray(image))
    io.imsave(folder / f"{name}.png", gray, check_contrast=False)
print(sorted(p.name for p in folder.iterdir()))

# %%
# Train
# -----
# The same arguments as the command line:
#
#     dci-cnn train --data images --out run --degradation jpeg ...
#
# ``--init dci-unet-gray`` starts from the shipped weights (``--arch-args``
# must then describe the same network: its card's ``arguments``), with a
# small learning rate so that fine-tuning adapts rather than overwrites.
# ``--steps 60`` is a token run (``--time-limit`` stops it after half a
# minute on a slow machine; a run can be continued with ``--resume``). ``--export`` writes the weights with
# their model card, ready for ``deblur(model=...)``.

run = work / "run"
weights = work / "my-model.safetensors"
train_main([
    "--data", str(folder), "--out", str(run), "--export", str(weights),
    "--channels", "1", "--degradation", "jpeg",
    "--arch", "dciunet", "--arch-args", json.dumps({"blocks": load_model("dci-unet-gray").card["arguments"]["blocks"]}),
    "--init", "dci-unet-gray", "--patch-size", "48", "--batch-size", "4", "--lr", "1e-4",
    "--steps", "60", "--time-limit", "0.5", "--val-every", "10", "--val-images", "1",
    "--threads", "2", "--quiet", "--description", "gallery example: dci-unet-gray fine-tuned 30 s on skimage.data",
])

# %%
# The training log and the model card
# -----------------------------------
# ``log.csv`` holds the training loss (noisy from batch to batch in so short
# a run) and the PSNR on a held-out validation image (one of the folder's
# images, at JPEG quality 10 and 30) before and after the network.

with open(run / "log.csv") as fh:
    log = list(csv.DictReader(fh))
steps = [int(r["step"]) for r in log]
fig, ax = plt.subplots(figsize=(8, 4), layout="constrained")
ax.plot(steps, [float(r["val_psnr_in"]) for r in log], "--", label="JPEG input")
ax.plot(steps, [float(r["val_psnr_out"]) for r in log], "o-", label="network output")
ax.set_xlabel("step", fontsize=12)
ax.set_ylabel("validation PSNR (dB)", fontsize=12)
ax.set_title("The gap is the gain: kept while the model adapts", fontsize=13)
ax.legend(fontsize=12)
plt.show()

card = load_model(weights).card
print(json.dumps({k: card[k] for k in ("name", "architecture", "arguments", "parameters")}, indent=1))
print("steps:", card["training"]["step"], " wall time (s):", card["training"]["wall_time_s"])

# %%
# Use it
# ------
# A path to the ``.safetensors`` file (its ``.json`` card beside it) works
# wherever a model name does: ``deblur(..., model=path)``, ``dci-cnn deblur
# --model path``, the napari widget.

clean = data.camera() / 255.0
degraded = jpeg(clean, 10)
outputs = {
    "JPEG q=10": degraded,
    "fine-tuned, 60 steps": deblur(degraded, model=weights),
    "shipped dci-unet-gray": deblur(degraded),
    "original": clean,
}
crop = np.s_[60:220, 200:360]
fig, axes = plt.subplots(2, 2, figsize=(10, 10.6), layout="constrained")
for ax, (name, image) in zip(axes.flat, outputs.items()):
    ax.imshow(image[crop], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    title = name if name == "original" else f"{name}\nPSNR {psnr(clean, image):.2f} dB, SSIM {ssim(clean, image):.3f}"
    ax.set_title(title, fontsize=13)
    ax.set_axis_off()
plt.show()
scratch.cleanup()

# %%
# Half a minute cannot teach the shipped model much: what it shows is the
# workflow, and that fine-tuning keeps the gain the shipped weights bring.
# For real use, give it a folder of your own clean images and more time
# (``--time-limit 60`` for an hour), then compare with ``dci-cnn evaluate
# --model my-model.safetensors --data my-test-images/``.
