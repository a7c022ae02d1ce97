"""The dock widget: collect options, run the restoration off the GUI thread, show the result.

The input layer is captured when Run is pressed (see :mod:`._layers`), the
work runs in a :func:`napari.qt.threading.thread_worker`, and a progress bar
with the time left and a Cancel button sit in the dock for every kind of run
(tiles of in-memory data, dask tasks of lazy data, planes of a lazy output
computed while browsing). Cancel stops after the tile in flight without
writing any layer. Every failure is shown as a napari notification with a
one-line reason, and in the (word-wrapped) status line.
"""

from __future__ import annotations

import logging
import time
import weakref
from dataclasses import dataclass

import numpy as np
from magicgui.widgets import CheckBox, ComboBox, Container, Label, ProgressBar, PushButton, RadioButtons
from napari.layers import Image, Labels
from napari.qt.threading import thread_worker
from napari.utils.notifications import show_error, show_info
from qtpy.QtCore import Qt
from qtpy.QtWidgets import QDialog, QPlainTextEdit, QSizePolicy, QVBoxLayout
from superqt.utils import ensure_main_thread

from dci_cnn import list_models
from dci_cnn._quality import takes_quality
from dci_cnn.devices import available_devices
from dci_cnn.weights import MODEL_FAMILIES

from ._background import BackgroundPlanes, compute_thread, dask_progress
from ._cards import PAPER, card_summary, card_text, paper_last
from ._channels import guess_channel_axis, image_axes
from ._layers import capture, output_name, plane_axes, show_result
from ._restore import AUTO, auto_tile_size, is_lazy, restore

__all__ = ["DeblurWidget"]

logger = logging.getLogger(__name__)

WHOLE, PLANE = "whole stack", "current plane only"
TILE_SIZES = (256, 512, 1024, 2048, 4096)
#: Channel-axis choice meaning "every axis but the last two indexes planes".
NO_CHANNELS = "none"
#: An image side this short is more likely channels than pixels: the widget warns.
SHORT_SIDE = 16
#: JPEG quality choices beside "from file", "estimate" and "blind": a strength knob, lower removes more.
QUALITIES = tuple(range(5, 100, 5))
FROM_FILE, ESTIMATE, BLIND = "from file", "auto", "none"

#: Model choices that stand for a gray and a colour model: label and tooltip.
FAMILIES = {
    AUTO: (
        "auto (gray or colour)",
        ("Blind to JPEG, blur and noise: the gray model for gray layers, the colour model for RGB layers"),
    ),
    "jpeg": (
        "JPEG only (gray or colour)",
        (
            "JPEG artifacts only, for images known to be just compressed: "
            "the gray JPEG model for gray layers, the colour one for RGB layers"
        ),
    ),
}

TOOLTIPS = {
    "image": "The Image layer to restore; follows the layer selected in the layer list",
    "channels": (
        "Which axis holds channels or bands. RGB layers go through the colour model; "
        "other channels one by one through the gray model. The image is the last two other axes"
    ),
    "device": "Where the network runs: the CPU, or a GPU found on this computer",
    "tile_size": (
        "Memory follows the tile size, not the image size; the result does not depend on it. "
        "auto: a size that keeps progress and Cancel responsive"
    ),
    "quality": (
        "The JPEG quality the model restores for (models with a quality adapter). from file: the quality in "
        "the JPEG file's own tables (files opened with this plugin's reader); estimate: found from the pixels; "
        "blind: not told. A number sets it by hand: lower removes more, higher keeps more detail"
    ),
    "self_ensemble": "Average the model over the 8 flips and rotations of the image: a little better, 8 times slower",
    "scope": (
        "whole stack: every plane. current plane only: the plane on screen, written into the output "
        "layer's plane; the other planes stay as they were"
    ),
    "run_button": "Restore the chosen layer into '<name> [deblurred]' (created, or updated in place)",
    "cancel_button": "Stop after the tile in flight; no layer is written",
    "card_button": "Show the chosen model's full card: training, data, every measured number",
    "progress": "Progress of the run, or of the plane of a lazy output being restored",
}


def _takes_quality(choice):
    """Whether a model choice (``AUTO`` is the default family) has a quality adapter."""
    return takes_quality(None if choice == AUTO else choice)


class Cancelled(Exception):
    """Raised from the progress callback to stop a job after the current tile."""


@dataclass
class Outcome:
    """What a worker hands back: the restored data, or why there is none."""

    data: object = None
    error: str | None = None


def _restore_job(snapshot, options, visible, stop, report):
    """Worker body: the restoration runs in the plugin's low-priority compute thread (see :func:`_restore`)."""
    return compute_thread.submit(_restore, snapshot, options, visible, stop, report).result()


def _restore(snapshot, options, visible, stop, report):
    """Worker body: restore a snapshot, never raising (errors go back in the :class:`Outcome`).

    ``stop()`` is polled after every tile or dask task (a cancelled worker's
    result is never emitted); ``report(done, total)`` forwards progress. A
    lazy result comes back as :class:`BackgroundPlanes` with the plane
    ``visible`` (index of the leading axes on screen) already computed; a
    multiscale one as a list of them, the coarsest level of a 2-D pyramid
    computed.
    """

    def progress(done, total):
        if stop():
            raise Cancelled
        report(done, total)

    options = dict(options, rgb=snapshot.rgb, channel_axis=None if snapshot.rgb else snapshot.channel_axis)
    try:
        if snapshot.multiscale:  # levels restored off the GUI thread as napari asks for them
            with dask_progress(progress):  # the value range of each level is read now
                levels = [restore(level, lazy=True, **options) for level in snapshot.data]
            lead = np.ndim(snapshot.data[0]) - (3 if snapshot.rgb else 2)
            data = [BackgroundPlanes(level, plane_axes=lead) for level in levels]
            if lead == 0:  # the coarsest level now, so that the output shows at once
                data[-1].compute_plane((), progress)
        elif is_lazy(snapshot.data):
            with dask_progress(progress):  # the value range of the whole input is read now
                lazy = restore(snapshot.data, **options)
            data = BackgroundPlanes(lazy, plane_axes=len(visible))
            data.compute_plane(visible, progress)
        else:
            data = restore(snapshot.data, progress=progress, **options)
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
        self._started = None
        self._progressing = False
        self._guess = None
        self.image = ComboBox(label="image", choices=self._layer_choices)
        self.channels = ComboBox(label="channels", choices=self._channel_choices)
        self.channel_note = Label(value="")
        families = [f for f in FAMILIES if f == AUTO or set(MODEL_FAMILIES[f].values()) <= set(list_models())]
        shipped = paper_last(list_models())
        self._models = families + shipped
        labels = [FAMILIES[f][0] for f in families] + [
            f"{name} (the paper's reproduction)" if name == PAPER else name for name in shipped
        ]
        self.model = ComboBox(label="model", choices=list(zip(labels, self._models)))
        self.card_button = PushButton(text="card…")
        devices = available_devices()
        self.device = ComboBox(label="device", choices=devices, value=devices[min(1, len(devices) - 1)])
        self.tile_size = ComboBox(label="tile size", choices=self._tile_choices)
        self.quality = ComboBox(label="JPEG quality", choices=self._quality_choices)
        self._quality_offered = any(map(_takes_quality, self._models))
        self.self_ensemble = CheckBox(text="self-ensemble (8x slower)", value=False)
        self.scope = RadioButtons(label="restore", choices=[WHOLE, PLANE], value=WHOLE, orientation="horizontal")
        self.run_button = PushButton(text="Run")
        self.cancel_button = PushButton(text="Cancel", enabled=False)
        self.progress = ProgressBar(value=0, min=0, max=1, visible=False)
        self.status = Label(value="")
        self.model.label = ""  # the row below carries the label, in the dock's label column
        model_row = Container(widgets=[self.model, self.card_button], layout="horizontal", labels=False, label="model")
        model_row.margins = (0, 0, 0, 0)
        buttons = Container(widgets=[self.run_button, self.cancel_button], layout="horizontal", labels=False)
        self.extend([
            self.image, self.channels, self.channel_note, model_row, self.quality, self.device, self.tile_size,
            self.self_ensemble, self.scope, buttons, self.progress, self.status,
        ])  # fmt: skip
        for label in (self.status, self.channel_note):  # long text wraps instead of widening the dock
            label.native.setWordWrap(True)
            label.native.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.channel_note.native.setStyleSheet("color: #f0a030")
        for name, tip in TOOLTIPS.items():
            getattr(self, name).tooltip = tip
        self._set_model_tooltips()
        self.model.changed.connect(self._set_model_tooltips)
        self.card_button.changed.connect(self.show_card)
        self.device.changed.connect(self._refresh_tile_choices)
        self.model.changed.connect(self._refresh_tile_choices)
        self.model.changed.connect(self._update_quality)
        self.image.changed.connect(self._layer_changed)
        self.channels.changed.connect(self._channels_changed)
        self.run_button.changed.connect(self.run)
        self.cancel_button.changed.connect(self.cancel)
        for event in (napari_viewer.layers.events.inserted, napari_viewer.layers.events.removed):
            event.connect(self.image.reset_choices)
        napari_viewer.layers.selection.events.active.connect(self._follow_selection)
        self.image.reset_choices()
        self._follow_selection()
        self._layer_changed()

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

    def _file_quality(self):
        """The JPEG quality the chosen layer's file records (:mod:`napari_dci._reader`), or None."""
        layer = self.image.value
        record = layer.metadata.get("jpeg") if isinstance(layer, Image) else None
        return record.get("quality") if isinstance(record, dict) else None

    def _quality_choices(self, _widget):
        known = self._file_quality()
        file_choice = [(f"from file ({known})", FROM_FILE)] if known is not None else []
        return file_choice + [("estimate from pixels", ESTIMATE), ("blind", BLIND)] + [(str(q), q) for q in QUALITIES]

    def _update_quality(self, *, relist=False):
        """Offer "from file" for a layer read from a JPEG (and preselect it); enable only for models that take a quality.

        The field is shown only when one of the listed models has a quality adapter.
        """
        if relist:
            self.quality.native.clear()  # relabelled items would otherwise keep their old text
            self.quality.reset_choices()
            self.quality.value = FROM_FILE if self._file_quality() is not None else ESTIMATE
        self.quality.enabled = _takes_quality(self.model.value) and self._worker is None
        self.quality.visible = self._quality_offered

    def _chosen_quality(self):
        """The ``quality`` for :func:`dci_cnn.deblur`: None for models that take none."""
        value = self.quality.value
        if value == BLIND or not _takes_quality(self.model.value):
            return None
        return self._file_quality() if value == FROM_FILE else value

    def _set_model_tooltips(self):
        combo = self.model.native
        for index, value in enumerate(self._models):
            tip = FAMILIES[value][1] if value in FAMILIES else card_summary(value)
            combo.setItemData(index, tip, Qt.ItemDataRole.ToolTipRole)
        self.model.tooltip = combo.itemData(combo.currentIndex(), Qt.ItemDataRole.ToolTipRole)

    def show_card(self):
        """Open a dialog with the full card of the chosen model (both cards for a family)."""
        value = self.model.value
        family = MODEL_FAMILIES.get("default" if value == AUTO else value)
        names = list(dict.fromkeys(family.values())) if family else [value]
        dialog = QDialog(self.native)
        dialog.setWindowTitle(f"dci-cnn model card: {', '.join(names)}")
        text = QPlainTextEdit("\n\n".join(card_text(name) for name in names), dialog)
        text.setReadOnly(True)
        layout = QVBoxLayout(dialog)
        layout.addWidget(text)
        dialog.resize(640, 480)
        dialog.show()
        return dialog

    def _channel_choices(self, _widget):
        """ "none", or each axis of the chosen layer (napari resets docked widgets' choices from this)."""
        layer = self.image.value
        if not isinstance(layer, Image):
            return [("none", NO_CHANNELS)]
        shape = layer.data[0].shape if layer.multiscale else layer.data.shape
        if layer.rgb:
            return [("RGB (colour model)", len(shape) - 1)]
        axes = [(f"axis {a}: {layer.axis_labels[a]!r}, {n}", a) for a, n in enumerate(shape) if len(shape) >= 3]
        return [("none: planes of the last two axes", NO_CHANNELS), *axes]

    def _layer_changed(self):
        """Offer the chosen layer's axes as channel axis, preselecting the guess."""
        layer = self.image.value
        guess = None
        if isinstance(layer, Image):
            shape = layer.data[0].shape if layer.multiscale else layer.data.shape
            guess = guess_channel_axis(shape, rgb=layer.rgb, axis_labels=layer.axis_labels)
        self._guess = guess
        self.channels.native.clear()  # relabelled items would otherwise keep their old text
        self.channels.reset_choices()
        self.channels.value = NO_CHANNELS if guess is None or guess.axis is None else guess.axis
        self.channels.enabled = len(self.channels.choices) > 1 and self._worker is None
        self._update_quality(relist=True)
        self._channels_changed()

    def _channel_axis(self):
        value = self.channels.value
        return None if value == NO_CHANNELS else value

    def _channels_changed(self):
        """Warn about a guessed channel axis, or about an image side so short it looks like channels."""
        layer, axis, note = self.image.value, self._channel_axis(), ""
        if isinstance(layer, Image) and not layer.rgb:
            shape = layer.data[0].shape if layer.multiscale else layer.data.shape
            rows, cols = (shape[a] for a in image_axes(len(shape), axis))
            if self._guess is not None and self._guess.guessed and axis == self._guess.axis:
                note = f"⚠ axis {axis} taken as channels: {self._guess.reason}. Change it here if it is not."
            elif min(rows, cols) <= SHORT_SIDE and len(shape) >= 3:
                note = f"⚠ each image would be {rows} × {cols} pixels: is a short axis channels? Choose it above."
        self.channel_note.value = note
        self.channel_note.visible = bool(note)
        self._update_scope()

    def _update_scope(self):
        layer = self.image.value
        axis = (layer.ndim - 1 if layer.rgb else self._channel_axis()) if isinstance(layer, Image) else None
        stack = (
            isinstance(layer, Image)
            and not layer.multiscale
            and not is_lazy(layer.data)
            and bool(plane_axes(layer.data.ndim, axis))
        )
        self.scope.enabled = stack and self._worker is None
        if not stack:
            self.scope.value = WHOLE

    def _set_running(self, running):
        self.run_button.enabled = not running
        self.cancel_button.enabled = running
        self.channels.enabled = not running and len(self.channels.choices) > 1
        for widget in (self.image, self.model, self.card_button, self.device, self.tile_size,
                       self.self_ensemble):  # fmt: skip
            widget.enabled = not running
        self._update_scope()
        self._update_quality()

    # ---- running -------------------------------------------------------
    def _fail(self, reason):
        self.status.value = f"failed: {reason}"
        show_error(f"dci-cnn: {reason}")

    def _visible_plane(self, layer):
        """Index of the leading axes (those napari slices) at the viewer's position."""
        lead = layer.ndim - (3 if layer.rgb else 2)
        position = np.rint(layer.world_to_data(self._viewer.dims.point)[:lead]).astype(int)
        return tuple(np.clip(position, 0, np.asarray(layer.data.shape[:lead]) - 1).tolist())

    def run(self):
        """Capture the chosen layer and start restoring it in a worker thread.

        Returns
        -------
        napari.qt.threading.FunctionWorker or None
            The started worker, or None if the job could not start (the reason
            is shown as a notification and in the status line).
        """
        if self._worker is not None:
            return None
        layer = self.image.value
        if layer is None:
            self._fail("no image layer to restore; open an image first")
            return None
        try:
            point = self._viewer.dims.point if self.scope.value == PLANE else None
            snapshot = capture(layer, point, channel_axis=self._channel_axis())
        except TypeError as exc:
            self._fail(str(exc))
            return None
        options = {
            "model": self.model.value,
            "device": self.device.value,
            "tile_size": self.tile_size.value,
            "self_ensemble": self.self_ensemble.value,
            "quality": self._chosen_quality(),
        }
        visible = () if snapshot.multiscale else self._visible_plane(layer)
        self.status.value = "preparing lazy restoration…" if is_lazy(snapshot.data) else "restoring…"
        self._start_progress()

        def stop():
            return worker.abort_requested

        worker = thread_worker(_restore_job, start_thread=False)(snapshot, options, visible, stop, self._report)
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

    def _start_progress(self, text="starting…"):
        self._started = None
        bar = self.progress.native
        bar.setRange(0, 0)  # busy until the first report
        bar.setFormat(text)
        self.progress.visible = self._progressing = True

    @ensure_main_thread
    def _report(self, done, total):
        """Show ``done`` of ``total`` steps and the time left (from the pace since the first report)."""
        if not self._progressing:
            return  # late report of a finished job
        now = time.monotonic()
        if self._started is None or done == 0:
            self._started = (now, done)
        bar = self.progress.native
        bar.setRange(0, max(total, 1))
        bar.setValue(min(done, total))
        since, first = self._started
        left = ""
        if done > first and done < total:
            left = f" · {(now - since) / (done - first) * (total - done):.0f} s left"
        bar.setFormat(f"%p% ({done} of {total}){left}")

    def _stop_progress(self):
        self.progress.visible = self._progressing = False
        self._started = None

    def _finish(self, snapshot, outcome):
        self._stop_progress()
        if outcome.error is not None:
            self._fail(outcome.error)
            return
        layer = show_result(self._viewer, snapshot, outcome.data)
        for planes in outcome.data if snapshot.multiscale else [outcome.data]:
            if isinstance(planes, BackgroundPlanes):
                self._follow_planes(planes, layer)
        self.status.value = f"done: {output_name(snapshot.name)!r}"

    def _follow_planes(self, planes, layer):
        """Show the background restoration of a lazy output's planes, and refresh the layer when one is ready."""
        ref = weakref.ref(layer)

        @ensure_main_thread
        def started(index):
            self.status.value = f"restoring plane {index} of {layer.name!r} in the background…"
            self._start_progress(f"plane {index}…")

        @ensure_main_thread
        def ready(index):
            if self._worker is None:
                self._stop_progress()
                self.status.value = f"plane {index} of {layer.name!r} restored"
            shown = ref()
            if shown is not None and any(level is planes for level in (shown.data if shown.multiscale else [shown.data])):
                shown.refresh()

        @ensure_main_thread
        def failed(index, exc):
            self._stop_progress()
            self._fail(f"plane {index} of {layer.name!r}: {str(exc).splitlines()[0] if str(exc) else exc!r}")

        planes.started.append(started)
        planes.ready.append(ready)
        planes.failed.append(failed)
        planes.progress.append(lambda done, total: self._worker is None and self._report(done, total))

    def _cleanup(self, snapshot, cancelled):
        self._stop_progress()
        if cancelled:
            self.status.value = "cancelled; no layer written"
            show_info(f"dci-cnn: cancelled restoring {snapshot.name!r}; no layer written")
        self._worker = None
        self._set_running(False)
