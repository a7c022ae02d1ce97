"""The napari dock widget in a real viewer (run under ``xvfb-run -a``: napari's canvas needs OpenGL)."""

import os
import sys

import numpy as np
import pytest

pytest.importorskip("napari")
pytest.importorskip("pytestqt")
if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
    pytest.skip("no display: run the napari tests under xvfb-run -a", allow_module_level=True)

import dask.array as da
from napari.utils.notifications import notification_manager

from napari_dci import _widget
from napari_dci._background import BackgroundPlanes
from napari_dci._widget import PLANE, DeblurWidget

pytestmark = pytest.mark.napari

TIMEOUT_MS = 30_000


@pytest.fixture
def viewer_widget(make_napari_viewer, random_models, monkeypatch):
    """A viewer and a widget whose model list holds the random-weight test models."""
    monkeypatch.setattr(_widget, "list_models", lambda: [random_models["unet1"], random_models["unet3"]])
    viewer = make_napari_viewer()
    return viewer, DeblurWidget(viewer)


def _run(qtbot, widget):
    worker = widget.run()
    assert worker is not None
    qtbot.waitUntil(lambda: widget._worker is None, timeout=TIMEOUT_MS)


def _shown(control):
    """Whether a control of the (undocked, so never on screen) widget is set to show."""
    return not control.native.isHidden()


def _errors():
    return [str(n.message) for n in notification_manager.records if n.severity == "error"]


def test_widget_lists_layers_models_devices(viewer_widget, random_models):
    viewer, widget = viewer_widget
    layer = viewer.add_image(np.zeros((3, 32, 32), np.uint8), name="stack")
    viewer.add_points(np.zeros((1, 3)))
    assert widget.image.choices == (layer,)
    assert widget.image.value is layer
    assert widget.model.choices == ("auto", random_models["unet1"], random_models["unet3"])
    widget.model.value = random_models["unet1"]
    assert "859,588 parameters" in widget.model.tooltip
    assert widget.device.choices[0] == "cpu"
    assert widget.tile_size.value == "auto"
    assert widget.scope.enabled


def test_widget_offers_the_jpeg_family(make_napari_viewer):
    widget = DeblurWidget(make_napari_viewer())
    assert widget.model.choices[:2] == ("auto", "jpeg") and "dci-unet-gray-jpeg" in widget.model.choices
    widget.tile_size.value = 512
    assert widget.tile_size.native.itemText(0) == "auto (1280)"  # 8 halos of the default U-Nets
    widget.model.value = "jpeg"
    assert "JPEG artifacts only" in widget.model.tooltip
    # "auto" is relabelled with the model's own size (the gray jpeg model's 304-pixel halo: 2432;
    # the paper net's 8-pixel halo: 512), stays first, and the chosen size is kept
    assert widget.tile_size.native.itemText(0) == "auto (2432)"
    assert widget.tile_size.value == 512
    widget.model.value = "dci-paper"
    assert widget.tile_size.choices[0] == "auto" and widget.tile_size.value == 512
    assert widget.tile_size.native.itemText(0) == "auto (512)" and widget.tile_size.native.count() == 6


def test_gray_2d_keeps_metadata(viewer_widget, qtbot, random_models):
    viewer, widget = viewer_widget
    image = np.random.default_rng(0).integers(20, 220, size=(48, 56), dtype=np.uint8)
    layer = viewer.add_image(
        image,
        name="cells",
        scale=(0.5, 0.25),
        translate=(3, 4),
        rotate=30,
        colormap="magma",
        contrast_limits=(10, 200),
        blending="additive",
        units=("um", "um"),
        axis_labels=("y", "x"),
    )
    widget.model.value = random_models["unet1"]
    _run(qtbot, widget)
    out = viewer.layers["cells [deblurred]"]
    assert out.data.shape == image.shape and out.data.dtype == np.uint8
    assert not np.array_equal(out.data, image)
    np.testing.assert_allclose(out.scale, layer.scale)
    np.testing.assert_allclose(out.translate, layer.translate)
    np.testing.assert_allclose(out.rotate, layer.rotate)
    np.testing.assert_allclose(out.affine.affine_matrix, layer.affine.affine_matrix)
    assert out.units == layer.units and out.axis_labels == layer.axis_labels
    assert out.colormap.name == "magma" and tuple(out.contrast_limits) == (10, 200)
    assert out.blending == "additive"


def test_self_ensemble_checkbox_reaches_the_model(viewer_widget, qtbot, random_models):
    from napari_dci import deblur_image

    viewer, widget = viewer_widget
    image = np.random.default_rng(2).integers(20, 220, size=(40, 48), dtype=np.uint8)
    viewer.add_image(image, name="cells")
    widget.model.value = random_models["unet1"]
    widget.self_ensemble.value = True
    worker = widget.run()
    assert not widget.self_ensemble.enabled
    qtbot.waitUntil(lambda: widget._worker is None, timeout=TIMEOUT_MS)
    assert widget.self_ensemble.enabled
    expected = deblur_image(image, model=random_models["unet1"], self_ensemble=True)
    assert worker is not None and np.array_equal(viewer.layers["cells [deblurred]"].data, expected)
    assert not np.array_equal(expected, deblur_image(image, model=random_models["unet1"]))


def test_rgb_uses_colour_model(viewer_widget, qtbot, random_models):
    viewer, widget = viewer_widget
    rgb = np.random.default_rng(1).integers(0, 256, size=(40, 48, 3), dtype=np.uint8)
    viewer.add_image(rgb, name="scene")
    widget.model.value = random_models["unet3"]
    _run(qtbot, widget)
    out = viewer.layers["scene [deblurred]"]
    assert out.rgb and out.data.shape == rgb.shape and out.data.dtype == np.uint8
    _run(qtbot, widget)
    assert viewer.layers["scene [deblurred]"] is out and len(viewer.layers) == 2


def test_stack_whole_and_current_plane(viewer_widget, qtbot, random_models):
    viewer, widget = viewer_widget
    stack = np.random.default_rng(2).random((3, 32, 40)).astype(np.float32)
    viewer.add_image(stack, name="z", scale=(2.0, 1.0, 1.0), translate=(10.0, 0.0, 0.0))
    widget.model.value = random_models["unet1"]
    _run(qtbot, widget)
    out = viewer.layers["z [deblurred]"]
    assert out.data.shape == stack.shape and out.data.dtype == np.float32
    whole = np.array(out.data)

    widget.scope.value = PLANE
    viewer.dims.set_point(0, 14.0)  # world z 14 -> plane 2
    _run(qtbot, widget)
    # the plane went into the whole output, where it sits; the planes restored before are kept
    assert viewer.layers["z [deblurred]"] is out and len(viewer.layers) == 2
    assert out.data.shape == stack.shape
    np.testing.assert_allclose(out.translate, (10.0, 0.0, 0.0))
    np.testing.assert_array_equal(out.data[:2], whole[:2])
    assert np.all(np.isfinite(out.data)) and abs(float(out.data[2].mean()) - float(whole[2].mean())) < 0.2


def test_first_plane_run_makes_a_full_shape_output(viewer_widget, qtbot, random_models):
    viewer, widget = viewer_widget
    stack = np.random.default_rng(12).integers(10, 240, size=(4, 32, 32), dtype=np.uint8)
    viewer.add_image(stack, name="t")
    widget.model.value = random_models["unet1"]
    widget.scope.value = PLANE
    viewer.dims.set_point(0, 1)
    _run(qtbot, widget)
    out = viewer.layers["t [deblurred]"]
    assert out.data.shape == stack.shape and out.data.dtype == np.uint8
    assert out.data[1].any() and not out.data[[0, 2, 3]].any()  # only plane 1 restored so far
    viewer.dims.set_point(0, 3)
    _run(qtbot, widget)
    assert viewer.layers["t [deblurred]"] is out and out.data[1].any() and out.data[3].any()


def test_plane_run_keeps_an_output_of_another_shape(viewer_widget, qtbot, random_models):
    viewer, widget = viewer_widget
    viewer.add_image(np.random.default_rng(13).random((2, 32, 32)).astype(np.float32), name="s")
    widget.model.value = random_models["unet1"]
    _run(qtbot, widget)
    viewer.layers["s"].data = np.random.default_rng(14).random((3, 40, 40)).astype(np.float32)
    widget.scope.value = PLANE
    _run(qtbot, widget)
    assert viewer.layers["s [deblurred] (previous)"].data.shape == (2, 32, 32)  # not discarded
    assert viewer.layers["s [deblurred]"].data.shape == (3, 40, 40)


def test_dask_layer_stays_lazy(viewer_widget, qtbot, random_models):
    viewer, widget = viewer_widget
    stack = np.random.default_rng(3).integers(0, 256, size=(2, 40, 48), dtype=np.uint8)
    viewer.add_image(da.from_array(stack, chunks=(1, 40, 24)), name="lazy", contrast_limits=(0, 255))
    widget.model.value = random_models["unet1"]
    assert not widget.scope.enabled  # the visible plane of a lazy output is restored first anyway
    _run(qtbot, widget)
    out = viewer.layers["lazy [deblurred]"]
    assert isinstance(out.data, BackgroundPlanes) and out.data.dtype == np.uint8
    assert isinstance(out.data.source, da.Array)
    viewer.layers.remove(out)
    viewer.layers["lazy"].data = stack
    _run(qtbot, widget)
    eager = viewer.layers["lazy [deblurred]"].data
    assert np.abs(out.data.source.compute().astype(int) - eager).max() <= 1


def test_multiscale_layer(viewer_widget, qtbot, random_models):
    viewer, widget = viewer_widget
    base = np.random.default_rng(4).random((64, 64)).astype(np.float32)
    viewer.add_image([base, base[::2, ::2], base[::4, ::4]], name="pyramid", multiscale=True, contrast_limits=(0, 1))
    widget.model.value = random_models["unet1"]
    _run(qtbot, widget)
    out = viewer.layers["pyramid [deblurred]"]
    assert out.multiscale and [level.shape for level in out.data] == [(64, 64), (32, 32), (16, 16)]
    assert np.isfinite(np.asarray(out.data[2])).all()
    # napari slices levels on the GUI thread: each is restored in the background, the coarsest before it shows
    assert all(isinstance(level, BackgroundPlanes) for level in out.data) and () in out.data[2]._cache
    fine = out.data[0]
    if () not in fine._cache:
        assert not fine[:16, :16].any()  # an empty stand-in at once, the level computed off the GUI thread
        qtbot.waitUntil(lambda: () in fine._cache, timeout=TIMEOUT_MS)
    np.testing.assert_array_equal(fine[:16, :16], np.asarray(fine.source[:16, :16]))


def test_rerun_replaces_output(viewer_widget, qtbot, random_models):
    viewer, widget = viewer_widget
    viewer.add_image(np.random.default_rng(5).random((32, 32)).astype(np.float32), name="img")
    widget.model.value = random_models["unet1"]
    _run(qtbot, widget)
    first = viewer.layers["img [deblurred]"]
    viewer.layers["img"].data = np.random.default_rng(6).random((40, 40)).astype(np.float32)
    _run(qtbot, widget)
    assert [layer.name for layer in viewer.layers] == ["img", "img [deblurred]"]
    assert viewer.layers["img [deblurred]"] is first and first.data.shape == (40, 40)
    kept = first.data
    widget._report = lambda done, total: widget.cancel()
    _run(qtbot, widget)
    assert first.data is kept  # a cancelled re-run leaves the previous result alone


@pytest.mark.parametrize("lazy", [False, True])
def test_cancel_stops_and_writes_nothing(viewer_widget, qtbot, random_models, lazy):
    viewer, widget = viewer_widget
    stack = np.random.default_rng(7).random((6, 32, 32)).astype(np.float32)
    viewer.add_image(da.from_array(stack, chunks=(1, 32, 32)) if lazy else stack, name="stack")
    widget.model.value = random_models["unet1"]
    reports = []

    def report(done, total):  # called in the worker thread after each tile (each dask task when lazy)
        reports.append(done)
        widget.cancel()

    widget._report = report
    _run(qtbot, widget)
    assert len(reports) <= 2  # stopped at once (a dask compute reports its start, then one task)
    assert "stack [deblurred]" not in viewer.layers
    assert widget.status.value.startswith("cancelled")
    assert widget.run_button.enabled and not widget.cancel_button.enabled and not _shown(widget.progress)


def test_switching_layers_mid_run_does_not_mix(viewer_widget, qtbot, random_models):
    viewer, widget = viewer_widget
    first = viewer.add_image(np.random.default_rng(8).random((32, 32)).astype(np.float32), name="first")
    widget.model.value = random_models["unet1"]
    worker = widget.run()
    assert widget.cancel_button.enabled and "first [deblurred]" not in viewer.layers  # running in the background
    viewer.add_image(np.zeros((16, 16), np.float32), name="second")
    first.data = np.zeros((8, 8), np.float32)
    qtbot.waitUntil(lambda: widget._worker is None, timeout=TIMEOUT_MS)
    assert worker is not None
    assert viewer.layers["first [deblurred]"].data.shape == (32, 32)
    assert "second [deblurred]" not in viewer.layers


def test_labels_layer_is_an_error_notification(viewer_widget):
    viewer, widget = viewer_widget
    viewer.add_labels(np.zeros((16, 16), np.int32), name="masks")
    widget.image.value = viewer.layers["masks"]
    assert widget.run() is None
    assert any("'masks' is a Labels layer" in message for message in _errors())


def test_unsupported_dtype_is_an_error_notification(viewer_widget, qtbot):
    viewer, widget = viewer_widget
    viewer.add_image(np.zeros((16, 16), bool), name="mask")
    _run(qtbot, widget)
    assert any("dtype bool" in message for message in _errors())
    assert "mask [deblurred]" not in viewer.layers


def test_unavailable_device_is_an_error_notification(make_napari_viewer, qtbot, monkeypatch):
    monkeypatch.setattr(_widget, "available_devices", lambda: ["cpu", "cuda:0"])
    viewer = make_napari_viewer()
    widget = DeblurWidget(viewer)
    viewer.add_image(np.zeros((16, 16), np.uint8))
    assert widget.device.value == "cuda:0"
    widget.tile_size.value = 256
    _run(qtbot, widget)
    assert any("'cuda:0' is not available" in message for message in _errors())


def test_widget_docks_from_the_manifest_and_samples_open(make_napari_viewer):
    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget("dci-cnn", "Deblur")
    assert isinstance(widget, DeblurWidget)
    for key in ("cells-jpeg", "landsat-rgb-jpeg", "landsat-bands-jpeg"):
        viewer.open_sample("dci-cnn", key)
    assert [layer.rgb for layer in viewer.layers] == [False, True, False]
    assert widget.image.value is viewer.layers[-1] and widget.scope.enabled  # the band stack


# ---- channels / bands -------------------------------------------------------------------------------------


def test_band_last_layer_is_restored_band_by_band(viewer_widget, qtbot, random_models):
    from napari_dci import deblur_image

    viewer, widget = viewer_widget
    scene = np.random.default_rng(20).integers(100, 4000, size=(64, 64, 7), dtype=np.uint16)
    viewer.add_image(scene, name="scene")
    assert widget.channels.value == 2  # guessed from the shape, and said so
    assert _shown(widget.channel_note) and "guessed" in widget.channel_note.value
    assert not widget.scope.enabled  # no axis left to step through
    widget.model.value = random_models["unet1"]
    _run(qtbot, widget)
    out = viewer.layers["scene [deblurred]"].data
    bands_first = deblur_image(np.moveaxis(scene, -1, 0), model=random_models["unet1"])
    assert out.shape == scene.shape and np.array_equal(out, np.moveaxis(bands_first, 0, -1))


def test_channel_axis_from_labels_and_rgb(viewer_widget):
    viewer, widget = viewer_widget
    viewer.add_image(np.zeros((3, 48, 48), np.uint16), name="c", axis_labels=("channel", "y", "x"))
    assert widget.channels.value == 0 and not _shown(widget.channel_note)
    assert widget.scope.enabled  # a channel axis before the image is stepped through like planes
    viewer.add_image(np.zeros((48, 48, 3), np.uint8), name="rgb")
    assert widget.channels.value == 2 and not widget.channels.enabled
    viewer.add_image(np.zeros((5, 48, 48), np.float32), name="z")
    assert widget.channels.value == "none" and not _shown(widget.channel_note)


def test_docked_widget_keeps_the_channel_choices(make_napari_viewer):
    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget("dci-cnn", "Deblur")  # napari resets its choices on changes
    viewer.add_image(np.zeros((64, 64), np.uint8), name="flat")
    viewer.add_image(np.zeros((64, 64, 7), np.uint16), name="bands")
    assert widget.channels.choices == ("none", 0, 1, 2) and widget.channels.value == 2


def test_short_image_side_is_never_restored_silently(viewer_widget):
    viewer, widget = viewer_widget
    viewer.add_image(np.zeros((64, 64, 2), np.uint16), name="two")
    assert widget.channels.value == 2
    widget.channels.value = "none"  # the user insists on planes of 64 x 2 pixels: the dock says what that means
    assert _shown(widget.channel_note) and "64 × 2 pixels" in widget.channel_note.value


# ---- progress, tooltips, cards ----------------------------------------------------------------------------


def test_progress_bar_in_the_dock(viewer_widget, qtbot, random_models):
    viewer, widget = viewer_widget
    viewer.add_image(np.random.default_rng(21).random((3, 32, 32)).astype(np.float32), name="p")
    widget.model.value = random_models["unet1"]
    seen = []
    report = widget._report

    def spy(done, total):
        seen.append((done, total, _shown(widget.progress)))
        report(done, total)

    widget._report = spy
    widget.run()
    assert _shown(widget.progress) and widget.cancel_button.enabled  # both in the dock from the start
    qtbot.waitUntil(lambda: widget._worker is None, timeout=TIMEOUT_MS)
    assert seen and seen[-1][0] == seen[-1][1] == 3 and not _shown(widget.progress)
    widget._start_progress()
    widget._report(0, 10)
    widget._started = (widget._started[0] - 4.0, 0)  # 4 s for the first 2 of 10 steps: 16 s left
    widget._report(2, 10)
    bar = widget.progress.native
    assert bar.maximum() == 10 and bar.value() == 2 and "16 s left" in bar.format()


def test_every_control_has_a_tooltip_and_cards_are_short(make_napari_viewer):
    widget = DeblurWidget(make_napari_viewer())
    for control in (widget.image, widget.channels, widget.model, widget.card_button, widget.device,
                    widget.tile_size, widget.self_ensemble, widget.scope, widget.run_button, widget.cancel_button,
                    widget.progress):  # fmt: skip
        assert control.tooltip, control
    widget.model.value = "dci-unet-gray"
    assert (
        len(widget.model.tooltip) < 400 and "measured gain" in widget.model.tooltip and "kFLOP" in widget.model.tooltip
    )
    dialog = widget.show_card()
    assert '"training"' in dialog.findChild(_widget.QPlainTextEdit).toPlainText()
    dialog.close()
    assert widget.model.choices[-1] == "dci-paper"
    assert widget.model.native.itemText(widget.model.native.count() - 1) == "dci-paper (the paper's reproduction)"


# ---- the user's settings and the status line -------------------------------------------------------------


def test_rerun_keeps_display_settings_the_user_changed(viewer_widget, qtbot, random_models):
    viewer, widget = viewer_widget
    image = viewer.add_image(np.random.default_rng(22).integers(40, 230, (32, 32), np.uint8), name="d",
                             contrast_limits=(40, 230))  # fmt: skip
    widget.model.value = random_models["unet1"]
    _run(qtbot, widget)
    out = viewer.layers["d [deblurred]"]
    out.contrast_limits = (0, 255)
    out.colormap = "viridis"
    image.gamma = 0.7  # changed on the input only: the output follows
    _run(qtbot, widget)
    assert tuple(out.contrast_limits) == (0, 255) and out.colormap.name == "viridis"
    assert out.gamma == pytest.approx(0.7)


def test_status_is_reset_after_an_error_and_wraps(viewer_widget, qtbot, random_models):
    viewer, widget = viewer_widget
    viewer.add_image(np.zeros((32, 32), np.float32), name="ok")
    widget.model.value = random_models["unet1"]
    _run(qtbot, widget)
    assert widget.status.value.startswith("done")
    viewer.add_labels(np.zeros((16, 16), np.int32), name="masks")
    widget.image.value = viewer.layers["masks"]
    assert widget.run() is None
    assert widget.status.value.startswith("failed: 'masks' is a Labels layer")
    assert widget.status.native.wordWrap()


# ---- freezes -------------------------------------------------------------------------------------------------


def test_lazy_output_is_restored_off_the_gui_thread(viewer_widget, qtbot, random_models, monkeypatch):
    import threading

    from dci_cnn import _deblur

    viewer, widget = viewer_widget
    stack = np.random.default_rng(23).integers(0, 256, size=(3, 64, 64), dtype=np.uint8)
    threads, deblur_array = set(), _deblur.deblur_array

    def spy(*args, **kwargs):  # each dask block of the restoration
        threads.add(threading.current_thread().name)
        return deblur_array(*args, **kwargs)

    monkeypatch.setattr(_deblur, "deblur_array", spy)
    viewer.add_image(da.from_array(stack, chunks=(1, 64, 64)), name="lazy", contrast_limits=(0, 255))
    widget.model.value = random_models["unet1"]
    gaps = _GapMeter()
    _run(qtbot, widget)
    out = viewer.layers["lazy [deblurred]"]
    shown = viewer.dims.current_step[0]
    assert out.data.dtype == np.uint8 and out.data[shown].any()  # the plane on screen came with the layer
    # a plane not yet restored: shown empty at once, filled when ready
    viewer.dims.set_current_step(0, 2 if shown != 2 else 0)
    other = viewer.dims.current_step[0]
    qtbot.waitUntil(lambda: widget.status.value.startswith(f"plane ({other},)"), timeout=TIMEOUT_MS)
    assert threads and "MainThread" not in threads
    expected = _widget.restore(stack, rgb=False, model=random_models["unet1"])
    assert np.abs(out.data[other].astype(int) - expected[other]).max() <= 1
    assert gaps.longest() < 1.0  # generous; benchmarks/napari_freezes.py measures against 100 ms


class _GapMeter:
    """Longest interval between the ticks of a 10 ms timer on the GUI thread: how long it was blocked."""

    def __init__(self):
        import time

        from qtpy.QtCore import QTimer

        self._clock, self._last, self._gaps = time.perf_counter, time.perf_counter(), [0.0]
        self._timer = QTimer()
        self._timer.timeout.connect(self._tick)
        self._timer.start(10)

    def _tick(self):
        now = self._clock()
        self._gaps.append(now - self._last)
        self._last = now

    def longest(self):
        self._timer.stop()
        return max(self._gaps)


def test_samples_open_together_without_unit_warnings(make_napari_viewer):
    viewer = make_napari_viewer()
    before = len(notification_manager.records)
    for key in ("cells-jpeg", "landsat-rgb-jpeg"):
        viewer.open_sample("dci-cnn", key)
    assert not [n for n in notification_manager.records[before:] if "units" in str(n.message).lower()]
    cells, landsat = viewer.layers
    assert np.allclose(cells.scale, landsat.scale)  # the cells are not shrunk to a dot


def test_opening_a_jpeg_records_its_quality(make_napari_viewer, tmp_path):
    from PIL import Image

    path = tmp_path / "scan.jpg"
    Image.fromarray(np.random.default_rng(30).integers(0, 256, (40, 40), np.uint8)).save(path, quality=25)
    viewer = make_napari_viewer()
    [layer] = viewer.open(str(path), plugin="dci-cnn")
    assert layer.metadata["jpeg"]["quality"] == 25 and layer.metadata["jpeg"]["subsampling"] is None


@pytest.fixture
def adapted_widget(make_napari_viewer, random_models, tmp_path, monkeypatch):
    """A viewer and a widget listing a gray model with a (random) quality adapter, and one without."""
    import torch

    from dci_cnn._quality import adapter_for
    from dci_cnn.models import DCIUNet
    from dci_cnn.weights import save_weights

    torch.manual_seed(0)
    net, arguments = DCIUNet(1, widths=(8, 16, 16), blocks=(1, 1, 1)), {"channels": 1, "widths": [8, 16, 16], "blocks": [1, 1, 1]}
    adapter = adapter_for(net)
    for module in (net, adapter):
        for p in module.parameters():
            torch.nn.init.normal_(p, 0.0, 0.1)
    base = save_weights(net, tmp_path / "tiny.safetensors", {"architecture": "dciunet", "arguments": arguments})
    save_weights(adapter, tmp_path / "tiny-quality.safetensors", {"adapter": "quality-film", "base": "tiny",
                 "base_sha256": base["sha256"], "arguments": {"frequencies": 4, "hidden": 16}})
    models = [str(tmp_path / "tiny.safetensors"), random_models["unet1"]]
    monkeypatch.setattr(_widget, "list_models", lambda: models)
    viewer = make_napari_viewer()
    return viewer, DeblurWidget(viewer), models


def test_quality_from_the_jpeg_file_reaches_the_model(adapted_widget, qtbot, tmp_path):
    from PIL import Image

    from dci_cnn import deblur

    viewer, widget, (adapted, blind) = adapted_widget
    path = tmp_path / "scan.jpg"
    Image.fromarray(np.random.default_rng(31).integers(0, 256, (48, 40), np.uint8)).save(path, quality=25)
    [layer] = viewer.open(str(path), plugin="dci-cnn")
    widget.image.value = layer
    widget.model.value = adapted
    assert widget.quality.enabled and widget.quality.value == _widget.FROM_FILE
    assert "from file (25)" in [widget.quality.native.itemText(i) for i in range(widget.quality.native.count())]
    _run(qtbot, widget)
    pixels = layer.data / 255.0
    out = viewer.layers["scan [deblurred]"].data
    expected = np.clip(np.rint(deblur(pixels, model=adapted, quality=25) * 255), 0, 255)
    assert np.abs(out.astype(float) - expected).max() <= 1
    blind_out = np.clip(np.rint(deblur(pixels, model=adapted) * 255), 0, 255)
    assert np.abs(out.astype(float) - blind_out).max() > 1  # the quality changed the result

    widget.quality.value = 80  # a number by hand: the strength knob
    assert widget._chosen_quality() == 80
    widget.quality.value = _widget.BLIND
    assert widget._chosen_quality() is None


def test_quality_is_offered_only_for_models_that_take_one(adapted_widget):
    viewer, widget, (adapted, blind) = adapted_widget
    viewer.add_image(np.zeros((32, 32), np.uint8), name="plain")
    widget.model.value = adapted
    assert widget.quality.enabled and widget.quality.value == _widget.ESTIMATE  # no file: estimated from pixels
    assert not any("from file" in widget.quality.native.itemText(i) for i in range(widget.quality.native.count()))
    assert _shown(widget.quality)
    widget.model.value = blind
    assert not widget.quality.enabled and widget._chosen_quality() is None
    assert widget.quality.tooltip


def test_quality_field_is_hidden_when_no_model_takes_one(viewer_widget):
    viewer, widget = viewer_widget
    viewer.add_image(np.zeros((32, 32), np.uint8), name="plain")
    assert not _shown(widget.quality) and widget._chosen_quality() is None
