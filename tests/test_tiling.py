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
        assert wy1 - wy0 <= tile * multiple + 2 * halo and wx1 - wx0 <= tile * multiple + 2 * halo
        assert wy0 <= y0 < y1 <= wy1 and wx0 <= x0 < x1 <= wx1
        assert 0 <= wy0 and wy1 <= height and 0 <= wx0 and wx1 <= width
        # each core sees halo pixels of context on every side, or the plane's edge
        assert wy0 == 0 or wy0 <= y0 - halo
        assert wx0 == 0 or wx0 <= x0 - halo
        assert wy1 == height or wy1 >= y1 + halo
        assert wx1 == width or wx1 >= x1 + halo
        assert all(v % multiple == 0 for v in (y0, y1, x0, x1, wy0, wy1, wx0, wx1))
    assert (covered == 1).all()
    assert len({(wy1 - wy0, wx1 - wx0) for _, (wy0, wy1, wx0, wx1) in plan}) == 1


def test_one_tile_when_the_plane_fits_one_window():
    assert tile_plan(96, 48, 64, 8, 16) == [((0, 96, 0, 48), (0, 96, 0, 48))]
    assert tile_plan(640, 480, None, 8, 16) == [((0, 640, 0, 480), (0, 640, 0, 480))]


def test_windows_overlap_by_two_halos_only():
    plan = tile_plan(10000, 8, 2048, 8, 128)
    windows = [(wy0, wy1) for _, (wy0, wy1, _, _) in plan]
    assert windows == [(0, 2208), (1952, 4160), (3904, 6112), (5856, 8064), (7792, 10000)]
    # the work is the plane plus one 2-halo overlap per seam (and the rounding to the size multiple)
    assert sum(b - a for a, b in windows) <= 10000 + 2 * 128 * 4 + 5 * 8
