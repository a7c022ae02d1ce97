"""Atomic file writes (a temporary file renamed into place) and an advisory lock for updates."""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shlex
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

__all__ = ["atomic_write", "check_folder", "locked", "portable_command"]


def atomic_write(path, write, *, overwrite=False):
    """Create ``path`` by calling ``write(tmp_path)`` and renaming the result into place.

    The temporary file is hidden beside ``path`` (``.NAME.XXXXXXXX.partial.SUFFIX``;
    folder searches skip hidden files). An exception, Ctrl-C, or a signal the
    caller turns into an exception removes it, so readers see the old file or
    the whole new one. Without ``overwrite`` an existing ``path`` raises
    ``FileExistsError`` before anything is written. An ``OSError`` (disk full,
    no permission) names ``path``, not the temporary file.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite to replace it")
    tmp = None
    try:
        while tmp is None:
            tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}.partial{path.suffix}"  # named before it exists
            try:
                os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))  # mode: 0o666 less the umask
            except FileExistsError:
                tmp = None
        write(tmp)
        os.replace(tmp, path)
    except BaseException as exc:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.errno is not None:
            raise OSError(exc.errno, exc.strerror, str(path)) from exc
        raise


def check_folder(folder, option):
    """Check that files can be created in ``folder`` (made with its parents if missing) before any work.

    Raises ``ValueError`` naming ``option`` if a file stands where a folder
    must be, ``PermissionError`` if the nearest existing folder is not writable.
    """
    existing = Path(folder)
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ValueError(f"{option} {folder}: {existing} is a file, not a folder; choose another path")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(existing))


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
