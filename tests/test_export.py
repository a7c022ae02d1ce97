"""Export to bioimage.io, ONNX and TorchScript: equal results, a package bioimageio.core passes, a zip that loads back."""

import pickle
import zipfile

import numpy as np
import pytest
import torch
from skimage import data

from dci_cnn import deblur, load_model, model_card
from dci_cnn.cli import main
from dci_cnn.export import ONNX_OPSET, to_bioimageio, to_onnx, to_torchscript
from dci_cnn.weights import WeightsError

pytest.importorskip("onnxruntime")
pytest.importorskip("bioimageio.core")


@pytest.fixture(scope="module")
def paper_zip(tmp_path_factory):
    """The small paper model as a bioimage.io package (the CI model; tools/export_all.py does all five)."""
    return to_bioimageio("dci-paper", tmp_path_factory.mktemp("export") / "dci-paper.zip")


def _images():
    """Gray float32 test images in [0, 1], ``(batch, 1, y, x)``: batch 1 and 2, non-square, sides multiples of 8."""
    camera = (data.camera() / 255.0).astype(np.float32)
    return [camera[None, None, 200:264, 150:246], np.stack([camera[None, :120, :40], camera[None, 300:420, 300:340]])]


@pytest.mark.slow
def test_onnx_matches_torch_float32_for_any_size(tmp_path, random_models):
    import onnx
    import onnxruntime

    loaded = load_model(random_models["unet1"])  # a user-trained U-Net: as the shipped ones, fewer blocks
    deblur(np.zeros((16, 16)), model=loaded)  # leaves the shared network channels_last: export must not mind
    path = to_onnx(random_models["unet1"], tmp_path / "gray.onnx")
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for x in _images():
        with torch.no_grad():
            expected = loaded.module(torch.from_numpy(x)).numpy()
        np.testing.assert_allclose(session.run(None, {"input": x})[0], expected, rtol=0, atol=1e-4)
    meta = session.get_modelmeta().custom_metadata_map
    assert meta["halo"] == str(loaded.halo) and meta["size_multiple"] == "8"
    assert meta["weights_sha256"] == loaded.card["sha256"]
    assert onnx.load(str(path)).opset_import[0].version == ONNX_OPSET


@pytest.mark.slow
def test_torchscript_matches_torch_float32(tmp_path):
    loaded = load_model("dci-unet-gray")
    path = to_torchscript(loaded, tmp_path / "gray.pt")
    scripted = torch.jit.load(str(path))
    for x in _images():
        with torch.no_grad():
            expected = loaded.module(torch.from_numpy(x)).numpy()
            np.testing.assert_allclose(scripted(torch.from_numpy(x)).numpy(), expected, rtol=0, atol=1e-6)


@pytest.mark.slow
def test_package_passes_bioimageio_core_model_test(paper_zip):
    from bioimageio.core import test_model

    summary = test_model(paper_zip)
    assert summary.status == "passed", summary.format()
    reproduced = {d.name for d in summary.details if d.name.startswith("Reproduce test outputs")}
    assert reproduced == {f"Reproduce test outputs from test inputs ({w})"
                          for w in ("onnx", "pytorch_state_dict", "torchscript")}


@pytest.mark.slow
def test_package_describes_axes_tiling_and_provenance(paper_zip):
    from bioimageio.spec import load_description

    descr = load_description(paper_zip)
    loaded = load_model("dci-paper")
    (inp,), (out,) = descr.inputs, descr.outputs
    assert [str(a.id) for a in inp.axes] == ["batch", "channel", "y", "x"]
    assert inp.axes[2].size.step == loaded.spec.size_multiple
    assert [a.halo for a in out.axes[2:]] == [loaded.halo] * 2
    assert [p.id for p in inp.preprocessing] == ["ensure_dtype", "scale_range", "ensure_dtype"]
    assert descr.weights.onnx.opset_version == ONNX_OPSET
    assert any("Deblurring compression images using a CNN" in c.text for c in descr.cite)
    names = zipfile.ZipFile(paper_zip).namelist()
    assert {"dci-paper.safetensors", "dci-paper.json", "models.py", "doc.md", "cover.png"} <= set(names)


@pytest.mark.slow
def test_package_loads_back_verified_and_without_pickle(paper_zip, monkeypatch):
    image = np.random.default_rng(1).random((40, 48, 3))
    expected = deblur(image, model="dci-paper", channel_axis=-1)

    def no_pickle(*args, **kwargs):
        raise AssertionError("weights must not be unpickled")

    monkeypatch.setattr(pickle, "loads", no_pickle)
    monkeypatch.setattr(pickle, "load", no_pickle)
    monkeypatch.setattr(torch, "load", no_pickle)
    loaded = load_model(paper_zip)
    assert loaded.name == "dci-paper" and loaded.halo == load_model("dci-paper").halo
    assert model_card(paper_zip)["sha256"] == model_card("dci-paper")["sha256"]
    np.testing.assert_array_equal(deblur(image, model=str(paper_zip), channel_axis=-1), expected)


@pytest.mark.slow
def test_tampered_package_fails_its_checksum(paper_zip, tmp_path):
    tampered = tmp_path / "tampered.zip"
    with zipfile.ZipFile(paper_zip) as src, zipfile.ZipFile(tampered, "w") as dst:
        for name in src.namelist():
            data = src.read(name)
            if name.endswith(".safetensors"):
                data = data[:-1] + bytes([data[-1] ^ 1])
            dst.writestr(name, data)
    with pytest.raises(WeightsError, match="fails its checksum"):
        load_model(tampered)


def test_zip_without_dci_cnn_weights_is_refused(tmp_path):
    other = tmp_path / "other.zip"
    with zipfile.ZipFile(other, "w") as zf:
        zf.writestr("rdf.yaml", "type: model\n")
    with pytest.raises(WeightsError, match="holds no dci-cnn weights"):
        load_model(other)


def test_cli_writes_torchscript_and_never_overwrites(tmp_path, capsys):
    target = tmp_path / "paper.pt"
    assert main(["export", "dci-paper", "--format", "torchscript", "-o", str(target)]) == 0
    assert torch.jit.load(str(target))(torch.zeros(1, 3, 16, 16)).shape == (1, 3, 16, 16)
    target.write_bytes(b"precious")
    assert main(["export", "dci-paper", "--format", "torchscript", "-o", str(target)]) == 2
    assert target.read_bytes() == b"precious"
    assert "exists; pass --overwrite to replace it" in capsys.readouterr().err
    assert main(["export", "dci-paper", "--format", "torchscript", "-o", str(target), "--overwrite"]) == 0


def test_cli_names_the_suffix_a_format_needs(tmp_path, capsys):
    assert main(["export", "dci-paper", "--format", "onnx", "-o", str(tmp_path / "paper.zip")]) == 2
    assert "must end in .onnx" in capsys.readouterr().err
    assert not (tmp_path / "paper.zip").exists()
