"""Geometric self-ensemble: the mean over 8 flips and rotations, equivariant, tiling-invariant, wired through."""

import dask.array as da
import numpy as np
import pytest

from dci_cnn import deblur
from dci_cnn.cli import main as cli_main
from dci_cnn.evaluate import main as evaluate_main


def _transforms(image):
    for turns in range(4):
        for flip in (False, True):
            t = np.rot90(image, turns, (0, 1))
            t = t[:, ::-1] if flip else t
            yield np.ascontiguousarray(t), turns, flip


def _undo(image, turns, flip):
    return np.rot90(image[:, ::-1] if flip else image, -turns, (0, 1))


def test_is_the_mean_of_the_eight_transformed_passes(gray):
    image = np.random.default_rng(0).random((48, 64)).astype(np.float32)  # multiples of 8: no padding
    passes = [_undo(deblur(t, model=gray, tile_size=None), turns, flip) for t, turns, flip in _transforms(image)]
    expected = np.clip(np.mean([np.asarray(p, np.float64) for p in passes], axis=0), 0, 1)
    # each single pass is clipped to [0, 1]; the ensemble clips the mean, so compare where no pass was clipped
    inside = np.all([(p > 0) & (p < 1) for p in passes], axis=0)
    got = deblur(image, model=gray, tile_size=None, self_ensemble=True)
    assert inside.mean() > 0.5
    np.testing.assert_allclose(got[inside], expected[inside], atol=1e-5)


def test_output_follows_flips_and_rotations_of_the_input(color):
    image = np.random.default_rng(1).random((40, 56, 3)).astype(np.float32)
    restored = deblur(image, model=color, channel_axis=-1, tile_size=None, self_ensemble=True)
    for t, turns, flip in _transforms(image):
        got = deblur(t, model=color, channel_axis=-1, tile_size=None, self_ensemble=True)
        np.testing.assert_allclose(_undo(got, turns, flip), restored, atol=1e-5)


@pytest.mark.parametrize("size, tile", [((131, 277), 48), ((250, 90), 64)])
def test_tiled_equals_untiled(gray, size, tile):
    image = np.random.default_rng(2).random(size).astype(np.float32)
    whole = deblur(image, model=gray, tile_size=None, self_ensemble=True)
    np.testing.assert_allclose(deblur(image, model=gray, tile_size=tile, self_ensemble=True), whole, atol=1e-5)
    assert np.abs(whole - deblur(image, model=gray, tile_size=None)).max() > 1e-3


def test_dask_equals_numpy(gray):
    image = np.random.default_rng(3).random((100, 120)).astype(np.float32)
    lazy = deblur(da.from_array(image, chunks=(48, 64)), model=gray, self_ensemble=True)
    np.testing.assert_allclose(lazy.compute(), deblur(image, model=gray, self_ensemble=True), atol=1e-5)


def test_flag_must_be_a_bool(gray):
    with pytest.raises(TypeError, match="self_ensemble must be True or False"):
        deblur(np.zeros((8, 8)), model=gray, self_ensemble="yes")


def test_cli_and_evaluate_pass_it_on(random_models, tmp_path, monkeypatch):
    import shutil

    from PIL import Image
    from skimage import data

    from dci_cnn import model_card

    seen = []
    import dci_cnn._deblur as core

    original = core.deblur_array
    monkeypatch.setattr(core, "deblur_array", lambda *a, **k: seen.append(k["self_ensemble"]) or original(*a, **k))
    folder = tmp_path / "set"
    folder.mkdir()
    Image.fromarray(data.camera()[:40, :48]).save(folder / "c.png")
    assert cli_main(["deblur", str(folder / "c.png"), "-o", str(tmp_path / "out"), "--model", random_models["unet1"],
                     "--self-ensemble", "--quiet"]) == 0
    model = tmp_path / "m.safetensors"
    shutil.copy(random_models["unet1"], model)
    shutil.copy(random_models["unet1"].replace(".safetensors", ".json"), model.with_suffix(".json"))
    assert evaluate_main(["--data", str(folder), "--model", str(model), "--quality", "20", "--self-ensemble", "--record"]) == 0
    assert seen == [True, True]
    assert "QF20" in model_card(model)["metrics"]["set"]["jpeg self-ensemble"]
