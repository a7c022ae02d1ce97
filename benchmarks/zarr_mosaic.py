"""Restore a gigapixel-scale mosaic from a zarr store into another zarr store, chunk by chunk, in bounded memory.

``deblur`` given a dask array returns a lazy dask array (``map_overlap``
with the network's receptive field as depth); writing it with
``to_zarr`` streams chunks: each is read with its halo, restored, trimmed
and written, and only a few chunks are in memory at any time. The same
script runs on one machine or on a cluster.

Steps:

1. unless ``--input`` names an existing store, a synthetic mosaic of
   ``--side`` x ``--side`` pixels (JPEG-degraded photographs, mirrored) is
   written chunk by chunk to ``<workdir>/mosaic.zarr``;
2. it is opened lazily (``dask.array.from_zarr``), restored lazily
   (``dci_cnn.deblur``) and written to ``<workdir>/restored.zarr``;
3. time, megapixels per second and the peak RSS of every process involved
   are printed.

Where it runs:

* default: this process, dask's threaded scheduler with ``--threads``
  threads (1: torch already uses every core inside one chunk);
* ``--local-cluster N``: a ``dask.distributed.LocalCluster`` with N worker
  processes (torch threads split between them);
* ``--scheduler tcp://HOST:8786``: an existing cluster (start one with
  ``dask scheduler`` and ``dask worker tcp://HOST:8786 --nthreads 1`` on each
  machine, with dci-cnn installed there). Input and output must then be
  paths every worker can open: a shared file system, or an object store URL
  such as ``s3://bucket/mosaic.zarr`` (needs ``s3fs``). Each worker loads the
  weights once and keeps them.

Examples
--------
    python benchmarks/zarr_mosaic.py --side 4096                 # quick, 17 MP
    python benchmarks/zarr_mosaic.py --side 32768                # 1.07 gigapixels
    python benchmarks/zarr_mosaic.py --side 16384 --local-cluster 2
    python benchmarks/zarr_mosaic.py --input /shared/scan.zarr --output /shared/scan-restored.zarr \\
        --scheduler tcp://10.0.0.5:8786
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bench import machine_line, rss_peak_mb, table


@functools.lru_cache(maxsize=2)
def _base(channels):
    from skimage import data
    from skimage.color import rgb2gray

    from dci_cnn.degrade import jpeg, to_uint8

    base = data.astronaut() / 255.0
    return to_uint8(jpeg(rgb2gray(base) if channels == 1 else base, 20))


def _mosaic_block(block_info=None, channels=1):
    """One chunk of the synthetic mosaic: the base image mirrored over the plane, by absolute position."""
    (y0, y1), (x0, x1) = block_info[None]["array-location"][:2]
    base = _base(channels)
    h, w = base.shape[:2]
    ys, xs = np.arange(y0, y1), np.arange(x0, x1)
    yi = np.where((ys // h) % 2 == 0, ys % h, h - 1 - ys % h)
    xi = np.where((xs // w) % 2 == 0, xs % w, w - 1 - xs % w)
    return base[yi[:, None], xi[None, :]]


def make_mosaic(path, side, chunk, channels):
    """Write a synthetic ``side`` x ``side`` uint8 mosaic to a zarr store, chunk by chunk."""
    import dask.array as da

    shape = (side, side) + ((3,) if channels == 3 else ())
    chunks = (chunk, chunk) + ((3,) if channels == 3 else ())
    lazy = da.map_blocks(_mosaic_block, dtype=np.uint8, chunks=da.core.normalize_chunks(chunks, shape), channels=channels)
    da.to_zarr(lazy, str(path), overwrite=True)


def _worker_peak_mb():
    return rss_peak_mb()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--side", type=int, default=32768, help="side of the synthetic mosaic in pixels (default 32768: 1.07 GP)")
    p.add_argument("--channels", type=int, default=1, choices=[1, 3], help="1: gray mosaic (microscopy), 3: RGB (aerial)")
    p.add_argument("--chunk", type=int, default=2048, help="zarr chunk side (default 2048)")
    p.add_argument("--input", help="existing zarr store (array at its root) to restore instead of the synthetic mosaic")
    p.add_argument("--output", help="zarr store to write (default <workdir>/restored.zarr)")
    p.add_argument("--workdir", help="folder for the synthetic mosaic and the output (default: a temporary folder)")
    p.add_argument("--model", help="model name or path (default: deblur's default for the channel count)")
    p.add_argument("--scheduler", help="address of a running dask.distributed scheduler, e.g. tcp://host:8786")
    p.add_argument("--local-cluster", type=int, metavar="N", help="start a LocalCluster with N worker processes")
    p.add_argument("--threads", type=int, default=1, help="threads of the local threaded scheduler (default 1)")
    p.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = p.parse_args(argv)

    import dask
    import dask.array as da

    from dci_cnn import deblur

    tmp = None
    if args.workdir:
        workdir = Path(args.workdir)
        workdir.mkdir(parents=True, exist_ok=True)
    else:
        tmp = tempfile.mkdtemp(prefix="dci-mosaic-")
        workdir = Path(tmp)
    print(f"# dci-cnn zarr mosaic\n\n{machine_line()}; started {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n")

    client = cluster = None
    if args.scheduler or args.local_cluster:
        from distributed import Client, LocalCluster

        if args.scheduler:
            client = Client(args.scheduler)
        else:
            import torch

            per_worker = max(1, torch.get_num_threads() // args.local_cluster)
            os.environ["OMP_NUM_THREADS"] = str(per_worker)  # inherited by the worker processes
            cluster = LocalCluster(n_workers=args.local_cluster, threads_per_worker=1, processes=True,
                                   dashboard_address=None, silence_logs=40)
            client = Client(cluster)
        where = f"dask.distributed, {len(client.scheduler_info()['workers'])} workers ({client.scheduler.address})"
    else:
        dask.config.set(scheduler="threads", num_workers=args.threads)
        where = f"this process, threaded scheduler with {args.threads} thread(s)"

    source = args.input
    made = None
    if source is None:
        source = str(workdir / "mosaic.zarr")
        t0 = time.perf_counter()
        make_mosaic(source, args.side, args.chunk, args.channels)
        made = time.perf_counter() - t0
    target = args.output or str(workdir / "restored.zarr")

    image = da.from_zarr(source)
    axis = -1 if image.ndim == 3 and image.shape[-1] in (3, 4) else None
    restored = deblur(image, model=args.model, channel_axis=axis)
    mp = image.shape[0] * image.shape[1] / 1e6
    t0 = time.perf_counter()
    da.to_zarr(restored.astype(np.float32), target, overwrite=True)
    seconds = time.perf_counter() - t0

    peaks = {"this process": rss_peak_mb()}
    if client is not None and cluster is not None:
        for addr, peak in client.run(_worker_peak_mb).items():
            peaks[f"worker {addr}"] = peak
    out = da.from_zarr(target)
    rows = [
        ["input", source, "×".join(map(str, image.shape)), str(image.dtype), "×".join(map(str, image.chunksize))],
        ["output", target, "×".join(map(str, out.shape)), str(out.dtype), "×".join(map(str, out.chunksize))],
    ]
    print(table(["", "store", "shape", "dtype", "chunks"], rows), "\n")
    print(table(["run on", "megapixels", "seconds", "s/MP", "MP/s"], [[where, mp, seconds, seconds / mp, mp / seconds]]), "\n")
    print(table(["process", "peak RSS MB"], [[k, v] for k, v in peaks.items()]))
    if made is not None:
        print(f"\n(writing the synthetic mosaic took {made:.1f} s, not counted above)")
    if client is not None:
        client.close()
    if cluster is not None:
        cluster.close()
    if tmp and not args.keep:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    elif tmp:
        print(f"\nkept {workdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
