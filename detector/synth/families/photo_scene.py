"""Whole port scenes in the photo family: :func:`photo_scene_image`.

:func:`detector.synth.scene.render_scene` lays the scene out as for the classic family (same
random stream, so the same ships, stock, wagons, vehicles, buildings and cranes) with a
noting canvas, then hands the notes, the container blocks, the off-nadir lean and the sun of
the acquisition time here. The look (materials, weathering, light masts, soft shadows, sky
light, glint, snow, sensor, NIR) comes from the photo family's own random stream of the
scene seed. Snow (``SceneSpec.snow``) is drawn by :func:`detector.synth.weather.apply_snow`
into the albedo before the light, from this family's own winter stream.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ...detections import Detections
from ..weather import winter_rng
from .photo import block_axis, render_photo
from .photo_look import random_look
from .photo_sensor import apply_photo_sensor, random_photo_sensor
from .registry import scene_result, scene_view

__all__ = ["photo_scene_image"]

_STREAM = 0xF0705C


def _nir(render) -> np.ndarray:
    """A near-infrared radiance band: vegetation bright, water dark, the rest near the mean
    of its visible albedo, lit by the same sun and sky as the visible bands."""
    alb = render.albedo
    nir = 0.8 * alb.mean(axis=-1) + 0.1
    nir = np.where(render.green, 0.55, nir)
    nir = np.where(render.water, 0.03, nir)
    vis_lum = np.maximum(alb.mean(axis=-1), 1e-3)
    light = render.radiance.mean(axis=-1) / vis_lum  # the light each surface receives
    return np.clip(nir * light, 0, 1.5).astype(np.float32)


def photo_scene_image(
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
    """Render a noted scene layout photo-like. Returns (image uint8 [3, H, W] for ``bits``
    8 or uint16 [bands, H, W] 11-bit for 16, 0 outside ``valid``; the container tops where
    they are seen; the same tops where their stacks stand, for region assignment)."""
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, _STREAM])
    g = canvas.gsd_m
    look = scene_view(
        random_look(rng, g, block_axis(blocks, rng)),
        sun_elevation_deg,
        sun_azimuth_deg,
        lean_px_per_m,
    )
    r = render_photo(canvas.shape, g, canvas.notes, blocks, [], look, rng,
                     snow_cover=float(snow), winter=winter_rng(seed, _STREAM))  # fmt: skip
    sensor = random_photo_sensor(rng)
    rad = r.radiance if bands == 3 else np.dstack([r.radiance, _nir(r)])
    if bits == 8:
        if sensor.jpeg_quality and rng.random() < 0.5:
            sensor = replace(sensor, jpeg_quality=0)  # half the 8-bit products are not JPEG'd
        img = apply_photo_sensor(rad, replace(sensor, bits=8), rng)
        out = np.clip(np.round(img * 255), 1, 255).astype(np.uint8).transpose(2, 0, 1)
    else:
        raw = apply_photo_sensor(rad, replace(sensor, bits=11), rng, display=False)
        out = np.clip(np.round(raw * 2047), 1, 2047).astype(np.uint16).transpose(2, 0, 1)
    out = np.ascontiguousarray(out)
    return scene_result(out, valid, r.tops, blocks, lean_px_per_m)
