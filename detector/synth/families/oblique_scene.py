"""Whole port scenes in the oblique family: :func:`oblique_scene_image`.

:func:`detector.synth.scene.render_scene` lays the scene out as for the classic family (same
random stream, so the same ships, stock, wagons, vehicles, buildings and cranes) with a
noting canvas, then hands the notes, the container blocks, the scene's off-nadir lean and
the sun of the acquisition time here. Materials, paints, air, water and sensor come from
the oblique family's own random stream of the scene seed. A whole scene's 8-bit product is
stretched from its own statistics, as a delivered product's dynamic range adjustment is.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ...detections import Detections
from ..weather import winter_rng
from .oblique import render_oblique
from .oblique_look import random_look
from .oblique_sensor import apply_oblique_sensor, random_oblique_sensor
from .registry import scene_result, scene_view

__all__ = ["oblique_scene_image"]

_STREAM = 0x0B11C5
_FINE_PX = 2_000_000  # scenes up to this many pixels are drawn on a twice finer grid


def oblique_scene_image(
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
    """Render a noted scene layout as an off-nadir product. Returns (image uint8 [3, H, W]
    for ``bits`` 8 or uint16 [bands, H, W] 11-bit for 16, 0 outside ``valid``; the
    container tops where they are seen; the same tops where their stacks stand). ``snow``
    0..1 covers that share of the open surfaces with snow and ice (own winter stream)."""
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, _STREAM])
    g = canvas.gsd_m
    look = scene_view(random_look(rng, g), sun_elevation_deg, sun_azimuth_deg, lean_px_per_m)
    ss = 2 if canvas.shape[0] * canvas.shape[1] <= _FINE_PX else 1
    r = render_oblique(canvas.shape, g, canvas.notes, blocks, [], look, rng, ss=ss,
                       snow_cover=float(snow), winter=winter_rng(seed, _STREAM))  # fmt: skip
    sensor = random_oblique_sensor(rng)
    if bits == 8:
        img = apply_oblique_sensor(r.radiance, sensor, rng, canvas.shape, scene_stretch=True)
        out = np.clip(np.round(img * 255), 1, 255).astype(np.uint8)
    else:
        raw = apply_oblique_sensor(r.radiance, replace(sensor, jpeg=0), rng, canvas.shape,
                                   display=False, nir=bands == 4)  # fmt: skip
        out = np.clip(np.round(raw * 2047), 1, 2047).astype(np.uint16)
    out = np.ascontiguousarray(out.transpose(2, 0, 1))
    return scene_result(out, valid, r.tops, blocks, lean_px_per_m)
