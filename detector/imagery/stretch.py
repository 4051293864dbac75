"""The per-scene intensity stretch: raw digital numbers (DN) of each band to 0..1.

A stretch is computed once per scene from a decimated sample (see
:func:`detector.imagery.raster.open_scene`) and applied unchanged to every tile, so tiles of one scene
are normalised identically and 11-16-bit data is never divided by 255.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Stretch", "LOW_PERCENTILE", "HIGH_PERCENTILE", "compute_stretch", "apply_stretch"]

LOW_PERCENTILE = 2.0
HIGH_PERCENTILE = 98.0


@dataclass(frozen=True)
class Stretch:
    """Linear map of raw DN to 0..1 per selected band: ``(dn - low) / (high - low)``, clipped.

    ``low`` and ``high`` are raw DN values, one per selected band (in selection order);
    ``high > low`` always holds.
    """

    low: tuple[float, ...]
    high: tuple[float, ...]

    def to_dict(self) -> dict[str, list[float]]:
        return {"low": list(self.low), "high": list(self.high)}


def compute_stretch(
    sample: np.ndarray,
    valid: np.ndarray | None = None,
    *,
    low_pct: float = LOW_PERCENTILE,
    high_pct: float = HIGH_PERCENTILE,
) -> Stretch:
    """Per-band ``low_pct``/``high_pct`` percentiles of the valid pixels of ``sample``.

    ``sample``: array ``[B, h, w]`` of raw DN (any dtype); ``valid``: bool ``[h, w]`` or None
    (all valid). A band whose percentiles coincide (flat band) gets ``high = low + 1`` so
    the map stays finite. Raises ValueError when no pixel is valid.
    """
    sample = np.asarray(sample)
    if sample.ndim != 3:
        raise ValueError(f"sample must be [B, h, w], got shape {sample.shape}")
    flat = sample.reshape(sample.shape[0], -1)
    if valid is not None:
        flat = flat[:, np.asarray(valid, dtype=bool).reshape(-1)]
    flat = flat.astype(np.float64, copy=False)
    finite = np.isfinite(flat).all(axis=0)
    flat = flat[:, finite]
    if flat.shape[1] == 0:
        raise ValueError("no valid pixel to compute a stretch from")
    lo, hi = np.percentile(flat, [low_pct, high_pct], axis=1)
    hi = np.where(hi > lo, hi, lo + 1.0)
    return Stretch(low=tuple(float(v) for v in lo), high=tuple(float(v) for v in hi))


def apply_stretch(data: np.ndarray, stretch: Stretch) -> np.ndarray:
    """``data`` ``[B, h, w]`` raw DN -> float32 ``[B, h, w]`` in 0..1 (B = len(stretch.low))."""
    lo = np.asarray(stretch.low, dtype=np.float32)[:, None, None]
    hi = np.asarray(stretch.high, dtype=np.float32)[:, None, None]
    out = np.asarray(data, dtype=np.float32) - lo
    out /= hi - lo
    np.clip(out, 0.0, 1.0, out=out)
    return np.nan_to_num(out, copy=False, nan=0.0)
