"""Sampling along shadow profiles: pure helpers of :mod:`detector.detect.heights` and
:mod:`detector.detect.sunfit` (directions, box rasters, ray exits, fast gathers)."""

from __future__ import annotations

import math

import numpy as np

from ..detections import Detections

__all__ = ["anti_sun_unit", "box_labels", "exit_t", "nan_reduce", "profile_origins", "sample_at"]


def anti_sun_unit(azimuth_deg: float) -> tuple[float, float]:
    """Unit step (dx, dy) in image pixels (north up) along which shadows fall."""
    a = math.radians(azimuth_deg)
    return -math.sin(a), math.cos(a)


def box_labels(
    dets: Detections, shape: tuple[int, int], under: Detections | None = None
) -> np.ndarray:
    """int32 [H, W] raster of the boxes of ``dets`` (pixels of the same frame): 0 = none,
    ``k + 1`` = box k (later boxes overwrite earlier ones where they overlap). ``under``:
    boxes drawn first, labelled ``len(dets) + 1 + j``, that only block (uncounted ones)."""
    import cv2

    lab = np.zeros(shape, np.int32)
    layers = [(under, len(dets) + 1)] if under is not None and len(under) else []
    for boxes, first in [*layers, (dets, 1)]:
        corners = np.round(boxes.corners() * 16 - 8).astype(np.int32)  # centres at +0.5
        for k in range(len(boxes)):
            cv2.fillConvexPoly(lab, corners[k], first + k, lineType=cv2.LINE_8, shift=4)
    return lab


def exit_t(ox, oy, ux, uy, cx, cy, length, width, angle):
    """Distance along (ux, uy) from (ox, oy) (inside the box) to the box's boundary."""
    c, s = np.cos(angle), np.sin(angle)
    dx, dy = ox - cx, oy - cy
    out = np.full(np.shape(ox), np.inf)
    for ex, ey, half in ((c, s, length / 2), (-s, c, width / 2)):
        o = dx * ex + dy * ey
        d = ux * ex + uy * ey
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(np.abs(d) > 1e-9, (np.sign(d) * half - o) / d, np.inf)
        out = np.minimum(out, t)
    return np.maximum(out, 0.0)


def profile_origins(dets: Detections, idx: np.ndarray, azimuth_deg: float, n_profiles: int):
    """Parallel profiles along the anti-sun direction over the middle 70 % of each box
    ``idx`` of ``dets`` (across the sun): origins ``ox``, ``oy`` [n, P] at the box's centre
    line and the distances from them to the box's edge, ``t_out`` towards the shadow and
    ``t_in`` towards the sun [n, P]."""
    ux, uy = anti_sun_unit(azimuth_deg)
    vx, vy = -uy, ux
    cx, cy = dets.cx[idx], dets.cy[idx]
    ln, wd, an = dets.length_px[idx], dets.width_px[idx], dets.angle_rad[idx]
    ca, sa = np.cos(an), np.sin(an)
    half = np.abs(ln / 2 * (ca * vx + sa * vy)) + np.abs(wd / 2 * (-sa * vx + ca * vy))
    s = half[:, None] * np.linspace(-0.7, 0.7, n_profiles)[None, :]  # [n, P]
    ox, oy = cx[:, None] + s * vx, cy[:, None] + s * vy
    args = (cx[:, None], cy[:, None], ln[:, None], wd[:, None], an[:, None])
    return ox, oy, exit_t(ox, oy, ux, uy, *args), exit_t(ox, oy, -ux, -uy, *args)


def nan_reduce(fn, a: np.ndarray) -> np.ndarray:
    """``fn`` (nanmedian, nanstd) over the last axis, NaN where a row is all NaN, without
    numpy's warning: catch_warnings is not thread-safe, and this runs in the finishing
    thread while the next scene is read."""
    empty = np.isnan(a).all(-1)
    return np.where(empty, np.nan, fn(np.where(empty[..., None], 0.0, a), axis=-1))


def sample_at(img: np.ndarray, x: np.ndarray, y: np.ndarray, order: int) -> np.ndarray:
    """``img`` at points (x, y) (pixel centres at +0.5): bilinear (``order`` 1) or nearest
    (0); 0 outside. Plain gathers: ~10x faster than scipy's map_coordinates here."""
    h, w = img.shape
    if order == 0:
        c = np.floor(x).astype(np.int64)
        r = np.floor(y).astype(np.int64)
        inside = (r >= 0) & (r < h) & (c >= 0) & (c < w)
        out = img[np.clip(r, 0, h - 1), np.clip(c, 0, w - 1)]
        return np.where(inside, out, 0)
    xf, yf = x - 0.5, y - 0.5
    c0, r0 = np.floor(xf), np.floor(yf)
    fx, fy = (xf - c0).astype(np.float32), (yf - r0).astype(np.float32)
    c0, r0 = c0.astype(np.int64), r0.astype(np.int64)
    inside = (r0 >= 0) & (r0 < h - 1) & (c0 >= 0) & (c0 < w - 1)
    r0, c0 = np.clip(r0, 0, h - 2), np.clip(c0, 0, w - 2)
    flat = img.reshape(-1)
    i00 = r0 * w + c0
    a, b = flat[i00], flat[i00 + 1]
    c, d = flat[i00 + w], flat[i00 + w + 1]
    top = a + (b - a) * fx
    out = top + ((c + (d - c) * fx) - top) * fy
    return np.where(inside, out, 0).astype(np.float32)
