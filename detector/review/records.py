"""The review round's records: candidates, units, chips, the manifest (re-exported by
:mod:`detector.review.round`, the module to import them from).

Frames: ``Candidate.corners`` and ``Unit.bounds`` are in the scene CRS (map units); a
chip's ``affine`` maps chip pixels (col, row) to the scene CRS (rasterio order
``a, b, c, d, e, f``: ``x = a*col + b*row + c``, ``y = d*col + e*row + f``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

import numpy as np

from ..errors import ReviewError

__all__ = ["KINDS", "REASONS", "Candidate", "Chip", "Manifest", "Unit", "apply_affine",
           "invert_affine", "utc_now"]  # fmt: skip

KINDS = ("20ft", "40ft")
REASONS = (
    "near_threshold",
    "below_peak",
    "flip_disagree",
    "kind_margin",
    "verify_margin",
    "count_change",
    "spread",
    "random",
    "reviewer",
)


def _probability(v) -> float | None:
    """A stored verifier probability: None, NaN (a GeoPackage's empty value) -> None."""
    return None if v is None or not np.isfinite(float(v)) else float(v)


def utc_now() -> str:
    """The current time as an ISO 8601 UTC string (seconds)."""
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Candidate:
    """One box to review. ``corners``: 4 (x, y) points of the rotated box in the scene CRS.
    ``source``: "model" (a detection), "peak" (a below-threshold heatmap peak) or
    "reviewer" (added by hand; its ``score`` is 0). ``verify``: the crop verifier's
    probability for the box in a run made with ``--verify`` (None: not looked at)."""

    cand_id: int
    unit_id: int
    scene: str
    kind: str
    score: float
    reason: str
    source: str
    status: str
    corners: tuple[tuple[float, float], ...]
    verify: float | None = None

    def to_dict(self) -> dict:
        d = asdict(self)
        d["corners"] = [list(p) for p in self.corners]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Candidate:
        return cls(
            cand_id=int(d["cand_id"]),
            unit_id=int(d["unit_id"]),
            scene=str(d["scene"]),
            kind=str(d["kind"]),
            score=float(d["score"]),
            reason=str(d["reason"]),
            source=str(d["source"]),
            status=str(d["status"]),
            corners=tuple((float(x), float(y)) for x, y in d["corners"]),
            verify=_probability(d.get("verify")),
        )

    @property
    def centre(self) -> tuple[float, float]:
        xs, ys = zip(*self.corners, strict=True)
        return (sum(xs) / 4.0, sum(ys) / 4.0)

    @property
    def is_container(self) -> bool:
        """What the review says: accepted or added (a pending box is not yet a decision)."""
        return self.status in ("accepted", "added")


@dataclass(frozen=True)
class Unit:
    """A review unit: a chip-sized square of one scene, reviewed exhaustively once complete.
    ``bounds``: (minx, miny, maxx, maxy) in the scene CRS; ``priority``: higher = more
    doubtful = reviewed earlier."""

    unit_id: int
    scene: str
    split: str
    status: str
    priority: float
    reason: str
    bounds: tuple[float, float, float, float]

    def to_dict(self) -> dict:
        d = asdict(self)
        d["bounds"] = list(self.bounds)
        return d

    def contains(self, x: float, y: float) -> bool:
        minx, miny, maxx, maxy = self.bounds
        return minx <= x <= maxx and miny <= y <= maxy


@dataclass(frozen=True)
class Chip:
    """The picture of one unit. ``window``: (col_off, row_off, width, height) in scene
    pixels; ``affine``: chip pixel -> scene CRS (6 numbers, rasterio order); ``size_px``:
    (width, height) of the PNG."""

    unit_id: int
    scene: str
    window: tuple[int, int, int, int]
    affine: tuple[float, float, float, float, float, float]
    gsd_m: float
    size_px: tuple[int, int]

    def to_dict(self) -> dict:
        return {
            "scene": self.scene,
            "window": list(self.window),
            "affine": list(self.affine),
            "gsd_m": self.gsd_m,
            "size_px": list(self.size_px),
        }

    @classmethod
    def from_dict(cls, unit_id: int, d: dict) -> Chip:
        return cls(
            unit_id=int(unit_id),
            scene=str(d["scene"]),
            window=tuple(int(v) for v in d["window"]),
            affine=tuple(float(v) for v in d["affine"]),
            gsd_m=float(d["gsd_m"]),
            size_px=tuple(int(v) for v in d["size_px"]),
        )


@dataclass(frozen=True)
class Manifest:
    """What the round was made from. ``scenes``: {scene_id: {"path", "crs", "gsd_m",
    "transform"}} (transform: scene pixel -> CRS, 6 numbers, rasterio order); ``verify``:
    the detect run's verifier file, hash and threshold (``--verify``), else empty."""

    model: str
    model_sha256: str
    threshold: float
    strategy: str
    seed: int
    budget: int
    holdout_share: float
    detect_dir: str
    scenes: dict = field(default_factory=dict)
    created: str = ""
    schema: int = 1
    verify: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Manifest:
        names = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in d.items() if k in names})


def apply_affine(affine: Sequence[float], xy: np.ndarray) -> np.ndarray:
    """Points ``[..., 2]`` through the 6-number affine (rasterio order)."""
    a, b, c, d, e, f = (float(v) for v in affine)
    p = np.asarray(xy, dtype=np.float64)
    x, y = p[..., 0], p[..., 1]
    return np.stack([a * x + b * y + c, d * x + e * y + f], axis=-1)


def invert_affine(affine: Sequence[float]) -> tuple[float, ...]:
    a, b, c, d, e, f = affine
    det = a * e - b * d
    if det == 0:
        raise ReviewError(f"chip affine {tuple(affine)} is singular")
    ia, ib, id_, ie = e / det, -b / det, -d / det, a / det
    return (ia, ib, -(ia * c + ib * f), id_, ie, -(id_ * c + ie * f))
