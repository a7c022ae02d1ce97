"""Row streaming: strips through the network give one pass's rows; deblur streams in bands and strips."""

import contextlib

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from dci_cnn import _tiling, deblur, load_model
from dci_cnn._streaming import row_stepper
from dci_cnn.models import DCICNN, build_model


def _streamed(module, x, cuts):
    step, outs = row_stepper(module), []
    for start, stop in zip([0, *cuts], [*cuts, x.shape[2]]):
        outs.append(step(x[:, :, start:stop], stop == x.shape[2]))
    return torch.cat(outs, 2)


@settings(max_examples=15, deadline=None)
@given(
    key=st.sampled_from(["unet1", "paper1"]),
    height=st.integers(1, 12),
    width=st.integers(1, 6),
    cuts=st.lists(st.integers(1, 11), max_size=4),
)
def test_strips_give_the_rows_of_one_pass(random_models, key, height, width, cuts):
    model = load_model(random_models[key])
    m = model.spec.size_multiple
    x = torch.rand(1, 1, height * m, width * m, generator=torch.Generator().manual_seed(height * 31 + width))
    cuts = sorted({c * m for c in cuts if c < height})
    with torch.inference_mode():
        whole, streamed = model.module(x), _streamed(model.module, x, cuts)
    assert streamed.shape == whole.shape
    torch.testing.assert_close(streamed, whole, atol=1e-5, rtol=1e-5)


def test_bf16_strips_match_one_pass_bf16(color):
    module = color.module.to(memory_format=torch.channels_last)
    x = torch.rand(1, 3, 136, 72, generator=torch.Generator().manual_seed(1))
    x = x.contiguous(memory_format=torch.channels_last)
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
        whole, streamed = module(x).float(), _streamed(module, x, [8, 16, 64, 128]).float()
    torch.testing.assert_close(streamed, whole, atol=2e-2, rtol=0)
    assert (streamed - whole).abs().mean() < 1e-4


def test_residual_paper_net_streams():
    module = build_model("dcicnn", channels=1, residual=True).eval()
    x = torch.rand(1, 1, 40, 24, generator=torch.Generator().manual_seed(2))
    with torch.inference_mode():
        torch.testing.assert_close(_streamed(module, x, [8, 24]), module(x), atol=1e-5, rtol=1e-5)


def test_layers_it_does_not_know_fall_back_to_windows():
    module = DCICNN(batchnorm=False)
    module.body[1] = torch.nn.GELU()
    assert row_stepper(module) is None
    assert row_stepper(torch.nn.Conv2d(1, 1, 3, padding=1)) is None
    others = [{"dilation": 2, "padding": 2}, {"padding": 0}, {"stride": 2, "padding": 1}, {"padding_mode": "reflect"}]
    for other in others:
        module = DCICNN(batchnorm=False)
        module.body[0] = torch.nn.Conv2d(1, 64, 3, **{"padding": 1, **other})
        assert row_stepper(module) is None, other


@pytest.mark.parametrize("size, tile", [((201, 333), 32), ((1001, 90), 64), ((90, 1100), 64), ((17, 17), 16)])
def test_deblur_streams_like_windows_and_one_pass(gray, monkeypatch, size, tile):
    """Several bands and strips, a last strip with fewer real rows than its mirror padding."""
    image = np.random.default_rng(3).random(size).astype(np.float32)
    steps = []
    streamed = deblur(image, model=gray, tile_size=tile, progress=lambda done, total: steps.append(total))
    whole = deblur(image, model=gray, tile_size=None)
    monkeypatch.setattr(_tiling, "row_stepper", lambda module: None)
    windows = deblur(image, model=gray, tile_size=tile)
    assert np.abs(streamed - whole).max() <= 1e-5 and np.abs(windows - whole).max() <= 1e-5
    assert len(steps) == steps[0]


def test_strips_bound_the_pixels_in_flight(gray, monkeypatch):
    seen = []
    real = _tiling._Run.batch

    def spy(self, source, rows, cols):
        batch = real(self, source, rows, cols)
        seen.append(batch.shape[2:])
        return batch

    monkeypatch.setattr(_tiling._Run, "batch", spy)
    deblur(np.zeros((600, 1000), np.float32), model=gray, tile_size=64)
    widths = {w for _, w in seen}
    assert len(widths) == 1 and widths.pop() <= 4 * 64 + 2 * gray.halo  # bands of one width, with their overlap
    assert all(h * w <= max(64 * 64 // 2, 8 * w) for h, w in seen)  # strips of half a tile's pixels (or 8 rows)
    assert len(seen) > 1 and sum(h for h, _ in seen) % 600 == 0  # every band streams the whole height once


def test_environment_switch_selects_windows(gray, monkeypatch):
    image = np.random.default_rng(5).random((300, 90)).astype(np.float32)
    results, steps = {}, {}
    for switch in ("1", "0"):
        monkeypatch.setenv("DCI_CNN_STREAMING", switch)
        totals = []
        results[switch] = deblur(image, model=gray, tile_size=32, progress=lambda done, total, seen=totals: seen.append(total))
        steps[switch] = totals[0]
    assert np.abs(results["1"] - results["0"]).max() <= 1e-5
    # strips of half a 32-pixel tile's pixels: 8 rows of the full (padded) 304 x 96 plane; windows tile it in 2-D
    assert steps["1"] == 304 // 8 and steps["0"] != steps["1"]


@pytest.mark.parametrize("switch", ["1", "0"])
def test_strips_and_windows_run_with_freed_buffers_reused(gray, monkeypatch, switch):
    inside = []

    @contextlib.contextmanager
    def recording():
        inside.append(True)
        yield
        inside.append(False)

    monkeypatch.setenv("DCI_CNN_STREAMING", switch)
    monkeypatch.setattr(_tiling, "reuse_freed_buffers", recording)
    seen = []
    deblur(np.zeros((64, 64), np.float32), model=gray, tile_size=32, progress=lambda *_: seen.append(inside[-1]))
    assert seen and all(seen) and inside[-1] is False  # every step ran inside, and the context was left
