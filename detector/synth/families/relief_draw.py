"""The relief family's drawing: a height field lit and seen as terrain is.

The layout is first burnt into maps on the ground grid (nadir): height (metres above the
ground/water line, the highest part wins), four-band reflectance, and what each pixel is
(ground, hull, bridge, container, other). Light comes from the height field alone: normals
from its slopes (roof camber and the 1-px rims at every edge shade with the sun), a horizon
march towards the sun for shadows whose penumbra widens with the caster's distance, and sky
light dimmed where the pixel sits below its surroundings. The view is a sweep of the
columns upward one pixel of lean at a time, so that walls facing the satellite show, lit by
the sun when they face it and darker towards their foot, and higher roofs hide lower ones.
Nothing here calls another family's drawing or the classic textures.

Frame: render pixels, x right, y down; north up, azimuth clockwise from north.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from ...detections import TIER_HEIGHT_M, Detections
from ..record import Ground, Part, box_part, segment_part
from .relief_look import ReliefLook, material_spectrum, part_spectrum

__all__ = ["KINDS", "ReliefMaps", "burn", "crane_parts", "light", "noise_field", "view"]

#: What a pixel is, by code.
KINDS = ("ground", "hull", "bridge", "container", "other")
_SHRINK_PX = 0.95  # as the other families: a box's filled area equals its true area on average


@dataclass
class ReliefMaps:
    """Nadir maps [H, W]: ``height`` float32 m, ``refl`` float32 [H, W, 4], ``kind`` uint8
    code of :data:`KINDS`, ``water`` bool; ``tops`` the containers (render pixels, at their
    feet) and ``top_m`` their roofs' heights."""

    height: np.ndarray
    refl: np.ndarray
    kind: np.ndarray
    water: np.ndarray
    tops: Detections
    top_m: np.ndarray


def noise_field(rng: np.random.Generator, shape, cell_px: float, octaves: int = 3) -> np.ndarray:
    """Smooth noise, mean 0, sd ~1: bicubic-upsampled random grids, each octave half the
    cell and half the weight."""
    h, w = shape
    out = np.zeros(shape, np.float32)
    amp, cell, tot = 1.0, max(float(cell_px), 2.0), 0.0
    for _ in range(octaves):
        gh, gw = int(h / cell) + 3, int(w / cell) + 3
        grid = rng.normal(0, 1, (gh, gw)).astype(np.float32)
        big = cv2.resize(grid, (int(gw * cell), int(gh * cell)), interpolation=cv2.INTER_CUBIC)
        out += amp * big[:h, :w]
        tot += amp * amp
        amp, cell = amp * 0.5, max(cell / 2, 2.0)
    return out / np.float32(np.sqrt(tot))


def _window(shape, poly: np.ndarray) -> tuple[slice, slice, np.ndarray] | None:
    """(rows, cols, mask) of the convex polygon ``poly`` (x, y render pixels) inside its
    bounding box clipped to ``shape``; None if it misses the frame."""
    h, w = shape
    x0, y0 = np.floor(poly.min(axis=0)).astype(int) - 1
    x1, y1 = np.ceil(poly.max(axis=0)).astype(int) + 1
    xa, ya, xb, yb = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if xb <= xa or yb <= ya:
        return None
    m = np.zeros((yb - ya, xb - xa), np.uint8)
    pts = np.round((np.asarray(poly, np.float64) - (xa, ya) - 0.5) * 16).astype(np.int32)
    cv2.fillConvexPoly(m, pts, 1, lineType=cv2.LINE_8, shift=4)
    return slice(ya, yb), slice(xa, xb), m > 0


def crane_parts(cranes: list, gsd_m: float) -> list[Part]:
    """Prisms of the composer's cranes, (cx, cy, angle, span_m, kind) each: a gantry
    crane's two girders 15-17 m up across its span; a quay crane's boom 40-44 m up, 70 %
    of it seawards, and its machinery house hanging under the boom's landward end."""
    out = []
    for cx, cy, ang, span, kind in cranes:
        c, s = np.cos(ang), np.sin(ang)
        if kind == "rtg":
            half = span / 2 / gsd_m
            for k in (-3.0, 3.0):
                ox, oy = c * k / gsd_m, s * k / gsd_m
                a, b = (
                    (cx + ox - s * half, cy + oy + c * half),
                    (cx + ox + s * half, cy + oy - c * half),
                )
                out.append(segment_part("crane:beam", a, b, 1.0 / gsd_m, 17.0, 15.0))
        else:
            boom = span / gsd_m
            a = (cx - c * boom * 0.3, cy - s * boom * 0.3)
            b = (cx + c * boom * 0.7, cy + s * boom * 0.7)
            out.append(segment_part("crane:boom", a, b, 2.5 / gsd_m, 44.0, 40.0))
            mx, my = cx - c * boom * 0.22, cy - s * boom * 0.22
            out.append(box_part("crane:machinery", mx, my, 12 / gsd_m, 9 / gsd_m, ang, 40.0, 34.0))
    return out


def _code(kind: str) -> int:
    if kind == "ship:hull":
        return 1
    if kind in ("ship:bridge", "ship:wings"):
        return 2
    return 4


def burn(shape, gsd_m: float, notes: list, blocks: list, look: ReliefLook,
         rng: np.random.Generator, extra: list | None = None) -> ReliefMaps:  # fmt: skip
    """The nadir maps of a noted layout (see :class:`ReliefMaps`) and ``extra`` parts."""
    h, w = shape
    g = float(gsd_m)
    refl = np.zeros((h, w, 4), np.float32)
    water = np.zeros((h, w), bool)
    slab = noise_field(rng, shape, 25.0 / g)  # large-scale soiling of every ground surface
    for item in notes:
        if isinstance(item, Ground):
            item.paste(refl, material_spectrum(item.kind, rng))
            if item.kind == "water":
                item.paste(water, True)
    grain = noise_field(rng, shape, 2.0 / g, octaves=2)  # and fine grain
    refl *= np.exp(0.08 * slab + 0.04 * grain)[..., None]
    height = np.zeros(shape, np.float32)
    kind = np.zeros(shape, np.uint8)
    parts = [p for p in notes if isinstance(p, Part)] + list(extra or [])
    memo: dict = {}
    for p in sorted(parts, key=lambda q: q.top_m):
        spec = part_spectrum(p.kind, rng, memo) * np.float32(rng.uniform(0.9, 1.1))
        win = _window(shape, p.poly_xy)
        if win is None:
            continue
        r, c, m = win
        sel = m & (height[r, c] <= p.top_m)
        height[r, c][sel], refl[r, c][sel], kind[r, c][sel] = p.top_m, spec, _code(p.kind)
    kept = [b for b in blocks if len(b.tops)]
    tops = Detections.concat([b.tops for b in kept]) if kept else Detections.empty()
    top_m = np.zeros(0)
    if kept:
        base = np.concatenate([b.base_m for b in kept]).astype(np.float64)
        top_m = base + tops.tiers * TIER_HEIGHT_M
        corners = _shrunk(tops).corners()
        paints = look.paints
        line = paints[rng.integers(len(paints))]
        ids = np.zeros(shape, np.int32)
        for i in np.argsort(top_m, kind="stable"):
            spec = line if rng.random() < 0.3 else paints[rng.integers(len(paints))]
            spec = spec * np.float32(rng.uniform(0.85, 1.12))
            win = _window(shape, corners[i])
            if win is None:
                continue
            r, c, m = win
            sel = m & (height[r, c] <= top_m[i] + 1e-3)
            height[r, c][sel], refl[r, c][sel], kind[r, c][sel], ids[r, c][sel] = (
                top_m[i],
                spec,
                3,
                i + 1,
            )
        if look.camber_m > 0:  # roofs bulge: highest along the middle, seams at the edges
            edge = np.ones(shape, np.uint8)
            edge[:, 1:][ids[:, 1:] != ids[:, :-1]] = 0
            edge[1:, :][ids[1:, :] != ids[:-1, :]] = 0
            dist = cv2.distanceTransform(edge, cv2.DIST_L2, 3) * np.float32(g)
            bulge = look.camber_m * np.minimum(dist / 1.2, 1.0)
            height += np.where(ids > 0, bulge, 0).astype(np.float32)
        rust = noise_field(rng, shape, 1.5 / g, octaves=2)
        dirty = (ids > 0) & (rust > rng.uniform(1.0, 2.5))
        refl[dirty] *= np.float32([0.7, 0.75, 0.95, 0.9])
    return ReliefMaps(height, np.clip(refl, 0.005, 0.95), kind, water & (kind == 0), tops, top_m)


def _shrunk(tops: Detections) -> Detections:
    return replace(tops, length_px=np.maximum(tops.length_px - _SHRINK_PX, 0.3),
                   width_px=np.maximum(tops.width_px - _SHRINK_PX, 0.3))  # fmt: skip


def _sun_vec(look: ReliefLook) -> np.ndarray:
    el, az = np.radians(look.sun_elevation_deg), np.radians(look.sun_azimuth_deg)
    return np.array([np.sin(az) * np.cos(el), -np.cos(az) * np.cos(el), np.sin(el)])


def _shift(img: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """``img`` sampled at (x + dx, y + dy), edges repeated."""
    m = np.float32([[1, 0, dx], [0, 1, dy]])
    return cv2.warpAffine(img, m, img.shape[1::-1], flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REPLICATE)  # fmt: skip


def sun_visibility(height: np.ndarray, gsd_m: float, look: ReliefLook) -> np.ndarray:
    """0..1 [H, W]: how much of the sun a pixel sees. A march towards the sun: at distance
    d (px) a point higher than the ray by more than the penumbra's half width at d blocks
    the sun; the step grows with d (1 px up to 24, then 2, 4, 8)."""
    s = _sun_vec(look)
    el = np.radians(look.sun_elevation_deg)
    ux, uy = s[0] / np.hypot(s[0], s[1]), s[1] / np.hypot(s[0], s[1])
    rise = np.float32(gsd_m * np.tan(el))  # m a ray climbs per px
    reach = float(height.max() - height.min()) / float(rise)
    reach = min(reach, 1.5 * max(height.shape))
    slack = np.full(height.shape, np.inf, np.float32)
    d = 1.0
    while d <= reach + 1:
        ahead = _shift(height, ux * d, uy * d)
        width = np.float32(max(d * gsd_m * look.penumbra, 0.15))
        slack = np.minimum(slack, (height + d * rise - ahead) / width)
        d += 1.0 if d < 24 else 2.0 if d < 64 else 4.0 if d < 160 else 8.0
    return np.clip(0.5 + 0.5 * slack, 0.0, 1.0).astype(np.float32)


def light(maps: ReliefMaps, gsd_m: float, look: ReliefLook) -> tuple[np.ndarray, np.ndarray]:
    """(radiance of the tops [H, W, 4], sun visibility [H, W]) on the nadir grid."""
    hgt = maps.height
    gy, gx = np.gradient(hgt, float(gsd_m))
    slope_cap = np.float32(1.5)
    gx, gy = np.clip(gx, -slope_cap, slope_cap), np.clip(gy, -slope_cap, slope_cap)
    norm = np.sqrt(gx * gx + gy * gy + 1.0)
    s = _sun_vec(look)
    ndl = np.clip((-gx * s[0] - gy * s[1] + s[2]) / norm, 0.0, 1.0)
    vis = sun_visibility(hgt, gsd_m, look)
    r = max(int(round(6.0 / gsd_m)), 1)
    around = cv2.blur(hgt, (2 * r + 1, 2 * r + 1))
    sky = np.clip(1.0 - 0.06 * np.maximum(around - hgt, 0.0), 0.35, 1.0)
    direct = (ndl * vis)[..., None] * look.sun_bands
    rad = maps.refl * (direct + sky[..., None] * look.sky_bands)
    return rad.astype(np.float32), vis


def view(maps: ReliefMaps, top_rad: np.ndarray, vis: np.ndarray, look: ReliefLook):
    """(radiance seen [H, W, 4], kind code seen [H, W], container tops where seen). Off
    nadir, columns are swept upward one pixel of lean at a time; a column's pixel at level
    z is its wall (facing the satellite) below its roof and its roof at the top."""
    lx, ly = look.lean_px_per_m
    lean = float(np.hypot(lx, ly))
    hgt = maps.height
    top = float(hgt.max())
    if lean * top < 0.5:
        return top_rad, maps.kind, maps.tops
    s = _sun_vec(look)
    facing = -np.array([lx, ly]) / lean  # the walls seen face the satellite
    wall_sun = max(float(facing[0] * s[0] + facing[1] * s[1]), 0.0)
    out = top_rad.copy()  # level 0: everything at its own place, walls redrawn below
    code = maps.kind.copy()
    dz = 1.0 / lean
    h, w = hgt.shape
    wall_light = wall_sun * vis[..., None] * look.sun_bands + 0.5 * look.sky_bands
    z = 0.0
    while z <= top:
        ys, xs = np.nonzero(hgt >= z - 1e-4) if z > 0 else np.nonzero(hgt > dz)
        dx, dy = int(round(z * lx)), int(round(z * ly))
        yd, xd = ys + dy, xs + dx
        keep = (yd >= 0) & (yd < h) & (xd >= 0) & (xd < w)
        ys, xs, yd, xd = ys[keep], xs[keep], yd[keep], xd[keep]
        hz = hgt[ys, xs]
        roof = hz < z + dz
        frac = np.clip(z / np.maximum(hz, 1e-3), 0.0, 1.0)[:, None]
        wall = maps.refl[ys, xs] * (0.55 + 0.45 * frac) * wall_light[ys, xs]
        out[yd, xd] = np.where(roof[:, None], top_rad[ys, xs], wall)
        code[yd, xd] = maps.kind[ys, xs]
        z += dz
    tops = maps.tops
    if len(tops):
        t = maps.top_m
        tops = replace(tops, cx=tops.cx + t * lx, cy=tops.cy + t * ly)
    return out, code, tops
