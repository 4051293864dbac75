"""Random training patches for the detector: :func:`training_sample`.

Each sample is a small port scene drawn at a random native GSD (0.3-0.6 m), passed through a
random sensor (blur, noise, haze, gamma, colour balance, JPEG, sometimes cloud) and resampled
to ``out_gsd_m`` exactly as inference resamples real scenes. Settings: container yards,
quay edges with a ship alongside, ship decks, rail sidings with wagons, open water, and
built-up land; about one in twelve is empty of objects. Look-alikes (trucks, buses, cars,
wagons, roofs, hatch covers, cranes) are drawn but never labelled.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from ..errors import ConfigError
from .containers import draw_containers
from .grounds import draw_bollards, draw_markings, draw_tracks, draw_wake
from .layout import Occupancy, pack_blocks, scatter_singles
from .lookalikes import (
    WAGON_KINDS,
    draw_bus,
    draw_car,
    draw_crane,
    draw_hatch_cover,
    draw_shed,
    draw_truck,
    draw_wagon,
)
from .record import Ground, note
from .render import Canvas, apply_shadows
from .sample import TrainingSample, crop_sample
from .sensor import apply_sensor, cloud_alpha, random_sensor, resample
from .ships import deck_block, draw_ship, ship_layout
from .textures import local_uv, material
from .weather import apply_snow, deep_draw, draw_winter, winter_rng

__all__ = [
    "SETTINGS",
    "TRAIN_SEED_BASE",
    "TrainingSample",
    "crop_sample",
    "sample_seed",
    "stream_sample",
    "training_sample",
]

SETTINGS = ("yard", "quay", "deck", "rail", "water", "land")
_WEIGHTS = np.array([0.27, 0.22, 0.27, 0.1, 0.05, 0.09])
_MARGIN_PX = 8  # output pixels rendered beyond each edge, then cropped (blur, shadows)


def _band(v: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return ((v >= lo) & (v < hi)).astype(np.uint8)


def _paint(canvas: Canvas, rng, mask: np.ndarray, kind: str, theta: float) -> None:
    sel = mask.astype(bool)
    if sel.any():
        tex = material(rng, canvas.shape, kind, canvas.gsd_m, theta)
        np.copyto(canvas.rgb, tex, where=sel[..., None])
        canvas.water[sel] = 1 if kind == "water" else 0
        note(canvas, Ground(str(kind), sel))


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


def _compose(rng, canvas: Canvas, setting: str, empty: bool):
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
        _paint(canvas, rng, full, rng.choice(["asphalt", "concrete", "concrete"]), theta)
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
        _paint(canvas, rng, water, "water", rng.uniform(0, np.pi))
        quay_w = rng.uniform(15.0, 60.0) / g
        quay = _band(v, edge, edge + quay_w)
        _paint(canvas, rng, quay, "concrete", theta)
        yard = _band(v, edge + quay_w, 1e9)
        _paint(canvas, rng, yard, rng.choice(["asphalt", "concrete"]), theta)
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
        _paint(canvas, rng, full, ground, theta)
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
        _paint(canvas, rng, full, rng.choice(["grass", "soil", "asphalt", "concrete"]), theta)
        road = _band(np.abs(v) + 0.0, -1, rng.uniform(3.0, 8.0) / g)
        _paint(canvas, rng, road, "asphalt", theta)
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


#: Synthetic training samples use seeds >= this; keep test sets below it.
TRAIN_SEED_BASE = 1_000_000
_SEEDS_PER_RUN = 100_000_000


def sample_seed(run_seed: int, k: int) -> int:
    """Seed of the k-th synthetic sample of a training run seeded ``run_seed``."""
    return TRAIN_SEED_BASE + run_seed * _SEEDS_PER_RUN + k


def stream_sample(k: int, *, make: Callable[..., Any], run_seed: int, size_px: int) -> Any:
    """The k-th sample of training run ``run_seed``: ``make(sample_seed(run_seed, k),
    size_px=size_px)``. Module-level so that worker processes can run it; with ``make`` a
    partial of :func:`training_sample` they never import torch."""
    return make(sample_seed(run_seed, k), size_px=size_px)


def training_sample(
    seed: int,
    *,
    size_px: int = 256,
    out_gsd_m: float = 0.4,
    snow: float = 0.0,
    deep_snow: float = 0.0,
    family: str = "classic",
    families: Mapping[str, float] | None = None,
    layouts: str = "v1",
    setting_weights: Mapping[str, float] | None = None,
    compose: Callable[..., Any] | None = None,
) -> TrainingSample:
    """A random labelled patch of ``size_px`` x ``size_px`` at ``out_gsd_m``; deterministic in
    ``seed``. With probability ``snow`` it is a winter scene (snow 20-90 % cover, sea ice;
    :func:`detector.synth.weather.apply_snow`), drawn from its own random stream so every
    other choice of the sample stays as with ``snow=0``. In ``deep_snow`` of the winter
    samples the tops carry deep snow: white edge to edge, the joints between boxes gone
    (``apply_snow(deep=True)`` and its counterparts in the other families; 0 draws nothing,
    so the samples stay as before). See :class:`TrainingSample` for the fields and frames.

    ``family`` names the rendering family (:data:`detector.synth.families.FAMILIES`): the
    layout and truth come from ``seed`` alone, the family only changes how it is drawn
    (``"classic"``: this module's renderer; ``"flat"``:
    :func:`detector.synth.families.flat.flat_sample`; ``"photo"``:
    :func:`detector.synth.families.photo.photo_sample`, which snows in ``max(snow, 0.12)``
    of its samples; ``"relief"``: :func:`detector.synth.families.relief.relief_sample`;
    ``"oblique"``: :func:`detector.synth.families.oblique.oblique_sample`).
    ``families``, a mix such as
    ``{"classic": 0.5, "flat": 0.5}``, picks the family per sample from the seed instead
    (:func:`detector.synth.families.pick_family`).

    ``layouts`` picks the layout generator: ``"v1"`` (the shipped recipe's, this module's
    composer) or ``"v2"`` (:mod:`detector.synth.terminal`: terminal layouts real ports
    have, occlusion by spreaders, and hard-negative settings such as bus depots);
    ``setting_weights`` replaces the weights of the v2 settings it names
    (:func:`detector.synth.terminal.setting_shares`; ``{"town": 0.15}``: town blocks three
    times as often as shipped, before renormalising).
    ``compose(rng, canvas)``, when given, lays the patch out instead of a random setting
    (evaluation scenes, :mod:`detector.synth.lookalike_scenes`); it returns (blocks,
    cranes, theta, spreaders) like :func:`detector.synth.terminal.compose_v2`, and its
    ``setting`` attribute names the sample's setting."""
    from .families.registry import check_family, family_sampler, pick_family

    if int(size_px) < 32 or int(size_px) > 4096:
        raise ConfigError(f"training_sample: size_px={size_px} outside 32..4096")
    if not 0.05 <= float(out_gsd_m) <= 5.0:
        raise ConfigError(f"training_sample: out_gsd_m={out_gsd_m} outside 0.05..5 m")
    family = pick_family(seed, families) if families is not None else check_family(family)
    if layouts not in ("v1", "v2"):
        raise ConfigError(f"training_sample: layouts={layouts!r}; expected 'v1' or 'v2'")
    if not 0.0 <= float(deep_snow) <= 1.0:
        raise ConfigError(f"training_sample: deep_snow={deep_snow} outside 0..1")
    if setting_weights and layouts != "v2":
        raise ConfigError("training_sample: setting_weights needs layouts='v2'")
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, 0x5EED])
    n_out = int(size_px) + 2 * _MARGIN_PX
    n_nat = max(int(round(n_out * out_gsd_m / rng.uniform(0.3, 0.6))), 16)
    g = n_out * float(out_gsd_m) / n_nat
    canvas = Canvas.blank(n_nat, n_nat, g)
    spreaders: list = []
    if layouts == "v1":
        setting = str(rng.choice(SETTINGS, p=_WEIGHTS / _WEIGHTS.sum()))
    else:
        from .terminal import SETTINGS_V2, compose_v2, setting_shares

        setting = str(rng.choice(SETTINGS_V2, p=setting_shares(setting_weights)))
    empty = rng.random() < 0.08
    if family != "classic":
        canvas.notes = []
    if compose is not None:
        setting = str(getattr(compose, "setting", "custom"))
        blocks, cranes, theta, spreaders = compose(rng, canvas)
    elif layouts == "v1":
        blocks, cranes, theta = _compose(rng, canvas, setting, empty)
    else:
        blocks, cranes, theta, spreaders = compose_v2(rng, canvas, setting, empty)
    if family != "classic":
        deep = {"deep_snow": float(deep_snow)} if deep_snow > 0 else {}
        if deep and family == "oblique":  # the held-out family draws its own winter only
            raise ConfigError("training_sample: deep_snow is not drawn by the oblique family")
        return family_sampler(family)(
            seed, canvas, blocks, cranes, setting, size_px=int(size_px),
            out_gsd_m=float(out_gsd_m), margin_px=_MARGIN_PX, snow=float(snow), **deep,
        )  # fmt: skip
    lean = (0.0, 0.0)
    if rng.random() < 0.6:  # off-nadir view: stack sides show, tops shift away from the satellite
        off = np.tan(np.radians(rng.uniform(0.0, 25.0))) / g
        a = rng.uniform(0, 2 * np.pi)
        lean = (off * np.cos(a), off * np.sin(a))
    tops = draw_containers(canvas, blocks, rng, lean_px_per_m=lean)
    if spreaders:
        from .terminal import draw_spreaders

        draw_spreaders(canvas, rng, spreaders, lean)
    for cx_, cy_, ang, span, kind in cranes:
        draw_crane(canvas, rng, cx_, cy_, ang, span, kind)
    if snow > 0.0:
        winter = winter_rng(seed)
        cover = draw_winter(winter, snow, 0.2, 0.9)
        apply_snow(canvas, winter, cover, deep=deep_draw(winter, cover, float(deep_snow)))
    elev, az = float(rng.uniform(15.0, 75.0)), float(rng.uniform(0.0, 360.0))
    apply_shadows(canvas, elev, az, ambient=float(rng.uniform(0.28, 0.6)))
    cloud = None
    shift = (0.0, 0.0)
    if rng.random() < 0.07:
        cloud = cloud_alpha(rng, canvas.shape, g, rng.uniform(0.1, 0.6))
        d = rng.uniform(20.0, 80.0) / g
        shift = (-np.sin(np.radians(az)) * d, np.cos(np.radians(az)) * d)
    img = apply_sensor(canvas.rgb, random_sensor(rng), rng, cloud=cloud, cloud_shift_px=shift)
    method = (
        str(rng.choice(["area", "linear", "cubic"]))
        if n_nat > n_out
        else str(rng.choice(["linear", "cubic"]))
    )
    out = np.clip(resample(img, (n_out, n_out), method), 0, 1)
    hull = resample(canvas.hull.astype(np.float32), (n_out, n_out), "area") > 0.5
    bridge = resample(canvas.bridge.astype(np.float32), (n_out, n_out), "area") > 0.5
    m, s = _MARGIN_PX, int(size_px)
    dets = tops
    if len(dets) and cloud is not None:
        ix = np.clip(dets.cx.astype(int), 0, n_nat - 1)
        iy = np.clip(dets.cy.astype(int), 0, n_nat - 1)
        dets = dets.select(cloud[iy, ix] < 0.6)
    return crop_sample(out, dets.scaled(n_out / n_nat), hull, bridge, margin_px=m, size_px=s,
                       native_gsd_m=g, out_gsd_m=out_gsd_m, sun=(elev, az), setting=setting)  # fmt: skip
