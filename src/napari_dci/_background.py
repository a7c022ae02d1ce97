"""A lazy output that napari can slice without waiting: planes are computed in a background thread.

napari slices layer data on the GUI thread, so a dask output would compute
a whole plane (seconds) every time the slider lands on a new one.
:class:`BackgroundPlanes` answers a slice at once from a small cache of
computed planes, or with an empty plane while a background thread computes
it; listeners are told when a plane starts and when it is ready, so the
widget can show progress and refresh the layer.
"""

from __future__ import annotations

import os
import sys
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor

import numpy as np

__all__ = ["COMPUTE_NICENESS", "BackgroundPlanes", "compute_thread", "dask_progress"]

#: Niceness of the plugin's compute thread (and of the torch and dask threads it starts), so the GUI thread
#: gets a core as soon as it has work: under Linux's scheduler a nice-10 thread weighs a tenth of a nice-0 one.
COMPUTE_NICENESS = 10


def _lower_priority():
    """Make the calling thread nicer (Linux sets niceness per thread; elsewhere it would apply to the process)."""
    if sys.platform.startswith("linux"):
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), COMPUTE_NICENESS)
        except OSError:  # not allowed here: run at normal priority
            pass


#: The one thread where the plugin computes (runs and lazy planes, one at a time, in order).
compute_thread = ThreadPoolExecutor(1, thread_name_prefix="dci-cnn-compute", initializer=_lower_priority)

#: Computed planes kept per output, at most this many bytes (least recently shown dropped first).
CACHE_BYTES = 512 * 2**20


def dask_progress(report):
    """A dask callback calling ``report(done, total)`` after each task (it may raise to stop)."""
    from dask.callbacks import Callback

    class _Progress(Callback):
        def _start_state(self, _dsk, state):
            self._total = sum(len(state[k]) for k in ("ready", "waiting", "running", "finished"))
            report(0, self._total)

        def _posttask(self, _key, _result, _dsk, state, _worker_id):
            report(len(state["finished"]), self._total)

    return _Progress()


def _normalized(key, ndim):
    """``key`` as a hashable tuple of ``ndim`` entries (ints and slice triples)."""
    key = key if isinstance(key, tuple) else (key,)
    if any(k is Ellipsis for k in key):
        at = key.index(Ellipsis)
        key = key[:at] + (slice(None),) * (ndim - len(key) + 1) + key[at + 1 :]
    key = key + (slice(None),) * (ndim - len(key))
    return tuple((k.start, k.stop, k.step) if isinstance(k, slice) else int(k) for k in key)


class BackgroundPlanes:
    """Array-like over a lazy array whose planes are computed off the GUI thread.

    Parameters
    ----------
    source : dask.array.Array
        The lazy restoration.
    plane_axes : int
        Number of leading axes that index planes (the rest is one image,
        channels included).

    Attributes
    ----------
    source : dask.array.Array
        The lazy array (for saving, e.g. ``layer.data.source.to_zarr(...)``).
    started, ready, failed : list of callable
        Called from the background thread as ``f(index)`` when a plane starts
        and when it is ready, ``f(index, error)`` when it failed (it is not
        tried again); ``progress`` as ``f(done, total)`` per task.
    """

    def __init__(self, source, plane_axes):
        self.source = source
        self.plane_axes = plane_axes
        self.started, self.ready, self.progress, self.failed = [], [], [], []
        self._cache = OrderedDict()
        self._failed = set()
        self._latest = None
        self._pending = set()
        self._lock = threading.Lock()
        self._closed = False

    shape = property(lambda self: self.source.shape)
    dtype = property(lambda self: self.source.dtype)
    ndim = property(lambda self: self.source.ndim)
    size = property(lambda self: self.source.size)

    def __len__(self):
        return self.shape[0]

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self.source.compute(), dtype=dtype)

    def _split(self, key):
        """(index of a cached unit, slicing within it): whole planes, or the exact region for other keys.

        Leading entries that are ints or one-long slices (napari slices
        ``i:i+1``) pick a plane; the slicing within it adds the axes kept.
        """
        key = _normalized(key, self.ndim)
        index, kept = [], []
        for k in key[: self.plane_axes]:
            if isinstance(k, int):
                index.append(k)
            elif k[0] is not None and k[1] == k[0] + 1 and k[2] in (None, 1):
                index.append(k[0])
                kept.append(None)
            else:
                return key, ()
        rest = tuple(slice(*k) if isinstance(k, tuple) else k for k in key[self.plane_axes :])
        return tuple(index), tuple(kept) + rest

    def _lazy(self, index):
        if len(index) == self.plane_axes:
            return self.source[index]
        return self.source[tuple(slice(*k) if isinstance(k, tuple) else k for k in index)]

    def __getitem__(self, key):
        index, rest = self._split(key)
        with self._lock:
            if index in self._cache:
                self._cache.move_to_end(index)
                return self._cache[index][rest]
            if index not in self._pending and index not in self._failed:
                self._pending.add(index)
                self._latest = index
                compute_thread.submit(self._compute, index)  # even slicing the dask graph takes a while
        # an empty stand-in of the right shape (slicing a zero-strided view costs nothing)
        return np.zeros(np.broadcast_to(np.zeros((), self.dtype), self.shape)[key].shape, self.dtype)

    def compute_plane(self, index, report=None):
        """Compute plane ``index`` now (in the calling thread) and keep it; ``report`` as in :func:`dask_progress`."""
        lazy = self._lazy(tuple(int(i) for i in index))
        callbacks = [dask_progress(report)] if report else []
        with _callbacks(callbacks):
            self._store(tuple(int(i) for i in index), np.asarray(lazy.compute()))

    def _store(self, index, value):
        with self._lock:
            self._cache[index] = value
            self._pending.discard(index)
            used = sum(v.nbytes for v in self._cache.values())
            while used > CACHE_BYTES and len(self._cache) > 1:
                used -= self._cache.popitem(last=False)[1].nbytes

    def _compute(self, index):
        with self._lock:
            if index != self._latest or self._closed:  # the slider moved on: asked for again if shown again
                self._pending.discard(index)
                return
        lazy = self._lazy(index)
        for listener in self.started:
            listener(index)

        def report(done, total):
            for listener in self.progress:
                listener(done, total)

        try:
            with _callbacks([dask_progress(report)]):
                value = np.asarray(lazy.compute())
        except Exception as exc:  # noqa: BLE001 (the plane stays empty; the widget says why)
            with self._lock:
                self._pending.discard(index)
                self._failed.add(index)
            for listener in self.failed:
                listener(index, exc)
            return
        self._store(index, value)
        for listener in self.ready:
            listener(index)

    def close(self):
        """Compute no more planes (those asked for are dropped when their turn comes)."""
        self._closed = True


def _callbacks(callbacks):
    from contextlib import ExitStack

    stack = ExitStack()
    for callback in callbacks:
        stack.enter_context(callback)
    return stack
