"""A port's AOI features on a scene's pixel grid, land/water, and truth regions.

The scene grid is north-up UTM (the port's zone from :func:`detector.imagery.aoi.load_port`):
``transform = Affine(gsd, 0, x0, 0, -gsd, y0)``; pixel (col, row) -> map (x, y). AOI
polygons are projected from lon/lat and then to pixels (float (x, y), the
:mod:`detector.detections` frame).

Land and water: piers, quays, yards and rail polygons are land, berths are water; beyond the
AOI, everything on the landward side of the quay line (map y >= the southern edge of the
quays; the three ports face south) is land, the rest is sea.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import shapely
from affine import Affine
from shapely.geometry import Polygon

from ..detections import Detections
from ..errors import ConfigError
from ..imagery.aoi import load_port, project
from .render import polygon_mask

__all__ = [
    "PixelFeature",
    "PortMap",
    "assign_regions",
    "feature_centre_m",
    "port_map",
    "scene_grid",
]


@dataclass(frozen=True)
class PixelFeature:
    name: str
    kind: str  # pier | quay | berth | yard | rail | port
    polygon: Polygon  # pixel (x, y)

    @property
    def xy(self) -> np.ndarray:
        """float64 [K, 2] exterior ring without the closing vertex."""
        return np.asarray(self.polygon.exterior.coords)[:-1]


@dataclass(frozen=True)
class PortMap:
    """The AOI of ``port`` on a ``width`` x ``height`` grid (``transform``, ``epsg``)."""

    port: str
    epsg: int
    width: int
    height: int
    transform: Affine
    features: tuple[PixelFeature, ...]
    coast_y_m: float  # map y of the quay line (land to the north)

    @property
    def gsd_m(self) -> float:
        return float(self.transform.a)

    @property
    def shape(self) -> tuple[int, int]:
        return (self.height, self.width)

    def of_kind(self, *kinds: str) -> tuple[PixelFeature, ...]:
        return tuple(f for f in self.features if f.kind in kinds)

    def feature(self, name: str) -> PixelFeature:
        for f in self.features:
            if f.name == name:
                return f
        names = ", ".join(f.name for f in self.features)
        raise ConfigError(f"{self.port}: no AOI feature {name!r}; have {names}")

    def mask(self, *kinds_or_names: str) -> np.ndarray:
        """uint8 [H, W] union of the features of these kinds or names."""
        polys = [
            f.xy for f in self.features if f.kind in kinds_or_names or f.name in kinds_or_names
        ]
        return polygon_mask(self.shape, polys)

    def land_mask(self) -> np.ndarray:
        """uint8 [H, W]: 1 on land (piers, quays, yards, rail, the hinterland)."""
        t = self.transform
        rows = np.arange(self.height) + 0.5
        north = (t.f + t.e * rows) >= self.coast_y_m
        land = np.repeat(north[:, None], self.width, axis=1).astype(np.uint8)
        land |= self.mask("pier", "quay", "yard", "rail")
        land &= 1 - self.mask("berth")
        return land

    def to_px(self, x_m, y_m) -> tuple[np.ndarray, np.ndarray]:
        """Map (x, y) -> pixel (col, row) (float, arrays or scalars)."""
        return apply_affine(~self.transform, x_m, y_m)

    def to_map(self, col, row) -> tuple[np.ndarray, np.ndarray]:
        """Pixel (col, row) -> map (x, y)."""
        return apply_affine(self.transform, col, row)


def apply_affine(t: Affine, x, y) -> tuple[np.ndarray, np.ndarray]:
    """(x', y') = t applied to coordinate arrays (element-wise)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    return t.a * x + t.b * y + t.c, t.d * x + t.e * y + t.f


def scene_grid(centre_xy_m: tuple[float, float], gsd_m: float, width: int, height: int) -> Affine:
    """North-up transform of a ``width`` x ``height`` grid centred on ``centre_xy_m``."""
    x0 = centre_xy_m[0] - width * gsd_m / 2
    y0 = centre_xy_m[1] + height * gsd_m / 2
    return Affine(gsd_m, 0.0, x0, 0.0, -gsd_m, y0)


@lru_cache(maxsize=8)
def _utm_features(port: str) -> tuple[int, tuple[tuple[str, str, Polygon], ...]]:
    """(UTM EPSG, (name, kind, UTM polygon) per AOI feature) of a port, cached."""
    aoi = load_port(port)
    return aoi.utm_epsg, tuple(
        (f.name, f.kind, project(f.polygon, aoi.utm_epsg)) for f in aoi.features
    )


def port_map(port: str, *, centre_xy_m, gsd_m: float, width: int, height: int) -> PortMap:
    """Project the AOI of ``port`` onto a scene grid centred on ``centre_xy_m`` (UTM)."""
    epsg, utm_feats = _utm_features(port)
    transform = scene_grid(centre_xy_m, gsd_m, width, height)
    inv = ~transform
    feats = []
    quay_south = []
    for name, kind, utm in utm_feats:
        xy = np.asarray(utm.exterior.coords)
        if kind == "quay":
            quay_south.append(float(xy[:, 1].min()))
        cols, rows = apply_affine(inv, xy[:, 0], xy[:, 1])
        feats.append(PixelFeature(name, kind, Polygon(np.stack([cols, rows], axis=1))))
    if not quay_south:
        raise ConfigError(f"{port}: AOI has no quay feature, cannot tell land from sea")
    return PortMap(
        port=port, epsg=epsg, width=int(width), height=int(height), transform=transform,
        features=tuple(feats), coast_y_m=min(quay_south),
    )  # fmt: skip


def feature_centre_m(port: str, name: str) -> tuple[float, float]:
    """UTM centre of one AOI feature (to centre a scene on it)."""
    for fname, _, utm in _utm_features(port)[1]:
        if fname == name:
            return float(utm.centroid.x), float(utm.centroid.y)
    raise ConfigError(f"{port}: no AOI feature {name!r}")


def assign_regions(
    pm: PortMap, dets: Detections, hulls: list[tuple[str, np.ndarray]]
) -> tuple[list[str], list[str | None]]:
    """Truth region and ship of each container (by its centre): on a hull -> ``deck`` and
    that ship; else in a rail polygon -> ``rail``; else in a pier or quay -> ``quay``;
    else ``yard``. ``hulls`` are (name, polygon [K, 2] pixels)."""
    n = len(dets)
    region = np.full(n, "yard", dtype=object)
    ship = np.full(n, None, dtype=object)
    if n == 0:
        return [], []
    x, y = dets.cx, dets.cy
    done = np.zeros(n, bool)
    for name, poly in hulls:
        inside = shapely.contains_xy(Polygon(poly), x, y) & ~done
        region[inside], ship[inside] = "deck", name
        done |= inside
    for kinds, label in ((("rail",), "rail"), (("pier", "quay"), "quay")):
        for f in pm.of_kind(*kinds):
            inside = shapely.contains_xy(f.polygon, x, y) & ~done
            region[inside] = label
            done |= inside
    return list(region), list(ship)
