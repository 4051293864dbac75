"""Ship hulls seen from above: hull outline with a tapered bow, hatch covers, a bridge
(superstructure) forward or aft, deck cranes, and the deck's 20-ft stack slots.

Local ship frame (metres): u along the keel from the hull centre towards the bow, v across.
:func:`ship_layout` places a ship at pixel (cx, cy) with ``heading_rad`` (stern -> bow,
measured from +x towards +y) and returns every outline in render pixels; it is pure.
:func:`draw_ship` paints a layout into a :class:`~detector.synth.render.Canvas`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..detections import CONTAINER_SIZE_M, KIND_20FT, Detections
from .containers import Block, container_colours
from .record import Part, box_part, note, segment_part
from .render import BoxStyle, Canvas, draw_boxes, draw_lines, fill_polygon
from .textures import material

__all__ = ["ShipLayout", "deck_block", "draw_ship", "ship_layout"]

_L20, _W20 = CONTAINER_SIZE_M[KIND_20FT]


@dataclass(frozen=True)
class ShipLayout:
    """A ship placed on the render grid. Polygons float64 [K, 2] (x, y) pixels.

    ``slots_xy`` [deck_bays * deck_rows, 2] centres of the 20-ft stack slots, bay-major
    (bow first); ``hatches`` [M, 5] (cx, cy, length, width, angle) pixel boxes;
    ``cranes`` [C, 2, 2] jib segments; ``freeboard_m`` deck height above water,
    ``hatch_top_m`` height containers stand on, ``bridge_top_m`` superstructure height.
    """

    name: str
    length_m: float
    beam_m: float
    bridge_from_bow: float
    heading_rad: float
    gsd_m: float
    hull_xy: np.ndarray
    bridge_xy: np.ndarray
    wings_xy: np.ndarray
    funnel_xy: np.ndarray
    slots_xy: np.ndarray
    hatches: np.ndarray
    cranes: np.ndarray
    freeboard_m: float
    hatch_top_m: float
    bridge_top_m: float


def _to_px(u_m, v_m, cx, cy, heading, gsd) -> np.ndarray:
    c, s = np.cos(heading), np.sin(heading)
    u, v = np.asarray(u_m, float) / gsd, np.asarray(v_m, float) / gsd
    return np.stack([cx + u * c - v * s, cy + u * s + v * c], axis=-1)


def _rect(u0, u1, v0, v1):
    return np.array([u0, u1, u1, u0]), np.array([v0, v0, v1, v1])


def ship_layout(
    rng: np.random.Generator,
    *,
    cx: float,
    cy: float,
    heading_rad: float,
    gsd_m: float,
    length_m: float,
    beam_m: float,
    bridge_from_bow: float,
    deck_rows: int,
    deck_bays: int,
    cranes: int = 0,
    name: str = "unknown",
) -> ShipLayout:
    """Lay out a hull and its deck; every deck slot fits on the parallel body."""
    L, B = float(length_m), float(beam_m)
    f = float(bridge_from_bow)
    sup_len = float(np.clip(rng.uniform(0.07, 0.1) * L, 8.0, 15.0))
    u_br = L / 2 - f * L  # bridge centre (u)
    gap_side = min(rng.uniform(0.05, 0.35), max((B - 1.2) / deck_rows - _W20, 0.02))
    crane_gap = 3.5 if cranes else 0.0
    need = deck_bays * (_L20 + 0.05) + cranes * crane_gap
    if f < 0.5:  # bridge forward: containers behind it, towards the stern
        front = u_br - sup_len / 2 - 1.0
        back = -L / 2 + 6.0  # the funnel stands at the stern
        back_min, front_max = -L / 2 + 5.0, front
    else:
        front = L / 2 - max(0.09 * L, 8.0)
        back = u_br + sup_len / 2 + 1.0
        back_min, front_max = back, L / 2 - 0.06 * L - 0.5
    room = front - back
    gap_end = float(np.clip((room - need) / max(deck_bays, 1), 0.05, rng.uniform(0.2, 1.2)))
    pitch = _L20 + gap_end
    total = deck_bays * pitch + cranes * crane_gap
    if total <= room:
        start = front - (room - total) * rng.uniform(0.0, 0.5)
    else:  # grow into the free end (bow or stern), never into the superstructure
        front = min(front_max, back + total) if f >= 0.5 else front
        back = max(back_min, front - total) if f < 0.5 else back
        start = front + max(total - (front - back), 0.0) / 2
    # bay centres from the bow side
    crane_after = [round(deck_bays * (k + 1) / (cranes + 1)) for k in range(cranes)]
    u_bays, u_cranes, u = [], [], start
    for b in range(deck_bays):
        if b in crane_after:
            u_cranes.append(u - crane_gap / 2)
            u -= crane_gap
        u_bays.append(u - pitch / 2)
        u -= pitch
    u_bays = np.array(u_bays)
    zone_front = start
    v_rows = (np.arange(deck_rows) - (deck_rows - 1) / 2) * (_W20 + gap_side)
    uu, vv = np.meshgrid(u_bays, v_rows, indexing="ij")
    slots = _to_px(uu.ravel(), vv.ravel(), cx, cy, heading_rad, gsd_m)
    # hull outline: chamfered transom, parallel body, elliptical bow taper
    bow_len = float(np.clip(L / 2 - zone_front - 0.5, 0.06 * L, 0.2 * L))
    ub = L / 2 - bow_len
    t = np.linspace(0.0, 1.0, 10)[1:]
    ch = 0.06 * B
    side_u = np.concatenate([[-L / 2, -L / 2 + ch], ub + bow_len * t[:-1]])
    side_v = np.concatenate([[B / 2 - ch, B / 2], B / 2 * np.sqrt(1 - t[:-1] ** 2)])
    hull_u = np.concatenate([side_u, [L / 2], side_u[::-1]])
    hull_v = np.concatenate([side_v, [0.0], -side_v[::-1]])
    hull = _to_px(hull_u, hull_v, cx, cy, heading_rad, gsd_m)
    # superstructure, bridge wings (full beam), funnel
    bw = B * rng.uniform(0.75, 0.92)
    bridge = _to_px(
        *_rect(u_br - sup_len / 2, u_br + sup_len / 2, -bw / 2, bw / 2), cx, cy, heading_rad, gsd_m
    )
    wing_u = u_br + sup_len / 2 - 1.2
    wings = _to_px(
        *_rect(wing_u - 1.2, wing_u + 1.2, -B / 2 + 0.3, B / 2 - 0.3), cx, cy, heading_rad, gsd_m
    )
    fu = u_br - sup_len / 2 - 2.0 if f >= 0.5 else -L / 2 + 3.0
    fv = 0.0 if f >= 0.5 else rng.choice([-1, 1]) * B * 0.3
    funnel = _to_px(*_rect(fu - 1.4, fu + 1.4, fv - 1.6, fv + 1.6), cx, cy, heading_rad, gsd_m)
    # hatch covers: one panel per two bays, slightly wider than the stack rows
    hw = min(B - 1.5, deck_rows * (_W20 + gap_side) + 0.6)
    hatches = []
    for k in range(0, deck_bays, 2):
        seg = u_bays[k : k + 2]
        u0, u1 = seg.min() - _L20 / 2 - 0.2, seg.max() + _L20 / 2 + 0.2
        p = _to_px([(u0 + u1) / 2], [0.0], cx, cy, heading_rad, gsd_m)[0]
        hatches.append((p[0], p[1], (u1 - u0) / gsd_m, hw / gsd_m, heading_rad % np.pi))
    jibs = []
    for uc in u_cranes:
        ang = rng.choice([0.0, np.pi]) + rng.uniform(-0.5, 0.5)
        jl = rng.uniform(16.0, 24.0)
        end = (uc + jl * np.cos(ang), jl * np.sin(ang) * 0.5)
        jibs.append(_to_px([uc, end[0]], [0.0, end[1]], cx, cy, heading_rad, gsd_m))
    freeboard = rng.uniform(3.0, 7.0)
    return ShipLayout(
        name=name, length_m=L, beam_m=B, bridge_from_bow=f, heading_rad=float(heading_rad),
        gsd_m=float(gsd_m), hull_xy=hull, bridge_xy=bridge, wings_xy=wings, funnel_xy=funnel,
        slots_xy=slots, hatches=np.array(hatches, float).reshape(-1, 5),
        cranes=np.array(jibs, float).reshape(-1, 2, 2), freeboard_m=freeboard,
        hatch_top_m=freeboard + rng.uniform(1.0, 2.0), bridge_top_m=freeboard + rng.uniform(11.0, 18.0),
    )  # fmt: skip


def draw_ship(canvas: Canvas, ship: ShipLayout, rng: np.random.Generator) -> None:
    """Paint hull (deck texture, bulwark rim), hatch covers, superstructure, funnel and
    crane jibs; set heights and the hull/bridge masks. Containers are drawn separately."""
    h, w = canvas.shape
    g = canvas.gsd_m
    x0, y0 = np.floor(ship.hull_xy.min(axis=0)).astype(int) - 2
    x1, y1 = np.ceil(ship.hull_xy.max(axis=0)).astype(int) + 2
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if x1 <= x0 or y1 <= y0:
        return
    tex = material(rng, (y1 - y0, x1 - x0), "deck", g, ship.heading_rad)
    rim = np.float32(rng.choice([0.35, 0.55, 0.75])) * np.float32((1.0, 0.98, 0.95))
    fill_polygon(canvas, ship.hull_xy, rgb=rim, height_m=ship.freeboard_m, hull=True)
    inner = _shrink(ship.hull_xy, 0.7 / g)
    fill_polygon(canvas, inner, texture=tex, texture_origin=(x0, y0), height_m=ship.freeboard_m)
    if len(ship.hatches):
        hc = ship.hatches
        n = len(hc)
        col = np.array(
            [(0.35, 0.38, 0.38), (0.22, 0.35, 0.26), (0.45, 0.2, 0.15), (0.2, 0.25, 0.4)],
            np.float32,
        )
        rgb = np.repeat(col[rng.integers(len(col))][None] * rng.uniform(0.8, 1.2), n, axis=0)
        style = BoxStyle(
            stripe_pitch_m=rng.uniform(2.0, 4.0),
            stripe_amp=0.04,
            edge_dark=0.3,
            rim_m=0.4,
            grime=0.2,
            rust=0.4,
        )
        draw_boxes(
            canvas, hc[:, 0], hc[:, 1], hc[:, 2], hc[:, 3], hc[:, 4], rgb,
            np.full(n, ship.hatch_top_m, np.float32), style, rng,
        )  # fmt: skip
    white = np.float32((0.85, 0.85, 0.82)) * np.float32(rng.uniform(0.8, 1.05))
    fill_polygon(
        canvas, ship.wings_xy, rgb=white * 0.92, height_m=ship.bridge_top_m - 2.5, bridge=True
    )
    fill_polygon(canvas, ship.bridge_xy, rgb=white, height_m=ship.bridge_top_m, bridge=True)
    # roof clutter: a few dark boxes (AC units, radar mast base)
    c = ship.bridge_xy.mean(axis=0)
    for _ in range(rng.integers(2, 5)):
        off = rng.normal(0, 1.5 / g, 2)
        sq = c + off + np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * rng.uniform(0.4, 1.0) / g
        fill_polygon(canvas, sq, rgb=(0.25, 0.25, 0.27), height_m=ship.bridge_top_m + 1.0)
        note(canvas, Part("ship:hvac", sq, ship.bridge_top_m + 1.0, ship.bridge_top_m))
    fun = np.float32(rng.choice([0.15, 0.6, 0.8])) * np.float32(
        (1.0, 0.6, 0.4) if rng.random() < 0.4 else (1, 1, 1)
    )
    fill_polygon(canvas, ship.funnel_xy, rgb=fun, height_m=ship.bridge_top_m + 3.0)
    _note_ship(canvas, ship)
    if len(ship.cranes):
        draw_lines(
            canvas, ship.cranes, 1.2 / g, (0.75, 0.62, 0.2), height_m=ship.hatch_top_m + 16.0
        )
        for j in ship.cranes:
            ped = j[0] + np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * 1.6 / g
            fill_polygon(canvas, ped, rgb=(0.75, 0.62, 0.2), height_m=ship.hatch_top_m + 8.0)
            note(canvas, Part("ship:pedestal", ped, ship.hatch_top_m + 8.0, ship.freeboard_m))
            note(
                canvas,
                segment_part(
                    "ship:jib", j[0], j[1], 1.2 / g, ship.hatch_top_m + 16.0, ship.hatch_top_m + 14
                ),
            )


def _note_ship(canvas: Canvas, ship: ShipLayout) -> None:
    """Note the hull, hatch covers, superstructure and funnel as parts (the roof clutter
    is noted where it is drawn)."""
    if canvas.notes is None:
        return
    fb, top = ship.freeboard_m, ship.bridge_top_m
    note(canvas, Part("ship:hull", ship.hull_xy, fb, 0.0))
    for cx, cy, ln, wd, ang in ship.hatches:
        note(canvas, box_part("ship:hatch", cx, cy, ln, wd, ang, ship.hatch_top_m, fb))
    note(canvas, Part("ship:wings", ship.wings_xy, top - 2.5, fb))
    note(canvas, Part("ship:bridge", ship.bridge_xy, top, fb))
    note(canvas, Part("ship:funnel", ship.funnel_xy, top + 3.0, top))


def _shrink(poly: np.ndarray, px: float) -> np.ndarray:
    """Move each vertex ``px`` towards the centroid along its radius (good enough for a
    convex hull outline)."""
    c = poly.mean(axis=0)
    d = poly - c
    r = np.hypot(d[:, 0], d[:, 1])[:, None]
    return c + d * np.maximum(r - px, 0) / np.maximum(r, 1e-6)


def deck_block(
    rng: np.random.Generator, ship: ShipLayout, tiers: np.ndarray, colour_mode: str = "mixed"
) -> Block:
    """20-ft stacks on the deck slots: ``tiers`` int [deck_bays * deck_rows] (0 = empty slot,
    same order as ``ship.slots_xy``). Returns the visible tops standing on the hatch covers."""
    tiers = np.asarray(tiers, int)
    keep = tiers > 0
    xy = ship.slots_xy[keep]
    n = len(xy)
    g = ship.gsd_m
    jit = rng.normal(0, 0.04 / g, (n, 2))
    tops = Detections(
        cx=xy[:, 0] + jit[:, 0],
        cy=xy[:, 1] + jit[:, 1],
        length_px=np.full(n, _L20 / g),
        width_px=np.full(n, _W20 / g),
        angle_rad=np.mod(ship.heading_rad + rng.normal(0, 0.003, n), np.pi),
        kind=np.zeros(n, np.int8),
        score=np.ones(n),
        tiers=tiers[keep],
    )
    return Block(
        tops, container_colours(rng, n, colour_mode), np.full(n, ship.hatch_top_m, np.float32)
    )
