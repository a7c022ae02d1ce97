"""Print the markdown tables of docs/paper.md from the metrics recorded in the model cards.

The numbers are written into the cards by ``dci-cnn evaluate ... --record`` (the command is kept
beside them); this script only lays them out.

    python tools/paper_tables.py
"""

from __future__ import annotations

from dci_cnn import list_models, model_card

COLUMNS = ("psnr_in", "psnr_out", "psnr_gain", "ssim_in", "ssim_out", "psnr_b_in", "psnr_b_out")
HEADER = "| set | setting | images | PSNR in | PSNR out | gain | SSIM in | SSIM out | PSNR-B in | PSNR-B out |\n|---|---|---|---|---|---|---|---|---|---|"


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


def main():
    for name in list_models():
        print(table(name))


if __name__ == "__main__":
    main()
