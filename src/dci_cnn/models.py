"""Network definitions and the architecture registry.

Two families are defined here:

``DCICNN``
    The paper's network exactly: 7 x (3x3 conv -> BatchNorm -> ReLU) then a
    3x3 conv to the image, width 64, no pooling. ``residual=True`` makes it
    predict the correction added to its input.
``DCIUNet``
    The project's default: a small residual U-Net that works at half
    resolution (PixelUnshuffle) and two coarser scales, so its receptive
    field spans many 8x8 JPEG blocks for a fraction of the paper net's
    FLOPs.

Every architecture carries a :class:`ArchSpec` that tells callers what they
must know to run it: the size multiple its input needs and the receptive
field radius that tiles must overlap by.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

__all__ = ["ARCHITECTURES", "DCICNN", "ArchSpec", "DCIUNet", "build_model", "fold_batchnorm", "load_grown"]


class DCICNN(nn.Module):
    """The DCI-CNN of the paper: 8 same-size 3x3 convolutions.

    Parameters
    ----------
    channels : int
        Image channels in and out (1 for gray, 3 for RGB).
    width : int
        Feature channels of the hidden layers (64 in the paper).
    depth : int
        Number of convolution layers (8 in the paper).
    batchnorm : bool
        BatchNorm after each hidden convolution, as in the paper.
    residual : bool
        Add the input to the output, so the layers learn the correction.
    """

    def __init__(self, channels=1, width=64, depth=8, batchnorm=True, residual=False):
        super().__init__()
        layers = []
        cin = channels
        for _ in range(depth - 1):
            layers.append(nn.Conv2d(cin, width, 3, padding=1, bias=not batchnorm))
            if batchnorm:
                layers.append(nn.BatchNorm2d(width))
            layers.append(nn.ReLU(inplace=True))
            cin = width
        layers.append(nn.Conv2d(cin, channels, 3, padding=1))
        self.body = nn.Sequential(*layers)
        self.residual = residual

    def forward(self, x):
        y = self.body(x)
        return x + y if self.residual else y


class _ResBlock(nn.Module):
    """conv-ReLU-conv with an identity skip."""

    def __init__(self, width):
        super().__init__()
        self.conv1 = nn.Conv2d(width, width, 3, padding=1)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x):
        return x + self.conv2(self.act(self.conv1(x)))


class DCIUNet(nn.Module):
    """Residual U-Net at half resolution, the project's default restorer.

    The image is folded 2x2 into channels (PixelUnshuffle), processed at
    three scales (1/2, 1/4, 1/8 of the input size) with residual blocks and
    additive skips, unfolded, and added to the input.

    Parameters
    ----------
    channels : int
        Image channels in and out.
    widths : tuple of int
        Feature channels at the three scales.
    blocks : tuple of int
        Residual blocks at each scale of the encoder; the decoder uses the
        same count at the two finer scales.
    """

    def __init__(self, channels=1, widths=(32, 64, 128), blocks=(1, 1, 2)):
        super().__init__()
        w0, w1, w2 = widths
        b0, b1, b2 = blocks
        self.unshuffle = nn.PixelUnshuffle(2)
        self.head = nn.Conv2d(4 * channels, w0, 3, padding=1)
        self.enc0 = nn.Sequential(*[_ResBlock(w0) for _ in range(b0)])
        self.down0 = nn.Conv2d(w0, w1, 2, stride=2)
        self.enc1 = nn.Sequential(*[_ResBlock(w1) for _ in range(b1)])
        self.down1 = nn.Conv2d(w1, w2, 2, stride=2)
        self.mid = nn.Sequential(*[_ResBlock(w2) for _ in range(b2)])
        self.up1 = nn.ConvTranspose2d(w2, w1, 2, stride=2)
        self.dec1 = nn.Sequential(*[_ResBlock(w1) for _ in range(b1)])
        self.up0 = nn.ConvTranspose2d(w1, w0, 2, stride=2)
        self.dec0 = nn.Sequential(*[_ResBlock(w0) for _ in range(b0)])
        self.tail = nn.Conv2d(w0, 4 * channels, 3, padding=1)
        self.shuffle = nn.PixelShuffle(2)
        nn.init.zeros_(self.tail.weight)
        nn.init.zeros_(self.tail.bias)

    def forward(self, x):
        s0 = self.enc0(self.head(self.unshuffle(x)))
        s1 = self.enc1(self.down0(s0))
        y = self.mid(self.down1(s1))
        y = self.dec1(self.up1(y) + s1)
        y = self.dec0(self.up0(y) + s0)
        return x + self.shuffle(self.tail(y))


@dataclass(frozen=True)
class ArchSpec:
    """What a caller must know to run an architecture.

    Attributes
    ----------
    name : str
        Registry key, stored in model cards.
    factory : callable
        Builds the ``nn.Module`` from keyword arguments.
    size_multiple : int
        Input height and width must be multiples of this.
    halo : callable
        ``halo(**kwargs)`` gives the receptive-field radius in pixels,
        rounded up to ``size_multiple``: tiles overlapping by this much give
        the same result as one pass.
    flops_per_pixel : callable
        ``flops_per_pixel(**kwargs)`` gives multiply-adds x 2 per input pixel.
    """

    name: str
    factory: Callable[..., nn.Module]
    size_multiple: int
    halo: Callable[..., int]
    flops_per_pixel: Callable[..., float]


def _dcicnn_flops(channels=1, width=64, depth=8, **_):
    per_conv = [(channels if i == 0 else width) * (channels if i == depth - 1 else width) for i in range(depth)]
    return 2.0 * 9 * sum(per_conv)


def _dciunet_flops(channels=1, widths=(32, 64, 128), blocks=(1, 1, 2)):
    w0, w1, w2 = widths
    b0, b1, b2 = blocks
    conv = 9 * w0 * w0 * 2 * b0 * 2 / 4 + 9 * w1 * w1 * 2 * b1 * 2 / 16 + 9 * w2 * w2 * 2 * b2 / 64
    edges = 2 * 9 * 4 * channels * w0 / 4 + 2 * 4 * (w0 * w1 / 16 + w1 * w2 / 64)
    return 2.0 * (conv + edges)


def _dcicnn_halo(depth=8, **_):
    return depth


def _dciunet_halo(blocks=(1, 1, 2), **_):
    # one pixel per 3x3 conv at each scale (2, 4, 8 input pixels), one scale step per
    # 2x2 (un)fold, one for the PixelUnshuffle phase: a bound the tests check by gradients
    b0, b1, b2 = blocks
    radius = 17 + 8 * b0 + 16 * b1 + 16 * b2
    return -(-radius // 8) * 8


ARCHITECTURES = {
    "dcicnn": ArchSpec("dcicnn", DCICNN, size_multiple=1, halo=_dcicnn_halo, flops_per_pixel=_dcicnn_flops),
    "dciunet": ArchSpec("dciunet", DCIUNet, size_multiple=8, halo=_dciunet_halo, flops_per_pixel=_dciunet_flops),
}


def build_model(arch, **kwargs):
    """Instantiate a registered architecture.

    Parameters
    ----------
    arch : str
        A key of :data:`ARCHITECTURES`.
    **kwargs
        Arguments of the architecture's constructor.

    Returns
    -------
    torch.nn.Module
    """
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r}; choose one of {sorted(ARCHITECTURES)}")
    return ARCHITECTURES[arch].factory(**kwargs)


def load_grown(model, state):
    """Load weights of a smaller U-Net into a deeper or wider one.

    Parameters present in ``state`` are copied; each residual block that
    ``state`` lacks starts as an identity (its second convolution zeroed).
    Wider feature maps (``widths``) keep the old weights in their first
    channels: the new channels of every feature map start at zero and each
    residual block's new hidden channels feed nothing yet, while the weights
    that read new channels start random, so gradients reach them. The grown
    model computes exactly what the smaller one did and training continues
    from there. With matching shapes this is a plain ``load_state_dict``.

    Parameters
    ----------
    model : torch.nn.Module
        The (deeper or wider) model to fill, changed in place.
    state : dict of str to Tensor
        Weights of the smaller model.

    Raises
    ------
    ValueError
        If ``state`` has parameters ``model`` lacks, lacks any parameter that
        is not part of a whole residual block, or has a parameter larger
        than the model's, or smaller in a model that is not a
        :class:`DCIUNet`.
    """
    own = model.state_dict()
    unexpected = sorted(set(state) - set(own))
    if unexpected:
        raise ValueError(f"weights have parameters the model lacks: {unexpected[:4]}")
    missing = set(own) - set(state)
    new_blocks = [
        (name, block)
        for name, block in model.named_modules()
        if isinstance(block, _ResBlock) and {f"{name}.{k}" for k in block.state_dict()} <= missing
    ]
    covered = {f"{name}.{k}" for name, block in new_blocks for k in block.state_dict()}
    if missing - covered:
        raise ValueError(f"weights lack parameters that are not whole residual blocks: {sorted(missing - covered)[:4]}")
    resized = [k for k, v in state.items() if v.shape != own[k].shape]
    widen = isinstance(model, DCIUNet)
    wrong = [k for k in resized if not (widen and state[k].ndim == own[k].ndim
                                        and all(a <= b for a, b in zip(state[k].shape, own[k].shape)))]
    if wrong:
        raise ValueError(f"weights do not fit the model: {wrong[0]} has shape {tuple(state[wrong[0]].shape)}, "
                         f"the model's is {tuple(own[wrong[0]].shape)}")
    model.load_state_dict({k: v for k, v in state.items() if k not in resized}, strict=False)
    with torch.no_grad():
        for name, module in model.named_modules():
            if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)) and f"{name}.weight" in resized:
                _load_widened(module, state[f"{name}.weight"], state[f"{name}.bias"], hidden=name.endswith(".conv1"),
                              reads_hidden=name.endswith(".conv2"))
        for _, block in new_blocks:
            block.conv2.weight.zero_()
            block.conv2.bias.zero_()
    return model


def _load_widened(conv, weight, bias, *, hidden, reads_hidden):
    """Copy ``weight`` and ``bias`` into the leading channels of a convolution at least as wide.

    New output channels are zeroed unless they are a residual block's hidden
    channels (``hidden``); new input channels read from hidden channels
    (``reads_hidden``) are zeroed; any other new weight keeps its random
    initialization.
    """
    out_dim = 1 if isinstance(conv, nn.ConvTranspose2d) else 0
    n_in, n_out = weight.shape[1 - out_dim], weight.shape[out_dim]
    w = conv.weight.movedim(out_dim, 0)  # (out, in, kh, kw) view
    w[:n_out, :n_in] = weight.movedim(out_dim, 0)
    conv.bias[:n_out] = bias
    if not hidden:
        w[n_out:] = 0
        conv.bias[n_out:] = 0
    if reads_hidden:
        w[:, n_in:] = 0


def fold_batchnorm(module):
    """Fold every Conv2d -> BatchNorm2d pair of a model in eval mode.

    Works in place on ``nn.Sequential`` containers, replacing the BatchNorm
    by ``nn.Identity``, so inference runs one convolution instead of two
    passes over memory. Returns the module.
    """
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    for child in module.children():
        fold_batchnorm(child)
    if isinstance(module, nn.Sequential):
        for i in range(len(module) - 1):
            conv, bn = module[i], module[i + 1]
            if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
                module[i] = fuse_conv_bn_eval(conv.eval(), bn.eval())
                module[i + 1] = nn.Identity()
    return module
