"""Height steps between touching stacks (detect.steps): a row of stacks drawn as a height
field under a known sun, its shadows cast on the ground and on lower tops by ray marching
towards the sun; the steps read from it, and heights carried from the one stack whose
shadow reaches the ground."""

from __future__ import annotations

import math

import numpy as np
import pytest

from detector.detect.heights import box_labels, shadow_lengths_px, stack_heights
from detector.detect.steps import Steps, chain_heights, height_steps
from detector.detections import TIER_HEIGHT_M, Detections

GSD = 0.4
SS = 4  # samples per pixel side


def scene(tiers, *, elev, az=0.0, ends=False, shape=(120, 120), top=0.8, ground=0.55,
          ambient=0.4):  # fmt: skip
    """A row of 20 ft tops touching along y with 0.3 m gaps, side by side (long axis along
    x) or end to end (``ends``), the first at the north; ``tiers`` per top. gray float32
    [H, W] (height field shaded by marching each sample towards the sun), valid,
    Detections."""
    import cv2

    h, w = shape
    n = len(tiers)
    wd, ln, gap = 2.44 / GSD, 6.06 / GSD, 0.3 / GSD
    step = (ln if ends else wd) + gap
    cy = h / 2 - n * step / 2 + step / 2 + np.arange(n) * step
    dets = Detections(np.full(n, w / 2), cy, np.full(n, ln), np.full(n, wd),
                      np.full(n, math.pi / 2 if ends else 0.0), np.zeros(n), np.ones(n),
                      np.ones(n))  # fmt: skip
    z = np.zeros((h * SS, w * SS), np.float32)  # metres
    corners = np.round(dets.corners() * SS * 16 - 8).astype(np.int32)
    for k in range(n):
        cv2.fillConvexPoly(z, corners[k], float(tiers[k] * TIER_HEIGHT_M), shift=4)
    ux, uy = -math.sin(math.radians(az)), math.cos(math.radians(az))  # anti-sun
    yy, xx = np.mgrid[0 : h * SS, 0 : w * SS].astype(np.float32)
    rise = math.tan(math.radians(elev)) * GSD / SS  # metres per sample along the ray
    dark = np.zeros_like(z, bool)
    for s in range(1, int(4.5 * TIER_HEIGHT_M / rise) + 2):  # towards the sun
        qy = np.clip(np.round(yy - s * uy), 0, h * SS - 1).astype(np.int64)
        qx = np.clip(np.round(xx - s * ux), 0, w * SS - 1).astype(np.int64)
        dark |= z[qy, qx] > z + s * rise
    img = np.where(z > 0, top, ground).astype(np.float32)
    img[dark] *= ambient
    img = img.reshape(h, SS, w, SS).mean(axis=(1, 3))
    img += np.random.default_rng(0).normal(0, 0.01, shape).astype(np.float32)
    img = cv2.GaussianBlur(img, (0, 0), 0.6)
    return img, np.ones(shape, bool), dets


def read(tiers, elev, ends=False):
    gray, valid, dets = scene(tiers, elev=elev, ends=ends, shape=(160, 120) if ends else (120, 120))
    lab = box_labels(dets, gray.shape)
    max_px = 4.5 * TIER_HEIGHT_M / math.tan(math.radians(elev)) / GSD
    runs = shadow_lengths_px(gray, valid, dets, azimuth_deg=0.0, max_px=max_px, labels=lab)
    steps = height_steps(gray, dets, lab, azimuth_deg=0.0, elevation_deg=elev, gsd_m=GSD,
                         measure=np.nonzero(runs.reason == 1)[0])  # fmt: skip
    return runs, steps, len(dets)


def as_set(steps: Steps) -> set[tuple[int, int, int]]:
    return set(zip(steps.higher.tolist(), steps.lower.tolist(), steps.tiers.tolist(),
                   strict=True))  # fmt: skip


@pytest.mark.parametrize("elev,ends", [(55.0, False), (60.0, False), (35.0, True),
                                       (50.0, True)])  # fmt: skip
def test_steps_read_from_the_shadow_on_the_lower_top(elev, ends):
    # north to south (the sun in the north): 3, 2, 2, 1; only the last casts on the ground
    runs, steps, n = read([3, 2, 2, 1], elev, ends)
    assert runs.reason.tolist() == [1, 1, 1, 0]  # the first three occluded
    assert as_set(steps) == {(0, 1, 1), (1, 2, 0), (2, 3, 1)}


def test_what_a_step_cannot_read():
    # side by side at 45 deg one tier's shadow (2.59 m) covers the whole lower top (2.44 m
    # across the sun): it has no lit level to compare with, and a level one might be all in
    # such a shadow too: nothing is read
    runs, steps, n = read([3, 2, 2, 1], 45.0)
    assert as_set(steps) == set()
    # at 65 deg one tier's shadow is 1.2 m, 0.9 m of it on the lower top past the 0.3 m
    # gap, ~2 px: at the edge of what 1-2 px in can read; a step may read as level, but
    # none is invented and each pair is read once
    for elev in (65.0, 67.0, 69.0):
        runs, steps, n = read([3, 2, 2, 1], elev)
        got = as_set(steps)
        assert got <= {(0, 1, 1), (0, 1, 0), (1, 2, 0), (2, 3, 1), (2, 3, 0)}
        assert len(got) == 3


def test_a_two_tier_step_and_a_stack_lower_than_its_neighbour():
    runs, steps, n = read([4, 2, 3], 60.0, ends=True)
    # 4 over 2: two tiers; 2 beside 3 leaves the 3's top lit: read as level (no trace)
    assert as_set(steps) == {(0, 1, 2), (1, 2, 0)}


def test_heights_carried_from_the_measured_stack():
    elev = 60.0
    runs, steps, n = read([3, 2, 2, 1], elev)
    h = stack_heights(runs, n=n, gsd_m=GSD, elevation_deg=elev, steps=steps)
    assert h.tiers_est.tolist() == [3.0, 2.0, 2.0, 1.0]
    assert h.source.tolist() == ["prior", "prior", "prior", "shadow"]
    # +-1 tier one step from the measured stack, a quarter tier more per further step
    assert h.tiers_low.tolist() == [1.5, 1.0, 1.0, 1.0]
    assert h.tiers_high.tolist() == [4.0, 3.25, 3.0, 1.0]
    # without the steps the occluded three get the stowage range
    h0 = stack_heights(runs, n=n, gsd_m=GSD, elevation_deg=elev)
    assert h0.tiers_est.tolist() == [2.5, 2.5, 2.5, 1.0]
    # never onto a deck: its level is unknown
    region = np.array(["yard", "deck", "yard", "yard"])
    h2 = stack_heights(runs, n=n, gsd_m=GSD, elevation_deg=elev, steps=steps, region=region)
    assert h2.tiers_est.tolist()[1] == 2.5


def test_chain_heights_nearest_anchor_first_and_unreached_nan():
    steps = Steps(np.array([0, 1, 3]), np.array([1, 2, 4]), np.array([1, 0, 2]))
    anchor = np.array([False, False, True, False, False, False])
    h, hops = chain_heights(anchor, np.array([0, 0, 2, 0, 0, 0.0]), steps)
    assert h[:3].tolist() == [3.0, 2.0, 2.0]
    assert np.isnan(h[3:]).all()
    assert hops.tolist() == [2, 1, 0, 0, 0, 0]


def test_no_steps_without_a_neighbour_or_boxes():
    gray, valid, dets = scene([2], elev=60.0)
    lab = box_labels(dets, gray.shape)
    st = height_steps(gray, dets, lab, azimuth_deg=0.0, elevation_deg=60.0, gsd_m=GSD,
                      measure=np.array([0]))  # fmt: skip
    assert len(st) == 0
