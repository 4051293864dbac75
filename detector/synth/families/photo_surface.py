"""The photo family's surfaces of parts: albedo and relief, per pixel of the G-buffer.

Containers: corrugated roofs (ridges along the short axis, so the profile runs along the
long axis; its relief lights up with the sun along the box), side walls with vertical ribs,
each tier of a stack its own paint, tier gaps, corner castings, the door end with its
seam and lock rods, logos and text blocks on long walls, dirt, rust patches and streaks
and faded paint. Other parts by material (:func:`~.photo_look.material_of`): corrugated
metal roofs, vehicle paint with windows and curved-roof highlights, ship decks and hatch
covers with panel seams, crane steel with lattice, glass with gutters, solar panels with
cell grids, tanks as cylinders, bulk loads, plain membrane roofs. Corrugation finer than the
pixel is attenuated by its box-filter response (``sinc(gsd / period)``), never aliased.
"""

from __future__ import annotations

import numpy as np

from ...detections import TIER_HEIGHT_M
from ..record import Part
from .photo_draw import GBuffer
from .photo_look import MATERIALS, PhotoLook, fbm, hash01, material_of

__all__ = ["part_surfaces"]

_M = {m: i for i, m in enumerate(MATERIALS)}
_RUST = np.float32((0.42, 0.22, 0.12))


def _part_colour(mat: str, kind: str, look: PhotoLook, rng) -> np.ndarray:
    def hsv(h, s, v):
        import colorsys

        return np.float32(colorsys.hsv_to_rgb(h % 1, min(max(s, 0), 1), min(max(v, 0), 1)))

    if mat == "paint":
        r = rng.random()
        if r < 0.4:
            return hsv(0, 0, rng.uniform(0.75, 0.92))
        if r < 0.7:
            return hsv(0, 0, rng.uniform(0.08, 0.5))
        return hsv(rng.random(), rng.uniform(0.4, 0.9), rng.uniform(0.3, 0.8))
    if mat == "metal_roof":
        if rng.random() < 0.5:
            return hsv(rng.uniform(0.5, 0.62), rng.uniform(0.0, 0.2), rng.uniform(0.45, 0.8))
        return hsv(
            rng.choice([0.0, 0.33, 0.58, 0.08]), rng.uniform(0.2, 0.6), rng.uniform(0.3, 0.65)
        )
    if mat in ("deck", "hatch"):
        return hsv(
            rng.choice([0.0, 0.02, 0.33, 0.6, 0.08]), rng.uniform(0.1, 0.6), rng.uniform(0.2, 0.5)
        )
    if mat == "steel":
        if "crane" in kind:
            return hsv(
                rng.choice([0.12, 0.08, 0.0, 0.58]), rng.uniform(0.0, 0.8), rng.uniform(0.5, 0.85)
            )
        return hsv(0, 0, rng.uniform(0.3, 0.6))
    if mat == "white":
        return hsv(0.1, 0.03, rng.uniform(0.8, 0.92))
    if mat == "glass":
        return hsv(0.55, 0.08, rng.uniform(0.6, 0.8))
    if mat == "solar":
        return hsv(0.62, rng.uniform(0.3, 0.6), rng.uniform(0.07, 0.16))
    if mat == "tank":
        return hsv(0, 0, rng.choice([rng.uniform(0.05, 0.15), rng.uniform(0.6, 0.85)]))
    if mat == "bulk":
        return hsv(rng.choice([0.07, 0.1, 0.0]), rng.uniform(0.1, 0.6), rng.uniform(0.06, 0.55))
    return hsv(0.08, rng.uniform(0.0, 0.1), rng.uniform(0.25, 0.75))  # membrane / unknown


def part_surfaces(
    gb: GBuffer, parts: list[Part], n_containers: int, look: PhotoLook, gsd_m: float, rng
) -> tuple[np.ndarray, np.ndarray]:
    """Albedo (float32 [N, 3]) and relief factor on the sun term (float32 [N]) of the
    N part pixels (``gb.pid >= 0``, row-major). The last ``n_containers`` parts are the
    container stacks, in truth order."""
    g = gsd_m
    n = len(parts)
    first_c = n - n_containers
    mats = np.array([_M[material_of(p.kind)] for p in parts], np.int32)
    mats[first_c:] = _M["container"]
    cols = np.zeros((n, 3), np.float32)
    memo: dict[str, np.ndarray] = {}
    for i in range(first_c):  # one colour per ship/crane part kind and sample
        k = parts[i].kind
        m = MATERIALS[mats[i]]
        if k.split(":")[0] in ("ship", "crane", "mast"):
            cols[i] = memo.setdefault(k, _part_colour(m, k, look, rng))
        else:
            cols[i] = _part_colour(m, k, look, rng)
    k_c = n_containers
    if k_c:
        idx = rng.choice(len(look.paints), k_c, p=look.paint_weights)
        pal = look.paints[idx] * rng.uniform(0.85, 1.12, (k_c, 1)).astype(np.float32)
        cols[first_c:] = np.clip(pal, 0.02, 0.97)
    wz = look.weathering
    rust = rng.beta(1.2, 4.0, n).astype(np.float32) * (0.5 + wz)
    dirt = rng.uniform(0.03, 0.25, n).astype(np.float32) * (0.5 + wz)
    fade = rng.beta(1.2, 6.0, n).astype(np.float32) * (0.3 + 0.7 * wz)
    period = rng.uniform(0.45, 1.0, n).astype(np.float32)
    door = rng.choice([-1.0, 1.0], n).astype(np.float32)
    logo = rng.random(n) < 0.35
    lengths = (
        np.array(
            [
                max(
                    np.hypot(*(p.poly_xy[1] - p.poly_xy[0])),
                    np.hypot(*(p.poly_xy[-1] - p.poly_xy[0])),
                )
                for p in parts
            ]
        )
        * g
    )
    widths = (
        np.array(
            [
                min(
                    np.hypot(*(p.poly_xy[1] - p.poly_xy[0])),
                    np.hypot(*(p.poly_xy[-1] - p.poly_xy[0])),
                )
                for p in parts
            ]
        )
        * g
    )
    heights = np.array([p.top_m - p.base_m for p in parts], np.float32)
    axis = []
    for p in parts:
        e, f = p.poly_xy[1] - p.poly_xy[0], p.poly_xy[-1] - p.poly_xy[0]
        axis.append(np.arctan2(*(e if np.hypot(*e) >= np.hypot(*f) else f)[::-1]))
    az = np.radians(look.sun_azimuth_deg)
    sun_h = np.array([np.sin(az), -np.cos(az)])
    along_sun = np.cos(np.array(axis)) * sun_h[0] + np.sin(np.array(axis)) * sun_h[1]
    cot = 1.0 / np.tan(np.radians(look.sun_elevation_deg))

    sel = gb.pid >= 0
    pid = gb.pid[sel]
    face = gb.face[sel]
    u, v = gb.u[sel], gb.v[sel]
    mat = mats[pid]
    alb = cols[pid].copy()
    bump = np.ones(len(pid), np.float32)
    noise_f = fbm(rng, gb.pid.shape, 0.8 / g, 2)[sel]
    noise_m = fbm(rng, gb.pid.shape, 3.0 / g, 2)[sel]
    L, W, P = lengths[pid], widths[pid], period[pid]  # noqa: N806
    roof, wall = face == 0, face > 0

    c = mat == _M["container"]
    if c.any():
        att = np.clip(np.sinc(g / P), 0, 1)
        ph = 2 * np.pi * u / P
        cr = c & roof
        bump[cr] += np.clip(0.12 * att * -np.sin(ph) * along_sun[pid] * cot, -0.35, 0.35)[cr]
        alb[cr] *= (1 + 0.05 * att * np.cos(ph))[cr, None]
        end = np.abs(u) > L / 2 - 0.3
        corner = end & (np.abs(v) > W / 2 - 0.3)
        alb[cr & end] *= 0.85
        alb[cr & corner] *= 1.15
        alb[cr & (np.abs(v) > W / 2 - 0.12)] *= 0.9
        cw = c & wall
        if cw.any():  # each tier its own box: other paint below the top one
            tier = np.floor(v / TIER_HEIGHT_M).astype(np.int32)
            top_t = np.round(heights[pid] / TIER_HEIGHT_M).astype(np.int32) - 1
            pick = (hash01(pid, tier, np.int32(3)) * len(look.paints)).astype(np.int32)
            pick = np.minimum(pick, len(look.paints) - 1)
            other = cw & (tier < top_t)
            alb[other] = look.paints[pick[other]] * (0.85 + 0.25 * hash01(pid, tier)[other, None])
            vt = v - tier * TIER_HEIGHT_M
            alb[cw & ((vt < 0.12) | (vt > TIER_HEIGHT_M - 0.06))] *= 0.55
            rib = np.clip(np.sinc(g / 0.3), 0, 1) * np.sin(2 * np.pi * u / 0.3)
            bump[cw] += (0.3 * rib)[cw]
            long_w = cw & (face == 1)
            lg = long_w & logo[pid] & (vt > 1.0) & (vt < 2.0) & (np.abs(u - L / 2) < 0.3 * L)
            txt = hash01(
                np.floor(u / 0.35).astype(np.int32), np.floor(vt / 0.3).astype(np.int32), pid
            )
            alb[lg] = np.where((txt[lg] > 0.45)[:, None], np.float32(0.9), alb[lg] * 0.6)
            dend = cw & (face == 2) & (door[pid] > 0)
            seam = (np.abs(u - W / 2) < 0.08) | (np.abs(np.abs(u - W / 2) - 0.6) < 0.05)
            alb[dend & seam] *= 0.5
        # weathering: dirt, rust patches, rust streaks down walls, faded paint
        alb[c] *= (1 - dirt[pid] * np.clip(0.5 + 0.5 * noise_m, 0, 1))[c, None]
        rmask = c & (noise_f > 1.7 - 1.6 * rust[pid])
        streak = cw & (hash01(np.floor(u / 0.25).astype(np.int32), pid) > 1 - 0.6 * rust[pid])
        for m_, a_ in ((rmask, 0.7), (streak, 0.4)):
            alb[m_] = alb[m_] * (1 - a_) + _RUST * a_
        fd = (fade[pid] * np.where(roof, 1.0, 0.5))[:, None]  # chalking: paler, greyer
        chalk = 0.5 * alb.mean(axis=1, keepdims=True) + 0.35
        alb[c] = (alb * (1 - fd) + chalk * fd)[c]

    def per(mname):
        return mat == _M[mname]

    mr = per("metal_roof")
    if mr.any():
        pr = period[pid] * 1.6
        att = np.clip(np.sinc(g / pr), 0, 1)
        bump[mr] += np.clip(
            0.15 * att * -np.sin(2 * np.pi * u / pr) * along_sun[pid] * cot, -0.4, 0.4
        )[mr]
        alb[mr] *= (1 - 0.2 * dirt[pid] * np.clip(0.5 + noise_m, 0, 1.5))[mr, None]
        sky = mr & roof & (hash01(np.floor(u / 4.0).astype(np.int32), pid) > 0.9)
        alb[sky] = np.float32(0.75)
    pt = per("paint") & roof
    if pt.any():
        bump[pt] *= (1 + 0.2 * np.cos(np.pi * v / np.maximum(W, 0.5)))[pt]
        win = pt & (np.abs(u / np.maximum(L, 0.5) - 0.2) < 0.08)
        alb[win] *= 0.25
    for mname, step in (("deck", 6.0), ("hatch", 4.0)):
        m_ = per(mname)
        if m_.any():
            seam = np.abs(u % step) < max(0.15, 0.5 * g)
            alb[m_ & seam] *= 0.6
            alb[m_] *= (1 + 0.12 * noise_m)[m_, None]
            rs = m_ & (noise_f > 1.8 - rust[pid])
            alb[rs] = alb[rs] * 0.4 + _RUST * 0.6
    st = per("steel")
    if st.any():
        lattice = st & (np.abs(u % 2.0) < 0.8) & (face == 0) & (W < 3.0) & (L > 8.0)
        alb[lattice] *= 0.55
    gl = per("glass")
    if gl.any():
        alb[gl & (np.abs(u % 3.2) < max(0.12, 0.4 * g))] *= 0.5
        bump[gl] *= 1.25
    so = per("solar")
    if so.any():
        grid = (np.abs(u % 1.0) < 0.06) | (np.abs(v % 1.7) < 0.08)
        alb[so & grid] = np.float32(0.45)
    tk = per("tank") & roof
    if tk.any():
        across = np.clip(2 * v / np.maximum(W, 0.5), -1, 1)
        perp = -np.sin(np.array(axis)) * sun_h[0] + np.cos(np.array(axis)) * sun_h[1]
        bump[tk] = np.clip(1 + 0.8 * across * perp[pid] * cot * 0.5 - 0.3 * across**2, 0.1, 2.5)[tk]
    bk = per("bulk")
    alb[bk] *= (1 + 0.3 * noise_f + 0.2 * noise_m)[bk, None]
    mb = per("membrane")
    alb[mb] *= (1 + 0.1 * noise_m + 0.05 * noise_f)[mb, None]
    return np.clip(alb, 0.01, 1).astype(np.float32), np.clip(bump, 0, 3).astype(np.float32)
