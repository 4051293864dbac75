"""Scene data types and low-level dataset helpers shared by :mod:`detector.imagery.raster`'s parts.

Public names are re-exported by :mod:`detector.imagery.raster`; import them from there.
"""

from __future__ import annotations

import contextlib
import logging
import math
import warnings
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
from affine import Affine
from shapely.geometry import Polygon

from ..errors import SceneFormatError
from .meta import View
from .stretch import Stretch

__all__ = [
    "CANONICAL_GSD_M",
    "DEFAULT_GSD_RANGE_M",
    "MAX_SIDE_PX",
    "MAX_PIXELS",
    "SAMPLE_SIDE_PX",
    "MASK_KINDS",
    "Grid",
    "Scene",
    "SceneNoCRSError",
    "TileImage",
    "utm_epsg",
]

log = logging.getLogger("detector.imagery.raster")

CANONICAL_GSD_M = 0.4
#: Native scene GSDs (metres per pixel) a model supports when its weights file does not say
#: (:class:`detector.model.weights.ModelMeta` ``gsd_range_m``): the shipped model trained on
#: scenes rendered at 0.3-0.6 m and resampled to 0.4 m; beyond 1 m a 20-ft container is
#: under 6 x 2.4 px, and below 0.15 m resampling by 1/3 and less has not been tested.
DEFAULT_GSD_RANGE_M: tuple[float, float] = (0.15, 1.0)
MAX_SIDE_PX = 1_000_000  # declared sizes beyond these are corrupt headers, not scenes
MAX_PIXELS = 2e10
SAMPLE_SIDE_PX = 1024  # the stretch / coarse-mask sample is at most this many px a side
MASK_KINDS = ("none", "nodata", "alpha", "mask")


class SceneNoCRSError(SceneFormatError):
    """The scene has no CRS (and no ``gsd_m`` was given to read it as local metres)."""


@dataclass(frozen=True)
class Grid:
    """A pixel grid: ``width`` x ``height`` pixels; ``transform`` maps (col, row) to map x, y
    in ``crs`` (a rasterio CRS; None for an ungeoreferenced scene read as local metres)."""

    width: int
    height: int
    transform: Affine
    crs: object | None

    @property
    def gsd_m(self) -> float:
        t = self.transform
        return float(math.sqrt(abs(t.a * t.e - t.b * t.d)))


@dataclass(frozen=True)
class Scene:
    """What :func:`open_scene` learned about a scene file (native pixel grid)."""

    path: Path
    id: str  # file stem
    width: int
    height: int
    band_count: int
    bands: tuple[int, ...]  # selected, 1-based; 1 or 3 of them
    dtype: str
    crs: object | None  # rasterio CRS
    epsg: int | None
    transform: Affine
    gsd_m: float
    nodata: float | None
    alpha_band: int | None
    overviews: tuple[int, ...]
    block_shape: tuple[int, int]  # (rows, cols) of band 1's blocks
    tiled: bool
    acquired: datetime | None  # UTC-aware
    port: str | None
    footprint: Polygon  # lon/lat; empty when the scene has no CRS
    stretch: Stretch
    mask_kind: str = "none"  # one of MASK_KINDS: where validity comes from
    colorinterp: tuple[str, ...] = ()
    # valid-pixel mask of the open-time sample (native frame, rows x cols), reused by readers
    coarse_native: np.ndarray | None = field(default=None, compare=False, repr=False)
    stretch_from: str = "scene"  # which pixels the stretch was computed from (ccount info)
    view: View | None = None  # the satellite's direction, when the product's tags give it

    @property
    def grid(self) -> Grid:
        """The native pixel grid."""
        return Grid(self.width, self.height, self.transform, self.crs)


@dataclass(frozen=True, eq=False)
class TileImage:
    """One read window: ``image`` float32 ``[3, h, w]`` in 0..1 after the scene stretch (a
    1-band scene repeated to 3 channels; invalid pixels 0); ``valid`` bool ``[h, w]``."""

    image: np.ndarray
    valid: np.ndarray


@contextlib.contextmanager
def _quiet():
    """Silence rasterio's not-georeferenced warning and GDAL error log lines (errors still
    raise as exceptions and are reported once, by us)."""
    from rasterio.errors import NotGeoreferencedWarning

    rlog = logging.getLogger("rasterio")
    old = rlog.level
    if not log.isEnabledFor(logging.DEBUG):
        rlog.setLevel(logging.CRITICAL)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            yield
    finally:
        rlog.setLevel(old)


def _short(err: BaseException) -> str:
    """One line of the most specific message in an exception chain (GDAL's own text)."""
    while err.__cause__ is not None and str(err.__cause__).strip():
        err = err.__cause__
    return " ".join(str(err).split())[:200]


def utm_epsg(lon: float, lat: float) -> int:
    """EPSG code of the WGS84 UTM zone holding (lon, lat)."""
    zone = min(60, max(1, int((lon + 180.0) // 6.0) + 1))
    return (32600 if lat >= 0 else 32700) + zone


def _colorinterp_names(ds) -> tuple[str, ...]:
    return tuple(ci.name for ci in ds.colorinterp)


def _mask_kind(ds) -> tuple[str, int | None]:
    from rasterio.enums import MaskFlags

    ci = _colorinterp_names(ds)
    alpha_band = ci.index("alpha") + 1 if "alpha" in ci else None
    flags = ds.mask_flag_enums[0] if ds.count else ()
    if MaskFlags.per_dataset in flags:
        return ("alpha" if MaskFlags.alpha in flags else "mask"), alpha_band
    if MaskFlags.nodata in flags:
        return "nodata", alpha_band
    return "none", alpha_band


def _select_bands(path: Path, ds, bands) -> tuple[int, ...]:
    count = ds.count
    ci = _colorinterp_names(ds)
    if bands is None:
        data = [i + 1 for i, c in enumerate(ci) if c != "alpha"] or [1]
        if all(c in ci for c in ("red", "green", "blue")):
            return tuple(ci.index(c) + 1 for c in ("red", "green", "blue"))
        return tuple(data[:3]) if len(data) >= 3 else (data[0],)
    try:
        sel = tuple(int(b) for b in bands)
    except (TypeError, ValueError):
        raise SceneFormatError(
            f"{path}: band selection {bands!r} is not a list of integers"
        ) from None
    if len(sel) not in (1, 3):
        raise SceneFormatError(
            f"{path}: select 1 or 3 bands (got {len(sel)}: {sel}); e.g. --bands 1,2,3 or --bands 1"
        )
    bad = [b for b in sel if not 1 <= b <= count]
    if bad:
        raise SceneFormatError(
            f"{path}: band {bad[0]} does not exist; the file has bands 1..{count}"
        )
    return sel


def _sample_shape(height: int, width: int, max_side: int = SAMPLE_SIDE_PX) -> tuple[int, int]:
    f = max(1.0, max(height, width) / max_side)
    return max(1, round(height / f)), max(1, round(width / f))


def _read_valid(ds, kind: str, indexes, *, window=None, out_shape) -> np.ndarray:
    """Valid-pixel mask ``[h, w]`` (bool) for ``window`` read at ``out_shape`` (nearest)."""
    from rasterio.enums import Resampling

    if kind == "none":
        return np.ones(out_shape, dtype=bool)
    idx = list(dict.fromkeys(indexes)) if kind == "nodata" else [indexes[0]]
    m = ds.read_masks(
        idx, window=window, out_shape=(len(idx), *out_shape), resampling=Resampling.nearest
    )
    return (m > 0).any(axis=0)
