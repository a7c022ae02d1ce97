"""Inside reuse_freed_buffers big buffers are reused from the heap; after it the memory goes back.

Page faults are counted for a whole process (``RUSAGE_SELF``: torch fills big
tensors from its pool threads), so each scenario runs in a fresh interpreter,
where no thread of another test allocates while they are counted.
"""

import inspect
import json
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from dci_cnn import _heap

pytestmark = pytest.mark.skipif(_heap._LIBC is None, reason="glibc only")

PRELUDE = """
import json, resource, threading  # noqa: E401
import torch
from dci_cnn import _heap

PAGES = (64 << 20) // resource.getpagesize()


def faults_of_big_buffers(count=6):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(count):
        buffer = torch.ones(64 << 17, dtype=torch.float64)  # 64 MiB, every page written as activations are
        del buffer
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


def resident_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


outside = faults_of_big_buffers()  # each fresh buffer faults all its pages (unless huge pages map them)
"""


def _scenario(body, *functions):
    """Run ``body`` after PRELUDE and ``functions`` in a fresh interpreter; the dict ``result`` it makes, with
    ``outside`` (faults of six fresh buffers) and ``pages`` (of one buffer) added."""
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
    env["PYTHONPATH"] = os.pathsep.join([str(Path(_heap.__file__).parents[1]), env.get("PYTHONPATH", "")])
    script = "\n".join([PRELUDE, *map(inspect.getsource, functions), textwrap.dedent(body)]) + "\nprint(json.dumps({**result, 'outside': outside, 'pages': PAGES}))\n"
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300, check=False)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout.splitlines()[-1])
    if result["outside"] < 2 * result["pages"]:
        pytest.skip("huge pages for every mapping here: no per-page faults to save")
    return result


def test_freed_buffers_are_reused_inside_and_memory_returned_after():
    result = _scenario("""
        resident = resident_mb()
        with _heap.reuse_freed_buffers():
            faults_of_big_buffers(12)  # the heap grows (glibc may take a few rounds to keep the freed chunks)
            inside = faults_of_big_buffers()
            held = torch.ones(64 << 17, dtype=torch.float64)
            del held
        result = {"inside": inside, "grown_mb": resident_mb() - resident}
    """)
    assert result["outside"] > 5 * result["pages"]  # outside, each fresh buffer faults all its pages
    assert result["inside"] < 2 * result["pages"]  # inside, the heap's memory is reused (6 buffers: no more than one faulted)
    assert result["grown_mb"] < 16  # the freed buffers went back to the system


def test_environment_variable_turns_it_off(monkeypatch):
    calls = []

    class RecordingLibc:
        def mallopt(self, *args):
            calls.append("mallopt")

        def malloc_trim(self, *args):
            calls.append("malloc_trim")

    monkeypatch.setattr(_heap, "_LIBC", RecordingLibc())
    monkeypatch.setenv("DCI_CNN_HEAP_REUSE", "0")
    with _heap.reuse_freed_buffers():
        pass
    assert calls == []
    monkeypatch.delenv("DCI_CNN_HEAP_REUSE")
    with _heap.reuse_freed_buffers():
        assert calls == ["mallopt", "mallopt"]
    assert calls[2:] == ["mallopt", "mallopt", "malloc_trim"]


def _nested_and_concurrent(inside_both):
    """Another thread enters, this one enters a nested use and leaves; ``inside_both()`` runs while the other stays in."""
    entered, release = threading.Event(), threading.Event()

    def other():
        with _heap.reuse_freed_buffers():
            entered.set()
            release.wait(10)

    thread = threading.Thread(target=other)
    thread.start()
    entered.wait(10)
    with _heap.reuse_freed_buffers(), _heap.reuse_freed_buffers():
        pass
    inside_both()
    release.set()
    thread.join()


def test_nested_and_concurrent_uses_make_the_setting_once_and_undo_it_once(monkeypatch):
    calls = []

    class RecordingLibc:
        def mallopt(self, option, value):
            calls.append(("mallopt", option, value.value))

        def malloc_trim(self, pad):
            calls.append(("malloc_trim",))

    monkeypatch.setattr(_heap, "_LIBC", RecordingLibc())
    monkeypatch.delenv("DCI_CNN_HEAP_REUSE", raising=False)
    made = [("mallopt", _heap._M_MMAP_THRESHOLD, _heap._INSIDE), ("mallopt", _heap._M_TRIM_THRESHOLD, _heap._KEEP)]
    undone = [("mallopt", _heap._M_MMAP_THRESHOLD, _heap._DEFAULT_MMAP),
              ("mallopt", _heap._M_TRIM_THRESHOLD, _heap._DEFAULT_TRIM), ("malloc_trim",)]

    def inside_both():
        assert _heap._depth == 1 and calls == made  # the other user is still inside: the setting stays

    _nested_and_concurrent(inside_both)
    assert _heap._depth == 0 and calls == made + undone


def test_nested_and_concurrent_uses_undo_the_setting_once():
    result = _scenario("""
        counted = {}

        def inside_both():
            counted["depth"] = _heap._depth
            faults_of_big_buffers(12)
            counted["inside"] = faults_of_big_buffers()

        _nested_and_concurrent(inside_both)
        result = {**counted, "after": _heap._depth}
    """, _nested_and_concurrent)
    assert result["depth"] == 1 and result["after"] == 0
    assert result["inside"] < 2 * result["pages"]  # the setting still holds while the other user is inside
