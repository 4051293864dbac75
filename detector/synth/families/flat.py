"""Training patches in the flat family: :func:`flat_sample`.

The layout (objects, sizes, heights, containers and their truth) is the classic one of the
same seed, noted while the classic composer lays it out
(:func:`detector.synth.training.training_sample` with ``family="flat"``); everything about
its look - palette, sun, off-nadir view, shadows, sensor, resampling - is drawn here from
its own random stream of the seed (:mod:`.flat_draw`, :mod:`.flat_sensor`).
"""

from __future__ import annotations

import numpy as np

from ..training import TrainingSample, crop_sample
from ..weather import DEEP_GROUND_COVER, deep_draw, draw_winter, winter_rng
from .flat_draw import draw_flat, random_style
from .flat_sensor import apply_flat_sensor, random_flat_sensor, resize
from .flat_snow import FlatWinter

__all__ = ["flat_sample"]


def flat_sample(
    seed: int,
    canvas,
    blocks: list,
    cranes: list,
    setting: str,
    *,
    size_px: int,
    out_gsd_m: float,
    margin_px: int,
    snow: float = 0.0,
    deep_snow: float = 0.0,
) -> TrainingSample:
    """Render the noted layout on ``canvas`` (its ``notes``, shape and GSD; its pixels are
    not used) with the container ``blocks`` and ``cranes`` of the classic composer, then
    crop as the classic sample does (``margin_px`` output pixels each side). With chance
    ``snow`` the sample is in winter (cover 0.2-0.9, :mod:`.flat_snow`; every roof snowed
    edge to edge in ``deep_snow`` of those), drawn from its own stream: the rest of the
    sample is the same either way."""
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, 0xF1A7])
    g = canvas.gsd_m
    n_nat = canvas.shape[0]
    n_out = int(size_px) + 2 * int(margin_px)
    style = random_style(rng, g)
    cold = winter_rng(seed, 0xF1A7)
    cover = draw_winter(cold, float(snow), 0.2, 0.9)
    deep = deep_draw(cold, cover, float(deep_snow))
    winter = FlatWinter(max(cover, DEEP_GROUND_COVER) if deep else cover, cold, deep)
    rgb, hull, bridge, tops = draw_flat(canvas.shape, g, canvas.notes, blocks, cranes, style, rng,
                                        winter)  # fmt: skip
    img = apply_flat_sensor(rgb, random_flat_sensor(rng))
    down = n_nat > n_out
    method = str(rng.choice(["area", "linear"] if down else ["linear", "nearest"]))
    out = np.clip(resize(img, n_out, method), 0, 1)
    hull_o = resize(hull.astype(np.float32), n_out, "area" if down else "linear") > 0.5
    bridge_o = resize(bridge.astype(np.float32), n_out, "area" if down else "linear") > 0.5
    return crop_sample(out, tops.scaled(n_out / n_nat), hull_o, bridge_o, margin_px=margin_px,
                       size_px=size_px, native_gsd_m=g, out_gsd_m=out_gsd_m,
                       sun=(style.sun_elevation_deg, style.sun_azimuth_deg), setting=setting)  # fmt: skip
