"""Which axis of a layer holds channels (bands), and so which two axes are the image.

Readers often hand a multiband scene over as ``(y, x, band)``; restoring it
as planes of the last two axes would run the network on ``x × band`` strips.
:func:`guess_channel_axis` finds the channel axis from ``layer.rgb``, the
axis labels, or the shape, and says when it only guessed.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CHANNEL_LABELS", "ChannelGuess", "guess_channel_axis", "image_axes"]

#: Axis labels that name a channel axis (compared in lower case).
CHANNEL_LABELS = frozenset({"c", "ch", "chan", "channel", "channels", "band", "bands"})

#: A last axis at most this long, and this many times shorter than both axes before it, is taken for channels.
MAX_CHANNELS, SHORTER_BY = 16, 4


@dataclass(frozen=True)
class ChannelGuess:
    """Result of :func:`guess_channel_axis`.

    Attributes
    ----------
    axis : int or None
        Channel axis (non-negative), or None when every axis but the last
        two indexes planes.
    reason : str
        Why, in words for the widget.
    guessed : bool
        True when only the shape suggested it: the widget then warns.
    """

    axis: int | None
    reason: str
    guessed: bool = False


def guess_channel_axis(shape, *, rgb=False, axis_labels=()):
    """Guess the channel axis of layer data of ``shape``.

    Parameters
    ----------
    shape : tuple of int
        The layer's data shape.
    rgb : bool, optional
        napari shows the last axis as RGB(A).
    axis_labels : sequence of str, optional
        The layer's axis labels.

    Returns
    -------
    ChannelGuess
    """
    ndim = len(shape)
    if rgb:
        return ChannelGuess(ndim - 1, "RGB layer: colour model")
    if ndim < 3:
        return ChannelGuess(None, "one 2-D plane")
    for axis, label in enumerate(axis_labels):
        if str(label).strip().lower() in CHANNEL_LABELS:
            return ChannelGuess(axis, f"axis label {label!r}")
    last, rows, cols = shape[-1], shape[-3], shape[-2]
    if last <= MAX_CHANNELS and last * SHORTER_BY <= min(rows, cols):
        return ChannelGuess(
            ndim - 1,
            f"guessed from the shape: the last axis ({last}) is far shorter than the two before it",
            guessed=True,
        )
    return ChannelGuess(None, "no channel axis: the last two axes are the image")


def image_axes(ndim, channel_axis):
    """The two axes (rows, columns) of each image: the last two that are not ``channel_axis``."""
    return tuple(a for a in range(ndim) if a != channel_axis)[-2:]
