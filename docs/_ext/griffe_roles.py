"""Griffe extension: turn Sphinx roles in docstrings into mkdocstrings cross-references.

The library's docstrings follow scikit-image and use Sphinx roles such as
``:func:`dci_cnn.list_models``` or ``:data:`PRESETS```. mkdocstrings does not
read roles, so this extension rewrites them before rendering:

* a target inside the project (absolute, or relative to the object's module)
  becomes an autorefs link ``[`name`][dci_cnn.weights.list_models]``;
* any other target (``skimage.util.img_as_float``) becomes inline code.

It also fences doctest lines (``>>>``) that stand outside an *Examples*
section (as in a package's module docstring), which Markdown would
otherwise render as nested quotes; turns reStructuredText definition lists
(a ````term```` line followed by an indented paragraph) into Markdown ones;
and gives the public registries that have only a comment a one-line
description, so that they appear in the reference.

Loaded from ``mkdocs.yml`` (``extensions: [docs/_ext/griffe_roles.py]``).
"""

from __future__ import annotations

import re

from griffe import AliasResolutionError, CyclicAliasError, Docstring, Extension

_ROLE = re.compile(r":(?:py:)?(?:func|class|meth|attr|data|mod|obj|exc|const):`(~?)([\w.]+)(?:\(\))?`")
_PROJECT = ("dci_cnn", "napari_dci")
_EXAMPLES = re.compile(r"^\s*Examples\n\s*-{3,}", re.MULTILINE)
_DOCTEST_RUN = re.compile(r"(?:^[ \t]*>>>.*\n?(?:^[ \t]*(?:\.\.\.|[^\s>].*)\n?)*?)+(?=^\s*$|\Z)", re.MULTILINE)


_RST_DEFLIST = re.compile(r"^(``[^`\n]+``)[ \t]*\n((?:[ \t]{4,}\S.*(?:\n|\Z))+)", re.MULTILINE)

#: Descriptions of public module attributes that carry no docstring in the source.
_ATTRIBUTE_DOCS = {
    "dci_cnn.degrade.PRESETS": "Degradation presets by name (``paper``, ``jpeg``, ``mixed``): functions ``f(image, rng) -> (degraded, clean)``.",
    "dci_cnn.models.ARCHITECTURES": "The architecture registry: name (as stored in model cards) -> ArchSpec.",
    "dci_cnn.weights.DEFAULT_MODELS": "Model used by ``deblur`` when none is named, by channel count: ``{1: gray, 3: colour}``.",
    "dci_cnn.weights.MODEL_FAMILIES": "Names that stand for a gray and a colour model (``default``, ``jpeg``), by channel count.",
}


_PARAMS = re.compile(r"(^[ \t]*Parameters\n[ \t]*-{3,}\n)(.*?)(?=^[ \t]*\w[\w ]*\n[ \t]*-{3,}\n|\Z)", re.MULTILINE | re.DOTALL)
_MULTI = re.compile(r"^([ \t]*)(\w+(?:, *\w+)+)( *:.*\n)((?:\1[ \t]+\S.*\n?|[ \t]*\n(?=\1[ \t]+\S))*)", re.MULTILINE)


def _split_params(text):
    """``a, b : type`` in a Parameters section as two entries, so each gets its own default."""

    def section(m):
        def entry(e):
            body = e.group(4) if e.group(4).endswith("\n") or not e.group(4) else e.group(4) + "\n"
            return "".join(f"{e.group(1)}{name.strip()}{e.group(3)}{body}" for name in e.group(2).split(","))

        return m.group(1) + _MULTI.sub(entry, m.group(2))

    return _PARAMS.sub(section, text)


def _deflists(text):
    """reST definition list items (````term```` + indented body) as Markdown ``term`` / ``:   body``."""

    def item(m):
        body = [line.strip() for line in m.group(2).splitlines() if line.strip()]
        return m.group(1)[1:-1] + "\n:   " + "\n    ".join(body) + "\n\n"

    return _RST_DEFLIST.sub(item, text)


def _fence_doctests(text):
    """Wrap runs of ``>>>`` lines in a ``pycon`` code fence (only where no Examples section handles them)."""
    if _EXAMPLES.search(text):
        return text
    return _DOCTEST_RUN.sub(lambda m: "```pycon\n" + m.group(0).rstrip("\n") + "\n```\n", text)


#: Modules whose pages render their public members (see docs/api/), and what dci_cnn's page shows.
_DOCUMENTED = {
    "dci_cnn.models", "dci_cnn.weights", "dci_cnn.degrade", "dci_cnn.metrics", "dci_cnn.evaluate",
    "dci_cnn.train", "dci_cnn.devices", "napari_dci", "napari_dci._sample_data",
}
_RENDERED = {"dci_cnn.deblur", "dci_cnn.list_models", "dci_cnn.load_model", "dci_cnn.model_card",
             "napari_dci._widget.DeblurWidget"}


def _is_rendered(obj):
    """Whether the API reference shows ``obj`` (so that a link to it resolves)."""
    if obj.path in _RENDERED or obj.is_module and obj.path in _DOCUMENTED:
        return True
    try:
        documented = (obj.final_target if obj.is_alias else obj).docstring is not None
    except (AliasResolutionError, CyclicAliasError):  # an alias that cannot be resolved
        return False
    if not documented or obj.name.startswith("_"):
        return False
    parent = obj.parent
    while parent is not None and not parent.is_module:
        if parent.name.startswith("_") and parent.path not in _RENDERED:
            return False
        if parent.path in _RENDERED:
            return True
        parent = parent.parent
    return parent is not None and parent.path in _DOCUMENTED


def _lookup(root, path):
    obj = root
    for part in path.split(".")[1:]:
        try:
            obj = obj.members[part]
        except (KeyError, AttributeError):
            return None
    return obj


class SphinxRoles(Extension):
    """Rewrite ``:role:`target``` in every docstring of the project."""

    def on_package(self, *, pkg, **kwargs):
        for path, text in _ATTRIBUTE_DOCS.items():
            obj = _lookup(pkg, path) if path.split(".")[0] == pkg.name else None
            if obj is not None and not obj.is_alias and obj.docstring is None:
                obj.docstring = Docstring(text, parent=obj)
        self._walk(pkg, pkg, set())

    def _walk(self, pkg, obj, seen):
        if id(obj) in seen:
            return
        seen.add(id(obj))
        if obj.docstring is not None:
            text = _ROLE.sub(lambda m: self._link(pkg, obj, m), obj.docstring.value)
            text = _fence_doctests(text) if obj.is_module else _split_params(text)
            obj.docstring.value = _deflists(text)
        for member in obj.members.values():
            if not member.is_alias:
                self._walk(pkg, member, seen)

    def _link(self, pkg, obj, match):
        tilde, target = match.groups()
        text = target.rsplit(".", 1)[-1] if tilde else target
        if target.split(".")[0] == pkg.name:
            found = _lookup(pkg, target)
        elif target.split(".")[0] in _PROJECT:
            found = None  # another package of the project: leave as code
        else:
            module = obj if obj.is_module else obj.module
            found = _lookup(pkg, f"{module.path}.{target}") if module.path.startswith(pkg.name) else None
            if found is not None:
                target = f"{module.path}.{target}"
        if found is None or not _is_rendered(found):
            return f"`{text}`"
        return f"[`{text}`][{target}]"
