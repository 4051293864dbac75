"""The relief family's sensor: from four bands of radiance to a display product.

1. Atmosphere: Rayleigh path radiance, strongest in blue (~ wavelength^-4), and a thin
   aerosol veil; the surface signal is attenuated by the same amount.
2. Colour: the product's red, green and blue from the four bands through a matrix with
   cross-talk (the near-infrared leaks into red in some sensors) and a white balance.
3. Optics and detector: a Gaussian MTF, then the provider's MTF compensation (an unsharp
   mask that overshoots: bright and dark halos at every edge), push-broom column striping,
   shot and read noise.
4. Product: 8-, 11- or 16-bit counts; a dynamic-range adjustment to display (global
   percentile stretch with a gamma, an S curve, or contrast-limited local equalisation).
5. Compression: none, JPEG 2000 (wavelet: blur and ringing, no blocks) or WebP.

Independent of the classic, flat and photo sensors. Images are float32 [H, W, C]; in:
four bands of radiance (a lit surface of reflectance r is ~r), out: RGB 0..1.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

__all__ = ["ReliefSensor", "apply_relief_sensor", "random_relief_sensor"]

_RAYLEIGH = np.float32([1.0, 0.55, 0.3, 0.08])  # blue, green, red, nir (lambda^-4, scaled)


@dataclass(frozen=True)
class ReliefSensor:
    """``path`` Rayleigh path radiance in blue; ``veil`` aerosol fraction; ``matrix`` [3, 4]
    RGB from (b, g, r, nir); ``blur_px`` MTF sigma; ``mtfc`` unsharp amount and
    ``mtfc_px`` its sigma; ``stripes`` column gain sd; ``photons`` at full scale (shot
    noise) and ``read`` noise sd (fraction of full scale); ``bits``; ``dra`` ``pct``,
    ``scurve`` or ``clahe`` and ``gamma``; ``codec`` ``none``, ``jp2`` or ``webp`` with
    ``quality`` (JPEG 2000: rate x1000, 100-400; WebP 20-95)."""

    path: float
    veil: float
    matrix: np.ndarray
    blur_px: float
    mtfc: float
    mtfc_px: float
    stripes: float
    photons: float
    read: float
    bits: int
    dra: str
    gamma: float
    codec: str
    quality: int


def random_relief_sensor(rng: np.random.Generator) -> ReliefSensor:
    eye = np.array([[0, 0, 1, 0], [0, 1, 0, 0], [1, 0, 0, 0]], np.float32)  # r, g, b rows
    cross = rng.uniform(0.0, 0.12, (3, 4)).astype(np.float32)
    cross[0, 3] = rng.uniform(0.0, 0.15) if rng.random() < 0.3 else 0.0  # nir into red
    cross[1:, 3] = 0.0
    mat = (eye + cross) / (eye + cross).sum(axis=1, keepdims=True)  # rows sum to the balance
    mat *= rng.uniform(0.85, 1.15, (3, 1)).astype(np.float32)
    codec = str(rng.choice(["none", "jp2", "webp"], p=[0.4, 0.35, 0.25]))
    quality = int(rng.integers(100, 400)) if codec == "jp2" else int(rng.integers(20, 96))
    return ReliefSensor(
        path=float(rng.uniform(0.0, 0.12)),
        veil=float(rng.uniform(0.0, 0.2)),
        matrix=mat,
        blur_px=float(rng.uniform(0.3, 1.3)),
        mtfc=float(rng.choice([0.0, rng.uniform(0.3, 1.5)])),
        mtfc_px=float(rng.uniform(0.8, 2.0)),
        stripes=float(rng.uniform(0.0, 0.02)) if rng.random() < 0.3 else 0.0,
        photons=float(10 ** rng.uniform(3.0, 4.5)),
        read=float(rng.uniform(0.0, 0.008)),
        bits=int(rng.choice([8, 11, 16])),
        dra=str(rng.choice(["pct", "scurve", "clahe"], p=[0.45, 0.3, 0.25])),
        gamma=float(rng.uniform(0.55, 1.0)),
        codec=codec,
        quality=quality,
    )


def apply_relief_sensor(rad: np.ndarray, s: ReliefSensor, rng: np.random.Generator, *,
                        display: bool = True, nir: bool = False) -> np.ndarray:  # fmt: skip
    """Pass four bands of radiance through the sensor ``s`` (noise from ``rng``). ``display``
    False: the product's linear counts / full scale (no adjustment, no compression); ``nir``
    adds the near-infrared band as a fourth channel (with ``display`` False only)."""
    x = np.asarray(rad, np.float32)
    x = x * (1 - s.veil) + s.veil * np.float32(0.45) + np.float32(s.path) * _RAYLEIGH
    rgb = np.einsum("hwc,kc->hwk", x, s.matrix).astype(np.float32)
    if nir and not display:
        rgb = np.dstack([rgb, x[..., 3]])
    rgb = cv2.GaussianBlur(rgb, (0, 0), s.blur_px, borderType=cv2.BORDER_REFLECT)
    if s.mtfc > 0:
        soft = cv2.GaussianBlur(rgb, (0, 0), s.mtfc_px, borderType=cv2.BORDER_REFLECT)
        rgb = rgb + np.float32(s.mtfc) * (rgb - soft)
    if s.stripes > 0:
        rgb = rgb * (1 + rng.normal(0, s.stripes, (1, rgb.shape[1], 1))).astype(np.float32)
    sig = np.clip(rgb, 0, None)
    noise = np.sqrt(sig / s.photons) * rng.standard_normal(rgb.shape[:2])[..., None]
    rgb = rgb + noise.astype(np.float32) + rng.normal(0, s.read, rgb.shape).astype(np.float32)
    full = float(2**s.bits - 1)
    dn = np.clip(np.round(rgb * 0.8 * full), 0, full)  # the product keeps headroom
    if not display:
        return np.ascontiguousarray(dn / np.float32(full), dtype=np.float32)
    lo, hi = np.percentile(dn[::4, ::4], (float(rng.uniform(0, 2)), float(rng.uniform(98, 100))))
    y = np.clip((dn - lo) / max(hi - lo, 1.0), 0, 1).astype(np.float32)
    if s.dra == "pct":
        y = y ** np.float32(s.gamma)
    elif s.dra == "scurve":
        k = 4.0 + 6.0 * (1.0 - s.gamma)
        y = (1 / (1 + np.exp(-k * (y - 0.5))) - 1 / (1 + np.exp(k / 2))) / (
            1 / (1 + np.exp(-k / 2)) - 1 / (1 + np.exp(k / 2))
        )
        y = y.astype(np.float32)
    else:
        y8 = np.round(y**s.gamma * 255).astype(np.uint8)
        lab = cv2.cvtColor(y8, cv2.COLOR_RGB2LAB)
        clahe = cv2.createCLAHE(clipLimit=1.0 + 2.0 * (1.0 - s.gamma), tileGridSize=(4, 4))
        lab[..., 0] = clahe.apply(lab[..., 0])
        y = cv2.cvtColor(lab, cv2.COLOR_LAB2RGB).astype(np.float32) / 255
    if s.codec != "none":
        y8 = np.round(np.clip(y, 0, 1) * 255).astype(np.uint8)[..., ::-1]
        if s.codec == "jp2":
            ok, buf = cv2.imencode(".jp2", y8, [cv2.IMWRITE_JPEG2000_COMPRESSION_X1000,
                                               s.quality])  # fmt: skip
        else:
            ok, buf = cv2.imencode(".webp", y8, [cv2.IMWRITE_WEBP_QUALITY, s.quality])
        if ok:
            y = cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1].astype(np.float32) / 255
    return np.ascontiguousarray(np.clip(y, 0, 1), dtype=np.float32)
