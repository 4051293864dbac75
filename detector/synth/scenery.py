"""Port-scale drawing on a scene canvas: ground materials per AOI feature, quay edges with
bollards, rail tracks and wagons, buildings and vehicles in the hinterland.

Every helper works on the bounding box of the area it paints (a view of the canvas), so a
2000 x 2000 px scene costs little more than the areas drawn. Geometry in scene pixels.
"""

from __future__ import annotations

import cv2
import numpy as np

from .containers import Block
from .grounds import draw_bollards, draw_markings, draw_tracks
from .layout import Occupancy
from .lookalikes import draw_car, draw_shed, draw_truck, draw_wagon
from .portmap import PixelFeature, PortMap
from .record import Ground, note
from .render import Canvas
from .textures import fbm, local_uv, material

__all__ = [
    "bbox_view",
    "paint_area",
    "paint_ground",
    "quay_edges",
    "rail_lines",
    "scatter_objects",
]


def bbox_view(canvas: Canvas, mask: np.ndarray, pad: int = 0):
    """(view Canvas, (x0, y0)) over the bounding box of ``mask`` (+ ``pad`` px), or None."""
    rows = np.flatnonzero(mask.any(axis=1))
    if len(rows) == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    h, w = canvas.shape
    y0, y1 = max(rows[0] - pad, 0), min(rows[-1] + 1 + pad, h)
    x0, x1 = max(cols[0] - pad, 0), min(cols[-1] + 1 + pad, w)
    sl = (slice(y0, y1), slice(x0, x1))
    view = Canvas(
        rgb=canvas.rgb[sl], height_m=canvas.height_m[sl], hull=canvas.hull[sl],
        bridge=canvas.bridge[sl], water=canvas.water[sl], gsd_m=canvas.gsd_m, notes=canvas.notes,
        origin_xy=(canvas.origin_xy[0] + int(x0), canvas.origin_xy[1] + int(y0)),
    )  # fmt: skip
    return view, (x0, y0), sl


def paint_area(canvas: Canvas, rng, mask: np.ndarray, kind: str, theta: float = 0.0) -> None:
    """Fill ``mask`` with a fresh texture of material ``kind`` (computed over its bbox only)."""
    got = bbox_view(canvas, mask)
    if got is None:
        return
    view, _, sl = got
    tex = material(rng, view.shape, kind, canvas.gsd_m, theta)
    sel = mask[sl].astype(bool)
    np.copyto(view.rgb, tex, where=sel[..., None])
    view.water[sel] = 1 if kind == "water" else 0
    note(view, Ground(str(kind), sel))


def paint_ground(canvas: Canvas, rng, pm: PortMap) -> np.ndarray:
    """Sea, hinterland (grass/soil outside the port, asphalt inside), piers and quays in
    concrete, yards in asphalt or concrete, rail beds. Returns the land mask."""
    land = pm.land_mask()
    water = 1 - land
    paint_area(canvas, rng, np.ones(pm.shape, np.uint8), "water", rng.uniform(0, np.pi))
    canvas.water[:] = water
    port = pm.mask("port")
    outside = land & (1 - port)
    if outside.any():
        paint_area(canvas, rng, outside, "grass")
        soil = (fbm(rng, pm.shape, 60.0 / canvas.gsd_m, 3) > 0.3).astype(np.uint8) & outside
        paint_area(canvas, rng, soil, "soil")
    paint_area(canvas, rng, land & port, "asphalt")
    paint_area(canvas, rng, pm.mask("pier", "quay"), "concrete")
    for f in pm.of_kind("yard"):
        m = pm.mask(f.name)
        paint_area(canvas, rng, m, rng.choice(["asphalt", "concrete"]))
        got = bbox_view(canvas, m)
        if got is not None:
            view, (x0, y0), sl = got
            u, v = local_uv(view.shape, 0.0, (rng.uniform(0, 50), rng.uniform(0, 50)))
            draw_markings(view, rng, m[sl], u, v)
    canvas.water[:] = water
    return land


def _edge_frames(f: PixelFeature, water: np.ndarray, gsd_m: float):
    """(start, direction, inward normal, length) of each polygon edge with water outside."""
    xy = f.xy
    c = xy.mean(axis=0)
    h, w = water.shape
    for a, b in zip(xy, np.roll(xy, -1, axis=0), strict=True):
        e = b - a
        length = float(np.hypot(*e))
        if length < 5:
            continue
        e = e / length
        n = np.array([-e[1], e[0]])
        if np.dot(c - (a + b) / 2, n) < 0:
            n = -n  # inward
        probe = (a + b) / 2 - n * (3.0 / gsd_m)
        px, py = int(probe[0]), int(probe[1])
        if 0 <= px < w and 0 <= py < h and water[py, px]:
            yield a, e, n, length


def quay_edges(canvas: Canvas, rng, pm: PortMap, water: np.ndarray) -> None:
    """Fender strip, edge paint and bollards along every pier/quay edge that faces water."""
    g = canvas.gsd_m
    for f in pm.of_kind("pier", "quay"):
        for a, e, n, length in _edge_frames(f, water, g):
            theta = float(np.arctan2(e[1], e[0]))
            if np.dot(np.array([-np.sin(theta), np.cos(theta)]), n) < 0:
                theta += np.pi  # make +v point inland
            b = a + e * length
            pts = np.array([a, b, a + n * 4.0 / g, b + n * 4.0 / g])
            m = np.zeros(pm.shape, np.uint8)
            cv2.fillConvexPoly(
                m,
                np.round(cv2.convexHull(pts.astype(np.float32)).reshape(-1, 2)).astype(np.int32),
                1,
            )
            got = bbox_view(canvas, m, pad=2)
            if got is None:
                continue
            view, (x0, y0), _ = got
            origin = (a[0] - x0, a[1] - y0)
            u, v = local_uv(view.shape, theta, origin)
            inside = (u >= 0) & (u <= length)
            if not inside.any():
                continue
            draw_bollards(view, rng, np.where(inside, u, 0), v, 0.0, theta, origin)


def rail_lines(
    canvas: Canvas,
    rng,
    pm: PortMap,
    occ: Occupancy,
    *,
    loaded_containers: int = 0,
    background: float = 0.5,
    inside: np.ndarray | None = None,
) -> list[Block]:
    """Tracks along every rail polygon; wagons on them (wholly within ``inside`` when
    given). Up to ``loaded_containers`` 20-ft containers ride on flat wagons, 2-3 a wagon
    (returned as blocks, region rail; fewer when the track runs out); other wagons (empty
    flats, gondolas, boxcars, tanks) appear with probability ``background``."""
    g = canvas.gsd_m
    out: list[Block] = []
    left = int(loaded_containers)
    for f in pm.of_kind("rail"):
        (cx, cy), (w_, h_), ang = cv2.minAreaRect(f.xy.astype(np.float32))
        theta = np.radians(ang) if w_ >= h_ else np.radians(ang) + np.pi / 2
        length, width = max(w_, h_), min(w_, h_)
        n_tracks = max(1, int(width * g // 5.0))
        offs = (np.arange(n_tracks) - (n_tracks - 1) / 2) * (width / n_tracks)
        m = pm.mask(f.name)
        got = bbox_view(canvas, m, pad=2)
        if got is None:
            continue
        view, (x0, y0), _ = got
        origin = (cx - x0, cy - y0)
        u, v = local_uv(view.shape, theta, origin)
        paint_area(canvas, rng, m, "ballast", theta)
        draw_tracks(view, rng, u, v, list(offs))
        c, s = np.cos(theta), np.sin(theta)
        for tv in offs:
            pos = -length / 2 + rng.uniform(0, 30) / g
            while pos < length / 2 - 10 / g:
                x = cx + pos * c - tv * s
                y = cy + pos * s + tv * c
                if left > 0:
                    kind, loaded = "flat", True
                elif rng.random() < background:
                    kind, loaded = (
                        rng.choice(["flat", "gondola", "box", "tank"], p=[0.3, 0.4, 0.2, 0.1]),
                        rng.random() < 0.5,
                    )
                    loaded = loaded and kind != "flat"
                else:
                    pos += rng.uniform(20, 80) / g
                    continue
                seed = int(rng.integers(1 << 31))
                kw = {"loaded": loaded, "base_m": 0.3, "load20": left > 0}
                probe = Canvas.blank(1, 1, g)
                poly, _ = draw_wagon(probe, np.random.default_rng(seed), x, y, theta, kind, **kw)
                span = float(np.ptp(poly @ np.array([c, s])))
                if pos + span > length / 2 or not occ.free(poly, inside):
                    pos += span
                    continue
                sub = np.random.default_rng(seed)
                poly, blk = draw_wagon(view, sub, x - x0, y - y0, theta, kind, **kw)
                occ.take(poly + (x0, y0))
                if blk is not None:
                    blk = _shift_block(blk, x0, y0)
                    if left > 0:
                        blk = _take20(blk, left)
                        left -= len(blk.tops)
                    out.append(blk)
                pos += span + rng.uniform(0.3, 1.2) / g
    return out


def _shift_block(b: Block, dx: float, dy: float) -> Block:
    return Block(b.tops.shifted(dx, dy), b.rgb, b.base_m)


def _take20(b: Block, n: int) -> Block:
    """The first ``n`` stacks of a block (or all of them)."""
    k = min(n, len(b.tops))
    return Block(b.tops.select(np.arange(k)), b.rgb[:k], b.base_m[:k])


def scatter_objects(
    canvas: Canvas, rng, occ: Occupancy, allowed: np.ndarray, n: int, kinds=("truck", "car")
) -> None:
    """Up to ``n`` vehicles/buildings at random free places in ``allowed`` (grid-aligned)."""
    ys, xs = np.nonzero(allowed)
    if len(ys) == 0:
        return
    g = canvas.gsd_m
    draw = {
        "truck": draw_truck,
        "car": draw_car,
        "shed": lambda c, r, x, y, a: draw_shed(c, r, x, y, a, r.uniform(8, 60), r.uniform(6, 30)),
    }
    for _ in range(n):
        i = rng.integers(len(ys))
        x, y = xs[i] + 0.5, ys[i] + 0.5
        ang = rng.choice([0.0, np.pi / 2]) + rng.normal(0, 0.02)
        kind = kinds[rng.integers(len(kinds))]
        seed = int(rng.integers(1 << 31))
        poly = draw[kind](Canvas.blank(1, 1, g), np.random.default_rng(seed), x, y, ang)
        if occ.free(poly, allowed):
            occ.take(poly)
            draw[kind](canvas, np.random.default_rng(seed), x, y, ang)
