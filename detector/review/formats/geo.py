"""GeoJSON and GeoPackage: the round's boxes on the map, for QGIS and ``ccount train``.

GeoJSON export: ``DIR/<scene>.geojson`` per scene, in the label schema of
:mod:`detector.labels.io` (RFC 7946 lon/lat, collection ``properties`` with ``scene`` and
the scene ``crs``), one feature per candidate (rejected ones too) and one per review unit.
Candidate properties: ``type`` ("container" for what the review now says is a container:
accepted, added, or a pending model detection; "candidate" for a pending below-threshold
peak; "rejected"), ``kind``, ``score``, ``cand_id``, ``unit_id``, ``scene``, ``status``,
``reason``, ``source``. Unit features: ``type`` "review_unit", ``unit_id``, ``scene``,
``split``, ``status``, ``priority``, ``reason``. ``ccount train --labels`` reads the
"container" features (but treats everything else as background: for training use
``ccount review labels``, which keeps to reviewed units).

GeoPackage export: ``DIR/queue.gpkg``, a copy of the round's queue (layers ``candidates``
and ``regions``, the fields of the round folder, the scene CRS when all scenes share one,
else EPSG:4326) to edit in QGIS. The round's own ``queue.gpkg`` is its state: edit a copy.

Import (both): a feature with a known ``cand_id`` is that candidate (moved, kind or status
changed); one without (drawn in QGIS) is added to the unit its ``unit_id`` names, or the
unit holding its centre; a candidate missing from the file was deleted; a unit's ``status``
"complete"/"pending" completes or reopens it. A GeoJSON file covers every unit of the scenes
it names; a GeoPackage covers the whole round. A polygon with more than 4 corners (reshaped)
becomes its minimum rotated rectangle.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..._io import atomic_path, safe_name
from ...errors import ReviewError
from ...labels.io import read_geojson, write_geojson
from ..round import Round
from .diff import FileBox, FileReview
from .geometry import crs_to_chip

__all__ = ["export_geojson", "export_gpkg", "read_geojson_review", "read_gpkg_review"]

_CAND_FIELDS = ("cand_id", "unit_id", "scene", "kind", "score", "reason", "source", "status")
_UNIT_FIELDS = ("unit_id", "scene", "split", "status", "priority", "reason")


def _transformer(src: str, dst: str):
    from pyproj import Transformer

    return Transformer.from_crs(src, dst, always_xy=True)


def _reproject(pts: np.ndarray, src: str, dst: str) -> np.ndarray:
    from pyproj import CRS

    if CRS.from_user_input(src) == CRS.from_user_input(dst):
        return np.asarray(pts, dtype=float)
    x, y = _transformer(src, dst).transform(pts[:, 0], pts[:, 1])
    return np.stack([np.asarray(x), np.asarray(y)], axis=1)


def _ring(pts: np.ndarray) -> list[list[float]]:
    """Closed counter-clockwise ring (RFC 7946) of [K, 2] points, full precision."""
    x, y = pts[:, 0], pts[:, 1]
    if np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y) < 0:
        pts = pts[::-1]
    return [[float(a), float(b)] for a, b in pts] + [[float(pts[0, 0]), float(pts[0, 1])]]


def _type(c) -> str:
    if c.status == "rejected":
        return "rejected"
    if c.status in ("accepted", "added") or c.source == "model":
        return "container"
    return "candidate"


def _square(bounds) -> np.ndarray:
    x0, y0, x1, y1 = bounds
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=float)


def export_geojson(rnd: Round, out: Path) -> list[Path]:
    """One ``<scene>.geojson`` per scene of the round; the files written."""
    written = []
    for scene in sorted({u.scene for u in rnd.units.values()}):
        info = rnd.manifest.scenes.get(scene, {})
        crs = str(info.get("crs") or "")
        if not crs:
            raise ReviewError(f"{rnd.path}: manifest gives no CRS for scene {scene!r}")
        feats = []
        for c in (c for _, c in sorted(rnd.candidates.items()) if c.scene == scene):
            props = {"type": _type(c), **{k: getattr(c, k) for k in _CAND_FIELDS}}
            ll = _reproject(np.asarray(c.corners, dtype=float), crs, "EPSG:4326")
            feats.append({"type": "Feature", "properties": props,
                          "geometry": {"type": "Polygon", "coordinates": [_ring(ll)]}})  # fmt: skip
        for u in (u for _, u in sorted(rnd.units.items()) if u.scene == scene):
            props = {"type": "review_unit", **{k: getattr(u, k) for k in _UNIT_FIELDS}}
            ll = _reproject(_square(u.bounds), crs, "EPSG:4326")
            feats.append({"type": "Feature", "properties": props,
                          "geometry": {"type": "Polygon", "coordinates": [_ring(ll)]}})  # fmt: skip
        path = out / f"{safe_name(scene)}.geojson"
        write_geojson(path, feats, {"scene": scene, "crs": crs, "gsd_m": info.get("gsd_m"),
                                    "round": str(rnd.path), "model_sha256":
                                    rnd.manifest.model_sha256})  # fmt: skip
        written.append(path)
    return written


def _layer_crs(rnd: Round) -> str:
    crss = {str(s.get("crs")) for s in rnd.manifest.scenes.values()}
    return crss.pop() if len(crss) == 1 else "EPSG:4326"


def export_gpkg(rnd: Round, out: Path) -> list[Path]:
    """``queue.gpkg``: an editable copy of the round's queue (see the module docstring)."""
    import shapely
    from pyogrio.raw import write as ogr_write

    crs = _layer_crs(rnd)
    cands = [c for _, c in sorted(rnd.candidates.items())]
    units = [u for _, u in sorted(rnd.units.items())]

    def geoms(rows, pts_of):
        return np.array(
            [shapely.to_wkb(shapely.Polygon(_reproject(
                pts_of(r), rnd.manifest.scenes[r.scene]["crs"], crs))) for r in rows],
            dtype=object,
        ).reshape(-1)  # fmt: skip

    def cols(rows, names):
        out_cols = []
        for k in names:
            vals = [getattr(r, k) for r in rows]
            dtype = (np.int64 if k in ("cand_id", "unit_id") else
                     np.float64 if k in ("score", "priority") else object)  # fmt: skip
            out_cols.append(np.array(vals, dtype=dtype))
        return out_cols

    path = out / "queue.gpkg"
    try:
        with atomic_path(path) as tmp:
            for layer, rows, names, pts_of in (
                ("candidates", cands, _CAND_FIELDS, lambda c: np.asarray(c.corners, float)),
                ("regions", units, _UNIT_FIELDS, lambda u: _square(u.bounds)),
            ):
                ogr_write(
                    str(tmp), geometry=geoms(rows, pts_of), field_data=cols(rows, names),
                    fields=list(names), layer=layer, driver="GPKG", crs=crs,
                    geometry_type="Polygon",
                )  # fmt: skip
    except (ReviewError, OSError):
        raise
    except Exception as e:
        raise ReviewError(f"{path}: cannot write ({e})") from e
    return [path]


def _corners4(ring: np.ndarray) -> np.ndarray:
    """4 corners of a polygon ring [K, 2] (closing point optional): the ring itself when it
    has 4 distinct corners, else its minimum rotated rectangle."""
    pts = np.asarray(ring, dtype=float)[:, :2]
    if len(pts) > 1 and np.allclose(pts[0], pts[-1]):
        pts = pts[:-1]
    if len(pts) == 4:
        return pts
    import shapely

    rect = shapely.minimum_rotated_rectangle(shapely.Polygon(pts))
    return np.asarray(rect.exterior.coords)[:4]


def _int(v) -> int | None:
    if v is None or (isinstance(v, float) and not math.isfinite(v)) or v == "":
        return None
    try:
        return int(v)
    except (TypeError, ValueError):
        return None


def _review(rnd: Round, path: Path, fmt: str, rows: list, units: set[int]) -> FileReview:
    """rows: (props dict, ring in the scene CRS of props' scene or None, where) -> review."""
    boxes, unit_status = [], {}
    for props, ring_crs, scene, where in rows:
        kind_of = props.get("type")
        if kind_of == "review_unit":
            uid = _int(props.get("unit_id"))
            if uid is not None and props.get("status") is not None:
                unit_status[uid] = str(props["status"])
            continue
        if kind_of not in (None, "container", "candidate", "rejected"):
            continue  # ships and other features
        cand = _int(props.get("cand_id"))
        uid = _int(props.get("unit_id"))
        if cand is not None and cand in rnd.candidates and uid is None:
            uid = rnd.candidates[cand].unit_id
        pts = _corners4(ring_crs)
        if uid is None:
            cx, cy = pts.mean(axis=0)
            hits = [u.unit_id for u in rnd.units.values()
                    if u.scene == scene and u.contains(cx, cy)]  # fmt: skip
            if not hits:
                raise ReviewError(f"{path}: {where}: outside every review unit of the round")
            uid = hits[0]
        if uid not in rnd.units:
            raise ReviewError(f"{path}: {where}: unknown review unit {props.get('unit_id')!r}")
        units.add(uid)
        kind = props.get("kind")
        if kind is None:
            raise ReviewError(f"{path}: {where}: no kind (set it to 20ft or 40ft)")
        status = props.get("status")
        status = None if status is None else str(status)
        px = crs_to_chip(rnd.chips[uid].affine, pts)
        boxes.append(FileBox(uid, str(kind), tuple(map(tuple, px.tolist())), cand, status, where))
    return FileReview(fmt, path, tuple(sorted(units)), tuple(boxes), "id", with_rejected=True,
                      unit_status={u: s for u, s in unit_status.items() if u in units})  # fmt: skip


def read_geojson_review(rnd: Round, path: Path) -> FileReview:
    """The reviewed units of an exported (and edited) GeoJSON file."""
    try:
        feats, props = read_geojson(path)
    except Exception as e:
        if isinstance(e, ReviewError):
            raise
        raise ReviewError(str(e)) from None
    scenes = {str(props["scene"])} if props.get("scene") else set()
    scenes |= {str(f["properties"]["scene"]) for f in feats
               if (f.get("properties") or {}).get("scene")}  # fmt: skip
    unknown = sorted(s for s in scenes if s not in rnd.manifest.scenes)
    if unknown:
        raise ReviewError(f"{path}: scene {unknown[0]!r} is not a scene of {rnd.path}")
    if len(scenes) != 1:
        raise ReviewError(f"{path}: expected the features of one scene, found {sorted(scenes)}")
    scene = scenes.pop()
    crs = rnd.manifest.scenes[scene]["crs"]
    rows = []
    for i, f in enumerate(feats):
        p = f.get("properties") or {}
        ring = np.asarray(f["geometry"]["coordinates"][0], dtype=float)
        if ring.ndim != 2 or len(ring) < 4:
            raise ReviewError(f"{path}: feature {i}: a polygon needs 4 corners")
        rows.append((p, _reproject(ring[:, :2], "EPSG:4326", crs), scene, f"feature {i}"))
    units = {u.unit_id for u in rnd.units.values() if u.scene == scene}
    return _review(rnd, Path(path), "geojson", rows, units)


def read_gpkg_review(rnd: Round, path: Path) -> FileReview:
    """The reviewed units of an edited copy of the round's ``queue.gpkg``."""
    import pyogrio
    import shapely
    from pyogrio.raw import read as ogr_read

    path = Path(path)
    if path.resolve() == rnd.queue_path.resolve():
        raise ReviewError(
            f"{path}: is the round's own state; edit a copy (ccount review export ROUND --to "
            "gpkg --out DIR) and import that"
        )
    rows = []
    try:
        layers = {name for name, _ in pyogrio.list_layers(path)}
        if "candidates" not in layers:
            raise ReviewError(f"{path}: no 'candidates' layer (not a review queue)")
        for layer in ("candidates", "regions"):
            if layer not in layers:
                continue
            crs = pyogrio.read_info(path, layer=layer).get("crs") or "EPSG:4326"
            meta, _, wkb, cols = ogr_read(path, layer=layer)
            names = list(meta["fields"])
            for k, g in enumerate(wkb):
                p = {n: _plain(c[k]) for n, c in zip(names, cols, strict=True)}
                if layer == "regions":
                    p["type"] = "review_unit"
                    rows.append((p, None, None, f"regions feature {k}"))
                    continue
                geom = shapely.from_wkb(g) if g is not None else None
                if geom is None or geom.geom_type not in ("Polygon", "MultiPolygon"):
                    raise ReviewError(f"{path}: candidates feature {k}: not a polygon")
                if geom.geom_type == "MultiPolygon":
                    geom = max(geom.geoms, key=lambda q: q.area)
                ring = np.asarray(geom.exterior.coords)[:, :2]
                scene = p.get("scene")
                if scene is None and p.get("unit_id") is not None:
                    u = rnd.units.get(_int(p["unit_id"]))
                    scene = u.scene if u else None
                if scene is None:  # drawn in QGIS without attributes: where it lies
                    scene = _scene_at(rnd, ring, crs)
                if scene not in rnd.manifest.scenes:
                    raise ReviewError(
                        f"{path}: candidates feature {k}: not in a review unit of the round"
                        if scene is None
                        else f"{path}: candidates feature {k}: unknown scene {scene!r}"
                    )
                ring = _reproject(ring, crs, rnd.manifest.scenes[scene]["crs"])
                rows.append((p, ring, scene, f"candidates feature {k}"))
    except ReviewError:
        raise
    except Exception as e:
        raise ReviewError(f"{path}: not a readable GeoPackage ({e})") from None
    return _review(rnd, path, "gpkg", rows, set(rnd.units))


def _scene_at(rnd: Round, ring: np.ndarray, crs: str) -> str | None:
    """The scene of the first review unit holding the ring's centre (ring in ``crs``)."""
    for scene, info in sorted(rnd.manifest.scenes.items()):
        cx, cy = _reproject(ring, crs, info["crs"]).mean(axis=0)
        if any(u.scene == scene and u.contains(cx, cy) for u in rnd.units.values()):
            return scene
    return None


def _plain(v):
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, bytes):
        v = v.decode("utf-8", "replace")
    return v
