"""
Restore a layer in napari
=========================

The same restoration as ``deblur``, from napari's dock widget: open the
widget, pick a layer, press *Run*; the result appears as a new layer
beside the input, in the same value range, with the input's scale and
translation. Dask and multiscale layers stay lazy.

![napari with the dci-cnn widget docked: a JPEG-compressed sample and its restoration side by side](../../images/napari-after.jpg)

*The screenshot is made by a script, `xvfb-run -a python tools/napari_screenshot.py`, which
opens a plugin sample, restores it with the widget as a user would and zooms in on a detail.
More on the [napari page](../../napari.md).*

This example is not run when the documentation is built (it opens a
window); run it yourself with ``pip install "dci-cnn[napari]"``.
"""

import napari
from skimage import data

from dci_cnn import deblur
from dci_cnn.degrade import jpeg

viewer = napari.Viewer()
viewer.add_image(jpeg(data.astronaut() / 255.0, 10), name="astronaut, JPEG q=10", rgb=True)

# The widget, docked on the right (also under Plugins > dci-cnn > Deblur)
dock, widget = viewer.window.add_plugin_dock_widget("dci-cnn", "Deblur")

# %%
# Without the widget
# ------------------
# ``deblur`` works on any layer's data (NumPy or dask), so a script can do
# what the widget does:

layer = viewer.layers["astronaut, JPEG q=10"]
viewer.add_image(deblur(layer.data, channel_axis=-1), name="restored", rgb=True)

if __name__ == "__main__":
    napari.run()
