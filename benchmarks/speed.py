"""Seconds per megapixel, peak RSS and achieved GFLOP/s of every shipped model, with peers on the same image.

Prints markdown tables:

1. the machine's compute limit: measured float32 and bf16 matmul rates;
2. each shipped model (and the paper's DCI-CNN with random weights when no
   paper weights ship) at 0.25, 1, 4, 16 and 64 MP: seconds, s/MP, achieved
   GFLOP/s (the model's nominal FLOPs of the image, without overlaps,
   divided by the time) and its share of the matmul rates, peak RSS of the
   process and its RSS beyond the process before the call and the output;
3. a summary: s/MP, the compute floor (FLOPs / matmul rate), how far from it,
   and linearity (largest per-MP deviation from the 1 MP figure up to the
   largest size);
4. tile sizes (default colour model);
5. peers on the same RGB image: scikit-image TV (Chambolle), non-local means
   (fast mode), Richardson-Lucy (30 iterations), and spandrel's FBCNN and a
   20-layer DnCNN with random weights.

Every cell is measured in a fresh child process. Run ``--quick`` for a
minute-long smoke run, nothing for the full run (several minutes on 2 cores).

Examples
--------
    python benchmarks/speed.py --quick
    python benchmarks/speed.py                        # full: 0.25 ... 64 MP
    python benchmarks/speed.py --sizes 1 4 --no-peers --no-tiles
    python benchmarks/speed.py --dtype float32        # force float32 on a bf16 CPU
    python benchmarks/speed.py --no-heap-reuse        # glibc's own malloc thresholds (see dci_cnn._heap)
    python benchmarks/speed.py --windows              # overlapping windows instead of strips
    python benchmarks/speed.py --repeat-all           # best of --repeat runs at every size (slower)
    python benchmarks/speed.py --rounds 3 --no-peers  # sizes interleaved in time: best of 3 sweeps per cell
    python benchmarks/speed.py --reuse-out            # into a preallocated float32 out= (no first touch of the output)
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import math
import os
import resource
import statistics
import sys
import tempfile
import time
import types
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bench import (
    child_entry,
    force_dtype,
    machine_line,
    matmul_rate,
    rss_now_mb,
    rss_peak_mb,
    run_child,
    table,
    test_image,
    used_dtype,
)

SCRIPT = Path(__file__).resolve()


# ----------------------------------------------------------------------------- children


def _deblur_child(task):
    import torch

    from dci_cnn import deblur, load_model

    force_dtype(task["dtype"])
    if not task.get("heap_reuse", True):
        os.environ["DCI_CNN_HEAP_REUSE"] = "0"  # the library's own switch (dci_cnn._heap)
    if task.get("windows"):
        os.environ["DCI_CNN_STREAMING"] = "0"  # overlapping windows instead of strips (dci_cnn._tiling)
    loaded = load_model(task["model"])
    channels = loaded.channels
    image = test_image(task["mp"], channels)
    axis = -1 if channels == 3 else None
    device = task.get("device", "cpu")
    deblur(image[:256, :256], model=loaded, channel_axis=axis, tile_size=task["tile"], device=device)  # load, warm up
    base = rss_now_mb()
    best, out, faults = float("inf"), None, 0
    kept = np.ones(image.shape, np.float32) if task.get("reuse_out") else None  # written once: its pages are mapped
    for _ in range(task["repeat"]):
        out = None
        before, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        out = deblur(image, model=loaded, channel_axis=axis, tile_size=task["tile"], device=device, out=kept)
        seconds, after = time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF)
        if seconds < best:
            best, faults = seconds, after.ru_minflt - before.ru_minflt
    pixels = image.shape[0] * image.shape[1]
    return {
        "seconds": best,
        "faults": faults,
        "mp": pixels / 1e6,
        "flops": loaded.flops_per_pixel * pixels,
        "peak_mb": rss_peak_mb(),
        "base_mb": base,
        "out_mb": out.nbytes / 1e6,
        "in_mb": image.nbytes / 1e6,
        "dtype": used_dtype(device),
        "threads": torch.get_num_threads(),
    }


def _import_spandrel_arch(module, cls):
    """An architecture class from spandrel, without importing ``spandrel`` itself when that fails.

    ``import spandrel`` imports every architecture, some of which need
    torchvision; a torchvision built for another torch fails to import. The
    architecture modules themselves only need torch, so the packages above
    them are stubbed (their ``__init__`` is skipped) when the plain import fails.
    """
    if importlib.util.find_spec("spandrel") is None:
        raise ImportError("spandrel is not installed (pip install spandrel)")
    try:
        import spandrel  # noqa: F401

        return getattr(importlib.import_module(module), cls), "spandrel"
    except Exception:  # noqa: BLE001 - RuntimeError from a mismatched torchvision, or no torchvision
        for name in list(sys.modules):
            if name == "spandrel" or name.startswith("spandrel."):
                del sys.modules[name]
        parts = module.split(".")
        for i in range(1, len(parts) - 1):
            name = ".".join(parts[:i])
            spec = importlib.util.find_spec(name)
            stub = types.ModuleType(name)
            stub.__path__ = list(spec.submodule_search_locations)
            stub.__spec__ = spec
            sys.modules[name] = stub
        return getattr(importlib.import_module(module), cls), "spandrel (arch module only; torchvision unusable)"


def _flops_per_pixel(module, channels, side=64):
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter, torch.inference_mode():
        module(torch.zeros(1, channels, side, side))
    return counter.get_total_flops() / side**2


def _peer_child(task):
    import torch

    image = test_image(task["mp"], 3) / np.float32(255)
    name, note, flops = task["name"], "", float("nan")
    if name in ("fbcnn", "dncnn20"):
        force_dtype(task["dtype"])
        if name == "fbcnn":
            arch, how = _import_spandrel_arch("spandrel.architectures.FBCNN.__arch.FBCNN", "FBCNN")
            module = arch()
        else:
            arch, how = _import_spandrel_arch("spandrel.architectures.DnCNN.__arch.network_dncnn", "DnCNN")
            module = arch(in_nc=3, out_nc=3, nb=20)
        module = module.eval()
        flops = _flops_per_pixel(module, 3)
        module = module.to(memory_format=torch.channels_last)
        dtype = used_dtype()
        note = f"{how}, random weights, {sum(p.numel() for p in module.parameters()) / 1e6:.1f} M params, {dtype}, one pass"
        autocast = None if dtype == "float32" else getattr(torch, dtype)

        def run(x):
            t = torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))[None].contiguous(memory_format=torch.channels_last)
            with torch.inference_mode(), torch.autocast("cpu", dtype=autocast or torch.bfloat16, enabled=autocast is not None):
                y = module(t)
            y = y[0] if isinstance(y, tuple) else y
            return y[0].float().permute(1, 2, 0).numpy()

        run(image[:64, :64])
    else:
        from scipy.signal.windows import gaussian
        from skimage.restoration import denoise_nl_means, denoise_tv_chambolle, richardson_lucy

        if name == "tv":
            note = "denoise_tv_chambolle(weight=0.1, channel_axis=-1)"

            def run(x):
                return denoise_tv_chambolle(x, weight=0.1, channel_axis=-1)
        elif name == "nlm":
            note = "denoise_nl_means(h=0.05, fast_mode=True, patch_size=7, patch_distance=11, channel_axis=-1)"

            def run(x):
                return denoise_nl_means(x, h=0.05, fast_mode=True, patch_size=7, patch_distance=11, channel_axis=-1)
        elif name == "rl":
            g = gaussian(7, 1.0)
            psf = np.outer(g, g).astype(np.float32)
            psf /= psf.sum()
            note = "richardson_lucy(num_iter=30), 7x7 Gaussian PSF, per channel"

            def run(x):
                return np.stack([richardson_lucy(x[..., c], psf, num_iter=30) for c in range(3)], axis=-1)
        else:
            raise ValueError(name)
    base = rss_now_mb()
    t0 = time.perf_counter()
    out = run(image)
    seconds = time.perf_counter() - t0
    pixels = image.shape[0] * image.shape[1]
    return {
        "seconds": seconds,
        "mp": pixels / 1e6,
        "flops": flops * pixels,
        "peak_mb": rss_peak_mb(),
        "base_mb": base,
        "out_mb": np.asarray(out).nbytes / 1e6,
        "note": note,
    }


child_entry({"deblur": _deblur_child, "peer": _peer_child})


# ----------------------------------------------------------------------------- parent


def _paper_random(folder):
    """The paper's DCI-CNN (RGB) with random weights, saved like a shipped model; its path."""
    import torch

    from dci_cnn.models import build_model
    from dci_cnn.weights import save_weights

    torch.manual_seed(0)
    module = build_model("dcicnn", channels=3)
    path = Path(folder) / "dcicnn-paper-random.safetensors"
    save_weights(module, path, {"architecture": "dcicnn", "arguments": {"channels": 3}, "description": "random weights, timing only"})
    return str(path)


def _gflops(r):
    return r["flops"] / r["seconds"] / 1e9 if r.get("flops") == r.get("flops") else float("nan")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="small sizes only (0.25 and 1 MP), peers at 0.25 MP")
    p.add_argument("--sizes", type=float, nargs="+", help="megapixels for the shipped models (default 0.25 1 4 16 64)")
    p.add_argument("--paper-sizes", type=float, nargs="*", help="megapixels for the paper net (default 0.25 1 4; it is ~7x slower)")
    p.add_argument("--models", nargs="*", help="model names or .safetensors paths (default: all shipped)")
    p.add_argument("--tile-size", type=int, default=None, help="tile size for the size table (default: deblur's default)")
    p.add_argument("--tiles", type=int, nargs="*", help="tile sizes to compare (default 256 512 1024 2048)")
    p.add_argument("--tile-mp", type=float, help="image size for the tile table (default 4 MP, quick 1 MP)")
    p.add_argument("--peer-mp", type=float, help="image size for the peers (default 1 MP, quick 0.25 MP)")
    p.add_argument("--no-peers", action="store_true")
    p.add_argument("--no-tiles", action="store_true")
    p.add_argument("--dtype", default="auto", choices=["auto", "float32", "bfloat16"], help="autocast precision (auto: deblur's choice)")
    p.add_argument("--device", default="cpu", help="device for the dci-cnn rows, e.g. cuda (peers stay on the CPU)")
    p.add_argument("--no-heap-reuse", action="store_true", help="leave glibc's malloc thresholds alone (DCI_CNN_HEAP_REUSE=0)")
    p.add_argument("--windows", action="store_true", help="overlapping windows instead of strips (DCI_CNN_STREAMING=0)")
    p.add_argument("--repeat", type=int, default=2, help="runs per cell up to 4 MP, best kept (1 above 4 MP)")
    p.add_argument("--repeat-all", action="store_true",
                   help="repeat every cell, also above 4 MP (the first run of a size pays one-off costs)")
    p.add_argument("--reuse-out", action="store_true",
                   help="deblur into a float32 array allocated and written before the clock starts (out=), "
                        "so the time leaves out the first touch of a fresh output array")
    p.add_argument("--rounds", type=int, default=1,
                   help="sweep all sizes this many times, round-robin, and keep each cell's fastest round")
    args = p.parse_args(argv)
    if args.rounds < 1:
        p.error(f"--rounds must be at least 1, got {args.rounds}")

    import inspect

    import torch

    from dci_cnn import deblur, list_models, load_model

    default_tile = inspect.signature(deblur).parameters["tile_size"].default
    tile = args.tile_size or default_tile
    sizes = args.sizes or ([0.25, 1] if args.quick else [0.25, 1, 4, 16, 64])
    paper_sizes = args.paper_sizes if args.paper_sizes is not None else ([0.25] if args.quick else [0.25, 1, 4])
    tiles = args.tiles or ([512, 1024] if args.quick else [256, 512, 1024, 2048])
    tile_mp = args.tile_mp or (1 if args.quick else 4)
    peer_mp = args.peer_mp or (0.25 if args.quick else 1)
    force_dtype(args.dtype)
    dtype = used_dtype(args.device)

    print(f"# dci-cnn speed benchmark\n\n{machine_line()}; started {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n")
    rates = {"float32": matmul_rate(torch.float32, device=args.device),
             "bfloat16": matmul_rate(torch.bfloat16, device=args.device)}
    if args.device.startswith("cuda"):
        rates["float16"] = matmul_rate(torch.float16, device=args.device)
    print(f"## Compute limit on {args.device} (square matmul, best of 0.5 s runs)\n")
    print(table(["dtype", "GFLOP/s"], [[k, v] for k, v in rates.items()]))
    from dci_cnn.devices import default_tile_size

    shown = f"{tile} ({default_tile_size(torch.device('cpu'))} on the CPU)" if tile == "auto" else tile
    heap = ("glibc defaults (--no-heap-reuse)" if args.no_heap_reuse
            else "freed buffers reused (dci_cnn._heap)")
    layout = "overlapping windows (--windows)" if args.windows else "strips (windows for the self-ensemble)"
    output = "a float32 out= array written before timing (--reuse-out)" if args.reuse_out else "a fresh array (float64 for uint8)"
    print(f"\ndeblur autocast on {args.device}: **{dtype}**; tile size {shown}; {layout}; heap: {heap}; output: {output}\n",
          flush=True)

    tmp = tempfile.TemporaryDirectory()
    models = args.models or list_models()
    jobs = [(m, sizes) for m in models]
    if args.models is None and not any(load_model(m).spec.name == "dcicnn" for m in models) and paper_sizes:
        jobs.append((_paper_random(tmp.name), paper_sizes))

    print("## Seconds per megapixel\n")
    print("GFLOP/s counts the model's FLOPs of the image (overlaps excluded) over the wall time. "
          "RSS beyond: peak RSS minus the process before the call (interpreter, torch, weights, input) minus the output array; "
          "page faults: minor faults of the timed run (memory the kernel had to map in). "
          f"Each cell: best of {args.repeat} run(s) up to 4 MP{' and above' if args.repeat_all else ', one run above'}, "
          f"fastest of {args.rounds} round-robin sweep(s).\n")
    headers = ["model", "MP", "seconds", "s/MP", "GFLOP/s", "% fp32 peak", "% bf16 peak", "peak RSS MB", "RSS beyond MB",
               "page faults/MP"]
    # how every dci-cnn child runs deblur (the size table, the tile table and the peers' dci-cnn row)
    deblur_task = {"kind": "deblur", "dtype": args.dtype, "heap_reuse": not args.no_heap_reuse, "windows": args.windows,
                   "reuse_out": args.reuse_out}
    cells = [(Path(model).stem if model.endswith(".safetensors") else model, model, mp) for model, mps in jobs for mp in mps]
    best = {}  # (name, mp) -> the fastest round's result, or an error when no round succeeded
    for _ in range(args.rounds):  # round-robin: a slow spell of the machine hits every size alike
        for name, model, mp in cells:
            r = run_child(SCRIPT, {**deblur_task, "model": model, "mp": mp, "tile": tile, "device": args.device,
                                   "repeat": args.repeat if mp <= 4 or args.repeat_all else 1})
            if "error" not in r:
                print(f"  {name} {mp} MP: {r['seconds'] / r['mp']:.3f} s/MP", file=sys.stderr, flush=True)
            best[name, mp] = min(best.get((name, mp), r), r, key=lambda x: x.get("seconds", math.inf))
    rows, results = [], {}
    for name, _, mp in cells:
        r = best[name, mp]
        if "error" in r:
            rows.append([name, mp, "error: " + r["error"]] + [""] * (len(headers) - 3))
            continue
        results.setdefault(name, []).append(r)
        g = _gflops(r)
        rows.append([name, round(r["mp"], 2), r["seconds"], r["seconds"] / r["mp"], g, 100 * g / rates["float32"],
                     100 * g / rates["bfloat16"], r["peak_mb"], r["peak_mb"] - r["base_mb"] - r["out_mb"],
                     round(r["faults"] / r["mp"])])
    print(table(headers, rows), "\n", flush=True)

    print("## Summary against the compute floor\n")
    print("floor = FLOPs per MP / matmul rate (the spec's floor uses the bf16 rate); "
          "linearity = largest |s/MP ÷ s/MP at 1 MP − 1| over sizes ≥ 1 MP.\n")
    srows = []
    for name, rs in results.items():
        big = [r for r in rs if r["mp"] >= 0.9]
        spm = {round(r["mp"]): r["seconds"] / r["mp"] for r in big}
        ref = spm.get(1) or (next(iter(spm.values())) if spm else float("nan"))
        lin = max((abs(v / ref - 1) for v in spm.values()), default=float("nan"))
        fpp = rs[0]["flops"] / rs[0]["mp"] / 1e9  # GFLOP per MP
        med = statistics.median(spm.values()) if spm else rs[-1]["seconds"] / rs[-1]["mp"]
        floor32, floor16 = fpp / rates["float32"], fpp / rates["bfloat16"]
        srows.append([name, rs[0]["dtype"], fpp, med, floor32, floor16, med / floor16, f"{100 * lin:.1f} %",
                      f"{min(r['mp'] for r in rs):.2g}–{max(r['mp'] for r in rs):.2g}"])
    print(table(["model", "dtype", "GFLOP/MP", "median s/MP", "floor fp32 s/MP", "floor bf16 s/MP", "× bf16 floor",
                 "linearity", "MP range"], srows), "\n", flush=True)

    if not args.no_tiles:
        from dci_cnn.weights import DEFAULT_MODELS

        print(f"## Tile size ({DEFAULT_MODELS[3]}, {tile_mp} MP RGB)\n")
        trows = []
        for t in tiles:
            r = run_child(SCRIPT, {**deblur_task, "model": DEFAULT_MODELS[3], "mp": tile_mp, "tile": t,
                                   "repeat": args.repeat, "device": args.device})
            if "error" in r:
                trows.append([t, "error: " + r["error"], "", "", ""])
                continue
            trows.append([t, r["seconds"] / r["mp"], _gflops(r), r["peak_mb"], r["peak_mb"] - r["base_mb"] - r["out_mb"]])
        print(table(["tile", "s/MP", "GFLOP/s", "peak RSS MB", "RSS beyond MB"], trows), "\n", flush=True)

    if not args.no_peers:
        from dci_cnn.weights import DEFAULT_MODELS

        print(f"## Peers on the same {peer_mp} MP RGB image\n")
        prow = []
        for model in [DEFAULT_MODELS[3]] + [m for m, _ in jobs if m.endswith(".safetensors")]:
            name = Path(model).stem if model.endswith(".safetensors") else model
            r = run_child(SCRIPT, {**deblur_task, "model": model, "mp": peer_mp, "tile": tile, "repeat": 1})
            if "error" not in r:
                prow.append([name, r["seconds"], r["seconds"] / r["mp"], _gflops(r), r["peak_mb"], f"dci-cnn deblur, {r['dtype']}"])
        for peer in ["tv", "nlm", "rl", "fbcnn", "dncnn20"]:
            r = run_child(SCRIPT, {"kind": "peer", "name": peer, "mp": peer_mp, "dtype": args.dtype})
            label = {"tv": "TV Chambolle", "nlm": "NL-means (fast)", "rl": "Richardson-Lucy 30 it", "fbcnn": "FBCNN",
                     "dncnn20": "DnCNN-20"}[peer]
            if "error" in r:
                prow.append([label, "–", "–", "–", "–", "unavailable: " + r["error"]])
                continue
            prow.append([label, r["seconds"], r["seconds"] / r["mp"], _gflops(r), r["peak_mb"], r["note"]])
            print(f"  {label}: {r['seconds']:.2f} s", file=sys.stderr, flush=True)
        print(table(["method", "seconds", "s/MP", "GFLOP/s", "peak RSS MB", "notes"], prow), "\n", flush=True)
    print(f"finished {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; load average now {__import__('os').getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
