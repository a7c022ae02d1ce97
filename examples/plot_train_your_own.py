"""
Train your own model in 30 seconds
==================================

The shipped models are trained on natural photos. For a particular kind of
image -- one microscope, one satellite sensor, scanned documents -- a model
trained on that kind of image can do better. ``dci-cnn train`` makes
(degraded, clean) pairs on the fly from a folder of clean images, so all it
needs is the folder.

This example writes a small folder of training images from
``skimage.data``, trains a deliberately small network for about 30 seconds
on the CPU and uses it. A useful model takes longer (thousands of steps,
see [the training guide](../../training.md)), but every step is the
same.
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
# ``--arch-args`` shrinks the default U-Net to a quarter of its width, and
# ``--time-limit`` stops training after half a minute (the run can be
# continued later with ``--resume``). ``--export`` writes the weights with
# their model card, ready for ``deblur(model=...)``.

run = work / "run"
weights = work / "my-model.safetensors"
train_main([
    "--data", str(folder), "--out", str(run), "--export", str(weights),
    "--channels", "1", "--degradation", "jpeg",
    "--arch", "dciunet", "--arch-args", '{"widths": [16, 32, 64], "blocks": [1, 1, 1]}',
    "--patch-size", "64", "--batch-size", "8", "--lr", "2e-3",
    "--steps", "2000", "--time-limit", "0.5", "--val-every", "25", "--val-images", "1",
    "--threads", "2", "--quiet", "--description", "gallery example: 30 s on skimage.data",
])

# %%
# The training log and the model card
# -----------------------------------
# ``log.csv`` holds the loss and the PSNR on held-out validation images
# (one of the folder's images, at JPEG quality 10 and 30) before and after
# the network.

with open(run / "log.csv") as fh:
    log = list(csv.DictReader(fh))
steps = [int(r["step"]) for r in log]
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.6), layout="constrained")
ax1.plot(steps, [float(r["loss"]) for r in log])
ax1.set_xlabel("step")
ax1.set_ylabel("training loss (Charbonnier)")
ax2.plot(steps, [float(r["val_psnr_in"]) for r in log], "--", label="JPEG input")
ax2.plot(steps, [float(r["val_psnr_out"]) for r in log], label="network output")
ax2.set_xlabel("step")
ax2.set_ylabel("validation PSNR (dB)")
ax2.legend()
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
    "my 30-second model": deblur(degraded, model=weights),
    "shipped dci-unet-gray": deblur(degraded),
    "original": clean,
}
crop = np.s_[60:220, 200:360]
fig, axes = plt.subplots(1, 4, figsize=(13, 3.9), layout="constrained")
for ax, (name, image) in zip(axes, outputs.items()):
    ax.imshow(image[crop], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    title = name if name == "original" else f"{name}\nPSNR {psnr(clean, image):.2f} dB, SSIM {ssim(clean, image):.3f}"
    ax.set_title(title, fontsize=9)
    ax.set_axis_off()
plt.show()
scratch.cleanup()

# %%
# To fine-tune from the shipped weights instead of starting from scratch,
# pass ``--init dci-unet-gray`` (the architecture arguments must then match
# the shipped model's).
