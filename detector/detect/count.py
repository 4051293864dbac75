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

__all__ = [
    "MAX_TIERS",
    "tiers_clipped",
    "summary",
    "height_stats",
    "add_height_stats",
    "scene_counts",
]

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


def height_stats(
    est: np.ndarray, low: np.ndarray, high: np.ndarray, source: np.ndarray, mask: np.ndarray
) -> dict:
    """Sums over the ``mask``ed stacks of measured heights (``--heights shadow``), for the
    reconciler (docs/contracts.md): per ``source`` ("shadow" -> ``measured``, else
    ``prior``) the stacks ``n``, the containers ``est`` (tiers clipped to 1..4), and the
    90 % intervals' spans in whole tiers, ``span`` = sum(high - low + 1) and ``span2`` =
    sum((high - low + 1)^2) (a stack of whole tiers low..high stands between low - 0.5 and
    high + 0.5)."""
    est = np.clip(np.nan_to_num(np.asarray(est, np.float64), nan=1.0), 1.0, MAX_TIERS)
    span = np.asarray(high, np.float64) - np.asarray(low, np.float64) + 1.0
    shadow = np.asarray(source == "shadow", bool)
    out = {}
    for key, sel in (("measured", shadow & mask), ("prior", ~shadow & mask)):
        out[key] = {"n": int(sel.sum()), "est": _r(est[sel].sum()),
                    "span": _r(span[sel].sum()), "span2": _r((span[sel] ** 2).sum())}  # fmt: skip
    return out


def add_height_stats(counts: dict, heights, regions: Regions) -> None:
    """Adds :func:`height_stats` as ``heights`` to the totals, every ``ships`` entry and
    every ``by_aoi`` entry of a counts document (``heights``: the scene's
    :class:`detector.detect.heights.Heights`, in the order of the detections)."""
    args = (heights.tiers_est, heights.tiers_low, heights.tiers_high, heights.source)
    n = len(heights.tiers_est)
    counts["totals"]["heights"] = height_stats(*args, np.ones(n, bool))
    for k, ship in enumerate(counts["ships"]):
        ship["heights"] = height_stats(*args, np.asarray(regions.ship_index) == k)
    for name, m in regions.in_aoi.items():
        if name in counts["by_aoi"]:
            counts["by_aoi"][name]["heights"] = height_stats(*args, np.asarray(m, bool))


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
