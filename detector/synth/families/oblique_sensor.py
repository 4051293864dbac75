"""The oblique family's sensor: a pushbroom imager with a panchromatic band and four
multispectral bands at four times its GSD, as very-high-resolution satellites have.

Both bands sample the radiance through their own point spread functions; the
multispectral grid is slightly misregistered against the panchromatic one; each takes shot
and read noise. The product is then pansharpened (Brovey ratio or a Gram-Schmidt-like
component substitution, each with its own colour artefacts), sharpened by MTF compensation
(halos at edges), and either kept linear at 11 bits or stretched for display (dynamic range
adjustment, a tone curve) to 8 bits, sometimes JPEG-compressed.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

__all__ = ["ObliqueSensor", "apply_oblique_sensor", "random_oblique_sensor"]

_MS_RATIO = 4


@dataclass(frozen=True)
class ObliqueSensor:
    """``pan_psf_px`` Gaussian sigma of the panchromatic PSF (product pixels);
    ``ms_psf_px`` that of the multispectral bands (multispectral pixels); ``misreg_px``
    (dx, dy) shift of the multispectral grid (product pixels); ``pan_weights`` float [4]
    response of the panchromatic band to (R, G, B, NIR); ``read_noise``/``shot_noise`` of
    the signal 0..1; ``fusion`` ``brovey`` or ``gs``; ``mtfc``/``mtfc_px`` unsharp amount
    and radius; ``gain`` radiance to 11-bit full scale; the display stretch maps each band's
    0.3 and 99.5 (scene: 99.7) percentiles to black and white, but spans at least a quarter
    of ``white`` (a patch of open water is not stretched into noise), then ``balance`` [3]
    and a ``gamma`` tone curve; ``jpeg`` quality, 0 for none."""

    pan_psf_px: float
    ms_psf_px: float
    misreg_px: tuple[float, float]
    pan_weights: tuple[float, float, float, float]
    read_noise: float
    shot_noise: float
    fusion: str
    mtfc: float
    mtfc_px: float
    gain: float
    white: float
    gamma: float
    balance: tuple[float, float, float]
    jpeg: int


def random_oblique_sensor(rng: np.random.Generator) -> ObliqueSensor:
    w = np.array([0.3, 0.33, 0.17, 0.2]) * rng.uniform(0.85, 1.15, 4)
    return ObliqueSensor(
        pan_psf_px=float(rng.uniform(0.35, 0.65)),
        ms_psf_px=float(rng.uniform(0.4, 0.7)),
        misreg_px=(float(rng.normal(0, 0.7)), float(rng.normal(0, 0.7))),
        pan_weights=tuple(float(x) for x in w / w.sum()),
        read_noise=float(rng.uniform(0.0005, 0.0015)),
        shot_noise=float(rng.uniform(0.00002, 0.0001)),
        fusion=str(rng.choice(["brovey", "gs"])),
        mtfc=float(rng.uniform(0.2, 0.8)),
        mtfc_px=float(rng.uniform(0.7, 1.5)),
        gain=float(rng.uniform(4.0, 6.0)),
        white=float(rng.uniform(0.14, 0.26)),
        gamma=float(rng.uniform(1.7, 2.4)),
        balance=tuple(float(x) for x in rng.uniform(0.93, 1.07, 3)),
        jpeg=int(rng.choice([0, 0, int(rng.integers(55, 96))])),
    )


def _noisy(x: np.ndarray, s: ObliqueSensor, rng, scale: float = 1.0) -> np.ndarray:
    sd = np.sqrt(s.read_noise**2 + s.shot_noise * np.maximum(x, 0.0)) * scale
    return (x + rng.standard_normal(x.shape).astype(np.float32) * sd).astype(np.float32)


def apply_oblique_sensor(rad: np.ndarray, s: ObliqueSensor, rng: np.random.Generator,
                         out_hw: tuple[int, int], *, display: bool = True,
                         nir: bool = False, scene_stretch: bool = False) -> np.ndarray:  # fmt: skip
    """Image the radiance ``rad`` float32 [h*, w*, 4] (a finer render grid) onto a product
    of ``out_hw`` pixels: float32 [H, W, 3] (4 with ``nir``) in 0..1, linear 11-bit full
    scale for ``display`` False, a display stretch quantised to 8 bits otherwise
    (``scene_stretch``: a whole scene's, from a higher percentile)."""
    H, W = out_hw  # noqa: N806
    ss = rad.shape[0] / H
    x = rad * np.float32(s.gain)
    pan = x @ np.float32(s.pan_weights)
    pan = cv2.GaussianBlur(pan, (0, 0), max(s.pan_psf_px * ss, 0.3))
    pan = _noisy(cv2.resize(pan, (W, H), interpolation=cv2.INTER_AREA), s, rng)
    sig = s.ms_psf_px * _MS_RATIO * ss
    ms = cv2.GaussianBlur(x, (0, 0), sig)
    shift = np.float32([[1, 0, s.misreg_px[0] * ss], [0, 1, s.misreg_px[1] * ss]])
    ms = cv2.warpAffine(ms, shift, (ms.shape[1], ms.shape[0]), borderMode=cv2.BORDER_REFLECT)
    hm, wm = max(-(-H // _MS_RATIO), 1), max(-(-W // _MS_RATIO), 1)
    ms = _noisy(cv2.resize(ms, (wm, hm), interpolation=cv2.INTER_AREA), s, rng, 0.7)
    up = cv2.resize(ms, (wm * _MS_RATIO, hm * _MS_RATIO), interpolation=cv2.INTER_CUBIC)
    up = up[:H, :W]
    synth = up @ np.float32(s.pan_weights)
    if s.fusion == "brovey":
        sharp = up * (np.maximum(pan, 1e-4) / np.maximum(synth, 1e-4))[..., None]
    else:
        sharp = up + _gs_gains(up, synth) * (pan - synth)[..., None]
    blur = cv2.GaussianBlur(sharp, (0, 0), s.mtfc_px)
    sharp = sharp + np.float32(s.mtfc) * (sharp - blur)
    bands = sharp if nir else sharp[..., :3]
    if not display:
        return np.clip(np.round(np.clip(bands, 0, 1) * 2047) / 2047, 0, 1).astype(np.float32)
    rgb = bands[..., :3] / np.float32(s.gain)
    probe = rgb[::3, ::3].reshape(-1, 3)
    black = np.percentile(probe, 0.3, axis=0).astype(np.float32)
    top = np.percentile(probe, 99.7 if scene_stretch else 99.5, axis=0).astype(np.float32)
    white = np.maximum(top, black + np.float32(s.white) * 0.25)
    t = np.clip((rgb - black) / (white - black), 0, 1) * np.float32(s.balance)
    t = np.clip(t, 0, 1) ** np.float32(1.0 / s.gamma)
    q = np.round(t * 255).astype(np.uint8)
    if s.jpeg:
        ok, buf = cv2.imencode(".jpg", q[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, s.jpeg])
        if ok:
            q = cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1]
    return (q.astype(np.float32) / 255.0).astype(np.float32)


def _gs_gains(up: np.ndarray, synth: np.ndarray) -> np.ndarray:
    """float32 [4]: cov(band, synthetic pan) / var(synthetic pan), the Gram-Schmidt
    injection gains."""
    d = (synth - synth.mean()).ravel()
    b = (up - up.mean(axis=(0, 1))).reshape(-1, up.shape[-1])
    return (d @ b / max(float(d @ d), 1e-9)).astype(np.float32)
