"""Details painted on the ground: yard markings, rail tracks, quay edges with bollards, and
boat wakes on water.

``u``/``v`` are per-pixel local coordinates (float32 [H, W], pixels) from
:func:`detector.synth.textures.local_uv` along and across the layout direction; masks are
uint8 [H, W] on the render grid.
"""

from __future__ import annotations

import cv2
import numpy as np

from .record import Ground, Part, box_part, note
from .render import BoxStyle, Canvas, draw_boxes, fill_polygon
from .textures import fbm, stripes
from .textures import grain as noise

__all__ = ["draw_bollards", "draw_markings", "draw_tracks", "draw_wake"]


def _blend(canvas: Canvas, alpha: np.ndarray, rgb) -> None:
    """rgb = rgb + alpha * (colour - rgb), only over the rows/columns where alpha > 0."""
    rows = np.flatnonzero(alpha.any(axis=1))
    if len(rows) == 0:
        return
    cols = np.flatnonzero(alpha.any(axis=0))
    sl = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
    a = alpha[sl][..., None].astype(np.float32)
    sub = canvas.rgb[sl]
    sub += a * (np.asarray(rgb, np.float32) - sub)


def draw_markings(canvas: Canvas, rng: np.random.Generator, mask: np.ndarray, u, v) -> None:
    """Worn white/yellow paint inside ``mask``: lane lines along u, sometimes slot lines
    across u at a container pitch (empty painted slots look like container outlines)."""
    if not mask.any() or rng.random() < 0.25:
        return
    g = canvas.gsd_m
    col = np.float32((0.85, 0.85, 0.8)) if rng.random() < 0.6 else np.float32((0.85, 0.7, 0.2))
    wpx = rng.uniform(0.12, 0.3) / g
    alpha = stripes(v, rng.uniform(8.0, 30.0) / g, wpx, rng.uniform(0, 100))
    if rng.random() < 0.4:  # dashed
        alpha *= stripes(u, rng.uniform(4.0, 9.0) / g, rng.uniform(1.5, 3.0) / g)
    if rng.random() < 0.4:  # slot lines at a 20/40-ft pitch
        pitch = rng.choice([6.5, 12.6, 13.0]) / g
        slot = stripes(u, pitch, wpx, rng.uniform(0, 100))
        slot *= stripes(
            v, rng.uniform(15.0, 40.0) / g, rng.uniform(2.8, 20.0) / g, rng.uniform(0, 100)
        )
        alpha = np.maximum(alpha, slot)
    wear = np.clip(0.5 + fbm(rng, mask.shape, 2.0 / g, 3), 0, 1) * rng.uniform(0.4, 0.9)
    _blend(canvas, alpha * wear * mask, col)
    if canvas.notes is not None:
        note(canvas, Ground("marking", (alpha * mask) > 0.5))


def draw_tracks(canvas: Canvas, rng: np.random.Generator, u, v, track_v: list[float]) -> None:
    """Standard-gauge (1.435 m; 1.52 m in Russia) tracks along u at each ``track_v`` (pixels):
    ballast bed, sleepers every 0.55-0.65 m, and two steel rails."""
    g = canvas.gsd_m
    gauge = rng.choice([1.435, 1.52]) + 0.07
    sleeper_rgb = (
        np.float32((0.5, 0.5, 0.48)) if rng.random() < 0.6 else np.float32((0.25, 0.2, 0.16))
    )
    rail_rgb = np.float32((0.62, 0.62, 0.64)) * rng.uniform(0.6, 1.2)
    ballast = np.float32((0.38, 0.35, 0.32)) * rng.uniform(0.7, 1.2)
    grain = 1.0 + 0.15 * noise(rng, canvas.shape)
    sl = stripes(u, rng.uniform(0.55, 0.65) / g, 0.25 / g, rng.uniform(0, 10))
    for tv in track_v:
        d = np.abs(v - np.float32(tv))
        bed = np.clip(1.7 / g + 0.5 - d, 0, 1)
        sel = bed > 0
        canvas.rgb[sel] = (
            canvas.rgb[sel] * (1 - bed[sel, None]) + (ballast * grain[sel, None]) * bed[sel, None]
        )
        _blend(canvas, sl * np.clip(1.3 / g + 0.5 - d, 0, 1) * 0.8, sleeper_rgb)
        rail_w = 0.08 / g
        rail = np.clip(rail_w / 2 + 0.5 - np.abs(d - gauge / 2 / g), 0, 1) * min(1.0, rail_w * 3)
        _blend(canvas, rail, rail_rgb)
        canvas.height_m[sel] = np.maximum(canvas.height_m[sel], 0.3)
        canvas.water[sel] = 0
        if canvas.notes is not None:
            note(canvas, Ground("ballast", bed > 0.5))
            note(canvas, Ground("rail", np.abs(d - gauge / 2 / g) < max(0.5, rail_w / 2)))


def draw_bollards(
    canvas: Canvas, rng: np.random.Generator, u, v, edge_v: float, theta: float, origin_xy
) -> None:
    """A quay edge at ``v = edge_v`` (``u``, ``v`` from ``local_uv(shape, theta, origin_xy)``):
    dark fender strip, painted edge line, and bollards every 15-25 m (small dark posts that
    cast short shadows)."""
    g = canvas.gsd_m
    h, w = canvas.shape
    d = v - np.float32(edge_v)
    _blend(canvas, np.clip(0.5 / g + 0.5 - np.abs(d - 0.25 / g), 0, 1) * 0.7, (0.12, 0.12, 0.12))
    if canvas.notes is not None:
        note(canvas, Ground("fender", np.abs(d - 0.25 / g) < 0.25 / g + 0.5))
    if rng.random() < 0.7:
        col = (0.85, 0.8, 0.3) if rng.random() < 0.5 else (0.85, 0.85, 0.82)
        _blend(canvas, np.clip(0.3 / g / 2 + 0.5 - np.abs(d - 1.6 / g), 0, 1) * 0.7, col)
    pitch = rng.uniform(15.0, 25.0) / g
    c, s = np.cos(theta), np.sin(theta)
    ks = np.arange(np.floor(float(u.min()) / pitch), np.ceil(float(u.max()) / pitch) + 1)
    uu, vv = ks * pitch + rng.uniform(0, pitch), np.full(len(ks), edge_v + 0.9 / g)
    x = origin_xy[0] + uu * c - vv * s
    y = origin_xy[1] + uu * s + vv * c
    keep = (x > -5) & (x < w + 5) & (y > -5) & (y < h + 5)
    n = int(keep.sum())
    if n:
        draw_boxes(
            canvas, x[keep], y[keep], np.full(n, 0.7 / g), np.full(n, 0.7 / g), np.full(n, theta % np.pi),
            np.tile(np.float32((0.15, 0.15, 0.16)), (n, 1)), np.full(n, 0.8, np.float32), BoxStyle(), rng,
        )  # fmt: skip
        for bx, by in zip(x[keep], y[keep], strict=True):
            note(canvas, box_part("bollard:post", bx, by, 0.7 / g, 0.7 / g, theta, 0.8))


def draw_wake(canvas: Canvas, rng: np.random.Generator, water: np.ndarray) -> None:
    """A small boat under way with a Kelvin V wake and a turbulent centre line, on water."""
    ys, xs = np.nonzero(water)
    if len(ys) < 100:
        return
    g = canvas.gsd_m
    h, w = canvas.shape
    i = rng.integers(len(ys))
    bx, by = xs[i] + 0.5, ys[i] + 0.5
    head = rng.uniform(0, 2 * np.pi)
    blen = rng.uniform(8.0, 30.0) / g
    wake_len = min(rng.uniform(6, 20) * blen, 200.0 / g)
    # work on the box holding the boat and its wake only
    r = int(wake_len + blen) + 4
    x0, y0 = max(int(bx) - r, 0), max(int(by) - r, 0)
    x1, y1 = min(int(bx) + r, w), min(int(by) + r, h)
    sl = (slice(y0, y1), slice(x0, x1))
    ox, oy = canvas.origin_xy
    view = Canvas(
        canvas.rgb[sl], canvas.height_m[sl], canvas.hull[sl], canvas.bridge[sl],
        canvas.water[sl], g, canvas.notes, (ox + x0, oy + y0),
    )  # fmt: skip
    _wake(view, rng, water[sl], bx - x0, by - y0, head, blen, wake_len)


def _wake(canvas: Canvas, rng, water, bx, by, head, blen, wake_len) -> None:
    g = canvas.gsd_m
    h, w = canvas.shape
    back = np.array([-np.cos(head), -np.sin(head)])
    foam = np.zeros((h, w), np.float32)
    for arm in (-1, 1):
        a = head + np.pi + arm * np.radians(19.5)
        end = (bx + np.cos(a) * wake_len, by + np.sin(a) * wake_len)
        cv2.line(foam, (int(bx), int(by)), (int(end[0]), int(end[1])), 0.5, max(int(1.5 / g), 1))
    tail = (bx + back[0] * wake_len * 0.8, by + back[1] * wake_len * 0.8)
    cv2.line(foam, (int(bx), int(by)), (int(tail[0]), int(tail[1])), 1.0, max(int(blen * 0.25), 2))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    dist = np.hypot(xx - bx, yy - by) / wake_len
    foam *= np.clip(1 - dist, 0, 1) * (0.6 + 0.4 * np.clip(fbm(rng, (h, w), 3.0 / g, 3), -1, 1))
    foam = cv2.GaussianBlur(foam, (0, 0), 1.5 / g) * water
    _blend(canvas, np.clip(foam, 0, 0.8), (0.75, 0.8, 0.82))
    note(canvas, Ground("foam", foam > 0.2))
    hull = np.array(
        [
            [blen / 2, 0],
            [blen * 0.2, blen * 0.17],
            [-blen / 2, blen * 0.15],
            [-blen / 2, -blen * 0.15],
            [blen * 0.2, -blen * 0.17],
        ]
    )
    c, s = np.cos(head), np.sin(head)
    poly = np.stack(
        [bx + hull[:, 0] * c - hull[:, 1] * s, by + hull[:, 0] * s + hull[:, 1] * c], axis=1
    )
    fill_polygon(
        canvas, poly, rgb=np.float32((0.85, 0.85, 0.85)) * rng.uniform(0.6, 1.05), height_m=2.5
    )
    note(canvas, Part("boat:hull", poly, 2.5))
