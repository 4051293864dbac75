"""Containers from measured stack heights (``--heights shadow``; pure, used by reconcile).

A scene counted with ``ccount detect|run --heights shadow`` (``settings.heights`` "shadow" in
its counts.json) gives each stack's height from its shadow, or a stowage prior where the
shadow cannot be measured, with a 90 % interval of whole tiers (issue 17). Its counts carry,
per ship and per AOI, the sums of those heights (:func:`detector.detect.count.height_stats`,
read here as :class:`HeightStats`). The reconciler then takes the containers as they are:
no deck, arrival, per-ship or stock factor, no tier figures fitted to the network's tier
head. The error groups of such an observation (:func:`measured_groups`):

- ``scene:<id>:tiers`` measured stacks, independent per stack: a stack of whole tiers
  ``low..high`` stands between ``low - 0.5`` and ``high + 0.5`` (90 %), sd = span / 3.29;
- ``scene:<id>:sun`` shared by the scene's measured stacks: the sun elevation's error
  (``height = shadow x tan(e)``, so a relative ``de / (sin e cos e)``) and a shadow-edge
  bias of ``shadow_edge_bias_px`` model pixels (``px x gsd x tan(e) / 2.591 m`` a stack);
- ``<load>:prior_scatter`` prior stacks, independent per stack (their interval as above),
  but one load's: the deck views of one voyage share the same stacks, so the group is the
  voyage's (``deck_prior:<voyage>``) or the scene's for Pier 2 stock;
- ``ship_prior:<ship>`` (deck) / ``scene:<id>:prior_mean`` (stock): how far a load's mean
  stack height sits from the prior, ``prior_tier_shared_sd`` tiers on every prior stack;
  shared by every view and voyage of one ship (its loading practice), so pooling cannot
  average it out (:data:`detector.reconcile.pool.SHARED_GROUPS`);
- the counting groups of the tops (``scene:<id>:count``, ``model:bias`` with
  ``top_count_bias_rel_90``), as for the network's heights.

Every figure used is in the ``measured_heights`` section of the assumptions file with its
source; a file without that section gets the defaults of :class:`MeasuredConfig`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from ..detections import TIER_HEIGHT_M
from ..errors import LabelError
from .fuse import Z90

__all__ = [
    "HEIGHTS_NET",
    "HEIGHTS_SHADOW",
    "TIER_HEIGHT_M",
    "HeightStats",
    "MeasuredConfig",
    "height_stats",
    "measured_groups",
    "scene_basis",
]

HEIGHTS_NET, HEIGHTS_SHADOW = "net", "shadow"


@dataclass(frozen=True)
class MeasuredConfig:
    """The ``measured_heights`` figures of the assumptions file, typed."""

    sun_sd_metadata_deg: float = 0.5
    sun_sd_shadows_deg: float = 3.0
    shadow_edge_bias_px: float = 0.5
    prior_tier_shared_sd: float = 0.3
    top_count_bias_rel_90: float = 0.06

    @classmethod
    def from_section(cls, s: Mapping[str, Any]) -> MeasuredConfig:
        d = cls()
        return cls(
            sun_sd_metadata_deg=float(
                s.get("sun_elevation_sd_metadata_deg", d.sun_sd_metadata_deg)
            ),
            sun_sd_shadows_deg=float(s.get("sun_elevation_sd_shadows_deg", d.sun_sd_shadows_deg)),
            shadow_edge_bias_px=float(s.get("shadow_edge_bias_px", d.shadow_edge_bias_px)),
            prior_tier_shared_sd=float(s.get("prior_tier_shared_sd", d.prior_tier_shared_sd)),
            top_count_bias_rel_90=float(s.get("top_count_bias_rel_90", d.top_count_bias_rel_90)),
        )


@dataclass(frozen=True)
class HeightStats:
    """Sums over one ship's or AOI's stacks of a scene counted with shadow heights:
    ``n_*`` stacks, ``est_*`` containers, ``span_*`` / ``span2_*`` sum of the 90 % interval
    spans (high - low + 1 tiers) and of their squares, for measured and prior stacks; the
    scene's sun elevation (None: unknown), its ``sun_source`` and the model frame's GSD."""

    n_measured: int
    est_measured: float
    span_measured: float
    span2_measured: float
    n_prior: int
    est_prior: float
    span_prior: float
    span2_prior: float
    sun_elevation_deg: float | None
    sun_source: str
    gsd_m: float


def scene_basis(counts: Mapping[str, Any]) -> str:
    """``settings.heights`` of a counts document ("net" when absent: counts made before it)."""
    settings = counts.get("settings") or {}
    basis = settings.get("heights", HEIGHTS_NET) if isinstance(settings, Mapping) else None
    if basis not in (HEIGHTS_NET, HEIGHTS_SHADOW):
        raise LabelError(f"{counts.get('scene')}.counts.json: settings.heights {basis!r} is "
                         f"not {HEIGHTS_NET!r} or {HEIGHTS_SHADOW!r}")  # fmt: skip
    return str(basis)


def height_stats(block: Any, counts: Mapping[str, Any], where: str) -> HeightStats:
    """The ``heights`` sums of a ships[] or by_aoi entry of a shadow-heights counts document;
    LabelError naming ``where`` when they are missing (counts from before they were written)."""
    h = block.get("heights") if isinstance(block, Mapping) else None
    if not isinstance(h, Mapping) or not all(
        isinstance(h.get(k), Mapping) for k in ("measured", "prior")
    ):
        raise LabelError(
            f"{where}: counted with --heights shadow but without the per-stack height sums "
            "('heights'); re-count the scene with this version (ccount detect|run --heights shadow)"
        )
    sun = counts.get("sun") or {}
    elev = sun.get("elevation_deg") if isinstance(sun, Mapping) else None

    def num(part: str, key: str) -> float:
        x = h[part].get(key, 0)
        if isinstance(x, bool) or not isinstance(x, int | float) or not math.isfinite(x) or x < 0:
            raise LabelError(f"{where}: heights.{part}.{key} must be a number >= 0, got {x!r}")
        return float(x)

    return HeightStats(
        n_measured=int(num("measured", "n")),
        est_measured=num("measured", "est"),
        span_measured=num("measured", "span"),
        span2_measured=num("measured", "span2"),
        n_prior=int(num("prior", "n")),
        est_prior=num("prior", "est"),
        span_prior=num("prior", "span"),
        span2_prior=num("prior", "span2"),
        sun_elevation_deg=float(elev) if isinstance(elev, int | float) else None,
        sun_source=str(sun.get("source") or "none") if isinstance(sun, Mapping) else "none",
        gsd_m=float(counts.get("model_gsd_m") or counts.get("gsd_m") or 0.0),
    )


def _sun_sd(h: HeightStats, cfg: MeasuredConfig) -> float:
    """sd (containers) of the scene-wide error of the measured stacks: the sun elevation's
    and a shadow-edge bias."""
    e = h.sun_elevation_deg
    if h.n_measured == 0 or e is None or not 0.0 < e < 90.0:
        return 0.0
    rad = math.radians(e)
    sd_deg = cfg.sun_sd_shadows_deg if h.sun_source == "shadows" else cfg.sun_sd_metadata_deg
    rel = math.radians(sd_deg) / (math.sin(rad) * math.cos(rad))
    edge = cfg.shadow_edge_bias_px * h.gsd_m * math.tan(rad) / TIER_HEIGHT_M
    return rel * h.est_measured + edge * h.n_measured


def measured_groups(
    scene: str,
    h: HeightStats,
    cfg: MeasuredConfig,
    *,
    load: str,
    shared: str,
    est: float | None = None,
    scale: float | None = None,
) -> list[tuple[str, float]]:
    """Error groups (name, sd in containers) of the stack heights of one observation of
    ``est`` containers (default: the stacks' sum; see the module doc): ``load`` names the
    prior stacks' own scatter group (``deck_prior:<voyage>`` or ``scene:<id>:stock``),
    ``shared`` the group of the prior's mean (``ship_prior:<ship>`` or
    ``scene:<id>:prior_mean``). A ``scale`` above ``est`` (a deck counted below its ship's
    typical load is as uncertain as that load) widens them all by ``scale / est``; with
    nothing counted, ``scale`` containers count as prior stacks of 2.5 tiers in 1-4."""
    est = h.est_measured + h.est_prior if est is None else est
    scale = est if scale is None else max(scale, est)
    if est <= 0 < scale:
        n = scale / 2.5
        h = replace(h, n_measured=0, est_measured=0.0, span2_measured=0.0, n_prior=round(n),
                    est_prior=scale, span_prior=4.0 * n, span2_prior=16.0 * n)  # fmt: skip
    factor = scale / est if est > 0 else 1.0
    k = factor / (2.0 * Z90)
    return [
        (f"scene:{scene}:tiers", k * math.sqrt(h.span2_measured)),
        (f"scene:{scene}:sun", factor * _sun_sd(h, cfg)),
        (f"{load}:prior_scatter", k * math.sqrt(h.span2_prior)),
        (shared, factor * cfg.prior_tier_shared_sd * h.n_prior),
    ]
