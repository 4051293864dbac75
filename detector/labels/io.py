"""Vector label files: container and ship features as GeoJSON, GeoPackage and COCO.

The only module that reads or writes vector label files. GeoJSON follows RFC 7946: one
FeatureCollection, WGS 84 lon/lat, exterior rings counter-clockwise, one Polygon per
container footprint or ship hull; the collection carries a foreign member ``properties``
(``scene``, ``port``, ``acquired``, ``gsd_m``, ``crs``, ``width``, ``height``, ...).

Container feature properties: ``type`` "container", ``kind`` "20ft"|"40ft", ``score`` 0..1,
``region`` deck|quay|yard|rail, ``ship`` (name or null), ``tiers_est``; truth adds ``tiers``
(int stack height) and ``visible`` (top of its stack). Ship features: ``type`` "ship",
``name``, ``length_m``, ``beam_m``, ``bridge_from_bow`` (null when unknown), ``score``.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._io import atomic_path
from ..detections import KINDS, Detections, Hull
from ..errors import LabelError
from .coco import CocoImage, read_coco
from .gpkg import _clean, polygon_wkb, write_gpkg

__all__ = [
    "CocoImage",
    "ContainerTable",
    "container_features",
    "container_rings",
    "container_wkb",
    "hull_features",
    "polygon_wkb",
    "read_coco",
    "read_containers",
    "read_geojson",
    "utm_epsg_for",
    "write_geojson",
    "write_gpkg",
]

_DECIMALS = 8  # ~1 mm in latitude


def utm_epsg_for(lon: float, lat: float) -> int:
    """EPSG code of the WGS 84 UTM zone holding (lon, lat)."""
    zone = int((lon + 180.0) // 6.0) % 60 + 1
    return (32600 if lat >= 0 else 32700) + zone


def _to_lonlat(grid):
    from pyproj import CRS, Transformer

    if getattr(grid, "crs", None) is None:
        raise LabelError("labels: the grid has no CRS, so features cannot be written as lon/lat")
    tr = Transformer.from_crs(CRS.from_user_input(grid.crs), 4326, always_xy=True)
    t = grid.transform

    def apply(xy_px: np.ndarray) -> np.ndarray:
        """[..., 2] pixel (x, y) -> [..., 2] lon/lat."""
        x, y = xy_px[..., 0], xy_px[..., 1]
        mx = t.a * x + t.b * y + t.c
        my = t.d * x + t.e * y + t.f
        lon, lat = tr.transform(mx, my)
        return np.stack([np.asarray(lon), np.asarray(lat)], axis=-1)

    return apply


_GEOJSON_CHUNK = 4096  # features serialised at a time by write_geojson


def _ring_array(lonlat: np.ndarray) -> np.ndarray:
    """Closed, counter-clockwise rings [N, K + 1, 2] (RFC 7946 right-hand rule) of [N, K, 2]
    lon/lat, rounded to the decimals written."""
    x, y = lonlat[..., 0], lonlat[..., 1]
    area2 = np.sum(x * np.roll(y, -1, axis=1) - np.roll(x, -1, axis=1) * y, axis=1)
    pts = np.round(np.where((area2 >= 0)[:, None, None], lonlat, lonlat[:, ::-1]), _DECIMALS)
    return np.concatenate([pts, pts[:, :1]], axis=1)


def _ring(lonlat: np.ndarray) -> list[list[float]]:
    """One ring of [K, 2] lon/lat, as :func:`_ring_array`, as GeoJSON coordinate lists."""
    return _ring_array(lonlat[None])[0].tolist()


def container_rings(dets: Detections, *, grid) -> np.ndarray:
    """The container footprints' rings [N, 5, 2] as written (lon/lat, closed, CCW); compute
    once and hand to :func:`container_features` and :func:`container_wkb`."""
    return _ring_array(_to_lonlat(grid)(dets.corners()))


def _num(v: float, nd: int = 4) -> float | None:
    v = float(v)
    return round(v, nd) if math.isfinite(v) else None


def _nums(values: np.ndarray, nd: int = 4) -> list[float | None]:
    """:func:`_num` of every value."""
    v = np.asarray(values, dtype=np.float64).tolist()
    return [round(x, nd) if math.isfinite(x) else None for x in v]


def container_features(
    dets: Detections,
    *,
    grid,
    region: Sequence[str],
    ship: Sequence[str | None],
    truth: bool = False,
    rings: np.ndarray | None = None,
    extra: Mapping[str, Sequence] | None = None,
) -> list[dict]:
    """GeoJSON features of container footprints. ``dets`` in the pixels of ``grid`` (an
    object with ``transform`` (Affine, pixel -> map) and ``crs``); ``region``/``ship`` one
    entry per detection. ``truth`` adds integer ``tiers`` and ``visible``. ``rings``:
    :func:`container_rings` of ``dets`` when already computed. ``extra``: more properties,
    name -> one value per detection (floats rounded to 3 decimals, NaN -> null)."""
    n = len(dets)
    if len(region) != n or len(ship) != n:
        raise LabelError(f"labels: {n} detections but {len(region)} regions and {len(ship)} ships")
    if n == 0:
        return []
    rings = (container_rings(dets, grid=grid) if rings is None else rings).tolist()
    kinds = [KINDS[k] for k in dets.kind.tolist()]
    scores, tiers = _nums(dets.score), _nums(dets.tiers, 3)
    more = {}
    for key, col in (extra or {}).items():
        if len(col) != n:
            raise LabelError(f"labels: {n} detections but {len(col)} values of {key!r}")
        a = np.asarray(col)
        more[key] = _nums(a, 3) if a.dtype.kind == "f" else [None if v is None else str(v)
                                                              for v in a.tolist()]  # fmt: skip
    feats = []
    for i in range(n):
        props = {
            "type": "container",
            "kind": kinds[i],
            "score": scores[i],
            "region": str(region[i]),
            "ship": None if ship[i] is None else str(ship[i]),
            "tiers_est": tiers[i],
        }
        for key, vals in more.items():
            props[key] = vals[i]
        if truth:
            props["tiers"] = int(round(float(dets.tiers[i])))
            props["visible"] = bool(dets.visible[i])
        feats.append(
            {
                "type": "Feature",
                "properties": props,
                "geometry": {"type": "Polygon", "coordinates": [rings[i]]},
            }
        )
    return feats


def container_wkb(dets: Detections, *, grid, rings: np.ndarray | None = None) -> np.ndarray:
    """WKB (object array) of the footprints :func:`container_features` writes for ``dets``,
    straight from the arrays: the GeoPackage writer's fast path (:func:`write_gpkg`)."""
    import shapely

    if not len(dets):
        return np.empty(0, dtype=object)
    rings = container_rings(dets, grid=grid) if rings is None else rings
    return np.asarray(shapely.to_wkb(shapely.polygons(rings)), dtype=object)


def hull_features(hulls: Sequence[Hull], *, grid) -> list[dict]:
    """GeoJSON features of ship hulls (``Hull.polygon`` in the pixels of ``grid``)."""
    if not hulls:
        return []
    to_ll = _to_lonlat(grid)
    feats = []
    for h in hulls:
        poly = np.asarray(h.polygon, float).reshape(-1, 2)
        if len(poly) > 1 and np.allclose(poly[0], poly[-1]):
            poly = poly[:-1]
        if len(poly) < 3:
            raise LabelError(f"labels: hull {h.name!r} has {len(poly)} vertices, need >= 3")
        feats.append(
            {
                "type": "Feature",
                "properties": {
                    "type": "ship",
                    "name": h.name,
                    "length_m": _num(h.length_m, 2),
                    "beam_m": _num(h.beam_m, 2),
                    "bridge_from_bow": _num(h.bridge_from_bow, 3),
                    "score": _num(h.score),
                },
                "geometry": {"type": "Polygon", "coordinates": [_ring(to_ll(poly))]},
            }
        )
    return feats


def _plain(v):
    """``json`` fallback for numpy scalars and arrays (NaN still fails: allow_nan=False)."""
    if isinstance(v, np.generic | np.ndarray):
        return v.tolist()
    raise TypeError(f"{type(v).__name__} is not JSON serialisable")


def write_geojson(path: str | os.PathLike, features: Sequence[dict], properties: dict) -> None:
    """Write a FeatureCollection (atomically) with ``properties`` as a foreign member. The
    text goes out in chunks of features: a large scene's (~100 MB for 110,000 containers) is
    never held whole."""

    def dumps(v) -> str:
        try:  # fast path: already JSON-safe (container_features' output is)
            return json.dumps(v, separators=(",", ":"), allow_nan=False, default=_plain)
        except (TypeError, ValueError):  # NaN/inf somewhere, or odd keys: clean everything
            return json.dumps(_clean(v), separators=(",", ":"), allow_nan=False)

    feats = list(features)
    head = '{"type":"FeatureCollection","properties":' + dumps(dict(properties))
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        f.write(head + ',"features":[')
        for i in range(0, len(feats), _GEOJSON_CHUNK):
            f.write(("," if i else "") + dumps(feats[i : i + _GEOJSON_CHUNK])[1:-1])
        f.write("]}\n")


def read_geojson(path: str | os.PathLike) -> tuple[list[dict], dict]:
    """(features, collection properties) of a GeoJSON FeatureCollection."""
    p = Path(path)
    try:
        data = json.loads(p.read_text())
    except FileNotFoundError:
        raise LabelError(f"{p}: label file not found") from None
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise LabelError(f"{p}: not a readable GeoJSON file ({e})") from None
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
        raise LabelError(f"{p}: expected a GeoJSON FeatureCollection")
    feats = data.get("features")
    if not isinstance(feats, list):
        raise LabelError(f"{p}: FeatureCollection has no 'features' list")
    for i, f in enumerate(feats):
        g = f.get("geometry") if isinstance(f, dict) else None
        if not isinstance(g, dict) or g.get("type") != "Polygon" or not g.get("coordinates"):
            raise LabelError(f"{p}: feature {i} is not a Polygon feature")
    props = data.get("properties") or {}
    if not isinstance(props, dict):
        raise LabelError(f"{p}: collection 'properties' is not an object")
    return feats, props


@dataclass(frozen=True)
class ContainerTable:
    """Container features of one label file as arrays, all shape [N].

    ``lon, lat`` footprint centre (degrees); ``x_m, y_m`` the same in ``crs`` (the
    collection's UTM CRS, metres); ``corners_m`` float64 [N, 4, 2] footprint corners in
    ``crs``; ``kind`` int8 (index into KINDS); ``score``, ``tiers_est`` float32; ``tiers``
    float32 (NaN where absent); ``visible`` bool (True where absent); ``region`` and
    ``ship`` object arrays (str / None)."""

    crs: str
    lon: np.ndarray
    lat: np.ndarray
    x_m: np.ndarray
    y_m: np.ndarray
    corners_m: np.ndarray
    kind: np.ndarray
    score: np.ndarray
    tiers: np.ndarray
    tiers_est: np.ndarray
    visible: np.ndarray
    region: np.ndarray
    ship: np.ndarray

    def __len__(self) -> int:
        return len(self.lon)


def read_containers(path: str | os.PathLike) -> ContainerTable:
    """The container features of a label/detection/truth GeoJSON as a :class:`ContainerTable`."""
    from pyproj import Transformer

    feats, props = read_geojson(path)
    rows = [f for f in feats if (f.get("properties") or {}).get("type", "container") == "container"]
    rings = []
    for i, f in enumerate(rows):
        ring = np.asarray(f["geometry"]["coordinates"][0], float)
        if ring.ndim != 2 or ring.shape[0] < 4 or ring.shape[1] < 2:
            raise LabelError(f"{path}: container feature {i} has a bad ring")
        rings.append(ring[:-1, :2] if np.allclose(ring[0], ring[-1]) else ring[:, :2])
    crs = props.get("crs")
    if not crs:
        if rings:
            c = np.concatenate(rings).mean(axis=0)
            crs = f"EPSG:{utm_epsg_for(float(c[0]), float(c[1]))}"
        else:
            crs = "EPSG:4326"
    try:
        tr = Transformer.from_crs(4326, crs, always_xy=True)
    except Exception as e:
        raise LabelError(f"{path}: collection crs {crs!r} is not a CRS ({e})") from None
    n = len(rows)
    corners = np.zeros((n, 4, 2))
    cx, cy = np.zeros(n), np.zeros(n)
    for i, ring in enumerate(rings):
        x, y = tr.transform(ring[:, 0], ring[:, 1])
        xy = np.stack([x, y], axis=1)
        cx[i], cy[i] = xy.mean(axis=0)
        corners[i] = xy[:4] if len(xy) >= 4 else np.resize(xy, (4, 2))
    lon, lat = (
        (np.asarray(a) for a in tr.transform(cx, cy, direction="INVERSE"))
        if n
        else (np.zeros(0), np.zeros(0))
    )
    p = [f.get("properties") or {} for f in rows]

    def col(key, default, dtype):
        return np.array([default if q.get(key) is None else q.get(key) for q in p], dtype=dtype)

    kinds = []
    for i, q in enumerate(p):
        k = q.get("kind", "20ft")
        if k not in KINDS:
            raise LabelError(
                f"{path}: container feature {i} has kind {k!r}, expected one of {KINDS}"
            )
        kinds.append(KINDS.index(k))
    tiers_est = col("tiers_est", np.nan, np.float32)
    tiers = col("tiers", np.nan, np.float32)
    tiers_est = np.where(np.isnan(tiers_est), np.where(np.isnan(tiers), 1.0, tiers), tiers_est)
    return ContainerTable(
        crs=str(crs), lon=np.asarray(lon, float), lat=np.asarray(lat, float), x_m=cx, y_m=cy,
        corners_m=corners, kind=np.array(kinds, np.int8), score=col("score", 1.0, np.float32),
        tiers=tiers, tiers_est=tiers_est.astype(np.float32), visible=col("visible", True, bool),
        region=np.array([q.get("region") for q in p], dtype=object),
        ship=np.array([q.get("ship") for q in p], dtype=object),
    )  # fmt: skip
