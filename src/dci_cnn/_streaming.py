"""Row streaming: a network run down a plane strip by strip, each layer keeping the rows its next strip needs.

Overlapping tiles recompute a halo of context around every tile; with the
default U-Nets' 160-pixel receptive-field radius that is a quarter more pixels at
64 MP. Streaming computes every activation once instead: the plane is fed
to the network as horizontal strips, every convolution keeps the last
rows of its input for the next strip (its padding rows at the plane's top
and bottom), a strided convolution keeps an unpaired row, and each
addition of a skip connection waits, in a queue, for the later of its two
inputs. The rows that come out, strip after strip, are those of one pass
over the whole plane, in bounded memory: one strip of every activation,
plus the rows each layer and queue holds back.

:func:`row_stepper` builds the streaming form of the architectures that
have one (:class:`~dci_cnn.models.DCIUNet`, :class:`~dci_cnn.models.DCICNN`);
others run as overlapping tiles.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .models import DCICNN, DCIUNet, _ResBlock

__all__ = ["row_stepper"]


def _rows(x, start, stop=None):
    return x[:, :, start:stop]


def _empty(x, channels, width=None):
    """A strip of no rows: what a layer returns before it has rows to give (in autocast's dtype)."""
    dtype = torch.get_autocast_dtype(x.device.type) if torch.is_autocast_enabled(x.device.type) else x.dtype
    return x.new_empty((x.shape[0], channels, 0, x.shape[3] if width is None else width), dtype=dtype)


def _zero_rows(x, count):
    """``count`` rows of zeros as wide as ``x``, in its dtype and memory format."""
    zeros = x.new_zeros((x.shape[0], x.shape[1], count, x.shape[3]))
    channels_last = x.is_contiguous(memory_format=torch.channels_last)
    return zeros.contiguous(memory_format=torch.channels_last) if channels_last else zeros


class _Conv:
    """A stride-1 convolution with 'same' padding, run down a plane."""

    def __init__(self, conv):
        self.weight, self.bias, self.groups = conv.weight, conv.bias, conv.groups
        self.reach = conv.kernel_size[0] // 2
        self.padding = (0, conv.padding[1])
        self.carry = None

    @staticmethod
    def fits(conv):
        """Whether ``conv`` is a stride-1 convolution with zero 'same' padding (odd kernel, no dilation)."""
        k = conv.kernel_size
        same = conv.padding == (k[0] // 2, k[1] // 2) and k[0] % 2 == k[1] % 2 == 1
        return same and conv.stride == (1, 1) and conv.dilation == (1, 1) and conv.padding_mode == "zeros"

    def __call__(self, x, last):
        if self.carry is None:  # the zero rows above the plane
            self.carry = _zero_rows(x, self.reach)
        if not (x.shape[2] or last):
            return _empty(x, self.weight.shape[0])
        parts = [self.carry, x, _zero_rows(x, self.reach)] if last else [self.carry, x]  # zero rows below the plane
        del x  # the rows are in the buffer now: let them go (see _Chain)
        buffer = torch.cat(parts, 2)
        del parts
        self.carry = _rows(buffer, buffer.shape[2] - 2 * self.reach).clone()  # a copy: a view would keep the strip
        if buffer.shape[2] <= 2 * self.reach:
            return _empty(buffer, self.weight.shape[0])
        return F.conv2d(buffer, self.weight, self.bias, padding=self.padding, groups=self.groups)


class _Down:
    """A 2x2 convolution of stride 2, fed rows in any counts."""

    def __init__(self, conv):
        self.weight, self.bias = conv.weight, conv.bias
        self.carry = None

    def __call__(self, x, last):
        buffer = x if self.carry is None else torch.cat([self.carry, x], 2)
        even = buffer.shape[2] // 2 * 2
        self.carry = _rows(buffer, even).clone()
        if not even:
            return _empty(x, self.weight.shape[0], x.shape[3] // 2)
        return F.conv2d(_rows(buffer, 0, even), self.weight, self.bias, stride=2)


class _Up:
    """A 2x2 transposed convolution of stride 2: every row makes two."""

    def __init__(self, conv):
        self.weight, self.bias = conv.weight, conv.bias

    def __call__(self, x, last):
        if not x.shape[2]:
            return _empty(x, self.weight.shape[1], 2 * x.shape[3])
        return F.conv_transpose2d(x, self.weight, self.bias, stride=2)


class _Skip:
    """A skip connection: rows kept where it starts, added where it ends (they arrive there later)."""

    def __init__(self):
        self.early = []  # kept strips, oldest first

    def keep(self, x, last):
        self.early.append(x)
        return x

    def add(self, late, last):
        dtype = torch.result_type(late, self.early[0])
        out = late if late.dtype == dtype else late.to(dtype)  # late is a layer's fresh output: add in place
        done = 0
        while done < out.shape[2]:
            early = self.early[0]
            take = min(early.shape[2], out.shape[2] - done)
            out[:, :, done : done + take] += _rows(early, 0, take)
            done += take
            if take == early.shape[2]:
                self.early.pop(0)
            else:  # a copy of the rows still to come: a view would keep the whole strip
                self.early[0] = _rows(early, take).clone()
        return out


class _Chain:
    """Layers applied in order."""

    def __init__(self, layers):
        self.layers = layers

    def __call__(self, x, last):
        # hand each layer the only reference to its input, so a convolution can free it once copied
        held = [x]
        del x
        for layer in self.layers:
            held.append(layer(held.pop(), last))
        return held.pop()


def _relu(x, last):
    return F.relu(x, inplace=True)  # x is a convolution's fresh output


def _unshuffle(x, last):
    return F.pixel_unshuffle(x, 2)


def _shuffle(x, last):
    return F.pixel_shuffle(x, 2)


def _residual(layers):
    """``x + layers(x)``."""
    skip = _Skip()
    return [skip.keep, *layers, skip.add]


def _layers(module):
    """The streamed layers of a sequence of convolutions, residual blocks and per-pixel layers, or None."""
    layers = []
    for child in module:
        if isinstance(child, _ResBlock):
            layers += _residual([_Conv(child.conv1), _relu, _Conv(child.conv2)])
        elif isinstance(child, nn.Conv2d) and _Conv.fits(child):
            layers.append(_Conv(child))
        elif isinstance(child, nn.ReLU):
            layers.append(_relu)
        elif isinstance(child, nn.BatchNorm2d) and not child.training:  # per channel, row by row
            layers.append(lambda x, last, norm=child: norm(x))
        elif not isinstance(child, nn.Identity):
            return None
    return layers


def _unet(net):
    skip0, skip1 = _Skip(), _Skip()
    return _residual([
        _unshuffle, _Conv(net.head), *_layers(net.enc0), skip0.keep,
        _Down(net.down0), *_layers(net.enc1), skip1.keep,
        _Down(net.down1), *_layers(net.mid),
        _Up(net.up1), skip1.add, *_layers(net.dec1),
        _Up(net.up0), skip0.add, *_layers(net.dec0),
        _Conv(net.tail), _shuffle,
    ])  # fmt: skip


def row_stepper(module):
    """The streaming form of ``module``, or None where it has none.

    Parameters
    ----------
    module : torch.nn.Module
        A :class:`~dci_cnn.models.DCIUNet`, or a
        :class:`~dci_cnn.models.DCICNN` in eval mode (BatchNorm folded or
        not).

    Returns
    -------
    callable or None
        ``step(strip, last)`` takes the next rows of an ``(N, C, H, W)``
        plane (a multiple of the architecture's size multiple, except that
        the last strip may be shorter) and returns the next rows of the
        network's output, possibly none yet; ``last=True`` with the final
        strip returns all the rows left. One stepper runs one plane.
    """
    if isinstance(module, DCIUNet):
        return _Chain(_unet(module))
    if isinstance(module, DCICNN):
        layers = _layers(module.body)
        if layers is None:
            return None
        return _Chain(_residual(layers) if module.residual else layers)
    return None
