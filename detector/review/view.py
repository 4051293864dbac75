"""What the review page shows: JSON-ready views of an open :class:`~detector.review.round.Round`.

Pure functions of the round's in-memory state and journal (nothing here writes). Frames:
every box the page receives is 4 (x, y) points in chip pixels (col, row) of the unit's PNG;
the round keeps them in the scene CRS and converts with the chip's affine.

Progress (:func:`progress`):

- ``reviewed``: candidates of the queue (source "model" or "peak") that have a decision
  (status not "pending"); ``budget`` is the round's budget of such decisions;
- ``added``: boxes the reviewer drew;
- ``changed_share``: of the decided and added boxes, the share where the review differs from
  what the model said at its threshold: a detection rejected, given the other kind or moved;
  a below-threshold peak accepted; a box added;
- ``seconds_per_decision``: the mean of the journal's "seconds" over timed decisions.
"""

from __future__ import annotations

import numpy as np

from .round import Candidate, Round, Unit

__all__ = ["DECISIONS", "progress", "resume_unit", "state_view", "unit_view"]

DECISIONS = ("accept", "reject", "kind", "move", "add", "delete")


def _px(rnd: Round, unit_id: int, corners) -> list[list[float]]:
    pts = rnd.crs_to_chip(unit_id, np.asarray(corners, dtype=float))
    return [[round(float(x), 3), round(float(y), 3)] for x, y in pts]


def _cand(rnd: Round, unit_id: int, c: Candidate) -> dict:
    return {
        "cand_id": c.cand_id,
        "kind": c.kind,
        "score": round(float(c.score), 4),
        "reason": c.reason,
        "verify": c.verify,
        "source": c.source,
        "status": c.status,
        "corners": _px(rnd, unit_id, c.corners),
    }


def _unit_row(u: Unit, cands: list[Candidate], window=None) -> dict:
    return {
        "unit_id": u.unit_id,
        "scene": u.scene,
        "split": u.split,
        "status": u.status,
        "priority": round(float(u.priority), 4),
        "reason": u.reason,
        "candidates": len(cands),
        "pending": sum(c.status == "pending" for c in cands),
        "window": list(window) if window is not None else None,
    }


def _by_unit(rnd: Round) -> dict[int, list[Candidate]]:
    out: dict[int, list[Candidate]] = {u: [] for u in rnd.units}
    for _, c in sorted(rnd.candidates.items()):
        out.setdefault(c.unit_id, []).append(c)
    return out


def unit_view(rnd: Round, unit_id: int) -> dict:
    """The page's view of one unit: the unit, its chip (size, GSD), its square and its
    candidates in chip pixels, and the neighbours: candidates of other units of the same
    scene whose centre falls on the chip (drawn dimmed, not editable)."""
    unit = rnd.units[unit_id]
    chip = rnd.chips[unit_id]
    w, h = chip.size_px
    x0, y0, x1, y1 = unit.bounds
    square = _px(rnd, unit_id, [(x0, y0), (x1, y0), (x1, y1), (x0, y1)])
    own = [c for _, c in sorted(rnd.candidates.items()) if c.unit_id == unit_id]
    others = [
        c
        for _, c in sorted(rnd.candidates.items())
        if c.unit_id != unit_id and c.scene == unit.scene
    ]
    neighbours = []
    if others:
        centres = rnd.crs_to_chip(unit_id, np.array([c.centre for c in others], dtype=float))
        inside = (
            (centres[:, 0] >= 0)
            & (centres[:, 0] <= w)
            & (centres[:, 1] >= 0)
            & (centres[:, 1] <= h)
        )
        neighbours = [_cand(rnd, unit_id, c) for c, ok in zip(others, inside, strict=True) if ok]
    return {
        "unit": _unit_row(unit, own, chip.window),
        "chip": {"size_px": [w, h], "gsd_m": chip.gsd_m, "url": f"chip/{unit_id}.png"},
        "square": square,
        "candidates": [_cand(rnd, unit_id, c) for c in own],
        "neighbours": neighbours,
        "verify_thresh": rnd.manifest.verify.get("verify_thresh"),
    }


def _originals(journal: list[dict]) -> dict[int, dict]:
    """cand_id -> the candidate as it was before its first journalled change."""
    first: dict[int, dict] = {}
    for e in journal:
        if e.get("cand") is not None and e.get("before") and int(e["cand"]) not in first:
            first[int(e["cand"])] = e["before"]
    return first


def _changed(c: Candidate, original: dict | None) -> bool:
    if c.source == "reviewer":
        return True
    if c.source == "peak":
        return c.status == "accepted"
    if c.status == "rejected":
        return True
    if original is None:
        return False
    if c.kind != original["kind"]:
        return True
    before = np.asarray(original["corners"], dtype=float)
    return not np.allclose(before, np.asarray(c.corners, dtype=float), rtol=0.0, atol=1e-6)


def progress(rnd: Round, journal: list[dict]) -> dict:
    """Reviewed/budget, units complete, share changed, seconds per decision (see the module
    docstring for the definitions)."""
    cands = list(rnd.candidates.values())
    queue = [c for c in cands if c.source != "reviewer"]
    decided = [c for c in cands if c.status != "pending"]
    originals = _originals(journal)
    changed = sum(_changed(c, originals.get(c.cand_id)) for c in decided)
    timed = [
        float(e["seconds"])
        for e in journal
        if e.get("action") in DECISIONS and e.get("seconds") is not None
    ]
    return {
        "reviewed": sum(c.status != "pending" for c in queue),
        "candidates": len(queue),
        "budget": int(rnd.manifest.budget),
        "added": sum(c.source == "reviewer" for c in cands),
        "units_complete": sum(u.status == "complete" for u in rnd.units.values()),
        "units": len(rnd.units),
        "changed_share": round(changed / len(decided), 4) if decided else 0.0,
        "seconds_per_decision": round(sum(timed) / len(timed), 2) if timed else None,
        "actions": len(journal),
    }


def resume_unit(rnd: Round, journal: list[dict]) -> int | None:
    """Where the reviewer was: the unit of the latest journal entry while it is not
    complete, else the first unit in review order that is not complete, else the first."""
    order = rnd.ordered_units()
    if not order:
        return None
    for e in reversed(journal):
        if e.get("unit") is None:
            continue
        u = rnd.units.get(int(e["unit"]))
        if u is not None and u.status != "complete":
            return u.unit_id
        break
    for u in order:
        if u.status != "complete":
            return u.unit_id
    return order[0].unit_id


def state_view(rnd: Round) -> dict:
    """The page's view of the round: units in review order, progress, where to resume."""
    journal = rnd.journal()
    by_unit = _by_unit(rnd)
    return {
        "round": rnd.path.name,
        "units": [
            _unit_row(u, by_unit.get(u.unit_id, []), _window(rnd, u.unit_id))
            for u in rnd.ordered_units()
        ],
        "progress": progress(rnd, journal),
        "resume": resume_unit(rnd, journal),
        "can_undo": _can_undo(journal),
    }


def _window(rnd: Round, unit_id: int):
    chip = rnd.chips.get(unit_id)
    return chip.window if chip is not None else None


def _can_undo(journal: list[dict]) -> bool:
    depth = 0
    for e in journal:
        depth = max(0, depth - 1) if e.get("action") == "undo" else depth + 1
    return depth > 0
