"""The flat family's drawing: hard-edged flat polygons, no texture, hard polygon shadows.

Input is the plain-data layout the classic composer notes (:mod:`detector.synth.record`):
ground areas by material, solid parts of every object (prisms ``base_m``..``top_m``), the
container blocks (the truth) and the yard/quay cranes. Each part is drawn as a side face
(the convex hull of its footprint at its base and at its top, seen off nadir) and a roof
(the footprint shifted by ``top_m * lean``), lower parts first. A part at height z appears
shifted by ``z * lean`` pixels, ``lean = tan(off-nadir) / gsd`` away from the satellite.

Shadows are polygons: a prism from z0 to z1 shades a surface at height h where the footprint
shifted by ``(z - h) * cot(elevation) / gsd`` away from the sun lands, z in [max(z0, h), z1];
that region is the convex hull of the footprint at the two ends of the range. Surfaces are
grouped by height (0.25 m bins), each shaded by the casters above it. Nothing here calls the
classic texture, shadow or sensor code.

Frame: render pixels, x right, y down; north up, azimuth clockwise from north.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass, replace

import cv2
import numpy as np

from ...detections import TIER_HEIGHT_M, Detections
from ..record import Ground, Part, box_part, segment_part
from .flat_snow import FlatWinter, ground_code, roof_snow, snow_ground

__all__ = ["FlatStyle", "draw_flat", "random_style"]

_SHIFT = 4
_SCALE = float(1 << _SHIFT)
_SHRINK_PX = 0.95  # as the classic boxes: filled area equals the true area on average


@dataclass(frozen=True)
class FlatStyle:
    """One sample's look. Colours RGB 0..1. ``palette`` ``saturated`` or ``muted``;
    ``container_rgb`` [K, 3] the colours containers are drawn in; ``ground`` (kind, rgb)
    pairs; ``side_dark`` factor of a roof colour on side faces; ``shadow_rgb`` multiplier
    in shadow; ``outline`` darkens roof edges (0 = none); ``lean_px_per_m`` (dx, dy)."""

    palette: str
    container_rgb: np.ndarray
    ground: tuple[tuple[str, tuple[float, float, float]], ...]
    vehicle_rgb: np.ndarray
    side_dark: float
    shadow_rgb: tuple[float, float, float]
    outline: float
    sun_elevation_deg: float
    sun_azimuth_deg: float
    lean_px_per_m: tuple[float, float]

    def ground_rgb(self, kind: str) -> np.ndarray:
        for k, rgb in self.ground:
            if k == kind:
                return np.asarray(rgb, np.float32)
        return np.float32((0.5, 0.5, 0.5))


def _hsv(h: float, s: float, v: float) -> tuple[float, float, float]:
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, float(np.clip(s, 0, 1)), float(np.clip(v, 0, 1)))
    return (float(r), float(g), float(b))


def random_style(rng: np.random.Generator, gsd_m: float) -> FlatStyle:
    """A random flat look: saturated (2 in 3) or muted palette, sun elevation 15-75 deg,
    off-nadir 0-25 deg in 6 samples of 10."""
    muted = rng.random() < 0.35
    s_lo, s_hi = (0.08, 0.35) if muted else (0.6, 1.0)
    k = int(rng.integers(3, 10))
    hues = rng.uniform(0, 1, k)
    cols = [_hsv(h, rng.uniform(s_lo, s_hi), rng.uniform(0.35, 0.95)) for h in hues]
    cols += [_hsv(0, 0, v) for v in rng.uniform(0.2, 0.95, int(rng.integers(0, 3)))]
    vehicles = [_hsv(h, rng.uniform(s_lo, s_hi), rng.uniform(0.3, 1.0)) for h in rng.random(6)]

    def g(h, s, v):
        return _hsv(h + rng.normal(0, 0.03), s * (0.4 if muted else 1.0), v)

    ground = (
        ("water", g(rng.uniform(0.47, 0.67), rng.uniform(0.3, 0.9), rng.uniform(0.15, 0.6))),
        ("concrete", g(rng.uniform(0, 1), rng.uniform(0.0, 0.15), rng.uniform(0.55, 0.9))),
        ("asphalt", g(rng.uniform(0, 1), rng.uniform(0.0, 0.12), rng.uniform(0.15, 0.45))),
        ("grass", g(rng.uniform(0.2, 0.4), rng.uniform(0.4, 0.8), rng.uniform(0.3, 0.7))),
        ("soil", g(rng.uniform(0.05, 0.12), rng.uniform(0.3, 0.6), rng.uniform(0.3, 0.6))),
        ("marking", g(rng.choice([0.0, 0.14]), rng.choice([0.0, 0.8]), rng.uniform(0.8, 1.0))),
        ("ballast", g(0.08, rng.uniform(0.05, 0.3), rng.uniform(0.3, 0.55))),
        ("rail", _hsv(0, 0, rng.uniform(0.6, 0.9))),
        ("fender", _hsv(0, 0, rng.uniform(0.05, 0.2))),
        ("foam", _hsv(0.55, 0.1, rng.uniform(0.8, 1.0))),
    )
    off = np.tan(np.radians(rng.uniform(0.0, 25.0))) / gsd_m if rng.random() < 0.6 else 0.0
    a = rng.uniform(0, 2 * np.pi)
    dark = rng.uniform(0.25, 0.6)
    tint = rng.uniform(1.0, 1.25)  # bluish sky light, sometimes neutral
    return FlatStyle(
        palette="muted" if muted else "saturated",
        container_rgb=np.array(cols, np.float32),
        ground=ground,
        vehicle_rgb=np.array(vehicles, np.float32),
        side_dark=float(rng.uniform(0.45, 0.8)),
        shadow_rgb=(float(dark), float(dark), float(min(dark * tint, 1.0))),
        outline=float(rng.choice([0.0, 0.0, rng.uniform(0.5, 0.85)])),
        sun_elevation_deg=float(rng.uniform(15.0, 75.0)),
        sun_azimuth_deg=float(rng.uniform(0.0, 360.0)),
        lean_px_per_m=(float(off * np.cos(a)), float(off * np.sin(a))),
    )


def _pts(poly_xy: np.ndarray) -> np.ndarray:
    return np.round((np.asarray(poly_xy, np.float64) - 0.5) * _SCALE).astype(np.int32)


def _fill(img: np.ndarray, polys: list[np.ndarray], value) -> None:
    """Fill the union of ``polys``: one call each, as one ``cv2.fillPoly`` call with several
    polygons leaves holes where they overlap (even-odd rule)."""
    for p in polys:
        cv2.fillPoly(img, [_pts(p)], value, lineType=cv2.LINE_8, shift=_SHIFT)


def _hull(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    both = np.concatenate([a, b]).astype(np.float32)
    return cv2.convexHull(both).reshape(-1, 2).astype(np.float64)


_FIXED = {
    "bus:hvac": (0.78, 0.78, 0.8),
    "shed:hvac": (0.72, 0.73, 0.75),
    "ship:hvac": (0.3, 0.3, 0.32),
    "wagon:frame": (0.18, 0.17, 0.16),
    "gondola:floor": (0.1, 0.1, 0.1),
    "ship:bridge": (0.93, 0.93, 0.9),
    "ship:wings": (0.85, 0.85, 0.82),
    "bollard:post": (0.12, 0.12, 0.13),
    "boat:hull": (0.92, 0.92, 0.92),
    "truck:flat": (0.25, 0.25, 0.27),
}


def _part_rgb(kind: str, style: FlatStyle, rng: np.random.Generator, memo: dict) -> np.ndarray:
    """Colour of one part; one colour per object kind and sample for ship parts and
    cranes (a ship's hatches match), otherwise drawn per part."""
    if kind in _FIXED:
        return np.float32(_FIXED[kind]) * np.float32(rng.uniform(0.85, 1.05))
    obj = kind.split(":")[0]
    if obj in ("ship", "crane") and kind in memo:
        return memo[kind]
    if kind in ("ship:hull", "ship:hatch", "ship:funnel", "crane:beam", "crane:boom"):
        sat = 0.3 if style.palette == "muted" else 0.85
        rgb = np.float32(_hsv(rng.random(), rng.uniform(0.3, 1.0) * sat, rng.uniform(0.3, 0.8)))
        if kind.startswith("crane"):
            memo["crane:machinery"] = rgb * 0.9
            memo["crane:beam"] = memo["crane:boom"] = rgb
        memo[kind] = rgb
        if kind == "ship:hull":
            memo["ship:pedestal"] = memo["ship:jib"] = np.float32((0.85, 0.7, 0.2))
        return rgb
    if obj in ("truck", "bus", "car"):
        return style.vehicle_rgb[rng.integers(len(style.vehicle_rgb))]
    if obj in ("shed", "hatchcover", "boxcar", "tankcar", "gondola"):
        v = rng.uniform(0.25, 0.85)
        if rng.random() < 0.5:
            return np.float32(_hsv(0, 0, v))
        return style.container_rgb[rng.integers(len(style.container_rgb))] * np.float32(
            rng.uniform(0.7, 1.0)
        )
    return np.float32(_hsv(0, 0, rng.uniform(0.2, 0.8)))


def _container_parts(blocks, style: FlatStyle, rng) -> tuple[list[Part], np.ndarray, Detections]:
    """Container prisms of all blocks, their colours [N, 3] and the concatenated tops."""
    blocks = [b for b in blocks if len(b.tops)]
    if not blocks:
        return [], np.zeros((0, 3), np.float32), Detections.empty()
    tops = Detections.concat([b.tops for b in blocks])
    base = np.concatenate([b.base_m for b in blocks]).astype(np.float64)
    cols, parts = [], []
    for b in blocks:  # most blocks mix colours; some are mostly one line's boxes
        n = len(b.tops)
        idx = rng.integers(len(style.container_rgb), size=n)
        if rng.random() < 0.3:
            idx = np.where(rng.random(n) < 0.8, idx[0], idx)
        cols.append(style.container_rgb[idx] * rng.uniform(0.9, 1.1, (n, 1)).astype(np.float32))
    corners = Detections(
        cx=tops.cx,
        cy=tops.cy,
        length_px=np.maximum(tops.length_px - _SHRINK_PX, 0.3),
        width_px=np.maximum(tops.width_px - _SHRINK_PX, 0.3),
        angle_rad=tops.angle_rad,
        kind=tops.kind,
        score=tops.score,
        tiers=tops.tiers,
    ).corners()
    top_m = base + tops.tiers * TIER_HEIGHT_M
    for i in range(len(tops)):
        parts.append(Part("container:box", corners[i], float(top_m[i]), float(base[i])))
    return parts, np.clip(np.concatenate(cols), 0, 1), tops


def _roof_units(parts: list[Part], gsd_m: float, rng: np.random.Generator) -> list[Part]:
    """HVAC units, vents and skylights on 6 in 10 building roofs: small boxes 0.8-3 m,
    0.5-1.5 m high, in a grid or scattered (hard negatives of container size and tone)."""
    out = []
    for p in parts:
        if p.kind != "shed:roof" or rng.random() >= 0.6:
            continue
        c = p.poly_xy.mean(axis=0)
        e1, e2 = p.poly_xy[1] - p.poly_xy[0], p.poly_xy[3] - p.poly_xy[0]
        ang = float(np.arctan2(e1[1], e1[0]))
        n1, n2 = float(np.hypot(*e1)), float(np.hypot(*e2))
        for _ in range(int(rng.integers(1, 9))):  # wholly on the roof
            ln = min(rng.uniform(0.8, 3.0) / gsd_m, 0.4 * n1)
            wd = min(rng.uniform(0.8, 3.0) / gsd_m, 0.4 * n2)
            a = rng.uniform(-0.5, 0.5) * (1 - ln / n1)
            b = rng.uniform(-0.5, 0.5) * (1 - wd / n2)
            x, y = c + a * e1 + b * e2
            out.append(
                box_part("shed:hvac", x, y, ln, wd, ang, p.top_m + rng.uniform(0.5, 1.5), p.top_m)
            )
    return out


def _crane_parts(cranes, gsd_m: float) -> list[Part]:
    """Parts of yard/quay cranes given as (cx, cy, angle, span_m, kind) tuples."""
    out = []
    for cx, cy, ang, span, kind in cranes:
        c, s = np.cos(ang), np.sin(ang)
        if kind == "rtg":
            half, gap = span / 2 / gsd_m, 6.0 / gsd_m
            for k in (-0.5, 0.5):
                ox, oy = c * gap * k, s * gap * k
                a = (cx + ox - s * half, cy + oy + c * half)
                b = (cx + ox + s * half, cy + oy - c * half)
                out.append(segment_part("crane:beam", a, b, 1.2 / gsd_m, 18.0, 16.0))
        else:
            boom = span / gsd_m
            a = (cx - c * boom * 0.3, cy - s * boom * 0.3)
            b = (cx + c * boom * 0.7, cy + s * boom * 0.7)
            out.append(segment_part("crane:boom", a, b, 2.0 / gsd_m, 45.0, 42.0))
            mx, my = cx - c * boom * 0.2, cy - s * boom * 0.2
            out.append(box_part("crane:machinery", mx, my, 14 / gsd_m, 10 / gsd_m, ang, 48.0, 42))
    return out


def draw_flat(
    shape: tuple[int, int],
    gsd_m: float,
    notes: list,
    blocks: list,
    cranes: list,
    style: FlatStyle,
    rng: np.random.Generator,
    winter: FlatWinter | None = None,
):
    """Render a layout flat. Returns (rgb float32 [H, W, 3] 0..1, hull bool [H, W], bridge
    bool [H, W], tops :class:`~detector.detections.Detections` where the container roofs
    are drawn, in render pixels). ``winter`` snows the ground and roofs
    (:mod:`.flat_snow`); it draws nothing from ``rng``."""
    h, w = shape
    rgb = np.zeros((h, w, 3), np.float32)
    snowy = winter is not None and winter.cover > 0
    ground = np.zeros((h, w), np.uint8) if snowy else None
    for item in notes:
        if isinstance(item, Ground):
            item.paste(rgb, style.ground_rgb(item.kind))
            if ground is not None:
                item.paste(ground, ground_code(item.kind))
    if ground is not None:
        snow_ground(rgb, ground, gsd_m, winter)
    cparts, ccols, tops = _container_parts(blocks, style, rng)
    parts = [p for p in notes if isinstance(p, Part)]
    parts += _roof_units(parts, gsd_m, rng) + _crane_parts(cranes, gsd_m)
    memo: dict = {}
    cols = [_part_rgb(p.kind, style, rng, memo) for p in parts] + list(ccols)
    parts = parts + cparts
    roof = roof_snow(np.array([p.poly_xy.mean(axis=0) for p in parts]).reshape(-1, 2), gsd_m,
                     winter) if snowy else None  # fmt: skip
    order = np.argsort([p.top_m for p in parts], kind="stable")
    lx, ly = style.lean_px_per_m
    hmap = np.zeros((h, w), np.float32)
    hull = np.zeros((h, w), np.uint8)
    bridge = np.zeros((h, w), np.uint8)
    tops_m = np.array([p.top_m for p in parts])
    for z in np.unique(tops_m):  # per top height: every side face, then every roof
        group = order[tops_m[order] == z]
        roofs = [parts[i].poly_xy + (z * lx, z * ly) for i in group]
        for i, top in zip(group, roofs, strict=True):
            p = parts[i]
            if np.hypot(lx, ly) * (z - p.base_m) > 0.3:
                side = _hull(p.poly_xy + (p.base_m * lx, p.base_m * ly), top)
                _fill(rgb, [side], tuple(float(v) for v in cols[i] * style.side_dark))
                _fill(hmap, [side], float(z))
                _mark(p.kind, [side], hull, bridge)
        for i, top in zip(group, roofs, strict=True):
            col = np.asarray(cols[i], np.float32)
            _fill(rgb, [top], tuple(float(v) for v in col))
            if style.outline > 0:  # a darker rim, drawn with the part: higher parts cover it
                edge = tuple(float(v) for v in col * style.outline)
                cv2.polylines(rgb, [_pts(top)], True, edge, 1, cv2.LINE_8, _SHIFT)
            if roof is not None and roof.snowed[i]:  # a bare rim stays round the snow
                _fill(rgb, [roof.polygon(i, top)], tuple(float(v) for v in roof.rgb[i]))
            _fill(hmap, [top], float(z))
            _mark(parts[i].kind, [top], hull, bridge)
    shade = _shadows(parts, hmap, gsd_m, style)
    rgb[shade] *= np.float32(style.shadow_rgb)
    top_m = np.array([p.top_m for p in cparts], np.float64)  # roofs seen at height x lean
    seen_tops = replace(tops, cx=tops.cx + top_m * lx, cy=tops.cy + top_m * ly)
    return np.clip(rgb, 0, 1), (hull | bridge) > 0, bridge > 0, seen_tops


def _mark(kind: str, polys: list, hull: np.ndarray, bridge: np.ndarray) -> None:
    if kind == "ship:hull":
        _fill(hull, polys, 1)
    elif kind in ("ship:bridge", "ship:wings"):
        _fill(bridge, polys, 1)


def _shadows(parts: list[Part], hmap: np.ndarray, gsd_m: float, style: FlatStyle) -> np.ndarray:
    """bool [H, W]: surfaces hidden from the sun by a higher part (hard edge)."""
    el, az = np.radians(style.sun_elevation_deg), np.radians(style.sun_azimuth_deg)
    away = -np.array([np.sin(az), -np.cos(az)]) / np.tan(el) / gsd_m  # px per metre of drop
    lean = np.array(style.lean_px_per_m)
    bins = np.round(hmap * 4).astype(np.int32)  # receivers grouped by 0.25 m
    out = np.zeros(hmap.shape, np.uint8)
    tops = np.array([p.top_m for p in parts])
    for b in np.unique(bins):
        level = b / 4.0
        casters = np.flatnonzero(tops > level + 0.3)
        if len(casters) == 0:
            continue
        polys = []
        for i in casters:
            p = parts[i]
            z0 = max(p.base_m, level)
            a = p.poly_xy + (z0 - level) * away + level * lean
            c = p.poly_xy + (p.top_m - level) * away + level * lean
            polys.append(_hull(a, c))
        m = np.zeros(hmap.shape, np.uint8)
        _fill(m, polys, 1)
        out |= m & (bins == b)
    return out > 0
