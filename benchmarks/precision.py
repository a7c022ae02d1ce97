"""What bf16 autocast costs in PSNR against float32, on Kodak24 (evaluation data only), and what it gains in speed.

With ``--reference DIR`` it measures instead what storing the weights as
float16 costs: each model against the same-named float32 weights in ``DIR``
(e.g. ``git show c11ac03:weights/NAME.safetensors``), both run in float32.

``deblur`` autocasts to bfloat16 on CPUs where it is faster (AMX, or
AVX512-BF16 on AMD, see :func:`dci_cnn.devices.cpu_has_fast_bf16`); the spec keeps
it only if it costs at most 0.02 dB PSNR on Kodak24. On other CPUs bf16
is slower than float32 (emulated, or without AMX on Intel), so the
comparison is skipped unless ``--force`` is given.

Examples
--------
    python benchmarks/precision.py --data kodak24/
    python benchmarks/precision.py --limit 4              # quick: first 4 images
    python benchmarks/precision.py --force                # run even without native bf16
    python benchmarks/precision.py --reference float32-weights/ --data ../shared/data/eval/cbsd68 --limit 8
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bench import force_dtype, machine_line, table

BUDGET_DB = 0.02


def _restore(image, loaded, axis, dtype):
    from dci_cnn import deblur

    force_dtype(dtype)
    t0 = time.perf_counter()
    out = deblur(image, model=loaded, channel_axis=axis)
    return out, time.perf_counter() - t0


def main(argv=None):
    root = Path(__file__).resolve().parents[1]
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=str(root.parent / "shared/data/eval/kodak24"), help="folder of Kodak24 PNGs")
    p.add_argument("--models", nargs="*", help="models (default: the shipped ones; gray models get the luminance)")
    p.add_argument("--quality", type=int, nargs="+", default=[10, 30], help="JPEG qualities of the degraded inputs")
    p.add_argument("--degradation", default="jpeg", choices=["jpeg", "compound"])
    p.add_argument("--limit", type=int, help="only the first N images")
    p.add_argument("--force", action="store_true", help="compare even where bf16 is emulated (slow)")
    p.add_argument("--reference", type=Path,
                   help="folder of float32 weights (NAME.safetensors + NAME.json): compare the stored float16 weights "
                        "against them, both in float32, instead of bf16 against float32")
    p.add_argument("--crop", type=int, help="only the central N x N pixels of each image")
    args = p.parse_args(argv)

    from PIL import Image
    from skimage.color import rgb2gray

    from dci_cnn import list_models, load_model
    from dci_cnn.devices import cpu_has_fast_bf16
    from dci_cnn.evaluate import degrade_for_eval
    from dci_cnn.metrics import psnr

    stored = args.reference is not None
    print(f"# {'float16-stored vs float32 weights' if stored else 'bf16 vs float32'} on {Path(args.data).name}\n\n"
          f"{machine_line()}\n")
    if not stored and not cpu_has_fast_bf16() and not args.force:
        print("bf16 is not faster than float32 on this CPU (no AMX, and not an AMD CPU with AVX512-BF16), "
              "so deblur runs float32 here and the comparison is **skipped** (pass --force to run it anyway).")
        return 0
    files = sorted(Path(args.data).glob("*.png"))[: args.limit]
    if not files:
        print(f"no PNG files in {args.data}", file=sys.stderr)
        return 2
    rows, verdicts = [], []
    for name in args.models or list_models():
        loaded = load_model(name)
        reference = load_model(args.reference / f"{Path(name).stem}.safetensors") if stored else loaded
        for q in args.quality:
            d, t32, t16, p_in, p32, p16 = [], 0.0, 0.0, [], [], []
            for f in files:
                with Image.open(f) as im:
                    clean = np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0
                if args.crop:
                    top, left = [max(0, (n - args.crop) // 2) for n in clean.shape[:2]]
                    clean = clean[top:top + args.crop, left:left + args.crop]
                if loaded.channels == 1:
                    clean = rgb2gray(clean).astype(np.float32)
                axis = -1 if loaded.channels == 3 else None
                degraded = degrade_for_eval(clean, args.degradation, q)
                out32, s32 = _restore(degraded, reference, axis, "float32")
                out16, s16 = _restore(degraded, loaded, axis, "float32" if stored else "bfloat16")
                t32, t16 = t32 + s32, t16 + s16
                p_in.append(psnr(clean, np.clip(degraded, 0, 1)))
                p32.append(psnr(clean, out32))
                p16.append(psnr(clean, out16))
                d.append(p16[-1] - p32[-1])
            mean_d = float(np.mean(d))
            ok = mean_d >= -BUDGET_DB
            verdicts.append(ok)
            label = Path(name).stem if str(name).endswith(".safetensors") else name
            rows.append([label, q, len(files), f"{np.mean(p_in):.2f}", f"{np.mean(p32):.3f}", f"{np.mean(p16):.3f}",
                         f"{mean_d:+.4f}", f"{min(d):+.4f}", t32 / t16, "within" if ok else "over"])
            print(f"  {name} q{q}: Δ {mean_d:+.4f} dB", file=sys.stderr, flush=True)
    if stored:
        print(table(["model", "JPEG q", "images", "input PSNR", "float32 weights PSNR", "float16 weights PSNR", "Δ mean dB",
                     "Δ worst image dB"], [row[:8] for row in rows]))
        return 0
    print(table(["model", "JPEG q", "images", "input PSNR", "float32 PSNR", "bf16 PSNR", "Δ mean dB", "Δ worst image dB",
                 "bf16 speed-up", f"≤ {BUDGET_DB} dB budget"], rows))
    print()
    if all(verdicts):
        print(f"bf16 costs at most {BUDGET_DB} dB on average everywhere: keeping bf16 autocast on this CPU is within budget.")
    else:
        print(f"bf16 costs more than {BUDGET_DB} dB on average for some model/quality: float32 should be kept.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
