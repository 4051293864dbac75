"""Matching scene observations to voyages (pure; see :mod:`detector.reconcile.core`).

Deck sightings at Rajin Pier 2 and at the destination ports, and Pier 2 stock changes, become
:class:`Evidence` of a voyage's load (used or not, with the reason); scenes that fit no
voyage become :class:`Unmatched`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..labels.voyages import Voyage
from .evidence import (
    ReconcileConfig,
    SceneObs,
    ShipSighting,
    deck_estimate,
    stock_before_estimate,
    stock_estimate,
)
from .fuse import Estimate

__all__ = ["ARRIVAL_PORTS", "Evidence", "Unmatched", "match_evidence"]

ARRIVAL_PORTS = ("vostochny", "dunai")


@dataclass(frozen=True)
class Evidence:
    """One observation of a voyage's load. ``kind`` deck_rajin | deck_arrival | stock_drop |
    stock_before; ``scenes`` the scene ids it rests on; ``used`` whether it entered the
    estimate, else ``reason``; ``estimate`` None when it has no usable value; ``note`` a
    caveat of a used one (e.g. the ship was identified as another)."""

    voyage: int
    kind: str
    scenes: tuple[str, ...]
    used: bool
    reason: str
    estimate: Estimate | None
    teu_ratio: float = 1.0
    note: str = ""


@dataclass(frozen=True)
class Unmatched:
    scene: str
    reason: str


def _days(obs: SceneObs, v: Voyage) -> int:
    return (obs.date - v.rajin_date).days  # type: ignore[operator]


def _pick(
    sighting: ShipSighting, candidates: list[Voyage], what: str
) -> tuple[Voyage | None, str, str]:
    """(voyage, why not, note): the voyage a sighting belongs to among those whose window
    holds the scene. A ship named as none of them (identification on imagery is uncertain)
    still goes to the only voyage in the window, with a note; else it is not matched."""
    mine = [v for v in candidates if v.ship == sighting.name]
    if mine:
        return mine[0], "", ""
    if len(candidates) == 1:
        v = candidates[0]
        note = "" if sighting.name == "unknown" else (
            f"identified as {sighting.name}; the log has {v.ship} in the window"
        )  # fmt: skip
        return v, "", note
    name = "unidentified ship" if sighting.name == "unknown" else sighting.name
    if not candidates:
        return None, f"{name} {what}: no voyage in the window", ""
    nums = ", ".join(str(v.voyage) for v in candidates)
    return None, f"{name} {what}: ambiguous between voyages {nums}", ""


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
) -> tuple[list[tuple[Voyage, str, ShipSighting, str]], dict[str, list[str]]]:
    """(voyage, kind, sighting, note) for the loaded ships of each scene that fit a voyage (hull
    pieces of one ship merged); and, per scene, why its other ships did not fit.

    Only ships at a berth count (at Rajin: a Pier 2 berth) and only with at least
    ``empty_deck`` containers: empty hulls say nothing about a load, and hulls away from the
    berths are more often look-alikes than ships working cargo.
    """
    out: list[tuple[Voyage, str, ShipSighting, str]] = []
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
        found: dict[int, tuple[Voyage, list[ShipSighting], list[str]]] = {}
        for s in obs.ships:
            if s.est < cfg.empty_deck:
                continue
            if (obs.port == "rajin" and not s.at_loading_pier) or not s.berth:
                misses.setdefault(obs.scene, []).append(
                    f"{s.name} with {s.est:.0f} containers at {s.berth or 'no berth'}"
                    + (", not at Pier 2" if obs.port == "rajin" else "")
                )
                continue
            v, why, note = _pick(s, cands, what)
            if v is None:
                misses.setdefault(obs.scene, []).append(why)
            else:
                entry = found.setdefault(v.voyage, (v, [], []))
                entry[1].append(s)
                if note:
                    entry[2].append(note)
        out += [(v, kind, _merge(parts), "; ".join(notes)) for v, parts, notes in found.values()]
    return out, misses


def match_evidence(
    scenes: Sequence[SceneObs], voyages: Sequence[Voyage], cfg: ReconcileConfig
) -> tuple[list[Evidence], list[Unmatched]]:
    """All evidence (used and unused) for every voyage, and the scenes that fit none."""
    by_scene = {o.scene: o for o in scenes}
    deck, misses = _deck_matches(scenes, voyages, cfg)
    ships = {v.voyage: v.ship for v in voyages}
    evidence: list[Evidence] = []
    deck_scene: dict[int, SceneObs] = {}  # voyage -> scene of its used Rajin deck sighting
    for kind in ("deck_rajin", "deck_arrival"):
        per_voyage: dict[int, list[tuple[ShipSighting, str]]] = {}
        for v, k, s, note in deck:
            if k == kind:
                per_voyage.setdefault(v.voyage, []).append((s, note))
        for vn, sightings in sorted(per_voyage.items()):
            # the last view at Rajin (loading done), the first on arrival (before unloading)
            ranked = sorted(sightings, key=lambda sn: (by_scene[sn[0].scene].acquired,
                                                        sn[0].scene))  # fmt: skip
            if kind == "deck_rajin":
                ranked.reverse()
            for s, note in ranked:
                used = s is ranked[0][0]
                first = ranked[0][0].scene
                if used:
                    reason = ""
                elif kind == "deck_rajin":
                    reason = f"earlier than {first} (loading may not have been complete)"
                else:
                    reason = f"later than {first} (unloading may have begun)"
                est = deck_estimate(s, cfg, floor=cfg.prior_for(ships[vn]), ship=ships[vn],
                                    at_rajin=kind == "deck_rajin", voyage=vn)  # fmt: skip
                evidence.append(Evidence(vn, kind, (s.scene,), used, reason, est,
                                         s.teu_ratio, note))  # fmt: skip
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
        elif o.port in ARRIVAL_PORTS and o.unobserved_berths:
            reason = (f"no loaded ship at the berths it shows; {', '.join(o.unobserved_berths)} "
                      "not observed (outside the scene or no data there)")  # fmt: skip
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
    assumption pooled with what the loaded scenes show, robustly (median and 1.4826 x the
    median absolute deviation, so a few miscounted scenes do not take over); the assumption
    weighs as much as 4 scenes."""
    x = np.array([o.stock_est for o in deck_scene.values() if o.stock_est is not None], float)
    x = x * cfg.stock_scale
    k, n = 4.0, len(x)
    if n >= 3:
        med = float(np.median(x))
        spread = 1.4826 * float(np.median(np.abs(x - med)))
    else:
        med, spread = cfg.pier_residual, cfg.pier_residual_sd
        n = 0
    mean = (n * med + k * cfg.pier_residual) / (n + k)
    sd = float(
        np.sqrt((max(n - 1, 0) * spread**2 + k * cfg.pier_residual_sd**2) / (max(n - 1, 0) + k))
    )
    return float(mean), sd, sd / float(np.sqrt(n + k))


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
