"""Atomic file writes: a temporary file in the target's folder, renamed into place."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["atomic_write"]


def atomic_write(path, write, *, overwrite=False):
    """Create ``path`` by calling ``write(tmp_path)`` and renaming the result into place.

    A crash or exception leaves no partial file; readers see the old file or
    the whole new one. Without ``overwrite`` an existing ``path`` raises
    ``FileExistsError`` before anything is written.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite to replace it")
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(fd)
    try:
        write(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
