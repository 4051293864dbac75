"""What an edited file says about a round, and the actions that make the round say it too.

Every import reader turns its file into a :class:`FileReview`: the review units the file
covers, and for each unit its boxes (:class:`FileBox`, in chip pixels) as the file now has
them. :func:`plan_actions` compares that with the round and returns the
:meth:`~detector.review.round.Round.apply` actions, in order, that explain every difference:

- a box whose candidate is found (by the id the export wrote, or, for formats without ids,
  by an optimal one-to-one matching on centre distance; a box without an id lying on a
  candidate within :data:`SAME_BOX_PX` is that candidate) gets "kind" when its kind differs,
  "move" when a corner moved more than :data:`MOVE_TOL_PX`, "accept" when the candidate was
  rejected (or, for files that carry a status, when the status says so), "reject" when the
  file's status says rejected;
- a box with no candidate is an "add";
- a candidate the export wrote that the file no longer has is a "reject" (a model or peak
  box) or a "delete" (a box a reviewer added);
- a unit status (GeoPackage/GeoJSON regions) that changed is "complete" or "reopen";
  ``complete=True`` accepts what is still pending in every covered unit and completes it.

Everything is checked before anything is applied (unknown unit or candidate, bad kind, a box
outside its unit, a unit in two files): one :class:`ReviewError` naming the file, and the
round is untouched.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ...errors import ReviewError
from ..round import KINDS, Candidate, Round
from .geometry import box_from_corners, corner_distance, crs_to_chip

__all__ = [
    "MOVE_TOL_PX",
    "SAME_BOX_PX",
    "FileBox",
    "FileReview",
    "apply_actions",
    "check_fresh",
    "exported_candidates",
    "plan_actions",
]

#: A box whose corners all lie within this distance (chip pixels) of its candidate's did not
#: move: exports keep full precision, so an unchanged box comes back well inside it.
MOVE_TOL_PX = 0.05
#: A box without a known id lying this close (every corner, chip pixels) to a candidate the
#: file does not otherwise hold is that candidate (re-importing a file adds nothing twice).
SAME_BOX_PX = 0.5


@dataclass(frozen=True)
class FileBox:
    """One box of an imported file. ``corners_px``: 4 (x, y) chip pixel points around the
    box; ``cand_id``: the candidate it came from (None: drawn in the tool); ``status``: only
    for files that carry one (GeoJSON, GeoPackage); ``where``: how to find it in the file."""

    unit_id: int
    kind: str
    corners_px: tuple[tuple[float, float], ...]
    cand_id: int | None = None
    status: str | None = None
    where: str = ""


@dataclass(frozen=True)
class FileReview:
    """An imported file. ``units``: the units it covers (their boxes are all in ``boxes``);
    ``match``: "id" or "geometry"; ``with_rejected``: the export wrote rejected candidates
    too (so a missing rejected one is no change); ``unit_status``: unit -> status the file
    gives; ``seconds``: unit -> seconds the reviewer spent (spread over its actions);
    ``journal_n``: the round's journal length when the file was exported (None: unknown)."""

    fmt: str
    path: Path
    units: tuple[int, ...]
    boxes: tuple[FileBox, ...]
    match: str = "id"
    with_rejected: bool = False
    unit_status: dict = field(default_factory=dict)
    seconds: dict = field(default_factory=dict)
    journal_n: int | None = None


def exported_candidates(rnd: Round, unit_id: int, *, with_rejected: bool = False):
    """The candidates of a unit an export writes, by id: all but the rejected ones (unless
    ``with_rejected``)."""
    return [c for c in rnd.unit_candidates(unit_id) if with_rejected or c.status != "rejected"]


def _chip_px(rnd: Round, c: Candidate) -> np.ndarray:
    return crs_to_chip(rnd.chips[c.unit_id].affine, np.asarray(c.corners, dtype=float))


def _geometry_pairs(rnd, boxes, cands) -> dict[int, Candidate]:
    """box index -> candidate, by a minimum-cost one-to-one matching of centres, a pair
    allowed when the centres are within half the candidate's length."""
    from scipy.optimize import linear_sum_assignment

    if not boxes or not cands:
        return {}
    bc = np.array([np.mean(b.corners_px, axis=0) for b in boxes])
    cb = [box_from_corners(_chip_px(rnd, c)) for c in cands]
    cc = np.array([(b.cx, b.cy) for b in cb])
    gate = np.array([0.5 * b.length for b in cb])
    cost = np.hypot(bc[:, None, 0] - cc[None, :, 0], bc[:, None, 1] - cc[None, :, 1])
    big = 1e9
    cost = np.where(cost <= gate[None, :], cost, big)
    rows, cols = linear_sum_assignment(cost)
    return {int(r): cands[int(k)] for r, k in zip(rows, cols, strict=True) if cost[r, k] < big}


def _same_boxes(rnd, boxes, cands, pairs) -> dict[int, Candidate]:
    """Boxes without a candidate that lie on an unpaired candidate (every corner within
    :data:`SAME_BOX_PX`): the same box, e.g. one added by an earlier import of this file."""
    free = [c for c in cands if c not in pairs.values()]
    out: dict[int, Candidate] = {}
    for i, b in enumerate(boxes):
        if i in pairs or not free:
            continue
        d = [corner_distance(np.asarray(b.corners_px), _chip_px(rnd, c)) for c in free]
        k = int(np.argmin(d))
        if d[k] <= SAME_BOX_PX:
            out[i] = free.pop(k)
    return out


def _check_box(rnd: Round, review: FileReview, b: FileBox) -> np.ndarray:
    """The box's corners in the scene CRS, after the checks Round.apply makes."""
    where = f"{review.path}: {b.where}" if b.where else f"{review.path}"
    if b.kind not in KINDS:
        raise ReviewError(f"{where}: kind {b.kind!r} is not one of {KINDS}")
    px = np.asarray(b.corners_px, dtype=float)
    if px.shape != (4, 2) or not np.isfinite(px).all():
        raise ReviewError(f"{where}: a box needs 4 finite corners")
    sides = np.hypot(*(np.roll(px, -1, axis=0) - px).T)
    if not (sides > 1e-9).all():
        raise ReviewError(f"{where}: degenerate box (a side of length 0)")
    xy = rnd.chip_to_crs(b.unit_id, px)
    cx, cy = xy.mean(axis=0)
    if not rnd.units[b.unit_id].contains(cx, cy):
        raise ReviewError(
            f"{where}: box centre is outside review unit {b.unit_id}; a box belongs to the "
            "unit (chip) it is drawn on"
        )
    return xy


def _unit_actions(rnd: Round, review: FileReview, unit_id: int, complete: bool) -> list[dict]:
    boxes = [b for b in review.boxes if b.unit_id == unit_id]
    cands = exported_candidates(rnd, unit_id, with_rejected=review.with_rejected)
    pairs: dict[int, Candidate] = {}
    if review.match == "geometry":
        pairs = _geometry_pairs(rnd, boxes, cands)
    else:
        for i, b in enumerate(boxes):
            if b.cand_id is None:
                continue
            c = rnd.candidates.get(b.cand_id)
            if c is None:
                raise ReviewError(f"{review.path}: {b.where}: unknown candidate {b.cand_id}")
            if c.unit_id != unit_id:
                raise ReviewError(
                    f"{review.path}: {b.where}: candidate {b.cand_id} belongs to unit "
                    f"{c.unit_id}, not {unit_id}"
                )
            if c not in pairs.values():  # a copy of a box in the tool is a new box
                pairs[i] = c
        pairs.update(_same_boxes(rnd, boxes, cands, pairs))
    drop, change, add = [], [], []
    matched = {c.cand_id for c in pairs.values()}
    for c in cands:
        if c.cand_id not in matched and c.status != "rejected":
            drop.append({"action": "delete" if c.source == "reviewer" else "reject",
                         "cand": c.cand_id})  # fmt: skip
    for i, b in enumerate(boxes):
        xy = _check_box(rnd, review, b)
        c = pairs.get(i)
        if c is None:
            if b.status != "rejected":
                add.append({"action": "add", "unit": unit_id, "kind": b.kind,
                            "corners": xy.tolist()})  # fmt: skip
            continue
        if b.status == "rejected":
            if c.status != "rejected":
                change.append({"action": "reject", "cand": c.cand_id})
            continue
        acts = []
        if b.kind != c.kind:
            acts.append({"action": "kind", "cand": c.cand_id, "kind": b.kind})
        if corner_distance(np.asarray(b.corners_px), _chip_px(rnd, c)) > MOVE_TOL_PX:
            acts.append({"action": "move", "cand": c.cand_id, "corners": xy.tolist()})
        wants_accept = c.status == "rejected" or (
            b.status in ("accepted", "added") and c.status == "pending"
        )
        if wants_accept and not acts:  # kind and move accept the candidate themselves
            acts.append({"action": "accept", "cand": c.cand_id})
        change += acts
    out = drop + change + add
    if complete:
        done = {a["cand"] for a in out if a.get("cand") is not None}
        for c in rnd.unit_candidates(unit_id):
            if c.status == "pending" and c.cand_id in matched and c.cand_id not in done:
                out.append({"action": "accept", "cand": c.cand_id})
    status = "complete" if complete else review.unit_status.get(unit_id)
    now = rnd.units[unit_id].status
    if status is not None and status != now:
        if status not in ("pending", "complete"):
            raise ReviewError(
                f"{review.path}: unit {unit_id} has status {status!r}; expected pending or complete"
            )
        out.append({"action": "complete" if status == "complete" else "reopen"})
    for a in out:
        a.setdefault("unit", unit_id)
        a["by"] = f"import:{review.fmt}"
    secs = review.seconds.get(unit_id)
    if secs is not None and out:
        for a in out:
            a["seconds"] = float(secs) / len(out)
    return out


def check_fresh(rnd: Round, review: FileReview, journal: list[dict]) -> None:
    """Refuse a file exported before the round last changed in one of its units (by
    anything but an import of the same format: a re-import after more review in that tool
    is fine), since the file would undo that change."""
    if review.journal_n is None:
        return
    units = set(review.units)
    later = [e for e in journal[review.journal_n :]
             if e.get("unit") in units and e.get("by") != f"import:{review.fmt}"]  # fmt: skip
    if later:
        e = later[-1]
        raise ReviewError(
            f"{review.path}: review unit {e.get('unit')} changed in the round after this export "
            f"({len(later)} actions since, the last by {e.get('by')}); export again, or pass "
            "--force to let the file win"
        )


def plan_actions(
    rnd: Round, reviews: Sequence[FileReview], *, complete: bool = False, force: bool = False
) -> list[dict]:
    """The actions (``Round.apply`` dicts) that turn the round into what ``reviews`` say,
    units in id order; raises :class:`ReviewError` (nothing applied) on the first problem
    (``force``: also when a file is older than a change it would undo)."""
    journal = [] if force else rnd.journal()
    seen: dict[int, Path] = {}
    for r in reviews:
        for u in r.units:
            if u not in rnd.units:
                raise ReviewError(f"{r.path}: unknown review unit {u!r} (not in {rnd.path})")
            if u in seen:
                where = "twice in the file" if seen[u] == r.path else f"also in {seen[u]}"
                raise ReviewError(f"{r.path}: review unit {u} is {where}; import it once")
            seen[u] = r.path
        check_fresh(rnd, r, journal)
        for b in r.boxes:
            if b.unit_id not in r.units:
                raise ReviewError(f"{r.path}: {b.where}: unknown review unit {b.unit_id!r}")
    out = []
    for r in reviews:
        for u in sorted(r.units):
            out += _unit_actions(rnd, r, u, complete)
    return out


def apply_actions(rnd: Round, actions: Sequence[dict]) -> list:
    """Apply planned actions in order as one batch (:meth:`Round.apply_many`: one lock,
    one journal fsync, one rewrite of the queue; all or nothing); the changed candidates
    and units."""
    return list(rnd.apply_many(list(actions))) if actions else []
