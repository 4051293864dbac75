"""The oblique family's ground, water and light: what reaches the sensor.

Ground materials come from the noted areas (later notes cover earlier ones), varied by
smooth noise, with concrete slab joints and tyre tracks in some asphalt lanes. Water is a surface
of resolved wind waves (a sum of directional swells) whose slopes set a Fresnel reflection
of the sky (brighter towards the horizon) and a Cox-Munk sun glint, over a dark water body.

Light: direct sun on each surface's normal, shadowed by shadow mapping (a surface point is
in shade where the sun's view of the heights, :func:`.oblique_geom.sun_heights`, holds
something higher on its ray), softened by percentage-closer filtering over a penumbra that
grows with the occluder's height above the receiver; diffuse sky light reduced near tall
neighbours and on walls. Shade on water only removes the sun-lit part (body and glint); the
reflected sky stays, so shadows on water are weak as in real scenes. The atmosphere then
attenuates the signal, adds path radiance and mixes in the surroundings (adjacency).
"""

from __future__ import annotations

import cv2
import numpy as np

from .oblique_geom import CODES, GBuffer
from .oblique_look import GROUNDS, ObliqueLook, smooth_noise

__all__ = ["WATER", "ground_layer", "radiance", "sun_lean", "view_vector"]

_SUN = np.float32([1.0, 0.98, 0.95, 0.82])
_RAYLEIGH = np.float32([0.06, 0.11, 0.19, 0.02])
_AEROSOL = np.float32([0.9, 1.0, 1.1, 0.6])
_KINDS = tuple(GROUNDS)
_WATER = _KINDS.index("water")
#: The material index of open water in :func:`ground_layer`'s map.
WATER = _WATER


def sun_vector(look: ObliqueLook) -> np.ndarray:
    """Unit vector towards the sun (x east = right, y south = down, z up)."""
    el, az = np.radians(look.sun_elevation_deg), np.radians(look.sun_azimuth_deg)
    return np.array([np.sin(az) * np.cos(el), -np.cos(az) * np.cos(el), np.sin(el)])


def sun_lean(look: ObliqueLook, gsd_m: float) -> np.ndarray:
    """Render pixels per metre of height by which a point's shadow falls from it: away
    from the sun, 1 / tan(elevation) metres per metre."""
    az = np.radians(look.sun_azimuth_deg)
    toward = np.array([np.sin(az), -np.cos(az)])
    return -toward / np.tan(np.radians(look.sun_elevation_deg)) / float(gsd_m)


def view_vector(look: ObliqueLook, gsd_m: float) -> np.ndarray:
    """Unit vector towards the satellite; ``look.lean_px_per_m`` in pixels of ``gsd_m``."""
    lean = np.asarray(look.lean_px_per_m, float) * float(gsd_m)  # tan(off nadir) along lean
    v = np.array([-lean[0], -lean[1], 1.0])
    return v / np.linalg.norm(v)


def ground_layer(shape, ss: int, notes: list, look: ObliqueLook, rng, gsd_m: float):
    """(albedo float32 [H, W, 4], material uint8 [H, W] an index of
    :data:`.oblique_look.GROUNDS`) of the ground on the render grid (``ss`` times the
    layout grid ``shape``; ``gsd_m`` is the render GSD)."""
    from ..record import Ground

    kind = np.zeros(shape, np.uint8)
    for n in notes:
        if isinstance(n, Ground):
            n.paste(kind, _KINDS.index(n.kind) if n.kind in GROUNDS else 1)
    H, W = shape[0] * ss, shape[1] * ss  # noqa: N806
    if ss > 1:
        kind = cv2.resize(kind, (W, H), interpolation=cv2.INTER_NEAREST)
    base = np.float32([GROUNDS[k][0] for k in _KINDS])[kind]
    var = np.float32([GROUNDS[k][1] for k in _KINDS])[kind]
    g = float(gsd_m)
    mottle = 0.7 * smooth_noise(rng, (H, W), 25.0 / g, 3) + 0.3 * smooth_noise(rng, (H, W), 2 / g)
    alb = base * (1.0 + var * mottle)[..., None]
    theta = float(rng.uniform(0, np.pi))
    ys, xs = np.mgrid[0:H, 0:W].astype(np.float32)
    u = (xs * np.cos(theta) + ys * np.sin(theta)) * g
    v = (-xs * np.sin(theta) + ys * np.cos(theta)) * g
    slab = rng.uniform(5.0, 7.5)
    joint = (np.mod(u, slab) < 0.12) | (np.mod(v, slab) < 0.12)
    concrete = kind == _KINDS.index("concrete")
    alb[concrete & joint] *= 0.7
    tiles = (np.floor(u / slab) * 7.1 + np.floor(v / slab) * 3.3) % 1.0
    alb[concrete] *= (0.93 + 0.14 * tiles[concrete])[:, None]
    asphalt = kind == _KINDS.index("asphalt")
    # tyre tracks: polished wheel paths in the driving lanes, not across the whole yard
    tracks = np.clip(np.sin(v * 2 * np.pi / rng.uniform(3.0, 4.5)), 0, 1) ** 8
    lanes = np.clip(smooth_noise(rng, (H, W), 30.0 / g, 2) * 2.0, 0, 1)
    alb[asphalt] *= (1.0 + 0.2 * (tracks * lanes)[asphalt])[:, None]
    stains = smooth_noise(rng, (H, W), 1.5 / g, 2) > 1.1 - 0.3 * look.weathering
    alb[stains & ~(kind == _WATER)] *= 0.85
    alb *= look.ground_tint
    return np.clip(alb, 0.005, 0.9).astype(np.float32), kind


def _waves(rng, shape, gsd_m: float, wind_mps: float) -> np.ndarray:
    """float32 [H, W, 3] unit normals of a wind sea: a few directional swells 3-40 m long
    around the wind direction plus short choppy noise; slopes grow with the wind."""
    H, W = shape  # noqa: N806
    ys, xs = np.mgrid[0:H, 0:W].astype(np.float32) * np.float32(gsd_m)
    wind = rng.uniform(0, 2 * np.pi)
    sx, sy = np.zeros(shape, np.float32), np.zeros(shape, np.float32)
    rms = 0.04 + 0.015 * wind_mps
    for _ in range(6):
        lam = rng.uniform(3.0, 40.0)
        d = wind + rng.normal(0, 0.5)
        k = 2 * np.pi / lam
        ph = k * (xs * np.cos(d) + ys * np.sin(d)) + rng.uniform(0, 2 * np.pi)
        amp = rms * rng.uniform(0.3, 1.0) / np.sqrt(3.0)
        c = np.cos(ph).astype(np.float32) * np.float32(amp)
        sx += c * np.float32(np.cos(d))
        sy += c * np.float32(np.sin(d))
    sx += 0.5 * rms * smooth_noise(rng, shape, 1.5 / gsd_m, 2)
    sy += 0.5 * rms * smooth_noise(rng, shape, 1.5 / gsd_m, 2)
    n = np.stack([-sx, -sy, np.ones(shape, np.float32)], axis=-1)
    return n / np.linalg.norm(n, axis=-1, keepdims=True)


def _sample(img: np.ndarray, qx: np.ndarray, qy: np.ndarray) -> np.ndarray:
    qx, qy = qx.astype(np.float32, copy=False), qy.astype(np.float32, copy=False)
    return cv2.remap(img, qx, qy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _lit(gb: GBuffer, zsun: np.ndarray, lean, sun_px, look: ObliqueLook, gsd_m: float):
    """float32 [H, W] 0..1: the share of the sun's disc each seen point sees."""
    H, W = gb.z.shape  # noqa: N806
    ys, xs = np.mgrid[0:H, 0:W].astype(np.float32)
    step = (np.asarray(sun_px) - np.asarray(lean)).astype(np.float32)
    qx, qy = xs + gb.z * step[0], ys + gb.z * step[1]
    occ = np.maximum(_sample(zsun, qx, qy) - gb.z, 0.0)
    # the sun's disc is 0.53 degrees across: the penumbra widens 9.3 mm per metre of drop
    spread = 0.0093 / np.sin(np.radians(look.sun_elevation_deg)) / float(gsd_m)
    r = np.clip(0.45 + occ * spread, 0.45, 6.0).astype(np.float32)
    bias = 0.3
    lit = np.zeros((H, W), np.float32)
    taps = [(0.0, 0.0)] + [(np.cos(a), np.sin(a)) for a in np.linspace(0, 2 * np.pi, 8, False)]
    for ox, oy in taps:
        lit += _sample(zsun, qx + r * ox, qy + r * oy) <= gb.z + bias
    return lit / len(taps)


def radiance(gb: GBuffer, water: np.ndarray, zsun: np.ndarray, look: ObliqueLook,
             rng, gsd_m: float, sun_px: np.ndarray) -> np.ndarray:  # fmt: skip
    """float32 [H, W, 4] at-sensor radiance (relative units) of the seen scene."""
    s3 = sun_vector(look)
    v3 = view_vector(look, gsd_m)
    lean = np.asarray(look.lean_px_per_m, np.float32)
    mu_s = max(float(s3[2]), 0.05)
    tau = _RAYLEIGH + look.haze * _AEROSOL * 0.45
    e_dir = _SUN * np.exp(-tau / mu_s)
    e_sky = _SUN * mu_s * (1.2 * _RAYLEIGH + 0.5 * look.haze * _AEROSOL + 0.07)
    lit = _lit(gb, zsun, lean, sun_px, look, gsd_m)
    g = float(gsd_m)
    k = max(int(round(4.0 / g)) | 1, 3)
    around = cv2.blur(gb.z, (k, k))
    sky = np.clip(1.0 - 0.05 * np.maximum(around - gb.z, 0.0), 0.45, 1.0)
    sky = np.where(gb.nrm[..., 2] < 0.5, 0.5 * sky, sky)
    open_water = water & (gb.code == CODES["ground"])
    nrm = gb.nrm.copy()
    if open_water.any():
        nrm[open_water] = _waves(rng, gb.z.shape, g, look.wind_mps)[open_water]
    cos_i = np.clip(nrm @ s3.astype(np.float32), 0.0, 1.0)
    rad = gb.alb * (e_dir * (cos_i * lit)[..., None] + e_sky * sky[..., None]) / np.pi
    if open_water.any():
        n = nrm[open_water]
        cos_v = np.clip(n @ v3.astype(np.float32), 0.05, 1.0)
        fresnel = 0.02 + 0.98 * (1.0 - cos_v) ** 5
        h = (s3 + v3) / np.linalg.norm(s3 + v3)
        c = np.clip(n @ h.astype(np.float32), 0.05, 1.0)
        var = 0.003 + 0.0025 * look.wind_mps
        glint = 0.02 * np.exp(-(1 - c**2) / c**2 / var) / (np.pi * var * 4 * cos_v * c**4)
        body = gb.alb[open_water] * (e_dir * mu_s * lit[open_water, None] + e_sky) / np.pi
        r_up = np.clip(2 * cos_v * n[:, 2] - v3[2], 0.0, 1.0)  # reflected ray's sine of elevation
        refl = (fresnel * (1.0 + 3.0 * (1.0 - r_up)))[:, None] * e_sky * 1.4 / np.pi
        rad[open_water] = body + refl + (glint * lit[open_water])[:, None] * e_dir
    mu_v = float(v3[2])
    t_view = np.exp(-tau / mu_v)
    path = e_sky / np.pi * (0.35 + 1.5 * look.haze) / mu_v
    small = cv2.resize(rad, (max(rad.shape[1] // 16, 1), max(rad.shape[0] // 16, 1)),
                       interpolation=cv2.INTER_AREA)  # fmt: skip
    sig = max(30.0 / g / 16, 1.0)
    small = cv2.GaussianBlur(small, (0, 0), sig, borderType=cv2.BORDER_REFLECT)
    near = cv2.resize(small, (rad.shape[1], rad.shape[0]), interpolation=cv2.INTER_LINEAR)
    a = look.adjacency
    return (t_view * ((1 - a) * rad + a * near) + path).astype(np.float32)
