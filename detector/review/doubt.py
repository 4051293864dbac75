"""The candidates of ``ccount review select``'s review units and their doubt.

Review units are squares of ``unit_px`` model-frame pixels on a grid per scene (units that
would stick out of the frame, or that are less than :data:`MIN_VALID` valid, are not
offered). Each scene runs through the model twice (:mod:`.passes`); each unit's peaks become
its candidates, each with a *doubt* 0..1 and the reason that gave it (the largest):

- ``near_threshold``: a detection scoring within :data:`NEAR` above the threshold;
- ``below_peak``: a peak below the threshold (down to the floor): a container the run missed;
- ``flip_disagree``: above the threshold in one pass and not the other (the mirrored pass's
  own detections that the plain pass lacks become candidates of their own);
- ``kind_margin``: the passes disagree on the kind, or the length lies between the two kinds;
- ``verify_margin`` (a run with ``--verify``): the crop verifier's probability lies within
  :data:`VERIFY_NEAR` of its threshold, or it rejects a box the detector scores well
  (:data:`NEAR` or more above the threshold): the box the run's count hangs on;
- ``count_change`` (per unit): the passes count a different number of containers.

A run with ``--verify`` counts a box when it scores at least the threshold and the verifier
does not reject it: those are the round's ``model`` candidates, the others ``peak``.

A unit's priority is its summed doubt (``count_change`` included) over the square root of
its number of candidates: doubt per decision, not punishing a busy unit too hard.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..detections import Detections
from .passes import PEAK_FLOOR, ScenePasses, valid_share

__all__ = ["KIND_GAP_M", "MATCH_M", "MIN_VALID", "NEAR", "VERIFY_NEAR", "UnitPick",
           "candidate_doubts", "score_units"]  # fmt: skip

NEAR = 0.15  # a detection scoring within this above the threshold is "near" it
VERIFY_NEAR = 0.2  # a verifier probability within this of its threshold is "near" it
KIND_GAP_M = (8.0, 10.5)  # lengths between a 20 ft (6.1 m) and a 40 ft (12.2 m) container
MATCH_M = 1.25  # plain and mirrored peaks this close are the same (labels.evaluate's radius)
MIN_VALID = 0.5


@dataclass(frozen=True)
class UnitPick:
    """A possible review unit: ``window`` (model-frame Window) of scene ``scene``;
    ``cands``: its peaks (model-frame pixels) with ``source`` ("model"|"peak"), ``doubt`` and
    ``reason`` per peak; ``priority``/``reason`` of the unit; ``stratum`` for spreading."""

    scene: str
    index: int
    window: object
    cands: Detections
    source: tuple[str, ...]
    doubt: np.ndarray
    reasons: tuple[str, ...]
    priority: float
    reason: str
    stratum: tuple

    @property
    def cost(self) -> int:
        return max(1, len(self.cands))


def candidate_doubts(
    passes: ScenePasses, thr: float, verify_thresh: float | None = None
) -> tuple[Detections, list[str], np.ndarray, list[str]]:
    """All candidate peaks of a scene: plain peaks, plus mirrored detections the plain pass
    lacks; with source, doubt and reason each. ``verify_thresh``: the run's verifier
    threshold (the plain peaks carry the verifier's probabilities), or None."""
    from ..labels.match import match_centres

    p, m, gsd = passes.plain, passes.mirrored, passes.grid.gsd_m
    pi, mi, _ = match_centres(np.c_[p.cx, p.cy], np.c_[m.cx, m.cy], max_dist=MATCH_M / gsd)
    mate = np.full(len(p), -1)
    mate[pi] = mi
    above = p.score >= thr
    mirror_above = np.where(mate >= 0, m.score[np.maximum(mate, 0)] >= thr, False)
    counted, verify = above, np.zeros(len(p))
    if verify_thresh is not None:
        v = np.asarray(p.verify, float)
        looked = above & np.isfinite(v)  # NaN: trusted by the score, not looked at
        counted = above & ~(v < verify_thresh)
        margin = 1 - np.abs(np.where(looked, v, np.inf) - verify_thresh) / VERIFY_NEAR
        verify = np.maximum(margin, 0.75 * (looked & ~counted & (p.score >= thr + NEAR)))
    d = {
        "near_threshold": np.where(counted & (p.score < thr + NEAR), 1 - (p.score - thr) / NEAR, 0),
        "below_peak": np.where(
            ~above, 0.25 + 0.75 * (p.score - PEAK_FLOOR) / max(thr - PEAK_FLOOR, 1e-6), 0
        ),
        "flip_disagree": (above != mirror_above).astype(float),
        "verify_margin": verify,
        "kind_margin": 0.5
        * (
            ((mate >= 0) & (m.kind[np.maximum(mate, 0)] != p.kind))
            | ((p.length_px * gsd > KIND_GAP_M[0]) & (p.length_px * gsd < KIND_GAP_M[1]))
        ),
    }
    names = list(d)
    table = np.clip(np.stack([np.asarray(d[k], float) for k in names], axis=1), 0, 1)
    doubt = table.max(axis=1) if len(p) else np.zeros(0)
    reasons = [names[k] for k in table.argmax(axis=1)] if len(p) else []
    sources = ["model" if a else "peak" for a in counted]
    # mirrored detections above the threshold with no plain peak at all
    lone = np.ones(len(m), bool)
    lone[mi] = False
    lone &= m.score >= thr
    extra = m.select(lone)
    cands = Detections.concat([p, extra])
    return (cands, sources + ["peak"] * len(extra), np.r_[doubt, np.ones(len(extra))],
            reasons + ["flip_disagree"] * len(extra))  # fmt: skip


def score_units(
    scene_id: str,
    passes: ScenePasses,
    thr: float,
    unit_px: int,
    stratum: tuple,
    verify_thresh: float | None = None,
) -> list[UnitPick]:
    """The possible review units of one scene with their candidates and doubt
    (``verify_thresh``: :func:`candidate_doubts`)."""
    from ..imagery.tiling import Window

    grid = passes.grid
    size_r, size_c = min(unit_px, grid.height), min(unit_px, grid.width)
    cands, sources, doubt, reasons = candidate_doubts(passes, thr, verify_thresh)
    m = passes.mirrored
    out = []
    for r in range(grid.height // size_r):
        for c in range(grid.width // size_c):
            win = Window(r * size_r, c * size_c, size_r, size_c)
            if valid_share(passes, win) < MIN_VALID:
                continue
            inside = np.asarray(win.contains(cands.cx, cands.cy), bool)
            idx = np.flatnonzero(inside)
            n_plain = int(((cands.score >= thr) & inside)[: len(passes.plain)].sum())
            n_mirr = int((np.asarray(win.contains(m.cx, m.cy), bool) & (m.score >= thr)).sum())
            change = min(1.0, 0.5 * abs(n_plain - n_mirr))
            by_reason: dict[str, float] = {"count_change": change}
            for k in idx:
                by_reason[reasons[k]] = by_reason.get(reasons[k], 0.0) + float(doubt[k])
            total = sum(by_reason.values())
            priority = total / math.sqrt(max(1, len(idx)))
            reason = max(by_reason, key=by_reason.get) if total > 0 else "spread"
            out.append(UnitPick(
                scene_id, len(out), win, cands.select(inside),
                tuple(sources[k] for k in idx), doubt[idx],
                tuple(reasons[k] for k in idx), float(priority), reason, stratum,
            ))  # fmt: skip
    return out
