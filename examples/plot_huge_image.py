"""
Huge images in bounded memory: strips and dask
==============================================

A whole-slide scan or a satellite scene can be 100 000 pixels on a side.
You do not need to do anything special for it:

```python
restored = deblur(image)                                   # NumPy: streamed in strips
deblur(image, out=np.lib.format.open_memmap("restored.npy", "w+", np.float32, image.shape))
restored = deblur(da.from_zarr("scan.zarr"))               # dask: lazy, chunk by chunk
restored.astype("float32").to_zarr("restored.zarr")
```

* **NumPy**: each plane runs down the network in strips of about
  ``tile_size ** 2 / 2`` pixels (``tile_size="auto"``), every layer keeping
  the rows its next strip needs. The result is *identical* to one pass over
  the whole image, while the network's memory follows the tile size. What
  grows with the image is only the output (pass ``out=`` a float32 array or
  a memory map to keep that small too).
* **dask**: ``deblur`` returns a lazy array; chunks are restored with the
  overlap the network needs when they are computed, so an image that does not
  fit in memory streams from one Zarr store to another.

This example checks both on a 2048 x 2048 image built here.
"""

# mkdocs_gallery_thumbnail_number = 1

import tempfile
import threading
import time

import dask
import dask.array as da
import matplotlib.pyplot as plt
import numpy as np
import psutil
from skimage import data

from dci_cnn import deblur
from dci_cnn.degrade import jpeg


def peak_memory(call):
    """``call()``'s result, seconds and the peak extra resident memory of this process meanwhile (MiB)."""
    process, peak, running = psutil.Process(), [0], [True]
    start = process.memory_info().rss

    def watch():
        while running[0]:
            peak[0] = max(peak[0], process.memory_info().rss - start)
            time.sleep(0.005)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    t0 = time.perf_counter()
    result = call()
    seconds = time.perf_counter() - t0
    running[0] = False
    watcher.join()
    return result, seconds, peak[0] / 2**20


# %%
# A large JPEG-damaged image
# --------------------------
# A 2048 x 2048 mosaic of scikit-image photos, compressed at JPEG quality 15.

tiles = [data.camera(), data.moon(), (data.astronaut() @ [0.299, 0.587, 0.114]).astype(np.uint8), data.cell()[:512, :512]]
mosaic = np.block([[tiles[(i + j) % 4] for j in range(4)] for i in range(4)])
mosaic = np.roll(mosaic, (200, 200), axis=(0, 1))  # photo edges away from the chunk borders below
image = (jpeg(mosaic / 255.0, 15) * 255).round().astype(np.uint8)
print("image:", image.shape, image.dtype)

# %%
# Strips: the same result in less memory
# --------------------------------------
# A 1024 x 1024 region restored in one pass (``tile_size=None``) and in
# strips (``tile_size=512``: 128-row strips across the full width).
#
# **What the printed times mean.** In strips every activation is still
# computed exactly once: a strip carries the rows the next one needs instead
# of recomputing them, so the arithmetic is that of one pass. What costs time
# is the overhead per strip: each layer runs on a few rows at a time, in
# more, smaller calls, and on a busy machine those wait for the CPU more
# often. With a small tile like 512 that shows; the default
# (``tile_size="auto"``) keeps it small (see the
# [benchmarks](../../benchmarks.md)). Overlapping windows, the alternative
# used for ``self_ensemble=True``, would in addition recompute the network's
# receptive field around every window.

region = image[:1024, :1024]
runs = {}
for tile_size in (None, 512):
    deblur(region[:64, :64], tile_size=tile_size)  # warm-up: load the model once
    runs[tile_size] = peak_memory(lambda tile_size=tile_size: deblur(region, tile_size=tile_size))
for tile_size, (out, seconds, mib) in runs.items():
    diff = np.abs(out - runs[None][0]).max()
    label = "one pass" if tile_size is None else f"strips, tile_size={tile_size}"
    print(f"{label:24s} {seconds:5.2f} s, peak +{mib:4.0f} MiB, max |difference| to one pass: {diff:.1e}")
print(f"strips: {runs[512][1] / runs[None][1]:.1f} x the time and {runs[512][2] / max(runs[None][2], 1):.2f} x the memory of one pass")

# %%
# Dask: a lazy restoration streamed to Zarr
# -----------------------------------------
# The image becomes a dask array of 512 x 512 chunks; ``deblur`` only builds
# a task graph, and writing it to a Zarr store computes the chunks two at a
# time. The result equals the in-memory one, also across chunk borders.

lazy = deblur(da.from_array(image, chunks=512)).astype(np.float32)
with tempfile.TemporaryDirectory() as scratch, dask.config.set(scheduler="threads", num_workers=2):
    lazy.to_zarr(f"{scratch}/restored.zarr")
    restored = da.from_zarr(f"{scratch}/restored.zarr")[896:1152, 896:1152].compute()  # where four chunks meet
in_memory = deblur(image[600:1400, 600:1400])[296:552, 296:552]
print("max |dask - numpy| across chunk borders:", float(np.abs(restored - in_memory).max()))

fig, axes = plt.subplots(1, 2, figsize=(10, 5.2), layout="constrained")
for ax, im, title in [(axes[0], image[896:1152, 896:1152] / 255, "JPEG q=15 (crop where four chunks meet)"),
                      (axes[1], restored, "restored chunk by chunk with dask")]:
    ax.imshow(im, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.axhline(127.5, color="yellow", lw=1, ls=":")
    ax.axvline(127.5, color="yellow", lw=1, ls=":")
    ax.set_title(title, fontsize=13)
    ax.set_axis_off()
plt.show()

# %%
# The dotted lines mark the chunk borders: no seams. On a ``dask.distributed``
# cluster the chunks run on many machines, each worker loading the weights
# once. [Tiling and large images](../../user-guide/tiling.md) explains the
# options; the [benchmarks](../../benchmarks.md) measure speed and memory up
# to 64 megapixels.
