import dataclasses
import io
import json

import numpy as np
import pytest
from PIL import Image
from skimage import data
from skimage.transform import rescale

from dci_cnn import JpegQuality, estimate_jpeg_quality, read_jpeg_quality
from dci_cnn.degrade import jpeg
from dci_cnn.jpeg import ijg_table

# The DQT marker stores a table in zigzag order: ZIGZAG[i] is the natural (row-major) index of its i-th value.
ZIGZAG = [0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28,
          35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47,
          55, 62, 63]  # fmt: skip

RNG_IMAGE = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)


def encode(array, **options):
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, "JPEG", **options)
    return buffer.getvalue()


def dqt_tables(encoded):
    """Tables straight from the DQT markers, put in natural order here (independently of Pillow)."""
    tables, i = {}, 2
    while encoded[i] == 0xFF and encoded[i + 1] != 0xDA:
        length = int.from_bytes(encoded[i + 2 : i + 4], "big")
        if encoded[i + 1] == 0xDB:
            segment = encoded[i + 4 : i + 2 + length]
            while segment:
                precision = 2 if segment[0] >> 4 else 1
                values = [
                    int.from_bytes(segment[1 + precision * j : 1 + precision * (j + 1)], "big") for j in range(64)
                ]
                natural = np.zeros(64, np.uint16)
                natural[ZIGZAG] = values
                tables[segment[0] & 15] = natural.reshape(8, 8)
                segment = segment[1 + 64 * precision :]
        i += 2 + length
    return tables


def test_ijg_table_quality_50_is_annex_k():
    assert ijg_table(50)[0].tolist() == [16, 11, 10, 16, 24, 40, 51, 61]
    assert ijg_table(50, chroma=True)[0].tolist() == [17, 18, 24, 47, 99, 99, 99, 99]
    assert (ijg_table(100) == 1).all() and (ijg_table(1) == 255).all()
    assert ijg_table(1, baseline=False).max() == 121 * 50
    with pytest.raises(ValueError, match="1..100"):
        ijg_table(0)


@pytest.mark.parametrize("subsampling", ["4:4:4", "4:2:2", "4:2:0"])
def test_every_quality_read_exactly(subsampling):
    for quality in range(1, 101):
        encoded = encode(RNG_IMAGE, quality=quality, subsampling=subsampling)
        info = read_jpeg_quality(encoded)
        assert (info.quality, info.qualities, info.standard) == (quality, (quality, quality), True), quality
        assert info.errors == (0.0, 0.0)
        assert (info.subsampling, info.progressive) == (subsampling, False)
        assert np.array_equal(info.tables[0], ijg_table(quality))
        assert np.array_equal(info.tables[1], ijg_table(quality, chroma=True))
        assert all(t.dtype == np.uint16 and t.shape == (8, 8) for t in info.tables)


@pytest.mark.parametrize("quality", [5, 37, 90])
def test_tables_are_in_natural_order_as_the_markers_say(quality):
    encoded = encode(RNG_IMAGE, quality=quality)
    markers = dqt_tables(encoded)
    info = read_jpeg_quality(encoded)
    assert np.array_equal(info.tables[0], markers[0]) and np.array_equal(info.tables[1], markers[1])


def test_gray_and_progressive():
    gray = read_jpeg_quality(encode(RNG_IMAGE[..., 0], quality=62))
    assert (gray.quality, len(gray.tables), gray.subsampling, gray.progressive) == (62, 1, None, False)
    progressive = read_jpeg_quality(encode(RNG_IMAGE, quality=81, progressive=True))
    assert (progressive.quality, progressive.progressive, progressive.standard) == (81, True, True)


def test_custom_tables_are_not_standard_and_get_the_nearest_quality():
    luma = ijg_table(50).astype(int)
    luma[0, 0] += 3  # one step off libjpeg's quality-50 table
    chroma = np.full((8, 8), 7)
    info = read_jpeg_quality(encode(RNG_IMAGE, qtables=[luma.ravel().tolist(), chroma.ravel().tolist()]))
    assert not info.standard
    assert np.array_equal(info.tables[0], luma) and np.array_equal(info.tables[1], chroma)
    assert info.quality == info.qualities[0] == 50
    assert info.errors[0] == pytest.approx(3 / 64)
    assert info.errors[1] > 0 and info.qualities[1] == int(
        np.argmin([np.abs(ijg_table(q, chroma=True).astype(int) - 7).mean() for q in range(1, 101)]) + 1
    )


@pytest.mark.parametrize(("factors", "name"), [(0x12, "4:4:0"), (0x41, "4:1:1")])
def test_subsampling_read_from_the_frame_header(factors, name):
    encoded = bytearray(encode(RNG_IMAGE, quality=70, subsampling="4:4:4"))
    sof = encoded.index(b"\xff\xc0")
    encoded[sof + 11] = factors  # the first component's sampling factors (H in the high nibble)
    assert read_jpeg_quality(bytes(encoded)).subsampling == name


def test_sources_path_bytes_file_and_pil(tmp_path):
    encoded = encode(RNG_IMAGE, quality=44)
    path = tmp_path / "photo.jpg"
    path.write_bytes(encoded)
    expected = read_jpeg_quality(encoded)
    assert read_jpeg_quality(path) == expected
    assert read_jpeg_quality(str(path)) == expected
    with open(path, "rb") as file:
        assert read_jpeg_quality(file) == expected
        assert not file.closed
    with Image.open(path) as image:
        assert read_jpeg_quality(image) == expected


def test_result_converts_to_plain_python():
    info = read_jpeg_quality(encode(RNG_IMAGE, quality=30))
    plain = info.to_dict()
    assert json.loads(json.dumps(plain)) == plain
    assert plain["tables"][0] == ijg_table(30).tolist()
    assert dataclasses.asdict(info)["quality"] == 30
    assert isinstance(info, JpegQuality)
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.quality = 1
    with pytest.raises(ValueError):
        info.tables[0][0, 0] = 1


def test_not_a_jpeg_names_the_file_and_the_fix(tmp_path):
    path = tmp_path / "scan.png"
    Image.fromarray(RNG_IMAGE).save(path)
    with pytest.raises(ValueError, match=r"scan\.png is a PNG image.*estimate_jpeg_quality"):
        read_jpeg_quality(path)
    with pytest.raises(ValueError, match="not an image file.*estimate_jpeg_quality"):
        read_jpeg_quality(b"not an image")
    with Image.open(io.BytesIO(encode(RNG_IMAGE))) as image, pytest.raises(ValueError, match="quantization tables"):
        read_jpeg_quality(image.convert("L"))
    with pytest.raises(FileNotFoundError):
        read_jpeg_quality(tmp_path / "missing.jpg")


# --- estimation from pixels -------------------------------------------------------------------

CAMERA = data.camera()[:256, 128:384] / 255.0
ASTRONAUT = data.astronaut()[:256, 128:384] / 255.0


@pytest.mark.parametrize("quality", [10, 25, 50, 75, 90])
@pytest.mark.parametrize("crop", [(0, 0), (3, 5)])
def test_estimate_gray_aligned_and_cropped(quality, crop):
    decoded = jpeg(CAMERA, quality)[crop[0] :, crop[1] :]
    assert abs(estimate_jpeg_quality(decoded) - quality) <= 2


@pytest.mark.parametrize("quality", [10, 40, 80])
@pytest.mark.parametrize("subsampling", ["4:2:0", "4:4:4"])
def test_estimate_colour(quality, subsampling):
    decoded = jpeg(ASTRONAUT, quality, subsampling=subsampling)
    assert abs(estimate_jpeg_quality(decoded, channel_axis=-1) - quality) <= 2
    assert abs(estimate_jpeg_quality(np.moveaxis(decoded[6:, 1:], -1, 0), channel_axis=0) - quality) <= 2


def test_estimate_none_without_quantization():
    assert estimate_jpeg_quality(CAMERA) is None
    assert estimate_jpeg_quality(ASTRONAUT, channel_axis=-1) is None
    resized = rescale(jpeg(CAMERA, 30), 0.75, anti_aliasing=True)
    assert estimate_jpeg_quality(resized) is None


@pytest.mark.parametrize("size", [64, 128])
def test_smooth_uncompressed_crops_are_none(size):
    """Near-zero coefficients of a smooth region sit on every lattice's 0: they vouched for quality 1."""
    assert estimate_jpeg_quality(CAMERA[:size, :size]) is None  # the sky of the camera picture
    sky = np.add.outer(np.linspace(0.3, 0.35, size), np.linspace(0, 0.02, size))
    noisy = sky + np.random.default_rng(size).normal(0, 0.6 / 255, sky.shape)
    assert estimate_jpeg_quality(noisy) is None


def test_estimate_dtypes_agree():
    decoded = jpeg(CAMERA, 60)
    as_uint8 = np.rint(decoded * 255).astype(np.uint8)
    assert estimate_jpeg_quality(as_uint8) == estimate_jpeg_quality(decoded) == 60
    assert estimate_jpeg_quality(as_uint8.astype(np.uint16) * 257) == 60
    assert estimate_jpeg_quality(decoded.astype(np.float64)) == 60


def test_estimate_errors():
    with pytest.raises(ValueError, match="channel_axis"):
        estimate_jpeg_quality(ASTRONAUT)
    with pytest.raises(ValueError, match="2 channels"):
        estimate_jpeg_quality(ASTRONAUT[..., :2], channel_axis=-1)
    with pytest.raises(ValueError, match="too small"):
        estimate_jpeg_quality(CAMERA[:8])
    with pytest.raises(TypeError, match="bool"):
        estimate_jpeg_quality(CAMERA > 0.5)
    with pytest.raises(ValueError, match=r"divide 0-255 data by 255"):
        estimate_jpeg_quality(CAMERA * 255)
    with pytest.raises(ValueError, match="NaN"):
        estimate_jpeg_quality(np.where(CAMERA > 0.5, np.nan, CAMERA))


def test_estimate_none_where_every_block_is_clipped():
    assert estimate_jpeg_quality(np.full((64, 64), 255, np.uint8)) is None
