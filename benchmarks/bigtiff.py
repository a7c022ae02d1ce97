"""Peak memory of restoring a TIFF file against its size: big files go tile by tile from disk.

``dci_cnn._restore_file.restore_file`` reads a series (a page or a stack)
of more than ``LARGE_PIXELS`` (64 MP) through tifffile's zarr store into dask,
restores it with the dask path of ``deblur`` and writes a tiled (BigTIFF
where needed) output one tile at a time. The target: peak RSS independent
of the file size beyond the tile working set.

Each file (a gray uint8 TIFF, JPEG-degraded astronaut mirrored to size,
written tile by tile) is restored in a fresh child process; peak RSS is
that process's ``VmHWM``.

* ``--cheap`` replaces the network by the identity (the pipeline alone:
  read, chunk, cast, write), so large sizes run in seconds;
* ``--threshold MP`` sets ``LARGE_PIXELS`` (default: the library's,
  64 MP; ``--threshold 0`` sends every size down the tiled path).

Examples
--------
    python benchmarks/bigtiff.py --cheap --threshold 0 --mp 16 64 256   # flat memory, pipeline only
    python benchmarks/bigtiff.py --cheap --mp 16 64                     # the in-memory path below 64 MP, for contrast
    python benchmarks/bigtiff.py --threshold 0 --mp 1 4                 # the real model (dci-unet-gray), tiled
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bench import child_entry, machine_line, rss_now_mb, rss_peak_mb, run_child, table, test_image

SCRIPT = Path(__file__).resolve()


def _identity(image, **_):
    """The network replaced by the identity, in deblur's conventions ([0, 1] floats; lazy for dask)."""
    return image.astype(np.float32) / np.float32(np.iinfo(image.dtype).max)


def _child(task):
    import dci_cnn._restore_file as rf

    if task["cheap"]:
        rf.deblur = _identity
    if task["threshold"] is not None:
        rf.LARGE_PIXELS = int(task["threshold"] * 1e6)
    before = rss_now_mb()
    t0 = time.perf_counter()
    rf.restore_file(task["source"], task["target"], model=task["model"])
    seconds = time.perf_counter() - t0
    import tifffile

    with tifffile.TiffFile(task["target"]) as tif:
        page = tif.pages[0]
        layout = f"{'BigTIFF' if tif.is_bigtiff else 'TIFF'}, {'tiles ' + str(page.tilewidth) if page.is_tiled else 'strips'}"
    return {"seconds": seconds, "peak_mb": rss_peak_mb(), "before_mb": before, "layout": layout,
            "tiled_path": series_pixels(task["source"]) > rf.LARGE_PIXELS}


def series_pixels(path):
    import tifffile

    with tifffile.TiffFile(path) as tif:
        return int(np.prod(tif.series[0].shape))


child_entry({"run": _child})


def write_test_tiff(path, megapixels, tile=512):
    """A gray uint8 TIFF of about ``megapixels`` MP, written tile by tile (never whole in memory)."""
    import tifffile

    base = test_image(1, channels=1)[:tile * 2, :tile * 2]
    side = max(tile, round(np.sqrt(megapixels * 1e6) / 16) * 16)

    def tiles():
        for y in range(0, side, tile):
            for x in range(0, side, tile):
                by, bx = (y // tile) % 2 * tile, (x // tile) % 2 * tile
                yield base[by : by + tile, bx : bx + tile]

    tifffile.imwrite(path, tiles(), shape=(side, side), dtype=np.uint8, tile=(tile, tile), bigtiff=side * side > 2**31)
    return side


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mp", type=float, nargs="+", default=[16, 64, 256], help="file sizes in megapixels")
    parser.add_argument("--cheap", action="store_true", help="identity instead of the network: the pipeline alone")
    parser.add_argument("--threshold", type=float, help="LARGE_PIXELS in MP (default: the library's, 64)")
    parser.add_argument("--model", default="dci-unet-gray", help="model for the real runs")
    parser.add_argument("--tmp", help="folder for the test files (default: a temporary folder)")
    args = parser.parse_args(argv)
    print(machine_line())
    print(f"network: {'identity (--cheap)' if args.cheap else args.model}; "
          f"threshold: {'library default (64 MP)' if args.threshold is None else f'{args.threshold:g} MP'}\n")
    rows = []
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        for mp in args.mp:
            source, target = Path(tmp) / f"in-{mp:g}.tif", Path(tmp) / f"out-{mp:g}.tif"
            side = write_test_tiff(source, mp)
            task = {"kind": "run", "source": str(source), "target": str(target), "cheap": args.cheap,
                    "threshold": args.threshold, "model": args.model}
            result = run_child(SCRIPT, task)
            if "error" in result:
                rows.append([f"{side}²", side * side / 1e6, source.stat().st_size / 1e6, "–", "–", "–", "–",
                             result["error"]])
            else:
                rows.append([f"{side}²", side * side / 1e6, source.stat().st_size / 1e6,
                             "tiles from disk" if result["tiled_path"] else "in memory",
                             result["peak_mb"], result["peak_mb"] - result["before_mb"], result["seconds"],
                             result["layout"]])
            source.unlink()
            target.unlink(missing_ok=True)
    print(table(["image", "MP", "file MB", "path", "peak RSS MB", "beyond start MB", "seconds", "output"], rows))


if __name__ == "__main__":
    main()
