"""Atomic file writes (a temporary file renamed into place) and an advisory lock for updates."""

from __future__ import annotations

import contextlib
import os
import shlex
import tempfile
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

__all__ = ["atomic_write", "locked", "portable_command"]


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


@contextlib.contextmanager
def locked(path):
    """Hold an exclusive advisory lock on the existing file ``path`` for a read-modify-write.

    Every updater that reads, changes and :func:`atomic_write`-s the file
    inside ``with locked(path):`` takes its turn, so none loses another's
    change. The lock follows the replacement: a waiter that wakes on the
    file that was swapped out locks the new one instead. Advisory (only
    cooperating updaters wait) and a no-op where ``fcntl`` is missing (Windows).
    """
    if fcntl is None:
        yield
        return
    while True:
        handle = open(path, "rb")  # noqa: SIM115 -- held open for the lock, closed below
        try:
            fcntl.flock(handle, fcntl.LOCK_EX)
            held, now = os.fstat(handle.fileno()), os.stat(path)
        except BaseException:
            handle.close()
            raise
        if (held.st_dev, held.st_ino) == (now.st_dev, now.st_ino):
            break
        handle.close()
    try:
        yield
    finally:
        handle.close()


def portable_command(program, argv):
    """``program`` and ``argv`` as one shell line in which paths outside the working folder show only their name.

    Model cards keep the commands that made them; ``../data/bsds500`` or ``/home/me/runs/x`` would
    describe one machine, so they become ``bsds500`` and ``x`` (a folder keeps a trailing ``/``).
    """
    def shown(token):
        flag, eq, value = token.partition("=") if token.startswith("--") else ("", "", token)
        path = Path(value)
        if value and (path.is_absolute() or ".." in path.parts):
            value = path.name + ("/" if path.is_dir() else "")
        return flag + eq + value

    return program + " " + shlex.join(shown(token) for token in argv)
