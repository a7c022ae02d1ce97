"""Device dispatch, tested on the CPU: GPUs and CPU features are faked by monkeypatching."""

import numpy as np
import pytest
import torch

from dci_cnn import devices
from dci_cnn.devices import available_devices, cpu_has_fast_bf16, fast_dtype, resolve_device


@pytest.fixture
def no_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)


@pytest.fixture
def two_gpus(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 1)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)


@pytest.fixture
def cpuinfo(monkeypatch):
    """Set the text of /proc/cpuinfo that :func:`cpu_has_fast_bf16` reads (None: unreadable)."""

    def fake(text):
        class FakePath:
            def __init__(self, path):
                self.path = path

            def read_text(self):
                if text is None:
                    raise OSError("no /proc here")
                return text

        monkeypatch.setattr(devices, "Path", FakePath)
        cpu_has_fast_bf16.cache_clear()

    yield fake
    cpu_has_fast_bf16.cache_clear()


def test_cpu_always_available(no_gpu):
    assert available_devices() == ["cpu"]
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(" CPU ") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")


def test_auto_falls_back_to_cpu(no_gpu):
    assert resolve_device("auto") == torch.device("cpu")


@pytest.mark.parametrize("name", ["cuda", "cuda:0", "mps", "tpu", "gpu"])
def test_unavailable_device_lists_what_is_available(no_gpu, name):
    with pytest.raises(ValueError, match=r"not available here; available: cpu$"):
        resolve_device(name)


@pytest.mark.parametrize("bad", [0, None, 1.5, ["cpu"]])
def test_device_type_is_checked(bad):
    with pytest.raises(TypeError, match="device must be a str or torch.device"):
        resolve_device(bad)


def test_gpus_are_listed_and_auto_picks_the_first(two_gpus):
    assert available_devices() == ["cpu", "cuda:0", "cuda:1"]
    assert resolve_device("auto") == torch.device("cuda:0")
    assert resolve_device("cuda:1") == torch.device("cuda:1")
    assert resolve_device(torch.device("cuda:0")) == torch.device("cuda:0")


def test_plain_cuda_means_the_current_device(two_gpus):
    assert resolve_device("cuda") == torch.device("cuda:1")


def test_missing_gpu_index_lists_the_real_ones(two_gpus):
    with pytest.raises(ValueError, match="available: cpu, cuda:0, cuda:1"):
        resolve_device("cuda:2")


def test_mps_is_used_by_auto_when_there_is_no_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert available_devices() == ["cpu", "mps"]
    assert resolve_device("auto") == torch.device("mps")


def test_cuda_autocasts_to_half():
    assert fast_dtype(torch.device("cuda")) == torch.float16
    assert fast_dtype(torch.device("cuda:3")) == torch.float16


def test_mps_stays_float32():
    assert fast_dtype(torch.device("mps")) is None


@pytest.mark.parametrize("native, expected", [(True, torch.bfloat16), (False, None)])
def test_cpu_uses_bf16_only_where_native(monkeypatch, native, expected):
    monkeypatch.setattr(devices, "cpu_has_fast_bf16", lambda: native)
    assert fast_dtype(torch.device("cpu")) is expected


@pytest.mark.parametrize(
    "vendor, flags, expected",
    [
        ("GenuineIntel", "fpu sse2 avx avx2 fma", False),
        ("AuthenticAMD", "fpu avx2 avx512f avx512bw", False),
        ("AuthenticAMD", "fpu avx2 avx512f avx512_bf16", True),  # Zen 4/5: bf16 1.8-2x faster
        ("GenuineIntel", "fpu avx2 avx512f avx512_bf16", False),  # no AMX: bf16 measured 1.3-1.7x slower
        ("GenuineIntel", "fpu avx2 avx512_bf16 amx_tile amx_bf16 amx_int8", True),
    ],
)
def test_fast_bf16_is_read_from_cpu_vendor_and_flags(cpuinfo, vendor, flags, expected):
    cpuinfo(f"processor\t: 0\nvendor_id\t: {vendor}\nmodel name\t: Some CPU\nflags\t\t: {flags}\n\n"
            f"processor\t: 1\nflags\t\t: {flags}\n")
    assert cpu_has_fast_bf16() is expected


def test_no_cpuinfo_means_no_bf16(cpuinfo):
    cpuinfo(None)
    assert cpu_has_fast_bf16() is False
    cpuinfo("processor\t: 0\n")
    assert cpu_has_fast_bf16() is False


def test_deblur_runs_the_autocast_precision_the_device_asks_for(monkeypatch, random_models):
    """The dtype chosen by fast_dtype reaches the network (float32 when None, bf16 when asked)."""
    import dci_cnn._deblur as core
    from dci_cnn import deblur, load_model

    model = load_model(random_models["unet1"])
    seen = []
    hook = model.module.head.register_forward_hook(lambda m, args, out: seen.append(out.dtype))
    try:
        image = np.random.default_rng(0).random((40, 48)).astype(np.float32)
        monkeypatch.setattr(core, "fast_dtype", lambda device: None)
        exact = deblur(image, model=model, tile_size=None)  # one pass: the module's hooks run
        exact_streamed = deblur(image, model=model)
        monkeypatch.setattr(core, "fast_dtype", lambda device: torch.bfloat16)
        reduced = deblur(image, model=model, tile_size=None)
        reduced_streamed = deblur(image, model=model)
    finally:
        hook.remove()
    assert seen == [torch.float32, torch.bfloat16]
    # streamed (the default), each precision gives its own one-pass result
    assert np.abs(exact_streamed - exact).max() <= 1e-5 and np.abs(reduced_streamed - reduced).max() <= 1e-2
    assert np.abs(reduced_streamed - exact).max() > np.abs(reduced_streamed - reduced).max()
    assert reduced.dtype == exact.dtype == np.float32
    assert np.abs(reduced - exact).max() < 0.05


@pytest.fixture
def fake_gpu_memory(monkeypatch):
    """Pretend cuda:N has the given memory in GiB."""
    from types import SimpleNamespace

    def fake(gib):
        monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
        monkeypatch.setattr(torch.cuda, "get_device_properties", lambda index: SimpleNamespace(total_memory=gib * 2**30))

    return fake


def test_auto_tile_size_per_device(fake_gpu_memory):
    assert devices.default_tile_size(torch.device("cpu")) == devices.CPU_TILE_SIZE
    assert devices.default_tile_size(torch.device("mps")) == devices.SMALL_GPU_TILE_SIZE
    fake_gpu_memory(80)
    assert devices.default_tile_size(torch.device("cuda")) == devices.GPU_TILE_SIZE
    assert devices.default_tile_size(torch.device("cuda:1")) == devices.GPU_TILE_SIZE
    fake_gpu_memory(8)
    assert devices.default_tile_size(torch.device("cuda:0")) == devices.SMALL_GPU_TILE_SIZE
    assert devices.GPU_TILE_SIZE > devices.SMALL_GPU_TILE_SIZE >= devices.CPU_TILE_SIZE


@pytest.fixture
def captured_run(monkeypatch, random_models):
    """deblur up to the tile loop: what it would hand restore_planes, on a device of our choosing."""
    import dci_cnn._deblur as core
    from dci_cnn import load_model

    model = load_model(random_models["unet1"])
    seen = {}

    def run(device, **kwargs):
        seen.clear()
        monkeypatch.setattr(core, "resolve_device", lambda name: torch.device(device))
        monkeypatch.setattr(core, "fast_dtype", devices.fast_dtype)  # the real choice, not conftest's float32
        monkeypatch.setattr(core, "_module_on", lambda loaded, dev: loaded.module)
        monkeypatch.setattr(core, "restore_planes", lambda pairs, module, spec, **kw: seen.update(kw))
        core.deblur(np.zeros((32, 32), np.float32), model=model, device=device, **kwargs)
        return seen

    return run


def test_cuda_dispatch_uses_half_precision_and_large_tiles(captured_run, fake_gpu_memory):
    fake_gpu_memory(80)
    seen = captured_run("cuda:0")
    assert seen["device"] == torch.device("cuda:0")
    assert seen["dtype"] == torch.float16
    assert seen["tile_size"] == devices.GPU_TILE_SIZE
    assert captured_run("cuda:0", tile_size=512)["tile_size"] == 512
    assert captured_run("cuda:0", tile_size=None)["tile_size"] is None


def test_cpu_dispatch_uses_cpu_tiles_and_its_precision(captured_run, monkeypatch):
    monkeypatch.setattr(devices, "cpu_has_fast_bf16", lambda: False)
    seen = captured_run("cpu")
    assert seen["dtype"] is None
    assert seen["tile_size"] == devices.CPU_TILE_SIZE


@pytest.mark.parametrize("bad, error", [("big", TypeError), ("AUTO", TypeError), (8, ValueError)])
def test_tile_size_auto_is_the_only_string(bad, error):
    from dci_cnn import deblur

    with pytest.raises(error, match="tile_size"):
        deblur(np.zeros((8, 8)), tile_size=bad)


def test_auto_tile_is_halved_for_full_resolution_networks(fake_gpu_memory):
    from dci_cnn.models import ARCHITECTURES

    cpu = torch.device("cpu")
    assert devices.default_tile_size(cpu, ARCHITECTURES["dciunet"].halo()) == devices.CPU_TILE_SIZE
    assert devices.default_tile_size(cpu, ARCHITECTURES["dcicnn"].halo()) == devices.CPU_TILE_SIZE // 2
    fake_gpu_memory(80)
    assert devices.default_tile_size(torch.device("cuda"), ARCHITECTURES["dcicnn"].halo()) == devices.GPU_TILE_SIZE // 2


def test_paper_net_dispatch_gets_the_halved_tile(monkeypatch, random_models):
    import dci_cnn._deblur as core
    from dci_cnn import load_model

    seen = {}
    monkeypatch.setattr(core, "restore_planes", lambda pairs, module, spec, **kw: seen.update(kw))
    core.deblur(np.zeros((32, 32), np.float32), model=load_model(random_models["paper1"]))
    assert seen["tile_size"] == devices.CPU_TILE_SIZE // 2


def test_bf16_tiles_agree_with_one_pass_to_bf16_rounding(monkeypatch, gray):
    """Streams and windows of another shape than the plane may round differently in bf16, but only slightly."""
    import dci_cnn._deblur as core
    import dci_cnn._tiling as tiling
    from dci_cnn import deblur

    monkeypatch.setattr(core, "fast_dtype", lambda device: torch.bfloat16)
    image = np.random.default_rng(6).random((131, 277)).astype(np.float32)
    whole = deblur(image, model=gray, tile_size=None)
    streamed = deblur(image, model=gray, tile_size=48)
    monkeypatch.setattr(tiling, "row_stepper", lambda module: None)
    windows = deblur(image, model=gray, tile_size=48)
    assert np.abs(streamed - whole).max() <= 2e-2 and np.abs(windows - whole).max() <= 2e-2
