"""``queue.gpkg`` of a review round: layers ``candidates`` and ``regions`` (used by
:class:`detector.review.round.Round` only). The layers are in the scenes' CRS when all
scenes share one, else in EPSG:4326; the dataset metadata ``ccount_journal_applied`` says how
many journal lines the file holds."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from .._io import atomic_path
from ..errors import ReviewError
from .records import Candidate, Unit

__all__ = ["layer_crs", "read_queue", "write_queue"]

_LAYER_FIELDS = {
    "candidates": (
        "cand_id",
        "unit_id",
        "scene",
        "kind",
        "score",
        "reason",
        "source",
        "status",
        "verify",
    ),
    "regions": ("unit_id", "scene", "split", "status", "priority", "reason"),
}


def layer_crs(manifest) -> str | None:
    """The CRS all scenes share (the layers' CRS), or None (layers in EPSG:4326)."""
    crss = {s.get("crs") for s in manifest.scenes.values()}
    return crss.pop() if len(crss) == 1 else None


@functools.lru_cache(maxsize=64)
def _transformer(src: str, dst: str):
    from pyproj import Transformer

    # building one costs ~1 ms; a queue rewrite maps every feature
    return Transformer.from_crs(src, dst, always_xy=True)


def _to_layer(manifest, scene: str, pts: np.ndarray, inverse: bool = False) -> np.ndarray:
    if layer_crs(manifest) is not None:
        return pts
    src = manifest.scenes[scene]["crs"]
    a, b = ("EPSG:4326", src) if inverse else (src, "EPSG:4326")
    t = _transformer(a, b)
    x, y = t.transform(pts[:, 0], pts[:, 1])
    return np.stack([x, y], axis=1)


def write_queue(path: Path, manifest, candidates: dict, units: dict, applied: int) -> None:
    """Write ``queue.gpkg`` (both layers) atomically; ``applied``: journal lines it holds."""
    import shapely
    from pyogrio.raw import write as ogr_write

    crs = layer_crs(manifest) or "EPSG:4326"
    cands = [c for _, c in sorted(candidates.items())]
    units = [u for _, u in sorted(units.items())]
    rings = [_to_layer(manifest, c.scene, np.asarray(c.corners)) for c in cands]
    unit_rings = []
    for u in units:
        x0, y0, x1, y1 = u.bounds
        sq = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=float)
        unit_rings.append(_to_layer(manifest, u.scene, sq))
    layers = {
        "candidates": ([c.to_dict() for c in cands], rings),
        "regions": ([u.to_dict() for u in units], unit_rings),
    }
    try:
        with atomic_path(path) as tmp:
            for layer, (rows, rr) in layers.items():
                geoms = np.array(
                    [shapely.to_wkb(shapely.Polygon(r)) for r in rr], dtype=object
                ).reshape(-1)
                names = _LAYER_FIELDS[layer]
                cols = [_column([row[k] for row in rows], k) for k in names]
                ogr_write(
                    str(tmp), geometry=geoms, field_data=cols, fields=list(names),
                    layer=layer, driver="GPKG", crs=crs, geometry_type="Polygon",
                    dataset_metadata={"ccount_journal_applied": str(applied)},
                )  # fmt: skip
    except Exception as e:
        if isinstance(e, ReviewError | OSError):
            raise
        raise ReviewError(f"{path}: cannot write ({e})") from e


def read_queue(path: Path, manifest) -> tuple[dict[int, Candidate], dict[int, Unit], int]:
    """(candidates, units, journal lines applied) from ``queue.gpkg``."""
    import pyogrio
    import shapely
    from pyogrio.raw import read as ogr_read

    try:
        info = pyogrio.read_info(path, layer="regions")
        applied = int((info.get("dataset_metadata") or {}).get("ccount_journal_applied", 0))
        out = {}
        for layer in ("candidates", "regions"):
            meta, _, geoms, cols = ogr_read(path, layer=layer)
            names = list(meta["fields"])
            rows = [dict(zip(names, vals, strict=True)) for vals in zip(*cols, strict=True)]
            if not names:
                rows = [{} for _ in geoms]
            polys = [np.asarray(shapely.from_wkb(g).exterior.coords)[:4] for g in geoms]
            out[layer] = list(zip(rows, polys, strict=True))
    except Exception as e:
        raise ReviewError(f"{path}: unreadable review queue ({e})") from e
    cands = {}
    for row, poly in out["candidates"]:
        d = {k: _py(v) for k, v in row.items()}
        d["corners"] = _to_layer(manifest, d["scene"], poly, inverse=True).tolist()
        c = Candidate.from_dict(d)
        cands[c.cand_id] = c
    units = {}
    for row, poly in out["regions"]:
        d = {k: _py(v) for k, v in row.items()}
        sq = _to_layer(manifest, d["scene"], poly, inverse=True)
        (x0, y0), (x1, y1) = sq.min(axis=0), sq.max(axis=0)
        u = Unit(int(d["unit_id"]), d["scene"], d["split"], d["status"],
                 float(d["priority"]), d["reason"], (x0, y0, x1, y1))  # fmt: skip
        units[u.unit_id] = u
    return cands, units, applied


def _column(vals: list, name: str) -> np.ndarray:
    if name in ("cand_id", "unit_id"):
        return np.array(vals, dtype=np.int64)
    if name in ("score", "priority"):
        return np.array(vals, dtype=np.float64)
    if name == "verify":  # None (not looked at) -> NaN
        return np.array([np.nan if v is None else v for v in vals], dtype=np.float64)
    return np.array([str(v) for v in vals], dtype=object)


def _py(v):
    return v.item() if isinstance(v, np.generic) else v
