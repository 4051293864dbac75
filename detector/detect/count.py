"""Per-scene counts: the ``<scene>.counts.json`` document (schema in docs/contracts.md).

*Visible* counts the container tops the model sees; *est* adds the hidden tiers below each
top: the sum over containers of the estimated stack height ``tiers_est`` clipped to 1..4.
TEU weights a 40-ft container as 2.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime

import numpy as np

from ..detections import KINDS, TEU_PER_KIND, Detections
from .hulls import ShipHulls
from .locate import REGIONS, Regions

__all__ = ["MAX_TIERS", "tiers_clipped", "summary", "scene_counts"]

MAX_TIERS = 4.0


def tiers_clipped(dets: Detections) -> np.ndarray:
    """float64 [N] estimated stack height per container, clipped to 1..``MAX_TIERS``."""
    t = np.nan_to_num(dets.tiers.astype(np.float64), nan=1.0)
    return np.clip(t, 1.0, MAX_TIERS)


def _r(x: float) -> float:
    return round(float(x), 3)


def summary(dets: Detections, mask: np.ndarray | None = None) -> dict:
    """``visible``, ``est``, ``teu_visible``, ``teu_est`` of the (masked) detections."""
    if mask is not None:
        dets = dets.select(mask)
    tiers = tiers_clipped(dets)
    teu = TEU_PER_KIND[dets.kind.astype(np.int64)] if len(dets) else np.zeros(0)
    return {
        "visible": len(dets),
        "est": _r(tiers.sum()),
        "teu_visible": int(teu.sum()),
        "teu_est": _r((tiers * teu).sum()),
    }


def _iso(t: datetime | None) -> str | None:
    if t is None:
        return None
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _finite(x: float) -> float | None:
    return None if x is None or not math.isfinite(x) else _r(x)


def scene_counts(
    *,
    scene,
    dets: Detections,
    regions: Regions,
    hulls: ShipHulls,
    model: Mapping[str, str],
    device: str,
    settings: Mapping,
    timing_s: Mapping[str, float],
    sun: Mapping[str, float] | None,
    model_gsd_m: float,
) -> dict:
    """The counts.json dict of one scene.

    ``scene``: a :class:`detector.imagery.raster.Scene` (uses ``id, path, port, acquired, gsd_m``).
    ``dets`` in any frame, with ``regions`` computed for them (same order) and the ``hulls``
    whose indices ``regions.ship_index`` refers to. ``model``: ``{"path", "sha256"}``.
    """
    tiers = tiers_clipped(dets)
    total = summary(dets)
    total["by_kind"] = {k: int((dets.kind == i).sum()) for i, k in enumerate(KINDS)}
    by_region = {r: summary(dets, regions.region == r) for r in REGIONS}
    by_aoi = {}
    for name, m in regions.in_aoi.items():
        s = summary(dets, m)
        by_aoi[name] = {"visible": s["visible"], "est": s["est"]}
    ships = []
    for k, h in enumerate(hulls.hulls):
        m = regions.ship_index == k
        n = int(m.sum())
        ships.append(
            {
                "name": h.name,
                "length_m": _r(h.length_m),
                "beam_m": _r(h.beam_m),
                "bridge_from_bow": _finite(h.bridge_from_bow),
                "score": _r(h.score),
                "berth": hulls.berths[k] if k < len(hulls.berths) else None,
                "visible": n,
                "est": _r(tiers[m].sum()),
                "tiers_mean": _r(tiers[m].mean()) if n else 0.0,
            }
        )
    return {
        "scene": scene.id,
        "file": str(scene.path),
        "port": scene.port,
        "acquired": _iso(scene.acquired),
        "gsd_m": _r(scene.gsd_m),
        "model_gsd_m": _r(model_gsd_m),
        "model": dict(model),
        "device": device,
        "settings": dict(settings),
        "timing_s": {k: _r(v) for k, v in timing_s.items()},
        "sun": None if sun is None else {k: _r(v) for k, v in sun.items()},
        "totals": total,
        "by_region": by_region,
        "by_aoi": by_aoi,
        "ships": ships,
    }
