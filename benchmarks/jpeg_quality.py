"""How well ``estimate_jpeg_quality`` recovers the JPEG quality from decoded pixels, and how fast.

For every image of each ``--data`` folder: Pillow's JPEG (libjpeg) at each quality of ``--qualities``,
gray (ITU-R 601 luma) and colour (4:2:0 and 4:4:4), decoded as it is (grid aligned) and cropped by
1-7 pixels at the top and left (a random offset per image, seeded); the image as stored
(``None`` expected, unless the file itself was a JPEG once); and JPEG at quality 50 resized after
(``skimage.transform.rescale``, anti-aliased, by ``--resize``; ``None`` expected). Prints one table
per folder, after the CPU time per megapixel on 1 and 4 MP test images.

    python benchmarks/jpeg_quality.py --data kodak24/ cbsd68/
    python benchmarks/jpeg_quality.py --data BSDS500/ --limit 40   # the tuning set
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
from skimage.transform import rescale

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bench import machine_line, table, test_image

from dci_cnn import estimate_jpeg_quality
from dci_cnn.degrade import jpeg, to_uint8
from dci_cnn.imageio import as_channels, find_images, read_image

TOLERANCE = 5


def cases(clean, channels, qualities, crop, resize):
    """(row label, expected quality or None, decoded uint8 image) for one clean float image."""
    subsamplings = ("4:2:0", "4:4:4") if channels == 3 else ("",)
    kind = "colour" if channels == 3 else "gray"
    for sub in subsamplings:
        label = f"{kind} {sub}".strip()
        for quality in qualities:
            decoded = to_uint8(jpeg(clean, quality, subsampling=sub or "4:2:0"))
            yield f"{label}, aligned", quality, decoded
            yield f"{label}, cropped", quality, decoded[crop[0] :, crop[1] :]
    yield f"{kind}, as stored", None, to_uint8(clean)
    for factor in resize:
        resized = rescale(jpeg(clean, 50), factor, anti_aliasing=True, channel_axis=-1 if channels == 3 else None)
        yield f"{kind}, JPEG 50 resized x{factor}", None, to_uint8(np.clip(resized, 0, 1))


def evaluate_folder(folder, qualities, resize, limit, seed):
    files = find_images(folder)[:limit]
    rng = np.random.default_rng(seed)
    rows = defaultdict(list)  # label -> [(expected, estimated)]
    per_quality = defaultdict(list)
    seconds = megapixels = 0.0
    for path in files:
        stored = read_image(path)
        crop = tuple(int(v) for v in rng.integers(1, 8, size=2))
        for channels in (1, 3) if stored.ndim == 3 else (1,):
            clean = as_channels(stored, channels)
            for label, expected, image in cases(clean, channels, qualities, crop, resize):
                start = time.process_time()
                estimated = estimate_jpeg_quality(image, channel_axis=-1 if image.ndim == 3 else None)
                seconds += time.process_time() - start
                megapixels += image.shape[0] * image.shape[1] / 1e6
                rows[label].append((expected, estimated))
                if expected is not None:
                    per_quality[expected].append(estimated)
    return len(files), rows, per_quality, seconds / megapixels


def summary(pairs):
    expected = pairs[0][0]
    estimated = [e for _, e in pairs]
    none = np.mean([e is None for e in estimated]) * 100
    if expected is None:
        found = Counter(e for e in estimated if e is not None).most_common(3)
        return [len(pairs), "–", "–", "–", f"{none:.1f}", ", ".join(f"{q} ({n})" for q, n in found) or "–"]
    errors = np.array([abs(e - x) if e is not None else np.inf for x, e in pairs])
    found = errors[np.isfinite(errors)]
    mean = f"{found.mean():.2f}" if found.size else "–"
    within = f"{np.mean(errors <= TOLERANCE) * 100:.1f}"
    return [len(pairs), within, f"{np.mean(errors == 0) * 100:.1f}", mean, f"{none:.1f}", "–"]


def speed(megapixels=(1, 4), repeat=3):
    """Best-of-``repeat`` CPU seconds per megapixel on a JPEG-20 test image of each size, gray and colour."""
    cells = []
    for mp in megapixels:
        for channels in (1, 3):
            image = test_image(mp, channels=channels)
            times = []
            for _ in range(repeat):
                start = time.process_time()
                estimate_jpeg_quality(image, channel_axis=-1 if channels == 3 else None)
                times.append(time.process_time() - start)
            cells.append(f"{min(times) / (image.shape[0] * image.shape[1] / 1e6):.3f}")
    headers = [f"{mp} MP {kind}" for mp in megapixels for kind in ("gray", "colour")]
    return table(["CPU s/MP", *headers], [["estimate_jpeg_quality", *cells]])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", nargs="+", required=True, help="folders of clean images (one table each)")
    parser.add_argument("--qualities", nargs="+", type=int, default=list(range(10, 91, 10)))
    parser.add_argument("--resize", nargs="+", type=float, default=[0.5, 0.8], help="resize factors after JPEG 50")
    parser.add_argument("--limit", type=int, default=None, help="first N images of each folder")
    parser.add_argument("--seed", type=int, default=0, help="seeds the crop offsets")
    args = parser.parse_args(argv)
    print(machine_line())
    print(speed(), "\n")
    print(
        f"estimate_jpeg_quality; qualities {args.qualities}; crops of 1-7 px (seed {args.seed}); "
        f"success = |error| <= {TOLERANCE}\n"
    )
    for folder in args.data:
        count, rows, per_quality, seconds_per_mp = evaluate_folder(
            folder, args.qualities, args.resize, args.limit, args.seed
        )
        print(f"### {Path(folder).name} ({count} images; {seconds_per_mp:.3f} CPU s/MP)\n")
        headers = [
            "input",
            "cases",
            f"|error| <= {TOLERANCE} (%)",
            "exact (%)",
            "mean |error| (found)",
            "None (%)",
            "estimates when None was expected (count)",
        ]
        print(table(headers, [[label, *summary(pairs)] for label, pairs in rows.items()]))
        print()
        cells = []
        for quality in sorted(per_quality):
            found = per_quality[quality]
            ok = np.mean([e is not None and abs(e - quality) <= TOLERANCE for e in found]) * 100
            cells.append(f"{ok:.0f}")
        print(table(["quality", *map(str, sorted(per_quality))], [[f"|error| <= {TOLERANCE} (%)", *cells]]))
        print(flush=True)


if __name__ == "__main__":
    main()
