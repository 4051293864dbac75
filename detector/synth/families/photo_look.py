"""The photo family's look of one sample and its procedural noise.

:class:`PhotoLook` holds every choice that is not geometry: sun (elevation 15-75 deg),
sun and sky colours (sky-light fill), the penumbra spread, the off-nadir lean, the ground
materials' colours, the container paint list. :func:`material_of` guesses how a part of
any kind is surfaced from its name, so object kinds this family has never heard of are
still drawn (by their height and a material from the kind's prefix), never refused.

Noise is built by upsampling random lattices with cubic interpolation (:func:`fbm`) and by
a shader-style hash of integer cells (:func:`hash01`), both vectorised numpy/OpenCV.
"""

from __future__ import annotations

import colorsys
import re
from dataclasses import dataclass

import cv2
import numpy as np

__all__ = [
    "MATERIALS",
    "PhotoLook",
    "fbm",
    "hash01",
    "material_of",
    "random_look",
]

#: Surface materials of parts (index = code used in the G-buffer).
MATERIALS: tuple[str, ...] = (
    "container", "metal_roof", "paint", "deck", "hatch", "steel", "white", "glass",
    "solar", "membrane", "tank", "bulk",
)  # fmt: skip

_Rules = tuple[tuple[tuple[str, ...], str], ...]
#: Parts that say what they are whatever they belong to (a ship's hatch, a bus's HVAC unit).
_PART: _Rules = (
    (("hatch",), "hatch"),
    (("bridge", "wings", "funnel"), "white"),
    (("hvac", "vent", "unit", "chiller", "machinery", "beam", "boom", "jib", "pedestal", "post",
      "pole", "lamp", "leg", "frame", "spreader"), "steel"),
    (("floor", "bulk", "coal", "ore", "grain", "load"), "bulk"),
    (("tank",), "tank"),
    (("panel", "pv", "solar"), "solar"),
    (("glass", "skylight"), "glass"),
)  # fmt: skip
#: Objects, for their other parts (roof, body, hull, slab, wall ...).
_OBJECT: _Rules = (
    (("greenhouse", "glasshouse"), "glass"),
    (("solar",), "solar"),
    (("hatchcover",), "hatch"),
    (("bus", "truck", "car", "van", "trailer", "lorry", "tractor", "chassis", "vehicle"), "paint"),
    (("boat", "yacht"), "white"),
    (("ship", "barge", "vessel", "carrier", "tanker", "deck"), "deck"),
    (("tankcar", "silo"), "tank"),
    (("crane", "mast", "bollard", "gantry"), "steel"),
    (("shed", "warehouse", "building", "house", "boxcar", "wagon", "gondola", "hangar"),
     "metal_roof"),
)  # fmt: skip
#: Generic part names, when the object is unknown.
_GENERIC: _Rules = (
    (("roof", "wall"), "metal_roof"),
    (("body", "cab", "curtain", "flat", "car", "vehicle"), "paint"),
    (("hull", "deck"), "deck"),
)


def _hits(token: str, words: tuple[str, ...]) -> bool:
    return any(token == w or (len(w) >= 4 and w in token) for w in words)


def _rule(token: str, rules: _Rules) -> str | None:
    for words, mat in rules:
        if _hits(token, words):
            return mat
    return None


def material_of(kind: str) -> str:
    """A surface material for a part ``kind`` (``object:part``) guessed from its name: a
    part that says what it is (``hatch``, ``hvac``, ``tank``, ``panel``), else the object
    (``bus`` paint, ``boxcar`` metal roof, ``greenhouse`` glass, ``bulkcarrier`` deck),
    else a generic part name (``roof``, ``body``, ``hull``); ``membrane`` (a plain roof)
    for anything unknown. Words match whole (``car`` is not ``boxcar``) or, from four
    letters, inside a name. Never ``container``: a noted part is never a container."""
    obj, _, part = str(kind).lower().partition(":")
    parts = [t for t in re.split(r"[:_\-\s./]+", part) if t]
    for rules, tokens in ((_PART, parts), (_OBJECT, [obj]), (_GENERIC, parts)):
        for t in tokens:
            mat = _rule(t, rules)
            if mat is not None:
                return mat
    return "membrane"


def _hsv(h: float, s: float, v: float) -> np.ndarray:
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, float(np.clip(s, 0, 1)), float(np.clip(v, 0, 1)))
    return np.float32((r, g, b))


#: Container paint as hue, saturation, value ranges (real fleets: reds, blues, greens,
#: greys, whites, oranges, browns, yellows), with weights.
_PAINTS = (
    ((0.98, 1.02), (0.55, 0.8), (0.35, 0.65), 1.3),  # red / maroon
    ((0.55, 0.63), (0.45, 0.85), (0.25, 0.7), 1.2),  # blue
    ((0.3, 0.42), (0.35, 0.7), (0.25, 0.5), 0.7),  # green
    ((0.0, 1.0), (0.0, 0.06), (0.35, 0.75), 1.2),  # grey
    ((0.0, 1.0), (0.0, 0.05), (0.8, 0.95), 0.7),  # white
    ((0.05, 0.09), (0.7, 0.95), (0.6, 0.9), 0.5),  # orange
    ((0.04, 0.08), (0.45, 0.7), (0.25, 0.5), 1.0),  # brown / rust red
    ((0.11, 0.15), (0.55, 0.85), (0.6, 0.9), 0.5),  # yellow
    ((0.45, 0.52), (0.4, 0.7), (0.3, 0.55), 0.3),  # teal
)


@dataclass(frozen=True)
class PhotoLook:
    """One sample's look. Colours linear RGB 0..1. ``sun_rgb``/``sky_rgb`` irradiance of
    the direct beam on a horizontal surface and of the sky (fill, bluish); ``spread_rad``
    the angular size of the sun's disk blurred by forward scatter (penumbra);
    ``lean_px_per_m`` (dx, dy) how far a surface z metres up is seen shifted, per metre;
    ``ground`` (kind, rgb) pairs; ``paints`` [K, 3] container colours; ``axis_rad`` the
    direction yard lines and slab joints follow; ``weathering`` 0..1 how worn things are."""

    sun_elevation_deg: float
    sun_azimuth_deg: float
    sun_rgb: np.ndarray
    sky_rgb: np.ndarray
    spread_rad: float
    ao_strength: float
    lean_px_per_m: tuple[float, float]
    ground: tuple[tuple[str, np.ndarray], ...]
    paints: np.ndarray
    paint_weights: np.ndarray
    marking_rgb: np.ndarray
    axis_rad: float
    weathering: float

    def ground_rgb(self, kind: str) -> np.ndarray:
        for k, rgb in self.ground:
            if k == kind:
                return rgb
        return self.ground[1][1]  # concrete


def random_look(rng: np.random.Generator, gsd_m: float, axis_rad: float = 0.0) -> PhotoLook:
    """A random photo look: sun 15-75 deg, warm low sun, sky fill 20-65 %, penumbra spread
    0.5-2.5 deg, off-nadir 0-25 deg in 6 samples of 10."""
    el = float(rng.uniform(15.0, 75.0))
    low = np.clip((40.0 - el) / 25.0, 0.0, 1.0)  # 1 at 15 deg: reddened beam
    sun = np.float32((1.0, 1.0 - 0.12 * low, 1.0 - 0.28 * low)) * np.float32(
        rng.uniform(0.95, 1.05)
    )
    sky_frac = float(rng.uniform(0.2, 0.45) + 0.2 * low)
    sky = np.float32((0.75, 0.9, 1.25)) * np.float32(sky_frac)
    sky = sky * np.float32(1.0 + rng.normal(0, 0.05, 3))
    off = np.tan(np.radians(rng.uniform(0.0, 25.0))) / gsd_m if rng.random() < 0.6 else 0.0
    a = rng.uniform(0, 2 * np.pi)
    tint = rng.normal(0, 0.015, 3).astype(np.float32)
    grey = float(rng.uniform(0.1, 0.2))
    ground = (
        ("water", _hsv(rng.uniform(0.45, 0.62), rng.uniform(0.3, 0.7), rng.uniform(0.08, 0.22))),
        ("concrete", np.clip(np.float32([rng.uniform(0.38, 0.62)] * 3) + 2 * tint, 0, 1)),
        ("asphalt", np.clip(np.float32([grey] * 3) + tint, 0, 1)),
        ("grass", _hsv(rng.uniform(0.17, 0.3), rng.uniform(0.3, 0.6), rng.uniform(0.2, 0.4))),
        ("soil", _hsv(rng.uniform(0.06, 0.11), rng.uniform(0.25, 0.5), rng.uniform(0.25, 0.45))),
        ("ballast", _hsv(0.08, rng.uniform(0.05, 0.25), rng.uniform(0.25, 0.4))),
        ("rail", np.float32([0.55, 0.55, 0.57])),
        ("fender", np.float32([0.05, 0.05, 0.05])),
        ("foam", np.float32([0.8, 0.83, 0.85])),
    )
    k = len(_PAINTS)
    w = np.array([p[3] for p in _PAINTS]) * rng.uniform(0.3, 1.7, k)
    paints = []
    for (h0, h1), (s0, s1), (v0, v1), _ in _PAINTS:
        paints.append(_hsv(rng.uniform(h0, h1), rng.uniform(s0, s1), rng.uniform(v0, v1)))
    mark = np.float32((0.85, 0.85, 0.82)) if rng.random() < 0.6 else np.float32((0.85, 0.7, 0.2))
    return PhotoLook(
        sun_elevation_deg=el,
        sun_azimuth_deg=float(rng.uniform(0.0, 360.0)),
        sun_rgb=sun,
        sky_rgb=sky.astype(np.float32),
        spread_rad=float(np.radians(rng.uniform(0.5, 2.5))),
        ao_strength=float(rng.uniform(0.3, 0.6)),
        lean_px_per_m=(float(off * np.cos(a)), float(off * np.sin(a))),
        ground=ground,
        paints=np.array(paints, np.float32),
        paint_weights=w / w.sum(),
        marking_rgb=mark,
        axis_rad=float(axis_rad),
        weathering=float(rng.beta(2, 2)),
    )


def fbm(rng: np.random.Generator, shape: tuple[int, int], scale_px: float, octaves: int = 3):
    """float32 [H, W] fractal noise, roughly zero mean, unit-ish amplitude: ``octaves``
    random lattices of cell ``scale_px``, ``scale_px/2``, ... upsampled (cubic), halving
    amplitude per octave."""
    h, w = shape
    out = np.zeros((h, w), np.float32)
    amp, total = 1.0, 0.0
    s = max(float(scale_px), 1.0)
    for _ in range(int(octaves)):
        gh, gw = int(np.ceil(h / s)) + 3, int(np.ceil(w / s)) + 3
        grid = rng.standard_normal((gh, gw)).astype(np.float32)
        big = cv2.resize(grid, (int(gw * s), int(gh * s)), interpolation=cv2.INTER_CUBIC)
        oy, ox = int(rng.integers(0, max(int(s), 1))), int(rng.integers(0, max(int(s), 1)))
        out += np.float32(amp) * big[oy : oy + h, ox : ox + w]
        total += amp
        amp *= 0.5
        s = max(s / 2, 1.0)
    return out / np.float32(total)


def hash01(*ints: np.ndarray) -> np.ndarray:
    """float32 uniform 0..1 per element of integer arrays (a deterministic integer hash)."""
    h = np.uint32(2166136261)
    acc = np.full(np.broadcast(*ints).shape, h, np.uint32)
    for a in ints:
        acc = (acc ^ np.asarray(a).astype(np.int64).astype(np.uint32)) * np.uint32(16777619)
        acc ^= acc >> np.uint32(13)
        acc *= np.uint32(0x5BD1E995)
        acc ^= acc >> np.uint32(15)
    return (acc >> np.uint32(8)).astype(np.float32) / np.float32(1 << 24)
