"""Screenshots of napari with the dci-cnn widget docked: before, during and after a run.

Run it under a display (``xvfb-run -a -s "-screen 0 1600x1000x24" python tools/napari_screenshot.py``).
It opens a plugin sample, docks the widget from the manifest and saves three
JPEGs of the whole window into ``docs/images/``:

* ``napari-before.jpg``: the sample and the dock, ready to run;
* ``napari-during.jpg``: a run in progress, with the dock's progress bar, time left and Cancel;
* ``napari-after.jpg``: input and output side by side (grid mode), zoomed on a detail.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("QT_API", "pyqt6")

import napari
from napari._qt.dialogs.qt_notification import NapariQtNotification
from PIL import Image
from qtpy.QtWidgets import QApplication

#: Detail to zoom on (data row, column), zoom in screen pixels per data pixel, contrast limits.
SAMPLES = {
    "landsat-rgb-jpeg": {"center": (440, 470), "zoom": 3.0, "contrast_limits": (0, 200)},
    "cells-jpeg": {"center": (380, 420), "zoom": 3.0, "contrast_limits": (40, 230)},
}
#: A small tile size for the run shown "during", so the progress bar has many steps to show.
DURING_TILE_SIZE = 256


def _spin(seconds=0.0, until=None, timeout=900.0):
    """Turn Qt's event loop for ``seconds``, or until ``until()`` holds."""
    app, start = QApplication.instance(), time.monotonic()
    while True:
        elapsed = time.monotonic() - start
        if (until is None and elapsed >= seconds) or (until is not None and until()):
            return
        if elapsed > timeout:
            raise TimeoutError("the restoration did not finish in time")
        app.processEvents()
        time.sleep(0.02)


def _save(viewer, path, quality=82):
    """Screenshot the whole window (toasts closed) into a JPEG."""
    for toast in viewer.window._qt_window.findChildren(NapariQtNotification):
        toast.close()
    _spin(0.5)
    pixels = viewer.screenshot(canvas_only=False, flash=False)
    Image.fromarray(pixels[..., :3]).save(path, "JPEG", quality=quality, optimize=True)
    return path


def render(sample, folder, size=(1600, 860)):
    """Open ``sample``, restore it with the docked widget and save the three screenshots into ``folder``.

    Parameters
    ----------
    sample : str
        A sample key of the dci-cnn manifest.
    folder : path-like
        Where the JPEGs go.
    size : (int, int)
        Window width and height in pixels.

    Returns
    -------
    list of Path
    """
    view, folder = SAMPLES[sample], Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    viewer = napari.Viewer(title="napari — dci-cnn")
    viewer.window._qt_window.resize(*size)
    viewer.open_sample("dci-cnn", sample)
    source = viewer.layers[0]
    source.contrast_limits = view["contrast_limits"]  # the output layer inherits them
    _, widget = viewer.window.add_plugin_dock_widget("dci-cnn", "Deblur")
    widget.image.value = source
    _spin(1.0)
    paths = [_save(viewer, folder / "napari-before.jpg")]

    widget.tile_size.value = DURING_TILE_SIZE
    widget.run_button.native.click()
    bar = widget.progress.native
    _spin(until=lambda: widget._worker is None or ("left" in bar.format() and bar.value() >= bar.maximum() // 3))
    paths.append(_save(viewer, folder / "napari-during.jpg"))
    _spin(until=lambda: widget._worker is None)

    viewer.grid.enabled = True
    viewer.grid.stride = 1
    viewer.grid.spacing = 0.02
    viewer.camera.center = tuple(source.data_to_world(view["center"]))
    viewer.camera.zoom = view["zoom"]
    viewer.text_overlay.visible = True
    viewer.text_overlay.text = "left: JPEG input        right: dci-cnn output"
    viewer.text_overlay.font_size = 12
    paths.append(_save(viewer, folder / "napari-after.jpg"))
    viewer.close()
    return paths


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", choices=sorted(SAMPLES), default="landsat-rgb-jpeg")
    parser.add_argument("--out", default="docs/images", help="folder for the three JPEGs")
    args = parser.parse_args(argv)
    for path in render(args.sample, args.out):
        print(path, f"{path.stat().st_size / 1024:.0f} KB")


if __name__ == "__main__":
    main()
