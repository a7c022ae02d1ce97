"""Write the tables of model numbers in the README and the docs from the model cards.

The numbers are written into the cards by ``dci-cnn evaluate ... --record`` (the command is kept
beside them); this script only lays them out, between ``<!-- docs_tables: NAME -->`` and
``<!-- /docs_tables: NAME -->`` markers: every model's recorded metrics and the comparison with the
published state of the art (docs/paper.md), the self-ensemble table (docs/user-guide/models.md)
and the README's model table. ``tests/test_docs_tables.py`` fails while a page and the cards disagree.

    python tools/docs_tables.py           # print every block
    python tools/docs_tables.py --write   # rewrite the marked blocks of the pages
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from dci_cnn import list_models, model_card
from dci_cnn._files import atomic_write

ROOT = Path(__file__).resolve().parents[1]
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
    ("DnCNN-3 (published, BSD68)", (1.41, 1.48, 1.53, 1.55)),
    ("FBCNN (published, BSD68)", (1.87, 1.95, 2.00, 2.03)),
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
    return "\n".join(lines)


def ensemble_table():
    """One pass against the self-ensemble, per model and test set."""
    lines = ["| model, test set | one pass, QF 10 / 20 / 30 / 40 | self-ensemble |", "|---|---|---|"]
    for label, model, data, degradation, qualities in ENSEMBLE_ROWS:
        one, eight = (gains(model, data, d, qualities) for d in (degradation, f"{degradation} self-ensemble"))
        lines.append(f"| {label} | {_dB(one)} | {_dB(eight)} |")
    return "\n".join(lines)


def readme_table():
    """The README's list of models with their headline gains."""
    lines = ["| name | input | architecture | PSNR gain over JPEG, QF 10 / 20 / 30 / 40 |", "|---|---|---|---|"]
    for name, channels, architecture, numbers in README_ROWS:
        if not isinstance(numbers, str):
            numbers = "; ".join(f"{label} {_dB(gains(*source))}" for label, *source in numbers)
        lines.append(f"| {name} | {channels} | {architecture} | {numbers} |")
    return "\n".join(lines)


PAGES = {
    "README.md": {"models": readme_table},
    "docs/paper.md": {"cards": cards_tables, "sota": sota_table},
    "docs/user-guide/models.md": {"ensemble": ensemble_table},
}


def filled(text, blocks):
    """``text`` with each ``<!-- docs_tables: NAME -->`` ... ``<!-- /docs_tables: NAME -->`` block made anew."""
    for name, make in blocks.items():
        pattern = re.compile(rf"(<!-- docs_tables: {name} -->\n).*?(<!-- /docs_tables: {name} -->)", re.DOTALL)
        block = pattern.search(text)
        if block is None:
            raise ValueError(f"no '<!-- docs_tables: {name} -->' block")
        text = text[: block.end(1)] + "\n" + make().strip() + "\n\n" + text[block.start(2) :]
    return text


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite the marked blocks of " + ", ".join(PAGES))
    args = parser.parse_args()
    for page, blocks in PAGES.items():
        if args.write:
            text = filled((ROOT / page).read_text(), blocks)
            atomic_write(ROOT / page, lambda tmp, text=text: Path(tmp).write_text(text), overwrite=True)
        else:
            print("\n\n".join(make() for make in blocks.values()))


if __name__ == "__main__":
    main()
