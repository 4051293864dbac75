"""``ccount review gain``: what a round's fine-tune bought, on its hold-out units.

Truth per complete hold-out unit: the review's containers (:func:`.labels.unit_truth`), or
with ``truth_dir`` the visible truth containers inside it. Each model detects on the scenes
(plain pass at the round's threshold, tiles touching the units only; in the round of a
``--verify`` run, less the boxes the run's verifier rejects); its detections with
centre inside a unit are matched to that unit's truth (centres within
``labels.evaluate.MATCH_RADIUS_M``, one to one). Per model: precision, recall, F1, count
error (sum over units of |predicted - true| over the true total) and signed count error,
kind accuracy (matched pairs of the same kind), each with a bootstrap 90 % interval over
units (:data:`BOOT` resamples, ``seed``), and the same for after - before. Cost from the
journal: decisions (actions on candidates, less undone ones), edits (kind, move), additions,
median seconds per decision where known; ``gain_per_100_decisions``: F1 after - before per
100 decisions. Written atomically to ``ROUND/gain.json``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .._io import atomic_write_text
from ..errors import ReviewError
from .labels import unit_truth
from .round import Round

__all__ = ["BOOT", "GAIN_NAME", "journal_cost", "round_gain", "unit_tallies"]

BOOT = 1000
GAIN_NAME = "gain.json"
_DECISIONS = ("accept", "reject", "kind", "move", "add", "delete")


def journal_cost(entries: list[dict]) -> dict:
    """Decisions, edits, additions and seconds per decision from a round's journal."""
    live: list[dict] = []
    for e in entries:
        if e.get("action") == "undo":
            if live:
                live.pop()
        else:
            live.append(e)
    dec = [e for e in live if e.get("action") in _DECISIONS]
    secs = [float(e["seconds"]) for e in dec if e.get("seconds") is not None]
    return {
        "decisions": len(dec),
        "edits": sum(e["action"] in ("kind", "move") for e in dec),
        "additions": sum(e["action"] == "add" for e in dec),
        "rejections": sum(e["action"] == "reject" for e in dec),
        "units_completed": sum(e.get("action") == "complete" for e in live),
        "undone": len(entries) - len(live) - sum(e.get("action") == "undo" for e in entries),
        "seconds_per_decision": float(np.median(secs)) if secs else None,
        "seconds_known": len(secs),
        "by": sorted({str(e.get("by")) for e in dec}),
    }


def unit_tallies(pred_xy, pred_kind, truth_xy, truth_kind) -> tuple[int, int, int, int]:
    """(true positives, predictions, truths, same-kind pairs) of one unit."""
    from ..labels.evaluate import MATCH_RADIUS_M
    from ..labels.match import match_centres

    pi, ti, _ = match_centres(pred_xy, truth_xy, max_dist=MATCH_RADIUS_M)
    same = int(np.sum(np.asarray(pred_kind)[pi] == np.asarray(truth_kind)[ti])) if len(pi) else 0
    return len(pi), len(pred_xy), len(truth_xy), same


def _metrics(t: np.ndarray) -> dict:
    """Metrics of summed tallies; ``t`` [U, 4] rows of unit_tallies (+ |count error|)."""
    tp, npred, ntrue, same = t[:, 0].sum(), t[:, 1].sum(), t[:, 2].sum(), t[:, 3].sum()
    p = tp / npred if npred else 1.0
    r = tp / ntrue if ntrue else 1.0
    return {
        "precision": float(p),
        "recall": float(r),
        "f1": float(2 * p * r / (p + r)) if p + r else 0.0,
        "count_error": float(np.abs(t[:, 1] - t[:, 2]).sum() / max(ntrue, 1)),
        "count_error_signed": float((npred - ntrue) / max(ntrue, 1)),
        "kind_accuracy": float(same / tp) if tp else None,
    }


def _with_ci(before: np.ndarray, after: np.ndarray, rng) -> dict:
    out = {"before": _metrics(before), "after": _metrics(after)}
    out["delta"] = {k: (None if out["after"][k] is None or out["before"][k] is None
                        else out["after"][k] - out["before"][k]) for k in out["before"]}  # fmt: skip
    boots: dict[str, dict[str, list]] = {s: {k: [] for k in out["before"]} for s in out}
    n = len(before)
    for _ in range(BOOT):
        idx = rng.integers(0, n, n)
        mb, ma = _metrics(before[idx]), _metrics(after[idx])
        for k in mb:
            boots["before"][k].append(mb[k])
            boots["after"][k].append(ma[k])
            boots["delta"][k].append(None if ma[k] is None or mb[k] is None else ma[k] - mb[k])
    for s in ("before", "after", "delta"):
        out[s + "_ci90"] = {}
        for k, vals in boots[s].items():
            v = [x for x in vals if x is not None]
            out[s + "_ci90"][k] = (
                [float(np.percentile(v, 5)), float(np.percentile(v, 95))] if v else None
            )
    return out


def _detect_units(model_path, rnd: Round, units, device: str) -> dict[int, tuple]:
    """{unit_id: (centres [N, 2] in the scene CRS, kinds [N])} of the model's detections."""
    from ..detections import KINDS
    from ..imagery.raster import open_scene
    from ..imagery.tiling import Window
    from .passes import load_review_model, run_passes

    verify = rnd.manifest.verify  # a --verify run's round: its verifier judges both models
    thr = rnd.manifest.threshold
    model = load_review_model(model_path, device=device, floor=thr,
                              verifier=verify.get("verifier"), verify_from=thr)  # fmt: skip
    out = {}
    for scene_id in sorted({u.scene for u in units}):
        scene = open_scene(rnd.manifest.scenes[scene_id]["path"])
        us = [u for u in units if u.scene == scene_id]
        inv = None
        wins = []
        from ..imagery.reader import SceneReader

        with SceneReader(scene, target_gsd_m=model.gsd_m) as reader:
            inv = ~reader.grid.transform
        for u in us:
            (c0, r0), (c1, r1) = inv @ (u.bounds[0], u.bounds[3]), inv @ (u.bounds[2], u.bounds[1])
            wins.append(Window(int(min(r0, r1)), int(min(c0, c1)), int(abs(r1 - r0)) + 1,
                               int(abs(c1 - c0)) + 1))  # fmt: skip
        passes = run_passes(model, scene, windows=wins, mirrored=False)
        d, t = passes.plain, passes.grid.transform
        if verify:
            d = d.select(~(d.verify < float(verify["verify_thresh"])))  # NaN: trusted, kept
        xy = np.stack([t.a * d.cx + t.b * d.cy + t.c, t.d * d.cx + t.e * d.cy + t.f], axis=1)
        kinds = np.array([KINDS[k] for k in d.kind], dtype=object)
        for u in us:
            m = np.array([u.contains(x, y) for x, y in xy], bool).reshape(-1)
            out[u.unit_id] = (xy[m], kinds[m])
    return out


def round_gain(
    round_path, before, after, *, truth_dir=None, device: str = "auto", seed: int = 0
) -> dict:
    """Measure ``before`` and ``after`` weights on the round's complete hold-out units;
    writes ``ROUND/gain.json`` and returns its content."""
    rnd = Round.open(round_path)
    units = rnd.reviewed_units("holdout")
    if not units:
        raise ReviewError(f"{rnd.path}: no complete hold-out unit to measure on; review them first")
    for flag, p in (("--before", before), ("--after", after)):
        if not Path(p).is_file():
            raise ReviewError(f"{p}: {flag} weights file not found")
    truth = {}
    if truth_dir is not None:
        from .simulate import truth_boxes

        for scene in sorted({u.scene for u in units}):
            corners, kinds = truth_boxes(Path(truth_dir), scene, rnd.manifest.scenes[scene]["crs"])
            xy = corners.mean(axis=1) if len(corners) else np.zeros((0, 2))
            for u in units:
                if u.scene == scene:
                    m = np.array([u.contains(x, y) for x, y in xy], bool).reshape(-1)
                    truth[u.unit_id] = (xy[m], kinds[m])
    else:
        for u in units:
            cs = unit_truth(rnd, u.unit_id)
            truth[u.unit_id] = (np.array([c.centre for c in cs]).reshape(-1, 2),
                                np.array([c.kind for c in cs], dtype=object))  # fmt: skip
    tallies = {}
    for name, path in (("before", before), ("after", after)):
        det = _detect_units(path, rnd, units, device)
        tallies[name] = np.array(
            [unit_tallies(*det[u.unit_id], *truth[u.unit_id]) for u in units], dtype=float
        ).reshape(-1, 4)
    result = _with_ci(tallies["before"], tallies["after"], np.random.default_rng(seed))
    cost = journal_cost(rnd.journal())
    df1 = result["delta"]["f1"]
    from ..model.weights import file_sha256

    doc = {
        "round": str(rnd.path.resolve()),
        "before": {"path": str(before), "sha256": file_sha256(before)},
        "after": {"path": str(after), "sha256": file_sha256(after)},
        "truth": "truth files" if truth_dir is not None else "review",
        "truth_dir": None if truth_dir is None else str(truth_dir),
        "holdout_units": len(units),
        "holdout_containers": int(sum(len(truth[u.unit_id][0]) for u in units)),
        "bootstrap": {"resamples": BOOT, "seed": seed, "interval": 0.9},
        "metrics": result,
        "cost": cost,
        "gain_per_100_decisions": (df1 * 100.0 / cost["decisions"]) if cost["decisions"] else None,
    }
    atomic_write_text(rnd.path / GAIN_NAME, json.dumps(doc, indent=1))
    return doc
