"""Quality conditioning: a small adapter that tells a frozen JPEG model the IJG quality of its input.

The adapter is FiLM: an MLP maps the quality (1-100) to a per-channel
scale ``gamma`` and shift ``beta`` for both convolutions of each residual
block of a :class:`~dci_cnn.models.DCIUNet`'s coarsest scale and decoder,
and for its last convolution, applied after the convolution and before
what follows it, ``y = conv(x) * (1 + gamma) + beta``. Its last
layer starts at zero, so an untrained adapter is exactly the blind model.

Because ``gamma`` and ``beta`` are constant over the image for a given
quality, they fold into the convolutions (``W * (1 + gamma)``, ``b * (1 +
gamma) + beta``): :func:`with_quality` returns a plain network of the base's
architecture, so a quality costs nothing per pixel and strip streaming,
tiling, dask and the self-ensemble run it unchanged.

An adapter is stored like a model (``NAME.safetensors`` + ``NAME.json``),
holding only the adapter's tensors; its card names its ``base`` model and
that model's sha256, and both files are verified before loading. The
adapter of ``NAME.safetensors`` is ``NAME-quality.safetensors`` beside it.
"""

from __future__ import annotations

import argparse
import copy
import functools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .models import _ResBlock
from .weights import ADAPTER_SUFFIX, MODEL_FAMILIES, LoadedModel, WeightsError, card_path, list_models, verified_state

__all__ = ["QualityAdapter", "adapter_for", "check_quality", "conditioned_forward", "estimate_for", "fold", "load_adapter",
           "quality_arg", "quality_for_file", "takes_quality", "with_quality"]

def check_quality(quality):
    """Validate ``quality``: None, ``"auto"`` or an int 1-100; returns it (an int as a Python int)."""
    if quality is None or (isinstance(quality, str) and quality == "auto"):
        return quality
    if isinstance(quality, (bool, np.bool_)) or not isinstance(quality, (int, np.integer)):
        raise TypeError(f"quality must be None, 'auto' or an int 1-100 (the JPEG quality factor), got {quality!r}")
    if not 1 <= quality <= 100:
        raise ValueError(f"quality must be an int 1-100 (the JPEG quality factor), got {quality}; "
                         "pass None to restore blind or 'auto' to estimate it from the pixels")
    return int(quality)


#: The parts of a :class:`~dci_cnn.models.DCIUNet` whose convolutions the adapter modulates: the
#: coarsest scale and the decoder, where the correction is formed (gradients need not reach the encoder).
FILM_PARTS = ("mid", "dec1", "dec0")


def film_targets(backbone):
    """Names of the convolutions the adapter modulates: both of each residual block of :data:`FILM_PARTS`, and the tail."""
    blocks = [name for name, m in backbone.named_modules() if isinstance(m, _ResBlock) and name.split(".")[0] in FILM_PARTS]
    return [f"{name}.{conv}" for name in blocks for conv in ("conv1", "conv2")] + ["tail"]


class QualityAdapter(nn.Module):
    """FiLM parameters (scale, shift) per channel of the modulated convolutions, from the quality.

    Parameters
    ----------
    channels : sequence of int
        Output channels of each modulated convolution, in order.
    frequencies : int
        Fourier features ``sin, cos(pi 2^k q / 100)`` for ``k < frequencies`` (plus ``q / 100``).
    hidden : int
        Width of the MLP's hidden layer.
    """

    def __init__(self, channels: Sequence[int], frequencies=4, hidden=16):
        super().__init__()
        self.channels, self.frequencies = [int(c) for c in channels], int(frequencies)
        self.mlp = nn.Sequential(nn.Linear(1 + 2 * self.frequencies, hidden), nn.SiLU(), nn.Linear(hidden, 2 * sum(self.channels)))
        nn.init.zeros_(self.mlp[-1].weight)
        nn.init.zeros_(self.mlp[-1].bias)

    def features(self, quality):
        """``(N, 1 + 2 frequencies)`` features of qualities ``(N,)``."""
        t = torch.as_tensor(quality, dtype=torch.float32).reshape(-1, 1) / 100.0
        angles = t * math.pi * 2.0 ** torch.arange(self.frequencies, dtype=torch.float32)
        return torch.cat([t, torch.sin(angles), torch.cos(angles)], 1)

    def forward(self, quality):
        """List of ``(gamma, beta)``, each ``(N, C)``, one per modulated convolution."""
        out = self.mlp(self.features(quality).to(self.mlp[0].weight.device))
        gammas, betas = out.split(sum(self.channels), 1)
        return list(zip(gammas.split(self.channels, 1), betas.split(self.channels, 1)))


def adapter_for(backbone, **kwargs):
    """A zero-initialised :class:`QualityAdapter` sized for ``backbone``."""
    modules = dict(backbone.named_modules())
    return QualityAdapter([modules[n].out_channels for n in film_targets(backbone)], **kwargs)


def conditioned_forward(backbone, adapter, x, quality):
    """The backbone on ``x`` (N, C, H, W) with FiLM from qualities ``(N,)``: the form trained."""
    modules = dict(backbone.named_modules())
    handles = []
    for name, (gamma, beta) in zip(film_targets(backbone), adapter(quality)):

        def film(_module, _inputs, y, gamma=gamma, beta=beta):
            return y * (1 + gamma[:, :, None, None].to(y.dtype)) + beta[:, :, None, None].to(y.dtype)

        handles.append(modules[name].register_forward_hook(film))
    try:
        return backbone(x)
    finally:
        for h in handles:
            h.remove()


@torch.no_grad()
def fold(backbone, adapter, quality):
    """A copy of ``backbone`` with the FiLM of ``quality`` folded into its convolutions."""
    folded = copy.deepcopy(backbone)
    modules = dict(folded.named_modules())
    for name, (gamma, beta) in zip(film_targets(folded), adapter(torch.tensor([float(quality)]))):
        conv = modules[name]
        scale = 1 + gamma[0].to(conv.weight.dtype)
        conv.weight.mul_(scale[:, None, None, None])
        conv.bias.mul_(scale).add_(beta[0].to(conv.bias.dtype))
    return folded


@dataclass(frozen=True, eq=False)
class LoadedAdapter:
    """A verified adapter: its name, card and module."""

    name: str
    card: dict
    module: QualityAdapter


def adapter_path(model):
    """The quality adapter of a :class:`LoadedModel` (``NAME-quality.safetensors`` beside it), or None."""
    path = _adapter_file(Path(model.path))
    return path if path.is_file() else None


def _adapter_file(tensors):
    """Where the adapter of the weights file ``tensors`` (``NAME.safetensors``) lies: ``NAME-quality.safetensors``."""
    return tensors.with_name(tensors.stem + ADAPTER_SUFFIX + tensors.suffix)


def takes_quality(model):
    """Whether ``model`` (a name, ``.safetensors`` path or family; None: ``"default"``) has a quality adapter.

    A family takes one when both its gray and colour models do. Nothing is
    loaded: the adapter file beside each model's weights is looked for.
    """
    family = MODEL_FAMILIES.get("default" if model is None else model) if isinstance(model, (str, type(None))) else None
    names = family.values() if family else [model]
    try:
        tensors = [card_path(name).with_suffix(".safetensors") for name in names]
    except (TypeError, ValueError):  # not a model: deblur will say so
        return False
    return all(_adapter_file(t).is_file() for t in tensors)


def load_adapter(path, base):
    """Load the adapter at ``path`` (its card beside it) for the loaded model ``base``, both verified; cached."""
    path = Path(path)
    stat = path.stat()
    return _load_adapter_cached(str(path.resolve()), stat.st_mtime_ns, stat.st_size, base)


@functools.lru_cache(maxsize=4)
def _load_adapter_cached(path, _mtime, _size, base):
    path = Path(path)
    card_file = path.with_suffix(".json")
    try:
        card = json.loads(card_file.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise WeightsError(f"adapter card {card_file} is missing or not valid JSON: {exc}") from None
    state = verified_state(path.read_bytes(), card.get("sha256"), f"adapter {path}")
    if base.card.get("sha256") != card.get("base_sha256"):
        raise WeightsError(f"adapter {path} was trained for other weights than {base.name!r} (base sha256 differs)")
    module = adapter_for(base.module, **card["arguments"])
    try:
        module.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)
    except RuntimeError as exc:
        raise WeightsError(f"adapter {path} does not fit {base.name!r}: {str(exc).splitlines()[0]}") from None
    module.eval().requires_grad_(False)
    return LoadedAdapter(path.stem, card, module)


def with_quality(model, quality):
    """The network of ``model`` restoring JPEG ``quality``, its adapter folded in: a :class:`LoadedModel`.

    Raises
    ------
    ValueError
        If ``model`` has no quality adapter.
    """
    path = adapter_path(model)
    if path is None:
        takers = [m for m in list_models() if takes_quality(m)]
        fix = (f"use one that does ({', '.join(takers)}), or pass quality=None (blind)" if takers
               else "no shipped model takes one yet: pass quality=None (blind) or 'auto' (blind where no model takes one)")
        raise ValueError(f"model {model.name!r} takes no quality; {fix}")
    return _folded(model, load_adapter(path, model), quality)


@functools.lru_cache(maxsize=2)
def _folded(model, adapter, quality):
    module = fold(model.module, adapter.module, quality)
    return LoadedModel(f"{model.name}@quality={quality}", model.card, module, model.spec, model.path)


def estimate_for(image, layout, size=1024):
    """``quality="auto"``: the quality estimated from the first plane's top-left ``size`` pixels, or None.

    None without estimating when the layout's model has no quality adapter.
    """
    if adapter_path(layout.model) is None:
        return None
    from .jpeg import estimate_jpeg_quality

    colour = layout.channel_axis is not None and not layout.per_channel
    planes = image if layout.channel_axis is None else np.moveaxis(image, layout.channel_axis, -1)
    lead = planes.ndim - (3 if layout.channel_axis is not None else 2)
    crop = planes[(0,) * lead][:size, :size]
    crop = np.asarray(crop if colour or layout.channel_axis is None else crop[..., 0])
    return estimate_jpeg_quality(crop, channel_axis=-1 if colour else None)


def quality_for_file(requested, source, image, model, channel_axis):
    """The ``quality`` to restore an image file with (the CLI's ``--quality``).

    An int or None is kept. ``"auto"``: None when the model (as
    :func:`dci_cnn.deblur` picks it for ``image``) has no quality adapter;
    else a JPEG file's own quality, read from its tables; else ``"auto"``,
    to estimate it from the pixels.
    """
    if requested != "auto":
        return requested
    from ._deblur import describe
    from .jpeg import read_jpeg_quality

    if adapter_path(describe(image.shape, channel_axis, model).model) is None:
        return None
    try:
        return read_jpeg_quality(source).quality or "auto"
    except ValueError:  # not a JPEG file
        return "auto"


def quality_arg(text):
    """``--quality`` values: ``auto``, ``none`` (blind) or a JPEG quality 1-100."""
    if text in ("auto", "none"):
        return None if text == "none" else "auto"
    if text.isdigit() and 1 <= int(text) <= 100:
        return int(text)
    raise argparse.ArgumentTypeError(f"expected auto, none or a JPEG quality 1-100, got {text!r}")
