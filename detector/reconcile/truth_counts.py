"""Counts documents from truth labels, exactly or with simulated detection errors.

Used to calibrate and test the reconciler on synthetic worlds before (and besides) a model:
:func:`counts_from_truth` turns one truth GeoJSON (features and collection properties, as
:func:`detector.labels.io.read_geojson` returns them) into the ``counts.json`` document that
``ccount detect`` would write if it were perfect: ``visible`` = stack tops, ``est`` = tops
weighted by their true ``tiers`` (= every container, hidden ones included), ships with their
berth (the AOI berth the hull overlaps most) and Rajin Pier 2 stock from the AOI polygon.

With an :class:`ErrorModel` the tops are perturbed as a detector would: each top missed with
``miss_rate``, false tops added at ``false_rate`` (copies of real ones), each stack's tier
estimate off by a normal error with ``tier_sd`` plus one ``tier_bias_sd`` per scene.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["ErrorModel", "PRECISE_DETECTOR", "counts_from_truth", "precise_assumptions"]

#: Assumptions overlay for counts from truth (or from a detector meeting the issue's targets):
#: no calibration scales, no per-ship bias, small tier errors.
PRECISE_DETECTOR = {
    "shipments": {
        "deck_count_scale_rajin": {"value": 1.0},
        "deck_count_scale_arrival": {"value": 1.0},
        "deck_count_scale_ship": {"value": {}},
        "stock_count_scale": {"value": 1.0},
        "count_bias_rel_90": {"value": 0.02},
        "count_bias_ship_rel_90": {"value": 0.0},
        "tier_mae_per_stack": {"value": 0.35},
        "tier_bias_per_scene": {"value": 0.08},
    }
}


def precise_assumptions(overlay: Mapping[str, Any] | None = None):
    """The default assumptions with :data:`PRECISE_DETECTOR` (and ``overlay``) laid over."""
    import json

    from .munitions import default_assumptions_path, parse_assumptions

    data = {k: dict(v) for k, v in PRECISE_DETECTOR.items()}
    for sec, figs in (overlay or {}).items():
        data.setdefault(sec, {}).update(figs)
    defaults = json.loads(default_assumptions_path().read_text())
    return parse_assumptions(data, "defaults + precise detector", defaults=defaults)


@dataclass(frozen=True)
class ErrorModel:
    miss_rate: float = 0.02
    false_rate: float = 0.01
    tier_sd: float = 0.4
    tier_bias_sd: float = 0.08
    max_tiers: float = 4.0


def _polygon(f: Mapping[str, Any]):
    from shapely.geometry import Polygon

    ring = f["geometry"]["coordinates"]
    return Polygon(ring[0], ring[1:])


def _summary(tiers: np.ndarray, teu: np.ndarray) -> dict[str, Any]:
    return {
        "visible": int(len(tiers)),
        "est": round(float(tiers.sum()), 3),
        "teu_visible": int(teu.sum()),
        "teu_est": round(float((tiers * teu).sum()), 3),
    }


def counts_from_truth(
    features: Sequence[Mapping[str, Any]],
    properties: Mapping[str, Any],
    *,
    errors: ErrorModel | None = None,
    seed: int = 0,
    model_sha256: str = "truth",
) -> dict[str, Any]:
    """The counts document of a truth label file (see the module docstring)."""
    import shapely

    from ..imagery.aoi import load_port

    rng = np.random.default_rng(seed)
    port = properties.get("port")
    aoi = load_port(port) if port else None
    tops = [f for f in features
            if (f.get("properties") or {}).get("type", "container") == "container"
            and (f.get("properties") or {}).get("visible", True)]  # fmt: skip
    ships = [f for f in features if (f.get("properties") or {}).get("type") == "ship"]
    n = len(tops)
    tiers = np.array([float(t["properties"].get("tiers", 1)) for t in tops]).reshape(n)
    teu = np.array([2.0 if t["properties"].get("kind") == "40ft" else 1.0 for t in tops])
    region = np.array([str(t["properties"].get("region", "yard")) for t in tops], dtype=object)
    ship = np.array([t["properties"].get("ship") for t in tops], dtype=object)
    cx = np.array([_polygon(t).centroid.x for t in tops]).reshape(n)
    cy = np.array([_polygon(t).centroid.y for t in tops]).reshape(n)
    if errors is not None and n:
        keep = rng.random(n) >= errors.miss_rate
        extra = rng.choice(n, size=rng.binomial(n, errors.false_rate), replace=True)
        idx = np.concatenate([np.flatnonzero(keep), extra])
        tiers, teu, region, ship, cx, cy = (a[idx] for a in (tiers, teu, region, ship, cx, cy))
        bias = rng.normal(0, errors.tier_bias_sd)
        tiers = np.clip(tiers + bias + rng.normal(0, errors.tier_sd, len(tiers)), 1.0,
                        errors.max_tiers)  # fmt: skip
    doc: dict[str, Any] = {
        "scene": properties.get("scene"),
        "file": properties.get("file"),
        "port": port,
        "acquired": properties.get("acquired"),
        "gsd_m": properties.get("gsd_m"),
        "model": {"path": "truth", "sha256": model_sha256},
        "device": "none",
        "settings": {"source": "truth" if errors is None else "truth+simulated errors"},
        "totals": _summary(tiers, teu),
        "by_region": {
            r: _summary(tiers[region == r], teu[region == r])
            for r in ("deck", "quay", "yard", "rail")
        },  # fmt: skip
        "by_aoi": {},
        "ships": [],
    }
    if aoi is not None:
        for feat in aoi.features:
            inside = shapely.contains_xy(feat.polygon, cx, cy) if n else np.zeros(0, bool)
            doc["by_aoi"][feat.name] = {
                "visible": int(inside.sum()),
                "est": round(float(tiers[inside].sum()), 3),
                "teu_est": round(float((tiers * teu)[inside].sum()), 3),
            }
    for s in ships:
        p = s["properties"]
        hull = _polygon(s)
        berth, best = None, 0.0
        for feat in aoi.of_kind("berth") if aoi is not None else ():
            a = hull.intersection(feat.polygon).area
            if a > best:
                berth, best = feat.name, a
        on = (region == "deck") & (ship == p.get("name"))
        doc["ships"].append({
            "name": p.get("name") or "unknown", "length_m": p.get("length_m"),
            "beam_m": p.get("beam_m"), "bridge_from_bow": p.get("bridge_from_bow"),
            "score": 1.0, "berth": berth, "visible": int(on.sum()),
            "est": round(float(tiers[on].sum()), 3),
            "teu_est": round(float((tiers * teu)[on].sum()), 3),
            "tiers_mean": round(float(tiers[on].mean()), 3) if on.any() else 0.0,
        })  # fmt: skip
    return doc
