"""Device names to ``torch.device``, and the precision each device runs fastest in."""

from __future__ import annotations

import functools
from pathlib import Path

import torch

__all__ = ["available_devices", "cpu_has_fast_bf16", "default_tile_size", "fast_dtype", "resolve_device"]


def available_devices():
    """Names of the devices usable here, e.g. ``["cpu", "cuda:0"]``."""
    names = ["cpu"]
    if torch.cuda.is_available():
        names += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        names.append("mps")
    return names


def resolve_device(device):
    """Turn ``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"mps"``, ``"auto"`` or a ``torch.device`` into a usable device.

    ``"auto"`` picks the first GPU, else MPS, else the CPU.

    Raises
    ------
    ValueError
        If the device is unknown or not available, listing what is.
    TypeError
        If ``device`` is neither a string nor a ``torch.device``.
    """
    if isinstance(device, torch.device):
        name = str(device)
    elif isinstance(device, str):
        name = device.strip().lower()
    else:
        raise TypeError(f"device must be a str or torch.device, got {type(device).__name__}")
    available = available_devices()
    if name == "auto":
        return torch.device(available[1] if len(available) > 1 else "cpu")
    if name == "cuda" and torch.cuda.is_available():
        name = f"cuda:{torch.cuda.current_device()}"
    if name not in available:
        raise ValueError(f"device {device!r} is not available here; available: {', '.join(available)}")
    return torch.device(name)


@functools.lru_cache(maxsize=1)
def cpu_has_fast_bf16():
    """Whether bf16 runs faster than float32 on this CPU: with AMX, or AVX512-BF16 on AMD (Zen 4/5).

    Measured (docs' Benchmarks page and changelog): AMX Xeons and AVX512-BF16 EPYCs ran the
    networks 1.8-2x faster in bf16; an Intel Xeon with AVX512-BF16 but no AMX ran them 1.3-1.7x
    slower (oneDNN has no faster bf16 convolutions there); elsewhere bf16 is emulated.
    """
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    lines = text.splitlines()
    flags = set(next((ln.split(":", 1)[1].split() for ln in lines if ln.startswith("flags")), []))
    vendor = next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("vendor_id")), "")
    return "amx_bf16" in flags or ("avx512_bf16" in flags and vendor == "AuthenticAMD")


def fast_dtype(device):
    """The reduced precision to autocast to on ``device``, or None for float32.

    CUDA runs float16; a CPU with native bf16 runs bfloat16; other CPUs and
    MPS stay in float32.
    """
    if device.type == "cuda":
        return torch.float16
    if device.type == "cpu" and cpu_has_fast_bf16():
        return torch.bfloat16
    return None


#: Tile sides used by ``tile_size="auto"``. Tiles overlap by the receptive field (72 px a side for the
#: U-Net), so larger tiles waste less work: on 2 CPU cores 2048 ran 11-16 % faster than 1024 at 16 MP
#: and keeps a 100 MP image within 1.5 GB beyond its input and output (benchmarks/speed.py, memory.py).
#: GPUs also need big tiles to fill their cores.
CPU_TILE_SIZE = 2048
GPU_TILE_SIZE = 4096
SMALL_GPU_TILE_SIZE = 2048


def default_tile_size(device, halo=None):
    """The tile side ``tile_size="auto"`` uses on ``device``.

    CPU: :data:`CPU_TILE_SIZE` (throughput and bounded memory). CUDA:
    :data:`GPU_TILE_SIZE`, or :data:`SMALL_GPU_TILE_SIZE` on GPUs with less
    than 12 GiB. MPS: :data:`SMALL_GPU_TILE_SIZE`.

    Networks with a small receptive field (``halo`` of at most 16 pixels, like
    the paper's DCI-CNN) run all their layers at full resolution with 64
    channels, about 4x the activation memory per pixel of the U-Net, and lose
    little to overlap, so they get half the side: 1024 on the CPU costs them
    3 % extra work ((1024 + 2 * 8)^2 / 1024^2) and keeps memory bounded.
    """
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        big = torch.cuda.get_device_properties(index).total_memory >= 12 * 2**30
        size = GPU_TILE_SIZE if big else SMALL_GPU_TILE_SIZE
    elif device.type == "mps":
        size = SMALL_GPU_TILE_SIZE
    else:
        size = CPU_TILE_SIZE
    if halo is not None and halo <= 16:
        size //= 2
    return size
