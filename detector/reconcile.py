"""Reconcile scene counts with the voyage log: per-shipment estimates with intervals.

Pure functions: counts documents (``<scene>.counts.json`` as dicts), the voyages
(:func:`detector.voyages.read_voyages`) and the assumptions (:mod:`detector.munitions`) in, a
:class:`Reconciliation` out; writing files is :mod:`detector._shipments_io`'s job.

Matching (windows in whole days between the scene's UTC date and the voyage's ``rajin_date``):

- **deck at Rajin**: a ship at a Pier 2 berth, ``-rajin_days_before <= days <=
  rajin_days_after``, named as the voyage's ship; a ship named ``unknown`` goes to the only
  voyage in the window (ambiguous otherwise). The fullest sighting counts; earlier, lower ones
  are kept as unused evidence (loading in progress).
- **deck on arrival**: the same ship at Vostochny or Dunai ``arrival_days_min..max`` days
  later; a ship with fewer than ``empty_deck_containers`` is the after-unloading view.
- **Pier 2 stock drop**: the stock (containers on Pier 2, off any deck) in the latest Rajin
  scene without a loaded ship at the pier, at most ``stock_days_before`` days before, minus
  the stock beside the loaded ship; unused when another voyage loaded in between.

Each voyage's used observations are fused (:func:`detector._fuse.fuse`); voyages with none are
imputed from the same ship's observed voyages (:func:`detector._fuse.predictive`) and flagged.
Intervals are nominal 90 %. Scenes that match no voyage are listed with the reason.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._evidence import (
    ReconcileConfig,
    SceneObs,
    ShipSighting,
    deck_estimate,
    scene_obs,
    stock_before_estimate,
    stock_estimate,
)
from ._fuse import Estimate, fuse, pooled_spread, predictive, total
from .munitions import Assumptions, rounds_range
from .voyages import Voyage

__all__ = [
    "ReconcileConfig",
    "Evidence",
    "Shipment",
    "Unmatched",
    "Reconciliation",
    "match_evidence",
    "reconcile",
    "totals",
]

ARRIVAL_PORTS = ("vostochny", "dunai")


@dataclass(frozen=True)
class Evidence:
    """One observation of a voyage's load. ``kind`` deck_rajin | deck_arrival | stock_drop;
    ``scenes`` the scene ids it rests on; ``used`` whether it entered the estimate, else
    ``reason``; ``estimate`` None when it has no usable value."""

    voyage: int
    kind: str
    scenes: tuple[str, ...]
    used: bool
    reason: str
    estimate: Estimate | None
    teu_ratio: float = 1.0


@dataclass(frozen=True)
class Shipment:
    voyage: Voyage
    estimate: Estimate
    teu_ratio: float
    imputed: bool
    evidence: tuple[str, ...]  # scene ids used

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
class Unmatched:
    scene: str
    reason: str


@dataclass(frozen=True)
class Reconciliation:
    shipments: tuple[Shipment, ...]
    evidence: tuple[Evidence, ...]
    unmatched: tuple[Unmatched, ...]
    scenes: tuple[SceneObs, ...]
    config: ReconcileConfig


def _days(obs: SceneObs, v: Voyage) -> int:
    return (obs.date - v.rajin_date).days  # type: ignore[operator]


def _pick(sighting: ShipSighting, candidates: list[Voyage], what: str) -> tuple[Voyage | None, str]:
    """The voyage a sighting belongs to among those whose window holds the scene."""
    if sighting.name == "unknown":
        if len(candidates) == 1:
            return candidates[0], ""
        if not candidates:
            return None, f"unidentified ship {what}: no voyage in the window"
        nums = ", ".join(str(v.voyage) for v in candidates)
        return None, f"unidentified ship {what}: ambiguous between voyages {nums}"
    mine = [v for v in candidates if v.ship == sighting.name]
    if not mine:
        return None, f"{sighting.name} {what}: no {sighting.name} voyage in the window"
    return mine[0], ""


def _deck_matches(
    scenes: Sequence[SceneObs], voyages: Sequence[Voyage], cfg: ReconcileConfig
) -> tuple[list[tuple[Voyage, str, ShipSighting]], dict[str, list[str]]]:
    """(voyage, kind, sighting) for every ship sighting that fits a voyage; and, per scene,
    reasons its sightings did not fit."""
    out: list[tuple[Voyage, str, ShipSighting]] = []
    misses: dict[str, list[str]] = {}
    for obs in scenes:
        if obs.date is None or obs.port is None:
            continue
        for s in obs.ships:
            if obs.port == "rajin":
                if not s.at_loading_pier:
                    misses.setdefault(obs.scene, []).append(
                        f"{s.name} at {s.berth or 'no berth'}, not at Pier 2"
                    )
                    continue
                lo, hi, kind = -cfg.rajin_days_before, cfg.rajin_days_after, "deck_rajin"
                what = f"at Rajin Pier 2 on {obs.date}"
            elif obs.port in ARRIVAL_PORTS:
                lo, hi, kind = cfg.arrival_days_min, cfg.arrival_days_max, "deck_arrival"
                what = f"at {obs.port.title()} on {obs.date}"
            else:
                continue
            cands = sorted(
                (v for v in voyages if lo <= _days(obs, v) <= hi),
                key=lambda v: (abs(_days(obs, v)), v.voyage),
            )
            v, why = _pick(s, cands, what)
            if v is None:
                misses.setdefault(obs.scene, []).append(why)
            else:
                out.append((v, kind, s))
    return out, misses


def match_evidence(
    scenes: Sequence[SceneObs], voyages: Sequence[Voyage], cfg: ReconcileConfig
) -> tuple[list[Evidence], list[Unmatched]]:
    """All evidence (used and unused) for every voyage, and the scenes that fit none."""
    by_scene = {o.scene: o for o in scenes}
    deck, misses = _deck_matches(scenes, voyages, cfg)
    evidence: list[Evidence] = []
    deck_scene: dict[int, SceneObs] = {}  # voyage -> scene of its used Rajin deck sighting
    for kind in ("deck_rajin", "deck_arrival"):
        per_voyage: dict[int, list[ShipSighting]] = {}
        for v, k, s in deck:
            if k == kind:
                per_voyage.setdefault(v.voyage, []).append(s)
        for vn, sightings in sorted(per_voyage.items()):
            ranked = sorted(sightings, key=lambda s: (-s.est, s.scene))
            best = ranked[0]
            for s in ranked:
                obs = by_scene[s.scene]
                if s.est < cfg.empty_deck:
                    reason = (
                        "deck empty (before loading)"
                        if kind == "deck_rajin"
                        else ("deck empty (after unloading)")
                    )
                    used = False
                elif s is best:
                    used, reason = True, ""
                else:
                    used = False
                    reason = f"fewer containers than in {best.scene} (loading or unloading)"
                evidence.append(
                    Evidence(vn, kind, (s.scene,), used, reason,
                             deck_estimate(s, cfg) if s.est >= cfg.empty_deck else None,
                             obs.teu_ratio)
                )  # fmt: skip
                if used and kind == "deck_rajin":
                    deck_scene[vn] = obs
    evidence.extend(_stock_evidence(scenes, voyages, deck_scene, cfg))
    matched = {sc for e in evidence for sc in e.scenes}
    unmatched = []
    for o in scenes:
        if o.scene in matched:
            continue
        if o.acquired is None:
            reason = "no acquisition time"
        elif o.port is None:
            reason = "port unknown"
        elif o.scene in misses:
            reason = "; ".join(misses[o.scene])
        elif not o.ships and o.port in ARRIVAL_PORTS:
            reason = f"no ship seen at {o.port.title()}"
            near = [str(v.voyage) for v in voyages
                    if cfg.arrival_days_min <= _days(o, v) <= cfg.arrival_days_max + 1]  # fmt: skip
            if near:
                reason += f" (after unloading? voyage(s) {', '.join(near)} within the window)"
        elif o.port == "rajin":
            reason = "no loaded ship at Pier 2 and no usable stock change for a voyage"
        else:
            reason = f"port {o.port} is not part of the route"
        unmatched.append(Unmatched(o.scene, reason))
    return evidence, unmatched


def _residual(
    scenes: Sequence[SceneObs], deck_scene: Mapping[int, SceneObs], cfg: ReconcileConfig
) -> tuple[float, float, float]:
    """(mean, sd, sd of the mean) of the Pier 2 stock left beside a loaded ship: the
    assumption pooled with what the loaded scenes show (the prior is worth 4 scenes)."""
    x = np.array([o.stock_est for o in deck_scene.values() if o.stock_est is not None], float)
    k = 4.0
    mean = (x.sum() + k * cfg.pier_residual) / (len(x) + k)
    ss = float(((x - x.mean()) ** 2).sum()) if len(x) >= 2 else 0.0
    sd = float(np.sqrt((ss + k * cfg.pier_residual_sd**2) / (max(len(x) - 1, 0) + k)))
    return float(mean), sd, sd / float(np.sqrt(len(x) + k))


def _stock_evidence(
    scenes: Sequence[SceneObs],
    voyages: Sequence[Voyage],
    deck_scene: Mapping[int, SceneObs],
    cfg: ReconcileConfig,
) -> list[Evidence]:
    rajin = sorted(
        (o for o in scenes if o.port == "rajin" and o.stock_est is not None and o.acquired),
        key=lambda o: (o.acquired, o.scene),
    )
    res_mean, res_sd, res_mean_sd = _residual(scenes, deck_scene, cfg)
    out = []
    for v in voyages:
        after = deck_scene.get(v.voyage)
        if after is None:
            # a pier scene without a loaded ship, after the loading day
            after = next(
                (o for o in rajin if 0 < _days(o, v) <= cfg.rajin_days_after
                 and not o.loaded_ship_at_pier(cfg.empty_deck)),
                None,
            )  # fmt: skip
        before = [
            o for o in rajin
            if (after is None or o.acquired < after.acquired)  # type: ignore[operator]
            and -cfg.stock_days_before <= _days(o, v) <= 0
            and not o.loaded_ship_at_pier(cfg.empty_deck)
        ]  # fmt: skip
        if not before:
            continue
        b = before[-1]
        end = after.date if after is not None else v.rajin_date
        others = [
            w.voyage for w in voyages
            if w.voyage != v.voyage and b.date <= w.rajin_date <= end  # type: ignore[operator]
        ]  # fmt: skip
        if after is not None:
            kind, scene_ids = "stock_drop", (b.scene, after.scene)
            est = stock_estimate(b, after, v.voyage, cfg)
            ratio = float(np.mean([b.teu_ratio, after.teu_ratio]))
        else:
            kind, scene_ids = "stock_before", (b.scene,)
            est = stock_before_estimate(b, res_mean, res_sd, res_mean_sd, v.voyage, cfg)
            ratio = b.teu_ratio
        if others:
            used, reason = False, f"voyage(s) {', '.join(map(str, others))} also loaded in between"
        elif est.value < cfg.empty_deck:
            used, reason = False, f"no stock to load ({est.value:.0f} containers)"
        else:
            used, reason = True, ""
        out.append(Evidence(v.voyage, kind, scene_ids, used, reason, est if used else None, ratio))
    return out


def _impute(
    voyage: Voyage, observed: Sequence[Shipment], spread: float, cfg: ReconcileConfig
) -> tuple[Estimate, float]:
    mine = [s for s in observed if s.voyage.ship == voyage.ship]
    mean = predictive(
        [s.estimate.value for s in mine],
        prior_mean=cfg.prior_for(voyage.ship),
        prior_mean_sd=cfg.prior_ship_mean_sd,
        spread=spread,
        group=f"impute:{voyage.ship}",
    )
    est = mean.plus_group(f"impute:{voyage.ship}:draw:{voyage.voyage}", spread)
    est = Estimate(est.value, est.sd, cfg.under_deck_low - cfg.under_deck,
                   cfg.under_deck_high - cfg.under_deck)  # fmt: skip
    ratio = float(np.mean([s.teu_ratio for s in mine])) if mine else 1.0
    return est, ratio


def reconcile(
    counts: Sequence[Mapping[str, Any]],
    voyages: Sequence[Voyage],
    assumptions: Assumptions,
) -> Reconciliation:
    """Per-shipment estimates for every voyage from the scenes' counts documents."""
    cfg = ReconcileConfig.from_assumptions(assumptions)
    scenes = tuple(sorted((scene_obs(c) for c in counts), key=lambda o: o.scene))
    evidence, unmatched = match_evidence(scenes, voyages, cfg)
    observed: list[Shipment] = []
    missing: list[Voyage] = []
    for v in voyages:
        used = [e for e in evidence if e.voyage == v.voyage and e.used and e.estimate]
        if not used:
            missing.append(v)
            continue
        est = fuse([e.estimate for e in used], tag=f"voyage:{v.voyage}")  # type: ignore[misc]
        ratio = float(np.mean([e.teu_ratio for e in used]))
        scene_ids = tuple(sorted({s for e in used for s in e.scenes}))
        observed.append(Shipment(v, est, ratio, False, scene_ids))
    spread = pooled_spread(
        [[s.estimate.value for s in observed if s.voyage.ship == ship]
         for ship in sorted({s.voyage.ship for s in observed})],
        prior_sd=cfg.prior_sd_per_voyage,
        floor=float(np.median([s.estimate.total_sd for s in observed])) if observed else 0.0,
    )  # fmt: skip
    imputed = [Shipment(v, *_impute(v, observed, spread, cfg), True, ()) for v in missing]
    shipments = tuple(sorted(observed + imputed, key=lambda s: s.voyage.voyage))
    return Reconciliation(shipments, tuple(evidence), tuple(unmatched), scenes, cfg)


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
    return {
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
        },
        "models": models,
        "assumptions_file": assumptions.path,
    }
