"""The tables of model numbers in the README and the docs are the cards' numbers, as tools/docs_tables.py lays them out."""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def docs_tables():
    spec = importlib.util.spec_from_file_location("docs_tables", ROOT / "tools" / "docs_tables.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("page", ["README.md", "docs/paper.md", "docs/user-guide/models.md"])
def test_page_tables_match_the_cards(docs_tables, page):
    text = (ROOT / page).read_text()
    assert docs_tables.filled(text, docs_tables.PAGES[page]) == text, "run: python tools/docs_tables.py --write"


def test_a_page_without_the_markers_is_refused(docs_tables):
    with pytest.raises(ValueError, match="no '<!-- docs_tables: cards -->' block"):
        docs_tables.filled("# a page without tables\n", docs_tables.PAGES["docs/paper.md"])
