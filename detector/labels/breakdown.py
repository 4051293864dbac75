"""Recall by what the truth is: its kind (20ft / 40ft) and its stack's height in tiers.

Precision cannot be split this way (a false box has no true kind or height), but recall can,
and it shows failures the pooled numbers hide: a kind or a stack height the model misses
far more often than the others (docs/training.md: 40 ft tops under deep snow).
"""

from __future__ import annotations

import numpy as np

from ..detections import KINDS

__all__ = ["recall_counts", "add_counts", "recall_rates", "format_recall"]


def recall_counts(
    kind: np.ndarray, tiers: np.ndarray, visible: np.ndarray, matched: np.ndarray
) -> dict[str, dict[str, list[int]]]:
    """``{"kind": {name: [found, visible]}, "tiers": {"1".."4+": [found, visible]}}`` over the
    visible truths; ``matched``: indices of the truths matched by a prediction."""
    vis = np.asarray(visible, bool)
    hit = np.zeros(len(vis), bool)
    hit[np.asarray(matched, np.int64)] = True
    kind = np.asarray(kind, np.int64)
    t = np.clip(np.rint(np.asarray(tiers, np.float64)), 1, 4).astype(np.int64)
    out: dict[str, dict[str, list[int]]] = {"kind": {}, "tiers": {}}
    for code, name in enumerate(KINDS):
        m = vis & (kind == code)
        out["kind"][name] = [int((hit & m).sum()), int(m.sum())]
    for k in range(1, 5):
        m = vis & (t == k)
        out["tiers"][str(k) if k < 4 else "4+"] = [int((hit & m).sum()), int(m.sum())]
    return out


def add_counts(a: dict, b: dict) -> dict:
    """The counts of two scenes pooled."""
    return {g: {k: [a[g][k][0] + b[g][k][0], a[g][k][1] + b[g][k][1]] for k in a[g]} for g in a}


def recall_rates(counts: dict) -> dict:
    """``{group: {key: {"recall": r or None, "truth_visible": n}}}``, JSON-ready."""
    return {
        g: {k: {"recall": round(f / n, 4) if n else None, "truth_visible": n}
            for k, (f, n) in keys.items()}
        for g, keys in counts.items()
    }  # fmt: skip


def format_recall(rates: dict) -> str:
    """One line: ``recall by true kind: 20ft 0.695 (5160), 40ft 0.423 (2108); by true
    tiers: 1 0.507 (2683), ...`` (recall, then the visible truths it is over)."""

    def part(keys: dict) -> str:
        return ", ".join(
            f"{k} {'-' if v['recall'] is None else format(v['recall'], '.3f')} ({v['truth_visible']})"
            for k, v in keys.items()
        )

    return f"recall by true kind: {part(rates['kind'])}; by true tiers: {part(rates['tiers'])}"
