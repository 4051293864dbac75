"""plan_tiles: windows inside the raster, cores partition it; select_tiles counts skips."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detector.errors import ConfigError
from detector.imagery.tiling import Tile, Window, axis_spans, plan_tiles, select_tiles


@st.composite
def tile_args(draw, max_size=5000):
    tile = draw(st.integers(32, 1024))
    overlap = draw(st.integers(0, tile - 1))
    size = draw(st.integers(1, max_size))
    return size, tile, overlap


@settings(max_examples=400, deadline=None)
@given(tile_args())
def test_axis_spans_partition_and_inside(args):
    """Interval arithmetic per axis: windows inside [0, size), cores tile [0, size) exactly."""
    size, tile, overlap = args
    spans = axis_spans(size, tile, overlap)
    assert spans[0][2] == 0 and spans[-1][3] == size
    prev_end, prev_start = 0, -1
    for start, length, c0, c1 in spans:
        assert start >= 0 and start + length <= size  # inside the raster
        assert length == min(tile, size)
        assert c0 == prev_end and c1 > c0  # contiguous, non-empty cores
        assert start <= c0 and c1 <= start + length  # core inside its window
        assert start > prev_start
        prev_end, prev_start = c1, start
    if size > tile:
        starts = [s for s, *_ in spans]
        stride = tile - overlap
        assert starts[:-1] == list(range(0, stride * (len(starts) - 1), stride))
        assert starts[-1] == size - tile
        # neighbouring windows overlap by at least the requested overlap
        assert all(b - a <= stride for a, b in zip(starts, starts[1:], strict=False))


@settings(max_examples=60, deadline=None)
@given(tile_args(max_size=300), st.integers(1, 300))
def test_cores_cover_every_pixel_exactly_once(args, width):
    height, tile, overlap = args
    tiles = plan_tiles(height, width, tile_px=tile, overlap_px=overlap)
    cover = np.zeros((height, width), np.int32)
    seen = np.zeros((height, width), bool)
    for i, t in enumerate(tiles):
        assert t.index == i
        cover[t.core.slices] += 1
        w = t.window
        assert w.row_off >= 0 and w.col_off >= 0 and w.row_end <= height and w.col_end <= width
        assert w.height == min(tile, height) and w.width == min(tile, width)
        seen[w.slices] = True
    assert (cover == 1).all() and seen.all()


def test_known_plan():
    tiles = plan_tiles(1000, 600, tile_px=512, overlap_px=64)
    rows = sorted({(t.window.row_off, t.core.row_off, t.core.row_end) for t in tiles})
    cols = sorted({(t.window.col_off, t.core.col_off, t.core.col_end) for t in tiles})
    # rows: starts 0, 448 (= stride), then the last one shifted to 1000 - 512 = 488
    assert rows == [(0, 0, 480), (448, 480, 724), (488, 724, 1000)]
    assert cols == [(0, 0, 300), (88, 300, 600)]
    assert len(tiles) == 6 and tiles[1].window == Window(0, 88, 512, 512)


def test_raster_smaller_than_tile():
    (t,) = plan_tiles(100, 40, tile_px=512, overlap_px=64)
    assert t.window == t.core == Window(0, 0, 100, 40)


def test_exact_fit_no_duplicate_last_window():
    tiles = plan_tiles(512 + 448, 512, tile_px=512, overlap_px=64)
    assert [t.window.row_off for t in tiles] == [0, 448]


@pytest.mark.parametrize(
    ("h", "w", "tile", "overlap", "match"),
    [
        (100, 100, 16, 0, "too small"),
        (100, 100, 64, 64, "smaller than --tile"),
        (100, 100, 64, 100, "smaller than --tile"),
        (100, 100, 64, -1, ">= 0"),
        (0, 100, 64, 8, "at least 1 x 1"),
        (100, -5, 64, 8, "at least 1 x 1"),
        (100.5, 100, 64, 8, "integer"),
    ],
)
def test_bad_arguments(h, w, tile, overlap, match):
    with pytest.raises(ConfigError, match=match):
        plan_tiles(h, w, tile_px=tile, overlap_px=overlap)


def test_window_contains_half_open():
    core = Window(10, 20, 5, 5)
    x = np.array([20.0, 24.999, 25.0, 19.99, 22.0])
    y = np.array([10.0, 14.5, 12.0, 12.0, 15.0])
    np.testing.assert_array_equal(core.contains(x, y), [True, True, False, False, False])


def test_select_tiles_counts_nodata_and_aoi():
    height, width = 400, 400
    tiles = plan_tiles(height, width, tile_px=100, overlap_px=0)  # 4 x 4 tiles
    scale = 4.0  # 100 x 100 coarse masks
    valid = np.zeros((100, 100), bool)
    valid[:, :50] = True  # left half valid (tile columns 0 and 1)
    aoi = np.zeros((100, 100), bool)
    aoi[0:10, 0:10] = True  # only tile (0, 0)
    plan = select_tiles(tiles, valid=valid, aoi=aoi, scale=scale, height=height, width=width,
                        tile_px=100, overlap_px=0)  # fmt: skip
    assert plan.skipped_nodata == 8 and plan.skipped_aoi == 7
    assert [t.index for t in plan.tiles] == [0]
    assert (plan.height, plan.width, plan.tile_px, plan.overlap_px) == (400, 400, 100, 0)
    no_filter = select_tiles(tiles, valid=None, aoi=None, scale=1.0, height=400, width=400)
    assert len(no_filter.tiles) == 16 and no_filter.tile_px == 100
    assert isinstance(no_filter.tiles[0], Tile)


def test_select_tiles_fractional_scale_edge_pixel():
    """A window reaching into a coarse pixel only partially still sees it."""
    tiles = plan_tiles(100, 100, tile_px=50, overlap_px=0)
    valid = np.zeros((34, 34), bool)  # scale 3: 102 px
    valid[16, 16] = True  # covers rows/cols 48..51: tiles 0..3 all touch it
    plan = select_tiles(tiles, valid=valid, aoi=None, scale=3.0, height=100, width=100)
    assert len(plan.tiles) == 4
    valid[:] = False
    valid[33, 33] = True  # rows 99..101: only the bottom-right tile
    plan = select_tiles(tiles, valid=valid, aoi=None, scale=3.0, height=100, width=100)
    assert [t.index for t in plan.tiles] == [3] and plan.skipped_nodata == 3


def test_select_tiles_bad_scale():
    with pytest.raises(ConfigError):
        select_tiles((), valid=None, aoi=None, scale=0.0, height=1, width=1)


@settings(max_examples=300, deadline=None)
@given(tile_args(), st.sampled_from([2, 16, 32]))
def test_aligned_spans_start_on_the_stride_grid_and_partition(args, align):
    """With ``align_px``: every start a multiple of it (the network sees the whole frame's
    pixel phase), the stride a multiple of it no longer than tile - overlap, the last window
    reaching less than ``align`` past the end, cores partitioning [0, size) inside their
    windows."""
    size, tile, overlap = args
    spans = axis_spans(size, tile, overlap, align)
    assert spans[0][2] == 0 and spans[-1][3] == size
    prev_end = 0
    for start, length, c0, c1 in spans:
        assert start % align == 0 and length == min(tile, size)
        assert c0 == prev_end and c1 > c0 and start <= c0 and c1 <= start + length
        prev_end = c1
    starts = [s for s, *_ in spans]
    assert starts[-1] + min(tile, size) < size + align
    assert all(
        0 < b - a <= max(align, tile - overlap) for a, b in zip(starts, starts[1:], strict=False)
    )
    if tile - overlap >= align:  # neighbours overlap at least as asked
        assert all(b - a <= tile - overlap for a, b in zip(starts, starts[1:], strict=False))


@settings(max_examples=300, deadline=None)
@given(tile_args(), st.sampled_from([16, 32]), st.integers(0, 31))
def test_phased_spans_start_on_the_world_grid_and_partition(args, align, phase):
    """With a phase p: every start is p modulo ``align`` (the first may start before the
    raster, reading nodata, as the last may end after it), the cores still partition
    [0, size) inside their windows, and phase 0 is the unphased plan."""
    size, tile, overlap = args
    p = phase % align
    spans = axis_spans(size, tile, overlap, align, phase)
    assert spans[0][2] == 0 and spans[-1][3] == size
    assert spans[0][0] == (p - align if p else 0)
    prev_end = 0
    for start, length, c0, c1 in spans:
        assert (start - p) % align == 0 and start > -align and start + length < size + align
        assert c0 == prev_end and c1 > c0 and start <= c0 and c1 <= start + length
        prev_end = c1
    if not p:
        assert spans == axis_spans(size, tile, overlap, align)


def test_grid_phase_puts_two_crops_of_one_lattice_on_one_tile_grid():
    """A scene and a crop of it starting (13425, 14675) px further east and south: their
    tile starts, in the larger scene's pixels, fall on the same grid modulo 32."""
    from rasterio.transform import Affine

    from detector.imagery.tiling import grid_phase

    big = Affine(0.4, 0, 599463.7, 0, -0.4, 4684631.24)
    crop = big * Affine.translation(13425, 14675)
    (rb, cb), (rc, cc) = grid_phase(big, 32), grid_phase(crop, 32)
    assert ((rc + 14675 - rb) % 32, (cc + 13425 - cb) % 32) == (0, 0)
    assert grid_phase(big, 1) == (0, 0)
    assert grid_phase(Affine(0.4, 0.1, 0, 0.1, -0.4, 0), 32) == (0, 0)  # rotated: no phase
