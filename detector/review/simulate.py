"""``ccount review simulate``: answer a round from truth, as a careful reviewer would.

For every pending unit, most doubtful first: the unit's *visible* truth containers (centre
inside the unit; ``ccount synth`` truth GeoJSON, ``DIR/<scene>.geojson``) are matched one to
one with its candidates (centres within ``labels.evaluate.MATCH_RADIUS_M``). A matched
candidate is accepted, or given the truth's kind, or moved onto the truth box when its box
is off (centre > :data:`MOVE_M`, angle > :data:`MOVE_DEG` or length > :data:`MOVE_LEN_M`
off); an unmatched candidate is rejected; an unmatched truth container is added; the unit is
marked complete. ``error_rate`` flips that share of the decisions (a true box rejected, a
false one accepted, a missed container not added), drawn with ``seed``. The journal records ``"by":
"simulated"`` and no seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ReviewError
from .round import Round

__all__ = ["MOVE_DEG", "MOVE_LEN_M", "MOVE_M", "SimulateSummary", "simulate_round",
           "truth_boxes"]  # fmt: skip

MOVE_M = 0.4
MOVE_DEG = 8.0
MOVE_LEN_M = 1.5


@dataclass(frozen=True)
class SimulateSummary:
    units: int
    accepted: int
    rejected: int
    kind_fixed: int
    moved: int
    added: int
    flipped: int

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def truth_boxes(truth_dir: Path, scene: str, crs: str) -> tuple[np.ndarray, np.ndarray]:
    """(corners [N, 4, 2] in ``crs``, kind strings [N]) of the visible truth containers of
    ``scene`` (``truth_dir/<scene>.geojson``)."""
    from pyproj import Transformer

    from ..detections import KINDS
    from ..labels.io import read_containers

    path = Path(truth_dir) / f"{scene}.geojson"
    if not path.is_file():
        raise ReviewError(f"{path}: no truth file for scene {scene} in {truth_dir}")
    t = read_containers(path)
    keep = t.visible
    corners = t.corners_m[keep]
    if len(corners) and t.crs != crs:
        tr = Transformer.from_crs(t.crs, crs, always_xy=True)
        x, y = tr.transform(corners[..., 0], corners[..., 1])
        corners = np.stack([x, y], axis=-1)
    return corners, np.array([KINDS[k] for k in t.kind[keep]], dtype=object)


def _box_params(corners: np.ndarray) -> tuple[np.ndarray, ...]:
    from ..model.labelset import boxes_from_corners

    return boxes_from_corners(np.asarray(corners, float).reshape(-1, 4, 2))


def simulate_round(
    round_path, truth_dir, *, error_rate: float = 0.0, seed: int = 0
) -> SimulateSummary:
    """Answer every pending unit of the round at ``round_path`` from ``truth_dir``."""
    from ..labels.evaluate import MATCH_RADIUS_M
    from ..labels.match import match_centres

    if not 0.0 <= error_rate <= 1.0:
        raise ReviewError(f"--error-rate {error_rate}: expected 0..1")
    rnd = Round.open(round_path)
    rng = np.random.default_rng(seed)
    truth: dict[str, tuple] = {}
    n = dict(units=0, accepted=0, rejected=0, kind_fixed=0, moved=0, added=0, flipped=0)

    batch: list[dict] = []

    def act(**a):
        batch.append({**a, "by": "simulated", "seconds": None})

    for unit in rnd.ordered_units():
        if unit.status == "complete":
            continue
        if unit.scene not in truth:
            crs = rnd.manifest.scenes[unit.scene]["crs"]
            truth[unit.scene] = truth_boxes(Path(truth_dir), unit.scene, crs)
        corners, kinds = truth[unit.scene]
        centres = corners.mean(axis=1) if len(corners) else np.zeros((0, 2))
        inside = np.array([unit.contains(x, y) for x, y in centres], bool)
        t_corners, t_kinds, t_xy = corners[inside], kinds[inside], centres[inside]
        cands = [c for c in rnd.unit_candidates(unit.unit_id) if c.status == "pending"]
        c_xy = np.array([c.centre for c in cands]).reshape(-1, 2)
        ci, ti, dist = match_centres(c_xy, t_xy, max_dist=MATCH_RADIUS_M)
        mate = dict(zip(ci.tolist(), ti.tolist(), strict=True))
        for k, c in enumerate(cands):
            flip = rng.random() < error_rate
            n["flipped"] += int(flip)
            if k not in mate:
                if flip:
                    act(action="accept", cand=c.cand_id)
                    n["accepted"] += 1
                else:
                    act(action="reject", cand=c.cand_id)
                    n["rejected"] += 1
                continue
            j = mate[k]
            if flip:
                act(action="reject", cand=c.cand_id)
                n["rejected"] += 1
                continue
            if c.kind != t_kinds[j]:
                act(action="kind", cand=c.cand_id, kind=str(t_kinds[j]))
                n["kind_fixed"] += 1
            cx, cy, ln, _, ang = (v[0] for v in _box_params(np.asarray(c.corners)))
            tx, ty, tl, _, ta = (v[0] for v in _box_params(t_corners[j]))
            dang = abs(ang - ta) % np.pi
            off = (np.hypot(cx - tx, cy - ty) > MOVE_M or abs(ln - tl) > MOVE_LEN_M
                   or np.degrees(min(dang, np.pi - dang)) > MOVE_DEG)  # fmt: skip
            if off:
                act(action="move", cand=c.cand_id, corners=t_corners[j].tolist())
                n["moved"] += 1
            elif c.kind == t_kinds[j]:
                act(action="accept", cand=c.cand_id)
                n["accepted"] += 1
        matched = set(ti.tolist())
        for j in range(len(t_xy)):
            if j in matched:
                continue
            if rng.random() < error_rate:
                n["flipped"] += 1
                continue
            act(action="add", unit=unit.unit_id, kind=str(t_kinds[j]),
                corners=t_corners[j].tolist())  # fmt: skip
            n["added"] += 1
        act(action="complete", unit=unit.unit_id)
        rnd.apply_many(batch)  # one unit's answers: one journal write, one state write
        batch.clear()
        n["units"] += 1
    return SimulateSummary(**n)
