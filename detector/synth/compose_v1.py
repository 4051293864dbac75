"""The v1 training layouts (the shipped recipe's until the v2 terminal layouts): a random
patch of one setting (:data:`detector.synth.training.SETTINGS`): container yards, quay edges
with a ship alongside, ship decks, rail sidings with wagons, open water and built-up land,
with the look-alikes of each drawn but never labelled. :func:`compose` lays one out on a
canvas; :func:`detector.synth.training.training_sample` renders it."""

from __future__ import annotations

import numpy as np

from .grounds import draw_bollards, draw_markings, draw_tracks, draw_wake
from .layout import Occupancy, pack_blocks, scatter_singles
from .lookalikes import (
    WAGON_KINDS,
    draw_bus,
    draw_car,
    draw_hatch_cover,
    draw_shed,
    draw_truck,
    draw_wagon,
)
from .negatives import paint
from .render import Canvas
from .ships import deck_block, draw_ship, ship_layout
from .textures import local_uv

__all__ = ["compose"]


def _band(v: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return ((v >= lo) & (v < hi)).astype(np.uint8)


def _place(
    rng, occ: Occupancy, allowed, draw, n: int, theta: float, canvas: Canvas, free_angle=False
):
    """Try to place ``n`` objects drawn by ``draw(canvas, rng, x, y, angle)`` in ``allowed``."""
    ys, xs = np.nonzero(allowed)
    if len(ys) == 0:
        return
    for _ in range(n):
        i = rng.integers(len(ys))
        x, y = xs[i] + 0.5, ys[i] + 0.5
        ang = (
            rng.uniform(0, np.pi)
            if free_angle
            else theta + rng.choice([0, np.pi / 2, np.pi]) + rng.normal(0, 0.03)
        )
        probe = Canvas.blank(1, 1, canvas.gsd_m)  # footprint first, then the same draw if free
        sub = int(rng.integers(1 << 31))
        poly = draw(probe, np.random.default_rng(sub), x, y, ang)
        if occ.free(poly, allowed):
            occ.take(poly)
            draw(canvas, np.random.default_rng(sub), x, y, ang)


def _random_ship(rng, canvas: Canvas, cx, cy, heading, fill: float):
    g = canvas.gsd_m
    length = rng.uniform(80.0, 190.0)
    beam = float(np.clip(length * rng.uniform(0.13, 0.17), 12.0, 32.0))
    rows = max(int((beam - 1.5) // 2.6), 3)
    bays = max(int(length * rng.uniform(0.5, 0.68) // 6.4), 4)
    f = rng.choice([rng.uniform(0.1, 0.15), rng.uniform(0.8, 0.9)])
    ship = ship_layout(
        rng, cx=cx, cy=cy, heading_rad=heading, gsd_m=g, length_m=length, beam_m=beam,
        bridge_from_bow=f, deck_rows=rows, deck_bays=bays, cranes=int(rng.choice([0, 0, 2, 3])),
    )  # fmt: skip
    draw_ship(canvas, ship, rng)
    n = len(ship.slots_xy)
    level = rng.integers(1, 5)
    tiers = np.clip(level + rng.choice([-1, 0, 0, 1], n), 1, 4) * (rng.random(n) < fill)
    if rng.random() < 0.3:  # loaded from one end: a contiguous run of bays
        k = int(fill * ship.slots_xy.shape[0])
        tiers[:] = 0
        tiers[:k] = np.clip(level + rng.choice([-1, 0, 0, 1], k), 1, 4)
    return ship, deck_block(rng, ship, tiers, rng.choice(["mixed", "brand", "dull"]))


def compose(rng, canvas: Canvas, setting: str, empty: bool):
    """Draw ground and objects; returns the list of container blocks (not yet drawn)."""
    h, w = canvas.shape
    g = canvas.gsd_m
    occ = Occupancy((h, w))
    theta = rng.uniform(0, np.pi)
    centre = (w / 2 + rng.normal(0, w / 6), h / 2 + rng.normal(0, h / 6))
    u, v = local_uv((h, w), theta, centre)
    full = np.ones((h, w), np.uint8)
    blocks, cranes = [], []
    if setting == "yard":
        paint(canvas, rng, full, rng.choice(["asphalt", "concrete", "concrete"]), theta)
        draw_markings(canvas, rng, full, u, v)
        if not empty:
            blocks += pack_blocks(
                rng,
                full,
                occ,
                theta_rad=theta,
                gsd_m=g,
                origin_xy=centre,
                density=rng.uniform(0.4, 0.95),
            )
            _place(rng, occ, full, draw_truck, int(rng.integers(0, 5)), theta, canvas)
            if rng.random() < 0.2:
                _place(rng, occ, full, draw_bus, int(rng.integers(1, 3)), theta, canvas)
            if rng.random() < 0.3:
                cranes.append((centre[0], centre[1], theta, rng.uniform(20, 30), "rtg"))
            blocks += scatter_singles(
                rng, full, occ, int(rng.integers(0, 3)), gsd_m=g, theta_rad=theta
            )
    elif setting in ("quay", "deck", "water"):
        edge = {"quay": rng.uniform(-0.3, 0.3), "deck": rng.uniform(0.3, 0.9), "water": 2.0}[
            setting
        ] * h
        water = _band(v, -1e9, edge)
        paint(canvas, rng, water, "water", rng.uniform(0, np.pi))
        quay_w = rng.uniform(15.0, 60.0) / g
        quay = _band(v, edge, edge + quay_w)
        paint(canvas, rng, quay, "concrete", theta)
        yard = _band(v, edge + quay_w, 1e9)
        paint(canvas, rng, yard, rng.choice(["asphalt", "concrete"]), theta)
        draw_markings(canvas, rng, yard, u, v)
        if (quay.any() or yard.any()) and rng.random() < 0.6:
            draw_bollards(canvas, rng, u, v, edge, theta, centre)
        if not empty and setting != "water" and (setting == "deck" or rng.random() < 0.6):
            beam_guess = rng.uniform(14, 30) / g
            sv = (
                edge - beam_guess / 2 - rng.uniform(0.5, 3.0) / g
                if setting == "quay"
                else rng.normal(0, h / 8)
            )
            su = rng.normal(0, w / 3)
            sx = centre[0] + su * np.cos(theta) - sv * np.sin(theta)
            sy = centre[1] + su * np.sin(theta) + sv * np.cos(theta)
            heading = theta + rng.choice([0, np.pi])
            ship, deck = _random_ship(
                rng, canvas, sx, sy, heading, rng.uniform(0.0, 1.0) if rng.random() < 0.9 else 0.0
            )
            blocks.append(deck)
            occ.take(ship.hull_xy)
        if not empty:
            land = quay | yard
            blocks += pack_blocks(
                rng,
                yard,
                occ,
                theta_rad=theta,
                gsd_m=g,
                origin_xy=centre,
                density=rng.uniform(0.2, 0.9),
            )
            if rng.random() < 0.5:
                blocks += pack_blocks(
                    rng, quay, occ, theta_rad=theta, gsd_m=g, origin_xy=centre, density=0.5
                )
            _place(rng, occ, land, draw_truck, int(rng.integers(0, 4)), theta, canvas)
            if rng.random() < 0.25:
                _place(rng, occ, land, draw_hatch_cover, int(rng.integers(1, 5)), theta, canvas)
            if rng.random() < 0.2:
                _place(rng, occ, land, draw_car, int(rng.integers(1, 8)), theta, canvas)
            blocks += scatter_singles(
                rng, land, occ, int(rng.integers(0, 3)), gsd_m=g, theta_rad=theta
            )
            if setting == "water" or rng.random() < 0.3:
                draw_wake(canvas, rng, water)
            if quay.any() and rng.random() < 0.25:
                cu, cv_ = rng.normal(0, w / 4), edge + rng.uniform(3, 8) / g
                cx_ = centre[0] + cu * np.cos(theta) - cv_ * np.sin(theta)
                cy_ = centre[1] + cu * np.sin(theta) + cv_ * np.cos(theta)
                cranes.append((cx_, cy_, theta - np.pi / 2, rng.uniform(40, 60), "sts"))
    elif setting == "rail":
        ground = rng.choice(["concrete", "asphalt", "grass", "soil"])
        paint(canvas, rng, full, ground, theta)
        n_tracks = int(rng.integers(1, 6))
        spacing = rng.uniform(4.5, 6.0) / g
        v0 = rng.uniform(-h / 3, h / 3)
        tracks = [v0 + k * spacing for k in range(n_tracks)]
        draw_tracks(canvas, rng, u, v, tracks)
        side = _band(v, v0 + n_tracks * spacing + 3 / g, 1e9) | _band(v, -1e9, v0 - spacing)
        if not empty:
            for tv in tracks:
                if rng.random() < 0.25:
                    continue
                kind = rng.choice(WAGON_KINDS, p=[0.45, 0.3, 0.15, 0.1])
                pos = rng.uniform(-w, -w / 2)
                while pos < w:
                    x = centre[0] + pos * np.cos(theta) - tv * np.sin(theta)
                    y = centre[1] + pos * np.sin(theta) + tv * np.cos(theta)
                    poly, blk = draw_wagon(
                        canvas, rng, x, y, theta, kind, loaded=rng.random() < 0.6
                    )
                    occ.take(poly)
                    if blk is not None:
                        blocks.append(blk)
                    pos += (
                        np.ptp(poly @ np.array([np.cos(theta), np.sin(theta)]))
                        + rng.uniform(0.3, 1.5) / g
                    )
                    if rng.random() < 0.1:
                        pos += rng.uniform(5, 40) / g
            blocks += pack_blocks(
                rng,
                side,
                occ,
                theta_rad=theta,
                gsd_m=g,
                origin_xy=centre,
                density=rng.uniform(0.0, 0.7),
            )
            _place(rng, occ, side, draw_truck, int(rng.integers(0, 3)), theta, canvas)
    else:  # land: roofs, roads, vehicles
        paint(canvas, rng, full, rng.choice(["grass", "soil", "asphalt", "concrete"]), theta)
        road = _band(np.abs(v) + 0.0, -1, rng.uniform(3.0, 8.0) / g)
        paint(canvas, rng, road, "asphalt", theta)
        draw_markings(canvas, rng, road, u, v)
        if not empty:
            off = 1 - road
            for _ in range(int(rng.integers(1, 6))):
                lm, wm = rng.uniform(4, 60), rng.uniform(3, 30)
                _place(
                    rng,
                    occ,
                    off,
                    lambda c, r, x, y, a, lm=lm, wm=wm: draw_shed(c, r, x, y, a, lm, wm),
                    1,
                    theta,
                    canvas,
                )
            _place(rng, occ, full, draw_car, int(rng.integers(0, 12)), theta, canvas)
            _place(rng, occ, full, draw_bus, int(rng.integers(0, 3)), theta, canvas)
            _place(rng, occ, full, draw_truck, int(rng.integers(0, 3)), theta, canvas)
            if rng.random() < 0.5:
                blocks += scatter_singles(
                    rng, off, occ, int(rng.integers(1, 6)), gsd_m=g, theta_rad=theta
                )
    return blocks, cranes, theta
