"""mkdocs-gallery settings that depend on the environment (read by mkdocs.yml's ``conf_script``).

``DCI_DOCS_PLOT_GALLERY``
    ``true`` (default) runs every example and captures its figures;
    ``false`` builds the gallery pages from the scripts without running them
    (fast, for a strict link check in CI).
``DCI_DOCS_GALLERY_PATTERN``
    Regular expression: only examples whose path matches it are run
    (default: all ``plot_*.py``). The others are shown without output.
"""

import os

#: Order of the examples on the gallery page (others follow, by file name).
ORDER = [
    "plot_jpeg_photo.py",
    "plot_microscopy.py",
    "plot_satellite.py",
    "napari_plugin.py",
    "plot_compound_vs_classical.py",
    "plot_train_your_own.py",
    "plot_huge_image.py",
    "plot_input_size.py",
]


class ExampleOrder:
    """Sort key for ``within_subsection_order``: the position in :data:`ORDER`."""

    def __call__(self, file):
        return (ORDER.index(file.name) if file.name in ORDER else len(ORDER), file.name)


_plot = os.environ.get("DCI_DOCS_PLOT_GALLERY", "true").strip().lower() not in ("0", "false", "no", "off")

conf = {
    "plot_gallery": _plot,
    "filename_pattern": os.environ.get("DCI_DOCS_GALLERY_PATTERN", r"/plot_"),
    "abort_on_example_error": False,
    "only_warn_on_example_error": False,
    "reset_modules": ("matplotlib",),
    "thumbnail_size": (400, 280),
    "within_subsection_order": ExampleOrder,
}
