"""Peak memory of ``deblur`` on a large uint8 image (RGB, or gray for a gray model), beyond its input and output arrays.

Target: a 100-megapixel RGB uint8 image restored with at most 1.5 GB of
resident memory beyond the input (300 MB) and the output (float64, 2.4 GB).
Strips are read from the input and written straight into the preallocated
output, so the working set follows the tile size, not the image size.

Each configuration runs in a fresh child process; peak RSS is that process's
``VmHWM``. Two figures are printed:

* **beyond input + output**: peak RSS − input bytes − output bytes (this
  still contains the interpreter, torch and the weights, ~0.3-0.4 GB);
* **working set**: peak RSS − RSS just before the call − output bytes,
  i.e. what restoring costs on top of an already loaded model and input.

Examples
--------
    python benchmarks/memory.py                 # 100 MP, the default tile size
    python benchmarks/memory.py --mp 4          # quick
    python benchmarks/memory.py --tiles 512 1024 2048
    python benchmarks/memory.py --repeat 3      # peak RSS varies between runs: the verdict takes the worst
    DCI_CNN_STREAMING=0 python benchmarks/memory.py    # overlapping windows
    DCI_CNN_HEAP_REUSE=0 python benchmarks/memory.py   # glibc's own malloc thresholds
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bench import (
    child_entry,
    force_dtype,
    machine_line,
    rss_now_mb,
    rss_peak_mb,
    run_child,
    table,
    test_image,
    used_dtype,
)

SCRIPT = Path(__file__).resolve()
TARGET_MB = 1500


def _child(task):
    from dci_cnn import deblur, load_model

    force_dtype(task["dtype"])
    loaded = load_model(task["model"])
    axis = -1 if loaded.channels == 3 else None
    deblur(test_image(0.05, loaded.channels), model=loaded, channel_axis=axis)  # load and warm up on a small image
    before_input = rss_now_mb()
    image = test_image(task["mp"], loaded.channels)
    before_call = rss_now_mb()
    t0 = time.perf_counter()
    out = deblur(image, model=loaded, channel_axis=axis, tile_size=task["tile"])
    seconds = time.perf_counter() - t0
    return {
        "mp": image.shape[0] * image.shape[1] / 1e6,
        "shape": list(image.shape),
        "seconds": seconds,
        "peak_mb": rss_peak_mb(),
        "before_input_mb": before_input,
        "before_call_mb": before_call,
        "in_mb": image.nbytes / 1e6,
        "out_mb": out.nbytes / 1e6,
        "out_dtype": str(out.dtype),
        "dtype": used_dtype(),
    }


child_entry({"run": _child})


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mp", type=float, default=100, help="megapixels of the test image, RGB or gray as the model (default 100)")
    p.add_argument("--tiles", type=int, nargs="+", help="tile sizes (default: deblur's default)")
    p.add_argument("--model", default=None, help="model (default: the default colour model)")
    p.add_argument("--dtype", default="auto", choices=["auto", "float32", "bfloat16"])
    p.add_argument("--repeat", type=int, default=1, help="runs per tile size, each in a fresh process (default 1)")
    args = p.parse_args(argv)
    if args.repeat < 1:
        p.error(f"--repeat must be at least 1, got {args.repeat}")

    import inspect

    from dci_cnn import deblur
    from dci_cnn.weights import DEFAULT_MODELS, model_card

    model = args.model or DEFAULT_MODELS[3]
    plane = "RGB" if model_card(model)["arguments"].get("channels", 1) == 3 else "gray"
    tiles = args.tiles or [inspect.signature(deblur).parameters["tile_size"].default]
    print(f"# dci-cnn memory benchmark\n\n{machine_line()}; started {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n")
    rows, ok = [], []
    for tile in [t for t in tiles for _ in range(args.repeat)]:
        r = run_child(SCRIPT, {"kind": "run", "model": model, "mp": args.mp, "tile": tile, "dtype": args.dtype})
        if "error" in r:
            rows.append([tile, "error: " + r["error"]] + [""] * 8)
            continue
        beyond = r["peak_mb"] - r["in_mb"] - r["out_mb"]
        working = r["peak_mb"] - r["before_call_mb"] - r["out_mb"]
        ok.append(beyond <= TARGET_MB)
        rows.append([tile, "×".join(map(str, r["shape"])), r["dtype"], r["in_mb"], f"{r['out_mb']:.0f} ({r['out_dtype']})",
                     r["peak_mb"], r["before_input_mb"], beyond, working, r["seconds"]])
    print(f"## {model}, {args.mp:g} MP {plane} uint8\n")
    print(table(["tile", "image", "autocast", "input MB", "output MB", "peak RSS MB", "process before input MB",
                 "beyond input + output MB", "working set MB", "seconds"], rows))
    verdict = "met" if ok and all(ok) else "missed"
    print(f"\nTarget ≤ {TARGET_MB} MB beyond input + output: **{verdict}**.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
