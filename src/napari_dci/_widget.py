"""The dock widget: collect options, run the restoration off the GUI thread, show the result.

The input layer is captured when Run is pressed (see :mod:`._layers`), the
work runs in a :func:`napari.qt.threading.thread_worker` with a cancelable
napari progress bar over tiles, and Cancel (in the widget or on the progress
bar) stops after the tile in flight without writing any layer. Every failure
is shown as a napari notification with a one-line reason.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from magicgui.widgets import CheckBox, ComboBox, Container, Label, PushButton, RadioButtons
from napari.layers import Image, Labels
from napari.qt.threading import thread_worker
from napari.utils import cancelable_progress
from napari.utils.notifications import show_error, show_info
from qtpy.QtCore import Qt
from superqt.utils import ensure_main_thread

from dci_cnn import list_models, model_card
from dci_cnn.devices import available_devices
from dci_cnn.weights import MODEL_FAMILIES

from ._layers import capture, leading_axes, output_name, show_result
from ._restore import AUTO, auto_tile_size, is_lazy, restore

__all__ = ["DeblurWidget"]

logger = logging.getLogger(__name__)

WHOLE, PLANE = "whole stack", "current plane only"
TILE_SIZES = (256, 512, 1024, 2048, 4096)

#: Model choices that stand for a gray and a colour model: label and tooltip.
FAMILIES = {
    AUTO: ("auto (gray or colour)", ("Blind to JPEG, blur and noise: "
                                     "the gray model for gray layers, the colour model for RGB layers")),
    "jpeg": ("JPEG only (gray or colour)", ("JPEG artifacts only, for images known to be just compressed: "
                                            "the gray JPEG model for gray layers, the colour one for RGB layers")),
}


class Cancelled(Exception):
    """Raised from the progress callback to stop a job after the current tile."""


@dataclass
class Outcome:
    """What a worker hands back: the restored data, or why there is none."""

    data: object = None
    error: str | None = None


def card_tooltip(name):
    """A model card as tooltip text: one ``key: value`` line per field (checksum left out)."""
    try:
        card = model_card(name)
    except ValueError as exc:
        return str(exc)
    lines = [
        f"{key}: {json.dumps(value) if isinstance(value, (dict, list)) else value}"
        for key, value in card.items()
        if key != "sha256"
    ]
    return "\n".join(lines)


def _restore_job(snapshot, options, stop, report):
    """Worker body: restore a snapshot, never raising (errors go back in the :class:`Outcome`).

    ``stop()`` is polled after every tile (a cancelled worker's result is
    never emitted); ``report(done, total)`` forwards progress.
    """

    def progress(done, total):
        if stop():
            raise Cancelled
        report(done, total)

    try:
        if snapshot.multiscale:
            data = [restore(level, rgb=snapshot.rgb, lazy=True, **options) for level in snapshot.data]
        else:
            data = restore(snapshot.data, rgb=snapshot.rgb, progress=progress, **options)
    except Cancelled:
        return Outcome()
    except Exception as exc:  # shown to the user as a notification, traceback kept in the log
        logger.debug("dci-cnn job failed", exc_info=True)
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return Outcome(error=reason)
    return Outcome(data=data)


class DeblurWidget(Container):
    """Restore an Image layer with a dci-cnn model.

    Parameters
    ----------
    napari_viewer : napari.viewer.Viewer
        The viewer whose layers are listed and receive the result.
    """

    def __init__(self, napari_viewer):
        super().__init__()
        self._viewer = napari_viewer
        self._worker = None
        self._progress = None
        self.image = ComboBox(label="image", choices=self._layer_choices)
        shipped = list_models()
        families = [f for f in FAMILIES if f == AUTO or set(MODEL_FAMILIES[f].values()) <= set(shipped)]
        self._models = families + shipped
        labels = [FAMILIES[f][0] for f in families] + shipped
        self.model = ComboBox(label="model", choices=list(zip(labels, self._models)))
        devices = available_devices()
        self.device = ComboBox(label="device", choices=devices, value=devices[min(1, len(devices) - 1)])
        self.tile_size = ComboBox(label="tile size", choices=self._tile_choices)
        self.self_ensemble = CheckBox(text="self-ensemble (8x slower)", value=False)
        self.self_ensemble.tooltip = (
            "Average the model over the 8 flips and rotations of the image: a little better, 8 times slower"
        )
        self.scope = RadioButtons(label="restore", choices=[WHOLE, PLANE], value=WHOLE, orientation="horizontal")
        self.run_button = PushButton(text="Run")
        self.cancel_button = PushButton(text="Cancel", enabled=False)
        self.status = Label(value="")
        buttons = Container(widgets=[self.run_button, self.cancel_button], layout="horizontal", labels=False)
        self.extend([self.image, self.model, self.device, self.tile_size, self.self_ensemble, self.scope, buttons, self.status])
        self._set_tooltips()
        self.model.changed.connect(self._set_tooltips)
        self.device.changed.connect(self._refresh_tile_choices)
        self.model.changed.connect(self._refresh_tile_choices)
        self.image.changed.connect(self._update_scope)
        self.run_button.changed.connect(self.run)
        self.cancel_button.changed.connect(self.cancel)
        for event in (napari_viewer.layers.events.inserted, napari_viewer.layers.events.removed):
            event.connect(self.image.reset_choices)
        napari_viewer.layers.selection.events.active.connect(self._follow_selection)
        self.image.reset_choices()
        self._follow_selection()
        self._update_scope()

    # ---- options -------------------------------------------------------
    def _layer_choices(self, _widget):
        """Image layers, and Labels layers so choosing one explains why it cannot be restored."""
        return [layer for layer in self._viewer.layers if isinstance(layer, (Image, Labels))]

    def _follow_selection(self, _event=None):
        """Preselect the viewer's active layer when it can be chosen."""
        active = self._viewer.layers.selection.active
        if active in self._layer_choices(None) and self._worker is None:
            self.image.value = active

    def _tile_choices(self, _widget):
        try:
            auto = f"auto ({auto_tile_size(self.device.value, self.model.value)})"
        except ValueError:  # the device went away or the model file since the list was made; Run will say so
            auto = "auto"
        return [(auto, AUTO)] + [(str(size), size) for size in TILE_SIZES]

    def _refresh_tile_choices(self):
        """Relabel "auto (N)" for the new model or device, keeping it first and the chosen size."""
        value = self.tile_size.value
        self.tile_size.native.clear()  # a relabelled item would otherwise move to the end of the list
        self.tile_size.reset_choices()
        self.tile_size.value = value

    def _set_tooltips(self):
        combo = self.model.native
        for index, value in enumerate(self._models):
            tip = FAMILIES[value][1] if value in FAMILIES else card_tooltip(value)
            combo.setItemData(index, tip, Qt.ItemDataRole.ToolTipRole)
        self.model.tooltip = combo.itemData(combo.currentIndex(), Qt.ItemDataRole.ToolTipRole)

    def _update_scope(self):
        layer = self.image.value
        stack = isinstance(layer, Image) and leading_axes(layer) > 0 and not layer.multiscale
        self.scope.enabled = stack and self._worker is None
        if not stack:
            self.scope.value = WHOLE

    def _set_running(self, running):
        self.run_button.enabled = not running
        self.cancel_button.enabled = running
        for widget in (self.image, self.model, self.device, self.tile_size, self.self_ensemble):
            widget.enabled = not running
        self._update_scope()

    # ---- running -------------------------------------------------------
    def run(self):
        """Capture the chosen layer and start restoring it in a worker thread.

        Returns
        -------
        napari.qt.threading.FunctionWorker or None
            The started worker, or None if the job could not start (the reason
            is shown as a notification).
        """
        if self._worker is not None:
            return None
        layer = self.image.value
        if layer is None:
            show_error("dci-cnn: no image layer to restore; open an image first")
            return None
        try:
            snapshot = capture(layer, self._viewer.dims.point if self.scope.value == PLANE else None)
        except TypeError as exc:
            show_error(f"dci-cnn: {exc}")
            return None
        options = {
            "model": self.model.value,
            "device": self.device.value,
            "tile_size": self.tile_size.value,
            "self_ensemble": self.self_ensemble.value,
        }
        lazy = snapshot.multiscale or is_lazy(snapshot.data)
        self._progress = progress = cancelable_progress(total=0, desc=f"dci-cnn: {snapshot.name}")
        self.status.value = "preparing lazy restoration…" if lazy else "restoring…"

        def stop():  # Cancel here, on the progress bar, or napari's own request (e.g. on closing)
            if progress.is_canceled:
                worker.quit()
            return worker.abort_requested

        worker = thread_worker(_restore_job, start_thread=False)(snapshot, options, stop, self._report)
        worker.returned.connect(lambda outcome: self._finish(snapshot, outcome))
        worker.finished.connect(lambda: self._cleanup(snapshot, worker.abort_requested))
        self._worker = worker
        self._set_running(True)
        worker.start()
        return worker

    def cancel(self):
        """Stop the running job after the tile in flight; no layer is written."""
        if self._worker is not None:
            self._worker.quit()
            self.status.value = "cancelling…"

    @ensure_main_thread
    def _report(self, done, total):
        bar = self._progress
        if bar is None:
            return
        # status first: napari's progress bar processes Qt events, which may finish the job meanwhile
        self.status.value = f"tile {done} of {total}"
        if bar.total != total:
            bar.total = total
        bar.update(done - bar.n)

    def _finish(self, snapshot, outcome):
        self._close_progress()  # late tile reports are dropped from here on
        if outcome.error is not None:
            self.status.value = "failed"
            show_error(f"dci-cnn: {outcome.error}")
        else:
            show_result(self._viewer, snapshot, outcome.data)
            self.status.value = f"done: {output_name(snapshot.name)!r}"

    def _close_progress(self):
        if self._progress is not None:
            self._progress.close()
        self._progress = None

    def _cleanup(self, snapshot, cancelled):
        self._close_progress()
        if cancelled:
            self.status.value = "cancelled; no layer written"
            show_info(f"dci-cnn: cancelled restoring {snapshot.name!r}; no layer written")
        self._worker = None
        self._set_running(False)
