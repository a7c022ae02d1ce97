"""dci-cnn: remove compression artifacts, blur and noise from images with a small CNN.

>>> from dci_cnn import deblur
>>> restored = deblur(image)                      # doctest: +SKIP
"""

from importlib.metadata import PackageNotFoundError, version

from ._deblur import deblur
from .jpeg import JpegQuality, estimate_jpeg_quality, read_jpeg_quality
from .weights import list_models, load_model, model_card

try:
    __version__ = version("dci-cnn")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

__all__ = [
    "JpegQuality",
    "__version__",
    "deblur",
    "estimate_jpeg_quality",
    "list_models",
    "load_model",
    "model_card",
    "read_jpeg_quality",
]
