"""Detections against truth: precision, recall, F1, count/TEU error, kind accuracy, tier MAE.

Pairs ``PRED_DIR/<scene>.detections.geojson`` with ``TRUTH_DIR/<scene>.geojson`` or
``TRUTH_DIR/truth/<scene>.geojson`` (what ``ccount synth scene`` / ``synth world`` write).
Centres are compared in metres, in the truth's UTM CRS: a predicted centre matches a
*visible* true centre within :data:`MATCH_RADIUS_M`, one-to-one by Hungarian assignment
(:func:`detector.labels.match.match_centres`). Hidden truth (lower tiers) only enters the
estimated-total error (``est_error_pct``: sum of predicted ``tiers_est`` vs all true
containers).

Per region: matches and misses count under the *true* region, false positives under the
*predicted* one; predicted and true counts per region use their own labels.

Also COCO-style AP (AP@[.5:.95], AP50, AP75; class-agnostic; axis-aligned boxes around the
footprints in truth pixels at the truth GSD) via pycocotools, for comparison with peer tools.
"""

from __future__ import annotations

import contextlib
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path

import numpy as np
from pyproj import CRS, Transformer

from .._io import safe_name
from ..detections import TEU_PER_KIND
from ..errors import LabelError
from .breakdown import add_counts, recall_counts, recall_rates
from .conditions import CONDITIONS, condition_bins
from .match import match_centres
from .table import format_table

__all__ = [
    "MATCH_RADIUS_M",
    "REGIONS",
    "ContainerSet",
    "Tally",
    "load_containers",
    "pair_files",
    "truth_without_predictions",
    "evaluate_scene",
    "evaluate_dirs",
    "coco_ap",
    "format_table",
]

MATCH_RADIUS_M = 1.25
REGIONS = ("deck", "quay", "yard", "rail")
PRED_SUFFIX = ".detections.geojson"


@dataclass(frozen=True)
class ContainerSet:
    """Containers of one file, arrays [N], positions in metres of ``crs`` (a UTM CRS).

    ``tiers``: truth ``tiers`` or predicted ``tiers_est``; ``bbox_m`` [N, 4] (xmin, ymin,
    xmax, ymax) of the footprint polygon.
    """

    x_m: np.ndarray
    y_m: np.ndarray
    kind: np.ndarray
    score: np.ndarray
    tiers: np.ndarray
    visible: np.ndarray
    region: np.ndarray
    bbox_m: np.ndarray
    crs: str

    def __len__(self) -> int:
        return len(self.x_m)

    def scoring_at_least(self, thresh: float) -> ContainerSet:
        """The containers scoring at least ``thresh`` (what detecting at it would keep)."""
        keep = self.score >= thresh
        return replace(
            self, **{k: v[keep] for k, v in vars(self).items() if isinstance(v, np.ndarray)}
        )


@dataclass(frozen=True)
class Tally:
    """Additive sufficient statistics of a comparison (sum tallies to pool scenes)."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    pred: int = 0
    truth: int = 0
    pred_teu: int = 0
    truth_teu: int = 0
    kind_correct: int = 0
    tier_abs_err: float = 0.0
    pred_est: float = 0.0
    truth_total: int = 0

    def __add__(self, other: Tally) -> Tally:
        return Tally(
            **{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)}
        )

    def metrics(self) -> dict:
        """Precision, recall, F1, signed count/TEU/est errors in %, kind accuracy, tier MAE
        (None where undefined, e.g. recall without truth)."""

        def ratio(a: float, b: float) -> float | None:
            return round(a / b, 4) if b else None

        def err(p: float, t: float) -> float | None:
            return round(100.0 * (p - t) / t, 2) if t else None

        p, r = ratio(self.tp, self.tp + self.fp), ratio(self.tp, self.tp + self.fn)
        # no true positive: F1 is 0 when there was something to find or flag, else undefined
        f1 = round(2 * p * r / (p + r), 4) if self.tp else (0.0 if self.fp + self.fn else None)
        return {
            "precision": p,
            "recall": r,
            "f1": f1,
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "pred_visible": self.pred,
            "truth_visible": self.truth,
            "count_error_pct": err(self.pred, self.truth),
            "pred_teu": self.pred_teu,
            "truth_teu": self.truth_teu,
            "teu_error_pct": err(self.pred_teu, self.truth_teu),
            "kind_accuracy": ratio(self.kind_correct, self.tp),
            "tier_mae": ratio(self.tier_abs_err, self.tp),
            "pred_est": round(self.pred_est, 2),
            "truth_total": self.truth_total,
            "est_error_pct": err(self.pred_est, self.truth_total),
        }


def load_containers(path: str | Path, *, truth: bool, crs: str | None = None) -> ContainerSet:
    """Container features of a GeoJSON file (via :func:`detector.labels.io.read_containers`) as a
    :class:`ContainerSet` in ``crs`` (default: the file's own UTM CRS).

    ``truth`` uses ``tiers`` and ``visible``; otherwise ``tiers_est`` and visible = True.
    """
    from .io import read_containers

    t = read_containers(path)
    x, y, corners = t.x_m, t.y_m, t.corners_m
    if crs is not None and CRS.from_user_input(crs) != CRS.from_user_input(t.crs):
        tr = Transformer.from_crs(t.crs, crs, always_xy=True)
        x, y = (np.asarray(v, np.float64) for v in tr.transform(x, y))
        cx, cy = tr.transform(corners[..., 0], corners[..., 1])
        corners = np.stack([np.asarray(cx), np.asarray(cy)], axis=-1)
    n = len(t)
    tiers = t.tiers_est.astype(np.float64)
    if truth:
        tiers = np.where(np.isnan(t.tiers), tiers, t.tiers).astype(np.float64)
    bbox = np.zeros((n, 4))
    if n:
        bbox = np.concatenate([corners.min(axis=1), corners.max(axis=1)], axis=1)
    region = np.array([r if r else "yard" for r in t.region], dtype=object).astype(str)
    return ContainerSet(
        x_m=np.asarray(x, np.float64), y_m=np.asarray(y, np.float64), kind=t.kind,
        score=t.score, tiers=tiers, visible=t.visible if truth else np.ones(n, bool),
        region=region.reshape(n), bbox_m=bbox, crs=str(crs or t.crs),
    )  # fmt: skip


def _check_dirs(pred_dir: Path, truth_dir: Path) -> None:
    if not pred_dir.is_dir():
        raise LabelError(f"{pred_dir}: prediction directory not found")
    if not truth_dir.is_dir():
        raise LabelError(f"{truth_dir}: truth directory not found")


def _pred_files(pred_dir: Path) -> dict[str, Path]:
    """``{scene: PRED_DIR/<scene>.detections.geojson}``, sorted by scene."""
    files = sorted(pred_dir.glob(f"*{PRED_SUFFIX}"))
    return {p.name[: -len(PRED_SUFFIX)]: p for p in files if p.is_file()}


def _truth_files(truth_dir: Path) -> dict[str, Path]:
    """Truth files ``TRUTH_DIR/<scene>.geojson`` (first) or ``TRUTH_DIR/truth/<scene>.geojson``
    keyed by the scene's safe name (:func:`detector._io.safe_name`: how detect names its
    outputs), prediction files left out."""
    out: dict[str, Path] = {}
    for d in (truth_dir, truth_dir / "truth"):
        if d.is_dir():
            for p in sorted(d.glob("*.geojson")):
                if p.is_file() and not p.name.endswith(PRED_SUFFIX):
                    out.setdefault(safe_name(p.stem), p)
    return out


def pair_files(pred_dir: Path, truth_dir: Path) -> tuple[list[tuple[str, Path, Path]], list[str]]:
    """``([(scene, pred, truth)], [scenes predicted but without truth])``, sorted by scene.

    A prediction ``<name>.detections.geojson`` pairs with the truth file whose scene name,
    made safe for file names, is ``<name>`` (so ``a;b.geojson`` pairs with ``a_b``)."""
    pred_dir, truth_dir = Path(pred_dir), Path(truth_dir)
    _check_dirs(pred_dir, truth_dir)
    truths = _truth_files(truth_dir)
    pairs, unpaired = [], []
    for scene, p in _pred_files(pred_dir).items():
        t = truths.get(safe_name(scene))
        if t is None:
            unpaired.append(scene)
        else:
            pairs.append((scene, p, t))
    return pairs, unpaired


def truth_without_predictions(pred_dir: Path, truth_dir: Path) -> list[str]:
    """Truth scenes (file stems, sorted) with no ``<scene>.detections.geojson`` in
    ``pred_dir``: not scored, so the pooled metrics leave them out."""
    pred_dir, truth_dir = Path(pred_dir), Path(truth_dir)
    _check_dirs(pred_dir, truth_dir)
    predicted = {safe_name(s) for s in _pred_files(pred_dir)}
    return sorted(t.stem for name, t in _truth_files(truth_dir).items() if name not in predicted)


def _tally(pred: ContainerSet, truth: ContainerSet, pi, ti, mask_p, mask_t, mask_m) -> Tally:
    """Tally of matches ``(pi, ti)`` restricted by masks on preds, visible truths, matches."""
    tv = truth.visible
    tpi, tti = pi[mask_m], ti[mask_m]
    teu = TEU_PER_KIND
    return Tally(
        tp=len(tpi),
        fp=int(mask_p.sum()) - int(np.isin(np.flatnonzero(mask_p), pi).sum()),
        fn=int((mask_t & tv).sum()) - len(tti),
        pred=int(mask_p.sum()),
        truth=int((mask_t & tv).sum()),
        pred_teu=int(teu[pred.kind[mask_p].astype(np.int64)].sum()),
        truth_teu=int(teu[truth.kind[mask_t & tv].astype(np.int64)].sum()),
        kind_correct=int((pred.kind[tpi] == truth.kind[tti]).sum()),
        tier_abs_err=float(np.abs(pred.tiers[tpi] - truth.tiers[tti]).sum()),
        pred_est=float(np.clip(pred.tiers[mask_p], 1.0, None).sum()),
        truth_total=int(mask_t.sum()),
    )


def evaluate_scene(pred: ContainerSet, truth: ContainerSet) -> dict:
    """Overall and per-region tallies of one scene: ``{"all": Tally, "by_region": {r: Tally},
    "region_agree": n, "recall_by": counts}`` (:func:`.breakdown.recall_counts`).

    ``pred`` and ``truth`` must share the CRS (the caller projects both into the truth's).
    """
    vis = np.flatnonzero(truth.visible)
    pxy = np.stack([pred.x_m, pred.y_m], axis=1)
    txy = np.stack([truth.x_m[vis], truth.y_m[vis]], axis=1)
    pi, tj, _ = match_centres(pxy, txy, max_dist=MATCH_RADIUS_M)
    ti = vis[tj]
    # per region: preds by their own region (FP, counts); truths and matches by the true one
    # (a match counted in region r has its prediction in the pred tally only if it agrees, so
    # FP per region = preds labelled r that matched nothing)
    all_p = np.ones(len(pred), bool)
    all_t = np.ones(len(truth), bool)
    out = {"all": _tally(pred, truth, pi, ti, all_p, all_t, np.ones(len(pi), bool))}
    by = {}
    for r in REGIONS:
        by[r] = _tally(
            pred, truth, pi, ti, pred.region == r, truth.region == r, truth.region[ti] == r
        )
    out["by_region"] = by
    out["region_agree"] = int((pred.region[pi] == truth.region[ti]).sum())
    out["recall_by"] = recall_counts(truth.kind, truth.tiers, truth.visible, ti)
    return out


def coco_ap(pairs: Sequence[tuple[ContainerSet, ContainerSet, float]]) -> dict:
    """Class-agnostic COCO AP on axis-aligned footprint boxes over scenes.

    ``pairs``: ``(pred, truth, gsd_m)``; boxes are measured in truth pixels (metres / gsd).
    Only visible truth counts. Returns ``{"ap", "ap50", "ap75"}`` (None without truth).
    """
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    images, gts, dts = [], [], []
    max_dets = 1
    for img_id, (pred, truth, gsd) in enumerate(pairs, start=1):
        images.append({"id": img_id})
        tb = truth.bbox_m[truth.visible]
        for b in tb:
            w, h = (b[2] - b[0]) / gsd, (b[3] - b[1]) / gsd
            x0, y0 = b[0] / gsd, -b[3] / gsd
            gts.append(
                {"id": len(gts) + 1, "image_id": img_id, "category_id": 1,
                 "bbox": [x0, y0, w, h], "area": w * h, "iscrowd": 0}
            )  # fmt: skip
        for b, s in zip(pred.bbox_m, pred.score, strict=True):
            w, h = (b[2] - b[0]) / gsd, (b[3] - b[1]) / gsd
            dts.append(
                {"image_id": img_id, "category_id": 1, "bbox": [b[0] / gsd, -b[3] / gsd, w, h],
                 "score": float(s), "area": w * h}
            )  # fmt: skip
        max_dets = max(max_dets, len(pred))
    if not gts:
        return {"ap": None, "ap50": None, "ap75": None}
    if not dts:
        return {"ap": 0.0, "ap50": 0.0, "ap75": 0.0}
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = {
            "images": images,
            "annotations": gts,
            "categories": [{"id": 1, "name": "container"}],
        }
        gt.createIndex()
        dt = gt.loadRes(dts)
        ev = COCOeval(gt, dt, iouType="bbox")
        ev.params.useCats = 0
        ev.params.maxDets = [1, 100, max(max_dets, 100)]
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    s = ev.stats
    return {
        k: round(max(float(v), 0.0), 4) for k, v in zip(("ap", "ap50", "ap75"), s[:3], strict=True)
    }


def evaluate_dirs(pred_dir: str | Path, truth_dir: str | Path) -> dict:
    """Evaluate every predicted scene that has truth; the JSON-ready report.

    Keys: ``scenes`` (per scene: files, overall metrics, per-region metrics), ``overall``
    (pooled over scenes), ``by_region`` (pooled), ``coco`` (AP), ``unpaired`` (predicted
    scenes without truth), ``no_predictions`` (truth scenes without predictions: not scored),
    ``match_radius_m``, ``recall_by`` (pooled recall by true kind and stack height,
    :mod:`.breakdown`), ``by_condition`` (pooled metrics and scenes by the sun, GSD, snow and
    view the truth headers give, :mod:`.conditions`). Raises :class:`LabelError` when no
    scene pairs.
    """
    pairs, unpaired = pair_files(Path(pred_dir), Path(truth_dir))
    no_predictions = truth_without_predictions(Path(pred_dir), Path(truth_dir))
    if not pairs:
        raise LabelError(
            f"{pred_dir}: no <scene>{PRED_SUFFIX} file has truth <scene>.geojson in {truth_dir} "
            f"or {Path(truth_dir) / 'truth'}"
        )
    scenes, total, by_region, coco_in = [], Tally(), {r: Tally() for r in REGIONS}, []
    agree, recall_by = 0, None
    by_cond: dict[str, dict[str, tuple[Tally, int]]] = {}
    for scene, p, t in pairs:
        from .io import read_geojson

        truth = load_containers(t, truth=True)
        pred = load_containers(p, truth=False, crs=truth.crs)
        tprops = read_geojson(t)[1]
        res = evaluate_scene(pred, truth)
        total = total + res["all"]
        agree += res["region_agree"]
        rb = res["recall_by"]
        recall_by = rb if recall_by is None else add_counts(recall_by, rb)
        for r in REGIONS:
            by_region[r] = by_region[r] + res["by_region"][r]
        for name, b in condition_bins(tprops).items():
            tally, k = by_cond.setdefault(name, {}).get(b, (Tally(), 0))
            by_cond[name][b] = (tally + res["all"], k + 1)
        gsd = float(tprops.get("gsd_m") or 0.4)
        coco_in.append((pred, truth, gsd if math.isfinite(gsd) and gsd > 0 else 0.4))
        scenes.append(
            {
                "scene": scene,
                "pred": str(p),
                "truth": str(t),
                **res["all"].metrics(),
                "by_region": {r: res["by_region"][r].metrics() for r in REGIONS},
            }
        )
    overall = total.metrics()
    overall["region_accuracy"] = round(agree / total.tp, 4) if total.tp else None
    return {
        "match_radius_m": MATCH_RADIUS_M,
        "overall": overall,
        "by_region": {r: by_region[r].metrics() for r in REGIONS},
        "recall_by": recall_rates(recall_by),
        "by_condition": {
            name: {
                b: {**by_cond[name][b][0].metrics(), "scenes": by_cond[name][b][1]}
                for b in labels
                if b in by_cond[name]
            }
            for name, (_, _, labels) in CONDITIONS.items()
            if name in by_cond
        },
        "coco": coco_ap(coco_in),
        "scenes": scenes,
        "unpaired": unpaired,
        "no_predictions": no_predictions,
    }
