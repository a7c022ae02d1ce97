"""Keep large freed buffers in the process heap while a plane is restored (glibc only).

glibc hands every allocation above its mmap threshold (at most 32 MB by
default) straight to the kernel and gives it back on free; below it, freed
memory at the top of the heap is trimmed away. A strip's or a tile's
activations are such buffers, so each one faults its working memory in
afresh, page by page: on a 16 MP image with windows a quarter of the CPU
time went to page faults, and 2 MP strips faulted 10 000-31 000 pages
per megapixel (``benchmarks/speed.py``'s page-fault column). Inside
:func:`reuse_freed_buffers` the heap keeps and reuses those buffers; on
leaving, the thresholds are set to glibc's largest defaults and the heap
is trimmed, so the memory goes back to the system. Elsewhere (macOS,
Windows, musl) it does nothing.

The price is memory while a plane runs: the heap holds freed buffers
beside the live ones (a 100 MP RGB image in windows peaked at 1.29 GB
beyond its input and output arrays instead of 0.96 GB, and ran 20 %
faster; strips keep this small: 0.96 against 0.94 GB). Set the
environment variable ``DCI_CNN_HEAP_REUSE=0`` to keep glibc's behaviour.
"""

from __future__ import annotations

import ctypes
import os
import platform
import threading
from contextlib import contextmanager

__all__ = ["reuse_freed_buffers"]

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_INSIDE = 1 << 30  # buffers up to 1 GiB come from (and return to) the heap
_KEEP = 256 << 20  # free memory above this at the top of the heap goes back to the system
_DEFAULT_MMAP, _DEFAULT_TRIM = 32 << 20, 64 << 20  # where glibc's dynamic thresholds end up
_lock = threading.Lock()
_depth = 0


def _glibc():
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None


_LIBC = _glibc()


@contextmanager
def reuse_freed_buffers():
    """Context in which freed buffers up to 1 GiB stay in the heap for reuse.

    Nested and concurrent uses share one setting: it is made by the first to
    enter and undone by the last to leave. Does nothing when the environment
    variable ``DCI_CNN_HEAP_REUSE`` is ``0``.
    """
    global _depth
    if _LIBC is None or os.environ.get("DCI_CNN_HEAP_REUSE", "1") == "0":
        yield
        return
    with _lock:
        if _depth == 0:
            _LIBC.mallopt(_M_MMAP_THRESHOLD, ctypes.c_int(_INSIDE))
            _LIBC.mallopt(_M_TRIM_THRESHOLD, ctypes.c_int(_KEEP))
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                _LIBC.mallopt(_M_MMAP_THRESHOLD, ctypes.c_int(_DEFAULT_MMAP))
                _LIBC.mallopt(_M_TRIM_THRESHOLD, ctypes.c_int(_DEFAULT_TRIM))
                _LIBC.malloc_trim(ctypes.c_size_t(0))
