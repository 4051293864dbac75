"""Whole port scenes in the relief family: :func:`relief_scene_image`.

:func:`detector.synth.scene.render_scene` lays the scene out as for the classic family (same
random stream, so the same ships, stock, wagons, vehicles, buildings and cranes) with a
noting canvas, then hands the notes, the container blocks, the off-nadir lean and the sun of
the acquisition time here. The look (reflectances, light from the height field, snow,
sensor, NIR) comes from the relief family's own random stream of the scene seed.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ...detections import Detections
from ..weather import winter_rng
from .registry import scene_result, scene_view
from .relief import render_relief
from .relief_look import random_look
from .relief_sensor import apply_relief_sensor, random_relief_sensor

__all__ = ["relief_scene_image"]

_STREAM = 0x2E11E5


def relief_scene_image(
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
    """Render a noted scene layout as a lit height field. Returns (image uint8 [3, H, W] for
    ``bits`` 8 or uint16 [bands, H, W] 11-bit for 16, 0 outside ``valid``; the container tops
    where they are seen; the same tops where their stacks stand, for region assignment)."""
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, _STREAM])
    g = canvas.gsd_m
    look = scene_view(random_look(rng, g), sun_elevation_deg, sun_azimuth_deg, lean_px_per_m)
    r = render_relief(canvas.shape, g, canvas.notes, blocks, [], look, rng,
                      snow_cover=float(snow), winter=winter_rng(seed, _STREAM))  # fmt: skip
    sensor = random_relief_sensor(rng)
    if bits == 8:
        if sensor.codec != "none" and rng.random() < 0.5:
            sensor = replace(sensor, codec="none")  # half the 8-bit products are not compressed
        img = apply_relief_sensor(r.radiance, replace(sensor, bits=8), rng)
        out = np.clip(np.round(img * 255), 1, 255).astype(np.uint8).transpose(2, 0, 1)
    else:
        raw = apply_relief_sensor(r.radiance, replace(sensor, bits=11), rng, display=False,
                                  nir=bands == 4)  # fmt: skip
        out = np.clip(np.round(raw * 2047), 1, 2047).astype(np.uint16).transpose(2, 0, 1)
    out = np.ascontiguousarray(out)
    return scene_result(out, valid, r.tops, blocks, lean_px_per_m)
