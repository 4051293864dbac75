"""Matching scene observations to voyages (pure; see :mod:`detector.reconcile`).

Deck sightings at Rajin Pier 2 and at the destination ports, and Pier 2 stock changes, become
:class:`Evidence` of a voyage's load (used or not, with the reason); scenes that fit no
voyage become :class:`Unmatched`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ._evidence import (
    ReconcileConfig,
    SceneObs,
    ShipSighting,
    deck_estimate,
    stock_before_estimate,
    stock_estimate,
)
from ._fuse import Estimate
from .voyages import Voyage

__all__ = ["ARRIVAL_PORTS", "Evidence", "Unmatched", "match_evidence"]

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
class Unmatched:
    scene: str
    reason: str


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


def _merge(parts: Sequence[ShipSighting]) -> ShipSighting:
    """One ship from the hull pieces a detector split it into (same scene, same voyage)."""
    if len(parts) == 1:
        return parts[0]
    est = sum(p.est for p in parts)
    named = [p.name for p in parts if p.name != "unknown"]
    return ShipSighting(
        scene=parts[0].scene,
        name=named[0] if named else "unknown",
        berth=next((p.berth for p in parts if p.berth), None),
        visible=sum(p.visible for p in parts),
        est=est,
        teu_ratio=sum(p.teu_ratio * p.est for p in parts) / est if est > 0 else 1.0,
    )


def _deck_matches(
    scenes: Sequence[SceneObs], voyages: Sequence[Voyage], cfg: ReconcileConfig
) -> tuple[list[tuple[Voyage, str, ShipSighting]], dict[str, list[str]]]:
    """(voyage, kind, sighting) for the loaded ships of each scene that fit a voyage (hull
    pieces of one ship merged); and, per scene, why its other ships did not fit.

    Only ships at a berth count (at Rajin: a Pier 2 berth) and only with at least
    ``empty_deck`` containers: empty hulls say nothing about a load, and hulls away from the
    berths are more often look-alikes than ships working cargo.
    """
    out: list[tuple[Voyage, str, ShipSighting]] = []
    misses: dict[str, list[str]] = {}
    for obs in scenes:
        if obs.date is None or obs.port is None:
            continue
        if obs.port == "rajin":
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
        found: dict[int, tuple[Voyage, list[ShipSighting]]] = {}
        for s in obs.ships:
            if s.est < cfg.empty_deck:
                continue
            if (obs.port == "rajin" and not s.at_loading_pier) or not s.berth:
                misses.setdefault(obs.scene, []).append(
                    f"{s.name} with {s.est:.0f} containers at {s.berth or 'no berth'}"
                    + (", not at Pier 2" if obs.port == "rajin" else "")
                )
                continue
            v, why = _pick(s, cands, what)
            if v is None:
                misses.setdefault(obs.scene, []).append(why)
            else:
                found.setdefault(v.voyage, (v, []))[1].append(s)
        out += [(v, kind, _merge(parts)) for v, parts in found.values()]
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
            for s in ranked:
                used = s is ranked[0]
                reason = "" if used else (
                    f"fewer containers than in {ranked[0].scene} (loading or unloading)"
                )  # fmt: skip
                evidence.append(Evidence(vn, kind, (s.scene,), used, reason,
                                         deck_estimate(s, cfg), s.teu_ratio))  # fmt: skip
                if used and kind == "deck_rajin":
                    deck_scene[vn] = by_scene[s.scene]
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
        elif o.port in ARRIVAL_PORTS:
            reason = f"no loaded ship at a berth at {o.port.title()}"
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
        # the stock beside the loaded ship is what the loading left; a later pier scene
        # without the ship could already hold the next voyage's stock, so it is not used
        after = deck_scene.get(v.voyage)
        before = [
            o for o in rajin
            if (after is None or o.acquired < after.acquired)  # type: ignore[operator]
            # before the loading day, or the same day before the loaded ship's scene
            and -cfg.stock_days_before <= _days(o, v) <= (0 if after is not None else -1)
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
            ratio = b.stock_teu_ratio
        else:
            kind, scene_ids = "stock_before", (b.scene,)
            est = stock_before_estimate(b, res_mean, res_sd, res_mean_sd, v.voyage, cfg)
            ratio = b.stock_teu_ratio
        if others:
            used, reason = False, f"voyage(s) {', '.join(map(str, others))} also loaded in between"
        elif est.value < cfg.empty_deck:
            used, reason = False, f"no stock to load ({est.value:.0f} containers)"
        else:
            used, reason = True, ""
        out.append(Evidence(v.voyage, kind, scene_ids, used, reason, est if used else None, ratio))
    return out
