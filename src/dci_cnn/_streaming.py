"""Row streaming: a network run down a plane strip by strip, each layer keeping the rows its next strip needs.

Overlapping tiles recompute a halo of context around every tile; with the
U-Net's 160-pixel receptive-field radius that is a quarter more pixels at
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
    return zeros.contiguous(memory_format=torch.channels_last) if x.is_contiguous(memory_format=torch.channels_last) else zeros


class _Conv:
    """A stride-1 convolution with 'same' padding, run down a plane."""

    def __init__(self, conv):
        self.weight, self.bias = conv.weight, conv.bias
        self.reach = conv.kernel_size[0] // 2
        self.padding = (0, conv.padding[1])
        self.carry = None

    def __call__(self, x, last):
        if self.carry is None:  # the zero rows above the plane
            self.carry = _zero_rows(x, self.reach)
        parts = [self.carry, x]
        if last:  # the zero rows below it
            parts.append(_zero_rows(x, self.reach))
        buffer = torch.cat(parts, 2) if x.shape[2] or last else self.carry
        self.carry = _rows(buffer, buffer.shape[2] - 2 * self.reach)
        if buffer.shape[2] <= 2 * self.reach:
            return _empty(x, self.weight.shape[0])
        return F.conv2d(buffer, self.weight, self.bias, padding=self.padding)


class _Down:
    """A 2x2 convolution of stride 2, fed rows in any counts."""

    def __init__(self, conv):
        self.weight, self.bias = conv.weight, conv.bias
        self.carry = None

    def __call__(self, x, last):
        buffer = x if self.carry is None else torch.cat([self.carry, x], 2)
        even = buffer.shape[2] // 2 * 2
        self.carry = _rows(buffer, even)
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
    """Adds a stream that arrives early to one that arrives late (a skip connection)."""

    def __init__(self):
        self.early = None

    def keep(self, x):
        self.early = x if self.early is None else torch.cat([self.early, x], 2)

    def add(self, late):
        n = late.shape[2]
        out = late + _rows(self.early, 0, n)
        self.early = _rows(self.early, n)
        return out


class _Chain:
    """Layers applied in order."""

    def __init__(self, layers):
        self.layers = layers

    def __call__(self, x, last):
        for layer in self.layers:
            x = layer(x, last)
        return x


def _relu(x, last):
    return F.relu(x, inplace=True)  # x is a convolution's fresh output


class _Residual:
    """``x + body(x)``: an identity skip around a streamed body."""

    def __init__(self, body):
        self.body, self.skip = body, _Skip()

    def __call__(self, x, last):
        self.skip.keep(x)
        return self.skip.add(self.body(x, last))


def _sequence(module):
    layers = []
    for child in module:
        if isinstance(child, _ResBlock):
            layers.append(_Residual(_Chain([_Conv(child.conv1), _relu, _Conv(child.conv2)])))
        elif isinstance(child, nn.Conv2d):
            layers.append(_Conv(child))
        elif isinstance(child, nn.ReLU):
            layers.append(_relu)
        elif isinstance(child, nn.BatchNorm2d) and not child.training:  # per channel, row by row
            layers.append(lambda x, last, norm=child: norm(x))
        elif not isinstance(child, nn.Identity):
            return None
    return _Chain(layers)


class _UNet:
    def __init__(self, net):
        self.head, self.tail = _Conv(net.head), _Conv(net.tail)
        self.enc0, self.enc1, self.mid = _sequence(net.enc0), _sequence(net.enc1), _sequence(net.mid)
        self.dec1, self.dec0 = _sequence(net.dec1), _sequence(net.dec0)
        self.down0, self.down1, self.up1, self.up0 = _Down(net.down0), _Down(net.down1), _Up(net.up1), _Up(net.up0)
        self.skip0, self.skip1, self.image = _Skip(), _Skip(), _Skip()

    def __call__(self, x, last):
        self.image.keep(x)
        s0 = self.enc0(self.head(F.pixel_unshuffle(x, 2), last), last)
        self.skip0.keep(s0)
        s1 = self.enc1(self.down0(s0, last), last)
        self.skip1.keep(s1)
        y = self.mid(self.down1(s1, last), last)
        y = self.dec1(self.skip1.add(self.up1(y, last)), last)
        y = self.dec0(self.skip0.add(self.up0(y, last)), last)
        return self.image.add(F.pixel_shuffle(self.tail(y, last), 2))


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
        return _UNet(module)
    if isinstance(module, DCICNN):
        body = _sequence(module.body)
        if body is None:
            return None
        return _Residual(body) if module.residual else body
    return None
