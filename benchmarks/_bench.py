"""Helpers shared by the benchmark scripts: machine facts, matmul roofline, child processes, tables.

Every measurement that reports a peak RSS runs in its own child process
(``python SCRIPT --child JSON``), so one size's peak cannot hide another's.
"""

from __future__ import annotations

import json
import math
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


def cpu_model():
    """The CPU's model name (as ``lscpu`` prints it) and its logical CPU count."""
    name = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return name, os.cpu_count()


def machine_line():
    """One line naming the hardware and software the numbers come from."""
    import torch

    from dci_cnn.devices import cpu_has_fast_bf16

    name, cpus = cpu_model()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    cap = torch.backends.cpu.get_cpu_capability()
    return (
        f"CPU: {name}, {cpus} logical CPUs, torch {torch.__version__} with {torch.get_num_threads()} threads, "
        f"ISA {cap}, bf16 faster than float32 (AMX, or AVX512-BF16 on AMD): {'yes' if cpu_has_fast_bf16() else 'no'}; "
        f"load average at start {load:.2f}"
    )


def matmul_rate(dtype, n=2048, seconds=2.0, device="cpu"):
    """Measured dense matmul rate in GFLOP/s for ``dtype`` on ``device`` (best of 0.5 s runs over ``seconds``)."""
    import torch

    sync = torch.cuda.synchronize if str(device).startswith("cuda") else (lambda: None)
    if str(device).startswith("cuda"):
        n = 8192
    a = torch.randn(n, n, device=device).to(dtype)
    b = torch.randn(n, n, device=device).to(dtype)
    a @ b
    sync()
    best, end = 0.0, time.perf_counter() + seconds
    while time.perf_counter() < end:
        t0, k = time.perf_counter(), 0
        while time.perf_counter() - t0 < 0.5:
            a @ b
            k += 1
        sync()
        best = max(best, 2.0 * n**3 * k / (time.perf_counter() - t0) / 1e9)
    return best


def rss_now_mb():
    """Current resident set size of this process in MB."""
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def rss_peak_mb():
    """Peak resident set size of this process so far in MB.

    ``VmHWM`` of ``/proc/self/status``: unlike ``getrusage().ru_maxrss``, which
    Linux carries over from the parent across fork and exec, it covers only
    this program's own address space.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024 / 1e6
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6


def test_image(megapixels, channels=3, seed=0):
    """A JPEG-degraded natural image (astronaut, mirrored to size) of about ``megapixels`` MP, uint8.

    The side is rounded to a multiple of 8; ``channels`` is 1 (gray) or 3.
    """
    from skimage import data
    from skimage.color import rgb2gray

    from dci_cnn.degrade import jpeg, to_uint8

    base = data.astronaut() / 255.0
    if channels == 1:
        base = rgb2gray(base)
    base = to_uint8(jpeg(base, 20))
    side = max(8, round(np.sqrt(megapixels * 1e6) / 8) * 8)
    out = np.empty((side, side) + base.shape[2:], np.uint8)
    h, w = base.shape[:2]
    flips = {(0, 0): base, (1, 0): base[::-1], (0, 1): base[:, ::-1], (1, 1): base[::-1, ::-1]}
    for y in range(0, side, h):
        for x in range(0, side, w):
            tile = flips[((y // h) % 2, (x // w) % 2)]
            out[y : y + h, x : x + w] = tile[: side - y, : side - x]
    return out


def run_child(script, task, timeout=None):
    """Run ``script --child TASK_JSON`` in a fresh interpreter; return the dict it prints last."""
    cmd = [sys.executable, str(script), "--child", json.dumps(task)]
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=timeout)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return {"error": " / ".join(tail) or f"exit {proc.returncode}"}
    return json.loads(lines[-1])


def child_entry(handlers):
    """If this process was started as a child, run the named handler, print its JSON and exit."""
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        task = json.loads(sys.argv[2])
        result = handlers[task["kind"]](task)
        print(json.dumps(result), flush=True)
        sys.exit(0)


def force_dtype(name):
    """Make :func:`dci_cnn.deblur` autocast to ``name`` ("float32", "bfloat16") instead of its own choice."""
    import torch

    import dci_cnn._deblur as core

    if name in (None, "auto"):
        return
    dtype = None if name == "float32" else getattr(torch, name)
    core.fast_dtype = lambda device: dtype


def used_dtype(device="cpu"):
    """The autocast dtype :func:`dci_cnn.deblur` runs on ``device`` (after any :func:`force_dtype`)."""
    import dci_cnn._deblur as core
    from dci_cnn.devices import resolve_device

    dtype = core.fast_dtype(resolve_device(device))
    return "float32" if dtype is None else str(dtype).replace("torch.", "")


def table(headers, rows):
    """A markdown table."""
    def cell(v):
        if isinstance(v, float):
            if math.isnan(v):
                return "–"
            return f"{v:.3g}" if abs(v) < 100 else f"{v:.0f}"
        return str(v)

    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)
