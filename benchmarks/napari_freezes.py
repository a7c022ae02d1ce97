"""Longest main-thread gap of napari while the dci-cnn widget runs: is the viewer ever frozen?

A 10 ms QTimer on the GUI thread records the time between its ticks; the
longest interval is how long the GUI could not respond. The viewer is shown
(run under ``xvfb-run -a``), the widget docked from the manifest, and each run
started by clicking *Run*, with Qt's real event loop turning until the output
is on screen, then one more second. The target is 100 ms.

    xvfb-run -a -s "-screen 0 1600x1000x24" python benchmarks/napari_freezes.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _bench import machine_line

TARGET_MS = 100


class GapMeter:
    """Ticks of a 10 ms timer on the GUI thread; ``longest()`` is the longest wait between two, in ms."""

    def __init__(self):
        from qtpy.QtCore import QTimer

        self.timer = QTimer()
        self.timer.timeout.connect(self._tick)
        self.reset()
        self.timer.start(10)

    def reset(self):
        self.last, self.gaps = time.perf_counter(), [0.0]

    def _tick(self):
        now = time.perf_counter()
        self.gaps.append(now - self.last)
        self.last = now

    def longest(self):
        return 1000 * max(self.gaps)


def spin(seconds=None, until=None, timeout=900.0):
    """Turn Qt's event loop (as napari's does) for ``seconds``, or until ``until()`` holds."""
    from qtpy.QtCore import QEventLoop
    from qtpy.QtWidgets import QApplication

    app, start = QApplication.instance(), time.perf_counter()
    while True:
        elapsed = time.perf_counter() - start
        if (seconds is not None and elapsed >= seconds) or (until is not None and until()):
            return elapsed
        if elapsed > timeout:
            raise TimeoutError("the run did not finish in time")
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
        time.sleep(0.002)


def cases(quick):
    import dask.array as da

    rng = np.random.default_rng(0)
    side, stack_side, dask_side = (512, 256, 1024) if quick else (1024, 512, 2048)

    def noisy(*shape, dtype=np.uint8, high=256):
        return rng.integers(0, high, size=shape).astype(dtype)

    return [
        ("2-D gray uint8", f"{side}²", lambda: {"data": noisy(side, side)}),
        ("RGB uint8", f"{side}² × 3", lambda: {"data": noisy(side, side, 3), "rgb": True}),
        ("3-D stack uint8", f"10 × {stack_side}²", lambda: {"data": noisy(10, stack_side, stack_side)}),
        ("multiband uint16, bands last", f"{stack_side}² × 7", lambda: {"data": noisy(stack_side, stack_side, 7,
                                                                                      dtype=np.uint16, high=4096)}),
        ("dask stack uint8", f"3 × {dask_side}²", lambda: {"data": da.from_array(noisy(3, dask_side, dask_side),
                                                                                 chunks=(1, dask_side, dask_side))}),
        ("multiscale 2-D uint8", f"{2 * dask_side}², 4 levels", lambda: {"data": pyramid(noisy(2 * dask_side, 2 * dask_side)),
                                                                         "multiscale": True}),
    ]  # fmt: skip


def pyramid(image, levels=4):
    """``image`` and its 2x, 4x, ... subsamplings: the levels of a multiscale layer."""
    return [image[:: 2**k, :: 2**k] for k in range(levels)]


def measure(viewer, widget, meter, layer):
    """Click Run on ``layer``: longest gap (ms) until the output is drawn and 1 s after, the longest before the
    output is added (while computing), and the run's seconds."""
    from napari_dci._layers import output_name

    widget.image.value = layer
    spin(0.5)
    computing, finish = [], widget._finish

    def finish_spy(*args):  # the output layer is added from here on
        computing.append(meter.longest())
        return finish(*args)

    widget._finish = finish_spy
    meter.reset()
    start = time.perf_counter()
    widget.run_button.native.click()
    spin(until=lambda: widget._worker is None)
    seconds = time.perf_counter() - start
    spin(until=lambda: output_name(layer.name) in viewer.layers)
    spin(1.0)
    widget._finish = finish
    return meter.longest(), computing[0], seconds


def add_layer_alone(viewer, meter, data, limits, **options):
    """napari's own cost of adding and drawing an Image layer, nothing else running: the floor for a new output."""
    meter.reset()
    start = time.perf_counter()
    copy = [level.copy() for level in data] if options.get("multiscale") else data.copy()
    viewer.add_image(copy, name="napari add_image alone", contrast_limits=limits, **options)
    spin(1.0)
    return meter.longest(), None, time.perf_counter() - start - 1.0


def browse(viewer, widget, meter, output):
    """Step the slider onto each plane of a lazy output not yet restored; longest gap until all are shown."""
    meter.reset()
    start = time.perf_counter()
    for plane in range(output.data.shape[0]):
        viewer.dims.set_current_step(0, plane)
        spin(until=lambda p=plane: (p,) in output.data._cache)
        spin(0.3)
    return meter.longest(), meter.longest(), time.perf_counter() - start


def zoom_in(viewer, meter, output):
    """Zoom onto the finest level of a multiscale output; longest gap until that level is shown."""
    meter.reset()
    start = time.perf_counter()
    viewer.camera.zoom = viewer.camera.zoom * 8
    spin(until=lambda: () in getattr(output.data[0], "_cache", {(): None}))  # a plain dask level computes as it is drawn
    spin(0.5)
    return meter.longest(), meter.longest(), time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller images (a few minutes)")
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_API", "pyqt6")
    import napari

    print(machine_line())
    print(f"napari {napari.__version__}, Qt binding {os.environ['QT_API']}, Xvfb (other jobs on the machine show in the load average above)")
    viewer = napari.Viewer(title="napari — dci-cnn freezes")
    viewer.window._qt_window.resize(1600, 1000)
    _, widget = viewer.window.add_plugin_dock_widget("dci-cnn", "Deblur")
    meter = GapMeter()
    spin(1.0)
    rows = []
    for name, size, make in cases(args.quick):
        for layer in list(viewer.layers):
            viewer.layers.remove(layer)
        spin(0.5)
        options = make()
        data = options.pop("data")
        limits = (0, 4095) if (data[0] if options.get("multiscale") else data).dtype == np.uint16 else (0, 255)
        layer = viewer.add_image(data, name=name, contrast_limits=limits, **options)
        if not name.startswith("dask"):
            result = add_layer_alone(viewer, meter, data, limits, **options)
            rows.append((f"{name}: napari's add_image alone (reference)", size, *result))
            viewer.layers.remove("napari add_image alone")
        rows.append((f"{name}, new output layer", size, *measure(viewer, widget, meter, layer)))
        if name.startswith("dask"):
            output = viewer.layers[-1]
            rows.append(("browsing the lazy output (each plane)", size, *browse(viewer, widget, meter, output)))
        elif name.startswith("multiscale"):
            rows.append(("zooming onto the finest level of the multiscale output", size,
                         *zoom_in(viewer, meter, viewer.layers[-1])))
        elif name.startswith("2-D"):
            rows.append((f"{name}, re-run (output updated)", size, *measure(viewer, widget, meter, layer)))
    print()
    print("| run | size | longest main-thread gap | before the output is added | run time |")
    print("|---|---|---:|---:|---:|")
    for name, size, gap, computing, seconds in rows:
        flag = "" if gap <= TARGET_MS else " (over)"
        during = "" if computing is None else f"{computing:.0f} ms"
        print(f"| {name} | {size} | {gap:.0f} ms{flag} | {during} | {seconds:.1f} s |")
    worst = max(row[2] for row in rows if "reference" not in row[0])
    print(f"\nworst gap {worst:.0f} ms against the {TARGET_MS} ms target: {'met' if worst <= TARGET_MS else 'NOT met'}")
    viewer.close()


if __name__ == "__main__":
    main()
