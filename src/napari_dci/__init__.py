"""napari plugin of dci-cnn: restore image layers from a dock widget, or with ``deblur_image`` in scripts."""

from ._headless import deblur_image

__all__ = ["deblur_image"]
