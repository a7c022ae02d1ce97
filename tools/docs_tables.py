"""Write the numbers that the README and the docs quote from the sources that measured them.

Model quality is written into the cards by ``dci-cnn evaluate ... --record`` (the command is kept
beside them); speed, memory and bf16 into ``benchmarks/report.json`` by ``benchmarks/report.py``.
This script only lays them out, between ``<!-- docs_tables: NAME -->`` and
``<!-- /docs_tables: NAME -->`` markers: on lines of their own for a table (every model's metrics,
the comparison with published results, the self-ensemble table, the benchmark tables), or inside
a sentence for a number that several pages quote (the self-ensemble gain, the default models'
speed, the CPU tile size), so the pages cannot disagree. ``tests/test_docs_tables.py`` fails while
a page and its sources disagree.

    python tools/docs_tables.py           # print every block
    python tools/docs_tables.py --write   # rewrite the marked blocks of the pages
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from dci_cnn import list_models, model_card
from dci_cnn._files import atomic_write
from dci_cnn.devices import CPU_TILE_SIZE

ROOT = Path(__file__).resolve().parents[1]
REPORT = ROOT / "benchmarks" / "report.json"
# benchmarks/report.py's peers: its key -> the name on the page
PEER_LABELS = {"tv": "TV (Chambolle)", "nlm": "NL-means (fast)", "rl": "Richardson-Lucy, 30 it",
               "dncnn20": "DnCNN-3", "fbcnn": "FBCNN"}
# Published PSNR gains over the JPEG input at QUALITIES, gray images, one model for all qualities
FBCNN_PAPER = ("J. Jiang, K. Zhang, R. Timofte, *Towards Flexible Blind JPEG Artifacts Removal*, ICCV 2021, "
               "Table 1 (grayscale JPEG, BSDS500 column: its JPEG, DnCNN and FBCNN rows)")
PUBLISHED = {
    "DnCNN-3": {"gains": (1.41, 1.48, 1.53, 1.55), "source": FBCNN_PAPER + "; DnCNN-3 is from K. Zhang et al., "
                "*Beyond a Gaussian Denoiser: Residual Learning of Deep CNN for Image Denoising*, IEEE TIP 2017"},
    "FBCNN": {"gains": (1.87, 1.95, 2.00, 2.03), "source": FBCNN_PAPER},
}
COLUMNS = ("psnr_in", "psnr_out", "psnr_gain", "ssim_in", "ssim_out", "psnr_b_in", "psnr_b_out")
HEADER = "| set | setting | images | PSNR in | PSNR out | gain | SSIM in | SSIM out | PSNR-B in | PSNR-B out |\n|---|---|---|---|---|---|---|---|---|---|"
QUALITIES = (10, 20, 30, 40)
SAME = "the same, self-ensemble (8 passes)"
# (label, model, test set, degradation) read from a card, or (label, published gains at QUALITIES)
SOTA_ROWS = (
    ("`dci-unet-gray-jpeg`, CBSD68 as gray (this project, JPEG only, blind to quality)", "dci-unet-gray-jpeg", "cbsd68", "jpeg"),
    (SAME, "dci-unet-gray-jpeg", "cbsd68", "jpeg self-ensemble"),
    ("`dci-unet-gray`, CBSD68 as gray (this project, blind to JPEG, blur and noise)", "dci-unet-gray", "cbsd68", "jpeg"),
    (SAME, "dci-unet-gray", "cbsd68", "jpeg self-ensemble"),
    ("`dci-unet-gray-jpeg`, Set12", "dci-unet-gray-jpeg", "set12", "jpeg"),
    ("`dci-unet-gray`, Set12", "dci-unet-gray", "set12", "jpeg"),
    ("DnCNN-3 (published[^published])", PUBLISHED["DnCNN-3"]["gains"]),
    ("FBCNN (published[^published])", PUBLISHED["FBCNN"]["gains"]),
    ("`dci-unet-color-jpeg`, Kodak24", "dci-unet-color-jpeg", "kodak24", "jpeg"),
    (SAME, "dci-unet-color-jpeg", "kodak24", "jpeg self-ensemble"),
    ("`dci-unet-color`, Kodak24", "dci-unet-color", "kodak24", "jpeg"),
    (SAME, "dci-unet-color", "kodak24", "jpeg self-ensemble"),
    ("`dci-unet-color-jpeg`, CBSD68", "dci-unet-color-jpeg", "cbsd68", "jpeg"),
    (SAME, "dci-unet-color-jpeg", "cbsd68", "jpeg self-ensemble"),
    ("`dci-unet-color`, CBSD68", "dci-unet-color", "cbsd68", "jpeg"),
    (SAME, "dci-unet-color", "cbsd68", "jpeg self-ensemble"),
    ("`dci-unet-color-jpeg`, McMaster", "dci-unet-color-jpeg", "mcmaster", "jpeg"),
    ("`dci-unet-color`, McMaster", "dci-unet-color", "mcmaster", "jpeg"),
)
# (label, model, test set, degradation, qualities): one pass beside the self-ensemble
ENSEMBLE_ROWS = (
    ("`dci-unet-gray`, CBSD68 (gray)", "dci-unet-gray", "cbsd68", "jpeg", QUALITIES),
    ("`dci-unet-gray`, CBSD68 (gray), blur + noise + JPEG 40", "dci-unet-gray", "cbsd68", "compound", (40,)),
    ("`dci-unet-color`, Kodak24", "dci-unet-color", "kodak24", "jpeg", QUALITIES),
    ("`dci-unet-color`, CBSD68", "dci-unet-color", "cbsd68", "jpeg", QUALITIES),
    ("`dci-unet-gray-jpeg`, CBSD68 (gray)", "dci-unet-gray-jpeg", "cbsd68", "jpeg", QUALITIES),
    ("`dci-unet-color-jpeg`, Kodak24", "dci-unet-color-jpeg", "kodak24", "jpeg", QUALITIES),
    ("`dci-unet-color-jpeg`, CBSD68", "dci-unet-color-jpeg", "cbsd68", "jpeg", QUALITIES),
)
# (label, model, test set): double JPEG, the second compression on a grid shifted by (4, 4)
DOUBLE_PAIRS = ((10, 30), (30, 10), (30, 50), (50, 30))
DOUBLE_ROWS = (
    ("`dci-unet-gray-jpeg`, CBSD68 (gray)", "dci-unet-gray-jpeg", "cbsd68"),
    ("`dci-unet-gray`, CBSD68 (gray)", "dci-unet-gray", "cbsd68"),
    ("`dci-unet-color-jpeg`, Kodak24", "dci-unet-color-jpeg", "kodak24"),
    ("`dci-unet-color`, Kodak24", "dci-unet-color", "kodak24"),
)
# README: (name cell, input, architecture, [(set label, model, set, degradation, qualities), ...] or a text)
README_ROWS = (
    ("`dci-unet-color` (default for RGB/RGBA)", "RGB", "DCI-UNet (PixelUnshuffle, 3 scales, residual)",
     [("Kodak24", "dci-unet-color", "kodak24", "jpeg", QUALITIES)]),
    ("`dci-unet-gray` (default for gray planes, stacks and bands)", "gray", "DCI-UNet",
     [("CBSD68 (gray)", "dci-unet-gray", "cbsd68", "jpeg", QUALITIES),
      ("blur + noise + JPEG 40:", "dci-unet-gray", "cbsd68", "compound", (40,))]),
    ("`dci-unet-color-jpeg` (`model=\"jpeg\"` for RGB/RGBA)", "RGB", "DCI-UNet, deeper and wider, trained further on JPEG alone",
     [("Kodak24", "dci-unet-color-jpeg", "kodak24", "jpeg", QUALITIES)]),
    ("`dci-unet-gray-jpeg` (`model=\"jpeg\"` for gray)", "gray", "DCI-UNet, deeper and wider, trained further on JPEG alone",
     [("CBSD68 (gray)", "dci-unet-gray-jpeg", "cbsd68", "jpeg", QUALITIES)]),
    ("`dci-paper`", "RGB", "the paper's DCI-CNN, trained as the paper says",
     "worse than its input: a reproduction for comparison, not for use"),
)


def gains(model, data, degradation, qualities=QUALITIES):
    """The recorded PSNR gains of ``model`` on ``data`` at each JPEG quality."""
    entries = model_card(model)["metrics"][data][degradation]
    return [entries[f"QF{q}"]["psnr_gain"] for q in qualities]


def _dB(values):
    return " / ".join(f"{v:+.2f}" for v in values) + " dB"


def table(name):
    """One model's recorded metrics as a markdown table, with the commands that measured them."""
    card = model_card(name)
    lines, commands = [f"**{name}**\n", HEADER], []
    for data, by_degradation in card.get("metrics", {}).items():
        for degradation, entries in by_degradation.items():
            commands.append(entries.get("command", ""))
            for key, m in entries.items():
                if key == "command":
                    continue
                cells = " | ".join(f"{m[c]:+.2f}" if c == "psnr_gain" else f"{m[c]:.4f}" if "ssim" in c else f"{m[c]:.2f}"
                                   for c in COLUMNS)
                lines.append(f"| {data} | {degradation} {key} | {m['images']} | {cells} |")
    lines.append("\nMeasured with:\n\n```bash\n" + "\n".join(commands) + "\n```\n")
    return "\n".join(lines)


def cards_tables():
    """Every shipped model's table."""
    return "\n".join(table(name) for name in list_models())


def sota_table():
    """PSNR gains at JPEG quality 10-40 of the shipped models beside the published ones."""
    lines = ["| | " + " | ".join(f"QF {q}" for q in QUALITIES) + " |", "|---" * (len(QUALITIES) + 1) + "|"]
    for label, *source in SOTA_ROWS:
        values = source[0] if len(source) == 1 else gains(*source)
        lines.append(f"| {label} | " + " | ".join(f"{v:+.2f}" for v in values) + " |")
    lines.append("\n[^published]: " + PUBLISHED["DnCNN-3"]["source"] + ".")
    return "\n".join(lines)


def ensemble_table():
    """One pass against the self-ensemble, per model and test set."""
    lines = ["| model, test set | one pass, QF 10 / 20 / 30 / 40 | self-ensemble |", "|---|---|---|"]
    for label, model, data, degradation, qualities in ENSEMBLE_ROWS:
        one, eight = (gains(model, data, d, qualities) for d in (degradation, f"{degradation} self-ensemble"))
        lines.append(f"| {label} | {_dB(one)} | {_dB(eight)} |")
    return "\n".join(lines)


def double_jpeg_table():
    """PSNR gains on images compressed twice, the second time on a grid shifted by (4, 4), with the input's PSNR."""
    lines = ["| model, test set | " + " | ".join(f"{a} then {b}" for a, b in DOUBLE_PAIRS) + " |", "|---" * (len(DOUBLE_PAIRS) + 1) + "|"]
    for label, model, data in DOUBLE_ROWS:
        recorded = model_card(model)["metrics"][data]["double-jpeg"]
        entries = [recorded[f"QF{a}>{b}"] for a, b in DOUBLE_PAIRS]
        lines.append(f"| {label} | " + " | ".join(f"{e['psnr_gain']:+.2f} dB (from {e['psnr_in']:.2f})" for e in entries) + " |")
    return "\n".join(lines)


def readme_table():
    """The README's list of models with their headline gains."""
    lines = ["| name | input | architecture | PSNR gain over JPEG, QF 10 / 20 / 30 / 40 |", "|---|---|---|---|"]
    for name, channels, architecture, numbers in README_ROWS:
        if not isinstance(numbers, str):
            numbers = "; ".join(f"{label} {_dB(gains(*source))}" for label, *source in numbers)
        lines.append(f"| {name} | {channels} | {architecture} | {numbers} |")
    return "\n".join(lines)


def ensemble_gain():
    """The range of what the self-ensemble adds on the JPEG test sets, e.g. ``0.03–0.15 dB``."""
    extra = [e - o for _, model, data, degradation, qualities in ENSEMBLE_ROWS if degradation == "jpeg"
             for o, e in zip(gains(model, data, degradation, qualities), gains(model, data, f"{degradation} self-ensemble", qualities))]
    return f"{min(extra):.2f}–{max(extra):.2f} dB"


def _report():
    return json.loads(REPORT.read_text())


def _autocast(rows):
    """The rows timed with deblur's own precision (the float32 comparison left out)."""
    return sorted((r for r in rows if r["picked"]), key=lambda r: r["mp"])


def defaults_speed():
    """Seconds per megapixel of the default models at 1 MP and more, e.g. ``0.31–0.36 s``."""
    values = [r["s_per_mp"] for m in ("dci-unet-color", "dci-unet-gray") for r in _autocast(_report()["timings"][m])
              if r["mp"] >= 0.9]
    return f"{min(values):.2f}–{max(values):.2f} s"


def cpu_tile():
    return str(CPU_TILE_SIZE)


def machine():
    """The hardware line of the benchmark report."""
    r = _report()
    rates = r["matmul_gflops"]
    return (f"{r['machine']}; measured {r['started']} in {r['seconds']} s. Dense matmul rate: "
            f"{rates['float32']:.0f} GFLOP/s float32, {rates['bfloat16']:.0f} bf16. {r.get('conditions', '')}").strip()


def _by_size(key, scale, fmt):
    timings = _report()["timings"]
    sizes = sorted({round(r["mp"], 2) for rows in timings.values() for r in _autocast(rows)})
    lines = ["| model | " + " | ".join(f"{s:g} MP" for s in sizes) + " |", "|---" * (len(sizes) + 1) + "|"]
    for model, rows in timings.items():
        cells = {round(r["mp"], 2): fmt.format(r[key] * scale) for r in _autocast(rows)}
        lines.append(f"| `{model}` | " + " | ".join(cells.get(s, "–") for s in sizes) + " |")
    return "\n".join(lines)


def speed_table():
    """Seconds per megapixel per model and image size."""
    return _by_size("s_per_mp", 1, "{:.2f}")


def memory_table():
    """Peak memory beyond the input and output arrays, GB, per model and image size."""
    return _by_size("beyond_mb", 1e-3, "{:.2f}")


def bf16_table():
    """float32 against bf16 autocast: speed at 1 MP and PSNR."""
    r = _report()
    lines = ["| model | float32 s/MP | bf16 s/MP | speed-up | PSNR float32 | PSNR bf16 | difference |", "|---|---|---|---|---|---|---|"]
    for model, psnrs in r["bf16_psnr"].items():
        at1 = [x for x in r["timings"][model] if abs(x["mp"] - 1) < 0.2]
        f32 = next(x["s_per_mp"] for x in at1 if x["dtype"] == "float32")
        b16 = next(x["s_per_mp"] for x in at1 if x["dtype"] == "bfloat16")
        lines.append(f"| `{model}` | {f32:.2f} | {b16:.2f} | {f32 / b16:.2f}× | {psnrs['float32']:.3f} | "
                     f"{psnrs['bfloat16']:.3f} | {round(psnrs['bfloat16'] - psnrs['float32'], 4) + 0.0:+.4f} dB |")
    return "\n".join(lines)


def peers_table():
    """Speed at the peers' image size and PSNR gain at QUALITIES: shipped models, peers measured here, published ones."""
    r = _report()
    mp = r["peer_mp"]
    lines = [f"| method | s/MP here (models at 1 MP, peers at {mp:g} MP) | gain QF " + " / ".join(map(str, QUALITIES))
             + " (dB) | quality from |",
             "|---|---|---|---|"]
    for model, rows in r["timings"].items():
        spm = min(_autocast(rows), key=lambda x: abs(x["mp"] - 1))["s_per_mp"]
        data = "cbsd68" if model_card(model)["arguments"].get("channels", 1) == 1 else "kodak24"
        entries = model_card(model)["metrics"][data]["jpeg"]
        shown = " / ".join(f"{entries[f'QF{q}']['psnr_gain']:+.2f}" if f"QF{q}" in entries else "–" for q in QUALITIES)
        lines.append(f"| `{model}` | {spm:.2f} | {shown} | its card, {'CBSD68 in gray' if data == 'cbsd68' else 'Kodak24 in colour'} |")
    quality = r.get("peer_quality", {})
    for peer, label in PEER_LABELS.items():
        timing = r["peer_timings"].get(peer, {})
        spm = f"{timing['s_per_mp']:.2f}" if "s_per_mp" in timing else "–"
        if peer in quality:
            q = quality[peer]
            shown = " / ".join(f"{q['gains'][str(x)]:+.2f}" for x in QUALITIES)
            source = (f"measured here, {q['images']} CBSD68 images in gray (setting {q['setting']} picked on "
                      "BSDS500 training images)")
        elif label in PUBLISHED:
            shown = " / ".join(f"{g:+.2f}" for g in PUBLISHED[label]["gains"])
            source = "published[^published] (timed here with random weights)"
        else:
            shown, source = "–", "not measured"
        lines.append(f"| {label} | {spm} | {shown} | {source} |")
    lines.append("\n[^published]: " + PUBLISHED["DnCNN-3"]["source"] + ".")
    return "\n".join(lines)


BLOCKS = {
    "models": readme_table, "cards": cards_tables, "sota": sota_table, "ensemble": ensemble_table, "double-jpeg": double_jpeg_table,
    "ensemble-gain": ensemble_gain, "defaults-speed": defaults_speed, "cpu-tile": cpu_tile,
    "bench-machine": machine, "bench-speed": speed_table, "bench-memory": memory_table, "bench-bf16": bf16_table,
    "bench-peers": peers_table,
}
# the pages with markers (a test checks each of them against its sources)
PAGES = ("README.md", "docs/paper.md", "docs/benchmarks.md", "docs/user-guide/models.md", "docs/user-guide/tiling.md",
         "docs/user-guide/cli.md")
MARKER = re.compile(r"<!-- docs_tables: ([\w-]+) -->(\n?)(.*?)<!-- /docs_tables: \1 -->", re.DOTALL)


def filled(text):
    """``text`` with each ``<!-- docs_tables: NAME -->`` ... ``<!-- /docs_tables: NAME -->`` made anew.

    A marker followed by a line break holds a block (a table); one inside a sentence holds a number.
    """
    def make(match):
        name, newline = match.group(1), match.group(2)
        if not newline and match.start() > 0 and text[match.start() - 1] == "\n":
            raise ValueError(f"'<!-- docs_tables: {name} -->' starts a line: markdown would read it as an HTML block "
                             "and cut the paragraph; put it after a word")
        if name not in BLOCKS:
            raise ValueError(f"unknown '<!-- docs_tables: {name} -->' marker; known: {', '.join(BLOCKS)}")
        body = BLOCKS[name]().strip()
        inner = f"\n{body}\n\n" if newline else body
        return f"<!-- docs_tables: {name} -->{newline}{inner}<!-- /docs_tables: {name} -->"

    return MARKER.sub(make, text)


def write(pages=PAGES):
    """Rewrite the marked blocks and numbers of ``pages`` (paths relative to the repository)."""
    for page in pages:
        text = filled((ROOT / page).read_text())
        atomic_write(ROOT / page, lambda tmp, text=text: Path(tmp).write_text(text), overwrite=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite the marked blocks of " + ", ".join(PAGES))
    args = parser.parse_args()
    if args.write:
        write()
    else:
        print("\n\n".join(f"{name}:\n{make()}" for name, make in BLOCKS.items()))


if __name__ == "__main__":
    main()
