"""``ccount review labels``: the reviewed train units of a round as a label set.

``LABELS/<scene>.geojson`` per scene with a complete train unit: the containers the review
says are there (accepted or added candidates; in a complete unit a still-pending *model*
detection counts as accepted, a pending below-threshold peak does not) in the project's
label schema (RFC 7946 lon/lat; ``kind``, ``score`` 1, ``tiers`` 1, ``visible`` true), and
in the collection properties ``reviewed``: the lon/lat rings of the complete train units,
and ``scene_path``: the scene file. ``ccount train --labels LABELS`` then masks its loss
outside those rings (:mod:`detector.model.labelset`). Hold-out units never appear.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .._io import check_output_dir, safe_name
from ..errors import ReviewError
from .round import Candidate, Round

__all__ = ["counts_as_container", "round_labels", "unit_truth"]


def counts_as_container(c: Candidate) -> bool:
    """What a candidate of a *complete* unit is: accepted/added, or a pending detection."""
    return c.status in ("accepted", "added") or (c.status == "pending" and c.source == "model")


def unit_truth(rnd: Round, unit_id: int) -> list[Candidate]:
    """The containers of a complete unit, per the review."""
    return [c for c in rnd.unit_candidates(unit_id) if counts_as_container(c)]


def _lonlat(crs: str):
    from pyproj import Transformer

    tr = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)

    def ring(pts) -> list[list[float]]:
        a = np.asarray(pts, float)
        x, y = tr.transform(a[:, 0], a[:, 1])
        xy = np.stack([x, y], axis=1)
        area2 = np.sum(xy[:, 0] * np.roll(xy[:, 1], -1) - np.roll(xy[:, 0], -1) * xy[:, 1])
        if area2 < 0:  # RFC 7946: exterior rings counter-clockwise
            xy = xy[::-1]
        return [[float(v) for v in p] for p in [*xy, xy[0]]]

    return ring


def round_labels(round_path, out) -> dict:
    """Write the label set of the round's complete train units to ``out``; returns
    ``{"scenes": n, "units": n, "containers": n, "files": [...]}``."""
    from ..labels.io import write_geojson

    rnd = Round.open(round_path)
    units = rnd.reviewed_units("train")
    if not units:
        raise ReviewError(
            f"{rnd.path}: no complete train unit yet; review some (or ccount review simulate)"
        )
    out = check_output_dir(out)
    by_scene: dict[str, list] = {}
    for u in units:
        by_scene.setdefault(u.scene, []).append(u)
    files, n_cont = [], 0
    for scene, us in sorted(by_scene.items()):
        meta = rnd.manifest.scenes[scene]
        ring = _lonlat(meta["crs"])
        feats = []
        for u in us:
            for c in unit_truth(rnd, u.unit_id):
                feats.append({
                    "type": "Feature",
                    "properties": {"type": "container", "kind": c.kind, "score": 1.0,
                                   "region": "yard", "ship": None, "tiers_est": 1.0,
                                   "tiers": 1, "visible": True, "unit": u.unit_id,
                                   "cand": c.cand_id},
                    "geometry": {"type": "Polygon", "coordinates": [ring(c.corners)]},
                })  # fmt: skip
        reviewed = []
        for u in us:
            x0, y0, x1, y1 = u.bounds
            reviewed.append(ring([(x0, y0), (x1, y0), (x1, y1), (x0, y1)]))
        props = {
            "scene": scene,
            "crs": meta["crs"],
            "gsd_m": meta.get("gsd_m"),
            "scene_path": str(Path(meta["path"]).resolve()),
            "reviewed": reviewed,
            "reviewed_units": [u.unit_id for u in us],
            "round": str(rnd.path.resolve()),
            "model_sha256": rnd.manifest.model_sha256,
        }
        path = Path(out) / f"{safe_name(scene)}.geojson"
        write_geojson(path, feats, props)
        files.append(str(path))
        n_cont += len(feats)
    return {"scenes": len(by_scene), "units": len(units), "containers": n_cont, "files": files}
