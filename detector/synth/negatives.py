"""Hard negatives of the v2 layouts: scenes of things that look like containers from above
and are never labelled (bus depots, truck parks, rail yards of boxcars and tank cars, bulk
carriers and general-cargo ships at berth, town blocks with roof units, car parks,
greenhouses and solar fields, car terminals and large car lots), and the objects they are
made of.

Each ``draw_*`` function paints one object at (cx, cy) render pixels with long axis
``angle_rad``, notes its parts (:mod:`detector.synth.record`) and returns its footprint
polygon float [4, 2]. :func:`compose_negative` lays out one whole negative setting on a
canvas; it returns no container blocks. Geometry in render pixels (x right, y down).
"""

from __future__ import annotations

import functools

import numpy as np

from .grounds import draw_markings
from .layout import Occupancy
from .lookalikes import (
    _BRIGHT,
    _box,
    _boxes,
    _outline,
    draw_bus,
    draw_car,
    draw_shed,
    draw_truck,
    draw_wagon,
)
from .record import Ground, note
from .render import BoxStyle, Canvas
from .ships import draw_ship, ship_layout
from .textures import local_uv, material

__all__ = [
    "NEGATIVE_SETTINGS",
    "compose_negative",
    "draw_greenhouse",
    "draw_roof_with_units",
    "draw_solar_row",
    "draw_trailer",
    "grid_place",
    "paint",
]

#: v2 settings made only of look-alikes (no container is ever labelled in them)
NEGATIVE_SETTINGS = ("depot", "truckpark", "railyard", "bulk", "town", "field", "carpark")


def paint(canvas: Canvas, rng, mask: np.ndarray, kind: str, theta: float) -> None:
    """Fill ``mask`` with material ``kind`` and note it as ground."""
    sel = mask.astype(bool)
    if sel.any():
        tex = material(rng, canvas.shape, kind, canvas.gsd_m, theta)
        np.copyto(canvas.rgb, tex, where=sel[..., None])
        canvas.water[sel] = 1 if kind == "water" else 0
        note(canvas, Ground(str(kind), sel))


def draw_trailer(canvas: Canvas, rng: np.random.Generator, cx: float, cy: float, angle_rad: float):
    """A semi-trailer parked without its tractor: a 12.5-13.6 x 2.5 m box or curtain roof."""
    g = canvas.gsd_m
    length_m = float(rng.choice([12.5, 13.6]))
    rgb = (
        np.float32(rng.choice([0.85, 0.7, 0.5])) * np.float32((1, 1, 1.02))
        if rng.random() < 0.6
        else _BRIGHT[rng.integers(len(_BRIGHT))]
    )
    style = BoxStyle(ridge=0.03, edge_dark=0.2, stripe_pitch_m=1.0, stripe_amp=0.04, grime=0.2)
    _box(canvas, rng, cx, cy, length_m / g, 2.5 / g, angle_rad, rgb, 4.0, style,
         kind="truck:trailer")  # fmt: skip
    return _outline(cx, cy, (length_m + 0.4) / g, 2.7 / g, angle_rad)


def draw_roof_with_units(
    canvas: Canvas, rng: np.random.Generator, cx: float, cy: float, angle_rad: float,
    length_m: float, width_m: float,
):  # fmt: skip
    """A flat building roof with HVAC units, vents and skylights in a grid (2-3 m boxes:
    container-sized details of container tones)."""
    g = canvas.gsd_m
    top = float(rng.uniform(4.0, 20.0))
    col = np.float32(rng.choice([0.35, 0.55, 0.7, 0.82])) * np.float32((1, 1, 0.98))
    _box(canvas, rng, cx, cy, length_m / g, width_m / g, angle_rad, col, top,
         BoxStyle(edge_dark=0.25, rim_m=0.6, grime=0.35), kind="shed:roof")  # fmt: skip
    c, s = np.cos(angle_rad), np.sin(angle_rad)
    nu = max(int(length_m // rng.uniform(5.0, 10.0)), 1)
    nv = max(int(width_m // rng.uniform(5.0, 10.0)), 1)
    ul = rng.uniform(1.5, 3.5)
    wl = rng.uniform(1.0, 2.5)
    unit = np.float32(rng.choice([0.6, 0.75, 0.85])) * np.float32((1, 1, 1.03))
    xs, ys = [], []
    for i in range(nu):
        for j in range(nv):
            if rng.random() < 0.3:
                continue
            u = (i - (nu - 1) / 2) * (length_m - ul - 1) / max(nu, 1) / g
            v = (j - (nv - 1) / 2) * (width_m - wl - 1) / max(nv, 1) / g
            xs.append(cx + u * c - v * s)
            ys.append(cy + u * s + v * c)
    if xs:
        n = len(xs)
        _boxes(canvas, rng, xs, ys, np.full(n, ul / g), np.full(n, wl / g), angle_rad,
               np.repeat(unit[None], n, 0), np.full(n, top + rng.uniform(0.8, 1.8)),
               BoxStyle(stripe_pitch_m=0.4, stripe_amp=0.08, edge_dark=0.2), kind="shed:hvac")  # fmt: skip
    return _outline(cx, cy, length_m / g, width_m / g, angle_rad)


def draw_greenhouse(
    canvas: Canvas, rng: np.random.Generator, cx: float, cy: float, angle_rad: float
):
    """A greenhouse or polytunnel: 20-60 x 8-30 m, whitish, ridged every 3-4 m."""
    g = canvas.gsd_m
    length_m, width_m = rng.uniform(20.0, 60.0), rng.uniform(8.0, 30.0)
    col = np.float32(rng.uniform(0.7, 0.92)) * np.float32((0.98, 1.0, 1.0))
    style = BoxStyle(stripe_pitch_m=rng.uniform(3.0, 4.5), stripe_amp=0.12, ridge=0.05,
                     edge_dark=0.15, grime=0.2)  # fmt: skip
    _box(canvas, rng, cx, cy, length_m / g, width_m / g, angle_rad, col,
         rng.uniform(3.0, 5.0), style, kind="greenhouse:roof")  # fmt: skip
    return _outline(cx, cy, (length_m + 1) / g, (width_m + 1) / g, angle_rad)


def draw_solar_row(
    canvas: Canvas, rng: np.random.Generator, cx: float, cy: float, angle_rad: float
):
    """A row of solar panels: 20-80 m long, 2-5 m deep, dark blue-grey with cell lines."""
    g = canvas.gsd_m
    length_m, width_m = rng.uniform(20.0, 80.0), rng.uniform(2.0, 5.0)
    col = np.float32((0.12, 0.15, 0.24)) * np.float32(rng.uniform(0.8, 1.6))
    style = BoxStyle(stripe_pitch_m=rng.uniform(1.0, 2.0), stripe_amp=0.2, edge_dark=0.3,
                     rim_m=0.1)  # fmt: skip
    _box(canvas, rng, cx, cy, length_m / g, width_m / g, angle_rad, col, rng.uniform(1.0, 2.5),
         style, kind="solar:panel")  # fmt: skip
    return _outline(cx, cy, (length_m + 0.5) / g, (width_m + 2.5) / g, angle_rad)


def grid_place(
    canvas: Canvas, rng, occ: Occupancy, allowed: np.ndarray | None, draw, *, origin_xy,
    theta: float, pitch_u_px: float, pitch_v_px: float, n_u: int, n_v: int, fill: float = 1.0,
) -> int:  # fmt: skip
    """Objects ``draw(canvas, rng, x, y, angle)`` on an ``n_u`` x ``n_v`` lattice centred at
    ``origin_xy`` (pitches in pixels along/across ``theta``), each slot used with
    probability ``fill`` when free. Returns how many were drawn."""
    c, s = np.cos(theta), np.sin(theta)
    done = 0
    for i in range(n_u):
        for j in range(n_v):
            if rng.random() >= fill:
                continue
            u = (i - (n_u - 1) / 2) * pitch_u_px
            v = (j - (n_v - 1) / 2) * pitch_v_px
            x, y = origin_xy[0] + u * c - v * s, origin_xy[1] + u * s + v * c
            ang = theta + rng.choice([0.0, np.pi]) + rng.normal(0, 0.02)
            sub = int(rng.integers(1 << 31))
            poly = draw(Canvas.blank(1, 1, canvas.gsd_m), np.random.default_rng(sub), x, y, ang)
            if occ.free(poly, allowed):
                occ.take(poly)
                draw(canvas, np.random.default_rng(sub), x, y, ang)
                done += 1
    return done


def _ship_at_berth(canvas: Canvas, rng, occ: Occupancy, x, y, heading, kind: str) -> None:
    """A bulk carrier (5-9 holds, near full-beam hatch covers with transverse ridges) or a
    general-cargo ship (2-4 holds, deck cranes), no containers."""
    g = canvas.gsd_m
    bulk = kind == "bulk"
    length = rng.uniform(150.0, 230.0) if bulk else rng.uniform(80.0, 140.0)
    beam = float(np.clip(length * rng.uniform(0.14, 0.17), 14.0, 36.0))
    ship = ship_layout(
        rng, cx=x, cy=y, heading_rad=heading, gsd_m=g, length_m=length, beam_m=beam,
        bridge_from_bow=rng.uniform(0.82, 0.9), deck_rows=1, deck_bays=0,
        cranes=0 if bulk else int(rng.integers(2, 4)),
    )  # fmt: skip
    draw_ship(canvas, ship, rng)
    occ.take(ship.hull_xy)
    holds = int(rng.integers(5, 10) if bulk else rng.integers(2, 5))
    zone = length * (0.62 if bulk else 0.55)
    pitch = zone / holds
    hatch_l = pitch * rng.uniform(0.6, 0.8)
    hatch_w = beam * (rng.uniform(0.55, 0.75) if bulk else rng.uniform(0.6, 0.8))
    u0 = length / 2 - 0.1 * length - pitch / 2  # from the bow, towards the bridge aft
    us = u0 - np.arange(holds) * pitch
    c, s = np.cos(heading), np.sin(heading)
    xs, ys = x + us / g * c, y + us / g * s
    col = np.float32([(0.45, 0.2, 0.15), (0.22, 0.35, 0.26), (0.35, 0.38, 0.38),
                      (0.2, 0.25, 0.4), (0.6, 0.55, 0.3)][rng.integers(5)])  # fmt: skip
    style = BoxStyle(stripe_pitch_m=rng.uniform(1.2, 2.5), stripe_amp=0.1, ridge=0.1,
                     edge_dark=0.3, rim_m=0.5, grime=0.3, rust=0.4)  # fmt: skip
    top = ship.freeboard_m + rng.uniform(1.5, 2.5)
    _boxes(canvas, rng, xs, ys, np.full(holds, hatch_l / g), np.full(holds, hatch_w / g),
           heading, np.repeat(col[None] * rng.uniform(0.8, 1.2), holds, 0),
           np.full(holds, top), style, kind="ship:hatch")  # fmt: skip


def compose_negative(rng, canvas: Canvas, setting: str, empty: bool):
    """Lay out one negative ``setting`` (:data:`NEGATIVE_SETTINGS`) on ``canvas``. Returns
    (blocks, cranes, theta) like the classic composer, with no blocks and no cranes."""
    h, w = canvas.shape
    g = canvas.gsd_m
    occ = Occupancy((h, w))
    theta = rng.uniform(0, np.pi)
    centre = (w / 2 + rng.normal(0, w / 8), h / 2 + rng.normal(0, h / 8))
    u, v = local_uv((h, w), theta, centre)
    full = np.ones((h, w), np.uint8)
    if setting == "depot":  # rows of 30-60 buses, buses and cars on a road beside it
        paint(canvas, rng, full, str(rng.choice(["asphalt", "concrete"])), theta)
        draw_markings(canvas, rng, full, u, v)
        road = (np.abs(v - h * 0.45) < rng.uniform(3.5, 7.0) / g).astype(np.uint8)
        paint(canvas, rng, road, "asphalt", theta)
        if not empty:
            rows = int(rng.integers(3, 6))  # 30-60 buses: rows of 10-12 side by side
            grid_place(canvas, rng, occ, 1 - road, draw_bus, origin_xy=centre, theta=theta + np.pi / 2,
                       pitch_u_px=rng.uniform(13.0, 16.0) / g, pitch_v_px=rng.uniform(3.0, 4.2) / g,
                       n_u=rows, n_v=int(rng.integers(10, 13)), fill=rng.uniform(0.85, 1.0))  # fmt: skip
            _scatter(canvas, rng, occ, road, draw_bus, int(rng.integers(1, 5)), theta)
            _scatter(canvas, rng, occ, road, draw_car, int(rng.integers(2, 10)), theta)
    elif setting == "truckpark":  # trucks and trailers parked in rows, side by side
        paint(canvas, rng, full, str(rng.choice(["asphalt", "concrete", "soil"])), theta)
        draw_markings(canvas, rng, full, u, v)
        if not empty:
            for draw in (draw_truck, draw_trailer):
                off = rng.normal(0, h / 5)
                origin = (centre[0] - off * np.sin(theta), centre[1] + off * np.cos(theta))
                grid_place(canvas, rng, occ, None, draw, origin_xy=origin, theta=theta,
                           pitch_u_px=rng.uniform(17.0, 22.0) / g, pitch_v_px=rng.uniform(3.2, 4.5) / g,
                           n_u=int(rng.integers(1, 4)), n_v=int(rng.integers(6, 20)),
                           fill=rng.uniform(0.6, 1.0))  # fmt: skip
    elif setting == "railyard":  # parallel tracks of boxcars, tank cars, gondolas
        paint(canvas, rng, full, "ballast", theta)
        from .grounds import draw_tracks

        spacing = rng.uniform(4.5, 5.5) / g
        n_tracks = int(rng.integers(3, 9))
        tracks = [(k - (n_tracks - 1) / 2) * spacing for k in range(n_tracks)]
        draw_tracks(canvas, rng, u, v, tracks)
        if not empty:
            for tv in tracks:
                kind = str(rng.choice(["box", "tank", "gondola", "box"]))
                pos = rng.uniform(-w, -w / 2)
                while pos < w:
                    x = centre[0] + pos * np.cos(theta) - tv * np.sin(theta)
                    y = centre[1] + pos * np.sin(theta) + tv * np.cos(theta)
                    k = kind if rng.random() < 0.8 else str(rng.choice(["box", "tank"]))
                    poly, _ = draw_wagon(canvas, rng, x, y, theta, k, loaded=rng.random() < 0.5)
                    occ.take(poly)
                    pos += np.ptp(poly @ np.array([np.cos(theta), np.sin(theta)]))
                    pos += rng.uniform(0.3, 1.5) / g + (
                        rng.uniform(10, 60) / g if rng.random() < 0.05 else 0
                    )
    elif setting == "bulk":  # a bulk carrier or general-cargo ship at a quay
        edge = rng.uniform(0.1, 0.4) * h
        water = (v < edge).astype(np.uint8)
        paint(canvas, rng, water, "water", rng.uniform(0, np.pi))
        paint(canvas, rng, 1 - water, "concrete", theta)
        if not empty:
            beam = rng.uniform(20.0, 32.0) / g
            su = rng.normal(0, w / 6)
            sv = edge - beam / 2 - rng.uniform(0.5, 2.0) / g
            sx = centre[0] + su * np.cos(theta) - sv * np.sin(theta)
            sy = centre[1] + su * np.sin(theta) + sv * np.cos(theta)
            kind = "bulk" if rng.random() < 0.6 else "general"
            _ship_at_berth(canvas, rng, occ, sx, sy, theta + rng.choice([0, np.pi]), kind)
            _scatter(canvas, rng, occ, 1 - water, draw_truck, int(rng.integers(0, 4)), theta)
    elif setting == "town":  # town blocks: roofs with units, sheds, car parks, streets
        paint(canvas, rng, full, str(rng.choice(["asphalt", "concrete", "grass"])), theta)
        block = rng.uniform(40.0, 90.0) / g
        street = rng.uniform(6.0, 14.0) / g
        streets = (np.mod(u, block + street) < street) | (np.mod(v, block + street) < street)
        paint(canvas, rng, streets.astype(np.uint8), "asphalt", theta)
        if not empty:
            lots = (1 - streets).astype(np.uint8)
            for _ in range(int(rng.integers(4, 14))):
                lm, wm = rng.uniform(8.0, 45.0), rng.uniform(6.0, 30.0)
                fn = draw_roof_with_units if rng.random() < 0.55 else draw_shed
                draw = functools.partial(_sized, fn, lm, wm)
                _scatter(canvas, rng, occ, lots, draw, 1, theta)
            park = (np.abs(u - rng.normal(0, w / 4)) < rng.uniform(10, 30) / g) & (
                np.abs(v) < block / 2
            )
            paint(canvas, rng, park.astype(np.uint8) & lots, "asphalt", theta)
            grid_place(canvas, rng, occ, None, draw_car, origin_xy=centre, theta=theta + np.pi / 2,
                       pitch_u_px=rng.uniform(5.0, 6.0) / g, pitch_v_px=rng.uniform(2.4, 2.9) / g,
                       n_u=int(rng.integers(2, 6)), n_v=int(rng.integers(6, 20)),
                       fill=rng.uniform(0.4, 0.95))  # fmt: skip
            _scatter(
                canvas,
                rng,
                occ,
                streets.astype(np.uint8),
                draw_car,
                int(rng.integers(3, 15)),
                theta,
            )
            _scatter(
                canvas, rng, occ, streets.astype(np.uint8), draw_bus, int(rng.integers(0, 3)), theta
            )
            _scatter(
                canvas,
                rng,
                occ,
                streets.astype(np.uint8),
                draw_truck,
                int(rng.integers(0, 3)),
                theta,
            )
    elif setting == "carpark":
        _car_lots(canvas, rng, occ, full, theta, centre, u, v, empty)
    else:  # field: greenhouses or solar-panel rows
        paint(canvas, rng, full, str(rng.choice(["grass", "soil", "concrete"])), theta)
        if not empty:
            if rng.random() < 0.5:
                _scatter(canvas, rng, occ, None, draw_greenhouse, int(rng.integers(3, 12)), theta)
            else:
                grid_place(canvas, rng, occ, None, draw_solar_row, origin_xy=centre, theta=theta,
                           pitch_u_px=rng.uniform(30.0, 85.0) / g, pitch_v_px=rng.uniform(5.0, 9.0) / g,
                           n_u=int(rng.integers(1, 4)), n_v=int(rng.integers(6, 25)),
                           fill=rng.uniform(0.8, 1.0))  # fmt: skip
    return [], [], theta


def _car_lots(canvas: Canvas, rng, occ: Occupancy, full, theta: float, centre, u, v, empty):
    """A port's car terminal or a large car lot: 1-4 lots of cars in rows, nose to nose,
    pitch across 2.0-2.8 m (ro-ro terminals park new cars tighter than bays), often a whole
    lot in one colour (a shipment of one model), driving lanes between lots."""
    g = canvas.gsd_m
    paint(canvas, rng, full, str(rng.choice(["asphalt", "concrete", "asphalt", "soil"])), theta)
    if rng.random() < 0.6:
        draw_markings(canvas, rng, full, u, v)
    if empty:
        return
    h, w = canvas.shape
    for _ in range(int(rng.integers(1, 5))):
        length, width = rng.uniform(3.8, 5.2), rng.uniform(1.6, 2.0)
        one = rng.random() < 0.5
        rgb = _CAR_BATCH[rng.integers(len(_CAR_BATCH))] * rng.uniform(0.8, 1.1) if one else None
        car = functools.partial(_car_of, length, width, rgb)
        grid_place(canvas, rng, occ, None, car, origin_xy=(rng.uniform(0, w), rng.uniform(0, h)),
                   theta=theta + np.pi / 2, pitch_u_px=(length + rng.uniform(0.3, 1.2)) / g,
                   pitch_v_px=rng.uniform(2.0, 2.8) / g, n_u=int(rng.integers(2, 9)),
                   n_v=int(rng.integers(10, 41)), fill=rng.uniform(0.5, 1.0))  # fmt: skip
    _scatter(canvas, rng, occ, None, draw_truck, int(rng.integers(0, 3)), theta)


#: the colours new cars ship in, lot by lot (white, silver, grey, black, dark blue, red)
_CAR_BATCH = np.array(
    [(0.85, 0.85, 0.85), (0.62, 0.63, 0.65), (0.4, 0.4, 0.42), (0.1, 0.1, 0.1),
     (0.12, 0.18, 0.35), (0.6, 0.1, 0.08)]
)  # fmt: skip


def _car_of(length_m, width_m, rgb, canvas, rng, x, y, angle):
    return draw_car(canvas, rng, x, y, angle, length_m, width_m, rgb)


def _sized(fn, length_m: float, width_m: float, canvas, rng, x, y, angle):
    """``fn(canvas, rng, x, y, angle, length_m, width_m)``: a building of a given size."""
    return fn(canvas, rng, x, y, angle, length_m, width_m)


def _scatter(canvas, rng, occ, allowed, draw, n: int, theta: float) -> None:
    """Up to ``n`` objects at random free places of ``allowed`` (None: anywhere),
    aligned with ``theta`` (+- 90 deg)."""
    h, w = canvas.shape
    if allowed is not None:
        ys, xs = np.nonzero(allowed)
        if len(ys) == 0:
            return
    for _ in range(n):
        if allowed is None:
            x, y = rng.uniform(0, w), rng.uniform(0, h)
        else:
            i = rng.integers(len(ys))
            x, y = xs[i] + 0.5, ys[i] + 0.5
        ang = theta + rng.choice([0.0, np.pi / 2]) + rng.normal(0, 0.03)
        sub = int(rng.integers(1 << 31))
        poly = draw(Canvas.blank(1, 1, canvas.gsd_m), np.random.default_rng(sub), x, y, ang)
        if occ.free(poly, allowed):
            occ.take(poly)
            draw(canvas, np.random.default_rng(sub), x, y, ang)
