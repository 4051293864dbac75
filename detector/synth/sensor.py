"""What a satellite and its ground processing do to the rendered reflectance.

Order (as in a real product): atmosphere (haze, cloud and its shadow) -> optics (PSF blur
matched to the GSD) -> detector (noise) -> radiometry (gain per band, gamma, contrast) ->
delivery (8-bit JPEG compression for display products). All functions take and return
float32 [H, W, C] images in 0..1 on the render grid.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .textures import fbm, grain

__all__ = ["SensorParams", "apply_sensor", "cloud_alpha", "random_sensor", "resample"]


@dataclass(frozen=True)
class SensorParams:
    blur_sigma_px: float = 0.6
    noise_sigma: float = 0.01
    haze: float = 0.05
    haze_rgb: tuple[float, float, float] = (0.6, 0.65, 0.72)
    gain: tuple[float, float, float] = (1.0, 1.0, 1.0)
    brightness: float = 0.0
    contrast: float = 1.0
    gamma: float = 1.0
    jpeg_quality: int = 0  # 0 = no JPEG
    sharpen: float = 0.0  # unsharp-mask amount (pan-sharpened products look crisp)
    chroma_blur_px: float = 0.0  # pan-sharpening: colour at ~4x coarser GSD than brightness


def random_sensor(rng: np.random.Generator, *, jpeg: bool = True) -> SensorParams:
    """Sensor settings spanning WorldView/Pleiades/SkySat-like products."""
    return SensorParams(
        blur_sigma_px=float(rng.uniform(0.35, 1.1)),
        noise_sigma=float(rng.uniform(0.003, 0.025)),
        haze=float(rng.uniform(0.0, 0.25) if rng.random() < 0.7 else rng.uniform(0.25, 0.45)),
        haze_rgb=tuple(float(v) for v in np.float32((0.6, 0.65, 0.72)) * rng.uniform(0.85, 1.15)),
        gain=tuple(float(v) for v in rng.uniform(0.92, 1.08, 3)),
        brightness=float(rng.uniform(-0.08, 0.08)),
        contrast=float(rng.uniform(0.75, 1.35)),
        gamma=float(rng.uniform(0.7, 1.4)),
        jpeg_quality=int(rng.integers(25, 95)) if jpeg and rng.random() < 0.5 else 0,
        sharpen=float(rng.uniform(0.0, 0.8)) if rng.random() < 0.4 else 0.0,
        chroma_blur_px=float(rng.uniform(0.8, 2.5)) if rng.random() < 0.6 else 0.0,
    )


def cloud_alpha(
    rng: np.random.Generator, shape: tuple[int, int], gsd_m: float, cover: float, centre_xy=None
) -> np.ndarray:
    """float32 [H, W] cloud opacity 0..1 covering about ``cover`` of the frame; when
    ``centre_xy`` is given the cloud is centred there (a cloud over the target)."""
    h, w = shape
    n = fbm(rng, shape, 120.0 / gsd_m, 5, 0.55)
    if centre_xy is not None:
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        r = np.hypot(xx - centre_xy[0], yy - centre_xy[1]) / max(h, w)
        n = n - 6.0 * r + 1.5
    thr = np.quantile(n, 1.0 - float(np.clip(cover, 0.0, 1.0)))
    a = np.clip((n - thr) / 0.8, 0, 1)
    return (a * a * (3 - 2 * a)).astype(np.float32)  # smoothstep


def apply_sensor(
    img: np.ndarray,
    params: SensorParams,
    rng: np.random.Generator,
    *,
    cloud: np.ndarray | None = None,
    cloud_shift_px: tuple[float, float] = (0.0, 0.0),
) -> np.ndarray:
    """The observed image, float32 [H, W, C] 0..1 (C = 3 or 4). ``cloud`` [H, W] opacity;
    its shadow falls ``cloud_shift_px`` away (anti-sun direction, scaled by cloud height)."""
    out = img.astype(np.float32, copy=True)
    c = out.shape[2]
    if cloud is not None:
        h, w = cloud.shape
        m = np.float32([[1, 0, -cloud_shift_px[0]], [0, 1, -cloud_shift_px[1]]])
        shadow = cv2.warpAffine(cloud, m, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
        out *= (1.0 - 0.55 * shadow)[..., None]
        white = np.float32(0.92) + 0.05 * fbm(rng, (h, w), 40.0, 3)[..., None]
        a = cloud[..., None]
        out = out * (1 - a) + white * a
    haze = np.resize(np.float32(params.haze_rgb), c)
    out = out * (1 - params.haze) + haze * params.haze
    if params.chroma_blur_px > 0.05:  # keep brightness sharp, smear colour
        luma = out[..., :3].mean(axis=2, keepdims=True)
        chroma = cv2.GaussianBlur(out[..., :3] - luma, (0, 0), params.chroma_blur_px)
        out[..., :3] = luma + chroma.reshape(luma.shape[:2] + (3,))
    if params.blur_sigma_px > 0.05:
        out = cv2.GaussianBlur(out, (0, 0), params.blur_sigma_px)
    if params.sharpen > 0:
        soft = cv2.GaussianBlur(out, (0, 0), 1.2)
        out = out + params.sharpen * (out - soft)
    out += (grain(rng, out.shape[:2]) * np.float32(params.noise_sigma * 0.6))[..., None]
    out += grain(rng, out.shape) * np.float32(params.noise_sigma * 0.5)
    out *= np.resize(np.float32(params.gain), c)
    out = (out - 0.5) * params.contrast + 0.5 + params.brightness
    out = cv2.pow(np.clip(out, 0, 1), float(params.gamma))
    if params.jpeg_quality and c == 3:
        bgr = np.ascontiguousarray(np.clip(out[..., ::-1] * 255 + 0.5, 0, 255).astype(np.uint8))
        ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, params.jpeg_quality])
        if ok:
            out = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)[..., ::-1].astype(np.float32) / 255.0
    return out.astype(np.float32)


def resample(img: np.ndarray, size_wh: tuple[int, int], method: str = "area") -> np.ndarray:
    """Resize an image [H, W, ...] to ``size_wh`` = (width, height) with pixel-area
    geometry (output pixel i covers input [i*s, (i+1)*s))."""
    interp = {
        "area": cv2.INTER_AREA,
        "linear": cv2.INTER_LINEAR,
        "cubic": cv2.INTER_CUBIC,
        "nearest": cv2.INTER_NEAREST,
    }[method]
    return cv2.resize(img, size_wh, interpolation=interp)
