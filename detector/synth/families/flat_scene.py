"""Whole port scenes in the flat family: :func:`flat_scene_image`.

:func:`detector.synth.scene.render_scene` lays the scene out as for the classic family (same
random stream, so the same ships, stock, wagons, vehicles and buildings) with a noting
canvas, then hands the notes, the container blocks, the off-nadir lean and the sun of the
acquisition time here. The look (palette, side faces, polygon shadows, sensor, NIR) comes
from the flat family's own random stream of the scene seed.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ...detections import Detections
from ..weather import winter_rng
from .flat_draw import draw_flat, random_style
from .flat_sensor import apply_flat_sensor, random_flat_sensor
from .flat_snow import FlatWinter
from .registry import scene_result, scene_view

__all__ = ["flat_scene_image"]


def _nir(rgb: np.ndarray) -> np.ndarray:
    """A near-infrared band from the flat colours: green surfaces bright, blue ones dark."""
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    return np.clip(0.25 * r + 1.2 * g - 0.55 * b + 0.1, 0.0, 1.0).astype(np.float32)


def flat_scene_image(
    canvas,
    blocks: list,
    *,
    seed: int,
    bits: int,
    bands: int,
    valid: np.ndarray,
    lean_px_per_m: tuple[float, float],
    sun_elevation_deg: float,
    sun_azimuth_deg: float,
    snow: float = 0.0,
) -> tuple[np.ndarray, Detections, Detections]:
    """Render a noted scene layout flat, with ``snow`` cover 0..1 (:mod:`.flat_snow`).
    Returns (image uint8 [3, H, W] for ``bits`` 8 or uint16 [bands, H, W] 11-bit for 16, 0 outside ``valid``; the container tops where
    they are seen; the same tops where their stacks stand, for region assignment)."""
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, 0xF1A75C])
    g = canvas.gsd_m
    style = scene_view(random_style(rng, g), sun_elevation_deg, sun_azimuth_deg, lean_px_per_m)
    winter = FlatWinter(float(snow), winter_rng(seed, 0xF1A75C))
    rgb, _, _, tops = draw_flat(canvas.shape, g, canvas.notes, blocks, [], style, rng, winter)
    sensor = random_flat_sensor(rng)
    if bits == 8 and sensor.jpeg_quality and rng.random() < 0.5:
        sensor = replace(sensor, jpeg_quality=0)  # half the 8-bit products are not JPEG'd
    img = apply_flat_sensor(rgb, replace(sensor, bits=8 if bits == 8 else 11))
    chans = [img[..., 0], img[..., 1], img[..., 2]]
    if bands == 4:
        chans.append(_nir(img))
    if bits == 8:
        out = np.stack([np.clip(ch * 255 + 0.5, 1, 255) for ch in chans]).astype(np.uint8)
    else:
        dark, span = rng.uniform(40, 200), rng.uniform(1200, 1900)
        out = np.stack([np.clip(dark + ch * span, 1, 2047) for ch in chans]).astype(np.uint16)
    return scene_result(out, valid, tops, blocks, lean_px_per_m)
