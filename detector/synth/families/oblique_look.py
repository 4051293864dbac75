"""The oblique family's materials, paints and scene conditions: :class:`ObliqueLook`.

Reflectances are four bands (red, green, blue, near infrared), linear, 0..1. Container
paints are the house colours of real carriers and lessors (sRGB as painted, made linear),
weathered per box: chalking towards grey-white, port dust towards tan, rust. Each stack
gets one paint per tier, so the walls an oblique view shows are as mixed as real stacks.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

__all__ = [
    "CARRIERS",
    "GROUNDS",
    "ObliqueLook",
    "part_paint",
    "random_look",
    "smooth_noise",
    "stack_paints",
]

#: (name, sRGB as painted, relative frequency, lettering on the side walls)
CARRIERS: tuple[tuple[str, tuple[int, int, int], float, bool], ...] = (
    ("maersk", (66, 146, 190), 1.2, True),
    ("msc", (196, 158, 58), 1.0, True),
    ("cma_cgm", (28, 58, 118), 0.8, True),
    ("hapag_lloyd", (226, 104, 30), 0.7, True),
    ("evergreen", (38, 104, 58), 0.7, True),
    ("cosco", (36, 78, 146), 0.7, True),
    ("one", (176, 28, 98), 0.4, True),
    ("hamburg_sud", (170, 38, 34), 0.4, True),
    ("fesco", (198, 202, 206), 0.6, True),
    ("triton", (112, 48, 40), 0.9, False),
    ("textainer", (168, 146, 108), 0.7, False),
    ("florens", (120, 124, 126), 0.7, False),
    ("seaco", (52, 84, 120), 0.4, False),
    ("reefer_white", (222, 222, 216), 0.6, False),
    ("domestic_rust", (122, 74, 48), 0.8, False),
    ("olive", (84, 92, 60), 0.3, False),
)

#: Ground reflectances (R, G, B, NIR) and how much they vary across the scene.
GROUNDS: dict[str, tuple[tuple[float, float, float, float], float]] = {
    "land": ((0.17, 0.16, 0.13, 0.27), 0.25),
    "concrete": ((0.30, 0.30, 0.285, 0.32), 0.15),
    "asphalt": ((0.085, 0.085, 0.08, 0.10), 0.2),
    "grass": ((0.05, 0.085, 0.04, 0.38), 0.3),
    "soil": ((0.19, 0.15, 0.11, 0.26), 0.25),
    "ballast": ((0.19, 0.18, 0.17, 0.21), 0.3),
    "deck": ((0.22, 0.12, 0.09, 0.25), 0.2),
    "marking": ((0.62, 0.60, 0.52, 0.55), 0.1),
    "rail": ((0.14, 0.13, 0.12, 0.14), 0.2),
    "fender": ((0.035, 0.035, 0.035, 0.05), 0.1),
    "foam": ((0.55, 0.58, 0.58, 0.25), 0.15),
    "water": ((0.014, 0.036, 0.052, 0.004), 0.2),
}

_PART_PAINTS: dict[str, tuple[tuple[int, int, int], ...]] = {
    "ship:hull": ((30, 32, 36), (130, 34, 30), (36, 54, 92), (90, 94, 96)),
    "ship:deck": ((120, 48, 38), (62, 92, 62), (104, 106, 104)),
    "ship:hatch": ((104, 52, 40), (58, 88, 60), (96, 100, 104), (150, 120, 60)),
    "ship:bridge": ((232, 232, 226),),
    "ship:wings": ((228, 228, 222),),
    "ship:funnel": ((40, 40, 42), (180, 60, 40), (60, 90, 150)),
    "ship:pedestal": ((214, 174, 52), (200, 200, 196)),
    "ship:jib": ((214, 174, 52), (200, 200, 196)),
    "crane": ((42, 92, 170), (222, 222, 216), (220, 120, 40), (200, 40, 36), (216, 180, 40)),
    "truck:cab": ((230, 230, 226), (190, 30, 30), (40, 70, 140), (210, 210, 210)),
    "truck:box": ((226, 226, 222), (180, 180, 184)),
    "truck:curtain": ((60, 90, 150), (210, 210, 206), (150, 40, 30)),
    "truck:tank": ((190, 194, 198),),
    "car:body": ((235, 235, 232), (160, 164, 168), (24, 24, 26), (150, 30, 30), (40, 60, 110)),
    "bus": ((238, 236, 228), (210, 170, 40)),
    "boxcar": ((110, 62, 44), (92, 94, 96)),
    "gondola": ((70, 50, 40), (40, 38, 36)),
    "tankcar": ((28, 28, 30), (150, 152, 154)),
    "gondola:bulk": ((30, 30, 32), (120, 60, 44), (130, 128, 122)),
    "shed": ((140, 146, 150), (60, 96, 140), (150, 60, 48), (74, 110, 80), (210, 212, 208)),
    "solar": ((22, 28, 48),),
    "boat": ((232, 232, 228),),
    "bollard": ((30, 30, 30), (210, 180, 40)),
}
_DEFAULT_PAINT = ((96, 96, 96), (70, 66, 60), (130, 126, 118))


def _linear(srgb) -> np.ndarray:
    """sRGB 0..255 -> linear 0..1 (R, G, B) plus a near infrared most paints reflect."""
    c = np.asarray(srgb, np.float64) / 255.0
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    nir = 0.22 + 0.45 * lin.mean()
    return np.append(lin, nir).astype(np.float32)


_CARRIER_ALB = np.stack([_linear(c[1]) for c in CARRIERS])
_CARRIER_W = np.array([c[2] for c in CARRIERS]) / sum(c[2] for c in CARRIERS)
_LETTERED = np.array([c[3] for c in CARRIERS])
_DUST = _linear((170, 150, 120))
_CHALK = _linear((214, 214, 210))


@dataclass(frozen=True)
class ObliqueLook:
    """The scene conditions of one image.

    ``lean_px_per_m`` (dx, dy) render pixels per metre of height that the camera displaces
    a point (away from the satellite); ``sun_*`` in degrees (azimuth clockwise from north,
    north up); ``haze`` 0..1 optical depth of the aerosol; ``adjacency`` the share of a
    pixel's radiance that comes from its surroundings; ``wind_mps`` roughens the water;
    ``weathering`` 0..1 how old the stock is; ``ground_tint`` float32 [4] multiplies all
    ground; ``paint_mode`` ``mixed`` or ``brand`` (one carrier's yard)."""

    lean_px_per_m: tuple[float, float]
    sun_elevation_deg: float
    sun_azimuth_deg: float
    haze: float
    adjacency: float
    wind_mps: float
    weathering: float
    ground_tint: np.ndarray
    paint_mode: str
    brand: int


def random_look(rng: np.random.Generator, gsd_m: float) -> ObliqueLook:
    """Conditions of a training patch: its own view 0-25 degrees off nadir in any
    direction, sun 15-75 degrees high, clear to hazy air."""
    off = np.radians(rng.uniform(0.0, 25.0))
    a = rng.uniform(0, 2 * np.pi)
    lean = np.tan(off) / gsd_m
    return ObliqueLook(
        lean_px_per_m=(float(lean * np.cos(a)), float(lean * np.sin(a))),
        sun_elevation_deg=float(rng.uniform(15.0, 75.0)),
        sun_azimuth_deg=float(rng.uniform(0.0, 360.0)),
        haze=float(rng.uniform(0.03, 0.35)),
        adjacency=float(rng.uniform(0.02, 0.08)),
        wind_mps=float(rng.uniform(1.0, 11.0)),
        weathering=float(rng.beta(2.0, 2.5)),
        ground_tint=(1.0 + rng.normal(0, 0.06, 4)).astype(np.float32),
        paint_mode=str(rng.choice(["mixed", "mixed", "brand"])),
        brand=int(rng.choice(len(CARRIERS), p=_CARRIER_W)),
    )


def smooth_noise(rng: np.random.Generator, shape, scale_px: float, octaves: int = 3):
    """float32 [H, W] zero-mean, unit-ish noise with features ``scale_px`` across and
    ``octaves`` finer layers (bicubic value noise)."""
    h, w = int(shape[0]), int(shape[1])
    out = np.zeros((h, w), np.float32)
    amp, s, total = 1.0, max(float(scale_px), 1.5), 0.0
    for _ in range(octaves):
        gh, gw = int(np.ceil(h / s)) + 3, int(np.ceil(w / s)) + 3
        grid = rng.standard_normal((gh, gw)).astype(np.float32)
        up = cv2.resize(grid, (int(gw * s), int(gh * s)), interpolation=cv2.INTER_CUBIC)
        oy, ox = rng.integers(0, max(int(s), 1), 2)
        out += amp * up[oy : oy + h, ox : ox + w]
        total += amp
        amp *= 0.5
        s = max(s / 2.0, 1.5)
    return out / total


def stack_paints(rng: np.random.Generator, n: int, look: ObliqueLook, tiers: int = 5):
    """Paints of ``n`` stacks, one per tier: (float32 [n, tiers, 4] albedo, bool [n, tiers]
    lettered side walls, float32 [n] rust share of the roof)."""
    idx = rng.choice(len(CARRIERS), (n, tiers), p=_CARRIER_W)
    if look.paint_mode == "brand":
        idx = np.where(rng.random((n, tiers)) < 0.7, look.brand, idx)
    alb = _CARRIER_ALB[idx] * rng.uniform(0.85, 1.12, (n, tiers, 1))
    w = look.weathering
    chalk = rng.uniform(0, 0.25 * w + 0.03, (n, tiers, 1))
    dust = rng.uniform(0, 0.2 * w + 0.03, (n, tiers, 1))
    alb = alb * (1 - chalk - dust) + _CHALK * chalk + _DUST * dust
    rust = np.where(rng.random(n) < 0.25 + 0.5 * w, rng.uniform(0, 0.35 * w + 0.05, n), 0.0)
    return (np.clip(alb, 0.01, 0.9).astype(np.float32), _LETTERED[idx],
            rust.astype(np.float32))  # fmt: skip


def part_paint(rng: np.random.Generator, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """(top, wall) albedo float32 [4] of a noted part ``kind`` (``"ship:hull"``...)."""
    obj = kind.split(":")[0]
    keys = (kind, obj, "crane" if obj in ("crane", "lashing") else "", "ship:hatch"
            if obj == "hatchcover" else "", "boxcar" if obj in ("wagon", "chassis") else "")  # fmt: skip
    choices = next((_PART_PAINTS[k] for k in keys if k in _PART_PAINTS), _DEFAULT_PAINT)
    wall = _linear(choices[int(rng.integers(len(choices)))]) * rng.uniform(0.85, 1.1)
    top = wall
    if kind == "ship:hull":
        deck = _PART_PAINTS["ship:deck"]
        top = _linear(deck[int(rng.integers(len(deck)))]) * rng.uniform(0.85, 1.1)
    return np.clip(top, 0.01, 0.95).astype(np.float32), np.clip(wall, 0.01, 0.95).astype(np.float32)
