"""Estimates with an error budget: fusion, sums and nominal 90 % intervals.

An :class:`Estimate` is a value (containers) with its error split into named *groups*: each
group is one independent standard-normal error source and the estimate's *loading* on it (a
signed sd). Estimates loading on the same group share that error (e.g. ``model:bias``, the
model's count bias shared by every scene); different groups are independent (e.g. one
scene's counting noise). So the variance of a sum is ``sum_g (sum_i l_ig)^2`` and fusion is
generalised least squares with covariance ``C_ij = sum_g l_ig * l_jg``; any linear
combination of estimates carries its loadings exactly. Assumed ranges that are not random
errors (under-deck cargo) enter as offsets ``add_low <= 0 <= add_high`` added to the interval
ends; they add linearly in sums.

The interval is ``value -+ z * sd`` plus the offsets, with ``z = 1.645`` (two-sided 90 % of a
normal), low end clipped at 0.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Z90", "Estimate", "fuse", "consistent", "combine", "total"]

Z90 = 1.6448536269514722  # two-sided 90 % normal quantile


@dataclass(frozen=True)
class Estimate:
    """``value`` with error groups ``sd`` ((group, signed loading) pairs) and assumption
    offsets ``add_low`` (<= 0) and ``add_high`` (>= 0) for the interval ends."""

    value: float
    sd: tuple[tuple[str, float], ...] = field(default=())
    add_low: float = 0.0
    add_high: float = 0.0

    def groups(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for g, s in self.sd:
            out[g] = out.get(g, 0.0) + float(s)
        return out

    @property
    def total_sd(self) -> float:
        return math.sqrt(sum(s * s for s in self.groups().values()))

    def interval(self, z: float = Z90) -> tuple[float, float]:
        """(low, high) nominal interval; low clipped at 0."""
        half = z * self.total_sd
        return max(0.0, self.value - half + self.add_low), self.value + half + self.add_high

    def scaled(self, k: float) -> Estimate:
        """The estimate of ``k`` times the quantity (e.g. containers -> TEU)."""
        return Estimate(
            self.value * k, tuple((g, s * k) for g, s in self.sd), self.add_low * k,
            self.add_high * k,
        )  # fmt: skip

    def plus_group(self, group: str, sd: float) -> Estimate:
        return Estimate(self.value, (*self.sd, (group, float(sd))), self.add_low, self.add_high)


def _cov(ests: Sequence[Estimate]) -> np.ndarray:
    gs = [e.groups() for e in ests]
    keys = sorted(set().union(*gs)) if gs else []
    m = np.array([[g.get(k, 0.0) for k in keys] for g in gs], float).reshape(len(ests), len(keys))
    return m @ m.T


def fuse(ests: Sequence[Estimate], *, tag: str = "fuse", inflate: bool = True) -> Estimate:
    """Best linear unbiased combination of estimates of one quantity.

    Weights ``w = C^-1 1 / (1' C^-1 1)`` (inverse-variance weighting generalised to shared
    error groups); each group's loading in the result is ``sum_i w_i l_ig`` (exact). When the estimates disagree more than their errors allow (Birge ratio
    ``B = r' C^-1 r / (n - 1) > 1``), a group ``<tag>:scatter`` widens the result so its
    variance is ``B`` times the fused variance.
    """
    if not ests:
        raise ValueError("fuse() needs at least one estimate")
    if len(ests) == 1:
        return ests[0]
    x = np.array([e.value for e in ests], float)
    cov = _cov(ests)
    cov = cov + np.eye(len(x)) * max(1e-9, 1e-9 * float(np.trace(cov)))
    ones = np.ones(len(x))
    cinv1 = np.linalg.solve(cov, ones)
    w = cinv1 / cinv1.sum()
    value = float(w @ x)
    groups: dict[str, float] = {}
    for wi, e in zip(w, ests, strict=True):
        for g, s in e.groups().items():
            groups[g] = groups.get(g, 0.0) + float(wi) * s
    fused = Estimate(
        value,
        tuple(sorted(groups.items())),
        float(w @ [e.add_low for e in ests]),
        float(w @ [e.add_high for e in ests]),
    )
    if inflate:
        r = x - value
        chi2 = float(r @ np.linalg.solve(cov, r))
        birge = chi2 / (len(x) - 1)
        if birge > 1.0:
            var = fused.total_sd**2
            fused = fused.plus_group(f"{tag}:scatter", math.sqrt(var * (birge - 1.0)))
    return fused


def _chi2(ests: Sequence[Estimate]) -> float:
    x = np.array([e.value for e in ests], float)
    cov = _cov(ests) + np.eye(len(x)) * 1e-9
    ones = np.ones(len(x))
    w = np.linalg.solve(cov, ones)
    r = x - float(w @ x) / w.sum()
    return float(r @ np.linalg.solve(cov, r))


def consistent(
    ests: Sequence[Estimate], *, prior_mean: float, prior_sd: float, p_value: float = 0.01
) -> list[int]:
    """Indices of the estimates to fuse: all of them, unless they disagree beyond chance
    (chi-square of their scatter above its ``1 - p_value`` quantile); then the worst one is
    left out and the rest tested again. Worst: with three or more, the one farthest (in sds)
    from the fusion of the others; with two, the one less plausible under the prior
    (``prior_mean``, ``prior_sd``), since two observations alone cannot say which is off."""
    from scipy.stats import chi2

    keep = list(range(len(ests)))
    while len(keep) >= 2 and _chi2([ests[i] for i in keep]) > chi2.ppf(1 - p_value, len(keep) - 1):
        if len(keep) == 2:
            z = [abs(ests[i].value - prior_mean) / math.hypot(ests[i].total_sd, prior_sd)
                 for i in keep]  # fmt: skip
        else:
            z = []
            for i in keep:
                rest = fuse([ests[j] for j in keep if j != i], inflate=False)
                z.append(
                    abs(ests[i].value - rest.value) / math.hypot(ests[i].total_sd, rest.total_sd)
                )
        keep.pop(int(np.argmax(z)))
    return keep


def total(ests: Iterable[Estimate]) -> Estimate:
    """The estimate of a sum: values and same-group loadings add; offsets add."""
    ests = list(ests)
    groups: dict[str, float] = {}
    for e in ests:
        for g, s in e.groups().items():
            groups[g] = groups.get(g, 0.0) + s
    return Estimate(
        float(sum(e.value for e in ests)),
        tuple(sorted(groups.items())),
        float(sum(e.add_low for e in ests)),
        float(sum(e.add_high for e in ests)),
    )


def combine(
    parts: Sequence[tuple[float, Estimate]], extra: Sequence[tuple[str, float]] = ()
) -> Estimate:
    """``sum_i c_i * e_i`` for (c_i, e_i) in ``parts``, plus ``extra`` (group, loading) pairs:
    values, loadings and offsets combine linearly (exact error propagation)."""
    groups: dict[str, float] = {}
    for c, e in parts:
        for g, s in e.groups().items():
            groups[g] = groups.get(g, 0.0) + c * s
    for g, s in extra:
        groups[g] = groups.get(g, 0.0) + s
    return Estimate(
        float(sum(c * e.value for c, e in parts)),
        tuple(sorted(groups.items())),
        float(sum(c * e.add_low for c, e in parts)),
        float(sum(c * e.add_high for c, e in parts)),
    )
