"""Where a detector's false containers lie in labelled port scenes.

Usage (from the repository root)::

    .venv/bin/python scripts/false_containers.py TRUTH_DIR:PRED_DIR [TRUTH_DIR:PRED_DIR ...]
        [--thresh 0.39]

``TRUTH_DIR`` holds ``<scene>.geojson`` truth files (at any depth, as
``scripts/eval_detector.py`` leaves them; its ``all`` folder of links is skipped),
``PRED_DIR`` the ``<scene>.detections.geojson`` that ``ccount detect`` wrote (for instance at
a low ``--score-thresh``; ``--thresh`` keeps the detections scoring at least it). Detections
match visible true tops one-to-one within 1.25 m, as ``ccount eval`` does. Each false
container is put in one of four places by the true container nearest it:

- ``hole``: one slot beside it (within 0.75 m along its axis, 1.9-3.3 m across: a 2.44 m
  container and the gap) with another true container one slot further on, i.e. an empty slot
  between two stacks;
- ``edge``: one slot beside it and nothing further on: past a block's last row or an empty
  slot at a block's border;
- ``near``: within 4 m otherwise;
- ``far``: further than 4 m from any true container (a look-alike, clutter).

Prints, per folder pair, P / R / F1, the four counts and P / F1 without the phantoms (``hole``
and ``edge``): how much an empty slot that the network fills costs.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PLACES = ("hole", "edge", "near", "far")
SLOT_ACROSS_M = (1.9, 3.3)
SLOT_ALONG_M = 0.75
NEAR_M = 4.0


def place_false(pred_xy: np.ndarray, truth_xy: np.ndarray, truth_axis: np.ndarray,
                visible: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """(false, place): indices of the false detections among ``pred_xy`` [N, 2] (metres) and
    where each lies (:data:`PLACES`), against true containers ``truth_xy`` [M, 2] with their
    long-axis unit vectors ``truth_axis`` [M, 2] and ``visible`` [M] (only visible tops
    match; every container counts as "one slot further on")."""
    from detector.labels.evaluate import MATCH_RADIUS_M
    from detector.labels.match import match_centres

    vis = np.nonzero(visible)[0]
    pi, _, _ = match_centres(pred_xy, truth_xy[vis], max_dist=MATCH_RADIUS_M)
    false = np.setdiff1d(np.arange(len(pred_xy)), pi)
    place = np.full(len(false), "far", dtype=object)
    if not len(vis):
        return false, place
    for k, i in enumerate(false):
        d = truth_xy[vis] - pred_xy[i]
        j = int(np.argmin(np.hypot(d[:, 0], d[:, 1])))
        off = pred_xy[i] - truth_xy[vis[j]]
        if np.hypot(*off) > NEAR_M:
            continue
        ax = truth_axis[vis[j]]
        along, across = abs(off @ ax), abs(off @ np.array([-ax[1], ax[0]]))
        if along > SLOT_ALONG_M or not SLOT_ACROSS_M[0] <= across <= SLOT_ACROSS_M[1]:
            place[k] = "near"
            continue
        beyond = pred_xy[i] + off
        gap = np.hypot(*(truth_xy - beyond).T).min()
        place[k] = "hole" if gap < MATCH_RADIUS_M else "edge"
    return false, place


def _axes(corners: np.ndarray) -> np.ndarray:
    """Unit long-axis vectors [N, 2] of footprints ``corners`` [N, 4, 2]."""
    e1, e2 = corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 1]
    ax = np.where((np.hypot(*e1.T) >= np.hypot(*e2.T))[:, None], e1, e2)
    return ax / np.maximum(np.hypot(*ax.T), 1e-9)[:, None]


def tally(truth_dir: Path, pred_dir: Path, thresh: float) -> tuple[object, dict[str, int]]:
    """(:class:`~detector.labels.evaluate.Tally` of true/false positives and misses, {place:
    false containers there}) over the scene pairs of two folders."""
    from detector.labels.evaluate import Tally, load_containers
    from detector.labels.io import read_containers

    total, out = Tally(), dict.fromkeys(PLACES, 0)
    for geo in sorted(truth_dir.rglob("*.geojson")):
        pred = pred_dir / geo.name.replace(".geojson", ".detections.geojson")
        if "all" in geo.relative_to(truth_dir).parts[:-1] or not pred.is_file():
            continue
        t = read_containers(geo)  # positions, footprints and visibility in the file's CRS
        p = load_containers(pred, truth=False, crs=t.crs).scoring_at_least(thresh)
        false, place = place_false(np.c_[p.x_m, p.y_m], np.c_[t.x_m, t.y_m],
                                   _axes(t.corners_m), t.visible)  # fmt: skip
        tp = len(p) - len(false)
        total = total + Tally(tp=tp, fp=len(false), fn=int(t.visible.sum()) - tp)
        for name in PLACES:
            out[name] += int((place == name).sum())
    return total, out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("pairs", nargs="+", metavar="TRUTH_DIR:PRED_DIR")
    ap.add_argument("--thresh", type=float, default=0.0, help="keep detections scoring >= it")
    args = ap.parse_args(argv)
    for pair in args.pairs:
        truth_dir, _, pred_dir = pair.partition(":")
        if not pred_dir or not Path(truth_dir).is_dir() or not Path(pred_dir).is_dir():
            print(f"false_containers.py: {pair}: expected TRUTH_DIR:PRED_DIR, two folders",
                  file=sys.stderr)  # fmt: skip
            return 2
        total, c = tally(Path(truth_dir), Path(pred_dir), args.thresh)
        phantoms = c["hole"] + c["edge"]
        m = total.metrics()
        m2 = replace(total, fp=total.fp - phantoms).metrics()
        p, r, f, p2, f2 = (v or 0.0 for v in (m["precision"], m["recall"], m["f1"],
                                              m2["precision"], m2["f1"]))  # fmt: skip
        print(f"{pair}\n  P {p:.3f} R {r:.3f} F1 {f:.3f}; {total.fp} false: {c['hole']} in empty "
              f"slots between two, {c['edge']} one slot past a block, {c['near']} near a "
              f"container, {c['far']} away from any ({phantoms / max(total.fp, 1):.0%} phantoms,"
              f" {phantoms / max(total.tp, 1):.1%} of the true containers found: comparable"
              f" across thresholds and models); without the phantoms P {p2:.3f} F1 {f2:.3f}",
              flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
