"""Print (or write into docs/paper.md) the tables of "Reproducing the paper" from the model cards.

The numbers are written into the cards by ``dci-cnn evaluate ... --record`` (the command is kept
beside them); this script only lays them out: every model's recorded metrics, and the table
against the published state of the art.

    python tools/paper_tables.py                        # print both
    python tools/paper_tables.py --write docs/paper.md  # replace the marked blocks in the page
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from dci_cnn import list_models, model_card
from dci_cnn._files import atomic_write

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


def sota_table():
    """PSNR gains at JPEG quality 10-40 of the shipped models beside the published ones."""
    lines = ["| | " + " | ".join(f"QF {q}" for q in QUALITIES) + " |", "|---" * (len(QUALITIES) + 1) + "|"]
    for label, *source in SOTA_ROWS:
        if len(source) == 1:
            gains = source[0]
        else:
            model, data, degradation = source
            entries = model_card(model)["metrics"][data][degradation]
            gains = [entries[f"QF{q}"]["psnr_gain"] for q in QUALITIES]
        lines.append(f"| {label} | " + " | ".join(f"{g:+.2f}" for g in gains) + " |")
    return "\n".join(lines) + "\n"


BLOCKS = {"cards": lambda: "\n".join(table(name) for name in list_models()), "sota": sota_table}


def filled(text):
    """``text`` with each ``<!-- paper_tables: NAME -->`` ... ``<!-- /paper_tables: NAME -->`` block made anew."""
    for name, make in BLOCKS.items():
        pattern = re.compile(rf"(<!-- paper_tables: {name} -->\n).*?(<!-- /paper_tables: {name} -->)", re.DOTALL)
        block = pattern.search(text)
        if block is None:
            raise ValueError(f"no '<!-- paper_tables: {name} -->' block")
        text = text[: block.end(1)] + "\n" + make().strip() + "\n\n" + text[block.start(2) :]
    return text


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", metavar="PAGE", help="replace the marked blocks of this Markdown page")
    args = parser.parse_args()
    if args.write:
        text = filled(Path(args.write).read_text())
        atomic_write(args.write, lambda tmp: Path(tmp).write_text(text), overwrite=True)
    else:
        print("\n".join(make() for make in BLOCKS.values()))


if __name__ == "__main__":
    main()
