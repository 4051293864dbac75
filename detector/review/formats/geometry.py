"""Rotated boxes between the frames a review round uses: chip pixels, scene CRS.

A candidate's footprint is stored as 4 corners in the scene CRS; every exchange format
speaks chip pixels (the PNG of the review unit). ``chips.json`` gives each chip's affine
(chip pixel (col, row) -> scene CRS, rasterio order ``a, b, c, d, e, f``), so

    chip px --affine--> scene CRS --inverse--> chip px

is exact (to float rounding) whatever the CRS: projected, geographic or a rotated grid.

:class:`RBox` is the rotated box in chip pixels: centre ``(cx, cy)``, ``length`` along its
own x axis, ``width`` along its own y axis, ``angle_deg`` the rotation of that x axis from
image +x towards image +y (y points down, so a positive angle turns clockwise on screen, the
convention of Label Studio and CVAT). Corners go around the box: top-left, top-right,
bottom-right, bottom-left in the box's own frame.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..records import apply_affine, invert_affine

__all__ = [
    "RBox",
    "box_from_corners",
    "chip_to_crs",
    "corner_distance",
    "crs_to_chip",
]

Corners = tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class RBox:
    """Rotated box in chip pixels (see the module docstring for the frame)."""

    cx: float
    cy: float
    length: float
    width: float
    angle_deg: float

    def corners(self) -> np.ndarray:
        """float64 [4, 2] (x, y) chip pixels: top-left, top-right, bottom-right, bottom-left
        of the box's own frame (top-left is the pivot of Label Studio's rotation)."""
        a = math.radians(self.angle_deg)
        ca, sa = math.cos(a), math.sin(a)
        hl, hw = self.length / 2.0, self.width / 2.0
        uv = np.array([(-hl, -hw), (hl, -hw), (hl, hw), (-hl, hw)])
        return np.stack(
            [self.cx + uv[:, 0] * ca - uv[:, 1] * sa, self.cy + uv[:, 0] * sa + uv[:, 1] * ca],
            axis=1,
        )


def box_from_corners(corners: Sequence[Sequence[float]]) -> RBox:
    """The :class:`RBox` of 4 corners [4, 2] in chip pixels, in order around the box (either
    direction). Centre = corner mean; length/width = mean lengths of the longer/shorter pair
    of opposite edges; angle = direction of the long edge, folded into [0, 180) degrees."""
    c = np.asarray(corners, dtype=np.float64).reshape(4, 2)
    e1 = 0.5 * ((c[1] - c[0]) + (c[2] - c[3]))  # mean of one pair of opposite edges
    e2 = 0.5 * ((c[2] - c[1]) + (c[3] - c[0]))
    l1, l2 = float(np.hypot(*e1)), float(np.hypot(*e2))
    long_edge = e1 if l1 >= l2 else e2
    angle = math.degrees(math.atan2(long_edge[1], long_edge[0])) % 180.0
    if angle >= 180.0:  # -0.0 % 180 and rounding
        angle = 0.0
    cx, cy = c.mean(axis=0)
    return RBox(float(cx), float(cy), max(l1, l2), min(l1, l2), angle)


def chip_to_crs(affine6: Sequence[float], xy: np.ndarray) -> np.ndarray:
    """Chip pixels [..., 2] -> scene CRS [..., 2] through the chip's affine."""
    return apply_affine(affine6, xy)


def crs_to_chip(affine6: Sequence[float], xy: np.ndarray) -> np.ndarray:
    """Scene CRS [..., 2] -> chip pixels [..., 2] (inverse of :func:`chip_to_crs`)."""
    return apply_affine(invert_affine(affine6), xy)


def corner_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Largest corner-to-corner distance between two quadrilaterals [4, 2], taking the best
    of the 8 ways to pair their corners (any start corner, either direction): 0 for the same
    box whatever corner a format starts from."""
    a = np.asarray(a, dtype=np.float64).reshape(4, 2)
    b = np.asarray(b, dtype=np.float64).reshape(4, 2)
    best = math.inf
    for seq in (b, b[::-1]):
        for k in range(4):
            d = float(np.max(np.hypot(*(a - np.roll(seq, k, axis=0)).T)))
            best = min(best, d)
    return best
