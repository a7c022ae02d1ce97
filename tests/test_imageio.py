"""Files in, files out: every page and frame, upright, bit depth, alpha, no-data and metadata kept; big pages tile by tile."""

import xml.etree.ElementTree as ET

import imagecodecs
import numpy as np
import pytest
import tifffile
from PIL import Image, ImageCms, ImageOps, PngImagePlugin

import dci_cnn._restore_file as rf
from dci_cnn.cli import main
from dci_cnn.imageio import read_image, write_image
from dci_cnn.models import build_model
from dci_cnn.weights import save_weights

RNG = np.random.default_rng(0)


@pytest.fixture
def inverted(monkeypatch):
    """``deblur`` replaced by ``1 - x`` (in [0, 1], like deblur's output): cheap, and every restored pixel shows.

    Returns the list of calls: ``(shape, channel_axis)``.
    """
    calls = []

    def fake(image, *, channel_axis=None, preserve_range=False, **_):
        calls.append((image.shape, channel_axis))
        if preserve_range:
            lo, hi = float(image.min()), float(image.max())
            return hi + lo - image.astype(np.float64)
        scale = float(np.iinfo(image.dtype).max) if image.dtype.kind in "ui" else 1.0
        restored = 1.0 - image.astype(np.float64) / scale
        if channel_axis is not None and image.shape[channel_axis] == 4:  # RGBA: deblur passes alpha through
            keep = np.arange(4).reshape([4 if a == channel_axis % image.ndim else 1 for a in range(image.ndim)]) == 3
            restored = np.where(keep, image / scale, restored)
        return restored

    monkeypatch.setattr(rf, "deblur", fake)
    return calls


@pytest.fixture(scope="module")
def tiny_gray(tmp_path_factory):
    """A small random-weight gray U-Net (fast enough to run on every tile)."""
    import torch

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("w") / "tiny.safetensors"
    module = build_model("dciunet", channels=1)
    save_weights(module, path, {"architecture": "dciunet", "arguments": {"channels": 1}, "description": "test"})
    return str(path)


def _png_with_exif(path, array, orientation):
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "TestCam"
    Image.fromarray(array).save(path, exif=exif)


# 3. what is in the file comes out ------------------------------------------------------------------------


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied_as_viewers_do(tmp_path, inverted, orientation):
    source = tmp_path / "photo.png"
    array = RNG.integers(0, 256, (6, 9, 3), dtype=np.uint8)
    _png_with_exif(source, array, orientation)
    with Image.open(source) as im:
        viewed = np.asarray(ImageOps.exif_transpose(im))
    assert np.array_equal(read_image(source), viewed)
    rf.restore_file(source, tmp_path / "out.png")
    with Image.open(tmp_path / "out.png") as out:
        assert np.array_equal(np.asarray(out), 255 - viewed)
        assert 0x0112 not in out.getexif() and out.getexif()[0x010F] == "TestCam"  # upright now; the rest of EXIF kept


@pytest.mark.parametrize("channels", [2, 3, 4])
def test_16_bit_colour_png_stays_16_bit(tmp_path, inverted, channels):
    array = RNG.integers(0, 65536, (7, 5, channels), dtype=np.uint16)
    (tmp_path / "deep.png").write_bytes(imagecodecs.png_encode(array))
    assert rf.output_suffix(tmp_path / "deep.png") == ".png"
    rf.restore_file(tmp_path / "deep.png", tmp_path / "out.png")
    out = imagecodecs.png_decode((tmp_path / "out.png").read_bytes())
    assert out.dtype == np.uint16 and out.shape == array.shape
    colour = 1 if channels == 2 else 3  # gray+alpha: the gray restored; RGB(A): the colour; alpha as it was
    assert np.array_equal(out[..., :colour], 65535 - array[..., :colour])
    assert np.array_equal(out[..., colour:], array[..., colour:])


def test_write_image_writes_16_bit_rgb_png(tmp_path):
    array = RNG.integers(0, 65536, (4, 6, 3), dtype=np.uint16)
    write_image(tmp_path / "x.png", array)
    assert np.array_equal(read_image(tmp_path / "x.png"), array)


def test_gray_alpha_png_goes_through_the_gray_model_with_alpha_kept(tmp_path, inverted):
    array = np.stack([RNG.integers(0, 256, (8, 10)), np.linspace(0, 255, 80).reshape(8, 10)], -1).astype(np.uint8)
    Image.fromarray(array, "LA").save(tmp_path / "la.png")
    rf.restore_file(tmp_path / "la.png", tmp_path / "out.png")
    assert inverted == [((1, 8, 10), None)]  # one gray plane, no channel axis: the gray model
    with Image.open(tmp_path / "out.png") as out:
        assert out.mode == "LA"
        out = np.asarray(out)
    assert np.array_equal(out[..., 0], 255 - array[..., 0]) and np.array_equal(out[..., 1], array[..., 1])


def test_gray_alpha_png_with_a_real_gray_model(tmp_path):
    array = np.stack([RNG.integers(0, 256, (24, 20)), np.full((24, 20), 77)], -1).astype(np.uint8)
    Image.fromarray(array, "LA").save(tmp_path / "la.png")
    rf.restore_file(tmp_path / "la.png", tmp_path / "out.png")  # the default family: its gray member
    out = np.asarray(Image.open(tmp_path / "out.png"))
    expected = rf.restored_like(rf.deblur(array[..., 0], model="dci-unet-gray"), np.uint8, False)
    assert np.array_equal(out[..., 0], expected) and (out[..., 1] == 77).all()


def test_multipage_tiff_is_restored_page_by_page_into_a_tiff(tmp_path, inverted):
    pages = RNG.integers(0, 256, (3, 12, 10), dtype=np.uint8)
    tifffile.imwrite(tmp_path / "stack.tif", pages, photometric="minisblack")
    target = tmp_path / "out" / f"stack{rf.output_suffix(tmp_path / 'stack.tif')}"
    target.parent.mkdir()
    rf.restore_file(tmp_path / "stack.tif", target)
    with tifffile.TiffFile(target) as tif:
        assert len(tif.pages) == 3
        assert np.array_equal(tif.asarray(), 255 - pages)


def test_cli_restores_a_uint8_stack_into_a_multipage_tiff(tmp_path, inverted):
    pages = RNG.integers(0, 256, (3, 12, 10), dtype=np.uint8)
    tifffile.imwrite(tmp_path / "stack.tif", pages, photometric="minisblack")
    assert main(["deblur", str(tmp_path / "stack.tif"), "-o", str(tmp_path / "out"), "--quiet"]) == 0
    assert np.array_equal(tifffile.imread(tmp_path / "out" / "stack.tif"), 255 - pages)


def test_multiseries_tiff_keeps_every_series(tmp_path, inverted):
    first = RNG.integers(0, 65536, (2, 16, 12), dtype=np.uint16)
    second = RNG.integers(0, 256, (9, 7, 3), dtype=np.uint8)
    with tifffile.TiffWriter(tmp_path / "multi.tif") as tif:
        tif.write(first)
        tif.write(second, photometric="rgb")
    rf.restore_file(tmp_path / "multi.tif", tmp_path / "out.tif")
    with tifffile.TiffFile(tmp_path / "out.tif") as tif:
        assert [s.shape for s in tif.series] == [(2, 16, 12), (9, 7, 3)]
        assert np.array_equal(tif.series[0].asarray(), 65535 - first)
        assert np.array_equal(tif.series[1].asarray(), 255 - second)
        assert tif.pages[2].photometric == tifffile.PHOTOMETRIC.RGB


@pytest.mark.parametrize("fmt", ["GIF", "WEBP"])
def test_every_frame_of_an_animation_goes_into_a_tiff(tmp_path, inverted, fmt):
    frames = [np.full((10, 12, 3), value, np.uint8) for value in (10, 120, 240)]
    source = tmp_path / f"anim.{fmt.lower()}"
    images = [Image.fromarray(f) for f in frames]
    images[0].save(source, format=fmt, save_all=True, append_images=images[1:], lossless=True, duration=100)
    assert rf.output_suffix(source) == ".tif"
    rf.restore_file(source, tmp_path / "out.tif")
    out = tifffile.imread(tmp_path / "out.tif")
    assert out.shape == (3, 10, 12, 3)
    assert np.array_equal(out, 255 - np.stack(frames))
    with pytest.raises(ValueError, match="several pages or frames"):
        rf.restore_file(source, tmp_path / "out.png")


def test_png_output_is_refused_for_a_stack_before_any_work(tmp_path, inverted):
    tifffile.imwrite(tmp_path / "stack.tif", np.zeros((2, 8, 8), np.uint8))
    with pytest.raises(ValueError, match="write a .tif"):
        rf.restore_file(tmp_path / "stack.tif", tmp_path / "out.png")
    assert inverted == [] and not (tmp_path / "out.png").exists()


def test_palette_tiff_is_refused_with_a_reason(tmp_path, inverted):
    tifffile.imwrite(tmp_path / "p.tif", np.zeros((8, 8), np.uint8), photometric="palette",
                     colormap=np.zeros((3, 256), np.uint16))
    with pytest.raises(ValueError, match="palette TIFF"):
        rf.restore_file(tmp_path / "p.tif", tmp_path / "out.tif")


def test_restored_like_casts_as_before(tmp_path):
    from skimage.util import img_as_ubyte, img_as_uint

    x = RNG.random(1000)
    assert np.array_equal(rf.restored_like(x, np.uint8, False), img_as_ubyte(x))
    assert np.array_equal(rf.restored_like(x, np.uint16, False), img_as_uint(x))
    assert np.array_equal(rf.restored_like(x * 5000, np.uint16, True), np.rint(x * 5000).astype(np.uint16))
    assert rf.restored_like(x, np.float64, False).dtype == np.float64


# 4. metadata kept ----------------------------------------------------------------------------------------

GEO_TAGS = [
    (33550, 12, 3, (30.0, 30.0, 0.0), True),  # ModelPixelScale
    (33922, 12, 6, (0.0, 0.0, 0.0, 440720.0, 3751320.0, 0.0), True),  # ModelTiepoint
    (34735, 3, 32, (1, 1, 0, 7, 1024, 0, 1, 1, 1025, 0, 1, 1, 1026, 34737, 22, 0, 2054, 0, 1, 9102,
                    3072, 0, 1, 32611, 3076, 0, 1, 9001, 4099, 34736, 1, 0), True),  # GeoKeyDirectory
    (34736, 12, 2, (6378137.0, 298.257223563), True),  # GeoDoubleParams
    (34737, 2, None, "WGS 84 / UTM zone 11N|", True),  # GeoAsciiParams
    (42112, 2, None, '<GDALMetadata><Item name="SENSOR">test</Item></GDALMetadata>', True),
    (42113, 2, None, "0", True),  # GDAL_NODATA
]


def _geotiff(path, data, **kwargs):
    tifffile.imwrite(path, data, extratags=GEO_TAGS, resolution=(300, 300), resolutionunit="INCH",
                     software="field-camera 1.0", **kwargs)


def _tags(path, page=0):
    with tifffile.TiffFile(path) as tif:
        return {tag.code: tag.value for tag in tif.pages[page].tags}


@pytest.mark.parametrize("layout", ["gray", "bands"])
def test_geotiff_tags_and_nodata_are_kept(tmp_path, inverted, layout):
    shape = (20, 30) if layout == "gray" else (20, 30, 3)
    data = RNG.integers(1, 65536, shape, dtype=np.uint16)
    data[:5, :7] = 0  # no-data corner
    _geotiff(tmp_path / "scene.tif", data, photometric="minisblack", planarconfig="contig")
    rf.restore_file(tmp_path / "scene.tif", tmp_path / "out.tif")
    before, after = _tags(tmp_path / "scene.tif"), _tags(tmp_path / "out.tif")
    for code in (33550, 33922, 34735, 34736, 34737, 42112, 42113, 282, 283, 296, 305):
        assert after[code] == before[code], code
    out = tifffile.imread(tmp_path / "out.tif")
    assert (out[:5, :7] == 0).all()
    valid = data != 0
    assert np.array_equal(out[valid], (65535 - data)[valid]) or layout == "bands"
    if layout == "bands":  # three bands: the gray model band by band (not the colour model)
        assert inverted[-1][1] is None and inverted[-1][0] == (3, 20, 30)


def test_nodata_pixels_do_not_reach_the_network(tmp_path, monkeypatch):
    seen = []

    def spy(image, **_):
        seen.append(np.asarray(image).copy())
        return np.asarray(image, np.float32)

    monkeypatch.setattr(rf, "deblur", spy)
    data = RNG.random((16, 16)).astype(np.float32)
    data[2:6, 3:9] = np.nan
    tifffile.imwrite(tmp_path / "dem.tif", data, extratags=[(42113, 2, None, "nan", True)])
    rf.restore_file(tmp_path / "dem.tif", tmp_path / "out.tif")
    assert np.isfinite(seen[0]).all()
    out = tifffile.imread(tmp_path / "out.tif")
    assert np.isnan(out[2:6, 3:9]).all() and out.dtype == np.float32


def test_geotiff_readable_by_rasterio(tmp_path, inverted):
    rasterio = pytest.importorskip("rasterio")
    data = RNG.integers(1, 256, (20, 30), dtype=np.uint8)
    _geotiff(tmp_path / "scene.tif", data)
    rf.restore_file(tmp_path / "scene.tif", tmp_path / "out.tif")
    with rasterio.open(tmp_path / "scene.tif") as a, rasterio.open(tmp_path / "out.tif") as b:
        assert a.crs == b.crs and a.transform == b.transform and a.nodata == b.nodata == 0
        assert b.tags()["SENSOR"] == "test" and (b.read(1) == 255 - data).all()


def test_ome_tiff_metadata_is_kept(tmp_path, inverted):
    data = RNG.integers(0, 4096, (2, 3, 16, 20), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "cells.ome.tif", data, metadata={
        "axes": "ZCYX", "PhysicalSizeX": 0.325, "PhysicalSizeY": 0.325, "PhysicalSizeZ": 2.0,
        "Channel": {"Name": ["DAPI", "GFP", "mCherry"]}})
    rf.restore_file(tmp_path / "cells.ome.tif", tmp_path / "out.ome.tif", preserve_range=True)
    with tifffile.TiffFile(tmp_path / "out.ome.tif") as tif:
        assert tif.is_ome and tif.series[0].axes == "ZCYX"
        pixels = ET.fromstring(tif.ome_metadata).find(".//{*}Pixels")
        assert [pixels.get(k) for k in ("PhysicalSizeX", "PhysicalSizeY", "PhysicalSizeZ")] == ["0.325", "0.325", "2.0"]
        assert [c.get("Name") for c in pixels.findall("{*}Channel")] == ["DAPI", "GFP", "mCherry"]
        assert tif.series[0].asarray().shape == data.shape


def test_imagej_metadata_is_kept(tmp_path, inverted):
    data = RNG.integers(0, 256, (3, 2, 16, 20), dtype=np.uint8)
    tifffile.imwrite(tmp_path / "ij.tif", data, imagej=True, resolution=(1 / 0.2, 1 / 0.2), metadata={
        "axes": "ZCYX", "spacing": 1.5, "unit": "um", "Labels": [f"plane{i}" for i in range(6)]})
    rf.restore_file(tmp_path / "ij.tif", tmp_path / "out.tif")
    with tifffile.TiffFile(tmp_path / "out.tif") as tif:
        meta = tif.imagej_metadata
        assert tif.is_imagej and tif.series[0].axes == "ZCYX"
        assert meta["spacing"] == 1.5 and meta["unit"] == "um" and meta["Labels"] == [f"plane{i}" for i in range(6)]
        assert tif.pages[0].get_resolution() == pytest.approx((5.0, 5.0))
        assert np.array_equal(tif.asarray(), 255 - data)


def _srgb():
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def test_tiff_icc_profile_and_resolution_are_kept(tmp_path, inverted):
    data = RNG.integers(0, 256, (10, 12, 3), dtype=np.uint8)
    tifffile.imwrite(tmp_path / "scan.tif", data, photometric="rgb", iccprofile=_srgb(), resolution=(600, 600),
                     resolutionunit="INCH", compression="zlib", tile=(16, 16))
    rf.restore_file(tmp_path / "scan.tif", tmp_path / "out.tif")
    with tifffile.TiffFile(tmp_path / "out.tif") as tif:
        page = tif.pages[0]
        assert page.iccprofile == _srgb() and page.get_resolution() == (600, 600) and page.resolutionunit == 2
        assert page.compression == tifffile.COMPRESSION.ADOBE_DEFLATE and page.is_tiled
    rf.restore_file(tmp_path / "scan.tif", tmp_path / "out.png")  # a PNG asked for: profile and DPI come along
    with Image.open(tmp_path / "out.png") as out:
        assert out.info["icc_profile"] == _srgb() and out.info["dpi"] == pytest.approx((600, 600), abs=0.01)


def test_png_text_icc_and_dpi_are_kept(tmp_path, inverted):
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Ada")
    info.add_itxt("Description", "Ångström scale", lang="en")
    Image.fromarray(RNG.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(
        tmp_path / "a.png", pnginfo=info, icc_profile=_srgb(), dpi=(300, 300))
    rf.restore_file(tmp_path / "a.png", tmp_path / "out.png")
    with Image.open(tmp_path / "out.png") as out:
        assert out.text == {"Author": "Ada", "Description": "Ångström scale"}
        assert out.info["icc_profile"] == _srgb() and out.info["dpi"] == pytest.approx((300, 300), abs=0.01)


def test_jpeg_icc_dpi_and_exif_come_along_into_the_png(tmp_path, inverted):
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "TestCam"
    Image.fromarray(RNG.integers(0, 256, (8, 16, 3), dtype=np.uint8)).save(
        tmp_path / "a.jpg", icc_profile=_srgb(), dpi=(72, 72), exif=exif)
    rf.restore_file(tmp_path / "a.jpg", tmp_path / "out.png")
    with Image.open(tmp_path / "out.png") as out:
        assert out.size == (8, 16)  # upright: orientation 6 turned the 16 x 8 picture
        assert out.info["icc_profile"] == _srgb() and out.info["dpi"] == pytest.approx((72, 72), abs=0.01)
        assert dict(out.getexif()) == {0x010F: "TestCam"}


# 5. files bigger than memory -----------------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["gray", "rgb", "stack"])
def test_large_pages_are_restored_tile_by_tile_as_in_memory(tmp_path, monkeypatch, tiny_gray, random_models, layout):
    shape = {"gray": (150, 200), "rgb": (150, 200, 3), "stack": (2, 150, 200)}[layout]
    data = RNG.integers(0, 65536, shape, dtype=np.uint16)
    model = random_models["unet3"] if layout == "rgb" else tiny_gray
    data[:4, :4] = 0
    _geotiff(tmp_path / "big.tif", data, photometric="rgb" if layout == "rgb" else "minisblack")
    rf.restore_file(tmp_path / "big.tif", tmp_path / "memory.tif", model=model)
    monkeypatch.setattr(rf, "LARGE_PIXELS", 10_000)
    monkeypatch.setattr(rf, "CHUNK", 64)
    rf.restore_file(tmp_path / "big.tif", tmp_path / "tiled.tif", model=model)
    with tifffile.TiffFile(tmp_path / "tiled.tif") as tif:
        assert all(p.is_tiled and (p.tilelength, p.tilewidth) == (64, 64) for p in tif.pages)
        assert len(tif.pages) == (2 if layout == "stack" else 1)
        tiled = tif.asarray()
    memory = tifffile.imread(tmp_path / "memory.tif")
    assert tiled.shape == memory.shape == data.shape
    assert np.abs(tiled.astype(int) - memory).max() <= 1  # float rounding of chunk vs whole
    assert _tags(tmp_path / "tiled.tif")[33922] == _tags(tmp_path / "big.tif")[33922]


def test_large_outputs_are_bigtiff(tmp_path, monkeypatch, inverted):
    tifffile.imwrite(tmp_path / "a.tif", RNG.integers(0, 256, (100, 120), dtype=np.uint8))
    monkeypatch.setattr(rf, "LARGE_PIXELS", 1000)
    monkeypatch.setattr(rf, "CHUNK", 32)
    monkeypatch.setattr(rf, "BIGTIFF_BYTES", 1000)
    rf.restore_file(tmp_path / "a.tif", tmp_path / "out.tif")
    with tifffile.TiffFile(tmp_path / "out.tif") as tif:
        assert tif.is_bigtiff and tif.pages[0].is_tiled
        assert np.array_equal(tif.asarray(), 255 - tifffile.imread(tmp_path / "a.tif"))


@pytest.mark.parametrize("shape", [(100, 120), (4, 40, 50)])
def test_large_files_are_read_lazily(tmp_path, monkeypatch, inverted, shape):
    """A big page, or a stack of small pages big together, is never read whole: the zarr store is, chunk by chunk."""
    tifffile.imwrite(tmp_path / "a.tif", np.zeros(shape, np.uint8), tile=(32, 32), photometric="minisblack")
    monkeypatch.setattr(rf, "LARGE_PIXELS", 5000)
    monkeypatch.setattr(tifffile.TiffPageSeries, "asarray", lambda *a, **k: pytest.fail("read whole"))
    rf.restore_file(tmp_path / "a.tif", tmp_path / "out.tif")
    monkeypatch.undo()
    with tifffile.TiffFile(tmp_path / "out.tif") as tif:
        assert len(tif.pages) == (4 if len(shape) == 3 else 1) and tif.pages[0].tilewidth == rf.CHUNK
        assert (tif.asarray() == 255).all()
