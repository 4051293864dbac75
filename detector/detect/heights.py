"""Stack heights from shadows and the sun: pure functions on image patches and boxes.

Geometry (north up, x = column right, y = row down, azimuth clockwise from north): a stack of
height ``h`` m on flat ground under a sun at elevation ``e`` casts its footprint swept
``h / tan(e)`` m along the anti-sun direction ``u = (-sin az, cos az)``. Every line along
``u`` that crosses the footprint therefore runs exactly ``L = h / tan(e)`` in shadow after it
leaves the footprint, wherever it crosses it: so :func:`shadow_lengths_px` samples several
parallel profiles across each box, from the box's edge outward, finds where the dark run ends
(half-way between the shadow's level next to the box and the lit ground's level on the sun
side or beyond the longest possible shadow) and takes the median over profiles. Then
``h = L * gsd * tan(e)`` and ``tiers = h / TIER_HEIGHT_M``.

Where the shadow cannot be read (it falls on another box before it ends, the sun is above
:data:`MAX_SUN_ELEVATION_DEG` or below :data:`MIN_SUN_ELEVATION_DEG`, no clear edge: snow,
cloud shadow, texture) the stack gets a prior instead (:func:`stack_heights`): one high on a
rail wagon, else the heights measured on its own block of touching boxes, else the
stowage range 1-4 tiers, with a wide interval; ``reason`` says why, never a silent default.

:func:`detector.detect.sunfit.sun_from_shadows` inverts the geometry on a scene's own boxes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..detections import TIER_HEIGHT_M, Detections
from .profiles import anti_sun_unit, box_labels, nan_reduce, profile_origins, sample_at
from .steps import Steps, chain_heights

__all__ = [
    "BASES",
    "MAX_SUN_ELEVATION_DEG",
    "MIN_SUN_ELEVATION_DEG",
    "PRIOR_TIERS",
    "RAIL_TIERS",
    "REASONS",
    "WAGON_BED_M",
    "Heights",
    "ShadowRuns",
    "anti_sun_unit",
    "box_labels",
    "shadow_lengths_px",
    "stack_heights",
    "touching_groups",
]

#: Above this the shadows are shorter than the edge blur of one tier: heights are a prior.
MAX_SUN_ELEVATION_DEG = 70.0
#: Below this the shadows are long, faint and fall on everything: heights are a prior.
MIN_SUN_ELEVATION_DEG = 10.0
#: Stowage prior without a measurement: (estimate, low, high) tiers (stacks of 1-4, DOMAIN.md).
PRIOR_TIERS = (2.5, 1.0, 4.0)
MAX_TIERS = 4.0
#: A rail stack not measured: containers ride one high on flat wagons (no double-stacking
#: under the 1520 mm and UIC loading gauges; DOMAIN.md: rail leaves in wagons).
RAIL_TIERS = (1.0, 1.0, 1.0)
#: Half width of a stepped stack's interval in tiers: (first step, added per further step).
STEP_HALF_WIDTH = (1.0, 0.25)
#: What a stack's height rests on: its own shadow, a measured height carried across the
#: height steps between touching stacks (:mod:`.steps`), its block's measured stacks, the
#: rail prior or the stowage prior.
BASES = ("shadow", "step", "block", "rail", "stowage")
#: Why a stack's height is not from its shadow ("" = measured).
REASONS = ("", "occluded", "no_edge", "high_sun", "low_sun", "no_sun", "no_image", "unknown_base")
#: Height of a container flat wagon's bed above the rail head, metres (UIC flat wagons for
#: containers, e.g. Sgns: 1.155-1.2 m loading height).
WAGON_BED_M = 1.18
_Z90 = 1.645  # two-sided 90 % normal quantile
_MODEL_SD_TIERS = 0.25  # sd of a measured height beyond the edge's own (tiers)
_MODEL_SD_REL = 0.12  # and in proportion to it and to tan(elevation)
# off nadir, across the shadow: a top is seen beside its shadow by h x tan(incidence) x
# |sin(lean, shadow)| (``lean_across``) and some profiles miss it; the relative sd is at least
# this times that (dev scenes with it over 0.1, true tops: measured stacks' 90 % cover 0.79
# without, 0.88 / 0.94 / 0.95 at 1 / 1.5 / 2; under 0.1 unchanged at 0.98)
_LEAN_SD = 1.5
# and in proportion to the shadow's length, tiers per metre: a long shadow more often ends on
# something else (a rail, a marking, a box not detected); at 20-35 degrees sun, without it,
# measured stacks' 90 % intervals covered 0.80-0.83 (dev seed 82000, true tops; 0.88-0.90 with)
_MODEL_SD_PER_M = 0.05
_EDGE_SD_PX = 0.6  # edge position uncertainty of one profile (blur + sampling), pixels


@dataclass(frozen=True)
class ShadowRuns:
    """Per box [N]: ``length_px`` median shadow length over its good profiles (NaN: not
    measured), ``sd_px`` its standard error (edge blur and spread across profiles),
    ``reason`` index into :data:`REASONS` (0 = measured), ``profiles`` good profiles used."""

    length_px: np.ndarray
    sd_px: np.ndarray
    reason: np.ndarray
    profiles: np.ndarray


def shadow_lengths_px(
    gray: np.ndarray,
    valid: np.ndarray,
    dets: Detections,
    *,
    azimuth_deg: float,
    max_px: float,
    measure: np.ndarray | None = None,
    labels: np.ndarray | None = None,
    n_profiles: int = 5,
    step_px: float = 0.5,
    probe: bool = True,
    blocked_only: bool = False,
) -> ShadowRuns:
    """Shadow length (pixels) beside each box of ``dets`` (pixels of ``gray``'s frame).

    ``gray`` float32 [H, W] brightness, ``valid`` bool [H, W]; ``azimuth_deg`` the sun's;
    ``max_px`` the longest shadow possible (the tallest stack at this sun) — the lit-ground
    reference is read beyond it. ``measure``: indices of the boxes to measure (default all;
    the others only block rays). ``labels``: :func:`box_labels` of ``dets`` when known.
    ``probe``: first look 1.5 px beside each box and leave those with a neighbour there
    occluded without reading their whole run (most boxes inside a block: 2-3x faster).
    ``blocked_only``: only count, per box, the profiles blocked within 1.5 px (``profiles``).
    """
    n_all = len(dets)
    idx = np.arange(n_all) if measure is None else np.asarray(measure, np.int64)
    n = len(idx)
    nan = np.full(n, np.nan)
    if n == 0:
        return ShadowRuns(nan, nan, np.zeros(0, np.int8), np.zeros(0, np.int16))
    lab = box_labels(dets, gray.shape) if labels is None else labels
    need = max(2, (n_profiles + 1) // 2)
    if probe:  # boxes with a neighbour right beside them on the anti-sun side: occluded
        near = shadow_lengths_px(
            gray, valid, dets, azimuth_deg=azimuth_deg, max_px=-2.0, measure=idx,
            labels=lab, n_profiles=n_profiles, step_px=step_px, probe=False, blocked_only=True,
        )  # fmt: skip
        at_once = near.profiles >= need
        reason = np.where(at_once, 1, 0).astype(np.int8)
        rest = np.nonzero(~at_once)[0]
        length, sd, prof = nan.copy(), nan.copy(), np.zeros(n, np.int16)
        if len(rest):
            r = shadow_lengths_px(
                gray, valid, dets, azimuth_deg=azimuth_deg, max_px=max_px, measure=idx[rest],
                labels=lab, n_profiles=n_profiles, step_px=step_px, probe=False,
            )  # fmt: skip
            length[rest], sd[rest], reason[rest], prof[rest] = (
                r.length_px,
                r.sd_px,
                r.reason,
                r.profiles,
            )
        return ShadowRuns(length, sd, reason, prof)
    ux, uy = anti_sun_unit(azimuth_deg)
    ox, oy, t_out, t_in = profile_origins(dets, idx, azimuth_deg, n_profiles)
    reach = float(max_px) + 3.0
    tau = np.arange(0.0, reach + 4.0 + 1e-9, step_px)  # [T] beyond the exit point
    fx = ox[..., None] + (t_out[..., None] + tau) * ux
    fy = oy[..., None] + (t_out[..., None] + tau) * uy
    ok = sample_at(valid, fx, fy, 0).astype(bool)
    other = sample_at(lab, fx, fy, 0)
    mine = (idx + 1)[:, None, None]
    blocked = (other != 0) & (other != mine) | ~ok
    if blocked_only:  # profiles blocked within 1.5 px
        hit = (blocked & (tau <= 1.5)).any(-1).sum(-1).astype(np.int16)
        return ShadowRuns(nan, nan, np.zeros(n, np.int8), hit)
    g = sample_at(gray, fx, fy, 1)  # [n, P, T]
    # lit ground on the sun side, 1.5-4 px before the box
    back = np.arange(1.5, 4.01, step_px)
    bx = ox[..., None] - (t_in[..., None] + back) * ux
    by = oy[..., None] - (t_in[..., None] + back) * uy
    gb = sample_at(gray, bx, by, 1)
    okb = (sample_at(lab, bx, by, 0) == 0) & (sample_at(valid, bx, by, 0).astype(bool))
    # lit ground beyond the longest shadow
    far = tau >= reach
    near = (tau >= 0.5) & (tau <= 1.5)
    lit_far = nan_reduce(np.nanmedian, np.where(~blocked[..., far], g[..., far], np.nan))
    lit_back = nan_reduce(np.nanmedian, np.where(okb, gb, np.nan))
    dark = nan_reduce(np.nanmedian, np.where(~blocked[..., near], g[..., near], np.nan))
    lit = np.fmax(lit_far, lit_back)  # [n, P]
    contrast = lit - dark
    clear = np.isfinite(contrast) & (contrast > np.maximum(0.04, 0.15 * lit))
    thr = dark + 0.5 * contrast
    # first sample past 1 px at or above the threshold, before any block
    first_block = np.where(blocked.any(-1), np.argmax(blocked, -1), len(tau))
    # lit for 1 px on end (a white line or a speck in the shadow does not end it)
    up = g >= thr[..., None]
    run = max(1, int(round(1.0 / step_px)))
    for j in range(1, run + 1):
        up[..., :-j] &= g[..., j:] >= thr[..., None]
    above = up & (tau >= 0.5)
    first_up = np.where(above.any(-1), np.argmax(above, -1), len(tau))
    ended = first_up < np.minimum(first_block, np.searchsorted(tau, reach))
    # sub-pixel: linear interpolation between the last dark and the first lit sample
    k = np.clip(first_up, 1, len(tau) - 1)
    g1 = np.take_along_axis(g, k[..., None], -1)[..., 0]
    g0 = np.take_along_axis(g, (k - 1)[..., None], -1)[..., 0]
    with np.errstate(all="ignore"):
        w = np.clip((thr - g0) / (g1 - g0), 0.0, 1.0)
    length = tau[k - 1] + w * step_px
    # a run that reached a block before it ended: the shadow falls on another stack
    hit = (first_block <= first_up) & (first_block < len(tau))
    good = clear & ended & ~hit
    n_good = good.sum(-1)
    med = nan_reduce(np.nanmedian, np.where(good, length, np.nan))
    spread = nan_reduce(np.nanstd, np.where(good, length, np.nan))
    measured = n_good >= need
    sd = np.sqrt(_EDGE_SD_PX**2 / np.maximum(n_good, 1) + spread**2 / np.maximum(n_good, 1))
    sd = np.sqrt(sd**2 + (0.5 * step_px) ** 2)
    reason = np.zeros(n, np.int8)
    occluded = (hit & clear).sum(-1) >= need
    # a neighbour right beside the box (no ground to see) also hides the shadow
    at_once = (first_block <= np.searchsorted(tau, 1.5)).sum(-1) >= need
    occluded |= at_once
    reason[~measured] = np.where(occluded[~measured], 1, 2)
    return ShadowRuns(
        np.where(measured, med, np.nan), np.where(measured, sd, np.nan), reason,
        n_good.astype(np.int16),
    )  # fmt: skip


def touching_groups(dets: Detections, *, gap_px: float) -> np.ndarray:
    """int64 [N] group id per box: boxes whose footprints come within ``gap_px`` of each
    other (a block of touching stacks) share one id."""
    n = len(dets)
    if n == 0:
        return np.zeros(0, np.int64)
    import shapely
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    polys = shapely.polygons(dets.corners())
    tree = shapely.STRtree(polys)
    a, b = tree.query(shapely.buffer(polys, gap_px), predicate="intersects")
    m = coo_matrix((np.ones(len(a)), (a, b)), shape=(n, n))
    return connected_components(m, directed=False)[1].astype(np.int64)


@dataclass(frozen=True)
class Heights:
    """Per detection [N]: ``tiers_est`` and its 90 % interval ``tiers_low``..``tiers_high``
    (float32, tiers of :data:`TIER_HEIGHT_M`), ``source`` "shadow"|"prior", ``reason`` why
    not measured ("" when measured; :data:`REASONS`), ``shadow_m`` measured shadow length
    (NaN where none), ``basis`` what the height rests on (:data:`BASES`): its own shadow,
    a measured one carried across height steps, its block's measured stacks, the rail or the
    stowage prior."""

    tiers_est: np.ndarray
    tiers_low: np.ndarray
    tiers_high: np.ndarray
    source: np.ndarray
    reason: np.ndarray
    shadow_m: np.ndarray
    basis: np.ndarray

    def __len__(self) -> int:
        return len(self.tiers_est)

    def shares(self) -> dict[str, int]:
        """How many detections got each source and each reason."""
        out = {f"source_{s}": int((self.source == s).sum()) for s in ("shadow", "prior")}
        out.update({f"basis_{b}": int((self.basis == b).sum()) for b in BASES[1:]})
        for r in REASONS[1:]:
            k = int((self.reason == r).sum())
            if k:
                out[f"prior_{r}"] = k
        return out


def _sun_reason(elevation_deg: float | None, max_deg: float = MAX_SUN_ELEVATION_DEG) -> int:
    if elevation_deg is None or not math.isfinite(elevation_deg):
        return REASONS.index("no_sun")
    if elevation_deg > max_deg:
        return REASONS.index("high_sun")
    if elevation_deg < MIN_SUN_ELEVATION_DEG:
        return REASONS.index("low_sun")
    return 0


def stack_heights(
    runs: ShadowRuns | None,
    *,
    n: int,
    gsd_m: float,
    elevation_deg: float | None,
    groups: np.ndarray | None = None,
    base_m: np.ndarray | None = None,
    region: np.ndarray | None = None,
    steps: Steps | None = None,
    max_elevation_deg: float = MAX_SUN_ELEVATION_DEG,
    lean_across: float = 0.0,
) -> Heights:
    """Per-detection heights from shadow runs (:func:`shadow_lengths_px`, ``n`` boxes) under
    a sun at ``elevation_deg`` (None: unknown) in a frame of ``gsd_m`` m per pixel.

    Measured: ``tiers = L * gsd * tan(e) / TIER_HEIGHT_M`` rounded to whole tiers, and a 90 %
    interval of whole tiers: +-1.645 sd (the edge's and a model error), clipped to 1..4.
    Not measured: a prior (``source`` "prior", ``reason`` says why), the most specific one
    that applies (:func:`_fill_priors`; ``region`` [N] deck|quay|yard|rail when known).
    ``base_m`` [N]: how far the stack's base stands above the surface its shadow falls on (a
    rail wagon's bed: :data:`WAGON_BED_M`), taken off the measured height; NaN where that
    surface's level is unknown (a ship's deck: the shadow may fall on hatch covers, the deck
    or the water), which makes it a prior (``reason`` "unknown_base"). ``steps``: height
    differences between touching stacks (:func:`~detector.detect.steps.height_steps`).
    ``max_elevation_deg``: steeper is "high_sun" (off nadir the caller gates the sun's own
    elevation and passes the one the shadows are seen at, :mod:`detector.detect.view`).
    ``lean_across``: tan(incidence) x |sin(angle between the lean and the shadow)| of an
    off-nadir view (0 at nadir), which widens the measured heights' intervals.
    """
    est = np.full(n, PRIOR_TIERS[0], np.float64)
    low = np.full(n, PRIOR_TIERS[1], np.float64)
    high = np.full(n, PRIOR_TIERS[2], np.float64)
    source = np.full(n, "prior", dtype=object)
    reason = np.full(n, "", dtype=object)
    shadow_m = np.full(n, np.nan)
    basis = np.full(n, "stowage", dtype=object)
    sun_why = _sun_reason(elevation_deg, max_elevation_deg)
    if sun_why or runs is None:
        reason[:] = REASONS[sun_why or REASONS.index("no_image")]
        _fill_priors(est, low, high, basis, np.zeros(n, bool), None, region, None)
        return Heights(est.astype(np.float32), low.astype(np.float32),
                       high.astype(np.float32), source, reason, shadow_m, basis)  # fmt: skip
    k = math.tan(math.radians(float(elevation_deg))) * float(gsd_m) / TIER_HEIGHT_M
    base = np.zeros(n) if base_m is None else np.asarray(base_m, np.float64)
    m = np.isfinite(runs.length_px) & np.isfinite(base)
    t = runs.length_px * k - np.nan_to_num(base) / TIER_HEIGHT_M
    # the edge's sd, plus what one profile set does not show: the side walls of an
    # off-nadir view, ground texture, a stack's own top not level (measured on synthetic
    # scenes: scripts/eval_heights.py)
    # (an off-nadir view moves a top by up to tan(15 deg) x its height, a share of the
    # shadow that grows with tan(elevation))
    rel = max(_MODEL_SD_REL, _LEAN_SD * lean_across) * math.tan(math.radians(float(elevation_deg)))
    length_m = runs.length_px * float(gsd_m)
    sd = np.sqrt(
        (runs.sd_px * k) ** 2
        + _MODEL_SD_TIERS**2
        + (rel * t) ** 2
        + (_MODEL_SD_PER_M * length_m) ** 2
    )
    est[m] = np.clip(np.round(t[m]), 1.0, MAX_TIERS)  # whole tiers (shadow_m keeps the rest)
    # stacks are whole tiers: the interval's ends are the whole tiers inside it
    low[m] = np.clip(np.ceil(t[m] - _Z90 * sd[m] - 1e-9), 1.0, MAX_TIERS)
    high[m] = np.clip(np.floor(t[m] + _Z90 * sd[m] + 1e-9), 1.0, MAX_TIERS)
    low[m] = np.minimum(low[m], est[m])
    high[m] = np.maximum(high[m], est[m])
    source[m] = "shadow"
    basis[m] = "shadow"
    shadow_m[m] = length_m[m]
    reason[~m] = [REASONS[r] for r in runs.reason[~m]]
    unknown = np.isfinite(runs.length_px) & ~np.isfinite(base)
    reason[unknown] = "unknown_base"
    _fill_priors(est, low, high, basis, m, groups, region, steps)
    return Heights(est.astype(np.float32), low.astype(np.float32), high.astype(np.float32),
                   source, reason, shadow_m, basis)  # fmt: skip


def _fill_priors(est, low, high, basis, m, groups, region, steps) -> None:
    """Priors (in place; ``basis`` says which) for the stacks not measured (``m`` False),
    most specific first:

    1. a rail stack: :data:`RAIL_TIERS` (containers ride one high on flat wagons);
    2. a stack in a block (``groups``) with at least two measured stacks: their median and
       5-95 % range +-0.5 tier (a block is stacked to one level, give or take a tier; its
       anti-sun edge row is the one whose shadow reaches the ground);
    3. a stack off the deck that measured heights reach across ``steps``
       (:func:`~detector.detect.steps.chain_heights`), +-1 tier one step from a measured
       stack and :data:`STEP_HALF_WIDTH` a quarter tier more per further step (the misreads
       add up along a chain: dev seeds 82000, stepped stacks' 90 % cover 0.90 / 0.89 / 0.81
       at a fixed +-1, 0.92 / 0.92 / 0.87 so, 0.97 / 0.98 / 0.96 at half a tier more);
    4. else :data:`PRIOR_TIERS`, the stowage range.

    Tried and not adopted (docs/heights.md): one measured stack setting its
    block +-1 tier, and lone yard/quay stacks taking the scene's measured ones: MAE a wash,
    the flat world's shipments worse.
    """
    todo = ~m
    if region is not None:
        rail = todo & (np.asarray(region) == "rail")
        est[rail], low[rail], high[rail] = RAIL_TIERS
        basis[rail] = "rail"
        todo &= ~rail
    if groups is not None:
        for gid in np.unique(groups[todo]):
            ing = groups == gid
            vals = est[ing & m]
            if len(vals) >= 2:
                sel = ing & todo
                est[sel] = float(np.median(vals))
                low[sel] = max(1.0, float(np.quantile(vals, 0.05)) - 0.5)
                high[sel] = min(MAX_TIERS, float(np.quantile(vals, 0.95)) + 0.5)
                basis[sel] = "block"
                todo &= ~sel
    if steps is None or not len(steps) or not todo.any():
        return
    h, hops = chain_heights(m, est, steps)
    sel = todo & np.isfinite(h)
    if region is not None:
        sel &= np.asarray(region) != "deck"
    half = STEP_HALF_WIDTH[0] + STEP_HALF_WIDTH[1] * (hops[sel] - 1)
    est[sel] = np.clip(h[sel], 1.0, MAX_TIERS)
    low[sel] = np.clip(h[sel] - half, 1.0, MAX_TIERS)
    high[sel] = np.clip(h[sel] + half, 1.0, MAX_TIERS)
    basis[sel] = "step"
