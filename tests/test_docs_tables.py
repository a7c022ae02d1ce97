"""The tables of docs/paper.md are the model cards' numbers, as tools/paper_tables.py lays them out."""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def paper_tables():
    spec = importlib.util.spec_from_file_location("paper_tables", ROOT / "tools" / "paper_tables.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_paper_page_tables_match_the_cards(paper_tables):
    page = (ROOT / "docs" / "paper.md").read_text()
    assert paper_tables.filled(page) == page, "run: python tools/paper_tables.py --write docs/paper.md"


def test_a_page_without_the_markers_is_refused(paper_tables):
    with pytest.raises(ValueError, match="no '<!-- paper_tables: cards -->' block"):
        paper_tables.filled("# a page without tables\n")
