"""``deblur`` on dask arrays: lazy, chunk by chunk, equal to the in-memory result; and under dask.distributed."""

import numpy as np
import pytest

da = pytest.importorskip("dask.array")

from dci_cnn import deblur


@pytest.fixture(autouse=True)
def float32_network(monkeypatch):
    """Run the network in float32 so chunked and in-memory results agree to float rounding."""
    import dci_cnn._deblur as core

    monkeypatch.setattr(core, "fast_dtype", lambda device: None)


def _assert_lazy_and_equal(image, chunks, atol=1e-5, **kwargs):
    lazy = deblur(da.from_array(image, chunks=chunks), **kwargs)
    assert isinstance(lazy, da.Array)
    assert lazy.shape == image.shape
    expected = deblur(image, **kwargs)
    assert lazy.dtype == expected.dtype
    computed = lazy.compute(scheduler="synchronous")
    assert isinstance(computed, np.ndarray)
    np.testing.assert_allclose(computed, expected, atol=atol)
    return lazy


def test_gray_equals_in_memory(random_models):
    image = np.random.default_rng(0).random((201, 253)).astype(np.float32)
    lazy = _assert_lazy_and_equal(image, (100, 120), model=random_models["unet1"])
    assert lazy.numblocks[0] > 1 and lazy.numblocks[1] > 1


def test_uint8_rgb_equals_in_memory(random_models):
    image = np.random.default_rng(1).integers(0, 256, (150, 200, 3), dtype=np.uint8)
    _assert_lazy_and_equal(image, (64, 96, 3), model=random_models["unet3"], channel_axis=-1)


def test_channels_first_split_channels_are_joined(random_models):
    image = np.random.default_rng(2).random((3, 150, 140)).astype(np.float32)
    _assert_lazy_and_equal(image, (1, 70, 70), model=random_models["unet3"], channel_axis=0)


def test_stack_of_planes_equals_in_memory(random_models):
    image = np.random.default_rng(3).integers(0, 4096, (2, 120, 136), dtype=np.uint16)
    _assert_lazy_and_equal(image, (1, 64, 64), model=random_models["unet1"], preserve_range=True)


def test_paper_net_equals_in_memory(random_models):
    image = np.random.default_rng(4).random((97, 131)).astype(np.float32)
    _assert_lazy_and_equal(image, (40, 50), model=random_models["paper1"])


def test_nothing_runs_until_computed(random_models, monkeypatch):
    import dci_cnn._deblur as core

    calls = []
    real = core.deblur_array
    monkeypatch.setattr(core, "deblur_array", lambda *a, **k: calls.append(1) or real(*a, **k))
    lazy = deblur(da.zeros((192, 192), chunks=96, dtype=np.uint8), model=random_models["unet1"])
    assert calls == []
    lazy.compute(scheduler="synchronous")
    assert len(calls) == 4


@pytest.mark.slow
def test_distributed_workers_load_weights_once(random_models):
    distributed = pytest.importorskip("distributed")
    image = np.random.default_rng(5).random((288, 384)).astype(np.float32)
    expected = deblur(image, model=random_models["unet1"])

    def float32_there():
        import dci_cnn._deblur as core

        core.fast_dtype = lambda device: None

    def weights_reads_there():
        from dci_cnn.weights import _load_cached

        info = _load_cached.cache_info()
        return info.misses, info.hits + info.misses

    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=40
    ) as cluster, distributed.Client(cluster) as client:
        client.run(float32_there)
        lazy = deblur(da.from_array(image, chunks=(96, 96)), model=random_models["unet1"])
        assert lazy.numblocks == (3, 4)
        np.testing.assert_allclose(lazy.compute(), expected, atol=1e-5)
        np.testing.assert_allclose(lazy.compute(), expected, atol=1e-5)  # again: weights stay loaded
        reads = client.run(weights_reads_there)
    assert len(reads) == 2
    assert sum(calls for _, calls in reads.values()) >= 2 * 12, reads
    # every worker that ran blocks read the weights from disk exactly once
    assert all(misses == (1 if calls else 0) for misses, calls in reads.values()), reads
