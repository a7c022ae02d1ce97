"""The ``dci-cnn`` command: parse, call the library, report.

Subcommands: ``deblur``, ``demo``, ``models``, ``train``, ``evaluate``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from skimage.util import img_as_ubyte, img_as_uint
from tqdm import tqdm

from . import __version__
from ._deblur import deblur
from ._quality import quality_arg, quality_for_file
from .imageio import find_images, read_image, write_image
from .weights import MODEL_FAMILIES, list_models, model_card

__all__ = ["main"]


def _inputs(paths):
    files = []
    for p in map(Path, paths):
        if p.is_dir():
            files += find_images(p)
        elif p.is_file():
            files.append(p)
        else:
            raise ValueError(f"input {p} does not exist")
    if not files:
        raise ValueError(f"no images found in {', '.join(map(str, paths))}")
    return files


def _output_path(source, out, single, suffix):
    if single and out.suffix.lower() in {".png", ".tif", ".tiff"}:
        return out
    return out / f"{source.stem}{suffix}"


def _restored_like(image, restored, preserve_range):
    """Cast a restoration to the input's bit depth: uint8/uint16 kept (any integer type with ``preserve_range``), else float32."""
    if image.dtype.kind in "ui":
        if preserve_range:
            info = np.iinfo(image.dtype)
            return np.clip(np.rint(restored), info.min, info.max).astype(image.dtype)
        if image.dtype == np.uint8:
            return img_as_ubyte(restored)
        if image.dtype == np.uint16:
            return img_as_uint(restored)
    return restored.astype(np.float32)


def _channel_axis(image, requested):
    if requested != "auto":
        return None if requested == "none" else int(requested)
    return -1 if image.ndim == 3 and image.shape[-1] in (3, 4) else None


def cmd_deblur(args):
    """Restore image files; failures are reported one per line and make the exit status 1."""
    files = _inputs(args.inputs)
    out = Path(args.output)
    single = len(files) == 1 and out.suffix.lower() in {".png", ".tif", ".tiff"}
    if not single:
        out.mkdir(parents=True, exist_ok=True)
    inputs = {f.resolve() for f in files}
    failures = []
    for source in tqdm(files, unit="image", disable=len(files) < 2 or args.quiet):
        try:
            image = read_image(source)
            fmt = args.format or ("png" if image.dtype == np.uint8 or (image.dtype == np.uint16 and image.ndim == 2) else "tif")
            target = _output_path(source, out, single, "." + fmt)
            if target.resolve() in inputs:
                raise FileExistsError(f"{target} is an input; choose another output folder")
            if target.exists() and not args.overwrite:
                raise FileExistsError(f"{target} exists; pass --overwrite to replace it")
            restored = deblur(
                image,
                model=args.model,
                channel_axis=_channel_axis(image, args.channel_axis),
                device=args.device,
                tile_size=args.tile_size,
                preserve_range=args.preserve_range,
                self_ensemble=args.self_ensemble,
                quality=quality_for_file(args.quality, source, image, args.model, _channel_axis(image, args.channel_axis)),
            )
            write_image(target, _restored_like(image, restored, args.preserve_range), overwrite=args.overwrite)
        except (ValueError, TypeError, OSError) as exc:
            failures.append((source, exc))
            tqdm.write(f"FAILED {source}: {exc}", file=sys.stderr)
    done = len(files) - len(failures)
    print(f"restored {done} of {len(files)} image(s) into {out}")
    return 1 if failures else 0


def cmd_models(args):
    """List the shipped models with their cards' key facts."""
    rows = []
    names = list_models()
    width = max(map(len, names), default=0)
    for name in names:
        card = model_card(name)
        if args.json:
            rows.append(card)
            continue
        channels = card["arguments"].get("channels", 1)
        print(f"{name:{width}s}  {'RGB' if channels == 3 else 'gray':4s} {card['architecture']:8s} "
              f"{card['parameters']:>9,d} params  {card.get('description', '')}")
    if args.json:
        print(json.dumps(rows, indent=1))
    return 0


def cmd_demo(args):
    """Compress a scikit-image sample hard, restore it, write a before/after figure and print PSNR."""
    from .demo import run_demo

    return run_demo(Path(args.out), quality=args.quality, overwrite=args.overwrite)


def build_parser():
    """The ``dci-cnn`` argument parser with all subcommands."""
    from . import evaluate, train
    from .evaluate import tile_size_arg

    parser = argparse.ArgumentParser(prog="dci-cnn", description="Remove compression artifacts, blur and noise with a CNN.")
    parser.add_argument("--version", action="version", version=f"dci-cnn {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("deblur", help="restore image files", description=cmd_deblur.__doc__)
    p.add_argument("inputs", nargs="+", help="image files or folders (JPEG, PNG, TIFF, ...)")
    p.add_argument("-o", "--output", required=True, help="output folder, or a .png/.tif file for a single input")
    p.add_argument("--model", help=f"model name ({', '.join(list_models())}), .safetensors path, or family "
                   f"({', '.join(MODEL_FAMILIES)}: its gray or colour model by the image); default: default")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N, mps or auto")
    p.add_argument("--tile-size", type=tile_size_arg, default="auto",
                   help="tile size in pixels (strips of about N*N/2 pixels), auto (default) or none")
    p.add_argument("--channel-axis", default="auto", help="auto (RGB/RGBA if the last axis has 3-4 channels), none, or an int")
    p.add_argument("--preserve-range", action="store_true", help="restore in the image's own value range (12/16-bit data)")
    p.add_argument("--self-ensemble", action="store_true",
                   help="average over the 8 flips and rotations (8x slower, a little better)")
    p.add_argument("--quality", type=quality_arg, default="auto",
                   help="JPEG quality the model is told: auto (default: a JPEG file's own, else estimated from the pixels; "
                   "for models with a quality adapter, the jpeg family), none (blind), or 1-100 (lower removes more, "
                   "higher keeps more detail; selects the jpeg family for the default model)")
    p.add_argument("--format", choices=["png", "tif"], help="output format (default: png for 8-bit, tif otherwise)")
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_deblur)

    p = sub.add_parser("demo", help="restore a JPEG made from a scikit-image sample; write a before/after PNG")
    p.add_argument("--out", default="dci-cnn-demo", help="folder for the figures")
    p.add_argument("--quality", type=int, default=10, help="JPEG quality of the degraded input")
    p.add_argument("--overwrite", action="store_true", help="replace figures from an earlier run")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("models", help="list the shipped models")
    p.add_argument("--json", action="store_true", help="print the full model cards")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("train", help="train a model", description=train.__doc__.splitlines()[0])
    train.build_parser(p)
    p.set_defaults(func=lambda a: train.main(a.argv))

    p = sub.add_parser("evaluate", help="paper-style tables of PSNR/SSIM/PSNR-B/MSE")
    evaluate.build_parser(p)
    p.set_defaults(func=lambda a: evaluate.main(a.argv))
    return parser


def main(argv=None):
    """Entry point of the ``dci-cnn`` command."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = argv[1:]
    try:
        return args.func(args)
    except (ValueError, TypeError, FileExistsError) as exc:
        print(f"dci-cnn {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
