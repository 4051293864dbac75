"""The relief family: the classic layout drawn as a lit height field (:func:`render_relief`)
and its training patches (:func:`relief_sample`).

The layout (objects, sizes, heights, containers and their truth) is the classic one of the
same seed, noted while the classic composer lays it out; the look comes from this family's
own random stream: four-band reflectances of materials and paints (:mod:`.relief_look`),
light and view from the height field alone (:mod:`.relief_draw`), snow as a reflectance
that only flat, open surfaces take, and a sensor of its own (:mod:`.relief_sensor`:
Rayleigh path radiance, a colour matrix with cross-talk, MTF compensation halos, striping,
local contrast equalisation, JPEG 2000 or WebP).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ...detections import Detections
from ..training import TrainingSample, crop_sample
from ..weather import DEEP_GROUND_COVER, deep_draw, draw_winter, winter_rng
from .relief_draw import ReliefMaps, burn, crane_parts, light, noise_field, view
from .relief_look import ReliefLook, random_look
from .relief_sensor import apply_relief_sensor, random_relief_sensor

__all__ = ["ReliefRender", "relief_sample", "render_relief"]

_STREAM = 0x2E11EF
_SNOW = np.float32([0.88, 0.90, 0.89, 0.72])


@dataclass(frozen=True)
class ReliefRender:
    """``radiance`` float32 [H, W, 4] seen; ``hull``/``bridge`` bool [H, W] seen;
    ``tops`` the containers where their roofs are seen (render pixels)."""

    radiance: np.ndarray
    hull: np.ndarray
    bridge: np.ndarray
    tops: Detections


def _snow(
    maps: ReliefMaps, gsd_m: float, cover: float, rng: np.random.Generator, deep: bool = False
) -> None:
    """Snow on about ``cover`` of the open ground and of the flat roofs (containers
    included, whole roofs or none), none on water, walls or slopes; in place. ``deep``:
    every flat roof snowed and the ground at least ``DEEP_GROUND_COVER``."""
    if deep:
        cover = max(cover, DEEP_GROUND_COVER)
    field = noise_field(rng, maps.height.shape, 12.0 / gsd_m)
    thr = float(np.quantile(field[::4, ::4], 1.0 - cover))
    ground = (maps.kind == 0) & ~maps.water & (field > thr)
    gy, gx = np.gradient(maps.height, float(gsd_m))
    flat = np.hypot(gx, gy) < 0.3
    roofs = (maps.kind > 0) & flat & (rng.random() < 0.8) & (field > thr - 0.3)
    if deep:
        roofs = (maps.kind > 0) & flat
    melt = np.exp(0.1 * noise_field(rng, maps.height.shape, 2.0 / gsd_m, octaves=2))[..., None]
    snowy = ground | roofs
    maps.refl[snowy] = np.clip(_SNOW * melt[snowy], 0.3, 0.95)


def render_relief(shape, gsd_m: float, notes: list, blocks: list, cranes: list,
                  look: ReliefLook, rng: np.random.Generator, *, snow_cover: float = 0.0,
                  winter: np.random.Generator | None = None,
                  deep_snow: bool = False) -> ReliefRender:  # fmt: skip
    """Render a noted layout and its ``cranes`` as a lit height field (see the module
    docstring)."""
    maps = burn(shape, gsd_m, notes, blocks, look, rng, crane_parts(cranes, gsd_m))
    if snow_cover > 0 and winter is not None:
        _snow(maps, gsd_m, snow_cover, winter, deep_snow)
    top_rad, vis = light(maps, gsd_m, look)
    rad, code, tops = view(maps, top_rad, vis, look)
    return ReliefRender(rad, (code == 1) | (code == 2), code == 2, tops)


def relief_sample(
    seed: int, canvas, blocks: list, cranes: list, setting: str, *, size_px: int,
    out_gsd_m: float, margin_px: int, snow: float = 0.0, deep_snow: float = 0.0,
) -> TrainingSample:  # fmt: skip
    """Render the noted layout on ``canvas`` (its ``notes``, shape and GSD; its pixels are
    not used) with the container ``blocks`` and ``cranes`` of the classic composer, then
    crop as the classic sample does. Winter in ``snow`` of the samples (cover
    20-90 %; every roof snowed in ``deep_snow`` of those), from its own stream: the rest of
    the sample is the same either way."""
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, _STREAM])
    g = canvas.gsd_m
    n_nat = canvas.shape[0]
    n_out = int(size_px) + 2 * int(margin_px)
    look = random_look(rng, g)
    winter = winter_rng(seed, _STREAM)
    cover = draw_winter(winter, float(snow), 0.2, 0.9)
    deep = deep_draw(winter, cover, float(deep_snow))
    r = render_relief(canvas.shape, g, canvas.notes, blocks, cranes, look, rng, snow_cover=cover,
                      winter=winter, deep_snow=deep)  # fmt: skip
    sensor = random_relief_sensor(rng)
    down = n_nat > n_out
    flag = int(rng.choice([cv2.INTER_AREA, cv2.INTER_LINEAR] if down else [cv2.INTER_CUBIC]))
    rad = cv2.resize(r.radiance, (n_out, n_out), interpolation=flag)
    out = apply_relief_sensor(rad, sensor, rng)
    mode = cv2.INTER_AREA if down else cv2.INTER_LINEAR
    hull = cv2.resize(r.hull.astype(np.float32), (n_out, n_out), interpolation=mode) > 0.5
    bridge = cv2.resize(r.bridge.astype(np.float32), (n_out, n_out), interpolation=mode) > 0.5
    sun = (look.sun_elevation_deg, look.sun_azimuth_deg)
    return crop_sample(out, r.tops.scaled(n_out / n_nat), hull, bridge, margin_px=margin_px,
                       size_px=size_px, native_gsd_m=g, out_gsd_m=out_gsd_m, sun=sun,
                       setting=setting)  # fmt: skip
