"""Tile plans: cores partition the plane; windows share one shape and cover each core's halo."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from dci_cnn._tiling import tile_plan


@given(
    multiple=st.sampled_from([1, 8]),
    height=st.integers(1, 80),
    width=st.integers(1, 80),
    tile=st.integers(1, 40),
    halo=st.integers(0, 4),
)
def test_plan_partitions_the_plane_into_equal_windows(multiple, height, width, tile, halo):
    height, width, halo = height * multiple, width * multiple, halo * multiple
    plan = tile_plan(height, width, tile * multiple, multiple, halo)
    covered = np.zeros((height, width), int)
    for (y0, y1, x0, x1), (wy0, wy1, wx0, wx1) in plan:
        covered[y0:y1, x0:x1] += 1
        assert y1 - y0 <= tile * multiple and x1 - x0 <= tile * multiple
        assert 0 <= wy0 and wy1 <= height and 0 <= wx0 and wx1 <= width
        # each core sees halo pixels of context on every side, or the plane's edge
        assert wy0 == 0 or wy0 <= y0 - halo
        assert wx0 == 0 or wx0 <= x0 - halo
        assert wy1 == height or wy1 >= y1 + halo
        assert wx1 == width or wx1 >= x1 + halo
        assert all(v % multiple == 0 for v in (y0, y1, x0, x1, wy0, wy1, wx0, wx1))
    assert (covered == 1).all()
    assert len({(wy1 - wy0, wx1 - wx0) for _, (wy0, wy1, wx0, wx1) in plan}) == 1


def test_one_tile_when_the_plane_fits():
    assert tile_plan(64, 48, 64, 8, 16) == [((0, 64, 0, 48), (0, 64, 0, 48))]
    assert tile_plan(64, 48, None, 8, 16) == [((0, 64, 0, 48), (0, 64, 0, 48))]


def test_cores_are_balanced():
    cores = {y1 - y0 for (y0, y1, _, _), _ in tile_plan(10000, 8, 2048, 8, 128)}
    assert cores == {2000}
