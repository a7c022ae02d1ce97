"""The "Errors and guarantees" page names, for each promise, tests that exist."""

import ast
import itertools
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "user-guide" / "errors-and-guarantees.md"
REFERENCE = re.compile(r"`(tests/[\w/]+\.py)::(\w+(?:::\w+)?)`")


def _tests_in(path):
    """``test_x`` and ``TestY::test_z`` names defined in a test file, read with ``ast`` (nothing is imported)."""
    names = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test"):
            names.add(node.name)
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            names |= {f"{node.name}::{item.name}" for item in node.body
                      if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and item.name.startswith("test")}
    return names


def _promise_rows(text):
    """Body rows of the page's tables (header and separator rows left out)."""
    lines = text.splitlines()
    return [line for previous, line in itertools.pairwise(lines)
            if line.startswith("|") and previous.startswith("|") and not set(line) <= set("|-: ")]


def test_every_test_the_page_names_exists():
    references = REFERENCE.findall(PAGE.read_text())
    assert len(references) >= 25
    found = {}
    missing = [f"{file}::{name}" for file, name in references
               if name not in found.setdefault(file, _tests_in(ROOT / file) if (ROOT / file).is_file() else set())]
    assert not missing, f"the guarantees page names tests that do not exist: {missing}"


def test_every_promise_names_a_test():
    rows = _promise_rows(PAGE.read_text())
    assert len(rows) >= 25
    assert [row for row in rows if not REFERENCE.search(row)] == []


def test_the_page_is_in_the_site_navigation():
    assert "user-guide/errors-and-guarantees.md" in (ROOT / "mkdocs.yml").read_text()
