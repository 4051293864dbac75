"""Stack height from the model's ``tiers`` channel, which may predict the stack's shadow.

How tall a stack is shows mainly in its shadow, and a shadow's length depends on the sun:
``length = height / tan(sun elevation)``. A model that regresses tiers directly has to guess
the sun from the picture (it cannot: a 1-tier stack at 20 degrees casts the shadow of a
4-tier one at 55), so it learns the mean. Weights with ``tiers_output = "log_shadow_m"``
instead regress what the picture shows, the log of the stack's ground shadow length in
metres, and the sun elevation of the scene (from its acquisition time and place) turns it
into tiers: ``tiers = exp(out) * tan(elevation) / TIER_HEIGHT_M``. Weights with
``tiers_output = "tiers"`` (the first releases) regress tiers directly.
"""

from __future__ import annotations

import numpy as np

from ..detections import TIER_HEIGHT_M

__all__ = [
    "TIERS_DIRECT",
    "TIERS_LOG_SHADOW",
    "TIERS_OUTPUTS",
    "MIN_SUN_ELEVATION_DEG",
    "sun_usable",
    "shadow_target",
    "tiers_from_output",
    "tiers_basis",
]

TIERS_DIRECT = "tiers"
TIERS_LOG_SHADOW = "log_shadow_m"
TIERS_OUTPUTS = (TIERS_DIRECT, TIERS_LOG_SHADOW)
# Below this the shadows are too long and faint to read; tiers are then left unknown.
MIN_SUN_ELEVATION_DEG = 5.0


def _tan_elevation(elevation_deg: float | None) -> float | None:
    if elevation_deg is None or not np.isfinite(elevation_deg):
        return None
    if elevation_deg < MIN_SUN_ELEVATION_DEG:
        return None
    return float(np.tan(np.radians(min(float(elevation_deg), 89.0))))


def sun_usable(elevation_deg: float | None) -> bool:
    """Whether a sun at ``elevation_deg`` (None: unknown) lets shadows be read as heights."""
    return _tan_elevation(elevation_deg) is not None


def shadow_target(tiers: np.ndarray, elevation_deg: float | None) -> np.ndarray | None:
    """Training target of a ``log_shadow_m`` model: log ground shadow length (m) of stacks of
    ``tiers`` (float [N], >= 1) under a sun at ``elevation_deg``; None when the sun is
    unknown or too low (no tiers target then)."""
    tan_e = _tan_elevation(elevation_deg)
    if tan_e is None:
        return None
    t = np.maximum(np.asarray(tiers, np.float64), 1.0)
    return np.log(t * TIER_HEIGHT_M / tan_e).astype(np.float32)


def tiers_from_output(raw: np.ndarray, mode: str, elevation_deg: float | None) -> np.ndarray:
    """Stack tiers float32 [N] from the raw ``tiers`` channel at the detections.

    ``mode`` is the weights' ``tiers_output``. For ``log_shadow_m`` an unknown or very low
    sun gives NaN (unknown height), never a guess.
    """
    raw = np.asarray(raw, np.float64)
    if mode == TIERS_DIRECT:
        return np.maximum(raw, 1.0).astype(np.float32)
    if mode != TIERS_LOG_SHADOW:
        raise ValueError(f"unknown tiers output {mode!r}; expected one of {TIERS_OUTPUTS}")
    tan_e = _tan_elevation(elevation_deg)
    if tan_e is None:
        return np.full(raw.shape, np.nan, np.float32)
    shadow_m = np.exp(np.clip(raw, -6.0, 8.0))
    return (shadow_m * tan_e / TIER_HEIGHT_M).astype(np.float32)


def tiers_basis(tiers_output: str, sun: dict | None) -> str:
    """How ``tiers_est`` was obtained, for counts.json."""
    if tiers_output == TIERS_DIRECT:
        return "regressed by the model (no sun input)"
    if sun is None:
        return "unknown: no acquisition time or place, so shadows cannot be read; est = visible"
    if not sun_usable(sun["elevation_deg"]):
        return (
            f"unknown: sun {sun['elevation_deg']:.1f} deg is too low to read shadows; est = visible"
        )
    return f"from shadow length, sun elevation {sun['elevation_deg']:.1f} deg"
