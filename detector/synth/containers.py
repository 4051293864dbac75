"""ISO containers: a paint palette and blocks of touching stacks (bays x rows).

Geometry is in pixels of the render grid (``gsd_m`` metres per pixel); sizes come from
:data:`detector.detections.CONTAINER_SIZE_M` (20 ft 6.058 x 2.438 m, 40 ft 12.192 x 2.438 m).
A *stack* is one footprint with ``tiers`` containers; only its top container is seen, so a
block is returned as :class:`~detector.detections.Detections` of the visible tops with
``tiers`` = stack height, plus one RGB colour per top.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..detections import CONTAINER_SIZE_M, KIND_20FT, KIND_40FT, TIER_HEIGHT_M, Detections
from .render import BoxStyle, Canvas, draw_boxes, draw_convex

__all__ = [
    "PALETTE",
    "TIER_HEIGHT_M",
    "Block",
    "container_colours",
    "draw_containers",
    "make_block",
]

#: Roof colours as seen from above (faded, dusty), RGB 0..1, with relative frequencies.
PALETTE: tuple[tuple[str, tuple[float, float, float], float], ...] = (
    ("maersk_blue", (0.33, 0.6, 0.74), 0.8),
    ("navy", (0.14, 0.23, 0.42), 1.0),
    ("msc_yellow", (0.82, 0.68, 0.32), 0.7),
    ("beige", (0.74, 0.68, 0.56), 0.6),
    ("red", (0.62, 0.17, 0.13), 1.0),
    ("maroon", (0.42, 0.13, 0.13), 1.0),
    ("green", (0.16, 0.4, 0.27), 0.9),
    ("grey", (0.56, 0.57, 0.58), 1.2),
    ("dark_grey", (0.3, 0.32, 0.34), 0.6),
    ("white", (0.86, 0.87, 0.86), 0.8),
    ("orange", (0.86, 0.46, 0.16), 0.5),
    ("brown", (0.44, 0.3, 0.21), 0.9),
    ("rust", (0.55, 0.31, 0.19), 1.0),
    ("teal", (0.15, 0.45, 0.48), 0.3),
)
_COLS = np.array([p[1] for p in PALETTE], np.float32)
_W = np.array([p[2] for p in PALETTE], np.float64)
_W /= _W.sum()


def container_colours(rng: np.random.Generator, n: int, mode: str = "mixed") -> np.ndarray:
    """float32 [n, 3] roof colours. ``mode``: ``mixed`` (independent draws), ``brand`` (most
    of one colour), ``dull`` (greys, browns and rust: old domestic stock)."""
    if mode == "brand":
        main = rng.choice(len(_COLS), p=_W)
        idx = np.where(
            rng.random(n) < rng.uniform(0.6, 0.95), main, rng.choice(len(_COLS), n, p=_W)
        )
    elif mode == "dull":
        dull = np.array([7, 8, 11, 12, 1, 5])
        idx = dull[rng.integers(len(dull), size=n)]
    else:
        idx = rng.choice(len(_COLS), n, p=_W)
    col = _COLS[idx] * rng.uniform(0.8, 1.15, (n, 1)).astype(np.float32)
    desat = rng.uniform(0.0, 0.45, (n, 1)).astype(np.float32)  # dust, chalking
    grey = col.mean(axis=1, keepdims=True)
    col = col * (1 - desat) + grey * desat
    col += rng.normal(0, 0.02, (n, 3)).astype(np.float32)
    return np.clip(col, 0.02, 0.98).astype(np.float32)


@dataclass(frozen=True)
class Block:
    """Visible stack tops of one block (Detections in render pixels) and their colours."""

    tops: Detections
    rgb: np.ndarray  # float32 [N, 3]
    base_m: np.ndarray  # float32 [N] height of the surface the stack stands on


def make_block(
    rng: np.random.Generator,
    *,
    cx: float,
    cy: float,
    angle_rad: float,
    bays: int,
    rows: int,
    gsd_m: float,
    kind: int = KIND_20FT,
    gap_end_m: float = 0.15,
    gap_side_m: float = 0.1,
    fill: float = 1.0,
    tiers: tuple[int, int] = (1, 4),
    split40: float = 0.0,
    base_m: float = 0.0,
    colour_mode: str = "mixed",
    jitter_m: float = 0.05,
) -> Block:
    """A block of ``bays`` (along ``angle_rad``) x ``rows`` (across) stack slots centred at
    (cx, cy) pixels. Each slot is filled with probability ``fill``; stack heights are drawn
    from ``tiers`` (inclusive) around a block-wide level. ``split40`` is the chance that a
    40-ft slot holds two 20-ft stacks instead (mixed blocks)."""
    length_m = CONTAINER_SIZE_M[kind][0]
    width_m = CONTAINER_SIZE_M[kind][1]
    pitch_u = (length_m + gap_end_m) / gsd_m
    pitch_v = (width_m + gap_side_m) / gsd_m
    iu, iv = np.meshgrid(np.arange(bays), np.arange(rows), indexing="ij")
    iu, iv = iu.ravel(), iv.ravel()
    keep = rng.random(len(iu)) < fill
    iu, iv = iu[keep], iv[keep]
    u = (iu - (bays - 1) / 2) * pitch_u
    v = (iv - (rows - 1) / 2) * pitch_v
    kinds = np.full(len(u), kind, np.int8)
    lengths = np.full(len(u), length_m / gsd_m)
    if kind == KIND_40FT and split40 > 0 and len(u):
        split = rng.random(len(u)) < split40
        l20 = CONTAINER_SIZE_M[KIND_20FT][0] / gsd_m
        off = (l20 + (length_m / gsd_m - 2 * l20)) / 2  # two 20s fill the 40-ft slot
        u = np.concatenate([u[~split], u[split] - off, u[split] + off])
        v = np.concatenate([v[~split], v[split], v[split]])
        kinds = np.concatenate([kinds[~split], np.zeros(2 * split.sum(), np.int8)])
        lengths = np.concatenate([lengths[~split], np.full(2 * split.sum(), l20)])
    n = len(u)
    jit = jitter_m / gsd_m
    u = u + rng.normal(0, jit, n)
    v = v + rng.normal(0, jit, n)
    c, s = np.cos(angle_rad), np.sin(angle_rad)
    x = cx + u * c - v * s
    y = cy + u * s + v * c
    ang = np.mod(angle_rad + rng.normal(0, 0.004, n), np.pi)
    lo, hi = tiers
    level = rng.integers(lo, hi + 1)
    t = np.clip(level + rng.choice([-1, 0, 0, 0, 0, 1], n), lo, hi) if n else np.zeros(0)
    tops = Detections(
        cx=x,
        cy=y,
        length_px=lengths,
        width_px=np.full(n, width_m / gsd_m),
        angle_rad=ang,
        kind=kinds,
        score=np.ones(n),
        tiers=t,
    )
    return Block(tops, container_colours(rng, n, colour_mode), np.full(n, base_m, np.float32))


def draw_containers(
    canvas: Canvas,
    blocks: list[Block],
    rng: np.random.Generator,
    *,
    lean_px_per_m: tuple[float, float] = (0.0, 0.0),
) -> Detections:
    """Draw the visible tops of all blocks (roof corrugation, darker door end, rim, grime);
    sets each top's height to base + tiers * 2.591 m. Returns the concatenated tops.

    ``lean_px_per_m``: image displacement (dx, dy) pixels per metre of stack height of an
    off-nadir view (tan(off-nadir angle) / gsd, away from the satellite). The stack's sides
    are then drawn and its top moves by height * lean; the returned tops are where the tops
    are seen (what a detector can find).
    """
    blocks = [b for b in blocks if len(b.tops)]
    if not blocks:
        return Detections.empty()
    tops = Detections.concat([b.tops for b in blocks])
    rgb = np.concatenate([b.rgb for b in blocks])
    base = np.concatenate([b.base_m for b in blocks])
    top_m = (base + tops.tiers * TIER_HEIGHT_M).astype(np.float32)
    stack_m = tops.tiers.astype(np.float64) * TIER_HEIGHT_M
    lx, ly = float(lean_px_per_m[0]), float(lean_px_per_m[1])
    if np.hypot(lx, ly) * stack_m.max(initial=0.0) > 0.3:
        base_c = tops.corners()
        shift = np.stack([stack_m * lx, stack_m * ly], axis=-1)[:, None, :]
        both = np.concatenate([base_c, base_c + shift], axis=1)  # [N, 8, 2]
        sides = np.stack([_convex8(p) for p in both])
        side_rgb = rgb * rng.uniform(0.45, 0.8, (len(rgb), 1)).astype(np.float32)
        draw_convex(canvas, sides, side_rgb, top_m)
        tops = replace(tops, cx=tops.cx + shift[:, 0, 0], cy=tops.cy + shift[:, 0, 1])
    style = BoxStyle(
        stripe_pitch_m=rng.uniform(0.45, 1.3),
        end_dark=rng.uniform(0.05, 0.3),
        end_m=rng.uniform(0.25, 0.6),
        edge_dark=rng.uniform(0.05, 0.35),
        rim_m=rng.uniform(0.1, 0.3),
        grime=rng.uniform(0.0, 0.3),
        rust=rng.uniform(0.0, 0.5) if rng.random() < 0.5 else 0.0,
    )
    amp = rng.uniform(0.0, 0.12, len(tops)).astype(np.float32)
    draw_boxes(
        canvas, tops.cx, tops.cy, tops.length_px, tops.width_px, tops.angle_rad, rgb, top_m,
        style, rng, stripe_amp=amp,
    )  # fmt: skip
    return tops


def _convex8(pts: np.ndarray) -> np.ndarray:
    """Convex hull of 8 points as a fixed-size [8, 2] polygon (repeating the last vertex)."""
    import cv2

    hull = cv2.convexHull(pts.astype(np.float32)).reshape(-1, 2).astype(np.float64)
    if len(hull) < 8:
        hull = np.concatenate([hull, np.repeat(hull[-1:], 8 - len(hull), axis=0)])
    return hull
