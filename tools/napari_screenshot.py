"""Render napari with the dci-cnn widget docked, a sample before/after side by side, to a PNG.

Run it under a display (``xvfb-run -a python tools/napari_screenshot.py``);
it opens a plugin sample, restores it with the widget as a user would, shows
input and output in napari's grid mode, zooms in on a detail and saves a
screenshot of the whole window (default ``docs/images/napari-plugin.png``).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import napari
from napari._qt.dialogs.qt_notification import NapariQtNotification
from qtpy.QtWidgets import QApplication

#: Detail to zoom on (data row, column), zoom in screen pixels per data pixel, contrast limits.
SAMPLES = {
    "landsat-rgb-jpeg": {"center": (505, 170), "zoom": 2.5, "contrast_limits": (0, 100)},
    "landsat-bands-jpeg": {"center": (505, 170), "zoom": 4.0, "contrast_limits": (0, 100)},
    "cells-jpeg": {"center": (380, 420), "zoom": 2.5, "contrast_limits": (40, 230)},
}


def _wait(widget, timeout=600.0):
    """Process Qt events until the widget's job is done."""
    app, start = QApplication.instance(), time.monotonic()
    while widget._worker is not None:
        if time.monotonic() - start > timeout:
            raise TimeoutError("the restoration did not finish in time")
        app.processEvents()
        time.sleep(0.02)


def render(sample, out, size=(1800, 800)):
    """Open ``sample``, restore it with the docked widget and save the window to ``out``.

    Parameters
    ----------
    sample : str
        A sample key of the dci-cnn manifest.
    out : path-like
        PNG to write.
    size : (int, int)
        Window width and height in pixels.
    """
    view = SAMPLES[sample]
    viewer = napari.Viewer(title="napari — dci-cnn")
    viewer.window._qt_window.resize(*size)
    viewer.open_sample("dci-cnn", sample)
    source = viewer.layers[0]
    source.contrast_limits = view["contrast_limits"]  # the output layer inherits them
    _, widget = viewer.window.add_plugin_dock_widget("dci-cnn", "Deblur")
    widget.image.value = source
    widget.run()
    _wait(widget)
    viewer.grid.enabled = True
    viewer.grid.stride = 1
    viewer.grid.spacing = 0.02
    world = source.data_to_world((0,) * (source.ndim - 2) + view["center"])[-2:]
    viewer.camera.center = tuple(world)
    viewer.camera.zoom = view["zoom"] / float(source.scale[-1])
    viewer.text_overlay.visible = True
    viewer.text_overlay.text = "left: JPEG input        right: dci-cnn output"
    viewer.text_overlay.font_size = 12
    for toast in viewer.window._qt_window.findChildren(NapariQtNotification):
        toast.close()  # e.g. the PyQt5 deprecation notice, which would hide the picture
    for _ in range(20):
        QApplication.instance().processEvents()
        time.sleep(0.02)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    viewer.screenshot(str(out), canvas_only=False, flash=False)
    viewer.close()
    return Path(out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", choices=sorted(SAMPLES), default="landsat-rgb-jpeg")
    parser.add_argument("--out", default="docs/images/napari-plugin.png")
    args = parser.parse_args(argv)
    print(render(args.sample, args.out))


if __name__ == "__main__":
    main()
