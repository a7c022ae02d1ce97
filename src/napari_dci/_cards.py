"""Model cards in words for the widget: a short summary for tooltips, the full card for a dialog."""

from __future__ import annotations

import json

from dci_cnn import model_card
from dci_cnn.models import ARCHITECTURES

__all__ = ["PAPER", "card_summary", "card_text", "paper_last"]

#: The paper's network as written: worse than its input by its own card, so listed last and labelled.
PAPER = "dci-paper"

#: Datasets whose JPEG numbers summarise a card, in order of preference.
SUMMARY_DATASETS = ("cbsd68", "kodak24")


def paper_last(names):
    """``names`` with :data:`PAPER` moved to the end."""
    return [n for n in names if n != PAPER] + [n for n in names if n == PAPER]


def _gain(metrics):
    """'+1.07 to +1.15 dB PSNR on JPEG q10-40 (CBSD68, 68 images)' from a card's metrics, or None."""
    for dataset in SUMMARY_DATASETS:
        entries = metrics.get(dataset, {}).get("jpeg", {})
        rows = {k: v for k, v in entries.items() if k.startswith("QF") and "psnr_gain" in v}
        if rows:
            gains = [v["psnr_gain"] for v in rows.values()]
            qualities = sorted(int(k[2:]) for k in rows)
            images = next(iter(rows.values())).get("images", "?")
            return (
                f"{min(gains):+.2f} to {max(gains):+.2f} dB PSNR on JPEG q{qualities[0]}-{qualities[-1]} "
                f"({dataset.upper()}, {images} images)"
            )
    return None


def card_summary(name):
    """Three short lines about model ``name``: what it is for, its measured gain, its speed.

    Returns the error text if the card cannot be read.
    """
    try:
        card = model_card(name)
    except ValueError as exc:
        return str(exc)
    purpose = card.get("description", "").split(";")[0].split(". ")[0]
    if purpose.count("(") > purpose.count(")"):  # cut inside a parenthesis: drop it
        purpose = purpose[: purpose.rindex("(")].strip()
    lines = [f"{name}: {purpose}"]
    gain = _gain(card.get("metrics", {}))
    if gain:
        lines.append(f"measured gain: {gain}")
    spec = ARCHITECTURES.get(card.get("architecture"))
    if spec is not None:
        kflop = spec.flops_per_pixel(**card.get("arguments", {})) / 1e3
        lines.append(f"speed: {kflop:,.0f} kFLOP per pixel, {card.get('parameters', 0):,} parameters")
    if name == PAPER:
        lines.append("the paper's network reproduced for comparison: worse than its input; use the U-Nets")
    return "\n".join(lines)


def card_text(name):
    """The full model card of ``name`` as indented JSON (checksum left out)."""
    card = {key: value for key, value in model_card(name).items() if key != "sha256"}
    return json.dumps(card, indent=2)
