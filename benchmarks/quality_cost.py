"""What telling a model the JPEG quality costs: seconds per megapixel blind and with ``quality=``, and the fold.

``deblur(image, quality=q)`` folds the quality adapter's FiLM into a copy of
the network's convolutions once per quality (cached), then runs a network of
the same architecture: the cost per pixel is the blind model's. The target
(issue 22) is at most 5 % more time per megapixel. Blind and conditioned runs
alternate, so a change in the machine's load hits both; the median is shown.
The adapter's values do not change the cost, so an untrained one (built
here, in a temporary folder) stands in when the model ships none.

Examples
--------
    python benchmarks/quality_cost.py                       # dci-unet-gray-jpeg, 1 MP, 3 rounds
    python benchmarks/quality_cost.py --model dci-unet-color-jpeg --megapixels 0.5
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bench import machine_line, table


def _with_adapter(name, folder):
    """A copy of the shipped model ``name`` with its adapter beside it (an untrained one if none ships)."""
    from dci_cnn._quality import adapter_for, adapter_path
    from dci_cnn.weights import load_model, save_weights, weights_dir

    loaded = load_model(name)
    for ext in (".safetensors", ".json"):
        shutil.copy(weights_dir() / f"{name}{ext}", folder / f"{name}{ext}")
    shipped = adapter_path(loaded)
    if shipped is not None:
        for ext in (".safetensors", ".json"):
            shutil.copy(shipped.with_suffix(ext), folder / f"{shipped.stem}{ext}")
    else:
        card = {"adapter": "quality-film", "base": name, "base_sha256": loaded.card["sha256"],
                "arguments": {"frequencies": 4, "hidden": 16}}
        save_weights(adapter_for(loaded.module), folder / f"{name}-quality.safetensors", card)
    return folder / f"{name}.safetensors", shipped is not None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="dci-unet-gray-jpeg")
    parser.add_argument("--megapixels", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quality", type=int, default=30)
    args = parser.parse_args(argv)

    from skimage import data
    from skimage.transform import resize

    from dci_cnn import deblur
    from dci_cnn._quality import load_adapter, with_quality
    from dci_cnn.degrade import jpeg
    from dci_cnn.weights import load_model

    print(machine_line())
    with tempfile.TemporaryDirectory() as tmp:
        path, shipped = _with_adapter(args.model, Path(tmp))
        loaded = load_model(path)
        colour = loaded.channels == 3
        side = round((args.megapixels * 1e6) ** 0.5 / 8) * 8
        source = data.astronaut() / 255.0 if colour else data.camera() / 255.0
        image = jpeg(resize(source, (side, side) + source.shape[2:]), args.quality)
        axis = -1 if colour else None
        load_adapter(Path(tmp) / f"{args.model}-quality.safetensors", loaded)  # read once, as any later call finds it cached
        t0 = time.perf_counter()
        with_quality(loaded, args.quality)
        fold_s = time.perf_counter() - t0
        deblur(image, model=loaded, channel_axis=axis)  # warm-up
        times = {"blind": [], "quality": []}
        for _ in range(args.rounds):
            for key, quality in (("blind", None), ("quality", args.quality)):
                t0 = time.perf_counter()
                deblur(image, model=loaded, channel_axis=axis, quality=quality)
                times[key].append((time.perf_counter() - t0) / (side * side / 1e6))
    blind, cond = statistics.median(times["blind"]), statistics.median(times["quality"])
    print(f"{args.model} ({'shipped' if shipped else 'untrained stand-in'} adapter), {side}x{side} JPEG at quality "
          f"{args.quality}, {args.rounds} alternating rounds, median")
    print(table(["run", "s/MP", "vs blind"], [["blind", f"{blind:.3f}", ""],
                                               [f"quality={args.quality}", f"{cond:.3f}", f"{100 * (cond / blind - 1):+.1f} %"],
                                               ["fold (once per quality)", f"{fold_s:.3f} s", ""]]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
