"""A georeferenced synthetic port scene with exact truth: :func:`render_scene` (pure).

A :class:`SceneSpec` says what is where: ships (registry name, berth, containers on deck),
stock (AOI area, containers), containers on rail wagons, how much unrelated background
(other stock, wagons, vehicles, buildings), cloud, GSD, size, bits and bands. The scene is
laid out from the port's AOI polygons on a north-up UTM grid, lit by the sun of the
acquisition time and place (:func:`detector.imagery.sun.sun_position`), seen slightly off-nadir,
passed through a sensor model, and cut to a rotated footprint (nodata outside).

Truth: every container, visible or not. Each stack has one visible top (``visible`` True,
``tiers`` = stack height) plus ``tiers - 1`` hidden records sharing its footprint; regions
follow the AOI (deck on a hull, rail, quay on piers/quays, else yard).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import numpy as np
from affine import Affine

from ..detections import Detections, Hull
from ..errors import ConfigError
from ..imagery.sun import sun_position
from ..ships import load_registry
from .containers import TIER_HEIGHT_M, Block, draw_containers
from .families.registry import check_family, family_scene_image, refuse_weather
from .grounds import draw_wake
from .layout import Occupancy, pack_blocks, place_stock
from .lookalikes import draw_crane
from .observe import footprint, observe
from .portmap import PortMap, assign_regions, port_map
from .render import Canvas, apply_shadows
from .scenery import paint_ground, quay_edges, rail_lines, scatter_objects
from .ships import ShipLayout, deck_block, draw_ship, ship_layout
from .weather import apply_snow, winter_rng

__all__ = ["RenderedScene", "SceneSpec", "ShipVisit", "StockSpec", "render_scene", "scene_id"]


@dataclass(frozen=True)
class ShipVisit:
    """A registry ship moored in an AOI berth with ``containers`` 20-ft containers on deck."""

    name: str
    berth: str
    containers: int


@dataclass(frozen=True)
class StockSpec:
    """``containers`` containers stacked in blocks inside AOI feature ``area``."""

    area: str
    containers: int
    kind: str = "20ft"  # "20ft" or "mixed"


@dataclass(frozen=True)
class SceneSpec:
    port: str
    acquired: datetime
    seed: int
    gsd_m: float = 0.5
    width: int = 2000
    height: int = 2000
    centre_xy_m: tuple[float, float] = (0.0, 0.0)  # UTM metres in the port's zone
    ships: tuple[ShipVisit, ...] = ()
    stock: tuple[StockSpec, ...] = ()
    rail_containers: int = 0
    background: float = 0.5  # 0..1: unrelated stock, wagons, vehicles, buildings
    cloud: float = 0.0  # cloud cover fraction of the frame
    cloud_target_xy_m: tuple[float, float] | None = None
    bits: int = 8
    bands: int = 3
    off_nadir_deg: float | None = None  # None: random 0-15
    snow: float = 0.0  # winter: snow/ice cover 0..1 (synth.weather; own random stream)
    family: str = "classic"  # rendering family (synth.families): same layout, another look
    extra_tags: dict = field(default_factory=dict)


@dataclass(frozen=True)
class RenderedScene:
    """``image`` uint8 [3, H, W] (8-bit) or uint16 [3|4, H, W] (11-bit); 0 = nodata.
    ``truth`` in scene pixels (all containers, hidden ones with ``visible`` False);
    ``region``/``ship`` per truth row; ``hulls`` in scene pixels."""

    spec: SceneSpec
    scene_id: str
    image: np.ndarray
    valid: np.ndarray
    transform: Affine
    epsg: int
    truth: Detections
    region: list[str]
    ship: list[str | None]
    hulls: tuple[Hull, ...]
    sun_elevation_deg: float
    sun_azimuth_deg: float
    off_nadir_deg: float
    view_azimuth_deg: float = 0.0  # where the satellite is seen from the scene (from north)

    @property
    def containers_total(self) -> int:
        return len(self.truth)

    @property
    def containers_visible(self) -> int:
        return int(self.truth.visible.sum())


def scene_id(port: str, acquired: datetime) -> str:
    """``<port>_<YYYYmmddTHHMM>Z`` (UTC)."""
    return f"{port}_{acquired.astimezone(UTC):%Y%m%dT%H%M}Z"


def _berth_ship(rng, pm: PortMap, land: np.ndarray, visit: ShipVisit, gsd: float) -> ShipLayout:
    import cv2

    spec = {s.name: s for s in load_registry()}.get(visit.name)
    if spec is None:
        raise ConfigError(f"ship {visit.name!r} is not in the registry labels/ships.json")
    if visit.containers > spec.deck_slots * 4:
        raise ConfigError(
            f"{visit.name}: {visit.containers} containers exceed {spec.deck_slots} slots x 4 tiers"
        )
    berth = pm.feature(visit.berth)
    (cx, cy), (w, h), ang = cv2.minAreaRect(berth.xy.astype(np.float32))
    theta = np.radians(ang) if w >= h else np.radians(ang) + np.pi / 2
    length, width = max(w, h), min(w, h)
    normal = np.array([-np.sin(theta), np.cos(theta)])
    probe = np.array([cx, cy]) + normal * (width / 2 + 3.0 / gsd)
    px, py = int(np.clip(probe[0], 0, pm.width - 1)), int(np.clip(probe[1], 0, pm.height - 1))
    if not land[py, px]:
        normal = -normal  # point towards the pier/quay
    beam_px, loa_px = spec.beam_m / gsd, spec.loa_m / gsd
    side = width / 2 - beam_px / 2 - rng.uniform(0.8, 2.5) / gsd
    along = rng.uniform(-1, 1) * max(length / 2 - loa_px / 2 - 5.0 / gsd, 0.0)
    c = np.array([cx, cy]) + normal * side + np.array([np.cos(theta), np.sin(theta)]) * along
    return ship_layout(
        rng, cx=float(c[0]), cy=float(c[1]), heading_rad=theta + rng.choice([0.0, np.pi]), gsd_m=gsd,
        length_m=spec.loa_m, beam_m=spec.beam_m, bridge_from_bow=spec.bridge_from_bow,
        deck_rows=spec.deck_rows, deck_bays=spec.deck_bays, cranes=spec.cranes, name=spec.name,
    )  # fmt: skip


def deck_tiers(rng, slots: int, containers: int) -> np.ndarray:
    """int [slots] stack heights 0-4 summing to ``containers`` (bay-major slot order): an
    even level with random +-1 moves; light loads fill whole bays from the bow."""
    if containers <= slots:
        t = np.zeros(slots, int)
        t[:containers] = 1
        return t
    mean = containers / slots
    t = np.full(slots, int(np.floor(mean)))
    extra = containers - int(t.sum())
    t[rng.choice(slots, extra, replace=False)] += 1
    for _ in range(slots // 2):  # shuffle some height between stacks, keep the sum
        i, j = rng.integers(slots, size=2)
        if t[i] < 4 and t[j] > 1:
            t[i] += 1
            t[j] -= 1
    return t


def _with_hidden(tops: Detections) -> Detections:
    """Visible tops plus tiers-1 hidden copies of each (same footprint, visible False)."""
    if len(tops) == 0:
        return tops
    n_hidden = np.maximum(tops.tiers.astype(int) - 1, 0)
    idx = np.repeat(np.arange(len(tops)), n_hidden)
    hidden = replace(tops.select(idx), visible=np.zeros(len(idx), bool))
    return Detections.concat([replace(tops, visible=np.ones(len(tops), bool)), hidden])


def render_scene(spec: SceneSpec) -> RenderedScene:
    """Render ``spec``; deterministic in ``spec.seed``. See the module docstring."""
    if spec.bits not in (8, 16) or spec.bands not in (3, 4) or (spec.bits == 8 and spec.bands == 4):
        raise ConfigError(
            f"scene: bits={spec.bits} bands={spec.bands}; use 8-bit RGB or 16-bit 3/4 bands"
        )
    if not (0.1 <= spec.gsd_m <= 2.0 and 64 <= spec.width <= 20000 and 64 <= spec.height <= 20000):
        raise ConfigError(
            f"scene: gsd {spec.gsd_m} m or size {spec.width}x{spec.height} out of range"
        )
    refuse_weather(check_family(spec.family), spec.cloud, spec.snow, "scene: family")
    rng = np.random.default_rng([int(spec.seed) & 0xFFFFFFFF, 0x5CE7E])
    g = float(spec.gsd_m)
    pm = port_map(
        spec.port, centre_xy_m=spec.centre_xy_m, gsd_m=g, width=spec.width, height=spec.height
    )
    canvas = Canvas.blank(spec.height, spec.width, g)
    canvas.notes = [] if spec.family != "classic" else None
    occ = Occupancy(pm.shape, strict_frame=True)
    valid = footprint(rng, pm.shape)
    import cv2

    margin = max(int(round(2.0 / g)), 1)
    kernel = np.ones((2 * margin + 1, 2 * margin + 1), np.uint8)
    inside = cv2.erode(valid.astype(np.uint8), kernel)
    land = paint_ground(canvas, rng, pm)
    water = 1 - land
    quay_edges(canvas, rng, pm, water)
    blocks: list[Block] = rail_lines(
        canvas,
        rng,
        pm,
        occ,
        loaded_containers=spec.rail_containers,
        background=spec.background,
        inside=inside,
    )
    rail_short = spec.rail_containers - sum(len(b.tops) for b in blocks)
    ships = []
    for visit in spec.ships:
        ship = _berth_ship(rng, pm, land, visit, g)
        draw_ship(canvas, ship, rng)
        occ.take(ship.hull_xy)
        tiers = deck_tiers(rng, len(ship.slots_xy), visit.containers)
        blocks.append(deck_block(rng, ship, tiers, rng.choice(["mixed", "dull", "brand"])))
        ships.append(ship)
    for _ in range(int(rng.poisson(1.5 * spec.background + 0.3))):
        draw_wake(canvas, rng, canvas.water)
    not_rail = 1 - pm.mask("rail")
    stock = list(spec.stock)
    if rail_short > 0:  # what the wagons could not take goes to the biggest yard
        yards = sorted(pm.of_kind("yard"), key=lambda f: -f.polygon.area) or list(
            pm.of_kind("quay", "pier")
        )
        stock.append(StockSpec(yards[0].name, rail_short))
    for st in stock:
        area = cv2.erode(pm.mask(st.area) & not_rail, kernel) & inside
        blocks += place_stock(
            rng, area, occ, st.containers, theta_rad=_axis(pm, st.area), gsd_m=g,
            origin_xy=tuple(pm.feature(st.area).xy.mean(axis=0)), kind=0 if st.kind == "20ft" else None,
            mean_tiers=rng.uniform(2.0, 3.2), colour_mode=rng.choice(["mixed", "dull"]),
        )  # fmt: skip
    if spec.background > 0:
        for f in pm.of_kind("yard", "quay"):
            area = cv2.erode(pm.mask(f.name) & not_rail, kernel) & inside
            for _ in range(2):
                blocks += pack_blocks(
                    rng, area, occ, theta_rad=_axis(pm, f.name), gsd_m=g,
                    origin_xy=tuple(f.xy.mean(axis=0) + rng.uniform(-50, 50, 2)),
                    density=0.5 * spec.background * rng.uniform(0.3, 1.0), tiers=(1, 4), big=0.8,
                )  # fmt: skip
        features = pm.mask("pier", "quay", "yard", "rail", "berth")
        port_land = land & pm.mask("port") & (1 - features) & inside
        scatter_objects(
            canvas, rng, occ, port_land, int(40 * spec.background), ("shed", "truck", "car")
        )
        scatter_objects(
            canvas, rng, occ, land & features & not_rail & inside, int(60 * spec.background)
        )
        town = land & (1 - pm.mask("port"))
        scatter_objects(canvas, rng, occ, town, int(120 * spec.background), ("shed", "car"))
    off_nadir = float(rng.uniform(0.0, 15.0) if spec.off_nadir_deg is None else spec.off_nadir_deg)
    lean_dir = rng.uniform(0, 2 * np.pi)
    lean = np.tan(np.radians(off_nadir)) / g * np.array([np.cos(lean_dir), np.sin(lean_dir)])
    lon, lat = _lonlat(pm)
    when = spec.acquired if spec.acquired.tzinfo else spec.acquired.replace(tzinfo=UTC)
    if spec.family != "classic":  # classic draws first only to keep the random stream in step
        draw_containers(canvas, blocks, rng, lean_px_per_m=(float(lean[0]), float(lean[1])))
        _cranes(canvas, rng, pm, water, ships)  # noted, drawn by the family with the rest
        elev, az = sun_position(when, lon, lat)
        image, tops, stand = family_scene_image(
            spec.family, canvas, blocks, seed=spec.seed, bits=spec.bits, bands=spec.bands,
            valid=valid, lean_px_per_m=(float(lean[0]), float(lean[1])),
            sun_elevation_deg=elev, sun_azimuth_deg=az, snow=spec.snow,
        )  # fmt: skip
    else:
        tops = draw_containers(canvas, blocks, rng, lean_px_per_m=(float(lean[0]), float(lean[1])))
        _cranes(canvas, rng, pm, water, ships)
        elev, az = sun_position(when, lon, lat)
        apply_snow(canvas, winter_rng(spec.seed), spec.snow)
        apply_shadows(canvas, max(elev, 5.0), az, ambient=float(rng.uniform(0.3, 0.5)))
        image = observe(canvas, rng, spec, pm, az, valid)
        stand = None
    keep = np.ones(len(tops), bool)
    if len(tops):  # a container outside the footprint is not in the scene
        keep = valid[
            np.clip(tops.cy.astype(int), 0, spec.height - 1),
            np.clip(tops.cx.astype(int), 0, spec.width - 1),
        ]
        tops = tops.select(keep)
    truth = _with_hidden(tops)
    hull_polys = [(s.name, s.hull_xy) for s in ships]
    # regions by where a stack stands, not where its leaning top is seen
    stand_m = truth.tiers.astype(np.float64) * TIER_HEIGHT_M
    base = replace(truth, cx=truth.cx - stand_m * lean[0], cy=truth.cy - stand_m * lean[1])
    if stand is not None:  # other families lean a stack by its full height above ground
        base = _with_hidden(stand.select(keep))
    region, ship_of = assign_regions(pm, base, hull_polys)
    hulls = tuple(
        Hull(s.hull_xy, s.length_m, s.beam_m, s.bridge_from_bow, s.name, 1.0) for s in ships
    )
    return RenderedScene(
        spec=spec, scene_id=scene_id(spec.port, when), image=image, valid=valid,
        transform=pm.transform, epsg=pm.epsg, truth=truth, region=region, ship=ship_of,
        hulls=hulls, sun_elevation_deg=float(elev), sun_azimuth_deg=float(az), off_nadir_deg=off_nadir,
        view_azimuth_deg=_view_azimuth(lean_dir),
    )  # fmt: skip


def _view_azimuth(lean_dir: float) -> float:
    """The satellite's azimuth from the scene: tops lean along ``lean_dir`` (radians from
    the image's x axis, y down, north up), away from the satellite."""
    away = math.degrees(math.atan2(math.cos(lean_dir), -math.sin(lean_dir)))
    return float((away + 180.0) % 360.0)


def _axis(pm: PortMap, name: str) -> float:
    """Direction of the long axis of an AOI feature (pixels, from +x towards +y)."""
    import cv2

    (_, _), (w, h), ang = cv2.minAreaRect(pm.feature(name).xy.astype(np.float32))
    return float(np.radians(ang) if w >= h else np.radians(ang) + np.pi / 2)


def _lonlat(pm: PortMap) -> tuple[float, float]:
    from pyproj import Transformer

    x, y = pm.to_map(pm.width / 2, pm.height / 2)
    lon, lat = Transformer.from_crs(pm.epsg, 4326, always_xy=True).transform(float(x), float(y))
    return float(lon), float(lat)


def _cranes(canvas: Canvas, rng, pm: PortMap, water: np.ndarray, ships: list[ShipLayout]) -> None:
    """Ship-to-shore cranes on quays facing water, parked away from moored ships."""
    if pm.port == "rajin":
        return
    g = canvas.gsd_m
    for f in pm.of_kind("quay"):
        xy = f.xy
        x0, x1 = xy[:, 0].min(), xy[:, 0].max()
        y_edge = xy[:, 1].max()  # seaward (south) edge in pixels
        for x in np.arange(x0 + 30 / g, x1 - 30 / g, rng.uniform(60, 140) / g):
            if not (0 <= x < pm.width and 0 <= y_edge < pm.height):
                continue
            if any(abs(x - s.hull_xy[:, 0].mean()) < s.length_m / g for s in ships):
                continue
            if rng.random() < 0.6:
                y = float(y_edge - 10 / g)
                draw_crane(canvas, rng, float(x), y, np.pi / 2, rng.uniform(45, 60), "sts")
