"""A synthetic world: true loads for every voyage and the scenes an analyst would have.

Per voyage (deterministic in ``(seed, voyage)``, so ``--first K`` repeats the start of the
full world): a true load (about 250 20-ft containers, Maia-1 about 220, +-15 %, at most the
ship's deck slots x 4 tiers), a destination (mostly Vostochny, else Dunai) and an arrival
2-4 days after loading. Each of four scenes exists with some probability: ``pier_before``
(Rajin Pier 2 the day before loading: the load stacked on the pier plus residual stock),
``loaded`` (the ship at a Pier 2 berth with the load on deck; the pier holds the residual),
``arrival`` (the ship at the destination berth, same deck load) and ``after_unload`` (the
load in the destination yard and on rail wagons). Acquisitions fall 01:30-03:00 UTC; one
scene per port and day (a later voyage's scene that would share it is not taken). Some
scenes carry a cloud over their target (``cloud: true``).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .._io import atomic_write_text, check_output_dir
from ..labels.voyages import Voyage, read_voyages
from ..ships import load_registry
from .portmap import feature_centre_m
from .scene import SceneSpec, ShipVisit, StockSpec, render_scene, scene_id
from .weather import draw_winter, winter_rng

__all__ = ["ROLES", "PlannedScene", "VoyageTruth", "build_world", "plan_world", "random_scene_spec"]

ROLES = ("pier_before", "loaded", "arrival", "after_unload")
_ROLE_P = {"pier_before": 0.55, "loaded": 0.6, "arrival": 0.45, "after_unload": 0.35}
_CLOUD_P = 0.12
_WINTER_MONTHS = (12, 1, 2, 3)  # snow and sea ice at Rajin and Vostochny
_GSDS = (0.31, 0.4, 0.46, 0.5, 0.5, 0.6)
_BERTHS = {
    "rajin": ("Pier 2 east berth", "Pier 2 west berth"),
    "vostochny": ("Berth 1", "Berth 2", "Berth 3"),
    "dunai": ("Dunai pier west berth", "Dunai pier east berth"),
}
_YARD = {"rajin": "Rajin yard", "vostochny": "Container yard", "dunai": "Dunai yard"}
_RAIL = {"rajin": "Pier 2 rail", "vostochny": "Rail yard", "dunai": "Dunai rail"}


@dataclass(frozen=True)
class VoyageTruth:
    voyage: int
    ship: str
    rajin_date: dt.date
    destination: str
    arrival_date: dt.date
    containers: int

    def as_json(self) -> dict:
        return {
            "voyage": self.voyage, "ship": self.ship, "rajin_date": self.rajin_date.isoformat(),
            "destination": self.destination, "arrival_date": self.arrival_date.isoformat(),
            "containers": self.containers, "teu": self.containers,
        }  # fmt: skip


@dataclass(frozen=True)
class PlannedScene:
    spec: SceneSpec
    role: str
    voyage: int
    ship: str | None

    @property
    def scene_id(self) -> str:
        return scene_id(self.spec.port, self.spec.acquired)


def _when(rng, day: dt.date) -> dt.datetime:
    minutes = int(rng.integers(90, 181))  # 01:30-03:00 UTC, late morning local
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC) + dt.timedelta(minutes=minutes)


def _frame(rng, port: str, target_xy, extent_m: float) -> dict:
    """GSD, size and a centre that keeps a target of ``extent_m`` in the frame."""
    g = float(rng.choice(_GSDS))
    size = int(np.clip(max(rng.integers(1500, 2201), (extent_m + 120) / g), 1500, 2200))
    slack = max(size * g * 0.9 - extent_m, 0.0) / 2  # the footprint may cut 10 %
    off = rng.uniform(-0.4, 0.4, 2) * slack
    return {
        "gsd_m": g, "width": size, "height": size,
        "centre_xy_m": (target_xy[0] + off[0], target_xy[1] + off[1]),
    }  # fmt: skip


def _mid(port: str, *names: str) -> tuple[float, float]:
    pts = np.array([feature_centre_m(port, n) for n in names])
    return float(pts[:, 0].mean()), float(pts[:, 1].mean())


def _role_spec(rng, role: str, v: VoyageTruth, day: dt.date, seed: int) -> SceneSpec:
    cloud = rng.random() < _CLOUD_P
    common = {"seed": seed, "acquired": _when(rng, day), "bits": 8, "bands": 3}
    if role in ("pier_before", "loaded"):
        port, pier = "rajin", "Pier 2"
        residual = int(rng.integers(0, 60))
        target = feature_centre_m(port, pier)
        if role == "pier_before":
            stock = (StockSpec(pier, v.containers + residual),)
            ships: tuple[ShipVisit, ...] = ()
        else:
            stock = (StockSpec(pier, residual),) if residual else ()
            ships = (ShipVisit(v.ship, str(rng.choice(_BERTHS[port])), v.containers),)
        frame = _frame(rng, port, target, 470.0)
        return SceneSpec(
            port=port, ships=ships, stock=stock, background=float(rng.uniform(0.2, 0.5)),
            cloud=float(rng.uniform(0.25, 0.5)) if cloud else 0.0,
            cloud_target_xy_m=target if cloud else None, **frame, **common,
        )  # fmt: skip
    port = v.destination
    if role == "arrival":
        berth = str(rng.choice(_BERTHS[port]))
        target = feature_centre_m(port, berth)
        frame = _frame(rng, port, (target[0], target[1] + 80.0), 400.0)
        return SceneSpec(
            port=port, ships=(ShipVisit(v.ship, berth, v.containers),),
            background=float(rng.uniform(0.3, 0.6)), cloud=float(rng.uniform(0.25, 0.5)) if cloud else 0.0,
            cloud_target_xy_m=target if cloud else None, **frame, **common,
        )  # fmt: skip
    rail = int(round(v.containers * rng.uniform(0.15, 0.45)))
    target = _mid(port, _YARD[port], _RAIL[port])
    frame = _frame(rng, port, target, 420.0)
    return SceneSpec(
        port=port, stock=(StockSpec(_YARD[port], v.containers - rail),), rail_containers=rail,
        background=float(rng.uniform(0.2, 0.5)), cloud=float(rng.uniform(0.25, 0.5)) if cloud else 0.0,
        cloud_target_xy_m=target if cloud else None, **frame, **common,
    )  # fmt: skip


def plan_world(
    voyages: tuple[Voyage, ...], seed: int, *, winter: float = 0.0
) -> tuple[list[VoyageTruth], list[PlannedScene]]:
    """True loads and scene specs for ``voyages``; pure and deterministic in ``seed``.

    ``winter``: the chance that a scene acquired December-March shows snow and sea ice
    (cover 0.3-0.8), drawn from a stream of its own so that every other choice, the loads
    included, stays as with ``winter=0``.
    """
    caps = {s.name: s.deck_slots * 4 for s in load_registry()}
    truths, scenes, taken = [], [], set()
    for v in voyages:
        rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, v.voyage, 0])
        mean = 220.0 if v.ship == "Maia-1" else 250.0
        n = int(min(round(mean * rng.uniform(0.85, 1.15)), caps.get(v.ship, 400)))
        dest = "vostochny" if rng.random() < 0.75 else "dunai"
        arrival = v.rajin_date + dt.timedelta(days=int(rng.integers(2, 5)))
        vt = VoyageTruth(v.voyage, v.ship, v.rajin_date, dest, arrival, n)
        truths.append(vt)
        days = {
            "pier_before": v.rajin_date - dt.timedelta(days=1), "loaded": v.rajin_date,
            "arrival": arrival, "after_unload": arrival + dt.timedelta(days=1),
        }  # fmt: skip
        for k, role in enumerate(ROLES):
            rr = np.random.default_rng([int(seed) & 0xFFFFFFFF, v.voyage, k + 1])
            if rr.random() >= _ROLE_P[role]:
                continue
            port = "rajin" if role in ("pier_before", "loaded") else dest
            if (port, days[role]) in taken:
                continue
            taken.add((port, days[role]))
            spec = _role_spec(rr, role, vt, days[role], int(rr.integers(1 << 31)))
            if winter > 0 and days[role].month in _WINTER_MONTHS:
                cover = draw_winter(winter_rng(seed, v.voyage, k + 1), winter, 0.3, 0.8)
                spec = replace(spec, snow=cover)
            ship = v.ship if role in ("loaded", "arrival") else None
            scenes.append(PlannedScene(spec, role, v.voyage, ship))
    return truths, scenes


def build_world(
    voyages_csv: str | Path,
    out_dir: str | Path,
    seed: int,
    *,
    first: int | None = None,
    winter: float = 0.0,
    progress: Callable[[str], None] | None = None,
) -> dict:
    """Render and write the world: ``scenes/*.tif``, ``truth/*.geojson``, ``world.json``
    (returned as a dict). ``winter`` as in :func:`plan_world`."""
    from .export import write_scene

    voyages = read_voyages(voyages_csv)
    if first is not None:
        voyages = voyages[: max(int(first), 0)]
    truths, planned = plan_world(voyages, seed, winter=winter)
    out = Path(out_dir)
    for d in (out, out / "scenes", out / "truth"):
        check_output_dir(d)  # before rendering: a bad --out is one line, exit 2
    rows = []
    for p in planned:
        rs = render_scene(p.spec)
        write_scene(rs, out / "scenes", truth_dir=out / "truth")
        when = rs.spec.acquired.astimezone(dt.UTC)
        rows.append(
            {
                "scene": rs.scene_id,
                "file": f"scenes/{rs.scene_id}.tif",
                "truth": f"truth/{rs.scene_id}.geojson",
                "port": rs.spec.port,
                "acquired": f"{when:%Y-%m-%dT%H:%M:%S}Z",
                "role": p.role,
                "voyage": p.voyage,
                "ship": p.ship,
                "gsd_m": rs.spec.gsd_m,
                "cloud": rs.spec.cloud > 0,
                "snow": rs.spec.snow,
                "containers_total": rs.containers_total,
                "containers_visible": rs.containers_visible,
                "deck_containers": sum(1 for r in rs.region if r == "deck"),
            }  # fmt: skip
        )
        if progress:
            progress(rs.scene_id)
    world = {"seed": int(seed), "voyages": [t.as_json() for t in truths], "scenes": rows}
    atomic_write_text(out / "world.json", json.dumps(world, indent=1) + "\n")
    return world


def random_scene_spec(
    port: str,
    seed: int,
    *,
    gsd_m: float | None = None,
    size: tuple[int, int] | None = None,
    bits: int = 8,
    bands: int = 3,
    cloud: float = 0.0,
    snow: float = 0.0,
) -> SceneSpec:
    """A plausible stand-alone scene of ``port`` (``ccount synth scene``): a ship at a berth
    with a random load (likely), stock on the pier or in the yard, wagons, background."""
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, 0xC11])
    reg = load_registry()
    ship = reg[int(rng.integers(len(reg)))]
    day = dt.date(2023, 9, 1) + dt.timedelta(days=int(rng.integers(0, 570)))
    berth = str(rng.choice(_BERTHS[port]))
    ships = (
        (ShipVisit(ship.name, berth, int(rng.integers(60, ship.deck_slots * 3))),)
        if rng.random() < 0.7
        else ()
    )
    if port == "rajin":
        target, extent = feature_centre_m(port, "Pier 2"), 470.0
        stock, rail = (StockSpec("Pier 2", int(rng.integers(20, 300))),), 0
    else:
        target, extent = _mid(port, berth, _YARD[port]), 420.0
        stock, rail = (
            (StockSpec(_YARD[port], int(rng.integers(50, 300))),),
            int(rng.integers(0, 80)),
        )
    frame = _frame(rng, port, target, extent)
    if gsd_m is not None:
        frame["gsd_m"] = float(gsd_m)
    if size is not None:
        frame["width"], frame["height"] = int(size[0]), int(size[1])
    return SceneSpec(
        port=port, acquired=_when(rng, day), seed=int(seed), ships=ships, stock=stock,
        rail_containers=rail, background=float(rng.uniform(0.3, 0.6)), cloud=float(cloud),
        cloud_target_xy_m=target if cloud > 0 else None, bits=int(bits), bands=int(bands),
        snow=float(snow), **frame,
    )  # fmt: skip
