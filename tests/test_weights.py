"""Weights and model cards: registry, checksums, and every way a file can be wrong."""

import json

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


def test_threads_asking_for_one_model_at_once_build_it_once(copy_of, monkeypatch):
    import threading
    import time

    from dci_cnn import weights

    path, builds, start = copy_of("paper1"), [], threading.Barrier(4)
    real_build = weights.build_model

    def slow_build(*args, **kwargs):
        builds.append(threading.get_ident())
        time.sleep(0.2)  # long enough for every thread to ask before the first is done
        return real_build(*args, **kwargs)

    monkeypatch.setattr(weights, "build_model", slow_build)
    loaded = []

    def ask():
        start.wait(10)
        loaded.append(load_model(path))

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(builds) == 1 and len(loaded) == 4 and all(m is loaded[0] for m in loaded)


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda card: None, "holds null, not a JSON object"),
        (lambda card: [card], "holds an array, not a JSON object"),
        (lambda card: {**card, "arguments": [1]}, "'arguments' must be an object .* got an array"),
        (lambda card: {**card, "arguments": None}, "'arguments' must be an object .* got null"),
        (lambda card: {**card, "arguments": {"channels": "1"}}, "'arguments.channels' must be a positive integer, got '1'"),
        (lambda card: {**card, "arguments": {"channels": 1, "depth_of_field": 3}}, "'arguments' do not fit architecture 'dciunet'.*depth_of_field"),
        (lambda card: {**card, "arguments": {"widths": [8, 8]}}, "'arguments' do not fit architecture 'dciunet'"),
        (lambda card: {**card, "architecture": ["dciunet"]}, "unknown architecture \\['dciunet'\\] in 'architecture'"),
        (lambda card: {**card, "sha256": 12}, "'sha256' must be a hex string, got a number"),
        (lambda card: {k: v for k, v in card.items() if k != "arguments"}, "lacks the keys \\['arguments'\\]"),
    ],
    ids=["null", "list", "arguments-list", "arguments-null", "channels-str", "unknown-argument", "widths-short",
         "architecture-list", "sha256-int", "arguments-missing"],
)
def test_a_malformed_card_names_the_card_and_the_field(copy_of, edit, match):
    path = copy_of()
    card_file = path.with_suffix(".json")
    card_file.write_text(json.dumps(edit(json.loads(card_file.read_text()))))
    with pytest.raises(WeightsError, match=f"model card .*{card_file.name}.*{match}"):
        load_model(path)


@pytest.mark.parametrize(
    "key, edit, match",
    [
        ("unet1", {"architecture": "dcicnn"}, ("missing tensors body.0.weight, body.1.bias, .* and \\d+ more; "
         "unexpected tensors dec0.0.conv1.bias, .* and \\d+ more")),
        ("paper1", {"arguments": {"channels": 1, "width": 32}}, ("mis-shaped tensors: body.0.weight is \\(64, 1, 3, 3\\), "
         "the architecture's \\(32, 1, 3, 3\\);.* and \\d+ more")),
        ("paper1", {"arguments": {"channels": 1, "depth": 7}}, ("missing tensors body.18.bias; unexpected tensors body.19.bias, "
         ".* and 3 more; mis-shaped tensors: body.18.weight is \\(64, 64, 3, 3\\), the architecture's \\(1, 64, 3, 3\\)$")),
    ],
    ids=["other-architecture", "other-width", "other-depth"],
)
def test_tensors_that_do_not_fit_are_named(copy_of, key, edit, match):
    path = copy_of(key)
    card_file = path.with_suffix(".json")
    card_file.write_text(json.dumps({**json.loads(card_file.read_text()), **edit}))
    with pytest.raises(WeightsError, match=f"{path.name} does not fit architecture .*: {match}"):
        load_model(path)
