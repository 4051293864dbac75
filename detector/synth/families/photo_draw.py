"""The photo family's geometry: every solid part (and every container stack) projected as
a prism seen off nadir into a G-buffer, plus the nadir height maps the lighting needs.

A prism from ``base_m`` to ``top_m`` is seen as its roof (footprint shifted by ``top_m *
lean``) and each wall that faces the satellite (outward normal against the lean), a
parallelogram from the base edge to the top edge, drawn lowest tops first. Each covered
pixel records which part (``pid``), which face (0 roof, 1 long wall, 2 short wall), its
surface coordinates ``u``, ``v`` in metres (roof: along and across the long axis from the
centre; wall: along the edge, up from the base), the sun factor of its face relative to a
horizontal surface (``ndl``) and the height at which its shading is looked up in the nadir
maps (``zsrc``). Light masts and crane legs are parts of this family's own; they never
touch the truth.

Frame: render pixels, x right, y down, pixel (i, j) centred at (j + 0.5, i + 0.5).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from ...detections import TIER_HEIGHT_M, Detections
from ..record import Part, box_part, segment_part
from .photo_look import PhotoLook

__all__ = ["GBuffer", "container_parts", "crane_parts", "mast_parts", "rasterise"]

_SHIFT = 4
_SHRINK_PX = 0.95  # the filled area of a box equals its true area on average


@dataclass
class GBuffer:
    """Per-pixel records of the view (see the module docstring); ``hull``/``bridge`` where a
    ship's hull or bridge is seen; nadir maps: ``solid_m`` top of solid parts, ``float_lo``
    and ``float_hi`` the span of parts hanging in the air (crane beams and booms)."""

    pid: np.ndarray
    face: np.ndarray
    u: np.ndarray
    v: np.ndarray
    ndl: np.ndarray
    zsrc: np.ndarray
    hull: np.ndarray
    bridge: np.ndarray
    solid_m: np.ndarray
    float_lo: np.ndarray
    float_hi: np.ndarray


def _pts(poly: np.ndarray) -> np.ndarray:
    return np.round((np.asarray(poly, np.float64) - 0.5) * (1 << _SHIFT)).astype(np.int32)


def _fill(img: np.ndarray, poly: np.ndarray, value) -> None:
    cv2.fillConvexPoly(img, _pts(poly), value, cv2.LINE_8, _SHIFT)


def container_parts(blocks: list) -> tuple[list[Part], Detections]:
    """One prism per stack of every block (``container:stack``) and the concatenated tops."""
    blocks = [b for b in blocks if len(b.tops)]
    if not blocks:
        return [], Detections.empty()
    tops = Detections.concat([b.tops for b in blocks])
    base = np.concatenate([b.base_m for b in blocks]).astype(np.float64)
    shrunk = Detections(
        cx=tops.cx, cy=tops.cy, length_px=np.maximum(tops.length_px - _SHRINK_PX, 0.3),
        width_px=np.maximum(tops.width_px - _SHRINK_PX, 0.3), angle_rad=tops.angle_rad,
        kind=tops.kind, score=tops.score, tiers=tops.tiers,
    )  # fmt: skip
    corners = shrunk.corners()
    top = base + tops.tiers * TIER_HEIGHT_M
    return [
        Part("container:stack", corners[i], float(top[i]), float(base[i])) for i in range(len(tops))
    ], tops


def crane_parts(cranes: list, gsd_m: float) -> list[Part]:
    """Yard gantries (``rtg``: two beams 16-18 m up on four legs) and quay cranes (a boom
    and machinery 42-48 m up) from (cx, cy, angle, span_m, kind) tuples."""
    g, out = gsd_m, []
    for cx, cy, ang, span, kind in cranes:
        c, s = np.cos(ang), np.sin(ang)
        if kind == "rtg":
            half, gap = span / 2 / g, 6.0 / g
            for k in (-0.5, 0.5):
                ox, oy = c * gap * k, s * gap * k
                a = (cx + ox - s * half, cy + oy + c * half)
                b = (cx + ox + s * half, cy + oy - c * half)
                out.append(segment_part("crane:beam", a, b, 1.2 / g, 18.0, 16.0))
                for px, py in (a, b):
                    out.append(box_part("crane:leg", px, py, 1.0 / g, 1.0 / g, ang, 16.0))
        else:
            boom = span / g
            a = (cx - c * boom * 0.3, cy - s * boom * 0.3)
            b = (cx + c * boom * 0.7, cy + s * boom * 0.7)
            out.append(segment_part("crane:boom", a, b, 2.0 / g, 45.0, 42.0))
            mx, my = cx - c * boom * 0.2, cy - s * boom * 0.2
            out.append(box_part("crane:machinery", mx, my, 14 / g, 10 / g, ang, 48.0, 42.0))
    return out


def mast_parts(rng: np.random.Generator, free: np.ndarray, gsd_m: float, n: int) -> list[Part]:
    """``n`` light masts (pole 20-35 m, lamp head) on pixels where ``free`` (bool [H, W])."""
    ys, xs = np.nonzero(free)
    out: list[Part] = []
    if len(ys) == 0:
        return out
    for _ in range(int(n)):
        i = int(rng.integers(len(ys)))
        x, y, top = xs[i] + 0.5, ys[i] + 0.5, float(rng.uniform(20.0, 35.0))
        w = max(0.8 / gsd_m, 1.2)
        ang = float(rng.uniform(0, np.pi))
        out.append(box_part("mast:pole", x, y, w, w, ang, top))
        out.append(box_part("mast:lamp", x, y, 3.0 / gsd_m, 1.2 / gsd_m, ang, top + 0.8, top - 1.0))
    return out


def _affine(origin, e1, e2) -> tuple[tuple, tuple]:
    """Rows (a, b, c) with a x + b y + c = the coordinates of pixel centre (x + 0.5, y + 0.5)
    in the frame p = origin + s e1 + t e2: (s-row, t-row)."""
    det = e1[0] * e2[1] - e2[0] * e1[1]
    i00, i01, i10, i11 = e2[1] / det, -e2[0] / det, -e1[1] / det, e1[0] / det
    ox, oy = 0.5 - origin[0], 0.5 - origin[1]
    return (i00, i01, i00 * ox + i01 * oy), (i10, i11, i10 * ox + i11 * oy)


def rasterise(shape: tuple[int, int], gsd_m: float, parts: list[Part], look: PhotoLook) -> GBuffer:
    """Draw ``parts`` into a :class:`GBuffer` (see the module docstring). Each face is one
    convex fill of its index into a face-id image; every per-pixel record is then gathered
    from per-face tables (surface coordinates are affine in the pixel position)."""
    h, w = shape
    g = gsd_m
    solid = np.zeros((h, w), np.float32)
    f_lo = np.full((h, w), np.inf, np.float32)
    f_hi = np.full((h, w), -np.inf, np.float32)
    low = [i for i, p in enumerate(parts) if p.base_m <= 0.5]
    for i in sorted(low, key=lambda i: parts[i].top_m):  # ascending: the max wins
        _fill(solid, parts[i].poly_xy, float(parts[i].top_m))
    high = sorted((i for i, p in enumerate(parts) if p.base_m > 0.5), key=lambda i: parts[i].base_m)
    for i in high:  # on something solid (a deck, a wagon), or hanging (crane beams, booms)
        p = parts[i]
        x0, y0 = (max(int(v) - 1, 0) for v in p.poly_xy.min(axis=0))
        x1, y1 = (int(v) + 2 for v in p.poly_xy.max(axis=0))
        if x1 <= x0 or y1 <= y0 or x0 >= w or y0 >= h:
            continue
        m = np.zeros((min(y1, h) - y0, min(x1, w) - x0), np.uint8)
        _fill(m, p.poly_xy - (x0, y0), 1)
        sel = m.astype(bool)
        if not sel.any():
            continue
        win = (slice(y0, y0 + m.shape[0]), slice(x0, x0 + m.shape[1]))
        sv, lo, hi = solid[win], f_lo[win], f_hi[win]
        if p.base_m <= float(np.median(sv[sel])) + 2.0:
            sv[sel] = np.maximum(sv[sel], np.float32(p.top_m))
        else:
            lo[sel] = np.minimum(lo[sel], np.float32(p.base_m))
            hi[sel] = np.maximum(hi[sel], np.float32(p.top_m))
    lean = np.array(look.lean_px_per_m, np.float64)
    el, az = np.radians(look.sun_elevation_deg), np.radians(look.sun_azimuth_deg)
    sun_h = np.array([np.sin(az), -np.cos(az)])  # towards the sun, image frame
    side_gain = np.cos(el) / np.sin(el)
    fid = np.full((h, w), -1, np.int32)
    hull = np.zeros((h, w), np.uint8)
    bridge = np.zeros((h, w), np.uint8)
    # per face: part, face kind, ndl, zsrc, s-row, t-row, s scale, t scale, s/t clipped
    tab: list[tuple] = []
    for i in np.argsort([p.top_m for p in parts], kind="stable"):
        p = parts[i]
        poly = np.asarray(p.poly_xy, np.float64)
        rise = (p.top_m - p.base_m) * lean
        e1, e2 = poly[1] - poly[0], poly[-1] - poly[0]
        longest = max(np.hypot(*e1), np.hypot(*e2))
        mark = (
            hull
            if p.kind == "ship:hull"
            else bridge
            if p.kind in ("ship:bridge", "ship:wings")
            else None
        )
        if np.hypot(*rise) > 0.3:
            cx, cy = poly.mean(axis=0)
            pl = (poly + p.base_m * lean).tolist()
            rx, ry = float(rise[0]), float(rise[1])
            for k in range(len(pl)):
                a, b = pl[k], pl[(k + 1) % len(pl)]
                e = (b[0] - a[0], b[1] - a[1])
                ln = math.hypot(*e)
                n = (e[1] / max(ln, 1e-9), -e[0] / max(ln, 1e-9))
                mx = (a[0] + b[0]) / 2 - p.base_m * lean[0] - cx
                my = (a[1] + b[1]) / 2 - p.base_m * lean[1] - cy
                if n[0] * mx + n[1] * my < 0:
                    n = (-n[0], -n[1])
                if n[0] * lean[0] + n[1] * lean[1] >= -1e-9 or abs(e[0] * ry - e[1] * rx) < 1e-6:
                    continue  # faces away from the satellite, or seen edge-on
                quad = np.array([a, b, (b[0] + rx, b[1] + ry), (a[0] + rx, a[1] + ry)])
                _fill(fid, quad, len(tab))
                if mark is not None:
                    _fill(mark, quad, 1)
                rs, rt = _affine(a, e, (rx, ry))
                ndl = min(max(n[0] * sun_h[0] + n[1] * sun_h[1], 0.0) * side_gain, 3.0)
                kind = 1 if ln >= 0.6 * longest else 2
                tab.append((i, kind, ndl, p.top_m, rs, rt, ln * g, p.top_m - p.base_m, True))
        roof = poly + p.top_m * lean
        _fill(fid, roof, len(tab))
        if mark is not None:
            _fill(mark, roof, 1)
        e = e1 if np.hypot(*e1) >= np.hypot(*e2) else e2
        ex = e / max(np.hypot(*e), 1e-9)
        ctr = roof.mean(axis=0)
        rs, rt = _affine(ctr, ex, (-ex[1], ex[0]))
        tab.append((i, 0, 1.0, p.top_m, rs, rt, g, g, False))
    gb = GBuffer(
        pid=np.full((h, w), -1, np.int32), face=np.zeros((h, w), np.uint8),
        u=np.zeros((h, w), np.float32), v=np.zeros((h, w), np.float32),
        ndl=np.ones((h, w), np.float32), zsrc=np.zeros((h, w), np.float32),
        hull=hull > 0, bridge=bridge > 0, solid_m=solid, float_lo=f_lo, float_hi=f_hi,
    )  # fmt: skip
    if not tab:
        return gb
    sel = fid >= 0
    ys, xs = np.nonzero(sel)
    f = fid[sel]
    col = list(zip(*tab, strict=True))
    part, kind, ndl, zs = (np.asarray(c) for c in col[:4])
    rs, rt = np.array(col[4]), np.array(col[5])
    ss, ts, clip = np.asarray(col[6]), np.asarray(col[7]), np.asarray(col[8])
    s = rs[f, 0] * xs + rs[f, 1] * ys + rs[f, 2]
    t = rt[f, 0] * xs + rt[f, 1] * ys + rt[f, 2]
    cl = clip[f]
    s = np.where(cl, np.clip(s, 0, 1), s) * ss[f]
    t = np.where(cl, np.clip(t, 0, 1), t) * ts[f]
    gb.pid[sel] = part[f]
    gb.face[sel] = kind[f]
    gb.u[sel], gb.v[sel] = s, t
    gb.ndl[sel] = ndl[f]
    gb.zsrc[sel] = zs[f]
    return gb
