"""Where each container is: on a ship's deck (which ship), on rail, on a quay, or in a yard.

Frames: detections, hull label maps and AOI polygons here are all in the scene's *model frame*
pixels (x = column, y = row; see :mod:`detector.detect.inference`). Ship hulls come from
:mod:`detector.detect.hulls`.

Regions, by precedence: centre on a hull -> ``deck`` of that ship; else in an AOI ``rail``
polygon -> ``rail``; in a ``pier`` or ``quay`` polygon -> ``quay``; else ``yard``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import shapely
from shapely.affinity import affine_transform
from shapely.geometry import Polygon
from shapely.ops import unary_union

from ..detections import Detections
from ..imagery.aoi import PortAOI, project

if TYPE_CHECKING:
    from .hulls import ShipHulls

__all__ = [
    "REGIONS",
    "PixelAOI",
    "Regions",
    "LAND_KINDS",
    "aoi_pixels",
    "land_union",
    "berth_of",
    "assign_regions",
]

REGIONS = ("deck", "quay", "yard", "rail")
_QUAY_KINDS = ("pier", "quay")
#: AOI kinds that are dry land: a ship cannot lie on them
LAND_KINDS = (*_QUAY_KINDS, "yard", "rail")


@dataclass(frozen=True)
class PixelAOI:
    """One AOI feature with its polygon in model-frame pixels (x = col, y = row)."""

    name: str
    kind: str
    polygon: Polygon


@dataclass(frozen=True)
class Regions:
    """Per-container location, all arrays [N] in detection order.

    ``region`` str (one of :data:`REGIONS`); ``ship_index`` int64 (index into the hulls, -1
    off deck); ``ship`` names (None off deck); ``in_aoi`` name -> bool [N] membership.
    """

    region: np.ndarray
    ship_index: np.ndarray
    ship: tuple[str | None, ...]
    in_aoi: dict[str, np.ndarray]


def aoi_pixels(port_aoi: PortAOI, grid) -> tuple[PixelAOI, ...]:
    """The port's AOI polygons in ``grid``'s pixel frame (``grid.crs``, ``grid.transform``)."""
    inv = ~grid.transform
    coeffs = [inv.a, inv.b, inv.d, inv.e, inv.c, inv.f]
    out = []
    for f in port_aoi.features:
        poly = affine_transform(project(f.polygon, grid.crs), coeffs)
        out.append(PixelAOI(f.name, f.kind, poly))
    return tuple(out)


def land_union(aoi: Sequence[PixelAOI]):
    """Union of the land AOI features (:data:`LAND_KINDS`), prepared for point tests; None
    without any."""
    land = [f.polygon for f in aoi if f.kind in LAND_KINDS and not f.polygon.is_empty]
    if not land:
        return None
    union = unary_union(land)
    shapely.prepare(union)
    return union


def berth_of(polygon_px: np.ndarray, aoi: Sequence[PixelAOI]) -> str | None:
    """Name of the ``berth`` AOI feature the hull polygon overlaps most, or None."""
    hull = Polygon(polygon_px).buffer(0)
    best, best_a = None, 0.0
    for f in aoi:
        if f.kind != "berth":
            continue
        a = hull.intersection(f.polygon).area
        if a > best_a:
            best, best_a = f.name, a
    return best


def assign_regions(dets: Detections, hulls: ShipHulls, aoi: Sequence[PixelAOI] = ()) -> Regions:
    """Region, ship and AOI membership of each detection (centres in model-frame pixels).

    A centre is on a hull when its map cell, or a neighbouring one (one cell of slack for the
    coarse mask's edge), belongs to that hull's component.
    """
    n = len(dets)
    x, y = dets.cx, dets.cy
    ship_index = np.full(n, -1, np.int64)
    if n and hulls.hulls:
        s = hulls.stride_px
        r_scene = np.floor(y / s).astype(np.int64)
        c_scene = np.floor(x / s).astype(np.int64)
    for row0, col0, lab in hulls.label_parts() if n and hulls.hulls else ():
        if not lab.size:
            continue
        r, c = r_scene - row0, c_scene - col0
        # the centre's cell first, then its 8 neighbours
        for dr, dc in (
            (0, 0),
            (-1, 0),
            (1, 0),
            (0, -1),
            (0, 1),
            (-1, -1),
            (-1, 1),
            (1, -1),
            (1, 1),
        ):
            rr, cc = r + dr, c + dc
            ok = (
                (ship_index < 0) & (rr >= 0) & (cc >= 0) & (rr < lab.shape[0]) & (cc < lab.shape[1])
            )
            k = np.zeros(n, np.int64)
            k[ok] = lab[rr[ok], cc[ok]]
            ship_index = np.where(ok & (k > 0), k - 1, ship_index)
    in_aoi = {f.name: shapely.contains_xy(f.polygon, x, y) for f in aoi}

    def any_kind(*kinds: str) -> np.ndarray:
        m = np.zeros(n, bool)
        for f in aoi:
            if f.kind in kinds:
                m |= in_aoi[f.name]
        return m

    region = np.full(n, "yard", dtype=object)
    region[any_kind(*_QUAY_KINDS)] = "quay"
    region[any_kind("rail")] = "rail"
    region[ship_index >= 0] = "deck"
    ship = tuple(hulls.hulls[i].name if i >= 0 else None for i in ship_index)
    return Regions(region.astype(str), ship_index, ship, in_aoi)
