"""Training: (degraded, clean) pairs made on the fly from a folder, a loop, checkpoints, export.

Run ``python -m dci_cnn.train --help`` or ``dci-cnn train --help``. The same
command under ``torchrun --nproc_per_node N`` trains with
DistributedDataParallel (gloo on CPU, NCCL on GPU): each rank draws its own
patches from its shard of the training files and rank 0 writes checkpoints.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import pickle
import signal
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from tqdm import tqdm

from ._files import atomic_write, check_folder, portable_command
from ._quality import adapter_for, conditioned_forward, load_adapter
from .degrade import PRESETS, degrade, jpeg, jpeg_known, resize
from .devices import fast_dtype, resolve_device
from .imageio import as_channels, find_images, read_image
from .models import ARCHITECTURES, build_model, load_grown
from .weights import load_model, model_card, read_verified, save_weights

__all__ = ["PatchDataset", "build_parser", "check_arguments", "main", "stages_of", "train"]

#: Columns of ``OUT/log.csv``.
LOG_COLUMNS = ["step", "wall_time_s", "loss", "lr", "val_psnr_in", "val_psnr_out"]


class PatchDataset:
    """Random (degraded, clean) patch pairs from a set of image files.

    Parameters
    ----------
    files : sequence of path
        Clean images; read once and kept in memory.
    channels : int
        1 (gray) or 3 (RGB).
    preset : str
        Degradation preset from :data:`dci_cnn.degrade.PRESETS`.
    patch_size : int
        Side of the square patches (the ``paper`` preset always gives 64).
    known_quality : bool
        Degrade with :func:`~dci_cnn.degrade.jpeg_known` instead of the
        preset (a third of the patches compressed twice on a shifted grid,
        a fifth resized down before compression) and return the quality of
        the last compression with each pair, to train a quality adapter.
    """

    def __init__(self, files, channels, preset, patch_size=128, *, known_quality=False):
        if preset not in PRESETS:
            raise ValueError(f"unknown degradation {preset!r}; choose one of {sorted(PRESETS)}")
        if not files:
            raise ValueError("no training images")
        self.images = [as_channels(read_image(f), channels) for f in files]
        self.images = [im for im in self.images if min(im.shape[:2]) >= patch_size]
        if not self.images:
            raise ValueError(f"no image is at least {patch_size} pixels on its shorter side")
        self.channels, self.preset, self.patch_size, self.known_quality = channels, preset, patch_size, known_quality

    def sample(self, rng):
        """One ``(degraded, clean)`` pair of ``(H, W[, 3])`` float32 arrays (and the quality with ``known_quality``)."""
        image = self.images[rng.integers(len(self.images))]
        h, w = image.shape[:2]
        side = self.patch_size if self.preset != "paper" else int(rng.integers(min(h, w) // 2, min(h, w) + 1))
        shrink = self.known_quality and rng.random() < 0.2
        if shrink:  # a photo resized down before it was compressed
            side = min(int(side * rng.uniform(1.1, 2.0)), h, w)
        y, x = rng.integers(0, h - side + 1), rng.integers(0, w - side + 1)
        patch = image[y : y + side, x : x + side]
        patch = np.rot90(patch, int(rng.integers(4)))
        if rng.random() < 0.5:
            patch = patch[:, ::-1]
        if shrink:
            patch = resize(patch, self.patch_size)
        if self.known_quality:
            return jpeg_known(np.ascontiguousarray(patch), rng, double_prob=1 / 3)
        degraded, clean = degrade(np.ascontiguousarray(patch), self.preset, rng)
        return degraded, clean

    def batch(self, size, rng):
        """A batch as two ``(N, C, H, W)`` float32 tensors (and the ``(N,)`` qualities with ``known_quality``)."""
        samples = [self.sample(rng) for _ in range(size)]
        images = tuple(torch.from_numpy(_to_nchw(np.stack(a))) for a in list(zip(*samples))[:2])
        return (*images, torch.tensor([s[2] for s in samples])) if self.known_quality else images


def _to_nchw(array):
    return np.ascontiguousarray(array[:, None] if array.ndim == 3 else array.transpose(0, 3, 1, 2))


def validation_set(files, channels, qualities=(10, 30), size=192):
    """Fixed (degraded, clean, quality) triples: centre crops of the validation files at fixed JPEG qualities.

    ``size`` is the crop side, cut to the image and rounded down to a multiple of 8 (the JPEG block).
    """
    if size < 8:
        raise ValueError(f"validation crop size must be at least 8 pixels, got {size}")
    pairs = []
    for f in files:
        image = as_channels(read_image(f), channels)
        h, w = image.shape[:2]
        if min(h, w) < 8:
            raise ValueError(f"validation image {f} is {w}x{h} pixels, smaller than a JPEG block (8x8); remove it from --data")
        s = min(size, h, w) // 8 * 8
        crop = image[(h - s) // 2 : (h - s) // 2 + s, (w - s) // 2 : (w - s) // 2 + s]
        pairs += [(jpeg(crop, q), crop, q) for q in qualities]
    return pairs


def _psnr(a, b):
    mse = float(torch.mean((a.clamp(0, 1) - b) ** 2))
    return 10 * math.log10(1.0 / max(mse, 1e-12))


@torch.no_grad()
def validate(model, pairs, dtype=None, forward=None):
    """Mean PSNR of inputs and outputs over the validation triples; ``forward(model, x, quality)`` runs the model."""
    model.eval()
    psnr_in, psnr_out = [], []
    for degraded, clean, quality in pairs:
        x = torch.from_numpy(_to_nchw(degraded[None]))
        y = torch.from_numpy(_to_nchw(clean[None]))
        with torch.autocast("cpu", dtype=dtype or torch.bfloat16, enabled=dtype is not None):
            out = (forward(model, x, torch.tensor([quality])) if forward else model(x)).float()
        psnr_in.append(_psnr(x, y))
        psnr_out.append(_psnr(out, y))
    model.train()
    return float(np.mean(psnr_in)), float(np.mean(psnr_out))


def _loss_fn(name):
    if name == "mse":
        return torch.nn.functional.mse_loss
    if name == "l1":
        return torch.nn.functional.l1_loss
    if name == "charbonnier":
        return lambda a, b: torch.mean(torch.sqrt((a - b) ** 2 + 1e-6))
    raise ValueError(f"unknown loss {name!r}; choose mse, l1 or charbonnier")


def _out_of_time(wall, time_limit, device, distributed):
    """Whether ``--time-limit`` (minutes) has passed; under DDP, on any rank, so all stop at one step."""
    late = bool(time_limit) and wall > time_limit * 60
    if not (time_limit and distributed):
        return late
    flag = torch.tensor([float(late)], device=device)
    torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
    return bool(flag.item())


def stages_of(card):
    """The training stages that made a model, oldest first: its card's ``previous_stages``, then its last stage.

    A run started with ``--init`` stores this list in its own card, so a model
    fine-tuned in many stages keeps the command and numbers of each.
    """
    training = dict(card.get("training") or {})
    if not training:
        return []
    return [*training.pop("previous_stages", []), training]


def _split(files, val_fraction, seed):
    order = np.random.default_rng(seed).permutation(len(files))
    n_val = max(1, round(len(files) * val_fraction)) if len(files) > 1 else 0
    return [files[i] for i in order[n_val:]], [files[i] for i in order[:n_val]]


def _atomic_save(obj, path):
    atomic_write(path, lambda tmp: torch.save(obj, tmp), overwrite=True)


def _read_checkpoint(path):
    """The checkpoint to resume from, or one ValueError naming the file (truncated, pickled objects, keys missing)."""
    fix = "delete it to start over, or choose another --out"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's note on pickle protocols: the error below says all
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, ValueError, pickle.UnpicklingError) as exc:  # damaged, truncated or unsafe
        reason = ("it holds Python objects, not only tensors (refused: only tensors are loaded)" if "weights_only" in str(exc)
                  else "it is truncated or damaged")
        raise ValueError(f"cannot resume from {path}: {reason}; {fix}") from None
    missing = {"model", "optimizer", "scheduler", "step", "wall_time_s"} - set(ckpt if isinstance(ckpt, dict) else ())
    if missing:
        raise ValueError(f"cannot resume from {path}: not a dci-cnn checkpoint (lacks {sorted(missing)}); {fix}")
    return ckpt


def _keep_log_rows(path, step):
    """Rewrite the CSV log keeping the rows up to ``step``: a run killed after its last checkpoint logged steps that resume repeats."""
    rows = []
    if path.exists():
        with open(path, newline="") as log:
            rows = [r for r in list(csv.reader(log))[1:] if r and r[0].isdigit() and int(r[0]) <= step]

    def write(tmp):
        with open(tmp, "w", newline="") as log:
            csv.writer(log).writerows([LOG_COLUMNS, *rows])

    atomic_write(path, write, overwrite=True)


def _at_least(minimum, **values):
    for option, value in values.items():
        if not value >= minimum:
            raise ValueError(f"--{option.replace('_', '-')} must be at least {minimum}, got {value}")


def check_arguments(args):
    """Check every argument and path of a training run before any work.

    Raises one ``ValueError``, ``FileExistsError`` or ``PermissionError``
    naming the option and the fix. Returns the checkpoint to resume from
    (``--resume`` with ``OUT/checkpoint.pt`` present), else None.
    """
    _at_least(1, batch_size=args.batch_size, steps=args.steps, val_every=args.val_every,
              checkpoint_every=args.checkpoint_every)
    _at_least(0, lr=args.lr, clip_grad=args.clip_grad, threads=args.threads, val_images=args.val_images,
              stop_at=args.stop_at, time_limit=args.time_limit)
    _at_least(8, val_size=args.val_size)
    if not 0 <= args.ema < 1:
        raise ValueError(f"--ema must be a decay in [0, 1) (0 disables it), got {args.ema}")
    if not 0 <= args.val_fraction < 1:
        raise ValueError(f"--val-fraction must be in [0, 1), got {args.val_fraction}")
    multiple = max(8, ARCHITECTURES[args.arch].size_multiple)
    if args.patch_size < multiple or args.patch_size % ARCHITECTURES[args.arch].size_multiple:
        raise ValueError(f"--patch-size must be at least {multiple} and a multiple of "
                         f"{ARCHITECTURES[args.arch].size_multiple} for {args.arch}, got {args.patch_size}")
    try:
        arch_args = json.loads(args.arch_args)
    except json.JSONDecodeError as exc:
        raise ValueError(f"--arch-args is not valid JSON ({exc}): {args.arch_args}") from None
    if not isinstance(arch_args, dict):
        raise TypeError(f"--arch-args must be a JSON object such as '{{\"residual\": true}}', got {args.arch_args}")
    try:
        build_model(args.arch, **{"channels": args.channels, **arch_args})
    except (TypeError, ValueError) as exc:
        raise ValueError(f"--arch-args {args.arch_args} do not fit {args.arch}: {exc}") from None
    resolve_device(args.device)
    if not Path(args.data).is_dir():
        raise ValueError(f"--data {args.data} is not a folder of images")
    if not find_images(args.data):
        raise ValueError(f"--data {args.data} holds no images")
    if args.init and model_card(args.init)["architecture"] != args.arch:
        raise ValueError(f"--init {args.init} is a {model_card(args.init)['architecture']} model, not {args.arch}")
    out = Path(args.out)
    check_folder(out, "--out")
    ckpt_path, log_path = out / "checkpoint.pt", out / "log.csv"
    if not args.resume and not args.overwrite and (ckpt_path.exists() or log_path.exists()):
        raise FileExistsError(f"--out {out} holds a run; pass --resume to continue it, --overwrite to start it over, "
                              "or choose another --out")
    if args.export:
        export = Path(args.export)
        if export.suffix != ".safetensors":
            raise ValueError(f"--export must end in .safetensors, got {export}")
        for path in (export, export.with_suffix(".json")):
            if path.exists() and not args.overwrite:
                raise FileExistsError(f"--export: {path} exists; pass --overwrite to replace it")
        check_folder(export.parent, "--export")
    return _read_checkpoint(ckpt_path) if args.resume and ckpt_path.is_file() else None


def train(args):
    """Run a training job described by parsed command-line ``args``; returns the final log row."""
    ckpt = check_arguments(args)
    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    rank = 0
    if distributed:
        torch.distributed.init_process_group("nccl" if torch.cuda.is_available() and args.device != "cpu" else "gloo")
        rank = torch.distributed.get_rank()
    device = resolve_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    ckpt_path = out / "checkpoint.pt"

    files = find_images(args.data)
    split_seed = args.seed if args.split_seed is None else args.split_seed
    train_files, val_files = _split(files, args.val_fraction, split_seed)
    if distributed:
        train_files = train_files[rank :: torch.distributed.get_world_size()]
    dataset = PatchDataset(train_files, args.channels, args.degradation, args.patch_size, known_quality=args.quality_adapter)
    val_pairs = validation_set(val_files[: args.val_images], args.channels, size=args.val_size) if rank == 0 else []

    arguments = {"channels": args.channels, **json.loads(args.arch_args)}
    torch.manual_seed(args.seed)
    model = build_model(args.arch, **arguments)
    lineage = {}
    if args.init:
        card, state = read_verified(args.init)
        if args.quality_adapter and card["arguments"] != arguments:
            raise ValueError(f"--quality-adapter keeps --init as it is: pass --channels and --arch-args matching "
                             f"its card's arguments {card['arguments']}")
        load_grown(model, state)
        lineage = {"init_sha256": card["sha256"], "previous_stages": stages_of(card)}
        if args.quality_adapter:
            lineage = {"base": card["name"], "base_sha256": card["sha256"]}
    elif args.quality_adapter:
        raise ValueError("--quality-adapter trains an adapter for a trained model: pass it as --init")
    model = model.to(device).to(memory_format=torch.channels_last)
    backbone = None
    if args.quality_adapter:  # only a FiLM adapter learns; the --init model stays as it is
        backbone, model = model.requires_grad_(False), adapter_for(model).to(device)
        if args.init_adapter:  # a later stage: continue from an exported adapter of the same base
            previous = load_adapter(args.init_adapter, load_model(args.init))
            model.load_state_dict(previous.module.state_dict())
            lineage["previous_stages"] = stages_of(previous.card)

    def run(module, x, quality=None):
        return module(x) if backbone is None else conditioned_forward(backbone, module, x, quality)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    if args.schedule == "cosine":
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.steps, eta_min=args.lr * 0.01)
    else:
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    ema = None
    if args.ema:
        ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(args.ema), use_buffers=True)
    step, wall = 0, 0.0
    if ckpt is not None:
        try:
            model.load_state_dict(ckpt["model"])
        except RuntimeError:
            raise ValueError(f"{ckpt_path} was written for another model; resume with its --arch and --arch-args, "
                             "or choose another --out") from None
        optimizer.load_state_dict(ckpt["optimizer"])
        scheduler.load_state_dict(ckpt["scheduler"])
        step, wall = ckpt["step"], ckpt["wall_time_s"]
        if ema is not None:
            if "ema" not in ckpt:
                raise ValueError(f"{ckpt_path} was written without --ema; resume without it or start a new --out")
            ema.load_state_dict(ckpt["ema"])
    # what is validated and exported: the moving average of the weights with --ema, else the weights
    final_model = ema.module if ema is not None else model
    net = torch.nn.parallel.DistributedDataParallel(model) if distributed else model
    loss_fn = _loss_fn(args.loss)
    dtype = fast_dtype(device) if args.precision == "auto" else {"float32": None, "bf16": torch.bfloat16}[args.precision]

    stop = {"flag": False}

    def request_stop(signum, _frame):
        stop["flag"] = True

    previous = {s: signal.signal(s, request_stop) for s in (signal.SIGINT, signal.SIGTERM)}

    def checkpoint():
        if rank == 0:
            _atomic_save(
                {
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                    "step": step,
                    "wall_time_s": wall,
                    **({"ema": ema.state_dict()} if ema is not None else {}),
                },
                ckpt_path,
            )

    log_path = out / "log.csv"
    if rank == 0:
        _keep_log_rows(log_path, step)
    log_file = open(log_path, "a", newline="") if rank == 0 else None  # noqa: SIM115 (closed in the finally below)
    writer = csv.writer(log_file) if log_file else None
    row = {}
    bar = tqdm(total=args.steps, initial=step, disable=rank != 0 or args.quiet, dynamic_ncols=True)
    started = time.perf_counter() - wall
    running = None
    try:
        last = min(args.steps, args.stop_at or args.steps)
        while step < last and not stop["flag"]:
            rng = np.random.default_rng([args.seed, step, rank])
            degraded, clean, *quality = dataset.batch(args.batch_size, rng)
            degraded, clean = (t.to(device, memory_format=torch.channels_last) for t in (degraded, clean))
            with torch.autocast(device.type, dtype=dtype or torch.bfloat16, enabled=dtype is not None):
                restored = run(net, degraded, *quality)
            loss = loss_fn(restored.float(), clean)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if args.clip_grad:
                torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip_grad)
            optimizer.step()
            scheduler.step()
            if ema is not None:
                ema.update_parameters(model)
            step += 1
            wall = time.perf_counter() - started
            value = loss.item()
            running = value if running is None else 0.98 * running + 0.02 * value
            bar.update(1)
            bar.set_postfix(loss=f"{running:.5f}", val=row.get("val_psnr_out", "-"))
            out_of_time = _out_of_time(wall, args.time_limit, device, distributed)
            if rank == 0 and (step % args.val_every == 0 or step == args.steps or out_of_time):
                vin, vout = validate(final_model, val_pairs, dtype, run) if val_pairs else (float("nan"),) * 2
                row = {"val_psnr_in": round(vin, 3), "val_psnr_out": round(vout, 3)}
                writer.writerow([step, round(wall, 1), f"{running:.6f}", f"{scheduler.get_last_lr()[0]:.3g}", *row.values()])
                log_file.flush()
            if step % args.checkpoint_every == 0:
                checkpoint()
            if out_of_time:
                break
    finally:
        checkpoint()
        bar.close()
        if log_file:
            log_file.close()
        for s, handler in previous.items():
            signal.signal(s, handler)
    final = {"step": step, "wall_time_s": round(wall, 1), "train_loss": running, **row}
    if rank == 0 and args.export:
        card = {
            "description": args.description or f"{args.arch} trained on {args.degradation} degradations",
            "architecture": args.arch,
            "arguments": arguments,
            "training": {
                "data": f"{Path(args.data).resolve().name}, {len(train_files) + len(val_files)} images",
                "files": len(train_files),
                "validation_files": len(val_files),
                "validation_crop": args.val_size,
                "degradation": args.degradation,
                "patch_size": args.patch_size,
                "batch_size": args.batch_size,
                "loss": args.loss,
                "optimizer": f"Adam lr {args.lr} {args.schedule}" + (f", EMA {args.ema}" if args.ema else ""),
                "precision": str(dtype) if dtype else "float32",
                "init": str(args.init) if args.init else None,
                "command": portable_command("dci-cnn train", args.argv),
                **final,
                **lineage,
                "total_wall_time_s": round(sum(s.get("wall_time_s", 0) for s in lineage.get("previous_stages", [])) + wall, 1),
            },
            "metrics": {},
        }
        if backbone is not None:
            card.pop("architecture")
            card.update(adapter="quality-film", base=lineage["base"], base_sha256=lineage["base_sha256"],
                        arguments={"frequencies": model.frequencies, "hidden": model.mlp[0].out_features})
        save_weights(final_model, args.export, card, overwrite=args.overwrite)
    if distributed:
        torch.distributed.barrier()  # rank 0 exports alone: tearing gloo down under it aborted a rank at exit
        torch.distributed.destroy_process_group()
    return final


def build_parser(parser=None):
    """The ``train`` command's arguments (also used by ``dci-cnn train``)."""
    parser = parser or argparse.ArgumentParser(prog="dci-cnn train", description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="folder of clean training images (searched recursively)")
    parser.add_argument("--out", required=True, help="run folder: checkpoint.pt and log.csv go here")
    parser.add_argument("--arch", default="dciunet", choices=sorted(ARCHITECTURES), help="network architecture")
    parser.add_argument("--arch-args", default="{}", help='JSON of architecture arguments, e.g. \'{"residual": true}\'')
    parser.add_argument("--channels", type=int, default=1, choices=[1, 3], help="1: a gray model, 3: an RGB model")
    parser.add_argument("--degradation", default="mixed", choices=sorted(PRESETS),
                        help="what training inputs go through (see dci_cnn.degrade)")
    parser.add_argument("--patch-size", type=int, default=128,
                        help="side of the square training patches in pixels (a multiple of the architecture's size multiple)")
    parser.add_argument("--batch-size", type=int, default=16, help="patches per step")
    parser.add_argument("--steps", type=int, default=10000, help="length of the schedule in optimizer steps")
    parser.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate")
    parser.add_argument("--schedule", default="cosine", choices=["cosine", "constant"],
                        help="learning rate schedule (cosine: down to 1%% of --lr at --steps)")
    parser.add_argument("--loss", default="charbonnier", choices=["mse", "l1", "charbonnier"], help="training loss")
    parser.add_argument("--clip-grad", type=float, default=1.0, help="max gradient norm; 0 disables")
    parser.add_argument("--ema", type=float, default=0.0,
                        help="validate and export an exponential moving average of the weights with this decay "
                        "per step (e.g. 0.999; 0: the weights as they are)")
    parser.add_argument("--precision", default="auto", choices=["auto", "float32", "bf16"],
                        help="compute precision (auto: bf16 where it is faster on the CPU — AMX, or AVX512-BF16 on AMD — float16 on CUDA)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N, mps or auto")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--seed", type=int, default=0, help="seed of all randomness (patches, degradations, initialisation)")
    parser.add_argument("--split-seed", type=int, default=None,
                        help="seed of the train/validation split by file (default: --seed); keep it fixed across "
                        "fine-tuning stages so validation files stay unseen and the logs compare")
    parser.add_argument("--val-fraction", type=float, default=0.05, help="share of the files held out for validation")
    parser.add_argument("--val-images", type=int, default=20, help="at most this many held-out files are validated")
    parser.add_argument("--val-size", type=int, default=192,
                        help="side of the validation centre crops in pixels (rounded down to a multiple of 8); "
                        "larger crops let a network with a wide receptive field show what it learned")
    parser.add_argument("--val-every", type=int, default=250, help="validate and write a log.csv row every this many steps")
    parser.add_argument("--checkpoint-every", type=int, default=250,
                        help="write checkpoint.pt every this many steps (a killed run loses at most this many)")
    parser.add_argument("--stop-at", type=int, default=0,
                        help="stop (with a checkpoint) at this step of the --steps schedule; --resume continues it (0: at --steps)")
    parser.add_argument("--time-limit", type=float, default=0, help="stop after this many minutes (0: no limit)")
    parser.add_argument("--init", help="start from these weights (a model name or .safetensors path); a U-Net with more "
                        "residual blocks or wider features (--arch-args) starts from them computing what they did "
                        "(default: random initialisation)")
    parser.add_argument("--quality-adapter", action="store_true",
                        help="train only a FiLM quality adapter on the frozen --init model, fed the true JPEG quality; "
                        "--export writes the adapter, its card naming the base model")
    parser.add_argument("--init-adapter", help="with --quality-adapter: start from this exported adapter of the --init model "
                        "(default: a new adapter that starts as the blind model)")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    parser.add_argument("--export", help="write the final weights and card to this .safetensors path (default: no export)")
    parser.add_argument("--overwrite", action="store_true",
                        help="let --export replace existing files, and start over in an --out that holds a run")
    parser.add_argument("--description", help="one line for the model card (default: architecture and degradation)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def main(argv=None):
    """Entry point of ``python -m dci_cnn.train``."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    final = train(args)
    print(json.dumps(final))
    return 0


if __name__ == "__main__":
    from .cli import main as cli_main  # one-line errors, defaults in --help

    sys.exit(cli_main(["train", *sys.argv[1:]]))
