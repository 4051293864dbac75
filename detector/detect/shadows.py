"""Reading a scene's shadows: the I/O side of :mod:`detector.detect.heights`.

:func:`scene_heights` reads the model frame around the detections in blocks (one
:class:`~detector.imagery.reader.SceneReader` of its own, so it may run in the finishing
thread while the next scene is read), estimates the sun from the scene's own shadows, picks
the sun to use (metadata when the scene has an acquisition time, else the shadows) and
measures every detection's shadow. Blocks overlap by the longest shadow, so a box near a
block edge sees its whole shadow and its neighbours.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..detections import TIER_HEIGHT_M, Detections
from ..imagery.meta import View
from .heights import (
    MAX_SUN_ELEVATION_DEG,
    MIN_SUN_ELEVATION_DEG,
    WAGON_BED_M,
    Heights,
    ShadowRuns,
    box_labels,
    shadow_lengths_px,
    stack_heights,
    touching_groups,
)
from .steps import Steps, height_steps
from .sunfit import sun_from_shadows
from .view import lean_across, seen_elevation_deg, sun_from_seen, view_record

__all__ = ["SUN_DISAGREE_AZ_DEG", "SUN_DISAGREE_DEG", "SceneHeights", "scene_heights", "sun_record"]

#: Metadata and shadows disagreeing by more than this in elevation flag the scene ...
SUN_DISAGREE_DEG = 5.0
#: ... or by more than this in azimuth: the shadows' azimuth is 15-70 deg off on most
#: synthetic test scenes whose metadata is right (docs/heights.md), so only a sun on the wrong side
#: is evidence against the metadata (a 5-deg rule on both flagged 6 of the 7 test scenes
#: with a shadow estimate; this one flags 2, whose shadow elevation is 12 and 16 deg off).
SUN_DISAGREE_AZ_DEG = 90.0
#: Off nadir, with the satellite on the sun's side, the tops cover their own shadows: seen
#: steeper than this (a single tier's shadow under ~1.5 px at 0.3 m), heights are a prior.
MAX_SEEN_ELEVATION_DEG = 80.0
_BLOCK_PX = 1024  # model-frame px a side: ~25 MB of image read at once
_SUN_BLOCKS = 4  # blocks whose shadows calibrate the sun (densest first)
_TALLEST_TIERS = 4.5  # the longest shadow looked for: 4 tiers and a margin


@dataclass(frozen=True)
class SceneHeights:
    """``heights`` per detection and ``sun`` the counts.json record (:func:`sun_record`)."""

    heights: Heights
    sun: dict


def _gray(image: np.ndarray) -> np.ndarray:
    return image.mean(axis=0).astype(np.float32)


def _angle_diff(a: float, b: float) -> float:
    return abs((a - b + 180.0) % 360.0 - 180.0)


def sun_record(meta: dict | None, est, view: View | None = None) -> dict:
    """The ``sun`` entry of counts.json: the sun used (``elevation_deg``, ``azimuth_deg``,
    ``source`` metadata|shadows|none), and both estimates when available (``metadata``,
    ``shadows``: with the single-tier boxes it rests on) and ``disagree`` (True when they
    differ by more than :data:`SUN_DISAGREE_DEG` in elevation or
    :data:`SUN_DISAGREE_AZ_DEG` in azimuth). ``view``: the satellite's direction from the
    product's tags (``view``, None: taken as nadir); with it the shadows' sun is the sun
    (:func:`~detector.detect.view.sun_from_seen`) and ``shadows.as_seen`` what the tops'
    shadows give before the view is taken out."""
    shadows = None
    if est is not None and math.isfinite(est.elevation_deg):
        el, az = sun_from_seen(est.elevation_deg, est.azimuth_deg, view)
        shadows = {
            "elevation_deg": round(el, 2),
            "azimuth_deg": round(az, 2),
            "single_tier_boxes": est.single_tier,
            "boxes_measured": est.boxes,
        }
        if view is not None:
            shadows["as_seen"] = {"elevation_deg": round(est.elevation_deg, 2),
                                  "azimuth_deg": round(est.azimuth_deg, 2)}  # fmt: skip
    rec: dict = {"metadata": None, "shadows": shadows, "disagree": None, "view": view_record(view)}
    if meta is not None:
        rec["metadata"] = {k: round(float(meta[k]), 2) for k in ("elevation_deg", "azimuth_deg")}
        rec.update(elevation_deg=rec["metadata"]["elevation_deg"],
                   azimuth_deg=rec["metadata"]["azimuth_deg"], source="metadata")  # fmt: skip
        if shadows is not None:
            d_el = abs(shadows["elevation_deg"] - rec["metadata"]["elevation_deg"])
            d_az = _angle_diff(shadows["azimuth_deg"], rec["metadata"]["azimuth_deg"])
            rec["disagree"] = bool(d_el > SUN_DISAGREE_DEG or d_az > SUN_DISAGREE_AZ_DEG)
            rec["difference_deg"] = {"elevation": round(d_el, 2), "azimuth": round(d_az, 2)}
    elif shadows is not None:
        rec.update(elevation_deg=shadows["elevation_deg"], azimuth_deg=shadows["azimuth_deg"],
                   source="shadows")  # fmt: skip
    else:
        rec.update(elevation_deg=None, azimuth_deg=None, source="none")
    return rec


def _blocks(dets: Detections, height: int, width: int, pad: int):
    """(r0, c0, r1, c1) padded read windows and the detections whose centre is in each."""
    rows = np.clip(dets.cy // _BLOCK_PX, 0, None).astype(np.int64)
    cols = np.clip(dets.cx // _BLOCK_PX, 0, None).astype(np.int64)
    for br, bc in sorted(set(zip(rows.tolist(), cols.tolist(), strict=True))):
        own = np.nonzero((rows == br) & (cols == bc))[0]
        r0, c0 = br * _BLOCK_PX - pad, bc * _BLOCK_PX - pad
        r1 = min((br + 1) * _BLOCK_PX, height) + pad
        c1 = min((bc + 1) * _BLOCK_PX, width) + pad
        yield (r0, c0, r1, c1), own


def scene_heights(
    scene,
    grid,
    dets: Detections,
    sun_meta: dict | None,
    region: np.ndarray | None = None,
    blockers: Detections | None = None,
    view: View | None = None,
) -> SceneHeights:
    """Heights of ``dets`` (pixels of ``grid``, the model frame) in ``scene`` under the sun
    from ``sun_meta`` (``{"elevation_deg", "azimuth_deg"}`` from the acquisition time; None
    when unknown, then the sun from the shadows is used). ``region`` [N] (deck|quay|yard|
    rail): a rail stack stands on a wagon bed (:data:`WAGON_BED_M` above the ground its
    shadow falls on), a deck stack's shadow falls on a surface of unknown level (a prior).
    ``blockers``: boxes that are not measured but end a shadow that reaches them (the
    detector's peaks under its threshold: most are containers it was unsure of). ``view``:
    the satellite's direction (the scene's tags); off nadir a top is seen away from its base,
    and the metadata's sun is turned into the elevation its shadows are seen at from the
    tops (:mod:`detector.detect.view`); None: taken as nadir."""
    from ..imagery.reader import SceneReader
    from ..imagery.tiling import Window

    gsd = float(grid.gsd_m)
    n = len(dets)
    if n == 0:
        empty = stack_heights(None, n=0, gsd_m=gsd, elevation_deg=None)
        return SceneHeights(empty, sun_record(sun_meta, None, view))
    seen_meta = None
    if sun_meta is not None:
        seen_meta = seen_elevation_deg(float(sun_meta["elevation_deg"]),
                                       float(sun_meta["azimuth_deg"]), view)  # fmt: skip
    # blocks overlap by the longest shadow looked for: at the metadata's sun, else the lowest
    lowest = MIN_SUN_ELEVATION_DEG
    if seen_meta is not None and seen_meta > lowest:
        lowest = max(lowest, min(seen_meta, MAX_SUN_ELEVATION_DEG) - 5)
    reach_lo = _TALLEST_TIERS * TIER_HEIGHT_M / math.tan(math.radians(lowest))
    pad = int(min(reach_lo / gsd, 200)) + 8
    length = np.full(n, np.nan)
    sd = np.full(n, np.nan)
    reason = np.zeros(n, np.int8)
    profiles = np.zeros(n, np.int16)
    with SceneReader(scene, target_gsd_m=gsd) as reader:
        blocks = list(_blocks(dets, grid.height, grid.width, pad))
        blocks.sort(key=lambda b: -len(b[1]))

        def near(boxes: Detections, window) -> np.ndarray:
            r0, c0, r1, c1 = window
            return np.nonzero(
                (boxes.cx >= c0 - 20) & (boxes.cx < c1 + 20) & (boxes.cy >= r0 - 20)
                & (boxes.cy < r1 + 20)
            )[0]  # fmt: skip

        def patch(window, own, blocking: bool):
            """The block's image and boxes; ``blocking``: its label raster with the blockers
            drawn under the boxes (the heights'), else without (the sun fit's)."""
            r0, c0, r1, c1 = window
            tile = reader.read(Window(col_off=c0, row_off=r0, width=c1 - c0, height=r1 - r0))
            local_idx = near(dets, window)
            local = dets.select(local_idx).shifted(-c0, -r0)
            gray = _gray(tile.image)
            lab = box_labels(local, gray.shape, under=under(window) if blocking else None)
            return gray, tile.valid, local, lab, np.searchsorted(local_idx, own)

        def under(window) -> Detections | None:
            if blockers is None or not len(blockers):
                return None
            return blockers.select(near(blockers, window)).shifted(-window[1], -window[0])

        # the densest blocks calibrate the sun: azimuth from the first, lengths from all
        # (without the blockers: the comb fit shrugs off a few short shadows, and fewer
        # measured boxes would leave more scenes without a sun from their shadows)
        first = [patch(w, own, False) for w, own in blocks[:_SUN_BLOCKS]]
        g0, v0, d0, lab0, _ = first[0]
        steps: list[Steps] = []
        est = sun_from_shadows(g0, v0, d0, gsd_m=gsd, labels=lab0, more=tuple(first[1:]))
        sun = sun_record(sun_meta, est, view)
        # the sun the tops' shadows are seen at: the metadata's through the view, or the
        # shadows' own as seen (what the heights need, whatever the view)
        elev, az = sun["elevation_deg"], sun["azimuth_deg"]
        if sun["source"] == "metadata" and view is not None:
            elev = round(seen_meta, 2)
        elif sun["source"] == "shadows" and view is not None:
            elev, az = (
                sun["shadows"]["as_seen"]["elevation_deg"],
                sun["shadows"]["as_seen"]["azimuth_deg"],
            )
        sun["seen_elevation_deg"] = elev
        # the sun's own elevation decides, as at nadir (the dev scene at 69 deg seen at 72
        # read well); tops hiding most of their shadows do not
        sun_el = sun["elevation_deg"]
        sun_ok = sun_el is not None and MIN_SUN_ELEVATION_DEG <= sun_el <= MAX_SUN_ELEVATION_DEG
        usable = sun_ok and elev <= MAX_SEEN_ELEVATION_DEG
        if not sun_ok:  # the prior's reason is the sun's (high_sun, low_sun, no_sun)
            elev = sun_el
        for k, (window, own) in enumerate(blocks if usable else ()):
            if k < len(first):
                gray, valid, local, lab, pos = first[k]
                first[k] = None  # free it once used
                if (u := under(window)) is not None:  # the sun fit's raster, blockers added
                    lab = box_labels(local, lab.shape, under=u)
            else:
                gray, valid, local, lab, pos = patch(window, own, True)
            max_px = _TALLEST_TIERS * TIER_HEIGHT_M / math.tan(math.radians(elev)) / gsd
            runs = shadow_lengths_px(
                gray, valid, local, azimuth_deg=az, max_px=max_px, measure=pos, labels=lab
            )
            length[own], sd[own] = runs.length_px, runs.sd_px
            reason[own], profiles[own] = runs.reason, runs.profiles
            st = height_steps(gray, local, lab, azimuth_deg=az, elevation_deg=elev, gsd_m=gsd,
                              measure=pos[runs.reason == 1])  # fmt: skip
            glob = near(dets, window)  # local box k is dets[glob[k]]
            steps.append(Steps(glob[st.higher], glob[st.lower], st.tiers))
    groups = touching_groups(dets, gap_px=max(0.5, 0.4 / gsd))  # a block: 0.4 m apart
    base = np.zeros(n)
    if region is not None:
        region = np.asarray(region)
        base[region == "rail"] = WAGON_BED_M
        base[region == "deck"] = np.nan
    chain = Steps.concat(steps)
    if region is not None:  # a deck's level is unknown: no chain onto or off it
        off = (region[chain.higher] != "deck") & (region[chain.lower] != "deck")
        chain = Steps(chain.higher[off], chain.lower[off], chain.tiers[off])
    heights = stack_heights(
        ShadowRuns(length, sd, reason, profiles), n=n, gsd_m=gsd, elevation_deg=elev,
        groups=groups, base_m=base, region=region, steps=chain,
        max_elevation_deg=MAX_SEEN_ELEVATION_DEG if sun_ok else MAX_SUN_ELEVATION_DEG,
        lean_across=lean_across(view, az),
    )  # fmt: skip
    return SceneHeights(heights, sun)
