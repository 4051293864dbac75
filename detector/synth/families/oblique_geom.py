"""The oblique family's geometry: every noted part and every container stack as a prism,
rasterised face by face into a z-buffer as a parallel camera off nadir sees it.

A point (x, y) at height z metres is seen at (x, y) + z * lean (render pixels): for a
parallel projection the surface seen at a pixel is the highest one along its ray, so the
z-buffer keeps the greatest height. A prism shows its top face moved by its top height and
those walls whose outward normal points at the satellite (against the lean); on a wall
through edge a-b the height of the pixel p is (p - a) . n / (lean . n). The same
rasteriser, with the sun's displacement per metre in place of the lean, gives the sun's
view of the heights: a point is lit where nothing higher stands on its ray to the sun
(shadow mapping, :mod:`.oblique_light`).

Frame: render pixels, x right, y down; ``ss`` render pixels per layout pixel.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ...detections import TIER_HEIGHT_M
from ..record import Part, box_part, segment_part

__all__ = ["CODES", "GBuffer", "Prisms", "crane_parts", "draw_view", "sun_heights"]

#: What a pixel shows: ground, ship hull, bridge, container, any other solid.
CODES = {"ground": 0, "hull": 1, "bridge": 2, "container": 3, "other": 4}
_SHIFT = 4
_ONE = float(1 << _SHIFT)


@dataclass(frozen=True)
class Prisms:
    """N prisms: ``polys`` list of float [K, 2] render-pixel footprints (convex),
    ``base_m``/``top_m`` float [N], ``top_alb``/``wall_alb`` float32 [N, 4], ``code``
    int [N] (:data:`CODES`), ``kind`` the noted part kinds (``"container"`` for stacks),
    ``stack`` int [N] index into ``paints`` (-1: not a container); ``paints`` float32
    [S, T, 4] per-tier paints, ``lettered`` bool [S, T], ``rust`` float32 [S], ``door``
    int [S] which end wall (0 or 2 of :func:`~detector.detections.box_corners`) has doors."""

    polys: list
    base_m: np.ndarray
    top_m: np.ndarray
    top_alb: np.ndarray
    wall_alb: np.ndarray
    code: np.ndarray
    kind: tuple
    stack: np.ndarray
    paints: np.ndarray
    lettered: np.ndarray
    rust: np.ndarray
    door: np.ndarray


@dataclass
class GBuffer:
    """Mutable per-pixel record of what the camera sees, private to one render: ``z``
    float32 [H, W] height (m), ``alb`` float32 [H, W, 4], ``nrm`` float32 [H, W, 3] (x right,
    y down, z up), ``code`` uint8 [H, W], ``hull``/``bridge`` bool [H, W] (the seen outline
    of those parts, whatever stands on them)."""

    z: np.ndarray
    alb: np.ndarray
    nrm: np.ndarray
    code: np.ndarray
    hull: np.ndarray
    bridge: np.ndarray


def crane_parts(cranes: list, gsd_m: float) -> list[Part]:
    """Parts of the cranes a patch composer lists as (cx, cy, angle, span_m, ``"rtg"`` or
    ``"sts"``) in layout pixels: a gantry travels across ``angle`` and spans along it; a
    quay crane's boom reaches along ``angle`` over the water."""
    g = float(gsd_m)
    out: list[Part] = []
    for cx, cy, ang, span_m, kind in cranes:
        u = np.array([np.cos(ang), np.sin(ang)])
        v = np.array([-u[1], u[0]])
        c = np.array([cx, cy], float)
        if kind == "rtg":
            half, gauge, top = span_m / 2 / g, 6.5 / g, 18.0 + 0.1 * span_m
            for s in (-1, 1):
                a, b = c + s * half * u - gauge * v, c + s * half * u + gauge * v
                out.append(segment_part("crane:sill", a, b, 1.0 / g, 1.2))
                for e in (a, b):
                    out.append(box_part("crane:leg", *e, 1.0 / g, 1.0 / g, ang, top - 1.5))
            for t in (-1, 1):
                a, b = c - half * u + t * gauge * v, c + half * u + t * gauge * v
                out.append(segment_part("crane:girder", a, b, 1.2 / g, top, top - 1.8))
            out.append(box_part("crane:trolley", *c, 4.0 / g, 2 * gauge, ang, top + 1.5, top - 1))
        else:
            gauge, leg_top, boom = 15.0 / g, 40.0, span_m / g
            for s in (-1, 1):
                for t in (-1, 1):
                    e = c + s * gauge * u + t * 9.0 / g * v
                    out.append(box_part("crane:leg", *e, 1.8 / g, 1.8 / g, ang, leg_top))
                out.append(segment_part("crane:beam", c - gauge * u + s * 9 / g * v,
                                        c + gauge * u + s * 9 / g * v, 1.5 / g, leg_top,
                                        leg_top - 2.5))  # fmt: skip
            out.append(segment_part("crane:boom", c - 30.0 / g * u, c + boom * u, 3.0 / g,
                                    leg_top + 6.0, leg_top + 2.0))  # fmt: skip
            out.append(box_part("crane:house", *(c - 20.0 / g * u), 9.0 / g, 6.0 / g, ang,
                                leg_top + 9.0, leg_top + 3.0))  # fmt: skip
    return out


def _outward(poly: np.ndarray) -> np.ndarray:
    """float [K, 2] unit outward normals of the edges k -> k+1 of a convex polygon."""
    d = np.roll(poly, -1, axis=0) - poly
    n = np.stack([d[:, 1], -d[:, 0]], axis=1)
    n /= np.maximum(np.hypot(n[:, 0], n[:, 1]), 1e-9)[:, None]
    mid = poly + d / 2 - poly.mean(axis=0)
    return np.where(((n * mid).sum(axis=1) < 0)[:, None], -n, n)


def _raster(quad: np.ndarray, shape) -> tuple | None:
    """(mask bool [h, w], x0, y0, xs float [h, w], ys) of a convex polygon clipped to
    ``shape``: the pixels it covers and their centres; ``None`` if none."""
    H, W = shape  # noqa: N806
    x0 = max(int(np.floor(quad[:, 0].min())) - 1, 0)
    y0 = max(int(np.floor(quad[:, 1].min())) - 1, 0)
    x1 = min(int(np.ceil(quad[:, 0].max())) + 1, W)
    y1 = min(int(np.ceil(quad[:, 1].max())) + 1, H)
    if x1 <= x0 or y1 <= y0:
        return None
    m = np.zeros((y1 - y0, x1 - x0), np.uint8)
    pts = np.round((quad - (x0 + 0.5, y0 + 0.5)) * _ONE).astype(np.int32)
    cv2.fillConvexPoly(m, pts, 1, lineType=cv2.LINE_8, shift=_SHIFT)
    if not m.any():
        return None
    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32) + 0.5
    return m.astype(bool), x0, y0, xs, ys


def _faces(poly: np.ndarray, base: float, top: float, lean: np.ndarray):
    """Yield (edge index or -1 for the top, image polygon, outward normal) of the faces of
    a prism seen along ``lean`` (render px per m)."""
    yield -1, poly + top * lean, None
    if float(np.hypot(*lean)) * (top - base) < 0.25:
        return
    nrm = _outward(poly)
    k = len(poly)
    for e in range(k):
        n = nrm[e]
        if float(n @ lean) >= -1e-6:
            continue
        a, b = poly[e], poly[(e + 1) % k]
        yield e, np.stack([a + base * lean, b + base * lean, b + top * lean, a + top * lean]), n


def _face_pixels(prisms: Prisms, lean: np.ndarray, shape):
    """Yield (prism index, edge or -1 for the top, outward normal, mask bool [h, w], window
    slice, pixel centres xs and ys, heights z float32 [h, w]) of every face of ``prisms``
    seen along ``lean`` that covers a pixel of ``shape``."""
    for i, poly in enumerate(prisms.polys):
        base, top = float(prisms.base_m[i]), float(prisms.top_m[i])
        for e, quad, n in _faces(poly, base, top, lean):
            r = _raster(quad, shape)
            if r is None:
                continue
            m, x0, y0, xs, ys = r
            if e < 0:
                z = np.full(m.shape, top, np.float32)
            else:
                a = poly[e]
                z = ((xs - a[0]) * n[0] + (ys - a[1]) * n[1]) / float(n @ lean)
                z = np.clip(z, base, top).astype(np.float32)
            yield i, e, n, m, np.s_[y0 : y0 + m.shape[0], x0 : x0 + m.shape[1]], xs, ys, z


def sun_heights(shape, prisms: Prisms, sun_px_per_m: np.ndarray) -> np.ndarray:
    """float32 [H, W]: at each pixel q of the ground, the highest point of any prism on the
    ray from q towards the sun (``sun_px_per_m``: where a point z metres high casts its
    shadow, per metre); 0 where the sky is open."""
    zs = np.zeros(shape, np.float32)
    for _, _, _, m, sl, _, _, z in _face_pixels(prisms, sun_px_per_m, shape):
        np.copyto(zs[sl], np.maximum(zs[sl], z), where=m)
    return zs


def draw_view(gb: GBuffer, prisms: Prisms, lean: np.ndarray, ss: float, grime: np.ndarray) -> None:
    """Rasterise ``prisms`` into ``gb`` as seen along ``lean`` (render px per m), in place;
    ``ss`` render pixels per layout pixel sets the texture scale; ``grime`` float32 [H, W]
    smooth noise places rust on container roofs."""
    for i, e, n, m, sl, xs, ys, z in _face_pixels(prisms, lean, gb.z.shape):
        poly, base, top = prisms.polys[i], float(prisms.base_m[i]), float(prisms.top_m[i])
        code, s = int(prisms.code[i]), int(prisms.stack[i])
        if code == CODES["hull"] and prisms.kind[i] == "ship:hull":
            gb.hull[sl] |= m
        if code == CODES["bridge"]:
            gb.bridge[sl] |= m
            gb.hull[sl] |= m
        sel = m & (z >= gb.z[sl] - 1e-3)
        if not sel.any():
            continue
        if s >= 0:
            alb = _container_face(prisms, s, e, poly, (base, top), z, xs, ys, lean, ss)
            if e < 0:
                _rust(alb, grime[sl], float(prisms.rust[s]))
        elif e < 0:
            alb = np.broadcast_to(prisms.top_alb[i], (*m.shape, 4))
        else:
            alb = _part_wall(prisms.kind[i], prisms.wall_alb[i], z)
        gb.z[sl][sel] = z[sel]
        gb.alb[sl][sel] = alb[sel]
        gb.code[sl][sel] = code
        gb.nrm[sl][sel] = (0.0, 0.0, 1.0) if e < 0 else (n[0], n[1], 0.0)


def _part_wall(kind: str, alb: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Wall albedo of a noted part: rows of dark windows on a bridge, a red boot-top on a
    hull at the water line, plain otherwise."""
    out = np.broadcast_to(alb, (*z.shape, 4)).copy()
    if kind in ("ship:bridge", "ship:wings"):
        win = (np.mod(z, 2.8) > 1.2) & (np.mod(z, 2.8) < 2.0)
        out[win] *= 0.25
    elif kind == "ship:hull":
        out[z < 1.0] = (0.25, 0.045, 0.035, 0.3)
    return out


def _rust(alb: np.ndarray, grime: np.ndarray, share: float) -> None:
    """Rust blotches over about ``share`` of a roof, where ``grime`` is highest; in place."""
    if share > 0:
        spot = grime > 1.2 - 2.4 * share
        alb[spot] = 0.55 * alb[spot] + 0.45 * np.float32((0.19, 0.07, 0.03, 0.3))


def _container_face(p: Prisms, s: int, e: int, poly, span, z, xs, ys, lean, ss):
    """Albedo of one face of container stack ``s``: the roof (end frames, roof bows, side
    rails, rust) for ``e`` -1, else the wall ``e`` (one paint per tier, dark seams between
    tiers, locking bars on the door end, lettering on lettered side walls)."""
    base, top = span
    front, side = poly[0] - poly[3], poly[1] - poly[0]
    length, width = float(np.hypot(*front)), float(np.hypot(*side))
    eu, ev = front / max(length, 1e-9), side / max(width, 1e-9)
    c = poly.mean(axis=0) + (top if e < 0 else 0.0) * lean
    dx, dy = xs - c[0], ys - c[1]
    if e < 0:
        tier = max(int(round((top - base) / TIER_HEIGHT_M)) - 1, 0)
        alb = np.broadcast_to(p.paints[s, min(tier, p.paints.shape[1] - 1)], (*z.shape, 4)).copy()
        u = (dx * eu[0] + dy * eu[1]) / max(length, 1e-9)  # -0.5..0.5 along the box
        v = (dx * ev[0] + dy * ev[1]) / max(width, 1e-9)
        um = u * length / ss
        shade = 1.0 - 0.22 * (np.abs(u) > 0.5 - 0.35 / max(length / ss, 1.0))
        shade = shade - 0.12 * (np.abs(v) > 0.5 - 0.25 / max(width / ss, 1.0))
        shade = shade - 0.05 * (np.cos(2 * np.pi * um / 4.0) > 0.85)
        return alb * shade[..., None]
    k = np.clip(((z - base) / TIER_HEIGHT_M).astype(int), 0, p.paints.shape[1] - 1)
    alb = p.paints[s][k] * 0.92
    f = (z - base) / TIER_HEIGHT_M - k
    alb[(f < 0.05) | (f > 0.96)] *= 0.35
    a, b = poly[e], poly[(e + 1) % len(poly)]
    d = b - a
    t = ((xs - a[0] - z * lean[0]) * d[0] + (ys - a[1] - z * lean[1]) * d[1]) / max(d @ d, 1e-9)
    if e % 2 == 0:  # an end wall
        if e == int(p.door[s]):
            bars = np.abs(np.mod(t * 4.0, 1.0) - 0.5) < 0.06
            alb[bars | (np.abs(t - 0.5) < 0.02)] *= 0.55
        else:
            alb *= 0.9
    else:
        lettered = p.lettered[s][k]
        band = lettered & (t > 0.18) & (t < 0.82) & (f > 0.45) & (f < 0.7)
        ink = np.sin(t * 61.0 + 2.0 * s) > 0.1
        alb[band & ink] = 0.5 * alb[band & ink] + 0.5 * np.float32((0.8, 0.8, 0.78, 0.6))
    return alb
