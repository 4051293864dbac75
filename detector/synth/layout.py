"""Placing things without overlap: an occupancy grid, container blocks packed into an area
with aisles, and sparse single containers.

Areas are uint8 [H, W] masks on the render grid (1 = allowed); geometry in render pixels.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..detections import CONTAINER_SIZE_M, KIND_20FT, KIND_40FT, box_corners
from .containers import Block, make_block

__all__ = ["Occupancy", "pack_blocks", "place_stock", "scatter_singles"]


class Occupancy:
    """Which pixels are taken (uint8 [H, W]); a box may be placed where none is taken and
    all of it lies inside ``allowed`` (when given)."""

    def __init__(self, shape: tuple[int, int], *, strict_frame: bool = False):
        self.taken = np.zeros(shape, np.uint8)
        self.strict_frame = strict_frame  # True: a box cut by the frame edge is not free

    def _poly_mask(self, poly_xy: np.ndarray):
        h, w = self.taken.shape
        x0, y0 = np.floor(poly_xy.min(axis=0)).astype(int)
        x1, y1 = np.ceil(poly_xy.max(axis=0)).astype(int) + 1
        if x1 <= 0 or y1 <= 0 or x0 >= w or y0 >= h:
            return None, None
        cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
        m = np.zeros((y1 - y0, x1 - x0), np.uint8)
        pts = np.round((poly_xy - (x0, y0)) * 16).astype(np.int32)
        cv2.fillConvexPoly(m, pts, 1, shift=4)
        return m[cy0 - y0 : cy1 - y0, cx0 - x0 : cx1 - x0], (slice(cy0, cy1), slice(cx0, cx1))

    def free(self, poly_xy: np.ndarray, allowed: np.ndarray | None = None) -> bool:
        """True when the convex polygon overlaps no taken pixel and stays inside ``allowed``
        (pixels beyond the frame count as allowed: objects may be cut by the frame)."""
        poly_xy = np.asarray(poly_xy, float)
        if self.strict_frame:
            h, w = self.taken.shape
            if poly_xy.min() < 0 or poly_xy[:, 0].max() >= w or poly_xy[:, 1].max() >= h:
                return False
        m, sl = self._poly_mask(poly_xy)
        if m is None:
            return allowed is None
        sel = m.astype(bool)
        if (self.taken[sl][sel]).any():
            return False
        return allowed is None or bool(allowed[sl][sel].all())

    def take(self, poly_xy: np.ndarray) -> None:
        m, sl = self._poly_mask(np.asarray(poly_xy, float))
        if m is not None:
            self.taken[sl] |= m


def _rect_poly(cx, cy, length, width, angle) -> np.ndarray:
    return box_corners(
        np.array([cx]), np.array([cy]), np.array([length]), np.array([width]), np.array([angle])
    )[0]


def pack_blocks(
    rng: np.random.Generator,
    allowed: np.ndarray,
    occ: Occupancy,
    *,
    theta_rad: float,
    gsd_m: float,
    origin_xy: tuple[float, float],
    density: float = 0.8,
    base_m: float = 0.0,
    kind_mix: float = 0.5,
    tiers: tuple[int, int] = (1, 4),
    max_stacks: int | None = None,
    colour_mode: str | None = None,
    fill: float | None = None,
    kind: int | None = None,
    big: float = 0.35,
) -> list[Block]:
    """Fill ``allowed`` with blocks of stacks aligned to ``theta_rad`` on a lattice with
    aisles, starting at ``origin_xy``; each lattice cell holds a block with probability
    ``density``. ``kind_mix`` = probability a block is of 40-ft slots. Stops after
    ``max_stacks`` stacks when given; ``big`` is the chance of large blocks (6-16 bays x
    4-10 rows) rather than small ones."""
    h, w = allowed.shape
    g = gsd_m
    big = rng.random() < big
    bays = int(rng.integers(6, 17) if big else rng.integers(1, 9))
    rows = int(rng.integers(4, 11) if big else rng.integers(1, 8))
    if kind is None:
        kind = KIND_40FT if rng.random() < kind_mix else KIND_20FT
    ge, gs = rng.uniform(0.1, 0.6), rng.uniform(0.05, 0.5)
    lm, wm = CONTAINER_SIZE_M[kind]
    blk_u = bays * (lm + ge) / g
    blk_v = rows * (wm + gs) / g
    aisle_u = rng.uniform(2.0, 12.0) / g
    aisle_v = rng.uniform(3.0, 15.0) / g
    c, s = np.cos(theta_rad), np.sin(theta_rad)
    out: list[Block] = []
    count = 0
    pu, pv = blk_u + aisle_u, blk_v + aisle_v
    rows_any = np.flatnonzero(allowed.any(axis=1))
    cols_any = np.flatnonzero(allowed.any(axis=0))
    if len(rows_any) == 0:
        return out
    bx = (
        np.array([cols_any[0], cols_any[-1] + 1, cols_any[-1] + 1, cols_any[0]], float)
        - origin_xy[0]
    )
    by = (
        np.array([rows_any[0], rows_any[0], rows_any[-1] + 1, rows_any[-1] + 1], float)
        - origin_xy[1]
    )
    us, vs = bx * c + by * s, by * c - bx * s  # bbox corners in the lattice frame
    iu0, iu1 = int(np.floor(us.min() / pu)) - 1, int(np.ceil(us.max() / pu)) + 1
    iv0, iv1 = int(np.floor(vs.min() / pv)) - 1, int(np.ceil(vs.max() / pv)) + 1
    for iv in range(iv0, iv1 + 1):
        for iu in range(iu0, iu1 + 1):
            u, v = iu * pu, iv * pv
            x, y = origin_xy[0] + u * c - v * s, origin_xy[1] + u * s + v * c
            if 0 <= x < w and 0 <= y < h:
                if not allowed[int(y), int(x)]:
                    continue
            elif not (-blk_u < x < w + blk_u and -blk_u < y < h + blk_u):
                continue
            if rng.random() > density:
                continue
            poly = _rect_poly(x, y, blk_u, blk_v, theta_rad)
            if not occ.free(poly, allowed):
                continue
            occ.take(poly)
            b = make_block(
                rng, cx=x, cy=y, angle_rad=theta_rad % np.pi, bays=bays, rows=rows, gsd_m=g,
                kind=kind, gap_end_m=ge, gap_side_m=gs, tiers=tiers,
                fill=rng.uniform(0.75, 1.0) if fill is None else fill,
                split40=rng.uniform(0, 0.5) if rng.random() < 0.3 else 0.0, base_m=base_m,
                colour_mode=colour_mode or rng.choice(["mixed", "mixed", "brand", "dull"]),
            )  # fmt: skip
            out.append(b)
            count += len(b.tops)
            if max_stacks is not None and count >= max_stacks:
                return out
    return out


def scatter_singles(
    rng: np.random.Generator,
    allowed: np.ndarray,
    occ: Occupancy,
    n: int,
    *,
    gsd_m: float,
    theta_rad: float | None = None,
    base_m: float = 0.0,
) -> list[Block]:
    """Up to ``n`` lone stacks (1-2 tiers) at random places in ``allowed``; aligned to
    ``theta_rad`` (+- 90 deg) when given, else any angle."""
    ys, xs = np.nonzero(allowed)
    out: list[Block] = []
    if len(ys) == 0:
        return out
    for _ in range(n * 3):
        if len(out) >= n:
            break
        i = rng.integers(len(ys))
        x, y = xs[i] + rng.random(), ys[i] + rng.random()
        kind = KIND_40FT if rng.random() < 0.4 else KIND_20FT
        lm, wm = CONTAINER_SIZE_M[kind]
        if theta_rad is None:
            ang = rng.uniform(0, np.pi)
        else:
            ang = (theta_rad + rng.choice([0, np.pi / 2]) + rng.normal(0, 0.05)) % np.pi
        poly = _rect_poly(x, y, (lm + 1.0) / gsd_m, (wm + 1.0) / gsd_m, ang)
        if not occ.free(poly, allowed):
            continue
        occ.take(poly)
        out.append(
            make_block(
                rng,
                cx=x,
                cy=y,
                angle_rad=ang,
                bays=1,
                rows=1,
                gsd_m=gsd_m,
                kind=kind,
                tiers=(1, 2),
                base_m=base_m,
            )  # fmt: skip
        )
    return out


def place_stock(
    rng: np.random.Generator,
    allowed: np.ndarray,
    occ: Occupancy,
    n_containers: int,
    *,
    theta_rad: float,
    gsd_m: float,
    origin_xy: tuple[float, float],
    kind: int | None = KIND_20FT,
    mean_tiers: float = 2.5,
    colour_mode: str | None = None,
) -> list[Block]:
    """Exactly ``n_containers`` containers in stacks of 1-4 tiers, in blocks with aisles
    inside ``allowed`` (blocks filled one after another from a random lattice origin).
    Raises ConfigError when the area cannot hold them even 4 high."""
    from dataclasses import replace

    from ..errors import ConfigError

    if n_containers <= 0:
        return []
    for attempt in range(6):
        trial = Occupancy(occ.taken.shape, strict_frame=occ.strict_frame)
        trial.taken[:] = occ.taken
        sub = np.random.default_rng(rng.integers(1 << 31))
        blocks = pack_blocks(
            sub, allowed, trial, theta_rad=theta_rad, gsd_m=gsd_m, origin_xy=origin_xy,
            density=1.0, fill=1.0, kind=kind, colour_mode=colour_mode,
        )  # fmt: skip
        slots = sum(len(b.tops) for b in blocks)
        mean = min(max(mean_tiers, n_containers / max(slots, 1)) + 0.4 * attempt, 4.0)
        if slots * 4 < n_containers:
            continue
        left, out = n_containers, []
        for b in blocks:
            if left <= 0:
                break
            level = int(np.clip(round(mean + sub.normal(0, 0.5)), 1, 4))
            t = np.clip(level + sub.choice([-1, 0, 0, 0, 1], len(b.tops)), 1, 4)
            cum = np.cumsum(t)
            keep = int(np.searchsorted(cum, left, side="left")) + 1
            keep = min(keep, len(t))
            t = t[:keep].copy()
            t[-1] -= max(int(t.sum()) - left, 0)
            left -= int(t.sum())
            tops = b.tops.select(np.arange(keep))
            out.append(
                Block(replace(tops, tiers=t.astype(np.float32)), b.rgb[:keep], b.base_m[:keep])
            )
        if left == 0:
            for blk in out:
                for c in blk.tops.corners():
                    occ.take(c)
            return out
    raise ConfigError(f"stock of {n_containers} containers does not fit its area even 4 high")
