"""Tile planning: a pure function of (height, width, tile, overlap) -> windows with cores.

Along each axis of length ``size`` (cf. torchgeo ``tile_to_chips``, SAHI
``get_slice_bboxes``)::

    stride = tile_px - overlap_px
    starts = 0, stride, 2*stride, ...  while start + tile_px < size,
             then one last start = size - tile_px      (the last window shifts inside)
    if size <= tile_px: one window [0, size)           (the raster is smaller than a tile)

Every window therefore lies inside the raster. With ``align_px`` = a > 1 (the network's
total stride, so that every tile sees the same pixel grid phase as the whole frame would:
a strided network's output at a pixel depends on its position modulo its stride), the
stride is rounded down to a multiple of a (at least a), and the last start is
``size - tile_px`` rounded *up* to a multiple of a: the last window may reach up to a - 1 px
past the end, where it reads nodata (zeros), as the network's own padding of the whole
frame would. With a phase ``p`` (0 <= p < a, :func:`grid_phase`) the starts lie on
``p + k*a`` instead: the first window starts at ``p - a`` (reading a - p px of nodata before
the raster), so that the tile grid sits on a grid fixed in the world, and the same ground
pixels give the same detections in any scene that shares their pixel lattice (a port alone,
or pasted into a 12 km strip of sea). Consecutive windows ``[s_i, s_i + tile)`` and
``[s_{i+1}, s_{i+1} + tile)`` overlap on ``[s_{i+1}, s_i + tile)``; the boundary between
their *cores* is the middle of that overlap, ``m_i = (s_{i+1} + s_i + tile_px) // 2``.
Core i is ``[m_{i-1}, m_i)`` with ``m_{-1} = 0`` and ``m_last = size``, so the cores
partition the raster (every pixel lies in exactly one core) and each core lies inside its
window. A detection belongs to the one tile whose core holds its centre.

Windows are in pixels of the frame the plan was made for (the model frame): row_off/col_off
of the top-left pixel, height/width in pixels; pixel (r, c) covers ``[c, c+1) x [r, r+1)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError

__all__ = [
    "MIN_TILE_PX",
    "Window",
    "Tile",
    "TilePlan",
    "plan_tiles",
    "select_tiles",
    "axis_spans",
    "grid_phase",
]

MIN_TILE_PX = 32


@dataclass(frozen=True)
class Window:
    """A pixel window: rows ``[row_off, row_off + height)``, cols ``[col_off, col_off + width)``."""

    row_off: int
    col_off: int
    height: int
    width: int

    @property
    def row_end(self) -> int:
        return self.row_off + self.height

    @property
    def col_end(self) -> int:
        return self.col_off + self.width

    @property
    def slices(self) -> tuple[slice, slice]:
        """``(rows, cols)`` slices for indexing an ``[..., H, W]`` array."""
        return slice(self.row_off, self.row_end), slice(self.col_off, self.col_end)

    def contains(self, x, y) -> np.ndarray:
        """Whether continuous points (x = col, y = row; arrays) fall inside ``[col_off,
        col_end) x [row_off, row_end)``: the core-ownership test for detection centres."""
        x, y = np.asarray(x), np.asarray(y)
        return (x >= self.col_off) & (x < self.col_end) & (y >= self.row_off) & (y < self.row_end)


@dataclass(frozen=True)
class Tile:
    """``window``: the pixels read for the tile; ``core``: the part it owns (inside window)."""

    index: int
    window: Window
    core: Window


@dataclass(frozen=True)
class TilePlan:
    height: int
    width: int
    tile_px: int
    overlap_px: int
    tiles: tuple[Tile, ...]  # kept tiles, in plan order (indices from plan_tiles)
    skipped_nodata: int  # tiles whose window holds no valid pixel
    skipped_aoi: int  # tiles with valid pixels but touching no AOI pixel


def _check(height: int, width: int, tile_px: int, overlap_px: int) -> None:
    for name, v in (
        ("height", height),
        ("width", width),
        ("tile", tile_px),
        ("overlap", overlap_px),
    ):
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool):
            raise ConfigError(f"{name} must be an integer number of pixels, got {v!r}")
    if height < 1 or width < 1:
        raise ConfigError(f"raster size must be at least 1 x 1 px, got {width} x {height}")
    if tile_px < MIN_TILE_PX:
        raise ConfigError(f"--tile {tile_px} is too small; use at least {MIN_TILE_PX} px")
    if overlap_px < 0:
        raise ConfigError(f"--overlap {overlap_px} must be >= 0")
    if overlap_px >= tile_px:
        raise ConfigError(f"--overlap {overlap_px} must be smaller than --tile {tile_px}")


def axis_spans(
    size: int, tile_px: int, overlap_px: int, align_px: int = 1, phase_px: int = 0
) -> tuple[tuple[int, int, int, int], ...]:
    """Per-axis ``(start, length, core_start, core_end)`` tuples following the module formula
    (``align_px``: starts on multiples of it, shifted by ``phase_px``; see there)."""
    _check(size, size, tile_px, overlap_px)
    a = int(align_px)
    if a < 1:
        raise ConfigError(f"tile alignment must be >= 1 px, got {align_px}")
    p = int(phase_px) % a
    first = p - a if p else 0
    if size - first <= tile_px:
        return ((first, size - first, 0, size),)
    stride = max(a, (tile_px - overlap_px) // a * a)
    last = first + -(-(size - tile_px - first) // a) * a
    starts = list(range(first, size - tile_px, stride)) + [last]
    bounds = (
        [0] + [(b + a + tile_px) // 2 for a, b in zip(starts, starts[1:], strict=False)] + [size]
    )
    return tuple((s, tile_px, bounds[i], bounds[i + 1]) for i, s in enumerate(starts))


def grid_phase(transform, align_px: int) -> tuple[int, int]:
    """``(row, col)`` phase of a frame's tile grid (``transform``: its affine, north up) that
    puts tile starts on multiples of ``align_px`` pixels counted from the CRS's origin: so
    two scenes on the same pixel lattice (one cut from the other) run their shared pixels
    through the network at the same offset modulo its stride. (0, 0) for a rotated frame or
    ``align_px`` <= 1."""
    a = int(align_px)
    if a <= 1 or transform.b or transform.d or not transform.a or not transform.e:
        return 0, 0
    col0 = math.floor(transform.c / transform.a + 0.5)
    row0 = math.floor(transform.f / transform.e + 0.5)
    return int(-row0 % a), int(-col0 % a)


def plan_tiles(
    height: int, width: int, *, tile_px: int, overlap_px: int, align_px: int = 1,
    phase_px: tuple[int, int] = (0, 0),
) -> tuple[Tile, ...]:  # fmt: skip
    """Tiles covering a ``height`` x ``width`` raster, row-major; see the module docstring for
    the formula (and ``align_px``, ``phase_px`` = (row, col) phase). Raises :class:`ConfigError` for tile < 32 px, overlap < 0,
    overlap >= tile, or an empty raster."""
    _check(height, width, tile_px, overlap_px)
    rows = axis_spans(height, tile_px, overlap_px, align_px, phase_px[0])
    cols = axis_spans(width, tile_px, overlap_px, align_px, phase_px[1])
    tiles = []
    for r0, rh, cr0, cr1 in rows:
        for c0, cw, cc0, cc1 in cols:
            tiles.append(
                Tile(
                    index=len(tiles),
                    window=Window(r0, c0, rh, cw),
                    core=Window(cr0, cc0, cr1 - cr0, cc1 - cc0),
                )
            )
    return tuple(tiles)


def _any_in(mask: np.ndarray, win: Window, scale: float) -> bool:
    r0 = max(0, math.floor(win.row_off / scale))
    c0 = max(0, math.floor(win.col_off / scale))
    r1 = min(mask.shape[0], math.ceil(win.row_end / scale))
    c1 = min(mask.shape[1], math.ceil(win.col_end / scale))
    return bool(r1 > r0 and c1 > c0 and mask[r0:r1, c0:c1].any())


def select_tiles(
    tiles,
    *,
    valid: np.ndarray | None,
    aoi: np.ndarray | None,
    scale: float,
    height: int,
    width: int,
    tile_px: int | None = None,
    overlap_px: int | None = None,
) -> TilePlan:
    """Keep the tiles worth reading.

    ``valid``: bool ``[h, w]`` coarse valid-pixel mask (e.g. ``SceneReader.coarse_valid()``);
    ``aoi``: bool mask on the same coarse grid (e.g. :func:`detector.imagery.raster.rasterize_aoi`
    with the same ``scale``); either may be None (no filtering). ``scale``: frame px per
    mask px; mask pixel (i, j) covers rows ``[i*scale, (i+1)*scale)``. A tile is dropped
    (and counted in ``skipped_nodata``) when its window covers no valid mask pixel, else
    (counted in ``skipped_aoi``) when it covers no AOI pixel. ``tile_px``/``overlap_px`` are
    recorded in the plan (default: the largest window side, and 0).
    """
    if not (scale > 0 and math.isfinite(scale)):
        raise ConfigError(f"mask scale must be a positive number, got {scale}")
    for name, m in (("valid", valid), ("aoi", aoi)):
        if m is not None and np.ndim(m) != 2:
            raise ConfigError(f"{name} mask must be 2-D [h, w], got shape {np.shape(m)}")
    tiles = tuple(tiles)
    kept, n_nodata, n_aoi = [], 0, 0
    for t in tiles:
        if valid is not None and not _any_in(valid, t.window, scale):
            n_nodata += 1
        elif aoi is not None and not _any_in(aoi, t.window, scale):
            n_aoi += 1
        else:
            kept.append(t)
    if tile_px is None:
        tile_px = max((max(t.window.height, t.window.width) for t in tiles), default=0)
    return TilePlan(
        height=height,
        width=width,
        tile_px=int(tile_px),
        overlap_px=int(overlap_px or 0),
        tiles=tuple(kept),
        skipped_nodata=n_nodata,
        skipped_aoi=n_aoi,
    )
