"""No page, card or example shows a path of the machine it was written on."""

import json
import re
from pathlib import Path

import pytest

from dci_cnn._files import portable_command

ROOT = Path(__file__).resolve().parents[1]
MACHINE_PATH = re.compile(r"\.\./shared/|(?<![\w.])/(?:work|tmp|home|root|Users)/")
PAGES = sorted(p for p in [ROOT / "README.md", *(ROOT / "docs").rglob("*.md"), *(ROOT / "examples").glob("*.py")]
               if "generated" not in p.parts)
CARDS = sorted((ROOT / "weights").glob("*.json"))


def strings(value, where=""):
    """Every string in a JSON value, with where it is."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from strings(item, f"{where}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from strings(item, f"{where}[{i}]")
    elif isinstance(value, str):
        yield where, value


@pytest.mark.parametrize("card", CARDS, ids=lambda p: p.name)
def test_cards_hold_no_machine_paths(card):
    found = [(where, s) for where, s in strings(json.loads(card.read_text())) if MACHINE_PATH.search(s)]
    assert not found, f"{card.name}: {found[:3]}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_pages_hold_no_machine_paths(page):
    found = [f"{i}: {line.strip()}" for i, line in enumerate(page.read_text().splitlines(), 1) if MACHINE_PATH.search(line)]
    assert not found, f"{page.relative_to(ROOT)}: {found[:3]}"


def test_portable_command_names_outside_paths_by_their_name(tmp_path):
    (tmp_path / "bsds500").mkdir()
    argv = ["--data", str(tmp_path / "bsds500"), "--out=/work/runs/gray", "--export", "weights/m.safetensors",
            "--description", "a b"]
    assert portable_command("dci-cnn train", argv) == (
        "dci-cnn train --data bsds500/ --out=gray --export weights/m.safetensors --description 'a b'")
    assert portable_command("dci-cnn evaluate", ["--data", "../no-such-folder/eval/kodak24"]) == \
        "dci-cnn evaluate --data kodak24"  # a path that is not a folder here keeps no trailing /
