"""Shared fixtures: models with random (non-identity) weights, saved like shipped ones, and loaded."""

import shutil

import numpy as np
import pytest
import torch

from dci_cnn.models import build_model
from dci_cnn.weights import load_model, save_weights


def _random_weights(arch, channels, folder, seed=0):
    torch.manual_seed(seed)
    module = build_model(arch, channels=channels)
    for p in module.parameters():
        if p.ndim > 1:
            torch.nn.init.normal_(p, 0.0, 0.5 / np.sqrt(p[0].numel()))
    for m in module.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 2.0)
    path = folder / f"random-{arch}-{channels}.safetensors"
    save_weights(module, path, {"architecture": arch, "arguments": {"channels": channels}, "description": "test"})
    return str(path)


@pytest.fixture(autouse=True)
def float32_inference(monkeypatch):
    """Run ``deblur`` in float32, where tiles, strips and one pass agree to rounding.

    In bf16, oneDNN picks kernels by tensor shape (AMX CPUs do), so windows of
    another shape than the whole plane round differently: a few 1e-3. Tests of
    the reduced precision ask for it with ``monkeypatch.setattr(core, "fast_dtype", ...)``.
    """
    monkeypatch.setattr("dci_cnn._deblur.fast_dtype", lambda device: None)


@pytest.fixture(scope="session")
def random_models(tmp_path_factory):
    """Paths of random-weight models: ``{"unet1", "unet3", "paper1"}``."""
    folder = tmp_path_factory.mktemp("models")
    return {
        "unet1": _random_weights("dciunet", 1, folder),
        "unet3": _random_weights("dciunet", 3, folder),
        "paper1": _random_weights("dcicnn", 1, folder),
    }


@pytest.fixture(scope="session")
def gray(random_models):
    """The random-weight gray U-Net, loaded."""
    return load_model(random_models["unet1"])


@pytest.fixture(scope="session")
def color(random_models):
    """The random-weight colour U-Net, loaded."""
    return load_model(random_models["unet3"])


@pytest.fixture
def copy_of(random_models, tmp_path):
    """``copy_of(key)``: a copy of a random-weight model (tensors and card) in ``tmp_path``, free to damage."""

    def make(key="unet1"):
        src = random_models[key]
        dst = tmp_path / f"copy-{key}.safetensors"
        shutil.copy(src, dst)
        shutil.copy(src.replace(".safetensors", ".json"), dst.with_suffix(".json"))
        return dst

    return make
