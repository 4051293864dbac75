"""The layout of a synthetic patch as plain data, for rendering families other than the
classic one.

The classic renderer (:mod:`.training`, :mod:`.lookalikes`, :mod:`.ships`, :mod:`.grounds`)
lays objects out and draws them in one pass from one random stream. When its
:class:`~detector.synth.render.Canvas` has ``notes`` set to a list, each draw function also
appends what it drew, without touching the random stream (so the classic image stays the
same bit for bit): ground areas by material (:class:`Ground`) and every solid part of every
object (:class:`Part`). Containers are not noted here: they are the truth, returned as
:class:`~detector.synth.containers.Block` lists. Another family renders the same notes and
blocks its own way, so its labels are exactly the classic ones.

Frame: render pixels of the canvas, x right, y down (see :mod:`detector.detections`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..detections import box_corners

__all__ = ["Ground", "Part", "box_part", "note", "segment_part"]


@dataclass(frozen=True)
class Ground:
    """A ground area: ``kind`` a material (``water``, ``concrete``, ``asphalt``, ``grass``,
    ``soil``, ``ballast``) or a painted/laid detail (``marking``, ``rail``, ``fender``,
    ``foam``); ``mask`` bool [h, w] whose pixel (0, 0) is render pixel ``origin_xy`` (x, y)."""

    kind: str
    mask: np.ndarray
    origin_xy: tuple[int, int] = (0, 0)

    def paste(self, target: np.ndarray, value) -> None:
        """Set ``target`` [H, W, ...] to ``value`` where this area is (clipped to it)."""
        x0, y0 = self.origin_xy
        h, w = self.mask.shape
        H, W = target.shape[:2]  # noqa: N806
        xa, ya, xb, yb = max(x0, 0), max(y0, 0), min(x0 + w, W), min(y0 + h, H)
        if xb > xa and yb > ya:
            m = self.mask[ya - y0 : yb - y0, xa - x0 : xb - x0]
            target[ya:yb, xa:xb][m] = value


@dataclass(frozen=True)
class Part:
    """One solid part of an object: a prism with footprint ``poly_xy`` float [K, 2] (x, y
    render pixels, convex) from ``base_m`` to ``top_m`` metres above the ground/water line.
    ``kind`` names object and part, ``"truck:cab"``, ``"ship:hull"``, ``"bus:hvac"``; the
    object kind before the colon is never a container (containers come as blocks)."""

    kind: str
    poly_xy: np.ndarray
    top_m: float
    base_m: float = 0.0

    @property
    def obj(self) -> str:
        return self.kind.split(":")[0]


def note(canvas, item) -> None:
    """Append ``item`` (a :class:`Ground` or :class:`Part` in ``canvas`` pixels) to
    ``canvas.notes`` if it is recording, moved by ``canvas.origin_xy`` (a view of a bigger
    canvas notes in that canvas's pixels); free otherwise."""
    if getattr(canvas, "notes", None) is None:
        return
    ox, oy = canvas.origin_xy
    if isinstance(item, Ground):
        x0, y0 = item.origin_xy
        item = Ground(item.kind, item.mask, (x0 + ox, y0 + oy))
    elif ox or oy:
        item = Part(item.kind, item.poly_xy + (ox, oy), item.top_m, item.base_m)
    canvas.notes.append(item)


def box_part(kind: str, cx, cy, length_px, width_px, angle_rad, top_m, base_m=0.0) -> Part:
    """A :class:`Part` for an oriented box (centre, size in pixels, long-axis angle)."""
    c = box_corners(
        np.array([float(cx)]),
        np.array([float(cy)]),
        np.array([float(length_px)]),
        np.array([float(width_px)]),
        np.array([float(angle_rad)]),
    )[0]
    return Part(kind, np.asarray(c, np.float64), float(top_m), float(base_m))


def segment_part(kind: str, p0, p1, width_px: float, top_m: float, base_m: float = 0.0) -> Part:
    """A :class:`Part` for a thick line segment from ``p0`` to ``p1`` (x, y pixels)."""
    p0, p1 = np.asarray(p0, float), np.asarray(p1, float)
    d = p1 - p0
    n = float(np.hypot(*d))
    ang = float(np.arctan2(d[1], d[0])) if n > 0 else 0.0
    mid = (p0 + p1) / 2
    return box_part(kind, mid[0], mid[1], max(n, 1.0), width_px, ang, top_m, base_m)
