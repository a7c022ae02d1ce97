"""Inside reuse_freed_buffers big buffers are reused from the heap; after it the memory goes back."""

import resource
import threading

import pytest
import torch

from dci_cnn import _heap

pytestmark = pytest.mark.skipif(_heap._LIBC is None, reason="glibc only")
PAGES = (64 << 20) // resource.getpagesize()


def _faults_of_big_buffers(count=6):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(count):
        buffer = torch.ones(64 << 17, dtype=torch.float64)  # 64 MiB, every page written as activations are
        del buffer
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


def _resident_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


@pytest.fixture
def per_page_faults():
    if _faults_of_big_buffers() < 2 * PAGES:
        pytest.skip("huge pages for every mapping here: no per-page faults to save")


def test_freed_buffers_are_reused_inside_and_memory_returned_after(per_page_faults):
    resident = _resident_mb()
    assert _faults_of_big_buffers() > 5 * PAGES  # outside, each fresh buffer faults all its pages
    with _heap.reuse_freed_buffers():
        _faults_of_big_buffers()  # the heap grows once
        assert _faults_of_big_buffers() < 2 * PAGES  # then its memory is reused (6 buffers: no more than one faulted)
        held = torch.ones(64 << 17, dtype=torch.float64)
        del held
    assert _resident_mb() < resident + 16  # the freed buffers went back to the system


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


def test_nested_and_concurrent_uses_undo_the_setting_once(per_page_faults):
    entered, release = threading.Event(), threading.Event()

    def other():
        with _heap.reuse_freed_buffers():
            entered.set()
            release.wait(10)

    thread = threading.Thread(target=other)
    thread.start()
    entered.wait(10)
    with _heap.reuse_freed_buffers():
        pass
    assert _heap._depth == 1  # the other user is still inside: the setting stays
    _faults_of_big_buffers()
    assert _faults_of_big_buffers() < 2 * PAGES
    release.set()
    thread.join()
    assert _heap._depth == 0
