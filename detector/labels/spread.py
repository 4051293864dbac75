"""How far a pooled score could move on other scenes or voyages of the same kind.

Test sets here are small (12 scenes a family, 16 voyages a world), so a pooled F1 or a
share of intervals that hold the truth carries a sampling spread that decides whether two
numbers differ at all. These are the usual answers: a bootstrap over the units that were
drawn independently (scenes, voyages), resampled with replacement
(:func:`scipy.stats.bootstrap`, percentile intervals, a fixed seed so reports repeat), and
the exact (Clopper-Pearson) interval of a share (:func:`scipy.stats.binomtest`). Two rules
or models scored on the same scenes are compared *paired*: each resample draws the same
scenes for both, so what the scenes have in common cancels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from .evaluate import Tally

__all__ = [
    "Interval",
    "scene_intervals",
    "paired_f1_difference",
    "median_interval",
    "share_interval",
    "scenes_text",
]

LEVEL = 0.90
RESAMPLES = 4000


@dataclass(frozen=True)
class Interval:
    """A point value and its ``level`` interval ``[low, high]``."""

    value: float
    low: float
    high: float
    level: float = LEVEL

    def text(self, fmt: str = "{:.3f}") -> str:
        return f"{fmt.format(self.value)} [{fmt.format(self.low)}, {fmt.format(self.high)}]"


def _counts(tallies: Sequence[Tally]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return tuple(np.array([getattr(t, k) for t in tallies], float) for k in ("tp", "fp", "fn"))


def _f1(tp, fp, fn, axis=-1):
    tp, fp, fn = (np.sum(x, axis=axis) for x in (tp, fp, fn))
    return np.divide(2 * tp, 2 * tp + fp + fn, out=np.zeros_like(tp), where=2 * tp + fp + fn > 0)


def _count_err(tp, fp, fn, axis=-1):
    tp, fp, fn = (np.sum(x, axis=axis) for x in (tp, fp, fn))
    return 100.0 * np.divide(fp - fn, tp + fn, out=np.zeros_like(tp), where=tp + fn > 0)


def _boot(data: tuple[np.ndarray, ...], statistic, level: float, seed: int) -> tuple[float, float]:
    if len(data[0]) < 2:  # one unit: nothing to resample
        v = float(statistic(*data))
        return v, v
    res = stats.bootstrap(data, statistic, paired=True, vectorized=True, method="percentile",
                          confidence_level=level, n_resamples=RESAMPLES,
                          rng=np.random.default_rng(seed))  # fmt: skip
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def scene_intervals(
    tallies: Sequence[Tally], *, level: float = LEVEL, seed: int = 0
) -> dict[str, Interval]:
    """``{"f1", "count_error_pct"}``: the pooled F1 and count error (%) of per-scene
    ``tallies`` with their ``level`` bootstrap intervals over the scenes."""
    data = _counts(tallies)
    out = {}
    for name, fn in (("f1", _f1), ("count_error_pct", _count_err)):
        lo, hi = _boot(data, fn, level, seed)
        out[name] = Interval(float(fn(*data)), lo, hi, level)
    return out


def paired_f1_difference(
    base: Sequence[Tally], other: Sequence[Tally], *, level: float = LEVEL, seed: int = 0
) -> tuple[Interval, float]:
    """(F1 of ``other`` minus F1 of ``base`` with its paired ``level`` interval, share of
    the resamples in which ``other`` scores higher). Both list the same scenes in the same
    order."""
    if len(base) != len(other):
        raise ValueError(f"paired scores need the same scenes: {len(base)} vs {len(other)}")
    data = _counts(base) + _counts(other)

    def delta(tp0, fp0, fn0, tp1, fp1, fn1, axis=-1):
        return _f1(tp1, fp1, fn1, axis) - _f1(tp0, fp0, fn0, axis)

    lo, hi = _boot(data, delta, level, seed)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(base), size=(RESAMPLES, len(base)))
    wins = float(np.mean(delta(*(x[idx] for x in data)) > 0))
    return Interval(float(delta(*data)), lo, hi, level), wins


def median_interval(values: Sequence[float], *, level: float = LEVEL, seed: int = 0) -> Interval:
    """The median of ``values`` (e.g. per-shipment |error|) with its ``level`` bootstrap
    interval."""
    x = np.asarray(values, float)
    lo, hi = _boot((x,), lambda v, axis=-1: np.median(v, axis=axis), level, seed)
    return Interval(float(np.median(x)), lo, hi, level)


def share_interval(hits: int, n: int, *, level: float = LEVEL) -> Interval:
    """``hits / n`` with its exact (Clopper-Pearson) ``level`` interval."""
    if n <= 0:
        raise ValueError("a share of nothing")
    ci = stats.binomtest(int(hits), int(n)).proportion_ci(confidence_level=level, method="exact")
    return Interval(hits / n, float(ci.low), float(ci.high), level)


def scenes_text(per_scene: Sequence[Tally], base: Sequence[Tally] | None = None,
                base_name: str = "the base's") -> str:  # fmt: skip
    """ "F1 v [lo, hi], count v [lo, hi] %" over the scenes of ``per_scene`` and, with ``base``
    (the same scenes, another rule or model), "; F1 minus <base_name> d [lo, hi], higher in
    w%" (:func:`paired_f1_difference`)."""
    iv = scene_intervals(per_scene)
    text = f"F1 {iv['f1'].text()}, count {iv['count_error_pct'].text('{:+.1f}')} %"
    if base is not None:
        d, wins = paired_f1_difference(base, per_scene)
        text += f"; F1 minus {base_name} {d.text('{:+.3f}')}, higher in {wins:.0%}"
    return text
