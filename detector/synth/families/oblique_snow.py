"""Winter in the oblique family: snow on what faces the sky, sea ice on the water.

Applied to the seen surfaces before light, so snow in shade takes the blue sky light and
snow on the walls of a stack never shows (walls hold none). Ground snow lies in drifts tens
of metres across; asphalt roads are ploughed and driven on (thinner, greyer snow); roofs hold
snow in patches about a container long, so a stack is white or bare rather than speckled;
ice covers up to about 0.7 of the cover on open water in floes with leads between them.
The labels never change: a snowed-over container is still a container.
"""

from __future__ import annotations

import numpy as np

from .oblique_geom import CODES, GBuffer
from .oblique_look import GROUNDS, smooth_noise

__all__ = ["apply_oblique_snow"]

_SNOW = np.float32([0.80, 0.84, 0.88, 0.72])
_ICE = np.float32([0.40, 0.46, 0.52, 0.30])
_PAVED = (tuple(GROUNDS).index("asphalt"), tuple(GROUNDS).index("marking"))


def _share(field: np.ndarray, cover: float, sharpness: float) -> np.ndarray:
    """float32 0..1: about ``cover`` of the frame, where ``field`` is highest, soft-edged."""
    thr = float(np.quantile(field[::4, ::4], 1.0 - min(max(cover, 0.0), 1.0)))
    return (1.0 / (1.0 + np.exp(-sharpness * (field - thr)))).astype(np.float32)


def apply_oblique_snow(gb: GBuffer, kind: np.ndarray, water: np.ndarray, cover: float,
                       rng: np.random.Generator, gsd_m: float) -> np.ndarray:  # fmt: skip
    """Snow and ice over about ``cover`` (0..1) of ``gb``'s sky-facing surfaces, in place
    (``kind`` uint8 [H, W] the ground material index of :data:`.oblique_look.GROUNDS`,
    ``water`` bool [H, W]). Returns the open water left (bool [H, W])."""
    g = float(gsd_m)
    shape = gb.z.shape
    up = gb.nrm[..., 2] > 0.9
    ground = up & (gb.code == CODES["ground"]) & ~water
    dirt = np.clip(0.5 + 0.5 * smooth_noise(rng, shape, 3.0 / g, 2), 0.0, 1.0)
    paved = np.isin(kind, _PAVED)
    a_ground = _share(smooth_noise(rng, shape, 25.0 / g, 3), cover, 14.0)
    a_ground *= np.where(paved, 0.55, 0.92).astype(np.float32)
    grime = np.where(paved, 0.45, 0.15).astype(np.float32) * dirt
    a_roof = _share(smooth_noise(rng, shape, 7.0 / g, 2), min(1.0, 1.2 * cover), 8.0) * 0.95
    roofs = up & (gb.code != CODES["ground"])
    alpha = np.where(ground, a_ground, np.where(roofs, a_roof, 0.0)).astype(np.float32)
    snow = _SNOW * (1.0 - grime)[..., None]
    gb.alb += alpha[..., None] * (snow - gb.alb)
    open_water = water & (gb.code == CODES["ground"])
    if not open_water.any():
        return water
    floes = smooth_noise(rng, shape, 30.0 / g, 4) - 0.5 * np.abs(smooth_noise(rng, shape, 6 / g, 2))
    thr = float(np.quantile(floes[open_water][::7], 1.0 - 0.7 * cover))
    ice = open_water & (floes > thr)
    gb.alb[ice] = _ICE * (1.0 + 0.15 * dirt[ice, None] - 0.075)
    return water & ~ice
