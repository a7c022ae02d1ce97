"""Quality conditioning: the FiLM adapter, its folding, ``deblur(quality=...)``, training and loading it."""

import json
import shutil

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data
from skimage.transform import rescale
from skimage.util import img_as_ubyte

from dci_cnn import deblur, list_models
from dci_cnn._quality import adapter_for, conditioned_forward, fold, load_adapter, quality_for_file, with_quality
from dci_cnn.degrade import jpeg
from dci_cnn.models import DCIUNet
from dci_cnn.weights import WeightsError, load_model, save_weights


def _randomise(module, seed, std):
    torch.manual_seed(seed)
    for p in module.parameters():
        torch.nn.init.normal_(p, 0.0, std)
    return module


@pytest.fixture(scope="module")
def tiny():
    """A small random U-Net and a random (trained-looking) adapter for it."""
    net = _randomise(DCIUNet(1, widths=(8, 16, 16), blocks=(1, 1, 1)), 0, 0.1).eval()
    return net, _randomise(adapter_for(net), 1, 0.3).eval()


@pytest.fixture(scope="module")
def with_adapter(tmp_path_factory, tiny):
    """``folder/tiny.safetensors`` and its adapter ``tiny-quality.safetensors`` beside it, saved as shipped ones are."""
    net, adapter = tiny
    folder = tmp_path_factory.mktemp("adapted")
    base = save_weights(net, folder / "tiny.safetensors",
                        {"architecture": "dciunet", "arguments": {"channels": 1, "widths": [8, 16, 16], "blocks": [1, 1, 1]}})
    save_weights(adapter, folder / "tiny-quality.safetensors",
                 {"adapter": "quality-film", "base": "tiny", "base_sha256": base["sha256"], "arguments": {"frequencies": 4, "hidden": 16}})
    return folder / "tiny.safetensors"


def test_an_untrained_adapter_is_exactly_the_blind_model(tiny):
    net, _ = tiny
    x = torch.rand(2, 1, 32, 32)
    with torch.no_grad():
        assert torch.equal(conditioned_forward(net, adapter_for(net), x, torch.tensor([10, 90])), net(x))


def test_folded_network_computes_the_film_forward(tiny):
    net, adapter = tiny
    x = torch.rand(1, 1, 48, 40)
    with torch.no_grad():
        film = conditioned_forward(net, adapter, x, torch.tensor([30.0]))
        folded = fold(net, adapter, 30)(x)
        assert torch.allclose(folded, film, atol=1e-5)
        assert (film - net(x)).abs().max() > 1e-2  # the adapter does something
        assert (fold(net, adapter, 80)(x) - folded).abs().max() > 1e-3  # and it depends on the quality


def test_deblur_with_quality_runs_the_folded_network_and_none_is_blind(with_adapter):
    net = load_model(with_adapter)
    adapter = load_adapter(with_adapter.with_name("tiny-quality.safetensors"), net).module
    image = jpeg(data.camera()[:64, :72] / 255.0, 30)
    blind = deblur(image, model=with_adapter)
    assert np.array_equal(deblur(image, model=with_adapter, quality=None), blind)
    q30 = deblur(image, model=with_adapter, quality=30)
    with torch.no_grad():
        expected = fold(net.module, adapter, 30)(torch.from_numpy(image)[None, None]).clamp(0, 1)[0, 0].numpy()
    np.testing.assert_allclose(q30, expected, atol=1e-5)
    assert np.abs(q30 - blind).max() > 1e-3
    # strips, tiles and the self-ensemble run the folded network unchanged
    np.testing.assert_allclose(deblur(image, model=with_adapter, quality=30, tile_size=16), q30, atol=1e-5)
    ensemble = deblur(image, model=with_adapter, quality=30, self_ensemble=True)
    np.testing.assert_array_equal(ensemble, deblur(image, model=with_quality(net, 30), self_ensemble=True))
    assert np.abs(ensemble - deblur(image, model=with_adapter, self_ensemble=True)).max() > 1e-3


def test_dask_input_gets_the_same_quality(with_adapter):
    da = pytest.importorskip("dask.array")
    image = jpeg(data.camera()[:96, :96] / 255.0, 20)
    lazy = deblur(da.from_array(image, chunks=48), model=with_adapter, quality=20)
    np.testing.assert_allclose(lazy.compute(), deblur(image, model=with_adapter, quality=20), atol=1e-5)


def test_auto_estimates_the_quality_from_the_pixels_and_is_blind_without_jpeg(with_adapter):
    compressed = jpeg(data.camera()[:128, :128] / 255.0, 40)
    np.testing.assert_array_equal(deblur(compressed, model=with_adapter, quality="auto"),
                                  deblur(compressed, model=with_adapter, quality=40))
    never_compressed = rescale(data.camera() / 255.0, 0.5)[:128, :128]  # resampled: no quantization lattice left
    np.testing.assert_array_equal(deblur(never_compressed, model=with_adapter, quality="auto"),
                                  deblur(never_compressed, model=with_adapter))


def test_auto_leaves_models_without_an_adapter_blind(gray):
    compressed = jpeg(data.camera()[:64, :64] / 255.0, 20)
    np.testing.assert_array_equal(deblur(compressed, model=gray, quality="auto"), deblur(compressed, model=gray))


@pytest.mark.parametrize(("quality", "error", "match"), [
    (0, ValueError, "1-100"), (101, ValueError, "1-100"), (True, TypeError, "int 1-100"),
    (30.0, TypeError, "int 1-100"), ("high", TypeError, "'auto'"),
])
def test_bad_quality_is_rejected_with_the_fix(with_adapter, quality, error, match):
    with pytest.raises(error, match=match):
        deblur(np.zeros((16, 16)), model=with_adapter, quality=quality)


def test_a_quality_for_a_model_without_adapter_names_the_fix(gray):
    with pytest.raises(ValueError, match="takes no quality.*quality=None"):
        deblur(np.zeros((16, 16)), model=gray, quality=30)


def test_default_model_with_a_quality_is_the_jpeg_family(monkeypatch):
    from dci_cnn import _deblur

    asked = []
    monkeypatch.setattr(_deblur, "with_quality", lambda loaded, quality: asked.append((loaded.name, quality)) or loaded)
    _deblur.describe((16, 16), None, None, 30)
    _deblur.describe((16, 16, 3), -1, "default", 50)
    assert asked == [("dci-unet-gray-jpeg", 30), ("dci-unet-color-jpeg", 50)]


def test_adapter_is_verified_against_its_base_and_its_own_checksum(with_adapter, tmp_path):
    for name in ("tiny", "tiny-quality"):
        for ext in (".safetensors", ".json"):
            shutil.copy(with_adapter.with_name(name + ext), tmp_path / (name + ext))
    card_file = tmp_path / "tiny-quality.json"
    card = json.loads(card_file.read_text())
    card_file.write_text(json.dumps({**card, "base_sha256": "0" * 64}))
    with pytest.raises(WeightsError, match="other weights"):
        with_quality(load_model(tmp_path / "tiny.safetensors"), 30)
    card_file.write_text(json.dumps({**card, "sha256": "0" * 64}))
    with pytest.raises(WeightsError, match="checksum"):
        with_quality(load_model(tmp_path / "tiny.safetensors"), 30)


def test_list_models_leaves_adapters_out():
    assert not [m for m in list_models() if m.endswith("-quality")]


def test_cli_tells_the_model_a_jpeg_files_own_quality(with_adapter, tmp_path):
    from dci_cnn.cli import main
    from dci_cnn.imageio import read_image

    source = tmp_path / "photo.jpg"
    Image.fromarray(data.camera()[:64, :64]).save(source, quality=30)
    image = read_image(source)
    for option, quality in (("auto", 30), ("none", None), ("70", 70)):
        target = tmp_path / f"{option}.png"
        assert main(["deblur", str(source), "-o", str(target), "--model", str(with_adapter), "--quality", option]) == 0
        expected = img_as_ubyte(deblur(image, model=with_adapter, quality=quality))
        np.testing.assert_array_equal(read_image(target), expected)
    with pytest.raises(SystemExit):
        main(["deblur", str(source), "-o", str(tmp_path / "x.png"), "--quality", "0"])


def test_cli_refuses_a_quality_for_a_model_without_adapter_before_any_work(gray, tmp_path, capsys):
    from dci_cnn.cli import main

    source = tmp_path / "photo.jpg"
    Image.fromarray(data.camera()[:64, :64]).save(source, quality=30)
    for model in (["--model", gray.path], []):  # the default family: a quality sends it to the jpeg family
        assert main(["deblur", str(source), "-o", str(tmp_path / "out"), *model, "--quality", "30"]) == 2
        err = capsys.readouterr().err
        assert "--quality 30: model" in err and "has no quality adapter" in err and "--quality none" in err
        assert "Traceback" not in err and not (tmp_path / "out").exists()


def test_auto_for_a_file_is_blind_for_models_without_adapter_and_estimates_for_non_jpeg(with_adapter, gray, tmp_path):
    source = tmp_path / "photo.jpg"
    Image.fromarray(data.camera()[:64, :64]).save(source, quality=30)
    image = np.asarray(Image.open(source))
    assert quality_for_file("auto", source, image, gray, None) is None
    assert quality_for_file("auto", source, image, str(with_adapter), None) == 30
    Image.fromarray(image).save(tmp_path / "decoded.png")
    assert quality_for_file("auto", tmp_path / "decoded.png", image, str(with_adapter), None) == "auto"
    assert quality_for_file(55, source, image, gray, None) == 55


def test_evaluate_scores_double_jpeg_with_the_true_quality_and_records_it_in_the_adapter_card(with_adapter, tmp_path):
    from dci_cnn.evaluate import main

    for name in ("tiny", "tiny-quality"):
        for ext in (".safetensors", ".json"):
            shutil.copy(with_adapter.with_name(name + ext), tmp_path / (name + ext))
    images = tmp_path / "set"
    images.mkdir()
    Image.fromarray(data.camera()[:64, :64]).save(images / "camera.png")
    model = str(tmp_path / "tiny.safetensors")
    common = ["--data", str(images), "--model", model, "--degradation", "double-jpeg", "--quality", "30", "--first-quality", "10"]
    assert main([*common, "--model-quality", "true", "--record", "--json", str(tmp_path / "true.json")]) == 0
    assert main([*common, "--json", str(tmp_path / "blind.json")]) == 0
    entry = json.loads((tmp_path / "tiny-quality.json").read_text())["metrics"]["set"]["double-jpeg, true quality"]
    assert entry["QF10>30"]["images"] == 1 and "--model-quality true" in entry["command"]
    true, blind = (json.loads((tmp_path / f"{k}.json").read_text())["summary"][0] for k in ("true", "blind"))
    assert true["psnr_in"] == blind["psnr_in"] and true["psnr_out"] != blind["psnr_out"]
    with pytest.raises(ValueError, match="first-quality"):
        main(["--data", str(images), "--model", model, "--degradation", "double-jpeg", "--quality", "30"])


def test_evaluate_refuses_to_tell_the_quality_to_a_model_without_adapter_before_any_work(gray, tmp_path):
    from dci_cnn.evaluate import main

    images = tmp_path / "set"
    images.mkdir()
    Image.fromarray(data.camera()[:64, :64]).save(images / "camera.png")
    for told in ("true", "auto"):
        with pytest.raises(ValueError, match=f"--model-quality {told}: model .* has no quality adapter.*--model-quality blind"):
            main(["--data", str(images), "--model", gray.path, "--model-quality", told, "--record",
                  "--json", str(tmp_path / "scores.json")])
    assert not (tmp_path / "scores.json").exists()


def test_train_quality_adapter_leaves_the_base_alone_and_a_later_stage_continues(with_adapter, tmp_path):
    from dci_cnn.train import main

    photos = tmp_path / "photos"
    photos.mkdir()
    for name, image in (("camera", data.camera()), ("coins", data.coins()), ("moon", data.moon())):
        Image.fromarray(image[:96, :96]).save(photos / f"{name}.png")
    common = ["--data", str(photos), "--channels", "1", "--arch-args", '{"widths": [8, 16, 16], "blocks": [1, 1, 1]}',
              "--init", str(with_adapter), "--quality-adapter", "--patch-size", "32", "--batch-size", "2", "--steps", "2",
              "--val-every", "2", "--val-images", "1", "--val-size", "32", "--threads", "1", "--quiet"]
    base_sha = load_model(with_adapter).card["sha256"]
    first = tmp_path / "first.safetensors"
    assert main([*common, "--out", str(tmp_path / "run1"), "--export", str(first)]) == 0
    card = json.loads(first.with_suffix(".json").read_text())
    assert card["adapter"] == "quality-film" and card["base"] == "tiny" and card["base_sha256"] == base_sha
    assert "architecture" not in card and card["parameters"] == sum(p.numel() for p in adapter_for(load_model(with_adapter).module).parameters())
    second = tmp_path / "second.safetensors"
    assert main([*common, "--out", str(tmp_path / "run2"), "--init-adapter", str(first), "--export", str(second)]) == 0
    stages = json.loads(second.with_suffix(".json").read_text())["training"]["previous_stages"]
    assert len(stages) == 1 and stages[0]["command"] == card["training"]["command"]
    with pytest.raises(ValueError, match="pass it as --init"):
        main([*common[:6], *common[8:], "--out", str(tmp_path / "run3")])
