"""
Huge images in bounded memory: strips and dask
==============================================

A whole-slide scan or a satellite scene can be 100 000 pixels on a side --
far more than fits through a network at once. ``deblur`` never needs the
whole image in the network:

* **strips**: with ``tile_size`` (``"auto"`` by default), each plane runs
  down the network in strips of about ``tile_size ** 2 / 2`` pixels, every
  layer keeping the rows its next strip needs, so the result is *identical*
  to one pass over the whole image while the network's memory follows the
  tile size, not the image size;
* **dask**: given a dask array, ``deblur`` returns a lazy dask array. Chunks
  are restored as they are needed (with the same overlap), so an image
  that does not fit in memory can be streamed from one Zarr/TIFF store to
  another.

This example measures both on images built here, up to 8 megapixels (the
same code runs unchanged on images a hundred times larger; only the time
grows).
"""

# mkdocs_gallery_thumbnail_number = 1

import ctypes
import tempfile
import threading
import time
from pathlib import Path

import dask
import dask.array as da
import matplotlib.pyplot as plt
import numpy as np
import psutil
from skimage import data

from dci_cnn import deblur, load_model
from dci_cnn.degrade import jpeg

try:  # glibc: hand freed blocks back to the OS, so each measurement starts from what is really in use
    _libc = ctypes.CDLL("libc.so.6")
    _libc.mallopt(-3, 128 * 1024)  # M_MMAP_THRESHOLD: fixed, so large buffers are unmapped when freed
except (OSError, AttributeError):
    _libc = None


class PeakMemory:
    """Peak resident memory of this process while the block runs, above what it was before (MiB)."""

    def __enter__(self):
        if _libc is not None:
            _libc.malloc_trim(0)
        self.process = psutil.Process()
        self.start = self.peak = self.process.memory_info().rss
        self.running = True
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()
        return self

    def _watch(self):
        while self.running:
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.005)

    def __exit__(self, *exc):
        self.running = False
        self.thread.join()
        self.mib = (self.peak - self.start) / 2**20


# %%
# A large JPEG-damaged image
# --------------------------
# A 2048 x 2048 mosaic of scikit-image photos, JPEG-compressed at quality
# 15 as one file.

tiles = [data.camera(), data.moon(), (data.astronaut() @ [0.299, 0.587, 0.114]).astype(np.uint8), data.cell()[:512, :512]]
mosaic = np.block([[tiles[(i + j) % 4] for j in range(4)] for i in range(4)])  # 2048 x 2048
mosaic = np.roll(mosaic, (200, 200), axis=(0, 1))  # photo edges away from the chunk borders below
image = (jpeg(mosaic / 255.0, 15) * 255).round().astype(np.uint8)
print("image:", image.shape, image.dtype, f"{image.nbytes / 2**20:.0f} MiB")

model = load_model("dci-unet-gray")
print(f"receptive-field halo: {model.halo} px, size multiple: {model.spec.size_multiple}")

# %%
# Strips: the same result, less memory
# ------------------------------------
# The same 1024 x 1024 region restored in one pass (``tile_size=None``) and in
# strips of half a 512 x 512 tile's pixels (``tile_size=512``: 128-row strips
# of the full width). The results are compared pixel by pixel and the peak memory of
# each call is measured.

region = image[:1024, :1024]
runs = {}
for tile_size in (512, None):
    deblur(region[:64, :64], tile_size=tile_size)  # warm-up
    with PeakMemory() as mem:
        start = time.perf_counter()
        out = deblur(region, tile_size=tile_size)
        seconds = time.perf_counter() - start
    runs[tile_size] = (out, mem.mib, seconds)

reference = runs[None][0]
for tile_size, (out, mib, seconds) in runs.items():
    diff = np.abs(out - reference).max()
    print(f"tile_size={tile_size!s:5s} peak +{mib:6.0f} MiB  {seconds:5.2f} s  max |difference| to one pass: {diff:.2e}")

# %%
# Dask: a lazy restoration streamed to disk
# -----------------------------------------
# The 2048 x 2048 image becomes a dask array in 512 x 512 chunks, and a
# 2048 x 4096 one is made from it by repeating it twice, lazily. ``deblur``
# only builds a task graph; writing it to a Zarr store computes the chunks
# two at a time (one per CPU core), and only those chunks are ever in
# memory. The peak memory stays the same when the
# image grows. With ``dask.array.from_zarr`` or ``tifffile``'s Zarr
# interface the input would be read lazily from disk as well.

chunked = da.from_array(image, chunks=512)
dask_runs = {}
scratch = tempfile.TemporaryDirectory(prefix="dci-cnn-dask-")  # removed at the end
for reps in (1, 2):
    lazy_in = da.block([[chunked] * reps])  # nothing is copied
    lazy_out = deblur(lazy_in).astype(np.float32)
    store = Path(scratch.name) / f"restored-{reps}.zarr"
    with PeakMemory() as mem, dask.config.set(scheduler="threads", num_workers=2):
        start = time.perf_counter()
        lazy_out.to_zarr(str(store))
        seconds = time.perf_counter() - start
    restored = da.from_zarr(str(store))
    dask_runs[lazy_in.shape] = (mem.mib, restored.nbytes / 2**20)
    print(f"{lazy_in.shape}: dask -> zarr in {seconds:.1f} s ({lazy_in.size / seconds / 1e6:.1f} Mpixel/s), "
          f"peak +{mem.mib:.0f} MiB; the result is {restored.nbytes / 2**20:.0f} MiB")
print(lazy_out)

# The lazy result equals the in-memory one, also across chunk borders.
in_memory = deblur(image[600:1400, 600:1400])[100:700, 100:700]
print("max |dask - numpy| across chunk borders:", float(np.abs(restored[700:1300, 700:1300].compute() - in_memory).max()))

# %%
# Memory against tile size, and a look at the result
# --------------------------------------------------

fig, (ax0, ax1, ax2) = plt.subplots(1, 3, figsize=(13, 4.2), layout="constrained", width_ratios=[1.1, 1, 1])
labels = [("one pass" if t is None else f"strips, tile {t}") + "\n1 Mpx, numpy" for t in runs]
labels += [f"dask\n{h * w / 1e6:.0f} Mpx" for h, w in dask_runs]
peaks = [r[1] for r in runs.values()] + [m for m, _ in dask_runs.values()]
bars = ax0.bar(labels, peaks, color=["C0", "C3", "C2", "C2"])
for bar, (_, result_mib) in zip(bars[2:], dask_runs.values()):
    ax0.annotate(f"result:\n{result_mib:.0f} MiB", (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                 ha="center", va="bottom", fontsize=8)
ax0.set_ylabel("peak extra memory (MiB)")
ax0.set_ylim(0, max(peaks) * 1.3)
ax0.set_title("memory of deblur", fontsize=10)
ax0.tick_params(axis="x", labelsize=8)
view = np.s_[896:1152, 896:1152]  # where four chunks meet
ax1.imshow(image[view], cmap="gray", vmin=0, vmax=255, interpolation="nearest")
ax1.set_title("JPEG q=15 input (crop across chunk borders)", fontsize=9)
ax2.imshow(restored[view].compute(), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
ax2.set_title("restored with dask, chunk by chunk", fontsize=9)
for ax in (ax1, ax2):
    ax.axhline(127.5, color="yellow", lw=0.6, ls=":")
    ax.axvline(127.5, color="yellow", lw=0.6, ls=":")
    ax.set_axis_off()
plt.show()
scratch.cleanup()

# %%
# For images larger than memory, read lazily and write lazily, e.g.
# ``deblur(da.from_zarr("scan.zarr")).to_zarr("restored.zarr")``; with a
# ``dask.distributed`` cluster the chunks run on many machines (each worker
# loads the weights once). The dotted lines mark chunk borders: no seams.
