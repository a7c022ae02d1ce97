"""How much could a `jpeg` model gain from being told the JPEG quality? A one-quality expert bounds it.

A network told the quality can hardly do better, at that quality, than a copy of it trained on
that quality alone: it has the same capacity and is asked for more. This script fine-tunes a
shipped ``jpeg`` model on single JPEG compression at one quality (``--quality``; chroma 4:2:0 or
4:4:4 as in the ``jpeg`` preset, no second compression), from its own weights and with its own
train/validation split, then scores the expert and the blind model at that quality and another one
on an evaluation folder. It trains on BSDS500 training images only; the run folder and the expert
stay in ``--out``, outside the repository.

    python benchmarks/quality_ceiling.py --data BSDS500/ --eval kodak24/ --model dci-unet-color-jpeg
    python benchmarks/quality_ceiling.py --data BSDS500/ --eval cbsd68/ --model dci-unet-gray-jpeg --minutes 120

One torch thread by default, so two models can train side by side on 2 cores; a killed run
continues with the same command (``--resume``).
"""

from __future__ import annotations

import argparse
import json
import shlex
from pathlib import Path

import numpy as np

from dci_cnn import degrade, model_card, train
from dci_cnn.evaluate import evaluate, summarize
from dci_cnn.imageio import find_images


def one_quality(quality):
    """A degradation preset: single JPEG at ``quality``, 4:2:0 (70 %) or 4:4:4 chroma."""

    def preset(image, rng):
        clean = np.asarray(image, dtype=np.float32)
        subsampling = "4:2:0" if rng.random() < 0.7 else "4:4:4"
        return degrade.jpeg(clean, quality, subsampling=subsampling), clean

    return preset


def split_seed(card):
    """The ``--split-seed`` the model was trained with, so its validation files stay unseen."""
    words = shlex.split(card["training"]["command"])
    return words[words.index("--split-seed") + 1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="folder of clean training images (BSDS500)")
    parser.add_argument("--eval", required=True, help="folder of clean evaluation images, scored by the model's channels")
    parser.add_argument("--model", default="dci-unet-color-jpeg", help="a shipped jpeg model")
    parser.add_argument("--quality", type=int, default=10, help="the one JPEG quality the expert learns")
    parser.add_argument("--other", type=int, default=30, help="a second quality to score (what the expert gives up)")
    parser.add_argument("--steps", type=int, default=2400, help="length of the cosine schedule")
    parser.add_argument("--minutes", type=float, default=75, help="stop training after this many minutes (in all)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default="runs/quality-ceiling", help="run folder; the expert is written beside it")
    args = parser.parse_args()

    card = model_card(args.model)
    preset = f"jpeg-{args.quality}"
    degrade.PRESETS[preset] = one_quality(args.quality)
    out = Path(args.out) / f"{args.model}-q{args.quality}"
    expert = out.with_suffix(".safetensors")
    arch_args = {k: v for k, v in card["arguments"].items() if k != "channels"}
    channels = card["arguments"]["channels"]
    command = ["--data", args.data, "--out", str(out), "--channels", str(channels), "--arch", card["architecture"],
               "--arch-args", json.dumps(arch_args), "--degradation", preset, "--steps", str(args.steps),
               "--batch-size", "4", "--patch-size", "256", "--lr", "1e-4", "--loss", "mse", "--ema", "0.999",
               "--threads", str(args.threads), "--seed", "201", "--split-seed", split_seed(card), "--val-every", "400",
               "--time-limit", str(args.minutes), "--init", args.model, "--export", str(expert), "--quiet"]
    if (out / "checkpoint.pt").is_file():
        command += ["--resume", "--overwrite"]  # continues a killed run (a finished one is only exported again)
    train.main(command)

    files = find_images(args.eval)
    gains = {}
    for name, model in (("blind", args.model), ("expert", str(expert))):
        rows = evaluate(files, model=model, channels=channels, qualities=(args.quality, args.other))
        gains[name] = {e["quality"]: e["psnr_out"] - e["psnr_in"] for e in summarize(rows)}
    print(f"\n{args.model} and its expert on JPEG {args.quality} ({expert}), {len(files)} images of {args.eval}:\n")
    print("| quality | blind model | expert | expert − blind |\n|---|---|---|---|")
    for q in (args.quality, args.other):
        blind, told = gains["blind"][q], gains["expert"][q]
        print(f"| {q} | {blind:+.3f} dB | {told:+.3f} dB | {told - blind:+.3f} dB |")


if __name__ == "__main__":
    main()
