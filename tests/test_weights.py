"""Weights and model cards: registry, checksums, and every way a file can be wrong."""

import json
import shutil

import numpy as np
import pytest
import torch

from dci_cnn import deblur, list_models, load_model, model_card
from dci_cnn.models import build_model
from dci_cnn.weights import (
    MODEL_FAMILIES,
    WeightsError,
    model_for,
    read_verified,
    save_weights,
    sha256_file,
    weights_dir,
)

CARD_KEYS = {"name", "architecture", "arguments", "parameters", "sha256", "description", "training", "metrics"}


@pytest.fixture
def copy_of(random_models, tmp_path):
    def make(key="unet1"):
        src = random_models[key]
        dst = tmp_path / f"copy-{key}.safetensors"
        shutil.copy(src, dst)
        shutil.copy(src.replace(".safetensors", ".json"), dst.with_suffix(".json"))
        return dst

    return make


def test_shipped_models_are_listed_with_complete_cards():
    names = list_models()
    assert {"dci-unet-gray", "dci-unet-color"} <= set(names)
    for name in names:
        card = model_card(name)
        assert CARD_KEYS <= set(card), name
        loaded = load_model(name)
        assert json.loads((weights_dir() / f"{name}.json").read_text())["name"] == name  # the file itself says so
        assert loaded.name == name and loaded.channels == card["arguments"].get("channels", 1)
        assert card["parameters"] == sum(p.numel() for p in build_model(card["architecture"], **card["arguments"]).parameters())


def test_a_copied_model_is_called_by_its_new_name(copy_of):
    path = copy_of()
    assert json.loads(path.with_suffix(".json").read_text())["name"] != path.stem
    assert model_card(path)["name"] == path.stem


def test_shipped_weights_verify_against_their_checksum():
    for name in list_models():
        card, state = read_verified(name)
        assert card["sha256"] == sha256_file(load_model(name).path)
        assert all(isinstance(t, torch.Tensor) for t in state.values())


def test_load_is_cached():
    assert load_model("dci-unet-gray") is load_model("dci-unet-gray")


def test_save_refuses_to_overwrite(random_models, tmp_path):
    module = build_model("dcicnn", channels=1)
    path = tmp_path / "m.safetensors"
    save_weights(module, path, {"architecture": "dcicnn", "arguments": {"channels": 1}})
    with pytest.raises(FileExistsError, match="overwrite"):
        save_weights(module, path, {"architecture": "dcicnn", "arguments": {"channels": 1}})
    card = save_weights(module, path, {"architecture": "dcicnn", "arguments": {"channels": 1}}, overwrite=True)
    assert card["sha256"] == sha256_file(path) and not list(tmp_path.glob("*.tmp*"))


def test_save_wants_safetensors_suffix(tmp_path):
    with pytest.raises(ValueError, match=".safetensors"):
        save_weights(build_model("dcicnn"), tmp_path / "m.pt", {"architecture": "dcicnn", "arguments": {}})


def test_missing_weights_file(copy_of):
    path = copy_of()
    path.unlink()
    with pytest.raises(WeightsError, match=f"{path.name}.*missing"):
        load_model(path)


def test_missing_card(copy_of):
    path = copy_of()
    path.with_suffix(".json").unlink()
    with pytest.raises(WeightsError, match="card.*missing"):
        load_model(path)


def test_truncated_file_fails_checksum(copy_of):
    path = copy_of()
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(WeightsError, match=f"{path.name} fails its checksum"):
        load_model(path)


def test_corrupt_byte_fails_checksum(copy_of):
    path = copy_of()
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="checksum"):
        load_model(path)


def test_garbage_with_matching_checksum_is_not_safetensors(copy_of):
    path = copy_of()
    path.write_bytes(b"not a safetensors file at all")
    card = json.loads(path.with_suffix(".json").read_text())
    card["sha256"] = sha256_file(path)
    path.with_suffix(".json").write_text(json.dumps(card))
    with pytest.raises(WeightsError, match="not a valid safetensors"):
        load_model(path)


def test_tensors_that_do_not_fit_the_architecture(copy_of):
    path = copy_of("unet1")
    card = json.loads(path.with_suffix(".json").read_text())
    card["architecture"] = "dcicnn"
    path.with_suffix(".json").write_text(json.dumps(card))
    with pytest.raises(WeightsError, match="does not fit architecture 'dcicnn'"):
        load_model(path)


@pytest.mark.parametrize(
    "text, match",
    [("{not json", "not valid JSON"), ('{"architecture": "dcicnn"}', "lacks the keys"),
     ('{"architecture": "vgg", "arguments": {}, "sha256": ""}', "unknown architecture")],
)
def test_bad_cards(copy_of, text, match):
    path = copy_of()
    path.with_suffix(".json").write_text(text)
    with pytest.raises(WeightsError, match=match):
        load_model(path)


def test_weights_error_is_a_value_error():
    assert issubclass(WeightsError, ValueError)


def test_model_given_as_path_restores(random_models):
    out = deblur(np.zeros((10, 12)), model=random_models["paper1"])
    assert out.shape == (10, 12)


def test_every_family_member_is_shipped_with_its_channels():
    for family, members in MODEL_FAMILIES.items():
        for channels, name in members.items():
            assert load_model(name).channels == channels, (family, name)


def test_a_family_picks_its_gray_or_colour_model(random_models):
    gray, colour = "dci-unet-gray-jpeg", "dci-unet-color-jpeg"
    assert [model_for("jpeg", c) for c in (1, 2, 3, 4, 5)] == [gray, gray, colour, colour, gray]
    assert model_for(None, 3) == model_for("default", 3) == "dci-unet-color"
    assert model_for(random_models["paper1"], 3) is random_models["paper1"]
    gray, rgb = np.linspace(0, 1, 48 * 40).reshape(48, 40), np.random.default_rng(0).random((40, 48, 3))
    assert np.array_equal(deblur(gray, model="jpeg"), deblur(gray, model="dci-unet-gray-jpeg"))
    assert np.array_equal(deblur(rgb, model="jpeg", channel_axis=-1), deblur(rgb, model="dci-unet-color-jpeg", channel_axis=-1))
    assert not np.array_equal(deblur(gray, model="jpeg"), deblur(gray))


def test_model_of_wrong_type():
    with pytest.raises(TypeError, match="model must be a name"):
        deblur(np.zeros((4, 4)), model=3)
