"""Reconcile scene counts with the voyage log: per-shipment estimates with intervals.

Pure functions: counts documents (``<scene>.counts.json`` as dicts), the voyages
(:func:`detector.labels.voyages.read_voyages`) and the assumptions (:mod:`detector.reconcile.munitions`) in, a
:class:`Reconciliation` out; writing files is :mod:`detector.report.shipments_io`'s job.

Matching (windows in whole days between the scene's UTC date and the voyage's ``rajin_date``):

- **deck at Rajin**: a ship at a Pier 2 berth, ``-rajin_days_before <= days <=
  rajin_days_after``, named as the voyage's ship; a ship named ``unknown`` goes to the only
  voyage in the window (ambiguous otherwise). The fullest sighting counts; earlier, lower ones
  are kept as unused evidence (loading in progress).
- **deck on arrival**: the same ship at Vostochny or Dunai ``arrival_days_min..max`` days
  later; a ship with fewer than ``empty_deck_containers`` is the after-unloading view.
- **Pier 2 stock drop**: the stock (containers on Pier 2, off any deck) in the latest Rajin
  scene without a loaded ship at the pier, at most ``stock_days_before`` days before, minus
  the stock beside the loaded ship; unused when another voyage loaded in between. Without a
  scene of the loaded ship, **stock before** loading minus the residual a loading leaves
  (``pier_residual_containers``, pooled with the residual seen beside loaded ships).

Each voyage's used observations are fused (:func:`detector.reconcile.fuse.fuse`), after leaving out any
that disagree beyond chance with the others (:func:`detector.reconcile.fuse.consistent`, listed as
unused with the reason). The fused values are then pooled by ship (:mod:`detector.reconcile.pool`):
an observed voyage leans on its ship's mean as much as its observation is noisy; a voyage
without usable imagery gets the ship's mean and the voyage-to-voyage spread, flagged
``imputed``.
Intervals are nominal 90 %.

Stack heights: scenes counted with the network's tier head (``settings.heights`` "net", the
default) take the factors calibrated on synthetic worlds for the shipped weights (deck,
arrival, per ship, stock, tier figures); scenes counted with measured heights ("shadow") take
their containers as counted, with the error groups of :mod:`detector.reconcile.measured` and
no fitted factor. A run mixing the two is refused (:func:`heights_basis`): its scenes would
rest on two bases the fusion cannot tell apart. Scenes that match no voyage are listed with the reason.

Scenes the run could not count (:class:`UncountedScene`: ``failed``, the file unreadable or
broken; ``gone``, the file left the imagery folder) give no evidence. They are listed in
``totals.json`` (``scenes.not_counted``), and a voyage without usable imagery that a failed
scene would have matched (by port and acquisition time, the windows above) carries the note
``imagery failed: <scene ids>``: its estimate is imputed because the imagery failed, not
because none was taken. A gone scene adds no note (the analyst removed it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ..errors import LabelError
from ..labels.voyages import Voyage
from .evidence import ReconcileConfig, SceneObs, scene_obs
from .fuse import Estimate, consistent, fuse, total
from .matching import ARRIVAL_PORTS, Evidence, Unmatched, match_evidence
from .measured import HEIGHTS_NET, HEIGHTS_SHADOW
from .munitions import Assumptions, rounds_range
from .pool import pool

__all__ = [
    "ReconcileConfig",
    "Evidence",
    "Shipment",
    "Unmatched",
    "Reconciliation",
    "UncountedScene",
    "match_evidence",
    "would_match",
    "heights_basis",
    "reconcile",
    "totals",
]


@dataclass(frozen=True)
class UncountedScene:
    """A scene of the run that gives no counts: ``state`` ``failed`` (with the one-line
    ``error``) or ``gone`` (its file left the imagery folder); ``port`` and ``acquired``
    (UTC) as far as known from its name, header or last counts, for matching."""

    scene: str
    file: str
    state: str
    error: str
    port: str | None = None
    acquired: dt.datetime | None = None


@dataclass(frozen=True)
class Shipment:
    voyage: Voyage
    estimate: Estimate
    teu_ratio: float
    imputed: bool
    evidence: tuple[str, ...]  # scene ids used
    observed: Estimate | None = None  # what the imagery alone says (before pooling)
    note: str = ""  # "imagery failed: <scene ids>" for an imputed voyage with failed imagery

    @property
    def containers_est(self) -> float:
        return self.estimate.value

    @property
    def interval(self) -> tuple[float, float]:
        return self.estimate.interval()

    @property
    def teu(self) -> Estimate:
        return self.estimate.scaled(self.teu_ratio)


@dataclass(frozen=True)
class Reconciliation:
    shipments: tuple[Shipment, ...]
    evidence: tuple[Evidence, ...]
    unmatched: tuple[Unmatched, ...]
    scenes: tuple[SceneObs, ...]
    config: ReconcileConfig
    between_voyage_sd: float = 0.0  # tau of detector.reconcile.pool
    uncounted: tuple[UncountedScene, ...] = ()


def would_match(scene: UncountedScene, voyage: Voyage, cfg: ReconcileConfig) -> bool:
    """Whether a scene at ``scene.port`` on ``scene.acquired`` falls in a window where it
    could have been evidence of ``voyage``: at Rajin from ``max(rajin_days_before,
    stock_days_before)`` days before the loading date to ``rajin_days_after`` after (deck or
    stock), at an arrival port ``arrival_days_min..max`` days after."""
    if scene.port is None or scene.acquired is None:
        return False
    days = (scene.acquired.date() - voyage.rajin_date).days
    if scene.port == "rajin":
        return -max(cfg.rajin_days_before, cfg.stock_days_before) <= days <= cfg.rajin_days_after
    if scene.port in ARRIVAL_PORTS:
        return cfg.arrival_days_min <= days <= cfg.arrival_days_max
    return False


def heights_basis(scenes: Sequence[SceneObs]) -> str:
    """The stack heights every scene was counted with ("net" or "shadow"; "net" for none);
    LabelError naming a scene of each kind when they differ."""
    kinds = {o.heights for o in scenes}
    if len(kinds) <= 1:
        return kinds.pop() if kinds else HEIGHTS_NET
    net = [o.scene for o in scenes if o.heights == HEIGHTS_NET]
    shadow = [o.scene for o in scenes if o.heights == HEIGHTS_SHADOW]
    raise LabelError(
        f"{net[0]}.counts.json: counted with --heights net, but {shadow[0]}.counts.json (and "
        f"{len(shadow) - 1} more) with --heights shadow; the reconciler takes one basis: "
        "re-count the scenes with one --heights"
    )


#: the figures a run with measured heights does not apply (fitted to the network's tier head)
NOT_APPLIED_MEASURED = (
    "deck_count_scale_rajin", "deck_count_scale_arrival", "deck_count_scale_ship",
    "stock_count_scale", "count_bias_rel_90", "count_bias_ship_rel_90", "tier_mae_per_stack",
    "tier_bias_per_scene",
)  # fmt: skip


def reconcile(
    counts: Sequence[Mapping[str, Any]],
    voyages: Sequence[Voyage],
    assumptions: Assumptions,
    *,
    uncounted: Sequence[UncountedScene] = (),
) -> Reconciliation:
    """Per-shipment estimates for every voyage from the scenes' counts documents;
    ``uncounted`` (failed and gone scenes) are carried along and note the voyages a failed
    scene would have matched."""
    scenes = tuple(sorted((scene_obs(c) for c in counts), key=lambda o: o.scene))
    cfg = ReconcileConfig.from_assumptions(assumptions).for_basis(heights_basis(scenes))
    evidence, unmatched = match_evidence(scenes, voyages, cfg)
    evidence = list(evidence)
    fused: dict[int, tuple[Voyage, Estimate, float, tuple[str, ...]]] = {}
    missing: list[Voyage] = []
    for v in voyages:
        used = [e for e in evidence if e.voyage == v.voyage and e.used and e.estimate]
        if not used:
            missing.append(v)
            continue
        prior_sd = float(np.hypot(cfg.prior_sd_per_voyage, cfg.prior_ship_mean_sd))
        keep = consistent([e.estimate for e in used], prior_mean=cfg.prior_for(v.ship),
                          prior_sd=prior_sd)  # type: ignore[misc]  # fmt: skip
        if len(keep) < len(used):
            kept = [used[i] for i in keep]
            values = ", ".join(f"{e.estimate.value:.0f}" for e in kept)  # type: ignore[union-attr]
            for e in used:
                if e not in kept:
                    evidence[evidence.index(e)] = replace(
                        e, used=False,
                        reason=f"inconsistent with the voyage's other evidence ({values})",
                    )  # fmt: skip
            used = kept
        est = fuse([e.estimate for e in used], tag=f"voyage:{v.voyage}")  # type: ignore[misc]
        ratio = float(np.mean([e.teu_ratio for e in used]))
        scene_ids = tuple(sorted({s for e in used for s in e.scenes}))
        fused[v.voyage] = (v, est, ratio, scene_ids)
    pooled, tau = pool({vn: (f[0], f[1]) for vn, f in fused.items()}, missing, cfg)
    shipments = []
    for v in voyages:
        if v.voyage in fused:
            _, y, ratio, scene_ids = fused[v.voyage]
            shipments.append(Shipment(v, pooled[v.voyage], ratio, False, scene_ids, y))
        else:
            ratios = [f[2] for f in fused.values() if f[0].ship == v.ship]
            ratio = float(np.mean(ratios)) if ratios else 1.0
            bad = [u.scene for u in uncounted if u.state == "failed" and would_match(u, v, cfg)]
            note = f"imagery failed: {';'.join(sorted(bad))}" if bad else ""
            shipments.append(Shipment(v, pooled[v.voyage], ratio, True, (), note=note))
    shipments.sort(key=lambda s: s.voyage.voyage)
    lost = tuple(sorted(uncounted, key=lambda u: u.scene))
    return Reconciliation(
        tuple(shipments), tuple(evidence), tuple(unmatched), scenes, cfg, tau, lost
    )


def _range(e: Estimate) -> dict[str, float]:
    lo, hi = e.interval()
    return {"est": round(e.value, 1), "low": round(lo, 1), "high": round(hi, 1)}


def totals(result: Reconciliation, assumptions: Assumptions) -> dict[str, Any]:
    """The ``totals.json`` document: containers, TEU, rounds, per ship, per month, scenes."""
    ships = result.shipments
    all_c = total(s.estimate for s in ships)
    all_t = total(s.teu for s in ships)
    r_est = rounds_range(all_c.value, assumptions)
    lo, hi = all_c.interval()
    r_lo, r_hi = rounds_range(lo, assumptions), rounds_range(hi, assumptions)

    def group(keyfn) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key in sorted({keyfn(s) for s in ships}):
            sel = [s for s in ships if keyfn(s) == key]
            out[key] = {
                "shipments": len(sel),
                "observed": sum(not s.imputed for s in sel),
                "imputed": sum(s.imputed for s in sel),
                "containers": _range(total(s.estimate for s in sel)),
                "teu": _range(total(s.teu for s in sel)),
            }
        return out

    used = sorted({sc for s in ships for sc in s.evidence})
    models = sorted({o.model_sha256 for o in result.scenes if o.model_sha256})
    doc: dict[str, Any] = {
        "interval": "nominal 90 % (value -+ 1.645 sd, plus assumption ranges)",
        "containers": _range(all_c),
        "teu": _range(all_t),
        "rounds": {
            "low": round(r_est.rounds_low),
            "high": round(r_est.rounds_high),
            "low_with_count_interval": round(r_lo.rounds_low),
            "high_with_count_interval": round(r_hi.rounds_high),
            "rounds_per_container_low": r_est.rounds_per_container_low,
            "rounds_per_container_high": r_est.rounds_per_container_high,
        },
        "voyages": {
            "total": len(ships),
            "observed": sum(not s.imputed for s in ships),
            "imputed": sum(s.imputed for s in ships),
        },
        "observed_only": _range(total(s.estimate for s in ships if not s.imputed)),
        "between_voyage_sd": round(result.between_voyage_sd, 1),
        "per_ship": group(lambda s: s.voyage.ship),
        "per_month": group(lambda s: s.voyage.month),
        "scenes": {
            "total": len(result.scenes),
            "used": used,
            "matched_unused": [
                {
                    "scene": ";".join(e.scenes),
                    "voyage": e.voyage,
                    "kind": e.kind,
                    "reason": e.reason,
                }
                for e in result.evidence
                if not e.used
            ],
            "unmatched": [{"scene": u.scene, "reason": u.reason} for u in result.unmatched],
            "not_counted": [
                {
                    "scene": u.scene,
                    "file": u.file,
                    "state": u.state,
                    "error": u.error,
                    "voyages": [
                        s.voyage.voyage for s in ships if would_match(u, s.voyage, result.config)
                    ],
                }
                for u in result.uncounted
            ],
        },
        "models": models,
        "assumptions_file": assumptions.path,
    }
    if result.config.heights == HEIGHTS_SHADOW:  # (absent for "net": its totals as before)
        doc["heights"] = {
            "basis": HEIGHTS_SHADOW,
            "about": "stack heights measured from shadows (else a stowage prior); containers "
            "taken as counted, intervals from the heights' and the counts' uncertainties",
            "not_applied": list(NOT_APPLIED_MEASURED),
        }
    return doc
