"""The drawing canvas: colour, surface height and masks on one pixel grid, plus shadows.

Frame: pixel (row r, col c) covers [c, c+1) x [r, r+1) (see :mod:`detector.detections`);
polygons are float (x, y) pixel coordinates in that frame. The canvas is a small mutable
buffer private to one render call: objects are drawn into it in painter's order (later
draws cover earlier ones, as the nadir view sees the highest surface), each writing its top
colour and its top height above the water line (metres). :func:`apply_shadows` then darkens
every pixel from which the sun is hidden by a higher surface.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..detections import box_corners

__all__ = [
    "BoxStyle",
    "Canvas",
    "apply_shadows",
    "draw_boxes",
    "draw_convex",
    "draw_lines",
    "fill_polygon",
    "polygon_mask",
    "shadow_mask",
]

_SHIFT = 4  # cv2 sub-pixel bits
_SCALE = float(1 << _SHIFT)
#: cv2 fills every pixel a polygon edge touches; shrinking boxes by this many pixels in
#: length and width makes the filled area equal the true area on average (measured).
_BOX_SHRINK_PX = 0.95


@dataclass
class Canvas:
    """Mutable render buffer, all arrays on one grid of ``gsd_m`` metres per pixel.

    ``rgb`` float32 [H, W, 3] reflectance 0..1; ``height_m`` float32 [H, W] top surface
    height above the water line; ``hull`` and ``bridge`` uint8 [H, W] masks (0/1);
    ``water`` uint8 [H, W] 1 where open water is the visible surface.
    """

    rgb: np.ndarray
    height_m: np.ndarray
    hull: np.ndarray
    bridge: np.ndarray
    water: np.ndarray
    gsd_m: float
    #: when a list, the draw functions append the plain-data layout of what they draw
    #: (:mod:`detector.synth.record`) for other rendering families; ``None``: record nothing
    notes: list | None = None
    #: where this canvas's pixel (0, 0) lies on the canvas the notes are in (views)
    origin_xy: tuple[int, int] = (0, 0)

    @classmethod
    def blank(cls, height: int, width: int, gsd_m: float) -> Canvas:
        z = np.zeros((height, width), np.uint8)
        return cls(
            rgb=np.zeros((height, width, 3), np.float32),
            height_m=np.zeros((height, width), np.float32),
            hull=z,
            bridge=z.copy(),
            water=z.copy(),
            gsd_m=float(gsd_m),
        )

    @property
    def shape(self) -> tuple[int, int]:
        return self.height_m.shape


def _cv_pts(poly_xy: np.ndarray) -> np.ndarray:
    return np.round((np.asarray(poly_xy, np.float64) - 0.5) * _SCALE).astype(np.int32)


def polygon_mask(shape: tuple[int, int], polys: list[np.ndarray]) -> np.ndarray:
    """uint8 [H, W] mask (0/1) of the union of polygons (each float [K, 2] x, y pixels)."""
    m = np.zeros(shape, np.uint8)
    if polys:
        cv2.fillPoly(m, [_cv_pts(p) for p in polys], 1, lineType=cv2.LINE_8, shift=_SHIFT)
    return m


def _bbox(points_xy: np.ndarray, shape: tuple[int, int], pad: int = 2):
    """Integer pixel bbox (x0, y0, x1, y1) of points [..., 2] clipped to ``shape``, or None."""
    pts = np.asarray(points_xy, float).reshape(-1, 2)
    h, w = shape
    x0 = max(int(np.floor(pts[:, 0].min())) - pad, 0)
    y0 = max(int(np.floor(pts[:, 1].min())) - pad, 0)
    x1 = min(int(np.ceil(pts[:, 0].max())) + pad, w)
    y1 = min(int(np.ceil(pts[:, 1].max())) + pad, h)
    if x1 <= x0 or y1 <= y0:
        return None
    return x0, y0, x1, y1


def fill_polygon(
    canvas: Canvas,
    poly_xy: np.ndarray,
    *,
    rgb: np.ndarray | None = None,
    texture: np.ndarray | None = None,
    texture_origin: tuple[int, int] = (0, 0),
    height_m: float | None = None,
    hull: bool = False,
    bridge: bool = False,
) -> None:
    """Paint one polygon: flat ``rgb`` (3,) or a ``texture`` [h, w, 3] whose pixel (0, 0)
    lies at canvas pixel ``texture_origin`` (x, y), seen through it; set its height; mark
    the hull/bridge masks. Works on the polygon's bounding box only."""
    box = _bbox(poly_xy, canvas.shape)
    if box is None:
        return
    x0, y0, x1, y1 = box
    m = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillPoly(
        m, [_cv_pts(np.asarray(poly_xy, float) - (x0, y0))], 1, lineType=cv2.LINE_8, shift=_SHIFT
    )
    sel = m.astype(bool)
    sl = (slice(y0, y1), slice(x0, x1))
    if texture is not None:
        tx, ty = texture_origin
        tex = texture[y0 - ty : y1 - ty, x0 - tx : x1 - tx]
        canvas.rgb[sl][sel] = tex[sel]
    elif rgb is not None:
        canvas.rgb[sl][sel] = np.asarray(rgb, np.float32)
    if height_m is not None:
        canvas.height_m[sl][sel] = height_m
    canvas.water[sl][sel] = 0
    if hull:
        canvas.hull[sl] |= m
    if bridge:
        canvas.bridge[sl] |= m


def _ids(shape: tuple[int, int], polys_xy: np.ndarray):
    """Rasterise N convex polygons [N, K, 2] into an id map over their joint bbox: returns
    (ys, xs, k) canvas pixels and polygon index of every pixel drawn (later ones on top)."""
    n = len(polys_xy)
    box = _bbox(polys_xy, shape)
    if n == 0 or box is None:
        e = np.zeros(0, np.int64)
        return e, e, e
    x0, y0, x1, y1 = box
    ids = np.zeros((y1 - y0, x1 - x0), np.uint16 if n < 65000 else np.int32)
    pts = _cv_pts(np.asarray(polys_xy, float) - (x0, y0))
    for i in range(n):
        cv2.fillConvexPoly(ids, pts[i], i + 1, lineType=cv2.LINE_8, shift=_SHIFT)
    ys, xs = np.nonzero(ids)
    k = ids[ys, xs].astype(np.int64) - 1
    return ys + y0, xs + x0, k


@dataclass(frozen=True)
class BoxStyle:
    """How the roof of a box is shaded (all strengths are fractions of its colour).

    ``stripe_pitch_m``/``stripe_amp``: corrugation across the long axis; ``end_dark``: the
    door end (the +u end) darker over ``end_m`` metres; ``edge_dark``: a rim of ``rim_m``
    metres darker (roof edge rails and gaps between neighbours); ``grime``: amplitude of a
    low-frequency multiplicative weathering field; ``rust``: fraction of rust blotches.
    """

    stripe_pitch_m: float = 0.0
    stripe_amp: float = 0.0
    end_dark: float = 0.0
    end_m: float = 0.4
    edge_dark: float = 0.0
    rim_m: float = 0.15
    grime: float = 0.0
    rust: float = 0.0
    ridge: float = 0.0  # lighter/darker halves across the width (gable roof, tarp)


def draw_boxes(
    canvas: Canvas,
    cx: np.ndarray,
    cy: np.ndarray,
    length_px: np.ndarray,
    width_px: np.ndarray,
    angle_rad: np.ndarray,
    rgb: np.ndarray,
    top_m: np.ndarray,
    style: BoxStyle,
    rng: np.random.Generator,
    *,
    stripe_amp: np.ndarray | None = None,
) -> None:
    """Draw N oriented boxes with textured roofs (later boxes on top). Inputs are [N]
    arrays in canvas pixels; ``rgb`` [N, 3]; ``top_m`` [N] heights."""
    n = len(cx)
    h, w = canvas.shape
    if n == 0:
        return
    shrink = _BOX_SHRINK_PX
    corners = box_corners(
        cx, cy, np.maximum(length_px - shrink, 0.3), np.maximum(width_px - shrink, 0.3), angle_rad
    )
    ys, xs, k = _ids(canvas.shape, corners)
    if len(ys) == 0:
        return
    c, s = np.cos(angle_rad).astype(np.float32), np.sin(angle_rad).astype(np.float32)
    dx = xs.astype(np.float32) + 0.5 - cx[k].astype(np.float32)
    dy = ys.astype(np.float32) + 0.5 - cy[k].astype(np.float32)
    u = dx * c[k] + dy * s[k]  # along, pixels, 0 at the centre
    v = dy * c[k] - dx * s[k]  # across
    g = canvas.gsd_m
    hl = (length_px[k] / 2).astype(np.float32)
    hw = (width_px[k] / 2).astype(np.float32)
    shade = np.ones(len(k), np.float32)
    if style.stripe_pitch_m > 0:
        amp = (
            stripe_amp[k].astype(np.float32)
            if stripe_amp is not None
            else np.float32(style.stripe_amp)
        )
        shade += amp * np.sin(u * np.float32(2 * np.pi * g / style.stripe_pitch_m))
    if style.end_dark:
        shade -= style.end_dark * np.clip((u - hl + style.end_m / g) + 0.5, 0, 1)
    if style.edge_dark:
        rim = style.rim_m / g
        edge = np.maximum(np.abs(u) - hl + rim, np.abs(v) - hw + rim) + 0.5
        shade -= style.edge_dark * np.clip(edge, 0, 1)
    if style.ridge:
        shade += style.ridge * np.sign(v)
    col = rgb[k].astype(np.float32) * shade[:, None]
    if style.grime:
        per = rng.uniform(0.0, 1.0, n).astype(np.float32)[k]
        noise = rng.standard_normal(len(k)).astype(np.float32) * 0.03
        col *= (1.0 - style.grime * per * np.float32(rng.uniform(0.3, 1.0)) + noise)[:, None]
    if style.rust:
        from .textures import fbm

        y0, x0 = int(ys.min()), int(xs.min())
        field = fbm(rng, (int(ys.max()) - y0 + 1, int(xs.max()) - x0 + 1), 1.5 / g, 2)
        r = np.clip(field[ys - y0, xs - x0] - (2.2 - 2.0 * style.rust), 0, 1)[:, None]
        col = col * (1 - r) + r * np.float32((0.42, 0.24, 0.14))
    canvas.rgb[ys, xs] = np.clip(col, 0, 1)
    canvas.height_m[ys, xs] = top_m[k]
    canvas.water[ys, xs] = 0


def draw_convex(canvas: Canvas, polys_xy: np.ndarray, rgb: np.ndarray, top_m: np.ndarray) -> None:
    """Fill N convex polygons [N, K, 2] (x, y) pixels, flat colour ``rgb`` [N, 3] each,
    setting their heights ``top_m`` [N]; later polygons cover earlier ones."""
    ys, xs, k = _ids(canvas.shape, polys_xy)
    canvas.rgb[ys, xs] = rgb[k]
    canvas.height_m[ys, xs] = top_m[k]
    canvas.water[ys, xs] = 0


def draw_lines(
    canvas: Canvas,
    segments_xy: np.ndarray,
    thickness_px: float,
    rgb,
    height_m: float | None = None,
) -> None:
    """Draw thick line segments [N, 2, 2] ((x0, y0), (x1, y1)) pixels in one colour."""
    t = max(int(round(thickness_px)), 1)
    box = _bbox(segments_xy, canvas.shape, pad=t + 2)
    if box is None:
        return
    x0, y0, x1, y1 = box
    m = np.zeros((y1 - y0, x1 - x0), np.uint8)
    for seg in _cv_pts(np.asarray(segments_xy, float) - (x0, y0)):
        p0, p1 = (int(seg[0][0]), int(seg[0][1])), (int(seg[1][0]), int(seg[1][1]))
        cv2.line(m, p0, p1, 1, t, cv2.LINE_8, _SHIFT)
    sel = m.astype(bool)
    sl = (slice(y0, y1), slice(x0, x1))
    canvas.rgb[sl][sel] = np.asarray(rgb, np.float32)
    if height_m is not None:
        canvas.height_m[sl][sel] = height_m
        canvas.water[sl][sel] = 0


def shadow_mask(height_m: np.ndarray, gsd_m: float, elevation_deg: float, azimuth_deg: float):
    """float32 [H, W] 0..1: 1 where a higher surface hides the sun (soft edge).

    A pixel p is in shadow when some point p + t*d (d = unit step towards the sun in the
    image, north up, azimuth clockwise from north) is higher than the sun ray through p:
    ``max_t H(p + t d) - t * gsd * tan(elevation) > H(p)``. The max over t in [0, 2^k) is
    built by k doubling steps (a max-plus scan), each one bilinear shift of the running max.
    """
    hmax = float(height_m.max())
    if hmax <= 0.05:
        return np.zeros(height_m.shape, np.float32)
    drop = float(gsd_m) * np.tan(np.radians(max(elevation_deg, 3.0)))  # metres per pixel step
    reach = hmax / drop  # longest shadow in pixels
    az = np.radians(azimuth_deg)
    d = np.array([np.sin(az), -np.cos(az)])
    h, w = height_m.shape
    s = height_m.astype(np.float32, copy=True)
    step = 1.0
    while step <= 2 * reach and step < 4 * max(h, w):
        m = np.float32([[1, 0, d[0] * step], [0, 1, d[1] * step]])
        shifted = cv2.warpAffine(
            s,
            m,
            (w, h),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_CONSTANT,
        )
        np.maximum(s, shifted - np.float32(step * drop), out=s)
        step *= 2
    shade = np.clip((s - height_m - 0.05) / 0.3, 0, 1).astype(np.float32)
    return cv2.GaussianBlur(shade, (3, 3), 0.6)


def apply_shadows(
    canvas: Canvas,
    elevation_deg: float,
    azimuth_deg: float,
    ambient: float = 0.4,
) -> np.ndarray:
    """Darken shadowed pixels to ``ambient`` of direct light (bluish: sky light); returns the
    shadow mask [H, W]."""
    sh = shadow_mask(canvas.height_m, canvas.gsd_m, elevation_deg, azimuth_deg)
    tint = np.float32((1.0, 1.02, 1.12)) * np.float32(ambient)
    canvas.rgb *= 1.0 - sh[..., None] * (1.0 - np.minimum(tint, 1.0))
    return sh
