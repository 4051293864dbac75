"""Things that look like containers from above but are not: tractor-trailers, buses, cars,
rail wagons (flat, gondola, box, tank), sheds and roofs, hatch-cover-like slabs, cranes.

Each ``draw_*`` function paints one object at (cx, cy) render pixels with long axis
``angle_rad`` and returns its footprint polygon float [4, 2] (for occupancy). Flat wagons
may carry containers: :func:`draw_wagon` then returns those as a
:class:`~detector.synth.containers.Block` for the caller to draw and label (they are real
containers, region rail).
"""

from __future__ import annotations

import numpy as np

from ..detections import KIND_20FT, KIND_40FT, box_corners
from .containers import make_block
from .record import box_part, note, segment_part
from .render import BoxStyle, Canvas, draw_boxes, draw_lines

__all__ = [
    "draw_bus",
    "draw_hatch_cover",
    "draw_car",
    "draw_crane",
    "draw_shed",
    "draw_truck",
    "draw_wagon",
    "WAGON_KINDS",
]

WAGON_KINDS = ("flat", "gondola", "box", "tank")
_BRIGHT = np.array(
    [
        (0.8, 0.8, 0.8),
        (0.7, 0.15, 0.1),
        (0.1, 0.25, 0.6),
        (0.85, 0.7, 0.15),
        (0.2, 0.45, 0.25),
        (0.15, 0.15, 0.15),
    ],
    np.float32,
)


def _along(cx, cy, angle, offsets_px) -> tuple[np.ndarray, np.ndarray]:
    o = np.asarray(offsets_px, float)
    return cx + o * np.cos(angle), cy + o * np.sin(angle)


_PLAIN = BoxStyle()


def _boxes(canvas, rng, cx, cy, lengths, widths, angle, rgb, top_m, style=_PLAIN, *, kind="part"):
    """Draw boxes and note each as a :class:`~detector.synth.record.Part` ``kind``."""
    n = len(cx)
    draw_boxes(
        canvas, np.asarray(cx, float), np.asarray(cy, float), np.asarray(lengths, float),
        np.asarray(widths, float), np.full(n, angle % np.pi), np.asarray(rgb, np.float32).reshape(n, 3),
        np.asarray(top_m, np.float32).reshape(n), style, rng,
    )  # fmt: skip
    if canvas.notes is not None:
        tops = np.asarray(top_m, float).reshape(n)
        for i in range(n):
            note(canvas, box_part(kind, cx[i], cy[i], lengths[i], widths[i], angle, tops[i]))


def _box(canvas, rng, cx, cy, length_px, width_px, angle, rgb, top_m, style=_PLAIN, *, kind="part"):
    """One box: :func:`_boxes` with scalar centre, size (pixels) and top height (metres)."""
    _boxes(canvas, rng, [cx], [cy], [length_px], [width_px], angle, rgb, [top_m], style, kind=kind)


def _outline(cx, cy, length_px, width_px, angle) -> np.ndarray:
    return box_corners(
        np.array([cx]),
        np.array([cy]),
        np.array([length_px]),
        np.array([width_px]),
        np.array([angle]),
    )[0]


def draw_truck(canvas: Canvas, rng: np.random.Generator, cx: float, cy: float, angle_rad: float):
    """Tractor unit plus a curtain-side, flatbed or tank semi-trailer (2.5 x 13.6 m)."""
    g = canvas.gsd_m
    trailer_m = rng.choice([13.6, 12.5, 7.5])
    cab_m = 2.4
    total = trailer_m + cab_m + 0.6
    kind = rng.choice(["curtain", "flat", "tank", "box"])
    tc = (trailer_m - total) / 2
    cab = (total - cab_m) / 2
    x, y = _along(cx, cy, angle_rad, [tc / g, cab / g])
    cab_rgb = _BRIGHT[rng.integers(len(_BRIGHT))] * rng.uniform(0.8, 1.1)
    if kind == "curtain":
        trl = np.float32(rng.choice([0.85, 0.6, 0.35])) * np.float32((1, 1, 1.02))
        trl = trl if rng.random() < 0.6 else _BRIGHT[rng.integers(len(_BRIGHT))]
        style, top = BoxStyle(ridge=0.04, edge_dark=0.15, stripe_pitch_m=1.2, stripe_amp=0.03), 4.0
    elif kind == "flat":
        trl, style, top = (
            np.float32((0.25, 0.25, 0.27)),
            BoxStyle(stripe_pitch_m=0.9, stripe_amp=0.15),
            1.4,
        )
    elif kind == "tank":
        trl, style, top = (
            np.float32((0.75, 0.76, 0.78)),
            BoxStyle(ridge=0.15, edge_dark=0.5, rim_m=0.5),
            3.6,
        )
    else:
        trl, style, top = np.float32((0.8, 0.8, 0.82)), BoxStyle(edge_dark=0.2), 4.0
    _boxes(
        canvas, rng, x[:1], y[:1], [trailer_m / g], [2.5 / g], angle_rad, trl, [top], style,
        kind=f"truck:{kind}",
    )  # fmt: skip
    _boxes(
        canvas, rng, x[1:], y[1:], [cab_m / g], [2.45 / g], angle_rad, cab_rgb, [3.2],
        BoxStyle(end_dark=0.3, end_m=0.6),
        kind="truck:cab",
    )  # fmt: skip
    return _outline(cx, cy, total / g, 2.6 / g, angle_rad)


def draw_bus(canvas: Canvas, rng: np.random.Generator, cx: float, cy: float, angle_rad: float):
    """A 12 m bus: coloured roof with an air-conditioning box."""
    g = canvas.gsd_m
    rgb = _BRIGHT[rng.integers(len(_BRIGHT))] * rng.uniform(0.85, 1.1)
    _box(
        canvas,
        rng,
        cx,
        cy,
        12.0 / g,
        2.55 / g,
        angle_rad,
        rgb,
        3.2,
        BoxStyle(edge_dark=0.25, rim_m=0.3),
        kind="bus:roof",
    )
    x, y = _along(cx, cy, angle_rad, [rng.uniform(-3, 3) / g])
    _boxes(
        canvas, rng, x, y, [2.2 / g], [1.6 / g], angle_rad, np.float32((0.7, 0.7, 0.72)), [3.5],
        kind="bus:hvac",
    )  # fmt: skip
    return _outline(cx, cy, 12.0 / g, 2.6 / g, angle_rad)


def draw_car(
    canvas: Canvas, rng: np.random.Generator, cx: float, cy: float, angle_rad: float,
    length_m: float = 4.5, width_m: float = 1.8, rgb=None,
):  # fmt: skip
    """A car (default 4.5 x 1.8 m, a random colour of :data:`_BRIGHT` unless ``rgb``)."""
    g = canvas.gsd_m
    pick = _BRIGHT[rng.integers(len(_BRIGHT))] * rng.uniform(0.7, 1.1)
    rgb = pick if rgb is None else np.asarray(rgb, np.float64)
    _box(
        canvas,
        rng,
        cx,
        cy,
        length_m / g,
        width_m / g,
        angle_rad,
        rgb,
        1.5,
        BoxStyle(end_dark=0.4, end_m=1.2),
        kind="car:body",
    )
    pad = (4.6, 1.9) if (length_m, width_m) == (4.5, 1.8) else (length_m + 0.1, width_m + 0.1)
    return _outline(cx, cy, pad[0] / g, pad[1] / g, angle_rad)


def draw_wagon(
    canvas: Canvas,
    rng: np.random.Generator,
    cx: float,
    cy: float,
    angle_rad: float,
    kind: str,
    *,
    loaded: bool = False,
    base_m: float = 0.0,
    load20: bool = False,
):
    """One rail wagon; returns (footprint, Block | None). A loaded flat wagon carries one
    40-ft or two or three 20-ft containers (``load20``: always 20-ft) - returned, not drawn;
    a loaded gondola carries bulk."""
    g = canvas.gsd_m
    block = None
    if kind == "flat":
        length_m, width_m = rng.choice([13.6, 19.6]), 2.9
        frame = np.float32((0.2, 0.19, 0.18)) * rng.uniform(0.8, 1.4)
        # deck frame: two side sills, cross members, bogies; ballast shows between
        for side in (-1, 1):
            ox, oy = -np.sin(angle_rad) * side * 1.2 / g, np.cos(angle_rad) * side * 1.2 / g
            _boxes(
                canvas, rng, [cx + ox], [cy + oy], [length_m / g], [0.35 / g], angle_rad, frame,
                [base_m + 1.2],
                kind="wagon:frame",
            )  # fmt: skip
        xs, ys = _along(cx, cy, angle_rad, np.linspace(-0.45, 0.45, 6) * length_m / g)
        _boxes(
            canvas, rng, xs, ys, np.full(6, 0.4 / g), np.full(6, width_m / g), angle_rad,
            np.repeat(frame[None], 6, 0), np.full(6, base_m + 1.2),
            kind="wagon:frame",
        )  # fmt: skip
        if loaded:
            if load20 or (length_m > 15 and rng.random() < 0.5):
                kind_c, bays = KIND_20FT, 2 if length_m < 15 else 3
            else:
                kind_c, bays = KIND_40FT, 1
            block = make_block(
                rng, cx=cx, cy=cy, angle_rad=angle_rad % np.pi, bays=bays, rows=1, gsd_m=g,
                kind=kind_c, gap_end_m=0.3, tiers=(1, 1), base_m=base_m + 1.2,
            )  # fmt: skip
    elif kind == "gondola":
        length_m, width_m = rng.choice([12.7, 13.9]), 3.2
        wall = np.float32(rng.choice([0.15, 0.35, 0.45])) * np.float32((1.1, 0.85, 0.7))
        _box(
            canvas,
            rng,
            cx,
            cy,
            length_m / g,
            width_m / g,
            angle_rad,
            wall,
            base_m + 3.4,
            BoxStyle(rust=0.5),
            kind="gondola:wall",
        )
        inner = (
            np.float32((0.08, 0.08, 0.08))
            if not loaded
            else np.float32(rng.choice([0.1, 0.4, 0.55])) * np.float32((1, 0.95, 0.85))
        )
        st = BoxStyle(stripe_pitch_m=1.6, stripe_amp=0.15 if not loaded else 0.0, grime=0.4)
        _box(
            canvas,
            rng,
            cx,
            cy,
            (length_m - 0.6) / g,
            (width_m - 0.6) / g,
            angle_rad,
            inner,
            base_m + (1.0 if not loaded else 3.0),
            st,
            kind="gondola:bulk" if loaded else "gondola:floor",
        )
    elif kind == "box":
        length_m, width_m = rng.choice([14.7, 17.0]), 3.2
        rgb = np.float32(rng.choice([0.35, 0.5])) * np.float32(
            rng.choice([(1, 0.6, 0.4), (0.5, 0.8, 0.6), (0.6, 0.7, 1.0)])
        )
        _box(
            canvas,
            rng,
            cx,
            cy,
            length_m / g,
            width_m / g,
            angle_rad,
            rgb,
            base_m + 4.6,
            BoxStyle(ridge=0.1, stripe_pitch_m=1.5, stripe_amp=0.05, rust=0.3),
            kind="boxcar:roof",
        )
    else:  # tank
        length_m, width_m = rng.choice([12.0, 15.0]), 3.0
        rgb = np.float32(rng.choice([0.12, 0.5, 0.75])) * np.float32((1, 1, 1))
        _box(
            canvas,
            rng,
            cx,
            cy,
            length_m / g,
            width_m / g,
            angle_rad,
            rgb,
            base_m + 4.2,
            BoxStyle(ridge=0.2, edge_dark=0.5, rim_m=0.6),
            kind="tankcar:tank",
        )
    return _outline(cx, cy, (length_m + 1.2) / g, (width_m + 0.2) / g, angle_rad), block


def draw_shed(
    canvas: Canvas,
    rng: np.random.Generator,
    cx: float,
    cy: float,
    angle_rad: float,
    length_m: float,
    width_m: float,
):
    """A building roof: corrugated metal or flat membrane, gable ridge or not."""
    g = canvas.gsd_m
    col = np.float32(
        [
            (0.75, 0.76, 0.77),
            (0.55, 0.56, 0.58),
            (0.2, 0.35, 0.6),
            (0.6, 0.2, 0.15),
            (0.25, 0.45, 0.3),
            (0.4, 0.38, 0.35),
        ][rng.integers(6)]
    ) * rng.uniform(0.85, 1.1)
    style = BoxStyle(
        stripe_pitch_m=rng.uniform(0.6, 1.5), stripe_amp=rng.uniform(0.0, 0.12),
        ridge=rng.choice([0.0, 0.08, 0.15]), edge_dark=rng.uniform(0.0, 0.3), rim_m=0.5, grime=0.3,
    )  # fmt: skip
    top = rng.uniform(3.0, 12.0)
    # corrugation runs across the long axis of containers; building sheets run ridge-to-eave
    ang = angle_rad if rng.random() < 0.5 else angle_rad + np.pi / 2
    lm, wm = (length_m, width_m) if ang == angle_rad else (width_m, length_m)
    _boxes(canvas, rng, [cx], [cy], [lm / g], [wm / g], ang, col, [top], style, kind="shed:roof")
    return _outline(cx, cy, length_m / g, width_m / g, angle_rad)


def draw_hatch_cover(
    canvas: Canvas, rng: np.random.Generator, cx: float, cy: float, angle_rad: float
):
    """A ship's hatch-cover pontoon set down on the quay (12-20 x 8-15 m steel slab with
    stiffener ridges), a large flat container-coloured box."""
    g = canvas.gsd_m
    length_m, width_m = rng.uniform(12.0, 20.0), rng.uniform(8.0, 15.0)
    col = np.float32(
        [(0.35, 0.38, 0.38), (0.22, 0.35, 0.26), (0.45, 0.2, 0.15), (0.2, 0.25, 0.4)][
            rng.integers(4)
        ]
    )
    style = BoxStyle(
        stripe_pitch_m=rng.uniform(1.5, 3.0),
        stripe_amp=0.06,
        edge_dark=0.3,
        rim_m=0.4,
        grime=0.3,
        rust=0.4,
    )
    _box(
        canvas,
        rng,
        cx,
        cy,
        length_m / g,
        width_m / g,
        angle_rad,
        col * rng.uniform(0.8, 1.2),
        1.2,
        style,
        kind="hatchcover:slab",
    )
    return _outline(cx, cy, (length_m + 1) / g, (width_m + 1) / g, angle_rad)


def draw_crane(
    canvas: Canvas,
    rng: np.random.Generator,
    cx: float,
    cy: float,
    angle_rad: float,
    span_m: float,
    kind: str = "rtg",
):
    """A gantry crane: ``rtg`` (two portal beams spanning ``span_m`` across the rows, 18 m
    high) or ``sts`` (ship-to-shore: a long boom along ``angle_rad`` over the water)."""
    g = canvas.gsd_m
    c, s = np.cos(angle_rad), np.sin(angle_rad)
    col = np.float32(
        rng.choice(
            [(0.8, 0.65, 0.15), (0.85, 0.85, 0.85), (0.2, 0.4, 0.7), (0.7, 0.2, 0.15)], axis=0
        )
    )
    if kind == "rtg":
        half = span_m / 2 / g
        gap = rng.uniform(5.0, 7.0) / g
        segs = []
        for k in (-0.5, 0.5):
            ox, oy = c * gap * k, s * gap * k
            segs.append(
                [(cx + ox - s * half, cy + oy + c * half), (cx + ox + s * half, cy + oy - c * half)]
            )
        draw_lines(canvas, np.array(segs), 1.2 / g, col, height_m=18.0)
        for a, b in segs:
            note(canvas, segment_part("crane:beam", a, b, 1.2 / g, 18.0, 16.0))
        return _outline(cx, cy, gap + 1.5 / g, span_m / g, angle_rad)
    boom = span_m / g
    seg = np.array(
        [[(cx - c * boom * 0.3, cy - s * boom * 0.3), (cx + c * boom * 0.7, cy + s * boom * 0.7)]]
    )
    draw_lines(canvas, seg, 2.0 / g, col, height_m=45.0)
    note(canvas, segment_part("crane:boom", seg[0][0], seg[0][1], 2.0 / g, 45.0, 42.0))
    _boxes(
        canvas, rng, [cx - c * boom * 0.2], [cy - s * boom * 0.2], [14 / g], [10 / g], angle_rad,
        col * 0.9, [48.0],
        kind="crane:machinery",
    )  # fmt: skip
    return _outline(cx, cy, boom, 12 / g, angle_rad)
