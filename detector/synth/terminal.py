"""The v2 layouts of training patches: what real terminals have, and hard negatives.

``training_sample(..., layouts="v2")`` draws its setting from :data:`SETTINGS_V2` and lays
it out with :func:`compose_v2` (v1, the shipped recipe, is untouched):

- ``yard``: blocks with gaps and odd stack heights, reefer rows with their power racks,
  empties stacked 5-7 high, chassis with containers in the aisles, RTG cranes with a
  spreader lowered over a stack (that stack's top is covered: ``visible`` False);
- ``quay`` / ``deck``: container ships with many deck patterns (full, partial from one end,
  holes, stepped across the beam, alternate hatches, empty; 40-ft pairs), lashing bridges
  between hatches, hatch covers where bays are empty, an STS crane whose spreader covers a
  deck stack; chassis with containers on the apron;
- ``rail``: flat cars with containers (labelled, sometimes double-stacked) between boxcars,
  tank cars and gondolas (never labelled);
- ``road``: a gate queue of trucks with containers on chassis (labelled) and trucks and
  trailers without (not);
- ``water``, ``land``: as v1; the six :data:`~detector.synth.negatives.NEGATIVE_SETTINGS`
  (bus depots, truck parks, rail yards, bulk carriers, town blocks, fields) hold no
  container at all.

Frame: render pixels of the canvas (x right, y down); heights in metres.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np

from ..detections import CONTAINER_SIZE_M, KIND_20FT, KIND_40FT, TIER_HEIGHT_M
from .containers import Block, make_block
from .decks import container_ship
from .grounds import draw_bollards, draw_markings, draw_tracks
from .layout import Occupancy, pack_blocks
from .lookalikes import _box, _outline, draw_hatch_cover, draw_truck, draw_wagon
from .negatives import NEGATIVE_SETTINGS, compose_negative, draw_trailer, paint
from .record import box_part, note
from .render import BoxStyle, Canvas
from .textures import local_uv

__all__ = [
    "LAYOUTS",
    "REGION_OF",
    "SETTINGS_V2",
    "Spreader",
    "compose_v2",
    "setting_shares",
    "draw_chassis",
    "draw_spreaders",
]

LAYOUTS = ("v1", "v2")
SETTINGS_V2 = ("yard", "quay", "deck", "rail", "road", "water", "land") + NEGATIVE_SETTINGS
WEIGHTS_V2 = np.array(
    [0.17, 0.11, 0.15, 0.09, 0.06, 0.03, 0.04, 0.08, 0.06, 0.06, 0.06, 0.05, 0.04, 0.0]
)  # carpark (added 2026-12-04) weighs 0 here, so these samples stay what they were


def setting_shares(weights: Mapping[str, float] | None = None) -> np.ndarray:
    """The probability of each of :data:`SETTINGS_V2`: :data:`WEIGHTS_V2` with the settings
    named in ``weights`` set to those weights, renormalised."""
    w = WEIGHTS_V2.copy()
    if weights:
        from .mixes import check_setting_weights

        for name, weight in check_setting_weights(weights).items():
            w[SETTINGS_V2.index(name)] = weight
    return w / w.sum()


#: the region a setting's containers belong to (evaluation); other settings: "other"
REGION_OF = {"yard": "yard", "road": "yard", "quay": "quay", "deck": "deck", "rail": "rail"}
_L20, _W = CONTAINER_SIZE_M[KIND_20FT]
_L40 = CONTAINER_SIZE_M[KIND_40FT][0]
_SPREADER_M = 0.6  # spreader frame thickness


@dataclass(frozen=True)
class Spreader:
    """A spreader hanging ``lift_m`` above the top of stack ``index`` of ``block`` (which
    it covers). The classic family draws it after the containers (:func:`draw_spreaders`);
    other families get it as a noted part."""

    block: Block
    index: int
    lift_m: float


def _band(v, lo, hi) -> np.ndarray:
    return ((v >= lo) & (v < hi)).astype(np.uint8)


def _xy(centre, theta, u, v) -> tuple[float, float]:
    c, s = np.cos(theta), np.sin(theta)
    return centre[0] + u * c - v * s, centre[1] + u * s + v * c


def _cover(rng, canvas: Canvas, blocks: list[Block], k: int) -> tuple[list[Block], Spreader]:
    """Hang a spreader over a random stack of ``blocks[k]``: that top becomes not visible;
    note the spreader as a part. Returns the new blocks and the spreader."""
    b = blocks[k]
    i = int(rng.integers(len(b.tops)))
    vis = b.tops.visible.copy()
    vis[i] = False
    nb = Block(replace(b.tops, visible=vis), b.rgb, b.base_m)
    lift = float(rng.uniform(0.2, 0.8))
    t = nb.tops
    base = float(b.base_m[i] + t.tiers[i] * TIER_HEIGHT_M + lift)
    g = canvas.gsd_m
    note(canvas, box_part("crane:spreader", t.cx[i], t.cy[i], t.length_px[i] + 0.3 / g,
                          t.width_px[i] + 0.2 / g, t.angle_rad[i], base + _SPREADER_M, base))  # fmt: skip
    return blocks[:k] + [nb] + blocks[k + 1 :], Spreader(nb, i, lift)


def draw_spreaders(canvas: Canvas, rng, spreaders: list[Spreader], lean_px_per_m) -> None:
    """Classic family: draw each spreader over its stack as seen (a stack's top is shifted by
    its height x lean, the spreader by its own), after the containers."""
    g = canvas.gsd_m
    lx, ly = lean_px_per_m
    for sp in spreaders:
        t, i = sp.block.tops, sp.index
        stack_m = float(t.tiers[i]) * TIER_HEIGHT_M + sp.lift_m
        col = np.float32((0.85, 0.7, 0.15)) * np.float32(rng.uniform(0.8, 1.1))
        top = float(sp.block.base_m[i]) + stack_m + _SPREADER_M
        # no note: the spreader was noted when it was hung (_cover)
        notes, canvas.notes = canvas.notes, None
        _box(canvas, rng, t.cx[i] + stack_m * lx, t.cy[i] + stack_m * ly,
             t.length_px[i] + 0.3 / g, t.width_px[i] + 0.2 / g, t.angle_rad[i], col, top,
             BoxStyle(edge_dark=0.5, rim_m=0.4), kind="crane:spreader")  # fmt: skip
        canvas.notes = notes


def draw_chassis(canvas: Canvas, rng, cx: float, cy: float, angle_rad: float, load: str):
    """A terminal tractor or truck with a skeletal chassis carrying ``load``: ``"40"`` one
    40-ft, ``"20"`` one or two 20-ft containers, ``""`` none. Returns (footprint, Block or
    None); the containers are returned, not drawn (they are labelled)."""
    g = canvas.gsd_m
    c, s = np.cos(angle_rad), np.sin(angle_rad)
    cab_u = (_L40 / 2 + 1.6) / g
    _box(canvas, rng, cx + cab_u * c, cy + cab_u * s, 2.6 / g, 2.45 / g, angle_rad,
         np.float32(rng.choice([0.85, 0.2, 0.7])) * np.float32((1, 0.95, 0.8)), 3.0,
         BoxStyle(end_dark=0.3, end_m=0.6), kind="truck:cab")  # fmt: skip
    for side in (-0.8, 0.8):
        _box(canvas, rng, cx - side * s / g, cy + side * c / g, (_L40 + 0.2) / g, 0.3 / g,
             angle_rad, np.float32((0.2, 0.2, 0.22)), 1.3, kind="chassis:frame")  # fmt: skip
    block = None
    if load:
        twenty = load == "20"
        block = make_block(
            rng, cx=cx, cy=cy, angle_rad=angle_rad % np.pi, bays=2 if twenty else 1, rows=1,
            gsd_m=g, kind=KIND_20FT if twenty else KIND_40FT, gap_end_m=0.05,
            fill=rng.uniform(0.5, 1.0) if twenty else 1.0, tiers=(1, 1), base_m=1.4,
        )  # fmt: skip
    return _outline(cx + 1.8 / g * c, cy + 1.8 / g * s, (_L40 + 4.2) / g, 2.8 / g, angle_rad), block


def _place_chassis(rng, canvas, occ, allowed, n: int, theta: float, blocks: list) -> None:
    ys, xs = np.nonzero(allowed)
    if len(ys) == 0:
        return
    for _ in range(n):
        i = rng.integers(len(ys))
        ang = theta + rng.choice([0, np.pi / 2, np.pi]) + rng.normal(0, 0.03)
        load = str(rng.choice(["40", "20", "40", ""]))
        sub = int(rng.integers(1 << 31))
        x, y = xs[i] + 0.5, ys[i] + 0.5
        poly, _ = draw_chassis(
            Canvas.blank(1, 1, canvas.gsd_m), np.random.default_rng(sub), x, y, ang, load
        )
        if occ.free(poly, allowed):
            occ.take(poly)
            _, blk = draw_chassis(canvas, np.random.default_rng(sub), x, y, ang, load)
            if blk is not None:
                blocks.append(blk)


def _odd(rng, blocks: list[Block], hi: int) -> list[Block]:
    """Some blocks get independent stack heights 1..``hi`` (odd heights, gaps)."""
    out = []
    for b in blocks:
        if len(b.tops) and rng.random() < 0.5:
            t = rng.integers(1, hi + 1, len(b.tops)).astype(np.float32)
            b = Block(replace(b.tops, tiers=t), b.rgb, b.base_m)
        out.append(b)
    return out


def _reefer_lane(rng, canvas, occ, allowed, centre, theta) -> list[Block]:
    """Two double rows of 40-ft reefers (mostly white) with a power rack between them."""
    g = canvas.gsd_m
    bays = int(rng.integers(3, 9))
    gap = rng.uniform(1.2, 2.0)
    length = bays * (_L40 + 0.3)
    width = 4 * (_W + 0.1) + gap
    off = rng.normal(0, canvas.shape[0] / 5)
    cx, cy = _xy(centre, theta, rng.normal(0, canvas.shape[1] / 6), off)
    poly = _outline(cx, cy, length / g, width / g, theta)
    if not occ.free(poly, allowed):
        return []
    occ.take(poly)
    out = []
    for side in (-1, 1):
        v = side * (gap / 2 + _W + 0.1) / g
        bx, by = _xy((cx, cy), theta, 0.0, v)
        b = make_block(rng, cx=bx, cy=by, angle_rad=theta % np.pi, bays=bays, rows=2, gsd_m=g,
                       kind=KIND_40FT, gap_end_m=0.3, fill=rng.uniform(0.7, 1.0), tiers=(1, 3))  # fmt: skip
        white = np.float32((0.88, 0.89, 0.88)) * rng.uniform(0.85, 1.05, (len(b.tops), 1))
        rgb = np.where(rng.random((len(b.tops), 1)) < 0.8, white, b.rgb).astype(np.float32)
        out.append(Block(b.tops, rgb, b.base_m))
    top = float(rng.uniform(3.0, 8.0))
    _box(canvas, rng, cx, cy, length / g, min(gap, 1.2) / g, theta, np.float32((0.6, 0.6, 0.55)),
         top, BoxStyle(stripe_pitch_m=1.5, stripe_amp=0.2, edge_dark=0.3), kind="reefer:rack")  # fmt: skip
    return out


def _town_edge(rng, canvas: Canvas, occ: Occupancy, town: np.ndarray, theta: float) -> None:
    """Roofs with HVAC units, sheds, cars and a bus in ``town`` (never labelled)."""
    import functools

    from .lookalikes import draw_bus, draw_car, draw_shed
    from .negatives import _scatter, _sized, draw_roof_with_units

    paint(canvas, rng, town, str(rng.choice(["grass", "asphalt", "concrete"])), theta)
    for _ in range(int(rng.integers(2, 7))):
        fn = draw_roof_with_units if rng.random() < 0.6 else draw_shed
        draw = functools.partial(_sized, fn, rng.uniform(8.0, 40.0), rng.uniform(6.0, 25.0))
        _scatter(canvas, rng, occ, town, draw, 1, theta)
    _scatter(canvas, rng, occ, town, draw_car, int(rng.integers(2, 15)), theta)
    _scatter(canvas, rng, occ, town, draw_bus, int(rng.integers(0, 2)), theta)


def compose_v2(rng, canvas: Canvas, setting: str, empty: bool):
    """Lay out a v2 ``setting`` on ``canvas``. Returns (container blocks, cranes as
    (cx, cy, angle, span_m, kind), theta, spreaders)."""
    if setting in NEGATIVE_SETTINGS:
        return (*compose_negative(rng, canvas, setting, empty), [])
    if setting in ("water", "land"):
        from .compose_v1 import compose

        return (*compose(rng, canvas, setting, empty), [])
    h, w = canvas.shape
    g = canvas.gsd_m
    occ = Occupancy((h, w))
    theta = rng.uniform(0, np.pi)
    centre = (w / 2 + rng.normal(0, w / 6), h / 2 + rng.normal(0, h / 6))
    u, v = local_uv((h, w), theta, centre)
    full = np.ones((h, w), np.uint8)
    blocks: list[Block] = []
    cranes: list = []
    spreaders: list[Spreader] = []
    if setting in ("yard", "road"):
        paint(canvas, rng, full, str(rng.choice(["asphalt", "concrete", "concrete"])), theta)
        draw_markings(canvas, rng, full, u, v)
        if not empty and setting == "road":  # gate queue: lanes of trucks, some loaded
            for lane in range(int(rng.integers(1, 4))):
                x, y = _xy(
                    centre, theta, rng.uniform(-w, -w / 2), (lane - 1) * rng.uniform(3.5, 4.5) / g
                )
                for _ in range(12):
                    kind = rng.random()
                    sub = np.random.default_rng(int(rng.integers(1 << 31)))
                    if kind < 0.55:
                        poly, blk = draw_chassis(
                            canvas, sub, x, y, theta, str(rng.choice(["40", "20", "40"]))
                        )
                        blocks += [blk] if blk is not None else []
                    elif kind < 0.8:
                        poly = draw_truck(canvas, sub, x, y, theta)
                    else:
                        poly = draw_trailer(canvas, sub, x, y, theta)
                    occ.take(poly)
                    step = (
                        np.ptp(poly @ np.array([np.cos(theta), np.sin(theta)]))
                        + rng.uniform(1.0, 6.0) / g
                    )
                    x, y = x + step * np.cos(theta), y + step * np.sin(theta)
        elif not empty:
            yard = full
            if rng.random() < 0.2:  # the town next to the port, behind the fence
                town = _band(v, rng.uniform(0.0, 0.35) * h, 1e9)
                yard = full - town
                _town_edge(rng, canvas, occ, town, theta)
            if rng.random() < 0.4:
                blocks += _reefer_lane(rng, canvas, occ, yard, centre, theta)
            hi = rng.random() < 0.3  # empties stacked high
            blocks += pack_blocks(
                rng, yard, occ, theta_rad=theta, gsd_m=g, origin_xy=centre,
                density=rng.uniform(0.4, 0.95), fill=rng.uniform(0.5, 1.0),
                tiers=(5, 7) if hi else (1, 5), kind_mix=0.8 if hi else 0.5,
                colour_mode="dull" if hi and rng.random() < 0.5 else None,
            )  # fmt: skip
            blocks = _odd(rng, blocks, 6)
            _place_chassis(rng, canvas, occ, yard, int(rng.integers(0, 5)), theta, blocks)
            if rng.random() < 0.4 and any(len(b.tops) for b in blocks):
                k = int(rng.choice([i for i, b in enumerate(blocks) if len(b.tops)]))
                blocks, sp = _cover(rng, canvas, blocks, k)
                spreaders.append(sp)
                t = sp.block.tops
                cranes.append((t.cx[sp.index], t.cy[sp.index], theta, rng.uniform(20, 30), "rtg"))
    elif setting in ("quay", "deck"):
        edge = (rng.uniform(-0.3, 0.3) if setting == "quay" else rng.uniform(0.3, 0.9)) * h
        water = _band(v, -1e9, edge)
        paint(canvas, rng, water, "water", rng.uniform(0, np.pi))
        apron = _band(v, edge, edge + rng.uniform(15.0, 60.0) / g)
        paint(canvas, rng, apron, "concrete", theta)
        yard = (1 - water) & (1 - apron)
        paint(canvas, rng, yard, str(rng.choice(["asphalt", "concrete"])), theta)
        if (1 - water).any() and rng.random() < 0.6:
            draw_bollards(canvas, rng, u, v, edge, theta, centre)
        if not empty and (setting == "deck" or rng.random() < 0.7):
            beam = rng.uniform(14, 30) / g
            sv = (
                edge - beam / 2 - rng.uniform(0.5, 3.0) / g
                if setting == "quay"
                else rng.normal(0, h / 8)
            )
            sx, sy = _xy(centre, theta, rng.normal(0, w / 3), sv)
            deck = container_ship(rng, canvas, occ, sx, sy, theta + rng.choice([0, np.pi]))
            blocks += deck
            if deck and rng.random() < 0.4:  # an STS crane's spreader over a deck stack
                blocks, sp = _cover(rng, canvas, blocks, len(blocks) - 1)
                spreaders.append(sp)
                t = sp.block.tops
                boom = rng.uniform(40, 60)
                a = theta - np.pi / 2
                x0 = t.cx[sp.index] - np.cos(a) * boom * 0.35 / g
                y0 = t.cy[sp.index] - np.sin(a) * boom * 0.35 / g
                cranes.append((x0, y0, a, boom, "sts"))
        if not empty:
            land = (1 - water).astype(np.uint8)
            blocks += _odd(rng, pack_blocks(rng, yard, occ, theta_rad=theta, gsd_m=g, origin_xy=centre,
                                            density=rng.uniform(0.2, 0.9), tiers=(1, 5)), 5)  # fmt: skip
            _place_chassis(rng, canvas, occ, apron, int(rng.integers(0, 6)), theta, blocks)
            if rng.random() < 0.3:  # hatch covers set down on the quay
                for _ in range(int(rng.integers(1, 5))):
                    i = rng.integers(max(int(land.sum()), 1))
                    ys, xs = np.nonzero(land)
                    if len(ys):
                        sub = int(rng.integers(1 << 31))
                        p = draw_hatch_cover(
                            Canvas.blank(1, 1, g), np.random.default_rng(sub), xs[i], ys[i], theta
                        )
                        if occ.free(p, land):
                            occ.take(p)
                            draw_hatch_cover(
                                canvas, np.random.default_rng(sub), xs[i], ys[i], theta
                            )
    else:  # rail: flat cars with containers between boxcars, tank cars and gondolas
        paint(canvas, rng, full, str(rng.choice(["concrete", "asphalt", "soil", "grass"])), theta)
        n_tracks = int(rng.integers(2, 7))
        spacing = rng.uniform(4.5, 6.0) / g
        v0 = rng.uniform(-h / 3, 0)
        tracks = [v0 + k * spacing for k in range(n_tracks)]
        paint(canvas, rng, _band(v, v0 - spacing / 2, tracks[-1] + spacing / 2), "ballast", theta)
        draw_tracks(canvas, rng, u, v, tracks)
        if not empty:
            for tv in tracks:
                pos = rng.uniform(-w, -w / 2)
                while pos < w:
                    x, y = _xy(centre, theta, pos, tv)
                    kind = str(
                        rng.choice(["flat", "box", "tank", "gondola"], p=[0.5, 0.22, 0.18, 0.1])
                    )
                    poly, blk = draw_wagon(
                        canvas, rng, x, y, theta, kind, loaded=rng.random() < 0.8
                    )
                    occ.take(poly)
                    if blk is not None:
                        if rng.random() < 0.15:  # double-stack: the lower box is hidden
                            blk = Block(
                                replace(blk.tops, tiers=blk.tops.tiers * 2), blk.rgb, blk.base_m
                            )
                        blocks.append(blk)
                    pos += (
                        np.ptp(poly @ np.array([np.cos(theta), np.sin(theta)]))
                        + rng.uniform(0.3, 1.5) / g
                    )
            side = _band(v, tracks[-1] + 3 / g, 1e9)
            blocks += pack_blocks(rng, side, occ, theta_rad=theta, gsd_m=g, origin_xy=centre,
                                  density=rng.uniform(0.0, 0.7))  # fmt: skip
    return blocks, cranes, theta, spreaders
