"""Winter: snow on the ground and on every raised surface, sea ice on the water.

Rajin and Vostochny are snowy and their basins freeze in part from December to March, the
months of most of the voyage log. :func:`apply_snow` paints a winter look into a
:class:`~detector.synth.render.Canvas` before shadows are cast (so snow in shade comes out
blue-grey, as in real scenes): patchy, trodden-grey snow on the ground, snow on container
tops, roofs and decks in patches that leave some tops bare, and ice floes on open water.
It changes colours only, never the truth: a snowed-over container is still a container.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError
from .render import Canvas
from .textures import fbm

__all__ = [
    "DEEP_GROUND_COVER",
    "SNOW_RGB",
    "ICE_RGB",
    "apply_snow",
    "deep_draw",
    "draw_winter",
    "winter_rng",
]

#: Snow cover of the ground at least, where the tops carry deep snow: a deep snowfall lies on
#: the ground too, so pale ground cells (slab grids, bays) sit beside the white tops.
DEEP_GROUND_COVER = 0.8

#: Fresh snow (slightly blue) and grey sea ice, reflectance 0..1.
SNOW_RGB = np.float32((0.86, 0.89, 0.93))
ICE_RGB = np.float32((0.62, 0.68, 0.74))
_RAISED_M = 1.0  # surfaces this high above the ground count as tops (containers, roofs)
_STREAM = 0x5A0  # appended to a key: winter draws never shift a scene's other random choices


def winter_rng(*key: int) -> np.random.Generator:
    """The winter random stream of ``key`` (a scene's or sample's seed, ...)."""
    return np.random.default_rng([*(int(k) & 0xFFFFFFFF for k in key), _STREAM])


def draw_winter(rng: np.random.Generator, chance: float, low: float, high: float) -> float:
    """A snow cover uniform in ``low..high`` with probability ``chance``, else 0."""
    return float(rng.uniform(low, high)) if rng.random() < chance else 0.0


def _patches(field: np.ndarray, cover: float, softness: float = 4.0) -> np.ndarray:
    """Soft 0..1 mask covering about ``cover`` of the frame where ``field`` is highest."""
    sample = field[:: max(field.shape[0] // 256, 1), :: max(field.shape[1] // 256, 1)]
    thr = float(np.quantile(sample, 1.0 - cover))
    return 1.0 / (1.0 + np.exp(-softness * (field - thr)))


def _blend(canvas: Canvas, alpha: np.ndarray, rgb: np.ndarray) -> None:
    canvas.rgb += alpha[..., None] * (rgb - canvas.rgb)


def deep_draw(rng: np.random.Generator, cover: float, share: float) -> bool:
    """Whether a winter sample (``cover`` > 0) has deep snow on its tops, with chance
    ``share``; draws nothing when ``share`` or ``cover`` is 0, so other samples stay as
    they were."""
    return share > 0.0 and cover > 0.0 and bool(rng.random() < share)


def apply_snow(
    canvas: Canvas, rng: np.random.Generator, cover: float, *, deep: bool = False
) -> None:
    """Snow and ice over ``cover`` (0..1) of the snow-prone surfaces, in place.

    ``cover`` 0 changes nothing and draws no random numbers. Ground snow comes in patches
    tens of metres across, greyed where trodden; tops hold a little more snow than the
    ground (nobody walks there), in patches about a block across, so some blocks are
    white and others bare; ice covers up to about ``0.7 * cover`` of open water in floes
    with darker leads between them. ``deep``: fresh deep snow instead on the tops: white
    edge to edge over whole blocks, so the joints between boxes end to end and their colours
    are gone, with small bare blotches, and the ground at least :data:`DEEP_GROUND_COVER`
    snowed (:func:`deep_draw`).
    """
    if not 0.0 <= cover <= 1.0:
        raise ConfigError(f"snow cover {cover} must be between 0 and 1")
    if cover == 0.0:
        return
    if deep:
        cover = max(cover, DEEP_GROUND_COVER)
    g = canvas.gsd_m
    shape = canvas.shape
    water = canvas.water.astype(bool)
    raised = ~water & (canvas.height_m >= _RAISED_M)
    ground = ~water & ~raised

    grime = np.clip(0.5 + 0.5 * fbm(rng, shape, 4.0 / g, 3), 0.0, 1.0)
    a = _patches(fbm(rng, shape, 30.0 / g, 3), cover, 3.0) * rng.uniform(0.75, 0.95)
    snow = SNOW_RGB * (1.0 - rng.uniform(0.15, 0.4) * grime[..., None])
    _blend(canvas, (a * ground).astype(np.float32), snow)

    if deep:  # tops white edge to edge, bare in blotches a few metres across
        bare = _patches(fbm(rng, shape, 3.0 / g, 2), float(rng.uniform(0.03, 0.15)), 6.0)
        a = (1.0 - bare) * rng.uniform(0.93, 1.0)
    else:  # coarse patches, so a whole block (or most of a container) is snowed or bare
        a = _patches(fbm(rng, shape, 12.0 / g, 2), min(1.0, 1.2 * cover), 5.0)
        a *= rng.uniform(0.55, 0.9) * (0.85 + 0.15 * grime)
    _blend(canvas, (a * raised).astype(np.float32), np.broadcast_to(SNOW_RGB, snow.shape))

    if water.any() and rng.random() < 0.8:
        floes = fbm(rng, shape, 30.0 / g, 4) - 0.6 * np.abs(fbm(rng, shape, 6.0 / g, 2))
        a = _patches(floes, 0.7 * cover, 8.0) * water
        ice = ICE_RGB * (1.0 + 0.08 * fbm(rng, shape, 3.0 / g, 2))[..., None]
        _blend(canvas, a.astype(np.float32) * rng.uniform(0.8, 1.0), ice.astype(np.float32))
        canvas.water[a > 0.5] = 0  # ice is not open water (its NIR is bright)
