"""mkdocs hook: ``<!-- examples using: NAME -->`` in a page becomes a list of the gallery examples that call NAME.

mkdocs-gallery writes, per object, which examples use it (``docs/generated/backreferences/NAME.examples``,
sphinx-flavoured HTML meant for Sphinx); this turns it into a markdown list of links to those examples.
"""

import re
from pathlib import Path

MARKER = re.compile(r"<!-- examples using: ([\w.]+) -->")
EXAMPLE = re.compile(r'<img alt="([^"]*)"[^>]*/>.*?href="(plot_\w+)"', re.DOTALL)


def on_page_markdown(markdown, page, config, files):
    def links(match):
        found = Path(config["docs_dir"]) / "generated" / "backreferences" / f"{match.group(1)}.examples"
        items = EXAMPLE.findall(found.read_text()) if found.exists() else []
        gallery = "../" * page.file.src_uri.count("/") + "generated/gallery/"
        return "\n".join(f"- [{title}]({gallery}{name}.md)" for title, name in items) or "*(none yet)*"

    return MARKER.sub(links, markdown)
