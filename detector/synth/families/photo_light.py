"""The photo family's light: soft sun shadows with a penumbra, sky-light fill with ambient
occlusion, and sun glint on water.

Sun visibility is computed on the nadir height maps by a horizon scan along the sun's
direction: the maps are rotated so that the sun lies to the left, then one pass over the
columns carries, for each row, the height of the steepest sun ray that has cleared the
solid surfaces so far (``max(previous height, carried) - drop`` per pixel) and its distance
from the last caster, plus the span of the last part hanging in the air (crane beams, booms)
shifted down the same way (a span seen next joins it where they touch, else replaces it).
A receiver's excess ``e`` over the central ray at distance ``t``
is an angle ``e cos^2(el) / (t gsd)``; the visible fraction of a sun disk of angular size
``spread`` follows linearly, so shadows of tall things (masts, cranes) get wide penumbrae
and those of a container almost none. Sky light is occluded where the surface is lower than
its surroundings (box means of the height at two radii): dark gaps between stacks, darker
ground at their bases.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["sky_visibility", "sun_visibility"]


def sun_visibility(
    solid_m: np.ndarray,
    float_lo: np.ndarray,
    float_hi: np.ndarray,
    gsd_m: float,
    elevation_deg: float,
    azimuth_deg: float,
    spread_rad: float,
) -> np.ndarray:
    """float32 [H, W] 0..1: the fraction of the sun's disk seen from each surface of the
    nadir height map ``solid_m`` (see the module docstring); ``float_lo``/``float_hi`` the
    span of hanging parts (inf/-inf where none)."""
    h, w = solid_m.shape
    has_float = bool(np.isfinite(float_lo).any())
    if float(solid_m.max()) <= 0.05 and not has_float:
        return np.ones((h, w), np.float32)
    el = np.radians(max(elevation_deg, 3.0))
    drop = np.float32(gsd_m * np.tan(el))
    k = np.float32(np.cos(el) ** 2 / (gsd_m * max(spread_rad, 1e-4)))
    az = np.radians(azimuth_deg)
    # rotate so that the direction towards the sun, (sin az, -cos az), points to -x
    ang = np.degrees(np.arctan2(-np.cos(az), np.sin(az))) + 180.0
    m = cv2.getRotationMatrix2D((w / 2, h / 2), ang, 1.0)
    cos_, sin_ = abs(m[0, 0]), abs(m[0, 1])
    big_w, big_h = int(np.ceil(h * sin_ + w * cos_)) + 2, int(np.ceil(h * cos_ + w * sin_)) + 2
    m[0, 2] += big_w / 2 - w / 2
    m[1, 2] += big_h / 2 - h / 2
    flags = cv2.INTER_NEAREST

    def fwd(a, fill):
        return cv2.warpAffine(a, m, (big_w, big_h), flags=flags, borderValue=fill)

    hr = fwd(solid_m.astype(np.float32), 0.0)
    lo_r = fwd(np.where(np.isfinite(float_lo), float_lo, -1.0).astype(np.float32), -1.0)
    hi_r = fwd(np.where(np.isfinite(float_hi), float_hi, -1.0).astype(np.float32), -1.0)
    vis = np.ones((big_h, big_w), np.float32)
    ray = np.full(big_h, -1e6, np.float32)
    dist = np.ones(big_h, np.float32)
    flo = np.full(big_h, -1e6, np.float32)
    fhi = np.full(big_h, -1e6, np.float32)
    fdist = np.ones(big_h, np.float32)
    half = np.float32(0.5)
    for j in range(big_w):
        col = hr[:, j]
        e = ray - col
        vs = np.clip(half - e * k / dist, 0, 1)
        # hanging span [flo, fhi] hides the part of the disk between its two angles
        a0 = (flo - col) * k / fdist
        a1 = (fhi - col) * k / fdist
        cover = np.clip(np.minimum(a1, half) - np.maximum(a0, -half), 0, 1)
        vis[:, j] = vs * (1 - cover)
        up = col >= ray
        ray = np.where(up, col, ray) - drop
        dist = np.where(up, 1.0, dist + 1.0).astype(np.float32)
        new = hi_r[:, j] > 0
        if has_float and new.any():  # a new span joins the carried one if they touch
            nlo, nhi = lo_r[:, j], hi_r[:, j]
            join = new & (nlo <= fhi + drop) & (nhi >= flo - drop)
            flo = np.where(join, np.minimum(flo, nlo), np.where(new, nlo, flo))
            fhi = np.where(join, np.maximum(fhi, nhi), np.where(new, nhi, fhi))
        flo = flo - drop
        fhi = fhi - drop
        fdist = np.where(new, 1.0, fdist + 1.0).astype(np.float32)
    back = cv2.warpAffine(
        vis, m, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REPLICATE,
    )  # fmt: skip
    return np.clip(back, 0, 1)


def sky_visibility(solid_m: np.ndarray, gsd_m: float, strength: float) -> np.ndarray:
    """float32 [H, W] 0..1: sky light reaching each surface; lower than its surroundings
    within ~1.5 m and ~5 m means occluded (ambient occlusion)."""
    h = solid_m.astype(np.float32)
    occ = np.zeros_like(h)
    for r_m, wgt in ((1.5, 0.6), (5.0, 0.4)):
        r = max(int(round(r_m / gsd_m)), 1)
        mean = cv2.blur(h, (2 * r + 1, 2 * r + 1), borderType=cv2.BORDER_REPLICATE)
        occ += np.float32(wgt) * np.clip((mean - h) / np.float32(2.0 * r_m), 0, 1)
    return np.clip(1.0 - np.float32(strength) * 2.0 * occ, 0.25, 1.0)
