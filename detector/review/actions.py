"""Validation of review actions (used by :class:`detector.review.round.Round` only)."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..errors import ReviewError
from .records import KINDS, Candidate, Unit, utc_now

__all__ = ["ACTIONS", "check_seconds", "validate_action"]

ACTIONS = ("accept", "reject", "kind", "move", "add", "delete", "complete", "reopen", "undo")


def validate_action(rnd, action: dict) -> tuple[dict, Candidate | Unit]:
    """(journal entry, the changed candidate or unit) of a valid ``action`` on the round
    ``rnd`` (:meth:`Round.apply` documents the keys); a bad one raises :class:`ReviewError`."""
    name = action.get("action")
    if name not in ACTIONS:
        raise ReviewError(f"{rnd.path}: unknown action {name!r}; expected one of {ACTIONS}")
    by = str(action.get("by", "browser"))
    seconds = check_seconds(rnd.path, action.get("seconds"))
    cand = None
    if name in ("accept", "reject", "kind", "move", "delete"):
        cand = rnd._candidate(action.get("cand"))
    unit_ref = action.get("unit", cand.unit_id if cand is not None else None)
    unit = rnd._unit(unit_ref)
    if cand is not None and cand.unit_id != unit.unit_id:
        raise ReviewError(
            f"{rnd.path}: candidate {cand.cand_id} is in unit {cand.unit_id}, not {unit.unit_id}"
        )
    entry = {"t": utc_now(), "unit": unit.unit_id, "action": name, "cand": None,
             "before": None, "after": None, "by": by, "seconds": seconds}  # fmt: skip
    if name in ("complete", "reopen"):
        new = "complete" if name == "complete" else "pending"
        entry["unit_status"] = [unit.status, new]
        return entry, replace(unit, status=new)
    if name == "add":
        kind = _kind(rnd, action.get("kind"))
        corners = _corners(rnd, unit, action)
        new_id = max(rnd.candidates, default=-1) + 1
        new_id = max(new_id, rnd._max_journal_id() + 1)
        after = Candidate(new_id, unit.unit_id, unit.scene, kind, 0.0, "reviewer",
                          "reviewer", "added", corners)  # fmt: skip
        entry.update(cand=new_id, after=after.to_dict())
        return entry, after
    assert cand is not None
    entry.update(cand=cand.cand_id, before=cand.to_dict())
    decided = "added" if cand.source == "reviewer" else "accepted"
    if name == "delete":
        return entry, cand
    if name == "accept":
        after = replace(cand, status=decided)
    elif name == "reject":
        after = replace(cand, status="rejected")
    elif name == "kind":
        after = replace(cand, kind=_kind(rnd, action.get("kind")), status=decided)
    else:  # move
        after = replace(cand, corners=_corners(rnd, unit, action), status=decided)
    entry["after"] = after.to_dict()
    return entry, after


def _kind(rnd, kind) -> str:
    if kind not in KINDS:
        raise ReviewError(f"{rnd.path}: bad kind {kind!r}; expected 20ft or 40ft")
    return kind


def _corners(rnd, unit: Unit, action: dict) -> tuple[tuple[float, float], ...]:
    if action.get("corners") is not None:
        pts = action["corners"]
    elif action.get("chip_corners") is not None:
        pts = rnd.chip_to_crs(unit.unit_id, _points(rnd.path, action["chip_corners"]))
    else:
        raise ReviewError(f"{rnd.path}: {action.get('action')} needs 'corners'")
    pts = _points(rnd.path, pts)
    cx, cy = pts.mean(axis=0)
    if not unit.contains(cx, cy):
        raise ReviewError(
            f"{rnd.path}: box centre ({cx:.2f}, {cy:.2f}) is outside unit {unit.unit_id} "
            f"{unit.bounds}"
        )
    sides = np.hypot(*(np.roll(pts, -1, axis=0) - pts).T)
    if not (sides > 0).all():
        raise ReviewError(f"{rnd.path}: degenerate box {pts.tolist()}")
    return tuple((float(x), float(y)) for x, y in pts)


def check_seconds(path: Path, v) -> float | None:
    if v is None:
        return None
    try:
        s = float(v)
    except (TypeError, ValueError):
        raise ReviewError(f"{path}: seconds must be a number, not {v!r}") from None
    if not math.isfinite(s) or s < 0:
        raise ReviewError(f"{path}: seconds must be >= 0, not {v!r}")
    return s


def _points(path: Path, pts) -> np.ndarray:
    try:
        arr = np.asarray(pts, dtype=float)
    except (TypeError, ValueError):
        raise ReviewError(f"{path}: corners must be 4 (x, y) points, not {pts!r}") from None
    if arr.shape != (4, 2) or not np.isfinite(arr).all():
        raise ReviewError(f"{path}: corners must be 4 finite (x, y) points, not {pts!r}")
    return arr
