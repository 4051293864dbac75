"""The photo family: photo-like renders of the classic layout (:func:`render_photo`) and its
training patches (:func:`photo_sample`).

The layout (objects, sizes, heights, containers and their truth) is the classic one of the
same seed, noted while the classic composer lays it out; everything about its look comes
from this family's own random stream of the seed: procedural ground (:mod:`.photo_ground`),
prisms projected off nadir into a G-buffer with light masts and crane legs of its own
(:mod:`.photo_draw`), weathered corrugated containers and other surfaces
(:mod:`.photo_surface`), soft sun shadows, sky light and glint (:mod:`.photo_light`), snow
in some samples (:func:`detector.synth.weather.apply_snow`), and a sensor with MTF,
pansharpening, noise, bit depth, stretch and JPEG (:mod:`.photo_sensor`) at a product GSD
of 0.25-0.8 m, resampled to the output grid.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from ...detections import Detections
from ..record import Part
from ..render import Canvas
from ..training import TrainingSample, crop_sample
from ..weather import apply_snow, deep_draw, draw_winter, winter_rng
from .photo_draw import container_parts, crane_parts, mast_parts, rasterise
from .photo_ground import GROUND_KINDS, ground_albedo
from .photo_light import sky_visibility, sun_visibility
from .photo_look import PhotoLook, random_look
from .photo_sensor import apply_photo_sensor, random_photo_sensor
from .photo_surface import part_surfaces

__all__ = ["PhotoRender", "block_axis", "photo_sample", "render_photo"]

_WATER = GROUND_KINDS.index("water")
_GRASS = GROUND_KINDS.index("grass")
_STREAM = 0xF070


@dataclass(frozen=True)
class PhotoRender:
    """``radiance`` float32 [H, W, 3] (a lit horizontal surface of albedo a is ~a);
    ``albedo`` the same before light; ``water``/``green`` bool [H, W] open water and
    vegetation seen; ``hull``/``bridge`` bool [H, W]; ``tops`` the containers where their
    roofs are seen (render pixels); ``sun_vis`` float32 [H, W] the sun's visible fraction."""

    radiance: np.ndarray
    albedo: np.ndarray
    water: np.ndarray
    green: np.ndarray
    hull: np.ndarray
    bridge: np.ndarray
    tops: Detections
    sun_vis: np.ndarray


def block_axis(blocks: list, rng: np.random.Generator) -> float:
    """The yard's axis: the median angle of the container blocks, else random."""
    angs = [float(np.median(b.tops.angle_rad)) for b in blocks if len(b.tops)]
    return float(np.median(angs)) if angs else float(rng.uniform(0, np.pi))


def _hang(p: Part) -> Part:
    """A quay crane's machinery house is noted as a prism from the ground; it hangs from
    the crane's girder, 6 m deep."""
    if p.kind == "crane:machinery" and p.base_m <= 0.0 and p.top_m > 12.0:
        return Part(p.kind, p.poly_xy, p.top_m, p.top_m - 6.0)
    return p


def _free_ground(shape, parts: list[Part], code: np.ndarray, gsd_m: float) -> np.ndarray:
    occ = np.zeros(shape, np.uint8)
    for p in parts:
        cv2.fillConvexPoly(occ, np.round(p.poly_xy - 0.5).astype(np.int32), 1)
    r = max(int(round(3.0 / gsd_m)), 1)
    occ = cv2.dilate(occ, np.ones((2 * r + 1, 2 * r + 1), np.uint8))
    paved = (code == GROUND_KINDS.index("concrete")) | (code == GROUND_KINDS.index("asphalt"))
    return paved & (occ == 0)


def render_photo(
    shape: tuple[int, int], gsd_m: float, notes: list, blocks: list, cranes: list,
    look: PhotoLook, rng: np.random.Generator, *, snow_cover: float = 0.0,
    winter: np.random.Generator | None = None, masts: bool = True, deep_snow: bool = False,
) -> PhotoRender:  # fmt: skip
    """Render a noted layout photo-like (see the module docstring); ``masts`` False: no
    light masts of this family's own; ``deep_snow``: deep snow on the tops
    (:func:`detector.synth.weather.apply_snow`)."""
    g = gsd_m
    h, w = shape
    albedo, code, slope = ground_albedo(shape, g, notes, look, rng)
    cparts, tops = container_parts(blocks)
    parts = [_hang(p) for p in notes if isinstance(p, Part)] + crane_parts(cranes, g)
    area_m2 = h * w * g * g
    if masts and rng.random() < 0.7:
        n = int(rng.poisson(area_m2 / 15000.0))
        parts += mast_parts(rng, _free_ground(shape, parts + cparts, code, g), g, n)
    parts += cparts
    gb = rasterise(shape, g, parts, look)
    sel = gb.pid >= 0
    alb, bump_p = part_surfaces(gb, parts, len(cparts), look, g, rng)
    albedo[sel] = alb
    bump = np.ones(shape, np.float32)
    bump[sel] = bump_p
    water = (code == _WATER) & ~sel
    if snow_cover > 0 and winter is not None:
        walls = sel & (gb.face > 0)
        keep = albedo[walls].copy()
        cv = Canvas.blank(h, w, g)
        cv.rgb = albedo
        cv.water = water.astype(np.uint8)
        cv.height_m = np.where(sel & (gb.face == 0), gb.zsrc, 0.0).astype(np.float32)
        apply_snow(cv, winter, float(snow_cover), deep=deep_snow)
        albedo = cv.rgb
        albedo[walls] = keep
        water = cv.water.astype(bool)
    vis_n = sun_visibility(
        gb.solid_m, gb.float_lo, gb.float_hi, g, look.sun_elevation_deg,
        look.sun_azimuth_deg, look.spread_rad,
    )  # fmt: skip
    sky_n = sky_visibility(gb.solid_m, g, look.ao_strength)
    lx, ly = look.lean_px_per_m
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    mx, my = xs - gb.zsrc * np.float32(lx), ys - gb.zsrc * np.float32(ly)
    both = cv2.remap(
        np.dstack([vis_n, sky_n]), mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    vis, sky = both[..., 0], both[..., 1] * np.where(gb.face > 0, 0.6, 1.0).astype(np.float32)
    sun_term = vis * gb.ndl * bump
    light = look.sun_rgb * sun_term[..., None] + look.sky_rgb * sky[..., None]
    norm = np.float32(np.mean(look.sun_rgb + look.sky_rgb))
    rad = albedo * light / norm
    if water.any():  # facets towards the sun brighter, glint where they mirror it
        az, el = np.radians(look.sun_azimuth_deg), np.radians(look.sun_elevation_deg)
        s = slope[..., 0] * np.sin(az) - slope[..., 1] * np.cos(az)
        s0 = np.tan((np.pi / 2 - el) / 2)
        rms = float(np.sqrt((slope[water] ** 2).sum(axis=-1).mean())) + 1e-3
        glint = np.exp(-0.5 * ((s - s0) / (rms + 0.01)) ** 2) * vis
        strength = np.float32(rng.uniform(0.1, 0.6) * np.sin(el))
        facet = (1 + 1.5 * s)[..., None]
        rad = np.where(
            water[..., None], rad * facet + strength * glint[..., None] * look.sun_rgb, rad
        )
    top_m = np.array([p.top_m for p in cparts], np.float64)
    seen = replace(tops, cx=tops.cx + top_m * lx, cy=tops.cy + top_m * ly) if len(tops) else tops
    green = (code == _GRASS) & ~sel
    return PhotoRender(
        radiance=np.clip(rad, 0, 1.5).astype(np.float32), albedo=albedo, water=water, green=green,
        hull=gb.hull | gb.bridge, bridge=gb.bridge, tops=seen, sun_vis=vis.astype(np.float32),
    )  # fmt: skip


def photo_sample(
    seed: int, canvas, blocks: list, cranes: list, setting: str, *, size_px: int,
    out_gsd_m: float, margin_px: int, snow: float = 0.0, deep_snow: float = 0.0,
) -> TrainingSample:  # fmt: skip
    """Render the noted layout on ``canvas`` (its ``notes``, shape and GSD; its pixels are
    not used) with the container ``blocks`` and ``cranes`` of the classic composer, then
    crop as the classic sample does. Snow in ``max(snow, 0.12)`` of the samples (cover
    20-90 %; deep on the tops in ``deep_snow`` of those), from its own stream."""
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, _STREAM])
    g = canvas.gsd_m
    n_nat = canvas.shape[0]
    n_out = int(size_px) + 2 * int(margin_px)
    look = random_look(rng, g, block_axis(blocks, rng))
    winter = winter_rng(seed, _STREAM)
    cover = draw_winter(winter, max(float(snow), 0.12), 0.2, 0.9)
    deep = deep_draw(winter, cover, float(deep_snow))
    r = render_photo(canvas.shape, g, canvas.notes, blocks, cranes, look, rng,
                     snow_cover=cover, winter=winter, deep_snow=deep)  # fmt: skip
    sensor = random_photo_sensor(rng)
    prod_gsd = max(float(rng.uniform(0.25, 0.8)), g)
    n_prod = max(int(round(n_nat * g / prod_gsd)), 16)
    img = r.radiance
    if n_prod < n_nat:
        img = cv2.resize(img, (n_prod, n_prod), interpolation=cv2.INTER_AREA)
    img = apply_photo_sensor(img, sensor, rng)
    up = n_out >= img.shape[0]
    flags = [cv2.INTER_LINEAR, cv2.INTER_CUBIC] + (
        [] if up else [cv2.INTER_AREA, cv2.INTER_LANCZOS4]
    )
    out = np.clip(cv2.resize(img, (n_out, n_out), interpolation=int(rng.choice(flags))), 0, 1)
    mode = cv2.INTER_AREA if n_nat > n_out else cv2.INTER_LINEAR
    hull = cv2.resize(r.hull.astype(np.float32), (n_out, n_out), interpolation=mode) > 0.5
    bridge = cv2.resize(r.bridge.astype(np.float32), (n_out, n_out), interpolation=mode) > 0.5
    sun = (look.sun_elevation_deg, look.sun_azimuth_deg)
    return crop_sample(out, r.tops.scaled(n_out / n_nat), hull, bridge, margin_px=margin_px,
                       size_px=size_px, native_gsd_m=g, out_gsd_m=out_gsd_m, sun=sun,
                       setting=setting)  # fmt: skip
