"""Weights on disk: safetensors tensors, JSON model cards, checksums, a cache.

A model named ``NAME`` is two files, ``NAME.safetensors`` and ``NAME.json``.
The card (JSON) names the architecture and its arguments, how the weights
were trained and what they measured, and the sha256 of the tensor file,
which is verified before anything is loaded. Tensors are read with
safetensors only: no pickle is ever unpickled.

Shipped weights live in the package (``dci_cnn/weights`` in a wheel, the
repository's ``weights/`` folder in a source checkout). A path to a
``.safetensors`` file with its card beside it loads the same way, and so
does a bioimage.io package written by :mod:`dci_cnn.export` (a ``.zip``
holding both).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import threading
import zipfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load, save_file

from ._files import atomic_write
from .models import ARCHITECTURES, ArchSpec, build_model, fold_batchnorm

__all__ = [
    "DEFAULT_MODELS",
    "MODEL_FAMILIES",
    "LoadedModel",
    "WeightsError",
    "card_path",
    "list_models",
    "load_model",
    "model_card",
    "model_for",
    "read_verified",
    "save_weights",
    "sha256_file",
    "verified_state",
    "weights_dir",
    "write_card",
]

#: Names that stand for a gray and a colour model, picked by the image's channels.
MODEL_FAMILIES = {
    "default": {1: "dci-unet-gray", 3: "dci-unet-color"},
    "jpeg": {1: "dci-unet-gray-jpeg", 3: "dci-unet-color-jpeg"},
}

#: The quality adapter of the model in ``NAME.safetensors`` is ``NAME-quality.safetensors`` beside it.
ADAPTER_SUFFIX = "-quality"

#: Model used by :func:`dci_cnn.deblur` when none is named, by channel count.
DEFAULT_MODELS = MODEL_FAMILIES["default"]


def model_for(model, channels):
    """The model that restores images with ``channels`` channels.

    Parameters
    ----------
    model : str, path-like, LoadedModel or None
        None means the ``"default"`` family; a name in :data:`MODEL_FAMILIES`
        picks that family's colour model for 3 or 4 channels (RGB, RGBA) and
        its gray model otherwise; anything else is returned unchanged.
    channels : int
        Channels of the image (1 for gray planes).

    Returns
    -------
    str, path-like or LoadedModel

    Examples
    --------
    >>> from dci_cnn.weights import model_for
    >>> model_for("jpeg", 3), model_for(None, 1)
    ('dci-unet-color-jpeg', 'dci-unet-gray')
    """
    if model is None:
        model = "default"
    if isinstance(model, str) and model in MODEL_FAMILIES:
        return MODEL_FAMILIES[model][3 if channels in (3, 4) else 1]
    return model


class WeightsError(ValueError):
    """A weights file or model card is missing, corrupt or does not match."""


@dataclass(frozen=True, eq=False)
class LoadedModel:
    """A network ready for inference, with what callers need to know about it.

    Attributes
    ----------
    name : str
        Model name (the file stem).
    card : dict
        The model card.
    module : torch.nn.Module
        The network in eval mode, BatchNorm folded, on the CPU.
    spec : ArchSpec
        Size multiple and receptive field of the architecture.
    path : str
        The ``.safetensors`` file it was loaded from.
    """

    name: str
    card: dict
    module: torch.nn.Module
    spec: ArchSpec
    path: str

    @property
    def channels(self):
        """Image channels the network takes (1 gray, 3 RGB)."""
        return int(self.card["arguments"].get("channels", 1))

    @property
    def halo(self):
        """Receptive-field radius in pixels: the overlap tiles need to match one pass."""
        return self.spec.halo(**self.card["arguments"])

    @property
    def flops_per_pixel(self):
        """Floating-point operations per input pixel of one forward pass."""
        return self.spec.flops_per_pixel(**self.card["arguments"])


def weights_dir():
    """Folder of the shipped weights: inside the installed package, else the source checkout's."""
    packaged = Path(str(resources.files("dci_cnn"))) / "weights"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "weights"


def list_models():
    """Names of the shipped models, sorted.

    Returns
    -------
    list of str

    Examples
    --------
    >>> from dci_cnn import list_models
    >>> "dci-unet-gray" in list_models()
    True
    """
    folder = weights_dir()
    stems = {p.stem for p in folder.glob("*.safetensors") if p.with_suffix(".json").is_file()}
    # NAME-quality beside NAME is NAME's quality adapter (dci_cnn._quality), not a model
    return sorted(s for s in stems if not (s.endswith(ADAPTER_SUFFIX) and s[: -len(ADAPTER_SUFFIX)] in stems))


def _resolve(name_or_path):
    """Map a model name or a path to ``(tensor_file, card_file)``."""
    if isinstance(name_or_path, os.PathLike) or str(name_or_path).endswith(".safetensors"):
        tensors = Path(name_or_path)
    else:
        if not isinstance(name_or_path, str):
            raise TypeError(f"model must be a name (str) or a path, got {type(name_or_path).__name__}")
        tensors = weights_dir() / f"{name_or_path}.safetensors"
        if not tensors.is_file() and not tensors.with_suffix(".json").is_file():
            raise ValueError(f"unknown model {name_or_path!r}; choose one of {list_models()} or pass a .safetensors path")
    return tensors, tensors.with_suffix(".json")


def card_path(model):
    """Path of the JSON model card of a model name or ``.safetensors`` path.

    Raises
    ------
    ValueError
        If ``model`` names no shipped model.
    """
    return _resolve(model)[1]


def sha256_file(path):
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def model_card(model):
    """The model card of a model name or weights path, as a dict.

    Its ``name`` is the file stem, the name :func:`load_model` takes, whatever
    the file says (a copied or renamed model is called by its new name).

    Raises
    ------
    WeightsError
        If the card is missing, not valid JSON, not an object, or lacks a
        required field or has one of the wrong kind (the message names the
        card and the field).
    """
    if _is_package(model):
        return _read_package(model)[0]
    _, card_file = _resolve(model)
    if not card_file.is_file():
        raise WeightsError(f"model card {card_file} is missing")
    return _checked_card(card_file.read_bytes(), card_file, card_file.stem)


def _checked_card(text, where, name):
    try:
        card = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise WeightsError(f"model card {where} is not valid JSON: {exc}") from None
    _check_card(card, where)
    card["name"] = name
    return card


def _check_card(card, where):
    """Raise WeightsError naming the card (``where``) and the field when a card lacks a field or has one of the wrong kind."""
    if not isinstance(card, dict):
        raise WeightsError(f"model card {where} holds {_json_kind(card)}, not a JSON object with the model's fields")
    missing = {"architecture", "arguments", "sha256"} - set(card)
    if missing:
        raise WeightsError(f"model card {where} lacks the keys {sorted(missing)}")
    if not isinstance(card["architecture"], str) or card["architecture"] not in ARCHITECTURES:
        raise WeightsError(
            f"model card {where} names an unknown architecture {card['architecture']!r} in 'architecture'; "
            f"known: {sorted(ARCHITECTURES)}"
        )
    if not isinstance(card["arguments"], dict):
        raise WeightsError(
            f"model card {where}: 'arguments' must be an object of architecture arguments, "
            f"got {_json_kind(card['arguments'])}"
        )
    channels = card["arguments"].get("channels", 1)
    if not isinstance(channels, int) or isinstance(channels, bool) or channels < 1:
        raise WeightsError(f"model card {where}: 'arguments.channels' must be a positive integer, got {channels!r}")
    if not isinstance(card["sha256"], str):
        raise WeightsError(f"model card {where}: 'sha256' must be a hex string, got {_json_kind(card['sha256'])}")


def _json_kind(value):
    """The JSON name of a parsed value's kind."""
    kinds = {dict: "an object", list: "an array", str: "a string", bool: "true/false", type(None): "null"}
    return kinds.get(type(value), "a number")


def _is_package(model):
    return isinstance(model, (str, os.PathLike)) and str(model).endswith(".zip")


def _read_package(path):
    """Card and tensor bytes of the model in a bioimage.io zip from :mod:`dci_cnn.export` (nothing is extracted)."""
    try:
        with zipfile.ZipFile(path) as zf:
            names = [n for n in zf.namelist() if n.endswith(".safetensors") and "/" not in n]
            if len(names) != 1:
                raise WeightsError(f"{path} holds no dci-cnn weights (one .safetensors and its card); "
                                   "write packages with `dci-cnn export`")
            name = names[0].removesuffix(".safetensors")
            return _checked_card(zf.read(f"{name}.json"), f"{path}:{name}.json", name), zf.read(names[0])
    except (OSError, zipfile.BadZipFile, KeyError) as exc:
        raise WeightsError(f"{path} is not a readable bioimage.io package from dci-cnn export: {exc}") from None


def load_model(model):
    """Load a model by name or path, verified and ready for inference.

    Loaded models are cached, so repeated calls cost nothing; threads
    asking for one model at once wait for a single build.

    Parameters
    ----------
    model : str or path-like
        A name from :func:`list_models`, a ``.safetensors`` file whose
        card (``.json``) lies beside it, or a bioimage.io ``.zip`` written
        by :mod:`dci_cnn.export` (its model keeps the name it had).

    Returns
    -------
    LoadedModel

    Raises
    ------
    WeightsError
        If a file is missing, the card is malformed, the checksum differs
        from the card's, the file is not a valid safetensors file, or its
        tensors do not fit the architecture (the missing, unexpected and
        mis-shaped tensors are named).
    """
    tensors = Path(model) if _is_package(model) else _resolve(model)[0]
    if not tensors.is_file():
        raise WeightsError(f"weights file {tensors} is missing")
    stat = tensors.stat()
    with _loading:  # threads asking for a model at once build it once
        return _load_cached(str(tensors.resolve()), stat.st_mtime_ns, stat.st_size)


def read_verified(model):
    """Read a model's card and tensors after checking the checksum.

    Returns
    -------
    card : dict
    state : dict of torch.Tensor
        The raw state dict (BatchNorm not folded), e.g. to fine-tune from.
    """
    if _is_package(model):
        tensors = Path(model)
        card, raw = _read_package(tensors)
    else:
        tensors, _ = _resolve(model)
        if not tensors.is_file():
            raise WeightsError(f"weights file {tensors} is missing")
        card, raw = model_card(tensors), tensors.read_bytes()
    return card, verified_state(raw, card["sha256"], f"weights file {tensors}")


def verified_state(raw, sha256, what):
    """The tensors in the safetensors bytes ``raw`` once their sha256 equals ``sha256`` (no pickle).

    ``what`` names the file in the ``WeightsError`` raised on a mismatch or a damaged file.
    """
    actual = hashlib.sha256(raw).hexdigest()
    if actual != sha256:
        raise WeightsError(f"{what} fails its checksum: sha256 {actual}, card says {sha256}")
    try:
        return load(raw)
    except (SafetensorError, OSError) as exc:
        raise WeightsError(f"{what} is not a valid safetensors file: {exc}") from None


_loading = threading.Lock()


@functools.lru_cache(maxsize=16)
def _load_cached(path, _mtime, _size):
    tensors = Path(path)
    card, state = read_verified(tensors)
    try:
        module = build_model(card["architecture"], **card["arguments"])
    except (TypeError, ValueError, RuntimeError) as exc:
        raise WeightsError(
            f"model card {tensors.with_suffix('.json')}: 'arguments' do not fit architecture {card['architecture']!r}: {exc}"
        ) from None
    mismatch = _state_mismatch(module.state_dict(), state)
    if mismatch:
        raise WeightsError(
            f"weights file {tensors} does not fit architecture {card['architecture']!r} "
            f"with arguments {card['arguments']}: {mismatch}"
        )
    module.load_state_dict(state, strict=True)
    module = fold_batchnorm(module.eval())
    for p in module.parameters():
        p.requires_grad_(False)
    return LoadedModel(card["name"], card, module, ARCHITECTURES[card["architecture"]], str(tensors))


def _state_mismatch(expected, state, shown=4):
    """What keeps ``state`` from loading into a module whose state dict is ``expected`` ('' if nothing)."""

    def names(keys):
        keys = sorted(keys)
        return ", ".join(keys[:shown]) + (f" and {len(keys) - shown} more" if len(keys) > shown else "")

    missing, unexpected = set(expected) - set(state), set(state) - set(expected)
    shapes = [
        f"{k} is {tuple(state[k].shape)}, the architecture's {tuple(expected[k].shape)}"
        for k in sorted(set(state) & set(expected))
        if state[k].shape != expected[k].shape
    ]
    parts = [f"missing tensors {names(missing)}"] if missing else []
    parts += [f"unexpected tensors {names(unexpected)}"] if unexpected else []
    if shapes:
        parts.append("mis-shaped tensors: " + "; ".join(shapes[:shown]) + (f" and {len(shapes) - shown} more" if len(shapes) > shown else ""))
    return "; ".join(parts)


def save_weights(module, path, card, *, overwrite=False):
    """Write a network's tensors and its model card, atomically.

    Parameters
    ----------
    module : torch.nn.Module
        The trained network (not BatchNorm-folded). Floating-point tensors
        are stored as float16: half the size, and inference runs in bf16 or
        float32 anyway (the cost is measured in ``benchmarks/precision.py``).
    path : path-like
        Target ``.safetensors`` file; the card goes beside it as ``.json``.
    card : dict
        Card fields; ``architecture`` and ``arguments`` are required.
        ``name``, ``parameters`` and ``sha256`` are filled in here.
    overwrite : bool
        Replace existing files. Without it an existing file raises.

    Returns
    -------
    dict
        The card as written.
    """
    path = Path(path)
    if path.suffix != ".safetensors":
        raise ValueError(f"weights path must end in .safetensors, got {path}")
    card_path = path.with_suffix(".json")
    for p in (path, card_path):
        if p.exists() and not overwrite:
            raise FileExistsError(f"{p} exists; pass overwrite=True to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: _stored(v) for k, v in module.state_dict().items()}
    atomic_write(path, lambda tmp: save_file(state, tmp), overwrite=True)
    card = {
        "name": path.stem,
        **card,
        "parameters": int(sum(p.numel() for p in module.parameters())),
        "sha256": sha256_file(path),
    }
    write_card(card_path, card)
    return card


def _stored(tensor):
    """A tensor as written to disk: floating point as float16 (half the size; loading casts back), the rest as is."""
    tensor = tensor.detach().cpu()
    return (tensor.to(torch.float16) if tensor.is_floating_point() else tensor).contiguous()


def write_card(path, card):
    """Write a model card as indented JSON, atomically (replacing the old card; the tensors' checksum is unaffected)."""
    atomic_write(path, lambda tmp: Path(tmp).write_text(json.dumps(card, indent=2) + "\n"), overwrite=True)
