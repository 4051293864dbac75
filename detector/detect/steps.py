"""Height steps between touching stacks: the shadow a stack casts on its neighbour's top.

Inside a block a stack's shadow falls on the stack beside it on the anti-sun side, not on the
ground, so :func:`detector.detect.heights.shadow_lengths_px` leaves it occluded. What that
shadow does on the neighbour's top still says something: a stack ``d`` tiers higher than its
neighbour darkens the first ``d * TIER_HEIGHT_M / tan(e)`` m of the neighbour's top; one no
higher leaves it lit. :func:`height_steps` reads, for each occluded box, the neighbour its
profiles enter and how far the dark run goes into it, and returns the difference in whole
tiers (0 where the top stays lit, read as "level": a lower stack leaves no trace this way).
:func:`chain_heights` carries measured heights across these steps to the stacks that would
otherwise get the stowage prior (lone blocks whose every shadow falls on another box).

What it cannot read: a stack lower than its anti-sun neighbour (no trace: read as level); a
neighbour wholly in the shadow (no lit level of its own: skipped, and so is a level reading
wherever the neighbour is shorter along the sun than 1.3 tiers' shadow, as it could be all
in one); a one-tier step whose shadow reaches under ~2 px onto the lower top past the gap
(sun over ~60 deg at 0.4 m: read as level).

Measured at the true tops of the dev scenes (seeds 82000-82005, every family): 1-2 px into
a neighbour one tier lower the top reads at 0.06-0.6 of its lit level (median per scene;
the high values at sun elevations over 60 deg, where one tier's shadow is ~3 px), a level
one at 0.8-0.96.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from ..detections import TIER_HEIGHT_M, Detections
from .profiles import anti_sun_unit, nan_reduce, profile_origins, sample_at

__all__ = ["STEP_RATIO", "Steps", "chain_heights", "height_steps"]

#: A neighbour's top darker than this share of its own lit level 1-2 px in from its edge is
#: in the caster's shadow (a step down; shadows keep 0.1-0.6 of the light, sky light), and
#: the dark run there ends at the midpoint level. 0.4 / 0.5 / 0.6 gave the same dev MAE.
STEP_RATIO = 0.5
_NEAR_PX = 1.5  # a neighbour this close beside the box: its shadow starts on that top
_STEP_PX = 0.5


@dataclass(frozen=True)
class Steps:
    """Height differences in whole tiers: ``higher[k] - lower[k] == tiers[k]`` (int64 [K]
    box indices, ``tiers`` >= 0; 0: level or lower, read as level)."""

    higher: np.ndarray
    lower: np.ndarray
    tiers: np.ndarray

    def __len__(self) -> int:
        return len(self.tiers)

    @staticmethod
    def empty() -> Steps:
        z = np.zeros(0, np.int64)
        return Steps(z, z.copy(), z.copy())

    @staticmethod
    def concat(parts: list[Steps]) -> Steps:
        if not parts:
            return Steps.empty()
        return Steps(*(np.concatenate([getattr(p, f) for p in parts]) for f in
                       ("higher", "lower", "tiers")))  # fmt: skip


def _lit_levels(gray: np.ndarray, labels: np.ndarray, n: int) -> np.ndarray:
    """float [n + 1]: the 90th percentile of each box's pixels (its lit top), NaN if none."""
    ids = labels.ravel()
    keep = (ids > 0) & (ids <= n)
    ids, vals = ids[keep], gray.ravel()[keep]
    order = np.lexsort((vals, ids))
    ids, vals = ids[order], vals[order]
    start = np.searchsorted(ids, np.arange(n + 2))
    out = np.full(n + 1, np.nan)
    cnt = start[2:] - start[1:-1]
    has = cnt > 0
    pos = start[1:-1] + np.floor(0.9 * np.maximum(cnt - 1, 0)).astype(np.int64)
    out[1:][has] = vals[pos[has]]
    return out


def height_steps(
    gray: np.ndarray,
    dets: Detections,
    labels: np.ndarray,
    *,
    azimuth_deg: float,
    elevation_deg: float,
    gsd_m: float,
    measure: np.ndarray,
    n_profiles: int = 5,
) -> Steps:
    """Steps from the boxes ``measure`` (indices into ``dets``, pixels of ``gray``'s frame;
    ``labels`` their :func:`~detector.detect.profiles.box_labels`, blockers above
    ``len(dets)`` are never a neighbour) to the box their profiles enter within
    :data:`_NEAR_PX` on the anti-sun side, when at least two profiles agree on it. A level
    neighbour counts only when its extent along the sun is over 1.3 tier-shadows (a shorter
    one could be all in the shadow, its "lit" level dark); a dark run that covers the whole
    neighbour gives the smallest step that reaches its far side."""
    idx = np.asarray(measure, np.int64)
    n = len(dets)
    if len(idx) == 0 or n < 2:
        return Steps.empty()
    per_tier = TIER_HEIGHT_M / math.tan(math.radians(elevation_deg)) / gsd_m  # px
    lit = _lit_levels(gray, labels, n)
    ux, uy = anti_sun_unit(azimuth_deg)
    ox, oy, t_out, _ = profile_origins(dets, idx, azimuth_deg, n_profiles)
    # far enough to cross any neighbour: only the run over it is read
    reach = _NEAR_PX + 2.0 + float(np.hypot(dets.length_px, dets.width_px).max())
    tau = np.arange(0.0, reach, _STEP_PX)
    fx = ox[..., None] + (t_out[..., None] + tau) * ux
    fy = oy[..., None] + (t_out[..., None] + tau) * uy
    other = sample_at(labels, fx, fy, 0)
    g = sample_at(gray, fx, fy, 1)
    mine = (idx + 1)[:, None, None]
    hit = (other != 0) & (other != mine)
    first = np.where(hit.any(-1), np.argmax(hit, -1), len(tau))  # [m, P]
    near = first <= int(_NEAR_PX / _STEP_PX)
    fc = np.minimum(first, len(tau) - 1)
    nb = np.take_along_axis(other, fc[..., None], -1)[..., 0]  # neighbour label
    ti = np.arange(len(tau))
    after = ti >= first[..., None]
    same = (other == nb[..., None]) | ~after
    inside = np.cumprod(same, -1).astype(bool) & after  # the contiguous run over it
    seg = inside.sum(-1)
    nb_lit = lit[np.clip(nb, 0, n)]
    need = max(2, (n_profiles + 1) // 2)
    ok = (
        near
        & (near.sum(-1) >= need)[:, None]
        & (nb >= 1)
        & (nb <= n)
        & (seg >= 5)
        & np.isfinite(nb_lit)
        & (nb_lit > 0)
    )
    # 1-2 px into the neighbour: past the blur of the gap between the two
    k3 = inside & (ti >= first[..., None] + 2) & (ti < first[..., None] + 5)
    with np.errstate(all="ignore"):
        entry = nan_reduce(np.nanmedian, np.where(k3, g, np.nan)) / nb_lit
        dark = g < 0.5 * (1.0 + STEP_RATIO) * nb_lit[..., None]
    lit_in = inside & ~dark
    ended = lit_in.any(-1)
    run = np.where(ended, np.argmax(lit_in, -1) - first, seg) * _STEP_PX  # px into it
    extent = seg * _STEP_PX
    higher, lower, tiers = [], [], []
    for r in np.nonzero(ok.any(-1))[0]:
        good = ok[r]
        labs, cnt = np.unique(nb[r][good], return_counts=True)
        b = labs[np.argmax(cnt)]
        sel = good & (nb[r] == b)
        if sel.sum() < 2:
            continue
        if np.median(entry[r][sel]) < STEP_RATIO:
            done = sel & ended[r]
            if done.sum() >= 2:
                d = max(1, int(round(float(np.median(run[r][done])) / per_tier)))
            else:
                d = max(1, math.ceil(float(np.median(extent[r][sel])) / per_tier))
        elif np.median(extent[r][sel]) > 1.3 * per_tier:
            d = 0
        else:
            continue
        higher.append(idx[r])
        lower.append(b - 1)
        tiers.append(d)
    return Steps(np.asarray(higher, np.int64), np.asarray(lower, np.int64),
                 np.asarray(tiers, np.int64))  # fmt: skip


def chain_heights(
    anchor: np.ndarray, tiers: np.ndarray, steps: Steps
) -> tuple[np.ndarray, np.ndarray]:
    """(float [N] heights carried from the ``anchor`` stacks (bool [N], their ``tiers``)
    across ``steps`` breadth-first (nearest anchor first; a stack keeps the first height that
    reaches it), NaN where none reaches; int [N] steps crossed to get there, 0 on an anchor
    and where none reaches)."""
    n = len(anchor)
    h = np.where(anchor, np.asarray(tiers, np.float64), np.nan)
    hops = np.zeros(n, np.int64)
    adj: list[list[tuple[int, int]]] = [[] for _ in range(n)]
    for a, b, d in zip(steps.higher.tolist(), steps.lower.tolist(), steps.tiers.tolist(),
                       strict=True):  # fmt: skip
        adj[a].append((b, -d))
        adj[b].append((a, d))
    queue = deque(np.nonzero(anchor)[0].tolist())
    while queue:
        u = queue.popleft()
        for v, d in adj[u]:
            if np.isnan(h[v]):
                h[v] = h[u] + d
                hops[v] = hops[u] + 1
                queue.append(v)
    return h, hops
