"""Oriented container footprints and ship hulls: the records every stage passes on.

Frame and units: all coordinates are **pixels** of one raster (a tile or a scene, as the
caller states), x = column to the right, y = row downwards, pixel centres at +0.5 (rasterio's
convention: pixel (row=0, col=0) covers [0, 1) x [0, 1)). ``angle_rad`` is the direction of
the container's long axis measured from +x towards +y, folded into [0, pi) because a container
is symmetric end to end.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "KINDS",
    "KIND_20FT",
    "KIND_40FT",
    "TEU_PER_KIND",
    "CONTAINER_SIZE_M",
    "TIER_HEIGHT_M",
    "Detections",
    "Hull",
    "box_corners",
    "box_offsets",
    "drop_contained",
]

KINDS: tuple[str, str] = ("20ft", "40ft")
KIND_20FT = 0
KIND_40FT = 1
TEU_PER_KIND = np.array([1, 2], dtype=np.int64)
#: ISO 668 outer dimensions (length, width) in metres, by kind index.
CONTAINER_SIZE_M: tuple[tuple[float, float], ...] = ((6.058, 2.438), (12.192, 2.438))
#: Height of one stacked container (ISO 8 ft 6 in), metres.
TIER_HEIGHT_M = 2.591


def box_corners(
    cx: np.ndarray, cy: np.ndarray, length: np.ndarray, width: np.ndarray, angle_rad: np.ndarray
) -> np.ndarray:
    """Corners of oriented boxes.

    Inputs are arrays of shape [N] in one pixel frame; returns float64 [N, 4, 2] (x, y),
    counter-clockwise in the image as drawn (front-left, front-right, back-right, back-left).
    """
    c, s = np.cos(angle_rad), np.sin(angle_rad)
    hl, hw = np.asarray(length) / 2.0, np.asarray(width) / 2.0
    # unit vectors along (u) and across (v) the long axis
    ux, uy = c * hl, s * hl
    vx, vy = -s * hw, c * hw
    xs = np.stack([cx + ux + vx, cx + ux - vx, cx - ux - vx, cx - ux + vx], axis=-1)
    ys = np.stack([cy + uy + vy, cy + uy - vy, cy - uy - vy, cy - uy + vy], axis=-1)
    return np.stack([xs, ys], axis=-1).astype(np.float64)


def box_offsets(
    dx: np.ndarray, dy: np.ndarray, angle_rad: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(|along|, |across|): offsets ``(dx, dy)`` from box centres in the frame of boxes whose
    long axis points at ``angle_rad`` (broadcast); a point lies inside a box of length L and
    width W when along <= L/2 and across <= W/2."""
    c, s = np.cos(angle_rad), np.sin(angle_rad)
    return np.abs(dx * c + dy * s), np.abs(-dx * s + dy * c)


def _f(a, dtype=np.float64) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(a, dtype=dtype).reshape(-1))


@dataclass(frozen=True)
class Detections:
    """N oriented container footprints in one pixel frame.

    Arrays, all shape [N]: ``cx, cy, length_px, width_px, angle_rad`` float64; ``kind`` int8
    (index into :data:`KINDS`); ``score`` float32 in 0..1 (1.0 for truth); ``tiers`` float32
    (estimated stack height at the container, >= 1; truth uses the exact integer);
    ``visible`` bool (top of its stack; always True for detections); ``verify`` float32, the
    crop verifier's probability that a container is there (NaN where it did not run:
    :mod:`detector.detect.verify`).
    """

    cx: np.ndarray
    cy: np.ndarray
    length_px: np.ndarray
    width_px: np.ndarray
    angle_rad: np.ndarray
    kind: np.ndarray
    score: np.ndarray
    tiers: np.ndarray
    visible: np.ndarray = field(default=None)  # type: ignore[assignment]
    verify: np.ndarray = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        n = len(np.asarray(self.cx).reshape(-1))
        for name in ("cx", "cy", "length_px", "width_px", "angle_rad"):
            object.__setattr__(self, name, _f(getattr(self, name)))
        object.__setattr__(self, "kind", _f(self.kind, np.int8))
        object.__setattr__(self, "score", _f(self.score, np.float32))
        object.__setattr__(self, "tiers", _f(self.tiers, np.float32))
        vis = np.ones(n, bool) if self.visible is None else _f(self.visible, bool)
        object.__setattr__(self, "visible", vis)
        ver = np.full(n, np.nan, np.float32) if self.verify is None else _f(self.verify, np.float32)
        object.__setattr__(self, "verify", ver)
        for name in ("cy", "length_px", "width_px", "angle_rad", "kind", "score", "tiers", "visible",
                     "verify"):  # fmt: skip
            if len(getattr(self, name)) != n:
                raise ValueError(
                    f"Detections.{name} has {len(getattr(self, name))} rows, cx has {n}"
                )

    @classmethod
    def empty(cls) -> Detections:
        z = np.zeros(0)
        return cls(z, z, z, z, z, z, z, z)

    def __len__(self) -> int:
        return len(self.cx)

    def select(self, mask_or_index: np.ndarray) -> Detections:
        """Subset by boolean mask or integer index array."""
        return Detections(**{name: getattr(self, name)[mask_or_index] for name in self._fields()})

    def shifted(self, dx: float, dy: float) -> Detections:
        """Same boxes moved by (dx, dy) pixels, e.g. from tile to scene frame."""
        return Detections(**{**self._asdict(), "cx": self.cx + dx, "cy": self.cy + dy})

    def scaled(self, factor: float) -> Detections:
        """Same boxes in a frame whose pixels are ``1/factor`` as large (x' = x * factor)."""
        d = self._asdict()
        for name in ("cx", "cy", "length_px", "width_px"):
            d[name] = d[name] * factor
        return Detections(**d)

    def corners(self) -> np.ndarray:
        """float64 [N, 4, 2] corner (x, y) pixels; see :func:`box_corners`."""
        return box_corners(self.cx, self.cy, self.length_px, self.width_px, self.angle_rad)

    def teu(self) -> int:
        return int(TEU_PER_KIND[self.kind.astype(np.int64)].sum()) if len(self) else 0

    @staticmethod
    def concat(parts: list[Detections]) -> Detections:
        parts = [p for p in parts if len(p)]
        if not parts:
            return Detections.empty()
        return Detections(
            **{n: np.concatenate([getattr(p, n) for p in parts]) for n in Detections._fields()}
        )

    @staticmethod
    def _fields() -> tuple[str, ...]:
        return (
            "cx", "cy", "length_px", "width_px", "angle_rad", "kind", "score", "tiers", "visible",
            "verify",
        )  # fmt: skip

    def _asdict(self) -> dict[str, np.ndarray]:
        return {n: getattr(self, n) for n in self._fields()}


@dataclass(frozen=True)
class Hull:
    """One ship hull as an oriented rectangle in a pixel frame plus identity cues.

    ``polygon`` float64 [K, 2] (x, y) pixels outlining the hull; ``length_m``/``beam_m`` from
    the hull's minimum-area rectangle and the frame's GSD; ``bridge_from_bow`` is the bridge's
    position along the hull as a fraction of length from the bow (0 = bow, 1 = stern), NaN
    when no bridge was seen; ``name`` is the identified ship or "unknown"; ``score`` 0..1.
    """

    polygon: np.ndarray
    length_m: float
    beam_m: float
    bridge_from_bow: float
    name: str = "unknown"
    score: float = 1.0


def drop_contained(dets: Detections, *, shrink: float = 0.8) -> Detections:
    """``dets`` without the boxes whose centre lies inside a higher-scoring box.

    Container tops do not overlap in a view from above, so a centre inside another box's
    footprint (scaled by ``shrink`` about its centre, to tolerate size errors) is a second
    peak on the same container: typically the two 20 ft halves of a 40 ft top. Touching
    neighbours are safe: their centres sit a full length or width from each other. Greedy
    in score order, so a dropped box drops nothing itself. Keeps the input order.
    """
    n = len(dets)
    if n < 2:
        return dets
    from scipy.spatial import cKDTree

    xy = np.stack([dets.cx, dets.cy], axis=1)
    # candidates within each box's own reach (half its diagonal, so the corners count): one
    # absurdly long box costs O(n), not O(n^2)
    reach = 0.5 * shrink * np.hypot(dets.length_px, dets.width_px)
    near = cKDTree(xy).query_ball_point(xy, reach, return_sorted=False)
    strong = np.repeat(np.arange(n), [len(x) for x in near])
    weak = np.concatenate(near).astype(np.int64)  # every list holds at least the box itself
    # strong must outscore weak (ties: the lower index wins)
    sc = dets.score
    wins = (sc[strong] > sc[weak]) | ((sc[strong] == sc[weak]) & (strong < weak))
    strong, weak = strong[wins], weak[wins]
    if not len(strong):
        return dets
    d = xy[weak] - xy[strong]
    along, across = box_offsets(d[:, 0], d[:, 1], dets.angle_rad[strong])
    inside = (along < 0.5 * shrink * dets.length_px[strong]) & (
        across < 0.5 * shrink * dets.width_px[strong]
    )
    strong, weak = strong[inside], weak[inside]
    keep = np.ones(n, bool)
    for k in np.argsort(-sc[strong], kind="stable"):
        if keep[strong[k]]:
            keep[weak[k]] = False
    return dets if keep.all() else dets.select(keep)
