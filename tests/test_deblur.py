"""``deblur``: shapes, dtypes and ranges, tiling, determinism and input validation."""

import warnings

import dask.array as da
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dci_cnn import deblur, load_model
from dci_cnn.degrade import jpeg

FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FAST
@given(h=st.integers(1, 300), w=st.integers(1, 300), lead=st.lists(st.integers(1, 2), max_size=2))
def test_gray_shape_is_preserved_and_output_in_unit_range(gray, h, w, lead):
    image = np.random.default_rng(h * 1000 + w).random((*lead, h, w))
    out = deblur(image, model=gray)
    assert out.shape == image.shape
    assert out.dtype == np.float64
    assert 0.0 <= out.min() and out.max() <= 1.0


@FAST
@given(h=st.integers(1, 120), w=st.integers(1, 120), axis=st.sampled_from([0, 1, 2, -1, -3]))
def test_colour_channel_axis_anywhere(color, h, w, axis):
    rgb = np.random.default_rng(h + w).random((h, w, 3)).astype(np.float32)
    moved = np.moveaxis(rgb, -1, axis)
    out = deblur(moved, model=color, channel_axis=axis)
    assert out.shape == moved.shape and out.dtype == np.float32
    # the same pixels, whichever axis holds the channels
    np.testing.assert_array_equal(np.moveaxis(out, axis, -1), deblur(rgb, model=color, channel_axis=-1))


@pytest.mark.parametrize(
    "dtype, expected",
    [
        (np.uint8, np.float64),
        (np.uint16, np.float64),
        (np.int32, np.float64),
        (np.float16, np.float32),
        (np.float32, np.float32),
        (np.float64, np.float64),
    ],
)
def test_dtypes_follow_scikit_image(gray, dtype, expected):
    rng = np.random.default_rng(0)
    if np.dtype(dtype).kind == "f":
        image = rng.random((33, 47)).astype(dtype)
    else:
        image = rng.integers(0, min(np.iinfo(dtype).max, 60000), (33, 47)).astype(dtype)
    out = deblur(image, model=gray)
    assert out.dtype == expected and out.shape == image.shape
    assert 0.0 <= out.min() and out.max() <= 1.0


def test_integers_scaled_like_img_as_float(gray):
    image8 = np.random.default_rng(1).integers(0, 256, (40, 40)).astype(np.uint8)
    np.testing.assert_allclose(deblur(image8, model=gray), deblur(image8 / 255.0, model=gray), atol=1e-6)


@FAST
@given(lo=st.integers(0, 30000), span=st.integers(1, 35000))
def test_preserve_range_keeps_sixteen_bit_range(gray, lo, span):
    rng = np.random.default_rng(lo)
    image = rng.integers(lo, lo + span, (2, 40, 40), endpoint=True).astype(np.uint16)
    out = deblur(image, model=gray, preserve_range=True)
    assert out.shape == image.shape and out.dtype == np.float64
    vmin, vmax = image.min(), image.max()
    assert vmin - 1e-6 <= out.min() and out.max() <= vmax + 1e-6
    # normalised once over the whole stack: scaling the data scales the result
    scaled = deblur(image.astype(np.float64) * 2 + 7, model=gray, preserve_range=True)
    np.testing.assert_allclose(scaled, out * 2 + 7, rtol=1e-6, atol=1e-6 * vmax)


def test_preserve_range_accepts_negative_and_large_floats(gray):
    image = np.random.default_rng(2).normal(0, 500, (30, 30))
    out = deblur(image, model=gray, preserve_range=True)
    assert image.min() - 1e-9 <= out.min() and out.max() <= image.max() + 1e-9


@pytest.mark.parametrize("model_key, size, tile", [("unet1", (131, 257), 64), ("unet1", (300, 211), 96), ("paper1", (97, 150), 32)])
def test_tiled_equals_untiled(random_models, model_key, size, tile):
    image = np.random.default_rng(3).random(size).astype(np.float32)
    model = load_model(random_models[model_key])
    whole = deblur(image, model=model, tile_size=None)
    tiled = deblur(image, model=model, tile_size=tile)
    assert np.abs(whole - tiled).max() <= 1e-5


def test_tiled_equals_untiled_colour(color):
    image = np.random.default_rng(4).random((150, 330, 3)).astype(np.float32)
    np.testing.assert_allclose(
        deblur(image, model=color, channel_axis=-1, tile_size=48),
        deblur(image, model=color, channel_axis=-1, tile_size=None),
        atol=1e-5,
    )


def test_deterministic(color):
    image = np.random.default_rng(5).random((90, 110, 3))
    first = deblur(image, model=color, channel_axis=-1, tile_size=64)
    second = deblur(image, model=color, channel_axis=-1, tile_size=64)
    assert np.array_equal(first, second)


def test_out_receives_the_result_tile_by_tile(color, tmp_path):
    image = np.random.default_rng(7).integers(0, 256, (130, 300, 3)).astype(np.uint8)
    out = np.lib.format.open_memmap(tmp_path / "out.npy", mode="w+", dtype=np.float32, shape=image.shape)
    tiles = []
    returned = deblur(image, model=color, channel_axis=-1, tile_size=64, out=out, progress=lambda d, t: tiles.append(t))
    assert returned is out and tiles[0] > 1
    np.testing.assert_allclose(out, deblur(image, model=color, channel_axis=-1, tile_size=64), atol=1e-6)


def test_out_must_not_overlap_the_image(gray):
    image = np.random.default_rng(8).random((2, 40, 40))
    with pytest.raises(ValueError, match="shares memory"):
        deblur(image[0], model=gray, out=image[0])
    with pytest.raises(TypeError, match="NumPy input"):
        deblur(da.from_array(image[0]), model=gray, out=np.empty((40, 40)))


def test_rgba_keeps_alpha(color):
    rgba = np.random.default_rng(6).integers(0, 256, (40, 50, 4)).astype(np.uint8)
    out = deblur(rgba, model=color, channel_axis=-1)
    np.testing.assert_allclose(out[..., 3], rgba[..., 3] / 255.0)
    np.testing.assert_allclose(out[..., :3], deblur(rgba[..., :3], model=color, channel_axis=-1), atol=1e-12)


@pytest.mark.parametrize("bands", [1, 2, 5])
def test_multiband_goes_band_by_band_through_gray_model(gray, bands):
    stack = np.random.default_rng(7).random((bands, 30, 40))
    out = deblur(stack, model=gray, channel_axis=0)
    assert out.shape == stack.shape
    np.testing.assert_allclose(out[bands - 1], deblur(stack[bands - 1], model=gray), atol=1e-12)


def test_default_models_restore_gray_rgb_stack_and_single_pixel():
    from skimage import data

    gray8 = jpeg(data.camera()[:64, :80] / 255.0, quality=20)
    assert deblur((gray8 * 255).astype(np.uint8)).shape == (64, 80)
    rgb = deblur(data.astronaut()[:48, :40], channel_axis=-1)
    assert rgb.shape == (48, 40, 3) and 0 <= rgb.min() and rgb.max() <= 1
    stack = np.random.default_rng(8).integers(0, 4096, (3, 20, 30)).astype(np.uint16)
    out = deblur(stack, preserve_range=True)
    assert out.shape == stack.shape and stack.min() <= out.min() + 1e-6 and out.max() <= stack.max() + 1e-6
    assert deblur(np.array([[0.5]])).shape == (1, 1)


def test_progress_callback_counts_tiles(gray):
    calls = []
    deblur(np.zeros((100, 300)), model=gray, tile_size=48, progress=lambda done, total: calls.append((done, total)))
    assert len(calls) > 1 and calls[-1][0] == calls[-1][1] and [c[0] for c in calls] == list(range(1, len(calls) + 1))


def test_progress_callback_can_cancel(gray):
    class Cancelled(Exception):
        pass

    def cancel(done, total):
        raise Cancelled

    with pytest.raises(Cancelled):
        deblur(np.zeros((100, 100)), model=gray, tile_size=48, progress=cancel)


def test_accepts_torch_device(gray):
    assert deblur(np.zeros((8, 8)), model=gray, device=torch.device("cpu")).shape == (8, 8)


@pytest.mark.parametrize(
    "image, kwargs, error, match",
    [
        (np.array([[np.nan, 0.5]]), {}, ValueError, "NaN or infinite"),
        (np.array([[np.inf, 0.5]]), {}, ValueError, "NaN or infinite"),
        (np.zeros((0, 5)), {}, ValueError, "empty"),
        (np.array(0.5), {}, ValueError, "at least 2 dimensions"),
        (np.zeros(5), {}, ValueError, "at least 2 dimensions"),
        (np.zeros((4, 4), bool), {}, TypeError, "bool"),
        (np.zeros((4, 4), complex), {}, TypeError, "complex"),
        (np.zeros((4, 4), object), {}, TypeError, "not a real number type"),
        (np.zeros((4, 4, 3)), {"channel_axis": 3}, ValueError, "out of range"),
        (np.zeros((4, 4, 3)), {"channel_axis": -4}, ValueError, "out of range"),
        (np.zeros((4, 4)), {"channel_axis": 0}, ValueError, "needs rows, columns and channels"),
        (np.zeros((4, 4, 3)), {"channel_axis": 1.0}, TypeError, "channel_axis must be an int"),
        (np.zeros((4, 4, 2)), {"channel_axis": -1, "model": "dci-unet-color"}, ValueError, "restores RGB"),
        (np.zeros((4, 4)), {"model": "dci-unet-color"}, ValueError, "pass channel_axis"),
        (np.full((4, 4), 2.0), {}, ValueError, "must lie in \\[0, 1\\]"),
        (np.full((4, 4), -3, np.int16), {}, ValueError, "negative values"),
        (np.zeros((4, 4)), {"model": "no-such-model"}, ValueError, "unknown model"),
        (np.zeros((4, 4)), {"device": "tpu"}, ValueError, "available: cpu"),
        (np.zeros((4, 4)), {"device": 3}, TypeError, "device must be"),
        (np.zeros((4, 4)), {"tile_size": 8}, ValueError, "at least 16"),
        (np.zeros((4, 4)), {"tile_size": 64.0}, TypeError, "tile_size must be an int"),
        (np.zeros((4, 4)), {"preserve_range": "yes"}, TypeError, "preserve_range must be"),
        (np.zeros((4, 4)), {"out": [[0.0] * 4] * 4}, TypeError, "out must be a NumPy array"),
        (np.zeros((4, 4)), {"out": np.zeros((4, 5))}, ValueError, "out has shape"),
        (np.zeros((4, 4)), {"out": np.zeros((4, 4), np.uint8)}, TypeError, "float dtype"),
        (np.zeros((4, 4)), {"out": np.broadcast_to(np.zeros(4), (4, 4))}, ValueError, "read-only"),
    ],
)
def test_bad_input_raises_a_clear_error(image, kwargs, error, match):
    with pytest.raises(error, match=match):
        deblur(image, **kwargs)


def test_options_are_keyword_only():
    with pytest.raises(TypeError):
        deblur(np.zeros((4, 4)), "dci-unet-gray")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("value", [1.0000001, -1e-7])
def test_floats_a_rounding_error_outside_the_unit_range_are_clipped(gray, dtype, value):
    image = np.random.default_rng(9).random((24, 24)).astype(dtype)
    image[3, 4] = value
    np.testing.assert_array_equal(deblur(image, model=gray), deblur(np.clip(image, 0, 1), model=gray))


@pytest.mark.parametrize("value, found", [(1.00002, "from 0.5 to 1.00002"), (255.0, "from 0.5 to 255.0"), (-0.001, "from -0.001 to 0.5")])
def test_a_real_range_violation_names_the_range_it_found(gray, value, found):
    with pytest.raises(ValueError, match=f"{found}, but float images must lie in \\[0, 1\\]") as error:
        deblur(np.array([[0.5, value]] * 4), model=gray)
    assert "[0.5, 1]" not in str(error.value)  # the range found is not printed as one inside [0, 1]


@pytest.mark.parametrize(
    "image",
    [np.full((20, 20), 1000, np.uint16), np.full((20, 20), -3.25), np.random.default_rng(10).normal(0.3, 0.01, (2, 24, 24))],
    ids=["constant-uint16", "constant-negative-float", "narrow-float64"],
)
def test_preserve_range_output_lies_within_the_inputs_range(gray, image):
    out = deblur(image, model=gray, preserve_range=True)
    assert image.min() <= out.min() and out.max() <= image.max()  # exactly, not to a tolerance


def test_read_only_arrays_run_without_warnings(gray, color, tmp_path):
    image = np.random.default_rng(11).random((40, 48, 3)).astype(np.float32)
    np.save(tmp_path / "image.npy", image)
    frozen = image.copy()
    frozen.setflags(write=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for array in (frozen, np.load(tmp_path / "image.npy", mmap_mode="r")):
            assert not array.flags.writeable
            np.testing.assert_array_equal(deblur(array, model=color, channel_axis=-1), deblur(image, model=color, channel_axis=-1))
            deblur(array[..., 0], model=gray, tile_size=None)


def test_a_colour_like_last_axis_without_channel_axis_warns_once_and_keeps_its_meaning(gray):
    rgb = np.random.default_rng(12).random((2, 32, 40, 3))
    with pytest.warns(UserWarning, match=r"64 gray planes of 40x3 pixels .* pass channel_axis=-1") as record:
        out = deblur(rgb, model=gray, tile_size=None)
    assert len(record) == 1
    np.testing.assert_array_equal(out[1, 5], deblur(rgb[1, 5], model=gray, tile_size=None))  # planes of 40 x 3, as asked
    with pytest.warns(UserWarning, match="channel_axis=-1") as record:
        deblur(da.from_array(rgb[0], chunks=(16, 16, 3)), model=gray).compute()
    assert len(record) == 1  # once for the call, not once per block
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        deblur(rgb[0], model=gray, channel_axis=-1)  # said so
        deblur(np.moveaxis(rgb[0], -1, 0), model=gray)  # a stack of 3 planes
        deblur(rgb[0, :8, :8], model=gray)  # too small to tell


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_a_torch_tensor_is_restored_detached_as_an_array(gray, dtype):
    tensor = torch.rand(24, 24, dtype=dtype, requires_grad=True)
    out = deblur(tensor, model=gray)
    assert isinstance(out, np.ndarray)
    np.testing.assert_array_equal(out, deblur(tensor.detach().float().numpy().astype(out.dtype), model=gray))
