"""How a synthetic scene of the classic family is observed: the acquisition strip's footprint
(:func:`footprint`) and the sensor, cloud and quantisation (:func:`observe`) that turn a
rendered canvas into the product's bands (:func:`nir_band` adds near-infrared)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .portmap import PortMap
from .render import Canvas
from .sensor import SensorParams, apply_sensor, cloud_alpha

if TYPE_CHECKING:
    from .scene import SceneSpec

__all__ = ["footprint", "nir_band", "observe"]


def nir_band(rgb: np.ndarray, water: np.ndarray) -> np.ndarray:
    """A near-infrared band from reflectance and water: vegetation bright, water dark."""
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    veg = np.clip((g - np.maximum(r, b)) * 6.0, 0, 1)
    nir = 0.45 * r + 0.35 * g + 0.2 * b + 0.45 * veg
    return np.where(water.astype(bool), nir * 0.2, nir).astype(np.float32)


def observe(canvas: Canvas, rng, spec: SceneSpec, pm: PortMap, sun_az: float, valid: np.ndarray):
    """Sensor, cloud and quantisation -> image [bands, H, W], 0 outside ``valid``."""
    import cv2

    g = canvas.gsd_m
    h, w = pm.shape
    cloud, shift = None, (0.0, 0.0)
    if spec.cloud > 0:
        centre = None
        if spec.cloud_target_xy_m is not None:
            cx, cy = pm.to_px(*spec.cloud_target_xy_m)
            centre = (float(cx), float(cy))
        cloud = cloud_alpha(rng, (h, w), g, spec.cloud, centre)
        d = rng.uniform(40.0, 120.0) / g
        shift = (-np.sin(np.radians(sun_az)) * d, np.cos(np.radians(sun_az)) * d)
    params = SensorParams(
        blur_sigma_px=float(rng.uniform(0.4, 0.8)), noise_sigma=float(rng.uniform(0.003, 0.012)),
        haze=float(rng.uniform(0.02, 0.15)), gain=tuple(float(v) for v in rng.uniform(0.95, 1.05, 3)),
        contrast=float(rng.uniform(0.9, 1.15)), gamma=float(rng.uniform(0.85, 1.1)),
        jpeg_quality=int(rng.integers(60, 95)) if spec.bits == 8 and rng.random() < 0.3 else 0,
        sharpen=float(rng.uniform(0.0, 0.5)), chroma_blur_px=float(rng.uniform(0.6, 1.6)),
    )  # fmt: skip
    rgb = apply_sensor(canvas.rgb, params, rng, cloud=cloud, cloud_shift_px=shift)
    chans = [rgb[..., 0], rgb[..., 1], rgb[..., 2]]
    if spec.bands == 4:
        nir = nir_band(canvas.rgb, canvas.water)
        if cloud is not None:
            nir = nir * (1 - cloud) + 0.9 * cloud
        chans.append(cv2.GaussianBlur(nir, (0, 0), params.blur_sigma_px))
    if spec.bits == 8:
        img = np.stack([np.clip(ch * 255 + 0.5, 1, 255) for ch in chans]).astype(np.uint8)
    else:
        dark, span = rng.uniform(60, 140), rng.uniform(1500, 1850)
        img = np.stack([np.clip(dark + ch * span, 1, 2047) for ch in chans]).astype(np.uint16)
    img[:, ~valid] = 0
    return img


def footprint(rng, shape: tuple[int, int]) -> np.ndarray:
    """bool [H, W] valid pixels: the acquisition strip's edge, a rectangle rotated 4-14 deg
    against the grid and scaled 0.9-1, so the corners of the frame are nodata."""
    import cv2

    h, w = shape
    ang = np.radians(rng.uniform(4.0, 14.0)) * rng.choice([-1, 1])
    scale = rng.uniform(0.9, 1.0)
    c, s = np.cos(ang), np.sin(ang)
    half = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * np.array([w, h]) / 2 * scale
    poly = half @ np.array([[c, s], [-s, c]]) + np.array([w, h]) / 2
    valid = np.zeros((h, w), np.uint8)
    cv2.fillConvexPoly(valid, np.round(poly * 16).astype(np.int32), 1, shift=4)
    return valid.astype(bool)
