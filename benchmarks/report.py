"""The benchmarks page in one run: speed, memory, bf16 and quality against speed, beside peers, on this machine.

Runs, one after another on one machine (every timed cell in a fresh child process of
``speed.py``, so one cell's peak memory cannot hide another's):

1. every shipped model at 0.25-16 MP (the default colour model also at 64 MP): seconds per
   megapixel and peak memory beyond the input and output arrays;
2. the same at 1 MP in the other precision (``deblur`` picks bf16 autocast where it is faster than
   float32), with the PSNR both give on JPEG-compressed ``skimage.data`` photos;
3. peers on the same 1 MP image: scikit-image TV, NL-means and Richardson-Lucy, and the DnCNN-3
   and FBCNN architectures (spandrel, random weights: timing only);
4. the PSNR gain of the scikit-image peers on CBSD68 in gray at JPEG quality 10-40 (their settings
   picked on a few BSDS500 *training* images), through the same protocol as ``dci-cnn evaluate``.

The shipped models' quality comes from their cards (``dci-cnn evaluate --record``), DnCNN-3's and
FBCNN's from their published tables (``tools/docs_tables.PUBLISHED``). Writes ``--json`` and four
plots into ``--figures``, then the tables of ``docs/benchmarks.md`` (``tools/docs_tables.py``).

    python benchmarks/report.py --cbsd68 cbsd68/ --tune-data BSDS500/      # ~8 min on 2 cores
    python benchmarks/report.py --quick --no-quality                       # smoke run, ~1 min
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "tools"))
import speed
from _bench import force_dtype, machine_line, matmul_rate, run_child
from docs_tables import PEER_LABELS as PEERS

QUALITIES = (10, 20, 30, 40)


def _timings(models, sizes, args):
    """One ``speed.py`` child per (model, size): s/MP and peak memory."""
    out = {}
    for model, mps in [(m, sizes.get(m, sizes["*"])) for m in models]:
        for mp in mps:
            picked = None  # at 1 MP also the other precision, for the bf16 comparison
            for dtype in ["auto", "other"] if mp == 1 else ["auto"]:
                if dtype == "other":
                    dtype = "bfloat16" if picked == "float32" else "float32"
                r = run_child(speed.SCRIPT, {"kind": "deblur", "dtype": dtype, "model": model, "mp": mp, "tile": "auto",
                                             "repeat": 2 if mp <= 4 else 1, "device": "cpu"})
                print(f"  {model} {mp} MP {dtype}: {r.get('seconds', float('nan')) / r.get('mp', 1):.3f} s/MP",
                      file=sys.stderr, flush=True)
                if "error" not in r:
                    picked = picked or r["dtype"]
                    out.setdefault(model, []).append({
                        "mp": r["mp"], "dtype": r["dtype"], "picked": dtype == "auto", "s_per_mp": r["seconds"] / r["mp"],
                        "beyond_mb": r["peak_mb"] - r["in_mb"] - r["out_mb"], "peak_mb": r["peak_mb"]})
    return out


def _bf16_psnr(models):
    """Mean PSNR of float32 and bf16 autocast on JPEG-20 ``skimage.data`` photos, per model."""
    from skimage import data
    from skimage.color import rgb2gray

    from dci_cnn import deblur, load_model
    from dci_cnn.evaluate import degrade_for_eval
    from dci_cnn.metrics import psnr

    photos = [f() / 255.0 for f in (data.astronaut, data.coffee, data.chelsea, data.rocket)]
    out = {}
    for name in models:
        loaded = load_model(name)
        images = photos if loaded.channels == 3 else [rgb2gray(p) for p in photos]
        axis = -1 if loaded.channels == 3 else None
        scores = {}
        for dtype in ("float32", "bfloat16"):
            force_dtype(dtype)
            scores[dtype] = float(np.mean([psnr(c, deblur(degrade_for_eval(c, "jpeg", 20), model=loaded, channel_axis=axis))
                                           for c in images]))
        out[name] = scores
    force_dtype("auto")
    return out


def _peer_settings():
    """scikit-image restorations over a small grid: {method: {setting: restore(gray float image)}}."""
    from scipy.signal.windows import gaussian
    from skimage.restoration import denoise_nl_means, denoise_tv_chambolle, richardson_lucy

    def psf(sigma):
        g = gaussian(7, sigma)
        return np.outer(g, g) / np.outer(g, g).sum()

    return {
        "tv": {w: (lambda x, w=w: denoise_tv_chambolle(x, weight=w)) for w in (0.02, 0.05, 0.1)},
        "nlm": {h: (lambda x, h=h: denoise_nl_means(x, h=h, fast_mode=True, patch_size=7, patch_distance=11))
                for h in (0.03, 0.05, 0.08)},
        "rl": {s: (lambda x, s=s: richardson_lucy(x, psf(s), num_iter=30)) for s in (0.5, 0.8, 1.0)},
    }


def _peer_quality(cbsd68, tune_data, tune_images, test_images=None):
    """The peers' mean PSNR gain on CBSD68 (gray) at QUALITIES, settings picked on training images."""
    from dci_cnn.evaluate import evaluate, summarize
    from dci_cnn.imageio import find_images

    def gains(files, restore):
        return {str(s["quality"]): s["psnr_gain"] for s in summarize(evaluate(files, channels=1, qualities=QUALITIES,
                                                                          restore=lambda x: np.clip(restore(x), 0, 1)))}

    tune, test = find_images(tune_data)[:tune_images], find_images(cbsd68)[:test_images]
    out = {}
    for peer, family in _peer_settings().items():
        best = max(family, key=lambda k: np.mean(list(gains(tune, family[k]).values())))
        out[peer] = {"setting": best, "images": len(test), "gains": gains(test, family[best])}
        print(f"  {peer} ({best}): {out[peer]['gains']}", file=sys.stderr, flush=True)
    return out


def _peer_timings(mp):
    out = {}
    for peer in PEERS:
        r = run_child(speed.SCRIPT, {"kind": "peer", "name": peer, "mp": mp, "dtype": "auto"})
        out[peer] = r if "error" in r else {"s_per_mp": r["seconds"] / r["mp"], "note": r["note"],
                                            "beyond_mb": r["peak_mb"] - r["out_mb"]}
        print(f"  {peer}: {out[peer]}", file=sys.stderr, flush=True)
    return out


# ----------------------------------------------------------------------------- plots


def plots(report, folder):
    """The page's four figures, as small palette PNGs."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from docs_tables import PUBLISHED
    from PIL import Image

    from dci_cnn import model_card

    folder.mkdir(parents=True, exist_ok=True)
    plt.rcParams.update({"font.size": 13, "axes.grid": True, "grid.alpha": 0.3})
    timings = report["timings"]

    def save(fig, name):
        buffer = io.BytesIO()
        fig.savefig(buffer, dpi=110, bbox_inches="tight")
        plt.close(fig)
        Image.open(buffer).convert("RGB").quantize(64).save(folder / name, optimize=True)

    def size_axis(ax):
        sizes = sorted({round(r["mp"], 2) for rows in timings.values() for r in rows})
        ax.set_xticks(sizes, [f"{x:g}" for x in sizes])
        ax.minorticks_off()

    def auto(rows):
        return sorted((r for r in rows if r["picked"]), key=lambda r: r["mp"])

    fig, ax = plt.subplots(figsize=(8, 4.5))
    for model, rows in timings.items():
        rows = auto(rows)
        ax.plot([r["mp"] for r in rows], [r["s_per_mp"] for r in rows], "o-", label=model)
    ax.set(xscale="log", xlabel="image size (megapixels)", ylabel="seconds per megapixel", ylim=(0, None),
           title="Speed against image size")
    size_axis(ax)
    ax.legend(fontsize=10)
    save(fig, "speed.png")

    fig, ax = plt.subplots(figsize=(8, 4.5))
    for model, rows in timings.items():
        rows = auto(rows)
        ax.plot([r["mp"] for r in rows], [r["beyond_mb"] / 1e3 for r in rows], "o-", label=model)
    ax.set(xscale="log", xlabel="image size (megapixels)", ylabel="GB beyond input and output",
           ylim=(0, None), title="Peak memory against image size")
    size_axis(ax)
    ax.legend(fontsize=10)
    save(fig, "memory.png")

    fig, ax = plt.subplots(figsize=(8, 5))
    at1 = {m: next(r for r in auto(rows) if abs(r["mp"] - 1) < 0.2)["s_per_mp"] for m, rows in timings.items()}
    for model, spm in at1.items():
        gray = "gray" in model
        card = model_card(model)["metrics"]["cbsd68" if gray else "kodak24"]["jpeg"]
        g = np.mean([card[f"QF{q}"]["psnr_gain"] for q in QUALITIES if f"QF{q}" in card])
        ax.plot(spm, g, "o" if gray else "s", ms=9, color="C0" if gray else "C1")
        ax.annotate(model, (spm, g), textcoords="offset points", xytext=(6, 4), fontsize=10)
    peers, quality = report["peer_timings"], report.get("peer_quality", {})
    for peer, label in PEERS.items():
        if "error" in peers.get(peer, {"error": 1}):
            continue
        if peer in quality:
            g = np.mean(list(quality[peer]["gains"].values()))
        else:
            g = np.mean(PUBLISHED[label.split(" ")[0]]["gains"])
            label += " (published gain)"
        ax.plot(peers[peer]["s_per_mp"], g, "^", ms=9, color="C2" if peer in quality else "C3")
        ax.annotate(label, (peers[peer]["s_per_mp"], g), textcoords="offset points", xytext=(6, -12), fontsize=10)
    ax.axhline(0, color="k", lw=0.8)
    ax.set(xscale="log", xlabel=f"seconds per megapixel on this CPU (models at 1 MP, peers at {report['peer_mp']:g} MP)", ylabel="PSNR gain, JPEG QF 10-40 (dB)",
           title="Quality against speed")
    ax.text(0.01, 0.02, "circles: gray, CBSD68 · squares: colour, Kodak24 · triangles: peers (gray)",
            transform=ax.transAxes, fontsize=9)
    save(fig, "quality-speed.png")

    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4.2))
    names = list(report["bf16_psnr"])
    def at_1mp(model, dtype):
        return next((r["s_per_mp"] for r in timings[model] if r["dtype"] == dtype and abs(r["mp"] - 1) < 0.2), np.nan)

    f32 = [at_1mp(m, "float32") for m in names]
    b16 = [at_1mp(m, "bfloat16") for m in names]
    x = np.arange(len(names))
    a.bar(x - 0.2, f32, 0.4, label="float32")
    a.bar(x + 0.2, b16, 0.4, label="bf16 autocast")
    a.set(xticks=x, ylabel="seconds per megapixel (1 MP)", title="Speed")
    a.set_xticklabels([n.replace("dci-unet-", "") for n in names], rotation=30, ha="right")
    a.legend(fontsize=10)
    d = [report["bf16_psnr"][m]["bfloat16"] - report["bf16_psnr"][m]["float32"] for m in names]
    b.bar(x, d, 0.5, color="C1")
    b.axhline(0, color="k", lw=0.8)
    b.set(xticks=x, ylabel="PSNR bf16 − float32 (dB)", title="Quality cost")
    b.set_xticklabels([n.replace("dci-unet-", "") for n in names], rotation=30, ha="right")
    fig.tight_layout()
    save(fig, "bf16.png")


# ----------------------------------------------------------------------------- main


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="0.25 and 1 MP only, peers at 0.25 MP")
    p.add_argument("--cbsd68", help="CBSD68 folder: the peers' quality on it (gray); left out, no peer quality")
    p.add_argument("--tune-data", help="training images to pick the peers' settings on (never the test set)")
    p.add_argument("--tune-images", type=int, default=4)
    p.add_argument("--test-images", type=int, help="only the first N test images for the peers' quality (default: all)")
    p.add_argument("--sizes", type=float, nargs="+", help="megapixels (default 0.25 1 4 16; the default colour model also 64)")
    p.add_argument("--no-quality", action="store_true", help="skip the peers' quality")
    p.add_argument("--peer-mp", type=float, help="image size for the peers' timing (default 1 MP, quick 0.25)")
    p.add_argument("--conditions", default="", help="how the machine was shared during the run, printed with the hardware")
    p.add_argument("--json", default=str(HERE / "report.json"))
    p.add_argument("--figures", default=str(ROOT / "docs" / "images" / "benchmarks"))
    p.add_argument("--no-page", action="store_true", help="do not rewrite the tables and numbers of the docs")
    args = p.parse_args(argv)
    if args.cbsd68 and not args.tune_data:
        p.error("--cbsd68 needs --tune-data (training images to pick the peers' settings on)")

    import torch

    from dci_cnn import list_models

    start = time.time()
    report = {"machine": machine_line(), "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              "conditions": args.conditions,
              "matmul_gflops": {"float32": matmul_rate(torch.float32), "bfloat16": matmul_rate(torch.bfloat16)}}
    models = list_models()
    sizes = {"*": args.sizes or ([0.25, 1] if args.quick else [0.25, 1, 4, 16])}
    if not args.quick and not args.sizes:
        sizes["dci-unet-color"] = [0.25, 1, 4, 16, 64]
        sizes["dci-paper"] = [0.25, 1]
    report["timings"] = _timings(models, sizes, args)
    report["bf16_psnr"] = _bf16_psnr(models)
    report["peer_mp"] = args.peer_mp or (0.25 if args.quick else 1)
    report["peer_timings"] = _peer_timings(report["peer_mp"])
    if args.cbsd68 and not args.no_quality:
        report["peer_quality"] = _peer_quality(args.cbsd68, args.tune_data, args.tune_images, args.test_images)
    report["seconds"] = round(time.time() - start)
    Path(args.json).write_text(json.dumps(report, indent=1) + "\n")
    plots(report, Path(args.figures))
    if not args.no_page:
        import docs_tables

        docs_tables.write()  # the benchmarks page and every page quoting its numbers
    print(f"report written in {report['seconds']} s: {args.json}, {args.figures}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
