"""The oblique family: the classic layout as a very-high-resolution satellite sees it from
off nadir (:func:`render_oblique`), and its training patches (:func:`oblique_sample`).

Designed apart from the other families, to judge models on imagery no training recipe
draws. Real sub-metre products differ from a plain top-down render in kind, not only in
colour, so this family models the acquisition rather than the map:

- geometry: every noted part and every container stack is a prism rasterised by a parallel
  camera 0-25 degrees off nadir (:mod:`.oblique_geom`): tall things lean away from the
  satellite, the walls facing it show (stacks show one paint per tier, seams between tiers,
  door ends, lettering), and lower things hide behind higher ones;
- light: shadows by shadow mapping from the same prisms, cast onto whatever lies below
  (ground, lower stacks, decks, walls, weakly onto water), with a penumbra that grows with
  the drop; sky light reduced near tall neighbours; water with resolved wind waves, Fresnel
  sky reflection and Cox-Munk sun glint; haze, path radiance and adjacency
  (:mod:`.oblique_light`);
- paints of real carriers and lessors, weathered (:mod:`.oblique_look`);
- a pan + multispectral sensor with misregistration, pansharpening, MTF-compensation halos,
  dynamic range adjustment, 11- or 8-bit quantisation and sometimes JPEG
  (:mod:`.oblique_sensor`).

The layout (objects, heights, containers and their truth) is the classic one of the same
seed, noted while the classic composer lays it out; the look comes from this family's own
random stream. Winter (:mod:`.oblique_snow`): snow on what faces the sky, sea ice; no
cloud.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from ...detections import TIER_HEIGHT_M, Detections, box_corners
from ..record import Part
from ..training import TrainingSample, crop_sample
from ..weather import draw_winter, winter_rng
from .oblique_geom import CODES, GBuffer, Prisms, crane_parts, draw_view, sun_heights
from .oblique_light import WATER, ground_layer, radiance, sun_lean
from .oblique_look import ObliqueLook, part_paint, random_look, smooth_noise, stack_paints
from .oblique_sensor import apply_oblique_sensor, random_oblique_sensor
from .oblique_snow import apply_oblique_snow

__all__ = ["ObliqueRender", "oblique_sample", "render_oblique", "seen_tops"]

_STREAM = 0x0B11C0
_SHARED_PAINT = ("ship", "crane", "lashing")


@dataclass(frozen=True)
class ObliqueRender:
    """``radiance`` float32 [H*ss, W*ss, 4] at the sensor; ``hull``/``bridge`` bool [H, W]
    seen (layout grid); ``tops`` the containers where their roofs are seen (layout pixels)."""

    radiance: np.ndarray
    hull: np.ndarray
    bridge: np.ndarray
    tops: Detections


def seen_tops(blocks: list, lean_px_per_m) -> Detections:
    """The stack tops of ``blocks`` (those with any) moved by their height above the
    ground times ``lean_px_per_m``: where a camera off nadir sees their roofs."""
    kept = [b for b in blocks if len(b.tops)]
    if not kept:
        return Detections.empty()
    tops = Detections.concat([b.tops for b in kept])
    rise = np.concatenate([b.base_m for b in kept]).astype(np.float64)
    rise = rise + tops.tiers * TIER_HEIGHT_M
    return replace(tops, cx=tops.cx + rise * lean_px_per_m[0], cy=tops.cy + rise * lean_px_per_m[1])


def _code(kind: str) -> int:
    if kind == "ship:hull":
        return CODES["hull"]
    if kind in ("ship:bridge", "ship:wings"):
        return CODES["bridge"]
    return CODES["other"]


def _prisms(parts: list[Part], blocks: list, look: ObliqueLook, rng, ss: int) -> Prisms:
    """Prisms on the render grid of the noted ``parts`` and the container stacks."""
    polys, base, top, top_alb, wall_alb, code, kind = [], [], [], [], [], [], []
    shared: dict[str, tuple] = {}
    for p in parts:
        key = p.kind if p.obj in _SHARED_PAINT else None
        paint = shared.get(key) if key else None
        if paint is None:
            paint = part_paint(rng, p.kind)
            if key:
                shared[key] = paint
        polys.append(np.asarray(p.poly_xy, float) * ss)
        base.append(p.base_m)
        top.append(max(p.top_m, p.base_m + 0.05))
        top_alb.append(paint[0])
        wall_alb.append(paint[1])
        code.append(_code(p.kind))
        kind.append(p.kind)
    n_parts = len(polys)
    kept = [b for b in blocks if len(b.tops)]
    n = 0
    if kept:
        t = Detections.concat([b.tops for b in kept])
        n = len(t)
        corners = box_corners(t.cx, t.cy, t.length_px, t.width_px, t.angle_rad) * ss
        b0 = np.concatenate([b.base_m for b in kept]).astype(float)
        polys += list(corners)
        base += list(b0)
        top += list(b0 + t.tiers * TIER_HEIGHT_M)
        code += [CODES["container"]] * n
        kind += ["container"] * n
    paints, lettered, rust = stack_paints(rng, n, look)
    grey = np.zeros((n, 4), np.float32)
    return Prisms(
        polys=polys, base_m=np.asarray(base, float), top_m=np.asarray(top, float),
        top_alb=np.concatenate([np.reshape(top_alb, (-1, 4)), grey]).astype(np.float32),
        wall_alb=np.concatenate([np.reshape(wall_alb, (-1, 4)), grey]).astype(np.float32),
        code=np.asarray(code, int), kind=tuple(kind),
        stack=np.concatenate([np.full(n_parts, -1), np.arange(n)]).astype(int),
        paints=paints, lettered=lettered, rust=rust,
        door=rng.choice([0, 2], n).astype(int),
    )  # fmt: skip


def render_oblique(shape, gsd_m: float, notes: list, blocks: list, cranes: list,
                   look: ObliqueLook, rng: np.random.Generator, *, ss: int = 2,
                   snow_cover: float = 0.0,
                   winter: np.random.Generator | None = None) -> ObliqueRender:  # fmt: skip
    """Render a noted layout of ``shape`` (layout pixels of ``gsd_m``) with its container
    ``blocks`` and ``cranes`` on a grid ``ss`` times finer (see the module docstring).
    ``look.lean_px_per_m`` is in layout pixels. Snow over ``snow_cover`` of the open
    surfaces, drawn from ``winter`` (:mod:`.oblique_snow`); none draws nothing from it."""
    H, W = int(shape[0]) * ss, int(shape[1]) * ss  # noqa: N806
    g = float(gsd_m) / ss
    lean = np.asarray(look.lean_px_per_m, float) * ss
    look_r = replace(look, lean_px_per_m=(float(lean[0]), float(lean[1])))
    parts = [n for n in notes if isinstance(n, Part)] + crane_parts(cranes, gsd_m)
    prisms = _prisms(parts, blocks, look, rng, ss)
    alb, kinds = ground_layer(shape, ss, notes, look, rng, g)
    water = kinds == WATER
    nrm = np.zeros((H, W, 3), np.float32)
    nrm[..., 2] = 1.0
    gb = GBuffer(z=np.zeros((H, W), np.float32), alb=alb, nrm=nrm,
                 code=np.zeros((H, W), np.uint8), hull=np.zeros((H, W), bool),
                 bridge=np.zeros((H, W), bool))  # fmt: skip
    draw_view(gb, prisms, lean, ss, smooth_noise(rng, (H, W), 1.2 / g, 2))
    if snow_cover > 0 and winter is not None:
        water = apply_oblique_snow(gb, kinds, water, snow_cover, winter, g)
    sun_px = sun_lean(look, g)
    zsun = sun_heights((H, W), prisms, sun_px)
    rad = radiance(gb, water, zsun, look_r, rng, g, sun_px)

    def down(m: np.ndarray) -> np.ndarray:
        small = cv2.resize(m.astype(np.float32), (int(shape[1]), int(shape[0])),
                           interpolation=cv2.INTER_AREA)  # fmt: skip
        return small > 0.5

    return ObliqueRender(rad, down(gb.hull), down(gb.bridge), seen_tops(blocks, look.lean_px_per_m))


def oblique_sample(
    seed: int, canvas, blocks: list, cranes: list, setting: str, *, size_px: int,
    out_gsd_m: float, margin_px: int, snow: float = 0.0,
) -> TrainingSample:  # fmt: skip
    """Render the noted layout on ``canvas`` (its ``notes``, shape and GSD; its pixels are
    not used) with the classic composer's container ``blocks`` and ``cranes`` as a product
    at the layout's GSD, resample it to ``out_gsd_m`` as inference resamples a real scene,
    and crop as the classic sample does. Winter in ``snow`` of the samples (cover
    20-90 %), from its own stream: the rest of the sample is the same either way."""
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, _STREAM])
    g = canvas.gsd_m
    n_nat = canvas.shape[0]
    n_out = int(size_px) + 2 * int(margin_px)
    look = random_look(rng, g)
    ss = 2 if n_nat * canvas.shape[1] <= 600 * 600 else 1
    winter = winter_rng(seed, _STREAM)
    cover = draw_winter(winter, float(snow), 0.2, 0.9)
    r = render_oblique(canvas.shape, g, canvas.notes, blocks, cranes, look, rng, ss=ss,
                       snow_cover=cover, winter=winter)  # fmt: skip
    product = apply_oblique_sensor(r.radiance, random_oblique_sensor(rng), rng, canvas.shape)
    down = n_nat > n_out
    mode = cv2.INTER_AREA if down else int(rng.choice([cv2.INTER_LINEAR, cv2.INTER_CUBIC]))
    out = np.clip(cv2.resize(product, (n_out, n_out), interpolation=mode), 0.0, 1.0)
    masks = [
        cv2.resize(m.astype(np.float32), (n_out, n_out), interpolation=cv2.INTER_LINEAR) > 0.5
        for m in (r.hull, r.bridge)
    ]
    sun = (look.sun_elevation_deg, look.sun_azimuth_deg)
    return crop_sample(out, r.tops.scaled(n_out / n_nat), masks[0], masks[1],
                       margin_px=margin_px, size_px=size_px, native_gsd_m=g,
                       out_gsd_m=out_gsd_m, sun=sun, setting=setting)  # fmt: skip
