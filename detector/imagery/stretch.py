"""The per-scene intensity stretch: raw digital numbers (DN) of each band to 0..1.

A stretch is computed once per scene from a decimated sample (see
:func:`detector.imagery.raster.open_scene`) and applied unchanged to every tile, so tiles of one scene
are normalised identically and 11-16-bit data is never divided by 255.

What the percentiles are taken over must not depend on how much sea, cloud deck, snowfield
or nodata the scene holds around the port (the same port pixels alone or inside a 15 km strip
of sea must be stretched alike): :func:`scene_stretch` takes them over the *structured*
pixels only (:func:`structured_mask`): those in blocks of :data:`FLAT_BLOCK_M` whose pixels
vary. Open water, a cloud deck and nodata are flat at any sample spacing; a port, a town or
fields are not. Scenes with too few such pixels (all sea) fall back to every valid pixel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "Stretch",
    "LOW_PERCENTILE",
    "HIGH_PERCENTILE",
    "FLAT_BLOCK_M",
    "FLAT_STD",
    "MIN_STRUCTURED",
    "compute_stretch",
    "apply_stretch",
    "nominal_range",
    "structured_mask",
    "scene_stretch",
]

LOW_PERCENTILE = 2.0
HIGH_PERCENTILE = 98.0
#: side of the blocks the flatness test looks at, in metres (at least 2 sample pixels)
FLAT_BLOCK_M = 8.0
#: a block is flat when, in every band, its pixels' standard deviation is at most this
#: share of the band's nominal range (:func:`nominal_range`): 2.55 DN in 8 bits
FLAT_STD = 0.01
#: fewer structured pixels than this share of the valid ones (or than 256): all valid count
MIN_STRUCTURED = 0.01


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


def nominal_range(sample: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """float64 [B]: each band's nominal full scale. Integer data: the valid maximum rounded
    up to a power of two minus one (255 for 8 bits, 2047 for 11 bits in uint16, at least
    255), which a little more or less sea does not move; float data: the spread between
    the 0.1 and 99.9 % percentiles."""
    flat = np.asarray(sample).reshape(sample.shape[0], -1)
    if valid is not None:
        flat = flat[:, np.asarray(valid, bool).reshape(-1)]
    if flat.shape[1] == 0:
        return np.ones(sample.shape[0])
    if np.issubdtype(flat.dtype, np.integer):
        top = flat.max(axis=1).astype(np.float64)
        return np.maximum(2.0 ** np.ceil(np.log2(top + 1.0)) - 1.0, 255.0)
    f = flat.astype(np.float64)
    lo, hi = np.nanpercentile(f, [0.1, 99.9], axis=1)
    return np.maximum(hi - lo, 1e-9)


def structured_mask(
    sample: np.ndarray,
    valid: np.ndarray | None = None,
    *,
    block_px: int,
    flat_std: float = FLAT_STD,
) -> np.ndarray:
    """bool [h, w]: the valid pixels of ``sample`` ([B, h, w] raw DN) in *structured*
    blocks: ``block_px`` square blocks in which some band's standard deviation over the
    valid pixels exceeds ``flat_std`` of its :func:`nominal_range`. Open sea, a cloud deck,
    a snowfield and nodata are flat; quays, stacks, ships, roads and roofs are not. A block
    across a quay's edge counts whole: a ring of sea one block wide (:data:`FLAT_BLOCK_M`)
    around a port counts with it, ~2 % of a 2 x 1 km port's pixels. (Leaving out a
    structured block's pixels that look like a flat neighbour removes that ring, but also
    a yard's tarmac beside a flat apron, and moved the stretch of ports alone more: tried,
    not adopted.)"""
    sample = np.asarray(sample)
    nb, h, w = sample.shape
    v = np.ones((h, w), bool) if valid is None else np.asarray(valid, bool)
    b = max(1, int(block_px))
    gh, gw = -(-h // b), -(-w // b)
    pad = ((0, gh * b - h), (0, gw * b - w))
    vv = np.pad(v, pad).reshape(gh, b, gw, b)
    n = np.maximum(vv.sum(axis=(1, 3)), 1).astype(np.float64)
    full = nominal_range(sample, v)
    busy = np.zeros((gh, gw), bool)
    for k in range(nb):
        x = np.pad(np.where(v, sample[k], 0).astype(np.float64), pad).reshape(gh, b, gw, b)
        mean = x.sum(axis=(1, 3)) / n
        var = (x * x).sum(axis=(1, 3)) / n - mean * mean
        busy |= var > (flat_std * full[k]) ** 2
    mask = np.repeat(np.repeat(busy, b, axis=0), b, axis=1)[:h, :w]
    return mask & v


def scene_stretch(
    sample: np.ndarray, valid: np.ndarray | None = None, *, sample_gsd_m: float
) -> tuple[Stretch, float]:
    """The 2/98 % :class:`Stretch` of the structured pixels of ``sample`` ([B, h, w] raw DN
    at ``sample_gsd_m`` metres per pixel; :func:`structured_mask` with blocks of
    :data:`FLAT_BLOCK_M`), or of all valid ones when fewer than :data:`MIN_STRUCTURED` of
    them (or 256) are structured; and the share of the valid pixels it was taken from."""
    v = np.ones(sample.shape[1:], bool) if valid is None else np.asarray(valid, bool)
    if sample.dtype.kind == "f":
        v = v & np.isfinite(sample).all(axis=0)
    if not v.any():
        raise ValueError("no valid pixel to compute a stretch from")
    block = max(2, round(FLAT_BLOCK_M / max(float(sample_gsd_m), 1e-9)))
    keep = structured_mask(sample, v, block_px=block)
    n_valid, n_keep = int(v.sum()), int(keep.sum())
    if n_keep < max(256, MIN_STRUCTURED * n_valid):
        return compute_stretch(sample, v), 1.0
    return compute_stretch(sample, keep), n_keep / n_valid
