"""The numbers the README and the docs quote are those of their sources, as tools/docs_tables.py lays them out."""

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def docs_tables():
    spec = importlib.util.spec_from_file_location("docs_tables", ROOT / "tools" / "docs_tables.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("page", ["README.md", "docs/paper.md", "docs/benchmarks.md", "docs/user-guide/models.md",
                                  "docs/user-guide/tiling.md", "docs/user-guide/cli.md"])
def test_page_numbers_match_their_sources(docs_tables, page):
    assert page in docs_tables.PAGES
    text = (ROOT / page).read_text()
    assert "<!-- docs_tables:" in text
    assert docs_tables.filled(text) == text, "run: python tools/docs_tables.py --write"


def test_a_stale_number_is_rewritten_in_a_sentence_and_a_block(docs_tables):
    text = ("Averaging costs 8 passes for <!-- docs_tables: ensemble-gain -->9 dB<!-- /docs_tables: ensemble-gain --> more.\n\n"
            "<!-- docs_tables: ensemble -->\nold table\n<!-- /docs_tables: ensemble -->\n")
    new = docs_tables.filled(text)
    assert re.search(r"for <!-- docs_tables: ensemble-gain -->\d\.\d\d–\d\.\d\d dB<!-- /docs_tables: ensemble-gain --> more",
                     new)
    assert "old table" not in new and "| model, test set |" in new


def test_an_unknown_marker_is_refused(docs_tables):
    with pytest.raises(ValueError, match="unknown '<!-- docs_tables: nope -->' marker"):
        docs_tables.filled("<!-- docs_tables: nope -->x<!-- /docs_tables: nope -->")


def test_no_page_outside_the_list_has_markers(docs_tables):
    marked = {str(p.relative_to(ROOT)) for p in [ROOT / "README.md", *(ROOT / "docs").rglob("*.md")]
              if "generated" not in p.parts and docs_tables.MARKER.search(p.read_text())}
    assert marked <= set(docs_tables.PAGES)


def test_a_number_at_the_start_of_a_line_is_refused(docs_tables):
    with pytest.raises(ValueError, match="starts a line"):
        docs_tables.filled("costs\n<!-- docs_tables: cpu-tile -->1<!-- /docs_tables: cpu-tile --> pixels")
