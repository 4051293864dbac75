"""The flat family's sensor: box blur or none, an 8-, 11- or 16-bit product with gain,
offset and clipping, a percentile stretch back to display, posterisation, chroma
subsampling and JPEG at quality 20-95. Independent of :mod:`detector.synth.sensor`.

Images are float32 [H, W, 3] RGB 0..1 in and out.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

__all__ = ["FlatSensor", "apply_flat_sensor", "random_flat_sensor", "resize"]

_CHROMA = {"444": (1, 1), "422": (1, 2), "420": (2, 2), "411": (1, 4)}  # (rows, cols)


@dataclass(frozen=True)
class FlatSensor:
    """``blur_px`` box-blur kernel (1 = none); ``bits`` of the product (8, 11, 16);
    ``gain``/``offset`` map reflectance to the product's full scale (gain > 1 clips the
    brightest); ``stretch_pct`` (low, high) percentiles mapped to 0..1, or None: the
    product's range from the dark offset to full scale (gain > 1 saturates, < 1 leaves it
    dim); ``levels`` posterise to this many levels per band (0 = none); ``chroma`` subsampling (``444`` ... ``411``);
    ``jpeg_quality`` 20-95, or 0 for no compression."""

    blur_px: int
    bits: int
    gain: float
    offset: float
    stretch_pct: tuple[float, float] | None
    levels: int
    chroma: str
    jpeg_quality: int


def random_flat_sensor(rng: np.random.Generator) -> FlatSensor:
    return FlatSensor(
        blur_px=int(rng.choice([1, 1, 2, 3])),
        bits=int(rng.choice([8, 11, 16])),
        gain=float(rng.uniform(0.6, 1.4)),
        offset=float(rng.uniform(0.0, 0.08)),
        stretch_pct=(float(rng.uniform(0.0, 1.0)), float(rng.uniform(98.5, 100.0)))
        if rng.random() < 0.5
        else None,
        levels=int(rng.choice([0, 0, 0, 6, 12, 24])),
        chroma=str(rng.choice(list(_CHROMA))),
        jpeg_quality=int(rng.integers(20, 96)) if rng.random() < 0.7 else 0,
    )


def _chroma(img8: np.ndarray, mode: str) -> np.ndarray:
    fy, fx = _CHROMA[mode]
    if (fy, fx) == (1, 1):
        return img8
    h, w = img8.shape[:2]
    ycc = cv2.cvtColor(img8, cv2.COLOR_RGB2YCrCb)
    for c in (1, 2):
        small = cv2.resize(ycc[..., c], (max(w // fx, 1), max(h // fy, 1)), cv2.INTER_AREA)
        ycc[..., c] = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    return cv2.cvtColor(ycc, cv2.COLOR_YCrCb2RGB)


def apply_flat_sensor(img: np.ndarray, s: FlatSensor) -> np.ndarray:
    """Pass a flat render through the sensor ``s``; deterministic."""
    x = np.asarray(img, np.float32)
    if s.blur_px > 1:
        x = cv2.blur(x, (s.blur_px, s.blur_px), borderType=cv2.BORDER_REFLECT)
    full = float(2**s.bits - 1)
    dn = np.clip(np.round((x * s.gain + s.offset) * full), 0, full)
    if s.stretch_pct is None:  # a fixed radiometric range
        lo, hi = s.offset * full, full
    else:
        lo, hi = np.percentile(dn, s.stretch_pct)
    x = np.clip((dn - lo) / max(hi - lo, 1.0), 0, 1).astype(np.float32)
    if s.levels:
        x = np.round(x * (s.levels - 1)) / np.float32(s.levels - 1)
    if s.chroma != "444" or s.jpeg_quality:
        x8 = _chroma(np.round(x * 255).astype(np.uint8), s.chroma)
        if s.jpeg_quality:
            flags = [cv2.IMWRITE_JPEG_QUALITY, s.jpeg_quality]
            flags += [cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444]
            ok, buf = cv2.imencode(".jpg", x8[..., ::-1], flags)
            x8 = cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1]
        x = x8.astype(np.float32) / 255
    return np.ascontiguousarray(x, dtype=np.float32)


def resize(img: np.ndarray, size: int, method: str) -> np.ndarray:
    """Square resize to ``size`` pixels: ``area``, ``linear`` or ``nearest``."""
    flag = {"area": cv2.INTER_AREA, "linear": cv2.INTER_LINEAR, "nearest": cv2.INTER_NEAREST}
    return cv2.resize(img, (size, size), interpolation=flag[method])
