"""The photo family's sensor: haze, MTF blur, pansharpening, signal-dependent noise, an 8-,
11- or 16-bit product with clipping, a display stretch and JPEG. Independent of the
classic and flat sensors.

1. Haze: path radiance towards a bluish-white veil plus adjacency (a wide blur mixed in).
2. MTF: a Gaussian or an Airy-like (jinc squared, apodised) point spread function.
3. Pansharpening (most samples): the colour bands are seen at 1/4 the resolution, with a
   sub-pixel misregistration, and fused with the full-resolution panchromatic band
   (Brovey ratio or component substitution); the bands are misregistered against each
   other (red and blue apart), so colour fringes appear at sharp edges, even grey ones.
4. Noise: Poisson-like (variance proportional to the signal) plus read noise, in counts,
   mostly common to the bands (as after pansharpening) with a smaller per-band part.
5. Product: ``gain``/``offset`` to the full scale of ``bits``, rounded and clipped (gain
   above 1 saturates the brightest roofs).
6. Display: a percentile stretch, a fixed range or a fixed range with a gamma; then JPEG at
   quality 20-95 in some samples.

Images are float32 [H, W, C] 0..1 in and out (C = 3, or 4 with a NIR band).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

__all__ = ["PhotoSensor", "apply_photo_sensor", "random_photo_sensor"]

_PAN_W = np.float32((0.3, 0.4, 0.3, 0.0))
_HAZE_RANGES = ((0.6, 0.75), (0.68, 0.8), (0.78, 0.92))  # a bluish-white veil


@dataclass(frozen=True)
class PhotoSensor:
    """``haze`` 0..0.35 veil fraction; ``psf`` ``gauss`` or ``airy`` with ``psf_px`` its
    width (sigma, or first-zero radius / 1.22); ``pansharp`` ``none``, ``brovey`` or
    ``cs``; ``misreg_px`` (dx, dy) shift of the colour bands in output pixels;
    ``noise`` (shot, read) in counts of the product's full scale / 2^bits; ``bits`` 8, 11
    or 16; ``gain``, ``offset``; ``stretch`` ``pct``, ``fixed`` or ``gamma`` with
    ``stretch_param`` (upper percentile or gamma); ``jpeg_quality`` 20-95 or 0."""

    haze: float
    haze_rgb: tuple[float, float, float]
    psf: str
    psf_px: float
    pansharp: str
    misreg_px: tuple[float, float]
    noise: tuple[float, float]
    bits: int
    gain: float
    offset: float
    stretch: str
    stretch_param: float
    jpeg_quality: int


def random_photo_sensor(rng: np.random.Generator) -> PhotoSensor:
    haze = float(rng.uniform(0.0, 0.35)) if rng.random() < 0.7 else 0.0
    return PhotoSensor(
        haze=haze,
        haze_rgb=tuple(float(rng.uniform(a, b)) for a, b in _HAZE_RANGES),
        psf=str(rng.choice(["gauss", "airy"])),
        psf_px=float(rng.uniform(0.35, 1.2)),
        pansharp=str(rng.choice(["none", "brovey", "cs", "cs"])),
        misreg_px=(float(rng.normal(0, 0.6)), float(rng.normal(0, 0.6))),
        noise=(float(rng.uniform(0.02, 0.4)), float(rng.uniform(0.3, 2.0))),
        bits=int(rng.choice([8, 11, 16])),
        gain=float(rng.uniform(0.7, 1.35)),
        offset=float(rng.uniform(0.0, 0.06)),
        stretch=str(rng.choice(["pct", "pct", "fixed", "gamma"])),
        stretch_param=float(rng.uniform(98.0, 99.9)),
        jpeg_quality=int(rng.integers(20, 96)) if rng.random() < 0.6 else 0,
    )  # fmt: skip


def _psf(kind: str, width_px: float) -> np.ndarray:
    """Normalised kernel: Gaussian (sigma ``width_px``) or Airy-like jinc^2 whose first
    zero lies at 1.22 ``width_px``, apodised by a Gaussian so it stays compact."""
    r = int(np.ceil(3.5 * width_px)) + 1
    y, x = np.mgrid[-r : r + 1, -r : r + 1].astype(np.float64)
    rho = np.hypot(x, y)
    if kind == "gauss":
        k = np.exp(-0.5 * (rho / max(width_px, 1e-3)) ** 2)
    else:
        from scipy.special import j1

        z = np.pi * 1.22 * rho / max(1.22 * width_px, 1e-3) * (3.8317 / (np.pi * 1.22))
        jinc = np.where(z > 1e-9, 2 * j1(z) / np.maximum(z, 1e-9), 1.0)
        k = jinc**2 * np.exp(-0.5 * (rho / (2.5 * width_px)) ** 2)
    return (k / k.sum()).astype(np.float32)


def _pansharpen(x: np.ndarray, mode: str, shift: tuple[float, float]) -> np.ndarray:
    h, w, c = x.shape
    wts = _PAN_W[:c] / _PAN_W[:c].sum()
    pan = x @ wts
    small = cv2.resize(x, (max(w // 4, 1), max(h // 4, 1)), interpolation=cv2.INTER_AREA)
    ms = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC).reshape(h, w, c)
    bands = []
    for k in range(c):  # band-to-band misregistration: red and blue apart, green between
        f = (k - 1.0) if k < 3 else 0.5
        m = np.float32([[1, 0, shift[0] * f], [0, 1, shift[1] * f]])
        band = np.ascontiguousarray(ms[..., k])
        flags = cv2.INTER_LINEAR
        bands.append(cv2.warpAffine(band, m, (w, h), flags=flags, borderMode=cv2.BORDER_REFLECT))
    ms = np.dstack(bands)
    ms_pan = ms @ wts
    if mode == "brovey":
        return ms * (pan / np.maximum(ms_pan, 1e-3))[..., None]
    return ms + (pan - ms_pan)[..., None]


def apply_photo_sensor(
    img: np.ndarray, s: PhotoSensor, rng: np.random.Generator, *, display: bool = True
) -> np.ndarray:
    """Pass a rendered radiance image (float32 [H, W, C], 0..~1) through ``s``. With
    ``display`` the result is display-stretched 0..1 (and JPEG'd); without, it is the
    product's counts / full scale (0..1) before any stretch."""
    x = np.asarray(img, np.float32)
    c = x.shape[2]
    if s.haze > 0:
        veil = np.float32((*s.haze_rgb, 0.55)[:c])
        wide = cv2.GaussianBlur(x, (0, 0), 12.0).reshape(x.shape)
        x = (1 - 0.5 * s.haze) * x + 0.5 * s.haze * wide
        x = x * (1 - s.haze) + veil * s.haze
    x = cv2.filter2D(x, -1, _psf(s.psf, s.psf_px), borderType=cv2.BORDER_REFLECT).reshape(x.shape)
    if s.pansharp != "none":
        x = _pansharpen(x, s.pansharp, s.misreg_px)
    full = float(2**s.bits - 1)
    dn = (x * s.gain + s.offset) * full
    scale = full / 255.0  # noise given in 8-bit counts, scaled to the product
    sigma = np.sqrt(np.maximum(dn, 0) * s.noise[0] * scale + (s.noise[1] * scale) ** 2)
    lum = rng.standard_normal(dn.shape[:2]).astype(np.float32)[..., None]
    chroma = rng.standard_normal(dn.shape).astype(np.float32)
    dn = dn + sigma * (0.9 * lum + 0.45 * chroma)  # mostly shared by the bands (pan)
    dn = np.clip(np.round(dn), 0, full)
    if not display:
        return (dn / full).astype(np.float32)
    if s.stretch == "pct":
        lo = np.percentile(dn, 100 - s.stretch_param, axis=(0, 1))
        hi = np.percentile(dn, s.stretch_param, axis=(0, 1))
        span = np.maximum(hi - lo, 0.25 * full * s.gain)  # a flat scene is not blown up
        x = (dn - lo) / span
    else:
        x = (dn - s.offset * full) / (full * (1 - s.offset))
        if s.stretch == "gamma":
            x = np.clip(x, 0, 1) ** np.float32(0.6 + 0.4 * (s.stretch_param - 98.0) / 1.9)
    x = np.clip(x, 0, 1).astype(np.float32)
    if s.jpeg_quality and c == 3:
        x8 = np.round(x * 255).astype(np.uint8)
        ok, buf = cv2.imencode(".jpg", x8[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, s.jpeg_quality])
        x = cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1].astype(np.float32) / 255
    return np.ascontiguousarray(x, dtype=np.float32)
