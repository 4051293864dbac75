"""The relief family's materials and light: band reflectances, sun and sky, view.

Everything is in four spectral bands (blue, green, red, near-infrared) of surface
reflectance; the sensor (:mod:`.relief_sensor`) mixes them into its product's bands. A
material is a mean spectrum and how much it varies; a sample draws its own palette from
them, so two samples of the same layout differ in what every surface is painted with.
Spectra are rounded from public spectral libraries' typical values (paints, concrete,
asphalt, water, grass); they are a variety, not a calibration.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "BANDS",
    "CONTAINER_PAINTS",
    "ReliefLook",
    "material_spectrum",
    "part_spectrum",
    "random_look",
]

BANDS = ("blue", "green", "red", "nir")

#: Container paints (blue, green, red, nir reflectance): carriers' liveries and leasing
#: companies' greys, rust-brown, reefers' white. NIR is high for most paints.
CONTAINER_PAINTS = np.array(
    [
        (0.30, 0.38, 0.45, 0.55),  # light blue-grey
        (0.10, 0.14, 0.32, 0.45),  # dark blue
        (0.09, 0.12, 0.45, 0.50),  # red
        (0.08, 0.22, 0.55, 0.55),  # orange
        (0.10, 0.40, 0.52, 0.60),  # yellow
        (0.12, 0.28, 0.12, 0.40),  # green
        (0.30, 0.12, 0.35, 0.50),  # magenta
        (0.12, 0.30, 0.30, 0.45),  # teal
        (0.10, 0.14, 0.22, 0.35),  # rust brown
        (0.62, 0.65, 0.66, 0.70),  # reefer white
        (0.38, 0.40, 0.41, 0.50),  # grey
        (0.18, 0.19, 0.20, 0.30),  # dark grey
        (0.40, 0.36, 0.30, 0.50),  # beige
        (0.05, 0.06, 0.07, 0.20),  # black
    ],
    np.float32,
)

#: Surface spectra: (mean (b, g, r, nir), relative spread of a sample's draw).
_SURFACES: dict[str, tuple[tuple[float, float, float, float], float]] = {
    "water": ((0.06, 0.05, 0.03, 0.01), 0.5),
    "concrete": ((0.30, 0.33, 0.35, 0.38), 0.25),
    "asphalt": ((0.07, 0.08, 0.09, 0.12), 0.35),
    "grass": ((0.04, 0.09, 0.05, 0.40), 0.3),
    "soil": ((0.10, 0.15, 0.20, 0.28), 0.3),
    "ballast": ((0.16, 0.17, 0.18, 0.22), 0.25),
    "marking": ((0.60, 0.62, 0.62, 0.62), 0.15),
    "rail": ((0.30, 0.30, 0.31, 0.32), 0.2),
    "fender": ((0.04, 0.04, 0.04, 0.05), 0.3),
    "foam": ((0.55, 0.57, 0.57, 0.40), 0.2),
    "steel": ((0.18, 0.19, 0.20, 0.24), 0.4),
    "roof": ((0.35, 0.36, 0.36, 0.40), 0.5),
    "glass": ((0.20, 0.22, 0.22, 0.18), 0.3),
    "panel": ((0.05, 0.05, 0.06, 0.08), 0.3),
}

#: Which surface an object part is made of, by part kind or object; else painted steel.
_PART_SURFACE = {
    "greenhouse:roof": "glass",
    "solar:panel": "panel",
    "shed:roof": "roof",
    "gondola:bulk": "soil",
    "boat:hull": "marking",
    "ship:bridge": "marking",
    "ship:wings": "marking",
}


def material_spectrum(kind: str, rng: np.random.Generator) -> np.ndarray:
    """A draw of surface ``kind``'s spectrum (float32 [4])."""
    mean, spread = _SURFACES.get(kind, _SURFACES["steel"])
    scale = np.exp(rng.normal(0.0, spread)) * np.exp(rng.normal(0.0, 0.06, 4))
    return np.clip(np.float32(mean) * scale.astype(np.float32), 0.005, 0.95)


def part_spectrum(kind: str, rng: np.random.Generator, memo: dict) -> np.ndarray:
    """A part's spectrum: one per object kind and sample for ships and cranes (a ship's
    hatches match), painted in a container paint half the time for vehicles, sheds and
    wagons (the look-alikes), else its surface's."""
    if kind in memo:
        return memo[kind]
    obj = kind.split(":")[0]
    if kind in _PART_SURFACE:
        spec = material_spectrum(_PART_SURFACE[kind], rng)
    elif obj in ("ship", "crane", "truck", "bus", "car", "boxcar", "tankcar", "hatchcover",
                 "chassis", "wagon", "reefer", "shed", "gondola"):  # fmt: skip
        if rng.random() < 0.5:
            paint = CONTAINER_PAINTS[rng.integers(len(CONTAINER_PAINTS))]
            spec = np.clip(paint * np.float32(rng.uniform(0.7, 1.2)), 0.01, 0.95)
        else:
            spec = material_spectrum("steel", rng)
    else:
        spec = material_spectrum("steel", rng)
    if obj in ("ship", "crane"):
        memo[kind] = spec
    return spec


@dataclass(frozen=True)
class ReliefLook:
    """One sample's light and view: sun elevation/azimuth (degrees), ``sun_bands`` and
    ``sky_bands`` irradiance [4] (the sky bluer, more so with a low sun), ``penumbra`` the
    shadow edge's softness (tangent of the sun's apparent half-width, widened by haze),
    ``lean_px_per_m`` (dx, dy) off-nadir shift of a point 1 m up, ``camber_m`` how much
    container roofs bulge (shading across a roof at low sun), ``paints`` the container paints
    of this sample [K, 4]."""

    sun_elevation_deg: float
    sun_azimuth_deg: float
    sun_bands: np.ndarray
    sky_bands: np.ndarray
    penumbra: float
    lean_px_per_m: tuple[float, float]
    camber_m: float
    paints: np.ndarray


def random_look(rng: np.random.Generator, gsd_m: float) -> ReliefLook:
    """A random look: sun 15-75 degrees, off-nadir 0-25 degrees in 6 samples of 10, 3-14
    container paints with a per-sample tint."""
    el = float(rng.uniform(15.0, 75.0))
    low = 1.0 - np.sin(np.radians(el))
    sun = np.float32([0.8 - 0.25 * low, 0.9 - 0.1 * low, 1.0, 1.0]) * np.float32(
        rng.uniform(0.9, 1.1, 4)
    )
    sky = np.float32([0.45, 0.32, 0.22, 0.12]) * np.float32(rng.uniform(0.5, 1.3))
    off = np.tan(np.radians(rng.uniform(0.0, 25.0))) / gsd_m if rng.random() < 0.6 else 0.0
    a = rng.uniform(0, 2 * np.pi)
    k = int(rng.integers(3, len(CONTAINER_PAINTS) + 1))
    pick = rng.choice(len(CONTAINER_PAINTS), k, replace=False)
    tint = np.float32(rng.uniform(0.8, 1.2, 4))
    return ReliefLook(
        sun_elevation_deg=el,
        sun_azimuth_deg=float(rng.uniform(0.0, 360.0)),
        sun_bands=sun,
        sky_bands=sky,
        penumbra=float(rng.uniform(0.005, 0.06)),
        lean_px_per_m=(float(off * np.cos(a)), float(off * np.sin(a))),
        camber_m=float(rng.uniform(0.0, 0.12)),
        paints=np.clip(CONTAINER_PAINTS[pick] * tint, 0.01, 0.95),
    )
