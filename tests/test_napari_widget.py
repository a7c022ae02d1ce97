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
    assert '"channels": 1' in widget.model.tooltip
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
    assert viewer.layers["z [deblurred]"] is out
    assert out.data.shape == (1, 32, 40)
    np.testing.assert_allclose(out.translate, (14.0, 0.0, 0.0))
    assert np.all(np.isfinite(out.data)) and abs(float(out.data.mean()) - float(whole[2].mean())) < 0.2


def test_dask_layer_stays_lazy(viewer_widget, qtbot, random_models):
    viewer, widget = viewer_widget
    stack = np.random.default_rng(3).integers(0, 256, size=(2, 40, 48), dtype=np.uint8)
    viewer.add_image(da.from_array(stack, chunks=(1, 40, 24)), name="lazy", contrast_limits=(0, 255))
    widget.model.value = random_models["unet1"]
    _run(qtbot, widget)
    out = viewer.layers["lazy [deblurred]"]
    assert isinstance(out.data, da.Array) and out.data.dtype == np.uint8
    viewer.layers.remove(out)
    viewer.layers["lazy"].data = stack
    _run(qtbot, widget)
    eager = viewer.layers["lazy [deblurred]"].data
    assert np.abs(out.data.compute().astype(int) - eager).max() <= 1


def test_multiscale_layer(viewer_widget, qtbot, random_models):
    viewer, widget = viewer_widget
    base = np.random.default_rng(4).random((64, 64)).astype(np.float32)
    viewer.add_image([base, base[::2, ::2], base[::4, ::4]], name="pyramid", multiscale=True, contrast_limits=(0, 1))
    widget.model.value = random_models["unet1"]
    _run(qtbot, widget)
    out = viewer.layers["pyramid [deblurred]"]
    assert out.multiscale and [level.shape for level in out.data] == [(64, 64), (32, 32), (16, 16)]
    assert np.isfinite(np.asarray(out.data[2])).all()


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


@pytest.mark.parametrize("where", ["widget", "progress bar"])
def test_cancel_stops_and_writes_nothing(viewer_widget, qtbot, random_models, where):
    viewer, widget = viewer_widget
    viewer.add_image(np.random.default_rng(7).random((6, 32, 32)).astype(np.float32), name="stack")
    widget.model.value = random_models["unet1"]
    tiles = []

    def report(done, total):  # called in the worker thread after each tile
        tiles.append(done)
        if where == "widget":
            widget.cancel()
        else:
            widget._progress.cancel()

    widget._report = report
    _run(qtbot, widget)
    assert tiles == [1]
    assert "stack [deblurred]" not in viewer.layers
    assert widget.status.value.startswith("cancelled")
    assert widget.run_button.enabled and not widget.cancel_button.enabled


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
