"""Paper-style evaluation tables: PSNR, SSIM, PSNR-B and MSE of input and output.

Degraded inputs are made with Pillow's JPEG codec (and, for ``compound``,
a Gaussian blur and seeded Gaussian noise before it); outputs are rounded
to 8 bits before scoring, the convention of the published tables. Gray
models are scored on gray images (ITU-R 601 luma), colour models in RGB.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from . import metrics
from ._deblur import deblur
from ._files import atomic_write, check_folder, locked, portable_command
from ._quality import adapter_path, takes_quality
from .degrade import gaussian_blur, gaussian_noise, jpeg, recompress, resize, to_uint8
from .devices import resolve_device
from .imageio import as_channels, find_images, read_image
from .weights import card_path, load_model, model_card, model_for, write_card

__all__ = ["check_arguments", "degrade_for_eval", "evaluate", "format_table", "main", "record_in_card", "summarize"]

DEGRADATIONS = ("jpeg", "compound", "double-jpeg")


def degrade_for_eval(clean, degradation, quality, *, blur=1.0, noise=10.0, seed=0):
    """The fixed degraded input of an evaluation: JPEG, blur + noise + JPEG (``compound``), or JPEG at
    ``quality[0]`` then again at ``quality[1]`` on a grid shifted by (4, 4) (``double-jpeg``)."""
    if degradation == "jpeg":
        return jpeg(clean, quality)
    if degradation == "double-jpeg":
        first, last = quality
        return recompress(jpeg(clean, first), last, shift=(4, 4))
    if degradation == "compound":
        out = gaussian_blur(clean, blur) if blur else clean
        out = gaussian_noise(out, noise, np.random.default_rng(seed)) if noise else out
        return jpeg(np.clip(out, 0, 1), quality)
    raise ValueError(f"unknown degradation {degradation!r}; choose one of {DEGRADATIONS}")


def _scores(clean, image, channel_axis):
    return {
        "psnr": metrics.psnr(clean, image),
        "ssim": metrics.ssim(clean, image, channel_axis=channel_axis),
        "psnr_b": metrics.psnr_b(clean, image),
        "mse": metrics.mse(clean * 255, image * 255),
    }


def evaluate(files, *, model=None, channels=None, degradation="jpeg", qualities=(10, 20, 30, 40), sizes=(None,),
             blur=1.0, noise=10.0, tile_size="auto", device="cpu", self_ensemble=False, restore=None, model_quality="blind"):
    """Score a model on a set of images.

    Parameters
    ----------
    files : sequence of path
        Clean reference images.
    model : str or path, optional
        Model to evaluate; default: the project's default for ``channels``.
    channels : {1, 3}, optional
        Score gray or RGB images; default: the model's channel count.
    degradation : {"jpeg", "compound", "double-jpeg"}
    qualities : sequence of int
        JPEG quality factors; ``(first, last)`` pairs for ``double-jpeg``.
    sizes : sequence of int or None
        Resize each image to ``size x size`` (bicubic) first, as in the
        paper's input-size experiment; None keeps the size.
    blur, noise : float
        Blur sigma (pixels) and noise sigma (0-255) of ``compound``.
    self_ensemble : bool
        Restore with the 8-fold geometric self-ensemble of :func:`dci_cnn.deblur`.
    restore : callable, optional
        ``restore(degraded) -> restored`` replacing the model, to score
        another method in the same table.
    model_quality : {"blind", "true", "auto"}
        What the model is told of the quality: nothing, the quality of the
        last compression (``deblur(quality=q)``), or ``quality="auto"``.

    Returns
    -------
    list of dict
        One row per (size, quality, image) with input and output scores
        and the seconds the restoration took.
    """
    loaded = load_model(model_for(model, channels or 1))
    channels = channels or loaded.channels
    channel_axis = -1 if channels == 3 else None
    options = {"tile_size": tile_size, "device": device, "self_ensemble": self_ensemble}
    told = {"blind": lambda q: None, "true": lambda q: q[-1] if isinstance(q, tuple) else q, "auto": lambda q: "auto"}[model_quality]
    rows = []
    for path in files:
        image = as_channels(read_image(path), channels)
        for size in sizes:
            clean = resize(image, size) if size else image
            clean = to_uint8(clean) / 255.0
            for q in qualities:
                degraded = degrade_for_eval(clean, degradation, q, blur=blur, noise=noise)
                start = time.perf_counter()
                if restore is None:
                    restored = deblur(degraded, model=loaded, channel_axis=channel_axis, quality=told(q), **options)
                else:
                    restored = restore(degraded)
                restored = to_uint8(restored) / 255.0
                seconds = time.perf_counter() - start
                rows.append(
                    {
                        "image": Path(path).name,
                        "size": size or f"{clean.shape[1]}x{clean.shape[0]}",
                        "quality": "{}>{}".format(*q) if isinstance(q, tuple) else q,
                        "input": _scores(clean, degraded, channel_axis),
                        "output": _scores(clean, restored, channel_axis),
                        "seconds": seconds,
                    }
                )
    return rows


def _mean(rows, part, key):
    return float(np.mean([r[part][key] for r in rows]))


def summarize(rows):
    """Mean scores per (size, quality): a list of dicts with input/output means and gains."""
    groups = {}
    for r in rows:
        key = (r["size"] if isinstance(r["size"], int) else "native", r["quality"])
        groups.setdefault(key, []).append(r)
    out = []
    for (size, q), group in groups.items():
        entry = {"size": size, "quality": q, "images": len(group), "seconds": float(np.mean([r["seconds"] for r in group]))}
        for key in ("psnr", "ssim", "psnr_b", "mse"):
            entry[f"{key}_in"], entry[f"{key}_out"] = _mean(group, "input", key), _mean(group, "output", key)
        entry["psnr_gain"] = entry["psnr_out"] - entry["psnr_in"]
        out.append(entry)
    return out


def format_table(rows, per_image=False):
    """Markdown table of the rows: per image if asked, and the mean per (size, quality)."""
    lines = ["| size | QF | image | PSNR in | PSNR out | gain | SSIM in | SSIM out | PSNR-B in | PSNR-B out | MSE in | MSE out | s/img |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]

    def line(size, q, name, s_in, s_out, sec):
        return (f"| {size} | {q} | {name} | {s_in['psnr']:.2f} | {s_out['psnr']:.2f} | {s_out['psnr'] - s_in['psnr']:+.2f} | "
                f"{s_in['ssim']:.4f} | {s_out['ssim']:.4f} | {s_in['psnr_b']:.2f} | {s_out['psnr_b']:.2f} | "
                f"{s_in['mse']:.1f} | {s_out['mse']:.1f} | {sec:.3f} |")

    if per_image:
        lines += [line(r["size"], r["quality"], r["image"], r["input"], r["output"], r["seconds"]) for r in rows]
    for s in summarize(rows):
        s_in = {k: s[f"{k}_in"] for k in ("psnr", "ssim", "psnr_b", "mse")}
        s_out = {k: s[f"{k}_out"] for k in ("psnr", "ssim", "psnr_b", "mse")}
        lines.append(line(s["size"], s["quality"], f"**mean of {s['images']}**", s_in, s_out, s["seconds"]))
    return "\n".join(lines)


def record_in_card(model, data_name, degradation, summary, command, *, card_file=None):
    """Write mean scores into a model card's ``metrics`` (atomically; the weights' checksum is unaffected).

    Stored as ``metrics[data_name][degradation]["QF<q>"]`` (with ``"@<size>"`` appended for resized
    sets): PSNR, SSIM, PSNR-B in and out, rounded, plus the command that measured them. Pass
    ``"<degradation> self-ensemble"`` as ``degradation`` for results of the self-ensemble.
    Concurrent calls on one card take turns under an advisory lock (none on Windows).
    ``card_file`` names another card to write (a quality adapter's).
    """
    card_file = card_file or card_path(model)
    if not Path(card_file).is_file():
        model_card(model)  # raises the WeightsError that names the missing card (there is nothing to lock)
    with locked(card_file):  # two runs finishing together both land
        card = model_card(model) if card_file == card_path(model) else json.loads(Path(card_file).read_text())
        entry = card.setdefault("metrics", {}).setdefault(data_name, {}).setdefault(degradation, {})
        for s in summary:
            key = f"QF{s['quality']}" + ("" if s["size"] == "native" else f"@{s['size']}")
            entry[key] = {k: round(s[k], 4) for k in ("psnr_in", "psnr_out", "psnr_gain", "ssim_in", "ssim_out", "psnr_b_in", "psnr_b_out")}
            entry[key]["images"] = s["images"]
        entry["command"] = command
        write_card(card_file, card)


def tile_size_arg(text):
    """``--tile-size`` values: a number of pixels, ``auto`` (the device's default) or ``none`` (no tiling)."""
    if text in ("auto", "none"):
        return None if text == "none" else "auto"
    try:
        pixels = int(text)
    except ValueError:
        pixels = 0
    if pixels < 16:
        raise argparse.ArgumentTypeError(f"expected a number of pixels (16 or more), 'auto' or 'none', got {text!r}")
    return pixels


def build_parser(parser=None):
    """The ``evaluate`` command's arguments (also used by ``dci-cnn evaluate``)."""
    parser = parser or argparse.ArgumentParser(prog="dci-cnn evaluate", description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="folder of clean reference images")
    parser.add_argument("--model", help="model name, .safetensors path or family "
                        "(default, jpeg: its gray or colour model by --channels)")
    parser.add_argument("--channels", type=int, choices=[1, 3], help="score gray (1) or RGB (3) images")
    parser.add_argument("--degradation", default="jpeg", choices=DEGRADATIONS)
    parser.add_argument("--quality", type=int, nargs="+", default=[10, 20, 30, 40],
                        help="JPEG quality factors (double-jpeg: of the second compression)")
    parser.add_argument("--first-quality", type=int, nargs="+",
                        help="double-jpeg: quality of the first compression, one per --quality")
    parser.add_argument("--model-quality", default="blind", choices=["blind", "true", "auto"],
                        help="tell the model the quality: not at all, the true one (of the last compression), or "
                        "quality='auto'; --record then writes into the model's quality adapter card")
    parser.add_argument("--limit", type=int, help="score only the first N images (sorted by name)")
    parser.add_argument("--sizes", type=int, nargs="+", help="resize images to these square sizes first (paper's Table 3)")
    parser.add_argument("--blur", type=float, default=1.0, help="compound: blur sigma in pixels")
    parser.add_argument("--noise", type=float, default=10.0, help="compound: noise sigma on the 0-255 scale")
    parser.add_argument("--tile-size", type=tile_size_arg, default="auto", help="tile size in pixels (see deblur), auto or none")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N, mps or auto")
    parser.add_argument("--self-ensemble", action="store_true", help="restore with the 8-fold flip/rotation self-ensemble")
    parser.add_argument("--per-image", action="store_true", help="one row per image as well as the means")
    parser.add_argument("--json", help="also write all rows and means to this JSON file")
    parser.add_argument("--record", action="store_true",
                        help="write the means into the model card's metrics, under the data folder's name")
    return parser


def check_arguments(args):
    """Check every argument and path of an evaluation before any work: one ValueError naming the option and the fix."""
    if not Path(args.data).is_dir() or not find_images(args.data):
        raise ValueError(f"--data {args.data} is not a folder of images")
    if not all(1 <= q <= 100 for q in args.quality):
        raise ValueError(f"--quality takes JPEG qualities from 1 to 100, got {' '.join(map(str, args.quality))}")
    if not all(s >= 8 for s in args.sizes or ()):
        raise ValueError(f"--sizes must be at least 8 pixels, got {' '.join(map(str, args.sizes))}")
    if not (args.blur >= 0 and args.noise >= 0):
        raise ValueError(f"--blur and --noise must be 0 or more, got {args.blur} and {args.noise}")
    resolve_device(args.device)
    model = model_for(args.model, args.channels or 1)
    load_model(model)
    if args.model_quality != "blind" and not takes_quality(model):
        raise ValueError(f"--model-quality {args.model_quality}: model {model} has no quality adapter, so it would be "
                         "scored blind; use --model-quality blind")
    if args.json:
        check_folder(Path(args.json).parent, "--json")
    if args.record:
        check_folder(card_path(model).parent, "--record")


def main(argv=None):
    """Entry point of ``python -m dci_cnn.evaluate``."""
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    check_arguments(args)
    qualities = args.quality
    if args.degradation == "double-jpeg":
        if len(args.first_quality or ()) != len(qualities):
            raise ValueError("--degradation double-jpeg needs one --first-quality per --quality")
        qualities = list(zip(args.first_quality, qualities))
    rows = evaluate(
        find_images(args.data)[: args.limit],
        model=args.model,
        channels=args.channels,
        degradation=args.degradation,
        qualities=qualities,
        model_quality=args.model_quality,
        sizes=args.sizes or (None,),
        blur=args.blur,
        noise=args.noise,
        tile_size=args.tile_size,
        device=args.device,
        self_ensemble=args.self_ensemble,
    )
    print(format_table(rows, per_image=args.per_image))
    if args.json:
        atomic_write(args.json, lambda tmp: Path(tmp).write_text(json.dumps({"rows": rows, "summary": summarize(rows)}, indent=1)),
                     overwrite=True)
    if args.record:
        model = model_for(args.model, args.channels or 1)
        command = portable_command("dci-cnn evaluate", sys.argv[1:] if argv is None else argv)
        degradation = args.degradation + (" self-ensemble" if args.self_ensemble else "")
        card_file = None
        if args.model_quality != "blind":
            degradation += f", {args.model_quality} quality"
            card_file = adapter_path(load_model(model)).with_suffix(".json")
        record_in_card(model, Path(args.data).name, degradation, summarize(rows), command, card_file=card_file)
    return 0


if __name__ == "__main__":
    from .cli import main as cli_main  # one-line errors, defaults in --help

    sys.exit(cli_main(["evaluate", *sys.argv[1:]]))
