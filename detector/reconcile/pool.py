"""Partial pooling of voyage loads by ship (empirical Bayes; pure, used by reconcile).

Model: voyage ``i`` of ship ``s`` carries ``L_i = mu_s + d_i`` with ``d_i ~ N(0, tau^2)``
(voyage-to-voyage spread, shared by all ships); its imagery gives ``y_i = L_i + e_i`` with
the fused observation error ``e_i`` (sd ``sigma_i``, :mod:`detector.reconcile.fuse`). ``mu_s`` has a
prior from DOMAIN.md (``prior_for(ship)`` with sd ``prior_ship_mean_sd``).

- ``tau^2``: method of moments, ``mean within-ship variance of y - mean sigma^2`` (>= 0),
  pooled with the prior ``prior_sd_per_voyage`` weighted as 4 degrees of freedom.
- ``mu_s``: precision-weighted mean of the prior and the ship's ``y_i`` (weights
  ``1 / (sigma_i^2 + tau^2)``), ``mu = a_0 prior + sum_i a_i y_i``.
- an observed voyage: ``w y_v + (1 - w) mu`` with ``w = tau^2 / (tau^2 + sigma_v^2)``: noisy
  observations lean on the ship's mean, precise ones stand; an unobserved (imputed) voyage:
  ``mu`` plus its own draw ``d_u``.

Every result is an explicit linear combination of the observations, so the error groups
propagate exactly (:func:`detector.reconcile.fuse.combine`): scene noise and the model's bias through
the ``y_i``, the voyages' draws as groups ``load:<voyage>``, the ship prior as
``prior:<ship>``. Totals over voyages of one ship therefore keep their correlations. Weights
use each observation's own error (:func:`own_sd`): errors shared by all of a ship's voyages
(the model's and the ship's count bias) do not average out, so they do not buy weight.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from ..labels.voyages import Voyage
from .evidence import ReconcileConfig
from .fuse import Estimate, combine

__all__ = ["PRIOR_DOF", "SHARED_GROUPS", "between_voyage_sd", "own_sd", "pool"]

PRIOR_DOF = 4.0
#: error groups every voyage of a ship shares: pooling cannot average them out
SHARED_GROUPS = ("model:", "ship_bias:", "ship_prior:")


def own_sd(e: Estimate) -> float:
    """The part of an estimate's error that is its own (not shared with the ship's other
    voyages): what pooling can reduce."""
    return math.sqrt(sum(s * s for g, s in e.groups().items() if not g.startswith(SHARED_GROUPS)))


def between_voyage_sd(
    by_ship: Mapping[str, Sequence[Estimate]], prior_sd: float, prior_dof: float = PRIOR_DOF
) -> float:
    """``tau``: the spread of true loads between voyages of one ship (see the module doc)."""
    ss, dof, noise = 0.0, 0, []
    for ests in by_ship.values():
        y = np.array([e.value for e in ests], float)
        if len(y) >= 2:
            ss += float(((y - y.mean()) ** 2).sum())
            dof += len(y) - 1
            noise += [own_sd(e) ** 2 for e in ests]
    tau2 = max(0.0, ss / dof - float(np.mean(noise))) if dof else 0.0
    return math.sqrt((dof * tau2 + prior_dof * prior_sd**2) / (dof + prior_dof))


def pool(
    observed: Mapping[int, tuple[Voyage, Estimate]],
    missing: Sequence[Voyage],
    cfg: ReconcileConfig,
) -> tuple[dict[int, Estimate], float]:
    """Final estimates of every voyage (observed and ``missing``) and the ``tau`` used."""
    by_ship: dict[str, list[tuple[int, Estimate]]] = {}
    for vn, (v, y) in observed.items():
        by_ship.setdefault(v.ship, []).append((vn, y))
    tau = between_voyage_sd(
        {s: [y for _, y in items] for s, items in by_ship.items()}, cfg.prior_sd_per_voyage
    )
    out: dict[int, Estimate] = {}
    ships = sorted({v.ship for v, _ in observed.values()} | {v.ship for v in missing})
    for ship in ships:
        items = by_ship.get(ship, [])
        prior_sd = cfg.prior_ship_mean_sd
        prec = [1.0 / (own_sd(y) ** 2 + tau**2) for _, y in items]
        d = 1.0 / prior_sd**2 + sum(prec)
        a0, a = (1.0 / prior_sd**2) / d, [p / d for p in prec]
        prior = Estimate(cfg.prior_for(ship))
        mean_parts = [(a0, prior)] + [(ai, y) for ai, (_, y) in zip(a, items, strict=True)]
        # mu - mu_true carries a_i * d_i of every observed voyage and a_0 * the prior's error
        mean_extra = [(f"load:{vn}", ai * tau) for ai, (vn, _) in zip(a, items, strict=True)]
        mean_extra.append((f"prior:{ship}", a0 * prior_sd))
        for vn, y in items:
            w = tau**2 / (tau**2 + own_sd(y) ** 2) if tau > 0 else 0.0
            # L_hat - L = w e_v + (1 - w)(mu_hat - mu) - (1 - w) d_v
            extra = [(g, (1 - w) * s) for g, s in mean_extra]
            extra.append((f"load:{vn}", -(1 - w) * tau))
            out[vn] = combine([(w, y)] + [((1 - w) * c, e) for c, e in mean_parts], extra)
        for v in missing:
            if v.ship != ship:
                continue
            extra = [*mean_extra, (f"load:{v.voyage}", -tau)]
            est = combine(mean_parts, extra)
            # the assumed under-deck range applies to the imputed voyage as to any other
            out[v.voyage] = Estimate(est.value, est.sd, cfg.under_deck_low - cfg.under_deck,
                                     cfg.under_deck_high - cfg.under_deck)  # fmt: skip
    return out, tau
