"""Container ships of the v2 layouts: deck loads of many patterns and lashing bridges.

:func:`deck_pattern` gives the stack heights of a deck load (bays x rows); :func:`container_ship`
draws a ship (:mod:`.ships`) with such a load, lashing bridges between its hatches, and 40-ft
pairs over two 20-ft bays, and returns the load as a container block (the truth). Geometry
in render pixels; heights in metres.
"""

from __future__ import annotations

import numpy as np

from ..detections import CONTAINER_SIZE_M, KIND_20FT, KIND_40FT, TIER_HEIGHT_M, Detections
from .containers import Block, container_colours
from .layout import Occupancy
from .lookalikes import _box
from .render import BoxStyle, Canvas
from .ships import draw_ship, ship_layout

__all__ = ["DECK_PATTERNS", "container_ship", "deck_pattern"]

DECK_PATTERNS = ("full", "partial", "holes", "stepped", "alternate", "empty")
_L20, _W = CONTAINER_SIZE_M[KIND_20FT]
_L40 = CONTAINER_SIZE_M[KIND_40FT][0]


def deck_pattern(rng, bays: int, rows: int, pattern: str) -> np.ndarray:
    """int [bays, rows] stack heights (0 = empty slot) of a deck load ``pattern``
    (:data:`DECK_PATTERNS`)."""
    level = int(rng.integers(1, 6))
    t = np.clip(level + rng.choice([-1, 0, 0, 1], (bays, rows)), 1, 6)
    if pattern == "partial":  # loaded from one end
        k = int(np.ceil(bays * rng.uniform(0.15, 0.85)))
        t[k:] = 0
        if rng.random() < 0.5:
            t = t[::-1]
    elif pattern == "holes":
        t *= rng.random((bays, rows)) < rng.uniform(0.4, 0.9)
    elif pattern == "stepped":  # highest mid-ship across the beam
        r = np.abs(np.arange(rows) - (rows - 1) / 2)
        t = np.clip(level + 1 - np.round(r * rng.uniform(0.3, 0.8)).astype(int), 1, 6)
        t = np.repeat(t[None], bays, 0)
    elif pattern == "alternate":  # every other hatch (2 bays) loaded
        t[(np.arange(bays) // 2) % 2 == int(rng.integers(2))] = 0
    elif pattern == "empty":
        t[:] = 0
    return t.astype(int)


def container_ship(rng, canvas: Canvas, occ: Occupancy, cx, cy, heading) -> list[Block]:
    """A container ship with a v2 deck load and lashing bridges; returns its deck blocks."""
    g = canvas.gsd_m
    length = rng.uniform(90.0, 230.0)
    beam = float(np.clip(length * rng.uniform(0.13, 0.17), 12.0, 36.0))
    rows = max(int((beam - 1.5) // 2.6), 3)
    bays = max(int(length * rng.uniform(0.5, 0.68) // 6.4), 4)
    ship = ship_layout(
        rng, cx=cx, cy=cy, heading_rad=heading, gsd_m=g, length_m=length, beam_m=beam,
        bridge_from_bow=rng.choice([rng.uniform(0.1, 0.15), rng.uniform(0.75, 0.9)]),
        deck_rows=rows, deck_bays=bays, cranes=int(rng.choice([0, 0, 0, 2])),
    )  # fmt: skip
    draw_ship(canvas, ship, rng)
    occ.take(ship.hull_xy)
    pattern = str(rng.choice(DECK_PATTERNS, p=[0.3, 0.2, 0.15, 0.15, 0.12, 0.08]))
    t = deck_pattern(rng, bays, rows, pattern)
    slots = ship.slots_xy.reshape(bays, rows, 2)
    bay_c = slots.mean(axis=1)
    top0 = ship.hatch_top_m
    if rng.random() < 0.7 and bays > 2:  # lashing bridges between hatches
        hw = rows * (_W + 0.2) + 0.4
        lash_top = top0 + TIER_HEIGHT_M * int(rng.integers(1, 3))
        for b in range(1, bays - 1, 2):
            x, y = (bay_c[b] + bay_c[b + 1]) / 2
            _box(canvas, rng, x, y, 0.7 / g, hw / g, heading, np.float32((0.55, 0.55, 0.5)),
                 lash_top, BoxStyle(stripe_pitch_m=0.5, stripe_amp=0.3), kind="lashing:bridge")  # fmt: skip
    mode = str(rng.choice(["mixed", "brand", "dull"]))
    ang = np.mod(heading + rng.normal(0, 0.003), np.pi)
    cxs, cys, kinds, lens, tiers = [], [], [], [], []
    forty = rng.random() < 0.35
    for b in range(bays):
        for r in range(rows):
            if t[b, r] <= 0:
                continue
            if forty and b % 2 == 0 and b + 1 < bays and t[b + 1, r] > 0:
                x, y = (slots[b, r] + slots[b + 1, r]) / 2
                cxs.append(x), cys.append(y), kinds.append(KIND_40FT), lens.append(_L40 / g)
                tiers.append(t[b, r])
                t[b + 1, r] = 0
                continue
            cxs.append(slots[b, r, 0]), cys.append(slots[b, r, 1])
            kinds.append(KIND_20FT), lens.append(_L20 / g), tiers.append(t[b, r])
    n = len(cxs)
    if n == 0:
        return []
    jit = rng.normal(0, 0.04 / g, (n, 2))
    tops = Detections(
        cx=np.array(cxs) + jit[:, 0], cy=np.array(cys) + jit[:, 1], length_px=np.array(lens),
        width_px=np.full(n, _W / g), angle_rad=np.full(n, ang), kind=np.array(kinds, np.int8),
        score=np.ones(n), tiers=np.array(tiers, np.float32),
    )  # fmt: skip
    return [Block(tops, container_colours(rng, n, mode), np.full(n, top0, np.float32))]
