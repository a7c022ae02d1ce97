"""A catalogue of unusual inputs and faults for the array API, the weights and training.

Each case either works as documented or fails with the documented error
(ValueError, TypeError, WeightsError, FileExistsError) naming the problem.
The command line's cases (signals, kill -9, a full disk) are in
``test_cli_faults.py``; the fuzzed arguments of ``deblur`` in ``test_fuzz.py``.
"""

import csv
import json
import pickle

import dask.array as da
import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data

from dci_cnn import deblur, load_model
from dci_cnn.train import main as train_main
from dci_cnn.weights import WeightsError, sha256_file

# --------------------------------------------------------------------------- the array API: layouts x dtypes x options

#: name: (shape, channel_axis, index of one unit restored on its own (a plane, a channel, the RGB of RGBA), its channel_axis)
LAYOUTS = {
    "gray": ((24, 40), None, (), None),
    "stack": ((3, 24, 40), None, (2,), None),
    "rgb": ((24, 40, 3), -1, (), -1),
    "rgba": ((24, 40, 4), -1, (..., slice(0, 3)), -1),
    "rgb-first": ((3, 24, 40), 0, (), 0),
    "two-channel": ((2, 24, 40), 0, (1,), None),
    "multiband": ((24, 40, 6), -1, (..., 5), None),
    "time-rgb": ((2, 24, 40, 3), -1, (1,), -1),
}
DTYPES = [np.uint8, np.uint16, np.int16, np.float32, np.float64]


def _values(shape, dtype, preserve_range, seed=0):
    """Random data of ``dtype`` as a user would pass it: floats in [0, 1] unless ``preserve_range``, integers >= 0 unless
    signed with ``preserve_range``."""
    rng = np.random.default_rng(seed)
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        values = rng.normal(100, 30, shape) if preserve_range else rng.random(shape)
    else:
        lo = -1000 if dtype.kind == "i" and preserve_range else 0
        values = rng.integers(lo, min(np.iinfo(dtype).max, 60000), shape, endpoint=True)
    return values.astype(dtype)


def _model_of(shape, channel_axis, gray, color):
    return color if channel_axis is not None and shape[channel_axis] in (3, 4) else gray


@pytest.mark.parametrize("preserve_range", [False, True], ids=["unit", "preserve"])
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_layout_dtype_and_range(gray, color, layout, dtype, preserve_range):
    shape, axis, unit, unit_axis = LAYOUTS[layout]
    image = _values(shape, dtype, preserve_range)
    model = _model_of(shape, axis, gray, color)
    out = deblur(image, model=model, channel_axis=axis, preserve_range=preserve_range)
    assert out.shape == image.shape and out.dtype == (np.float32 if dtype == np.float32 else np.float64)
    if preserve_range:
        assert image.min() <= out.min() and out.max() <= image.max()
        return
    assert 0 <= out.min() and out.max() <= 1
    # each unit (plane, channel, RGB) is restored as if it were passed alone
    alone = image[unit]
    expected = deblur(alone, model=_model_of(alone.shape, unit_axis, gray, color), channel_axis=unit_axis)
    np.testing.assert_allclose(out[unit], expected, atol=1e-6)
    if layout == "rgba":  # alpha is passed through, scaled as the colours are
        scale = np.iinfo(dtype).max if np.dtype(dtype).kind in "ui" else 1
        np.testing.assert_allclose(out[..., 3], image[..., 3] / scale, atol=1e-7)


# --------------------------------------------------------------------------- the array API: what is refused, and how

def _frozen(array):
    array.setflags(write=False)
    return array


REFUSED = {
    "bool": (lambda: np.zeros((8, 8), bool), {}, TypeError, "dtype bool"),
    "bool-dask": (lambda: da.zeros((8, 8), dtype=bool), {}, TypeError, "dtype bool"),
    "complex64": (lambda: np.zeros((8, 8), np.complex64), {}, TypeError, "complex dtype"),
    "strings": (lambda: np.full((8, 8), "a"), {}, TypeError, "not a real number type"),
    "datetime": (lambda: np.zeros((8, 8), "datetime64[s]"), {}, TypeError, "not a real number type"),
    "nan-in-last-plane": (lambda: np.pad(np.full((1, 8, 8), np.nan, np.float32), ((2, 0), (0, 0), (0, 0))), {},
                          ValueError, "NaN or infinite"),
    "inf-rgb": (lambda: np.where(np.eye(8)[..., None], np.inf, 0.5) * np.ones(3), {"channel_axis": -1}, ValueError,
                "NaN or infinite"),
    "minus-inf-float16": (lambda: np.full((8, 8), -np.inf, np.float16), {}, ValueError, "NaN or infinite"),
    "nan-dask": (lambda: da.from_array(np.pad(np.full((4, 4), np.nan), 2), chunks=4), {}, ValueError, "NaN or infinite"),
    "empty-rows": (lambda: np.zeros((0, 8)), {}, ValueError, "empty"),
    "empty-columns": (lambda: np.zeros((8, 0), np.uint8), {}, ValueError, "empty"),
    "empty-stack": (lambda: np.zeros((0, 8, 8)), {}, ValueError, "empty"),
    "empty-channels": (lambda: np.zeros((8, 8, 0)), {"channel_axis": -1}, ValueError, "empty"),
    "empty-dask": (lambda: da.zeros((0, 8)), {}, ValueError, "empty"),
    "scalar": (lambda: np.float32(0.5), {}, ValueError, "at least 2 dimensions"),
    "row-vector": (lambda: np.zeros(8, np.uint8), {}, ValueError, "at least 2 dimensions"),
    "axis-past-the-end": (lambda: np.zeros((8, 8, 3)), {"channel_axis": 3}, ValueError, "out of range"),
    "axis-before-the-start": (lambda: np.zeros((2, 8, 8, 3)), {"channel_axis": -5}, ValueError, "out of range"),
    "axis-on-a-plane": (lambda: np.zeros((8, 8)), {"channel_axis": -1}, ValueError, "needs rows, columns and channels"),
    "axis-float": (lambda: np.zeros((8, 8, 3)), {"channel_axis": 2.0}, TypeError, "channel_axis must be an int"),
    "axis-string": (lambda: np.zeros((8, 8, 3)), {"channel_axis": "last"}, TypeError, "channel_axis must be an int"),
    "axis-bool": (lambda: np.zeros((8, 8, 3)), {"channel_axis": True}, TypeError, "channel_axis must be an int"),
    "axis-tuple": (lambda: np.zeros((8, 8, 3)), {"channel_axis": (0, 1)}, TypeError, "channel_axis must be an int"),
    "axis-dask": (lambda: da.zeros((8, 8, 3)), {"channel_axis": 5}, ValueError, "out of range"),
    "colour-model-on-five-bands": (lambda: np.zeros((8, 8, 5)), {"channel_axis": -1, "model": "dci-unet-color"},
                                   ValueError, "restores RGB"),
    "colour-model-on-one-channel": (lambda: np.zeros((1, 8, 8)), {"channel_axis": 0, "model": "dci-unet-color"},
                                    ValueError, "restores RGB"),
    "colour-model-without-axis": (lambda: np.zeros((3, 8, 8)), {"model": "dci-unet-color"}, ValueError, "pass channel_axis"),
    "float-above-one": (lambda: np.full((8, 8), 1.5, np.float32), {}, ValueError, "from 1.5 to 1.5, but float images"),
    "float-below-zero": (lambda: np.full((8, 8), -0.5), {}, ValueError, "from -0.5 to -0.5, but float images"),
    "float-0-255": (lambda: np.linspace(0, 255, 64).reshape(8, 8), {}, ValueError, "from 0.0 to 255.0"),
    "float-0-255-dask": (lambda: da.linspace(0, 255, 64, chunks=16).reshape(8, 8), {}, ValueError, "from 0.0 to 255.0"),
    "negative-int16": (lambda: np.arange(-32, 32, dtype=np.int16).reshape(8, 8), {}, ValueError, "negative values"),
    "tile-too-small": (lambda: np.zeros((8, 8)), {"tile_size": 15}, ValueError, "at least 16"),
    "tile-string": (lambda: np.zeros((8, 8)), {"tile_size": "big"}, TypeError, "tile_size must be"),
    "tile-bool": (lambda: np.zeros((8, 8)), {"tile_size": True}, TypeError, "tile_size must be"),
    "preserve-range-int": (lambda: np.zeros((8, 8)), {"preserve_range": 1}, TypeError, "preserve_range must be True or False"),
    "self-ensemble-string": (lambda: np.zeros((8, 8)), {"self_ensemble": "no"}, TypeError, "self_ensemble must be"),
    "device-unknown": (lambda: np.zeros((8, 8)), {"device": "quantum"}, ValueError, "device"),
    "model-number": (lambda: np.zeros((8, 8)), {"model": 7}, TypeError, "model must be a name"),
    "model-unknown": (lambda: np.zeros((8, 8)), {"model": "dci-unet-grey"}, ValueError, "unknown model 'dci-unet-grey'"),
    "out-of-another-shape": (lambda: np.zeros((8, 8)), {"out": np.zeros((8, 8, 1))}, ValueError, "out has shape"),
    "out-integer": (lambda: np.zeros((8, 8)), {"out": np.zeros((8, 8), np.int32)}, TypeError, "float dtype"),
    "out-read-only": (lambda: np.zeros((8, 8)), {"out": _frozen(np.zeros((8, 8)))}, ValueError, "out is read-only"),
    "out-tensor": (lambda: np.zeros((8, 8)), {"out": torch.zeros(8, 8)}, TypeError, "out must be a NumPy array"),
    "out-for-dask": (lambda: da.zeros((8, 8)), {"out": np.zeros((8, 8))}, TypeError, "out is for NumPy input"),
}


@pytest.mark.parametrize("case", REFUSED)
def test_refused_with_a_message_naming_the_problem(case):
    make, kwargs, error, match = REFUSED[case]
    with pytest.raises(error, match=match):
        result = deblur(make(), **kwargs)
        if isinstance(result, da.Array):
            result.compute()


def test_an_unavailable_cuda_device_is_refused_naming_what_is_available():
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is available here")
    with pytest.raises(ValueError, match="available"):
        deblur(np.zeros((8, 8)), device="cuda:0")


# --------------------------------------------------------------------------- the array API: unusual but valid input


SAME_PIXELS = {  # name: a different array of the same pixels as ``image`` (float32, 32 x 48), restored alike
    "strided-view": lambda image: np.repeat(image, 2, axis=1)[:, ::2],
    "fortran-order": np.asfortranarray,
    "reversed-strides": lambda image: image[::-1, ::-1].copy()[::-1, ::-1],
    "big-endian": lambda image: image.astype(">f4"),
    "read-only": lambda image: _frozen(image.copy()),
    "nested-lists": lambda image: image.tolist(),
    "torch-tensor": torch.from_numpy,
    "torch-tensor-requiring-grad": lambda image: torch.from_numpy(image.copy()).requires_grad_(True),
    "dask-small-chunks": lambda image: da.from_array(image, chunks=(8, 8)),
    "dask-one-chunk": da.from_array,
    "float16": lambda image: image.astype(np.float16),
}


@pytest.mark.parametrize("case", SAME_PIXELS)
def test_other_arrays_of_the_same_pixels_restore_alike(gray, case):
    image = np.random.default_rng(1).random((32, 48)).astype(np.float32)
    if case == "float16":
        image = image.astype(np.float16).astype(np.float32)
    other = SAME_PIXELS[case](image)
    out = np.asarray(deblur(other, model=gray))
    expected = deblur(image, model=gray).astype(out.dtype)
    np.testing.assert_allclose(out, expected, atol=1e-5 if case.startswith("dask") else 1e-7)


@pytest.mark.parametrize(
    "shape, channel_axis",
    [((1, 1), None), ((1, 37), None), ((37, 1), None), ((7, 9), None), ((2, 31, 29), None), ((5, 5, 3), -1),
     ((1, 1, 4), -1), ((9, 11, 1), -1), ((2, 2, 9, 11), None), ((3, 1, 1), 0)],
    ids=str,
)
def test_small_and_odd_shapes(gray, color, shape, channel_axis):
    image = np.random.default_rng(2).random(shape).astype(np.float32)
    out = deblur(image, model=_model_of(shape, channel_axis, gray, color), channel_axis=channel_axis)
    assert out.shape == shape and out.dtype == np.float32 and np.isfinite(out).all() and 0 <= out.min() and out.max() <= 1


@pytest.mark.parametrize("dtype", [np.uint32, np.int64, np.uint64, np.int8], ids=lambda d: np.dtype(d).name)
def test_other_integer_types_scale_by_their_maximum(gray, dtype):
    image = np.arange(64, dtype=dtype).reshape(8, 8)
    expected = deblur(image / np.iinfo(dtype).max, model=gray)
    np.testing.assert_allclose(deblur(image, model=gray), expected, atol=1e-12)


OUTS = {  # name: (input dtype, out), the out made for an input of shape (24, 40, 3)
    "float32-for-uint8": (np.uint8, lambda path: np.empty((24, 40, 3), np.float32)),
    "float64-for-float32": (np.float32, lambda path: np.empty((24, 40, 3), np.float64)),
    "memmap": (np.uint16, lambda path: np.lib.format.open_memmap(path, "w+", np.float32, (24, 40, 3))),
    "fortran-order": (np.uint8, lambda path: np.empty((24, 40, 3), np.float64, order="F")),
    "view-of-a-bigger-array": (np.uint8, lambda path: np.empty((24, 80, 3))[:, ::2]),
}


@pytest.mark.parametrize("preserve_range", [False, True], ids=["unit", "preserve"])
@pytest.mark.parametrize("case", OUTS)
def test_out_receives_what_deblur_returns(color, tmp_path, case, preserve_range):
    dtype, make = OUTS[case]
    image = _values((24, 40, 3), dtype, preserve_range=False, seed=3)
    out = make(tmp_path / "out.npy")
    returned = deblur(image, model=color, channel_axis=-1, out=out, preserve_range=preserve_range)
    assert returned is out
    expected = deblur(image, model=color, channel_axis=-1, preserve_range=preserve_range)
    np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-6 * (65535 if preserve_range else 1))


# --------------------------------------------------------------------------- weights: every way a model file can be wrong


class _Payload:
    """Unpickling this creates ``marker``: proof that a pickle was loaded."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return open, (str(self.marker), "w")


def _rewrite_card(path, edit):
    card_file = path.with_suffix(".json")
    card_file.write_text(json.dumps(edit(json.loads(card_file.read_text()))))


def _reseal(path):
    """Make the card's checksum match the (damaged) tensor file, so the damage itself is what loading meets."""
    _rewrite_card(path, lambda card: {**card, "sha256": sha256_file(path)})


def _replace_by_pickle(path):
    path.write_bytes(pickle.dumps({"model": _Payload(path.parent / "unpickled")}))
    _reseal(path)


def _header_claims_too_much(path):
    raw = path.read_bytes()
    path.write_bytes((1 << 40).to_bytes(8, "little") + raw[8:])
    _reseal(path)


WEIGHT_FAULTS = {  # name: (damage(path) -> the path to load, or None for the same, match)
    "tensors-missing": (lambda p: p.unlink(), "weights file .*copy-unet1.safetensors is missing"),
    "tensors-a-folder": (lambda p: (p.unlink(), p.mkdir()), "copy-unet1.safetensors is missing"),
    "card-missing": (lambda p: p.with_suffix(".json").unlink(), "model card .*copy-unet1.json is missing"),
    "card-empty": (lambda p: p.with_suffix(".json").write_text(""), "copy-unet1.json is not valid JSON"),
    "card-not-utf8": (lambda p: p.with_suffix(".json").write_bytes(b"\xff\xfe{}"), "copy-unet1.json is not valid JSON"),
    "card-cut-short": (lambda p: p.with_suffix(".json").write_text(p.with_suffix(".json").read_text()[:40]),
                       "not valid JSON"),
    "card-a-string": (lambda p: p.with_suffix(".json").write_text('"dciunet"'), "holds a string, not a JSON object"),
    "card-a-number": (lambda p: p.with_suffix(".json").write_text("42"), "holds a number, not a JSON object"),
    "card-arguments-a-string": (lambda p: _rewrite_card(p, lambda c: {**c, "arguments": "channels=1"}),
                                "'arguments' must be an object"),
    "card-channels-zero": (lambda p: _rewrite_card(p, lambda c: {**c, "arguments": {"channels": 0}}),
                           "'arguments.channels' must be a positive integer"),
    "card-without-checksum": (lambda p: _rewrite_card(p, lambda c: {k: v for k, v in c.items() if k != "sha256"}),
                              "lacks the keys \\['sha256'\\]"),
    "card-of-another-architecture": (lambda p: _rewrite_card(p, lambda c: {**c, "architecture": "resnet"}),
                                     "unknown architecture 'resnet'"),
    "flipped-byte": (lambda p: p.write_bytes(p.read_bytes()[:-1] + bytes([p.read_bytes()[-1] ^ 0xFF])), "copy-unet1.safetensors fails its checksum"),
    "truncated": (lambda p: p.write_bytes(p.read_bytes()[:1000]), "fails its checksum"),
    "truncated-resealed": (lambda p: (p.write_bytes(p.read_bytes()[:1000]), _reseal(p)), "not a valid safetensors file"),
    "zero-bytes-resealed": (lambda p: (p.write_bytes(b""), _reseal(p)), "not a valid safetensors file"),
    "header-claims-a-terabyte": (_header_claims_too_much, "not a valid safetensors file"),
    "pickle-in-its-place": (_replace_by_pickle, "not a valid safetensors file"),
    "pickle-as-pt-path": (lambda p: (_replace_by_pickle(p), p.rename(p.with_suffix(".pt")))[-1],
                          "copy-unet1.pt is not a valid safetensors file"),
    "tensors-of-another-model": (lambda p: _rewrite_card(p, lambda c: {**c, "architecture": "dcicnn"}),
                                 "does not fit architecture 'dcicnn'.*missing tensors body.0.weight"),
}


@pytest.mark.parametrize("case", WEIGHT_FAULTS)
def test_a_damaged_model_is_refused_naming_the_file(copy_of, case):
    damage, match = WEIGHT_FAULTS[case]
    path = copy_of("unet1")
    target = damage(path)
    with pytest.raises(WeightsError, match=match):
        load_model(target if hasattr(target, "suffix") else path)
    assert not (path.parent / "unpickled").exists()  # no pickle is ever loaded
    with pytest.raises(WeightsError, match=match):  # and deblur says the same
        deblur(np.zeros((8, 8)), model=target if hasattr(target, "suffix") else path)


def test_a_pickle_named_as_a_model_is_an_unknown_model(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "model.pt").write_bytes(pickle.dumps(_Payload(tmp_path / "unpickled")))
    with pytest.raises(ValueError, match="unknown model 'model.pt'"):
        load_model("model.pt")
    assert not (tmp_path / "unpickled").exists()


# --------------------------------------------------------------------------- training: tiny runs on images made by code

TINY = ["--patch-size", "32", "--batch-size", "2", "--val-images", "1", "--val-fraction", "0.34", "--val-size", "32",
        "--threads", "1", "--quiet"]
ARCHS = {"dcicnn": '{"width": 4, "depth": 3, "residual": true}', "dciunet": '{"widths": [4, 4, 4]}'}


@pytest.fixture(scope="module")
def pictures(tmp_path_factory):
    """Three small training images: gray 8-bit, RGB JPEG, gray 16-bit."""
    folder = tmp_path_factory.mktemp("pictures")
    Image.fromarray(data.camera()[::4, ::4][:64, :64]).save(folder / "camera.png")
    Image.fromarray(data.astronaut()[::4, ::4][:64, :64]).save(folder / "astronaut.jpg", quality=90)
    Image.fromarray(data.moon()[::4, ::4][:64, :64].astype(np.uint16) * 257).save(folder / "moon16.png")
    return folder


def _train(pictures, out, arch="dcicnn", *extra):
    return train_main(["--data", str(pictures), "--out", str(out), "--arch", arch, "--arch-args", ARCHS[arch], *TINY, *extra])


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("arch", ARCHS)
def test_a_tiny_run_exports_a_model_that_restores_its_layout(pictures, tmp_path, arch, channels):
    export = tmp_path / "tiny.safetensors"
    assert _train(pictures, tmp_path / "run", arch, "--steps", "1", "--channels", str(channels), "--export", str(export)) == 0
    model = load_model(export)
    assert model.card["training"]["step"] == 1 and model.card["sha256"] == sha256_file(export)
    image = data.astronaut()[:24, :40] if channels == 3 else data.camera()[:24, :40]
    assert deblur(image, model=model, channel_axis=-1 if channels == 3 else None).shape == image.shape


def test_a_resumed_run_logs_every_step_once(pictures, tmp_path):
    out = tmp_path / "run"
    _train(pictures, out, "dcicnn", "--steps", "3", "--stop-at", "1", "--val-every", "1")
    _train(pictures, out, "dcicnn", "--steps", "3", "--stop-at", "2", "--val-every", "1", "--resume")
    _train(pictures, out, "dcicnn", "--steps", "3", "--val-every", "1", "--resume")
    with open(out / "log.csv", newline="") as log:
        assert [row["step"] for row in csv.DictReader(log)] == ["1", "2", "3"]
    assert torch.load(out / "checkpoint.pt", weights_only=True)["step"] == 3


@pytest.mark.parametrize("existing", [(".safetensors",), (".json",), (".safetensors", ".json")], ids="+".join)
def test_export_refuses_to_overwrite_what_exists(pictures, tmp_path, existing):
    export = tmp_path / "mine.safetensors"
    for suffix in existing:
        export.with_suffix(suffix).write_bytes(b"someone's " + suffix.encode())
    with pytest.raises(FileExistsError, match="--overwrite|overwrite=True"):
        _train(pictures, tmp_path / "run", "dcicnn", "--steps", "1", "--export", str(export))
    assert sorted(p.name for p in tmp_path.glob("mine.*")) == sorted(f"mine{s}" for s in existing)
    for suffix in existing:
        assert export.with_suffix(suffix).read_bytes() == b"someone's " + suffix.encode()


def test_export_with_overwrite_replaces_both_files(pictures, tmp_path):
    export = tmp_path / "mine.safetensors"
    export.write_bytes(b"old")
    export.with_suffix(".json").write_text("{}")
    _train(pictures, tmp_path / "run", "dcicnn", "--steps", "1", "--export", str(export), "--overwrite")
    assert load_model(export).card["sha256"] == sha256_file(export)


# --------------------------------------------------------------------------- no network


def test_nothing_reaches_the_network(pictures, copy_of, tmp_path, monkeypatch, capsys):
    import socket

    from dci_cnn.cli import main as cli_main

    def refuse(*args, **kwargs):
        raise AssertionError(f"network access: {args[:2]}")

    for name in ("connect", "connect_ex", "sendto"):
        monkeypatch.setattr(socket.socket, name, refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    model = copy_of("unet3")  # a fresh file, so it is loaded here and not taken from the cache
    deblur(data.astronaut()[:32, :32], model=model, channel_axis=-1)
    deblur(da.from_array(data.camera()[:64, :64], chunks=32)).compute()
    assert cli_main(["models", "--json"]) == 0
    assert cli_main(["deblur", str(pictures / "camera.png"), "-o", str(tmp_path / "out"), "--quiet"]) == 0
    _train(pictures, tmp_path / "run", "dcicnn", "--steps", "1", "--export", str(tmp_path / "m.safetensors"))
    capsys.readouterr()


def test_a_pickled_checkpoint_is_never_run(pictures, tmp_path):
    out = tmp_path / "run"
    _train(pictures, out, "dcicnn", "--steps", "2", "--stop-at", "1")
    (out / "checkpoint.pt").write_bytes(pickle.dumps({"model": _Payload(tmp_path / "unpickled")}))
    with pytest.raises((pickle.UnpicklingError, ValueError)):  # ValueError: the one-line message naming the file
        _train(pictures, out, "dcicnn", "--steps", "2", "--resume")
    assert not (tmp_path / "unpickled").exists()
