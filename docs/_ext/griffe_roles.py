"""Griffe extension: turn Sphinx roles in docstrings into mkdocstrings cross-references.

The library's docstrings follow scikit-image and use Sphinx roles such as
``:func:`dci_cnn.list_models``` or ``:data:`PRESETS```. mkdocstrings does not
read roles, so this extension rewrites them before rendering:

* a target inside the project (absolute, or relative to the object's module)
  becomes an autorefs link ``[`name`][dci_cnn.weights.list_models]``;
* any other target (``skimage.util.img_as_float``) becomes inline code.

Loaded from ``mkdocs.yml`` (``extensions: [docs/_ext/griffe_roles.py]``).
"""

from __future__ import annotations

import re

from griffe import Extension

_ROLE = re.compile(r":(?:py:)?(?:func|class|meth|attr|data|mod|obj|exc|const):`(~?)([\w.]+)(?:\(\))?`")
_PROJECT = ("dci_cnn", "napari_dci")


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
        self._walk(pkg, pkg, set())

    def _walk(self, pkg, obj, seen):
        if id(obj) in seen:
            return
        seen.add(id(obj))
        if obj.docstring is not None:
            obj.docstring.value = _ROLE.sub(lambda m: self._link(pkg, obj, m), obj.docstring.value)
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
        if found is None:
            return f"`{text}`"
        return f"[`{text}`][{target}]"
