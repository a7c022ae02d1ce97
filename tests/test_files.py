"""Atomic writes and the advisory lock that serialises read-modify-write updates of a file."""

import json
import threading
from pathlib import Path

import pytest

from dci_cnn import _files
from dci_cnn._files import atomic_write, locked


def test_atomic_write_refuses_to_overwrite_unless_asked(tmp_path):
    path = tmp_path / "a.txt"
    atomic_write(path, lambda tmp: Path(tmp).write_text("one"))
    with pytest.raises(FileExistsError, match="overwrite"):
        atomic_write(path, lambda tmp: Path(tmp).write_text("two"))
    assert path.read_text() == "one"
    atomic_write(path, lambda tmp: Path(tmp).write_text("two"), overwrite=True)
    assert path.read_text() == "two"


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("old")

    def half_written(tmp):
        Path(tmp).write_text("partial")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(path, half_written, overwrite=True)
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["a.txt"]


@pytest.mark.skipif(_files.fcntl is None, reason="no advisory locks on this platform")
def test_updaters_take_turns_across_atomic_replacements(tmp_path):
    # Each update replaces the file (a new inode): a waiter that wakes on the old one must lock the new one.
    path = tmp_path / "card.json"
    path.write_text(json.dumps({"count": 0}))

    def increment(times):
        for _ in range(times):
            with locked(path):
                count = json.loads(path.read_text())["count"]
                atomic_write(path, lambda tmp, c=count: Path(tmp).write_text(json.dumps({"count": c + 1})), overwrite=True)

    workers = [threading.Thread(target=increment, args=(25,)) for _ in range(6)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert json.loads(path.read_text())["count"] == 150


def test_locking_a_missing_file_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.json"), locked(tmp_path / "nothing.json"):
        pass
