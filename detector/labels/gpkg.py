"""GeoPackage output of label features (one layer, EPSG:4326); re-exported by
:mod:`detector.labels.io`, the module to import it from."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence

import numpy as np

from .._io import atomic_path
from ..errors import LabelError

__all__ = ["polygon_wkb", "write_gpkg"]


def _clean(v):
    """JSON-safe value: NaN/inf -> null, numpy scalars -> Python."""
    if isinstance(v, dict):
        return {str(k): _clean(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_clean(x) for x in v]
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def write_gpkg(
    path: str | os.PathLike,
    features: Sequence[dict],
    *,
    layer: str,
    wkb: Sequence[bytes] | None = None,
) -> None:
    """Write Polygon features as one GeoPackage layer (EPSG:4326), atomically (the file is
    replaced). Fields are the union of the feature properties: text, real, integer or
    boolean by their values. ``wkb``: the features' geometries already as WKB (e.g.
    :func:`container_wkb`), else built from their coordinates."""
    from pyogrio.raw import write as ogr_write

    feats = list(features)
    props = [f.get("properties") or {} for f in feats]
    names = list(dict.fromkeys(k for p in props for k in p))
    if wkb is None:
        geoms = polygon_wkb([f["geometry"]["coordinates"] for f in feats])
    else:
        geoms = np.asarray(wkb, dtype=object)
        if len(geoms) != len(feats):
            raise LabelError(f"{path}: {len(geoms)} geometries for {len(feats)} features")
    columns, masks = [], []
    for k in names:
        vals = [p.get(k) for p in props]
        missing = np.array([v is None for v in vals], dtype=bool)
        types = set(map(type, vals)) - {type(None)}
        if types and types <= {bool, np.bool_}:
            columns.append(np.array([bool(v) for v in vals], dtype=bool))
        elif types and all(issubclass(t, int) and not issubclass(t, bool) for t in types):
            columns.append(np.array([0 if v is None else v for v in vals], dtype=np.int64))
        elif types and all(issubclass(t, int | float) and not issubclass(t, bool) for t in types):
            columns.append(
                np.array([np.nan if v is None else float(v) for v in vals], dtype=np.float64)
            )
        else:
            columns.append(np.array([None if v is None else _text(v) for v in vals], dtype=object))
        masks.append(missing if missing.any() and columns[-1].dtype != object else None)
    try:
        with atomic_path(path) as tmp:
            ogr_write(
                str(tmp), geometry=geoms, field_data=columns, fields=names, layer=layer,
                driver="GPKG", crs="EPSG:4326", geometry_type="Polygon",
                field_mask=masks if any(m is not None for m in masks) else None,
            )  # fmt: skip
    except Exception as e:
        if isinstance(e, LabelError):
            raise
        raise LabelError(f"{path}: cannot write GeoPackage layer {layer!r} ({e})") from e


def polygon_wkb(polygons: Sequence[list]) -> np.ndarray:
    """WKB (object array) of GeoJSON Polygon coordinate lists; shells without holes are
    built in one vectorised shapely call."""
    import shapely
    from shapely.geometry import Polygon

    if any(len(rings) != 1 for rings in polygons):
        return np.array([Polygon(r[0], r[1:]).wkb for r in polygons], dtype=object)
    shells = [r[0] for r in polygons]
    coords = np.array([xy for shell in shells for xy in shell], dtype=np.float64).reshape(-1, 2)
    ring_of = np.repeat(np.arange(len(shells)), [len(shell) for shell in shells])
    rings = shapely.linearrings(coords, indices=ring_of)
    return np.asarray(shapely.to_wkb(shapely.polygons(rings)), dtype=object)


def _text(v) -> str:
    return v if isinstance(v, str) else json.dumps(_clean(v))
