"""The ``dci-cnn`` command: parse, call the library, report.

Subcommands: ``deblur``, ``demo``, ``models``, ``train``, ``evaluate``, ``export``. Every
error ends in one line in the command line's own spelling (exit status 2 for
arguments and inputs, 1 when a file failed); Ctrl-C, SIGTERM and SIGHUP remove
unfinished files and exit with 128 + the signal's number (130, 143, 129).
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import os
import re
import signal
import sys
import threading
import warnings
from pathlib import Path

from tqdm import tqdm

from . import __version__
from ._files import check_folder
from ._deblur import model_told_quality
from ._quality import quality_arg, takes_quality
from ._restore_file import output_suffix, restore_file
from .devices import resolve_device
from .imageio import IMAGE_SUFFIXES, find_images
from .weights import MODEL_FAMILIES, list_models, load_model, model_card

__all__ = ["main"]

_WRITABLE = {".png", ".tif", ".tiff"}
_FORMATS = ("png", "tif")
#: What to do about an OSError, by errno, after "PATH: what went wrong; ".
_OS_FIXES = {
    errno.EACCES: "choose a place you may write to, or change its permissions",
    errno.EPERM: "choose a place you may write to, or change its permissions",
    errno.EROFS: "choose a place on a writable disk",
    errno.ENOTDIR: "a part of this path is a file, not a folder; choose another path",
    errno.ENOSPC: "free some space (nothing partial was left) and run again",
    errno.EDQUOT: "free some space (nothing partial was left) and run again",
}
_DISK_FULL = {errno.ENOSPC, errno.EDQUOT}


def _cli_spelling(text):
    """A library message in the command line's spelling (``preserve_range=True`` -> ``--preserve-range``)."""
    text = re.sub(r"\b(overwrite|preserve_range|self_ensemble)=True\b", lambda m: "--" + m[1].replace("_", "-"), text)
    text = re.sub(r"\bpass overwrite\b", "pass --overwrite", text)
    return re.sub(r"\b(channel_axis|tile_size)(?:=(-?\w+))?",
                  lambda m: "--" + m[1].replace("_", "-") + (f" {m[2].lower()}" if m[2] else ""), text)


def _describe(exc):
    """One line saying what went wrong and, where known, how to fix it."""
    if isinstance(exc, OSError) and exc.strerror:
        text = f"{exc.filename}: {exc.strerror.lower()}" if exc.filename else exc.strerror.lower()
        if exc.errno in _OS_FIXES:
            text += f"; {_OS_FIXES[exc.errno]}"
    else:
        text = str(exc).strip() or type(exc).__name__
    return _cli_spelling(text.splitlines()[0])


class _Signalled(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised where the program is (like Ctrl-C), so unfinished files are removed on the way out."""

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


def _raise_signal(signum, _frame):
    raise _Signalled(signum)


@contextlib.contextmanager
def _signals_raise():
    """Turn SIGTERM and SIGHUP into :class:`_Signalled` while the command runs (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    kinds = [signal.SIGTERM] + ([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])
    previous = {s: signal.signal(s, _raise_signal) for s in kinds}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


@contextlib.contextmanager
def _warnings_above_bar():
    """Show warnings as their own lines above the progress bar, never inside it."""
    shown = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        tqdm.write(f"warning: {_cli_spelling(str(message))}", file=sys.stderr)

    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = shown


def _inputs(paths, out):
    """``(source, output stem)`` for every input image, checked before any work.

    A folder's tree is mirrored (``day1/img.jpg`` -> ``day1/img``); a file
    keeps its name. Hidden files and the output folder are skipped. Two
    inputs that would map to one output, also with names that differ only in
    case, are refused, naming both.
    """
    out_dir = out.resolve()
    pairs, seen = [], set()
    for p in map(Path, paths):
        if p.is_dir():
            if p.resolve() == out_dir:
                raise ValueError(f"-o {out} is the input folder {p}; choose a separate output folder "
                                 "(the next run would read the outputs as inputs)")
            found = [(f, f.relative_to(p)) for f in find_images(p) if not f.resolve().is_relative_to(out_dir)]
        elif p.is_file():
            found = [(p, Path(p.name))]
        else:
            raise ValueError(f"input {p} does not exist")
        for source, rel in found:
            if source.resolve() not in seen:
                seen.add(source.resolve())
                pairs.append((source, rel.parent / rel.stem))
    if not pairs:
        raise ValueError(f"no images found in {', '.join(map(str, paths))} "
                         f"(searched for {', '.join(sorted(IMAGE_SUFFIXES))}; hidden files and the output folder are skipped)")
    first = {}
    for source, stem in pairs:
        key = str(stem).casefold()  # names that differ only in case are one file on macOS, Windows, exFAT, SMB
        if key in first:
            other, other_stem = first[key]
            case = "" if other_stem == stem else " (names that differ only in case are one file on macOS and Windows)"
            raise ValueError(f"{other} and {source} would both be written to {out / stem}.png/.tif{case}; "
                             "rename one, or restore them in separate runs")
        first[key] = (source, stem)
    return pairs


def _single_output(out, count, fmt):
    """Whether ``-o`` names one output file; refuses a file name that cannot be written or does not fit."""
    suffix = out.suffix.lower()
    if out.is_dir() or suffix not in IMAGE_SUFFIXES | _WRITABLE:
        return False
    if suffix not in _WRITABLE:
        raise ValueError(f"-o {out}: outputs are written as .png or .tif; name a .png/.tif file, or a folder")
    if count > 1:
        raise ValueError(f"-o {out} names one file, but there are {count} input images; name a folder")
    if fmt and suffix.lstrip(".")[:3] != fmt:
        raise ValueError(f"-o {out} and --format {fmt} disagree; drop --format or change the suffix")
    return True


def _check_model(model, quality=None):
    """Load the named model (or check a family's members) once, before any file is read; a ``--quality N``
    needs a model with a quality adapter."""
    if model is None or model in MODEL_FAMILIES:
        for member in MODEL_FAMILIES[model or "default"].values():
            model_card(member)
    else:
        load_model(model)
    told = model_told_quality(model)
    if isinstance(quality, int) and not takes_quality(told):
        raise ValueError(f"--quality {quality}: model {told} has no quality adapter; "
                         "leave --quality out (auto restores such models blind) or pass --quality none")


def _channel_axis_arg(text):
    """``--channel-axis`` values: ``auto``, ``none`` or an integer axis."""
    if text in ("auto", "none"):
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected auto, none or an integer axis (e.g. -1), got {text!r}") from None


def _restore_file(source, target, inputs, args):
    """Restore ``source`` into ``target`` (every page, its bit depth and metadata kept); refuses inputs and existing files."""
    if target.resolve() in inputs:
        raise FileExistsError(f"{target} is an input; choose another output folder")
    if target.exists() and not args.overwrite:
        raise FileExistsError(f"{target} exists; pass --overwrite to replace it, or --skip-existing to keep it")
    target.parent.mkdir(parents=True, exist_ok=True)
    restore_file(
        source,
        target,
        overwrite=args.overwrite,
        model=args.model,
        channel_axis=args.channel_axis if args.channel_axis != "none" else None,
        device=args.device,
        tile_size=args.tile_size,
        preserve_range=args.preserve_range,
        self_ensemble=args.self_ensemble,
        quality=args.quality,
    )


def cmd_deblur(args):
    """Restore image files; a folder's tree is mirrored under the output folder.

    Everything is checked before the first file is read: inputs, outputs,
    model and device. A file that fails is reported on its own line and makes
    the exit status 1; the others are still restored. An interrupted batch
    leaves only whole outputs: rerun it with --skip-existing to finish.
    """
    if args.overwrite and args.skip_existing:
        raise ValueError("--overwrite and --skip-existing contradict each other; choose one")
    out = Path(args.output)
    pairs = _inputs(args.inputs, out)
    single = _single_output(out, len(pairs), args.format)
    _check_model(args.model, args.quality)
    resolve_device(args.device)
    check_folder(out.parent if single else out, "-o")
    (out.parent if single else out).mkdir(parents=True, exist_ok=True)
    inputs = {source.resolve() for source, _ in pairs}

    def destination(source, stem):
        return out if single else out / stem.parent / f"{stem.name}{output_suffix(source, args.format)}"

    restored, skipped, failed = 0, 0, 0
    try:
        with _warnings_above_bar(), tqdm(total=len(pairs), unit="image", disable=len(pairs) < 2 or args.quiet) as bar:
            for source, stem in pairs:
                target = destination(source, stem)
                if args.skip_existing and target.exists():
                    skipped += 1
                else:
                    try:
                        _restore_file(source, target, inputs, args)
                        restored += 1
                    except (ValueError, TypeError, OSError, MemoryError, RuntimeError) as exc:
                        failed += 1
                        tqdm.write(f"FAILED {source}: {_describe(exc)}", file=sys.stderr)
                        if isinstance(exc, OSError) and exc.errno in _DISK_FULL:
                            tqdm.write("stopping: the disk is full; free some space and rerun with --skip-existing",
                                       file=sys.stderr)
                            break
                bar.update()
    except KeyboardInterrupt as exc:
        exc.note = (f"; {restored} of {len(pairs)} image(s) restored into {out}, nothing partial left; "
                    "rerun with --skip-existing to finish")
        raise
    summary = f"restored {restored} of {len(pairs)} image(s) into {out}"
    if skipped:
        summary += f"; {skipped} skipped (their outputs exist)"
    if failed:
        summary += f"; {failed} failed"
    if restored + skipped + failed < len(pairs):
        summary += f"; {len(pairs) - restored - skipped - failed} not attempted"
    print(summary)
    return 0 if restored + skipped == len(pairs) else 1


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


class _HelpWithDefaults(argparse.ArgumentDefaultsHelpFormatter):
    """Each option's help ends with its default, unless it has none (None) or is a switch (off unless given)."""

    def _get_help_string(self, action):
        if action.default is None or action.default is False:
            return action.help
        return super()._get_help_string(action)


def build_parser():
    """The ``dci-cnn`` argument parser with all subcommands."""
    from . import evaluate, export, train
    from .evaluate import tile_size_arg

    parser = argparse.ArgumentParser(prog="dci-cnn", description="Remove compression artifacts, blur and noise with a CNN.")
    parser.add_argument("--version", action="version", version=f"dci-cnn {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("deblur", help="restore image files", description=cmd_deblur.__doc__.split("\n\n")[0])
    p.add_argument("inputs", nargs="+", help="image files or folders (JPEG, PNG, TIFF, ...; folders searched recursively, "
                   "hidden files skipped)")
    p.add_argument("-o", "--output", required=True,
                   help="output folder (a folder input's tree is mirrored in it), or a .png/.tif file for a single input")
    p.add_argument("--model", help=f"model name ({', '.join(list_models())}), .safetensors path, or family "
                   f"({', '.join(MODEL_FAMILIES)}: its gray or colour model by the image); default: default")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N, mps or auto")
    p.add_argument("--tile-size", type=tile_size_arg, default="auto",
                   help="tile size in pixels (strips of about N*N/2 pixels), auto (default) or none")
    p.add_argument("--channel-axis", type=_channel_axis_arg, default="auto",
                   help="auto (RGB/RGBA if the last axis has 3-4 channels), none, or an integer axis")
    p.add_argument("--preserve-range", action="store_true", help="restore in the image's own value range (12/16-bit data)")
    p.add_argument("--self-ensemble", action="store_true",
                   help="average over the 8 flips and rotations (8x slower, a little better)")
    p.add_argument("--format", choices=_FORMATS, help="output format (default: tif for TIFF and multi-frame inputs, png otherwise)")
    p.add_argument("--quality", type=quality_arg, default="auto",
                   help="JPEG quality the model is told: auto (default: a JPEG file's own, else estimated from the pixels; "
                   "for models with a quality adapter, the jpeg family), none (blind), or 1-100 (lower removes more, "
                   "higher keeps more detail; selects the jpeg family for the default model)")
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    p.add_argument("--skip-existing", action="store_true",
                   help="leave inputs whose output exists alone (finishes an interrupted batch)")
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

    p = sub.add_parser("train", help="train a model", description=train.__doc__.splitlines()[0],
                       formatter_class=_HelpWithDefaults)
    train.build_parser(p)
    p.set_defaults(func=lambda a: train.main(a.argv))

    p = sub.add_parser("evaluate", help="paper-style tables of PSNR/SSIM/PSNR-B/MSE", description=evaluate.__doc__.splitlines()[0],
                       formatter_class=_HelpWithDefaults)
    evaluate.build_parser(p)
    p.set_defaults(func=lambda a: evaluate.main(a.argv))

    p = sub.add_parser("export", help="write a model as a bioimage.io package, ONNX or TorchScript")
    export.build_parser(p)
    p.set_defaults(func=export.main)
    return parser


def _quiet_stdout():
    """Point stdout at /dev/null, so that the interpreter's last flush into a closed pipe stays silent."""
    with contextlib.suppress(OSError, ValueError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def main(argv=None):
    """Entry point of the ``dci-cnn`` command."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = argv[1:]
    try:
        with _signals_raise():
            status = args.func(args)
            sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's last flush
            return status
    except BrokenPipeError:  # `dci-cnn models --json | head`: the reader has all it wanted
        _quiet_stdout()
        return 128 + getattr(signal, "SIGPIPE", 13)
    except KeyboardInterrupt as exc:
        signum = getattr(exc, "signum", signal.SIGINT)
        print(f"dci-cnn {args.command}: interrupted by {signal.Signals(signum).name}{getattr(exc, 'note', '')}",
              file=sys.stderr)
        return 128 + signum
    except (ValueError, TypeError, OSError) as exc:
        print(f"dci-cnn {args.command}: error: {_describe(exc)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
