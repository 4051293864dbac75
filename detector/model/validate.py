"""Quick validation of a model on samples with truth (a training-time sanity check).

The full evaluation (``ccount eval``) runs whole scenes through ``ccount detect``; this one
runs tiles straight through the network, so training can report precision, recall, F1,
count error, kind accuracy and tier error on held-out synthetic samples in seconds. A match
is a predicted centre within ``match_m`` metres of a true one, one-to-one (Hungarian).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace

import numpy as np
import torch
from torch import nn

from ..detections import Detections
from ..labels.match import match_centres
from .data import Sample
from .decode import DEFAULT_SCORE_THRESH, decode
from .tiers import TIERS_DIRECT, tiers_from_output

__all__ = ["ValMetrics", "score_detections", "validate"]


@dataclass(frozen=True)
class ValMetrics:
    """Pooled over all samples. ``count_error`` = (predicted - true) / true."""

    n_truth: int
    n_pred: int
    n_match: int
    precision: float
    recall: float
    f1: float
    count_error: float
    kind_accuracy: float
    tiers_mae: float
    angle_mae_deg: float

    def as_dict(self) -> dict[str, float]:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def score_detections(
    preds: Sequence[Detections], truths: Sequence[Detections], *, match_px: float
) -> ValMetrics:
    """Match each prediction set to its truth (visible only) and pool the metrics."""
    n_t = n_p = n_m = 0
    kind_ok = 0
    tier_err: list[np.ndarray] = []
    ang_err: list[np.ndarray] = []
    for p, t in zip(preds, truths, strict=True):
        t = t.select(t.visible)
        pi, ti, _ = match_centres(np.c_[p.cx, p.cy], np.c_[t.cx, t.cy], max_dist=match_px)
        n_t, n_p, n_m = n_t + len(t), n_p + len(p), n_m + len(pi)
        kind_ok += int((p.kind[pi] == t.kind[ti]).sum())
        err = np.abs(np.clip(p.tiers[pi], 1.0, 4.0) - t.tiers[ti])  # NaN: height unknown
        tier_err.append(err[np.isfinite(err)])
        d = np.abs(p.angle_rad[pi] - t.angle_rad[ti]) % np.pi
        ang_err.append(np.degrees(np.minimum(d, np.pi - d)))
    precision = n_m / n_p if n_p else 1.0
    recall = n_m / n_t if n_t else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    te = np.concatenate(tier_err) if tier_err else np.zeros(0)
    ae = np.concatenate(ang_err) if ang_err else np.zeros(0)
    return ValMetrics(
        n_truth=n_t,
        n_pred=n_p,
        n_match=n_m,
        precision=float(precision),
        recall=float(recall),
        f1=float(f1),
        count_error=float((n_p - n_t) / n_t) if n_t else 0.0,
        kind_accuracy=float(kind_ok / n_m) if n_m else 0.0,
        tiers_mae=float(te.mean()) if len(te) else 0.0,
        angle_mae_deg=float(ae.mean()) if len(ae) else 0.0,
    )


def _inside(d: Detections, height: int, width: int) -> Detections:
    return d.select((d.cx >= 0) & (d.cx < width) & (d.cy >= 0) & (d.cy < height))


@torch.inference_mode()
def validate(
    model: nn.Module,
    samples: Sequence[Sample],
    *,
    device: torch.device | str = "cpu",
    gsd_m: float = 0.4,
    match_m: float = 1.25,
    score_thresh: float = DEFAULT_SCORE_THRESH,
    batch_size: int = 16,
    tiers_output: str = TIERS_DIRECT,
) -> ValMetrics:
    """Run ``model`` (eval mode) on ``samples`` and score against their containers.

    ``tiers_output`` is the model's (:mod:`.tiers`); shadow outputs become tiers with each
    sample's ``sun_elevation_deg``."""
    was_training = model.training
    model.eval()
    preds: list[Detections] = []
    truths: list[Detections] = []
    try:
        for start in range(0, len(samples), batch_size):
            chunk = samples[start : start + batch_size]
            x = torch.from_numpy(np.stack([s.image for s in chunk]).astype(np.float32))
            out = model(x.to(device))
            for s, p in zip(chunk, decode(out, score_thresh=score_thresh), strict=True):
                h, w = s.image.shape[1:]
                elev = getattr(s, "sun_elevation_deg", None)
                p = replace(p, tiers=tiers_from_output(p.tiers, tiers_output, elev))
                preds.append(_inside(p, h, w))
                truths.append(_inside(s.containers, h, w))
    finally:
        model.train(was_training)
    return score_detections(preds, truths, match_px=match_m / gsd_m)
