"""Look-alike test scenes: whole scenes (about 10 ha) with no container at all, for measuring
false containers per scene (``scripts/eval_lookalikes.py``).

Each :class:`LookalikeScene` is a layout function for
:func:`detector.synth.training.training_sample`'s ``compose`` hook, so every rendering family
draws it its own way: ``training_sample(seed, size_px=N, family=F,
compose=LookalikeScene("bus_depot"))``. Scenes (:data:`LOOKALIKE_SCENES`):

- ``bus_depot``: 50 buses parked in 5 rows of 10, buses and cars on the road beside it;
- ``truck_park``: 48 trucks and trailers in 4 rows of 12;
- ``rail_yard``: 8 tracks of boxcars, tank cars and gondolas;
- ``bulk_carrier``: a bulk carrier and a general-cargo ship at a quay, trucks on it;
- ``town_block``: streets, roofs with HVAC units, sheds and warehouses, a car park;
- ``solar_greenhouse``: solar-panel rows and greenhouses.

Geometry in render pixels of the canvas; sizes in metres.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .grounds import draw_markings, draw_tracks
from .layout import Occupancy
from .lookalikes import draw_bus, draw_car, draw_shed, draw_truck, draw_wagon
from .negatives import (
    _scatter,
    _ship_at_berth,
    draw_greenhouse,
    draw_roof_with_units,
    draw_solar_row,
    draw_trailer,
    grid_place,
    paint,
)
from .render import Canvas
from .textures import local_uv

__all__ = ["LOOKALIKE_SCENES", "LookalikeScene", "count_objects"]

LOOKALIKE_SCENES = (
    "bus_depot", "truck_park", "rail_yard", "bulk_carrier", "town_block", "solar_greenhouse",
)  # fmt: skip


def count_objects(notes: list, obj: str) -> int:
    """How many objects of kind ``obj`` a noted layout holds (one main part each)."""
    main = {"bus": "bus:roof", "truck": ("truck:cab", "truck:trailer"), "boxcar": "boxcar:roof"}
    want = main.get(obj, obj)
    want = (want,) if isinstance(want, str) else want
    return sum(1 for n in notes if getattr(n, "kind", None) in want)


@dataclass(frozen=True)
class LookalikeScene:
    """The layout of look-alike scene ``name`` (see the module doc); called by
    ``training_sample`` as ``scene(rng, canvas)`` -> (blocks, cranes, theta, spreaders), all
    but theta empty."""

    name: str

    def __post_init__(self) -> None:
        from ..errors import ConfigError

        if self.name not in LOOKALIKE_SCENES:
            raise ConfigError(f"look-alike scene {self.name!r}: expected one of {LOOKALIKE_SCENES}")

    @property
    def setting(self) -> str:
        return self.name

    def __call__(self, rng: np.random.Generator, canvas: Canvas):
        h, w = canvas.shape
        g = canvas.gsd_m
        occ = Occupancy((h, w))
        theta = float(rng.uniform(0, np.pi))
        centre = (w / 2, h / 2)
        u, v = local_uv((h, w), theta, centre)
        full = np.ones((h, w), np.uint8)
        _LAYOUTS[self.name](rng, canvas, occ, full, theta, centre, u, v, g)
        return [], [], theta, []


def _bus_depot(rng, canvas, occ, full, theta, centre, u, v, g):
    paint(canvas, rng, full, "grass", theta)
    yard = ((np.abs(u) < 45 / g) & (np.abs(v) < 45 / g)).astype(np.uint8)
    paint(canvas, rng, yard, "asphalt", theta)
    draw_markings(canvas, rng, yard, u, v)
    road = (np.abs(v - 50 / g) < 4.5 / g).astype(np.uint8)
    paint(canvas, rng, road, "asphalt", theta)
    grid_place(canvas, rng, occ, None, draw_bus, origin_xy=centre, theta=theta + np.pi / 2,
               pitch_u_px=14.5 / g, pitch_v_px=3.6 / g, n_u=5, n_v=10)  # fmt: skip
    _scatter(canvas, rng, occ, road, draw_bus, 3, theta)
    _scatter(canvas, rng, occ, road, draw_car, 12, theta)
    for x, y in ((-90, -60), (90, -60)):
        cx, cy = centre[0] + x / g, centre[1] + y / g
        draw_roof_with_units(canvas, rng, cx, cy, theta, 40.0, 20.0)


def _truck_park(rng, canvas, occ, full, theta, centre, u, v, g):
    paint(canvas, rng, full, "soil", theta)
    lot = ((np.abs(u) < 70 / g) & (np.abs(v) < 60 / g)).astype(np.uint8)
    paint(canvas, rng, lot, "asphalt", theta)
    draw_markings(canvas, rng, lot, u, v)
    for k, draw in enumerate((draw_truck, draw_trailer, draw_truck, draw_trailer)):
        off = (k - 1.5) * 24 / g
        origin = (centre[0] - off * np.sin(theta), centre[1] + off * np.cos(theta))
        grid_place(canvas, rng, occ, None, draw, origin_xy=origin, theta=theta + np.pi / 2,
                   pitch_u_px=1.0, pitch_v_px=4.0 / g, n_u=1, n_v=12)  # fmt: skip


def _rail_yard(rng, canvas, occ, full, theta, centre, u, v, g):
    paint(canvas, rng, full, "soil", theta)
    tracks = [(k - 3.5) * 5.0 / g for k in range(8)]
    paint(canvas, rng, (np.abs(v) < 22 / g).astype(np.uint8), "ballast", theta)
    draw_tracks(canvas, rng, u, v, tracks)
    w = canvas.shape[1]
    c, s = np.cos(theta), np.sin(theta)
    for tv in tracks:
        pos = -0.7 * w
        while pos < 0.7 * w:
            kind = str(rng.choice(["box", "tank", "gondola"], p=[0.5, 0.3, 0.2]))
            x, y = centre[0] + pos * c - tv * s, centre[1] + pos * s + tv * c
            poly, _ = draw_wagon(canvas, rng, x, y, theta, kind, loaded=rng.random() < 0.5)
            occ.take(poly)
            pos += np.ptp(poly @ np.array([c, s])) + rng.uniform(0.3, 1.5) / g


def _bulk_carrier(rng, canvas, occ, full, theta, centre, u, v, g):
    water = (v < 0).astype(np.uint8)
    paint(canvas, rng, water, "water", float(rng.uniform(0, np.pi)))
    paint(canvas, rng, 1 - water, "concrete", theta)
    c, s = np.cos(theta), np.sin(theta)
    for su, kind in ((-40 / g, "bulk"), (110 / g, "general")):
        sv = -16 / g
        x, y = centre[0] + su * c - sv * s, centre[1] + su * s + sv * c
        _ship_at_berth(canvas, rng, occ, x, y, theta + rng.choice([0, np.pi]), kind)
    _scatter(canvas, rng, occ, 1 - water, draw_truck, 8, theta)


def _town_block(rng, canvas, occ, full, theta, centre, u, v, g):
    paint(canvas, rng, full, "grass", theta)
    block, street = 55 / g, 10 / g
    streets = (np.mod(u, block + street) < street) | (np.mod(v, block + street) < street)
    paint(canvas, rng, streets.astype(np.uint8), "asphalt", theta)
    h, w = canvas.shape
    n = int(np.ceil(max(h, w) / (block + street))) + 1
    c, s = np.cos(theta), np.sin(theta)
    for i in range(-n, n + 1):
        for j in range(-n, n + 1):
            bu, bv = (
                (i + 0.5) * (block + street) + street / 2,
                (j + 0.5) * (block + street) + street / 2,
            )
            x, y = centre[0] + bu * c - bv * s, centre[1] + bu * s + bv * c
            if not (-block < x < w + block and -block < y < h + block):
                continue
            lm, wm = rng.uniform(20, 50), rng.uniform(15, 45)
            if rng.random() < 0.15:  # a car park
                grid_place(canvas, rng, occ, None, draw_car, origin_xy=(x, y), theta=theta + np.pi / 2,
                           pitch_u_px=5.5 / g, pitch_v_px=2.6 / g, n_u=6, n_v=16, fill=0.7)  # fmt: skip
            elif rng.random() < 0.6:
                draw_roof_with_units(canvas, rng, x, y, theta, lm, wm)
            else:
                draw_shed(canvas, rng, x, y, theta, lm, wm)
    lanes = streets.astype(np.uint8)
    _scatter(canvas, rng, occ, lanes, draw_car, 40, theta)
    _scatter(canvas, rng, occ, lanes, draw_bus, 3, theta)
    _scatter(canvas, rng, occ, lanes, draw_truck, 4, theta)


def _solar_greenhouse(rng, canvas, occ, full, theta, centre, u, v, g):
    paint(canvas, rng, full, "grass", theta)
    c, s = np.cos(theta), np.sin(theta)
    o = (centre[0] - 70 / g * s, centre[1] + 70 / g * c)
    grid_place(canvas, rng, occ, None, draw_solar_row, origin_xy=o, theta=theta,
               pitch_u_px=55 / g, pitch_v_px=7 / g, n_u=4, n_v=16, fill=0.95)  # fmt: skip
    o = (centre[0] + 70 / g * s, centre[1] - 70 / g * c)
    grid_place(canvas, rng, occ, None, draw_greenhouse, origin_xy=o, theta=theta,
               pitch_u_px=65 / g, pitch_v_px=32 / g, n_u=4, n_v=4, fill=0.9)  # fmt: skip


_LAYOUTS = {
    "bus_depot": _bus_depot,
    "truck_park": _truck_park,
    "rail_yard": _rail_yard,
    "bulk_carrier": _bulk_carrier,
    "town_block": _town_block,
    "solar_greenhouse": _solar_greenhouse,
}
