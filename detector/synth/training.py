"""Random training patches for the detector: :func:`training_sample`.

Each sample is a small port scene drawn at a random native GSD (0.3-0.6 m), passed through a
random sensor (blur, noise, haze, gamma, colour balance, JPEG, sometimes cloud) and resampled
to ``out_gsd_m`` exactly as inference resamples real scenes. Settings: container yards,
quay edges with a ship alongside, ship decks, rail sidings with wagons, open water, and
built-up land; about one in twelve is empty of objects. Look-alikes (trucks, buses, cars,
wagons, roofs, hatch covers, cranes) are drawn but never labelled.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from ..errors import ConfigError
from .compose_v1 import compose as compose_v1
from .containers import draw_containers
from .lookalikes import (
    draw_crane,
)
from .render import Canvas, apply_shadows
from .sample import TrainingSample, crop_sample
from .sensor import apply_sensor, cloud_alpha, random_sensor, resample
from .weather import apply_snow, deep_draw, draw_winter, winter_rng

__all__ = [
    "SETTINGS",
    "TRAIN_SEED_BASE",
    "TrainingSample",
    "crop_sample",
    "sample_seed",
    "stream_sample",
    "training_sample",
]

SETTINGS = ("yard", "quay", "deck", "rail", "water", "land")
_WEIGHTS = np.array([0.27, 0.22, 0.27, 0.1, 0.05, 0.09])
_MARGIN_PX = 8  # output pixels rendered beyond each edge, then cropped (blur, shadows)


#: Synthetic training samples use seeds >= this; keep test sets below it.
TRAIN_SEED_BASE = 1_000_000
_SEEDS_PER_RUN = 100_000_000


def sample_seed(run_seed: int, k: int) -> int:
    """Seed of the k-th synthetic sample of a training run seeded ``run_seed``."""
    return TRAIN_SEED_BASE + run_seed * _SEEDS_PER_RUN + k


def stream_sample(k: int, *, make: Callable[..., Any], run_seed: int, size_px: int) -> Any:
    """The k-th sample of training run ``run_seed``: ``make(sample_seed(run_seed, k),
    size_px=size_px)``. Module-level so that worker processes can run it; with ``make`` a
    partial of :func:`training_sample` they never import torch."""
    return make(sample_seed(run_seed, k), size_px=size_px)


def training_sample(
    seed: int,
    *,
    size_px: int = 256,
    out_gsd_m: float = 0.4,
    snow: float = 0.0,
    deep_snow: float = 0.0,
    family: str = "classic",
    families: Mapping[str, float] | None = None,
    layouts: str = "v1",
    setting_weights: Mapping[str, float] | None = None,
    compose: Callable[..., Any] | None = None,
) -> TrainingSample:
    """A random labelled patch of ``size_px`` x ``size_px`` at ``out_gsd_m``; deterministic in
    ``seed``. With probability ``snow`` it is a winter scene (snow 20-90 % cover, sea ice;
    :func:`detector.synth.weather.apply_snow`), drawn from its own random stream so every
    other choice of the sample stays as with ``snow=0``. In ``deep_snow`` of the winter
    samples the tops carry deep snow: white edge to edge, the joints between boxes gone
    (``apply_snow(deep=True)`` and its counterparts in the other families; 0 draws nothing,
    so the samples stay as before). See :class:`TrainingSample` for the fields and frames.

    ``family`` names the rendering family (:data:`detector.synth.families.FAMILIES`): the
    layout and truth come from ``seed`` alone, the family only changes how it is drawn
    (``"classic"``: this module's renderer; ``"flat"``:
    :func:`detector.synth.families.flat.flat_sample`; ``"photo"``:
    :func:`detector.synth.families.photo.photo_sample`, which snows in ``max(snow, 0.12)``
    of its samples; ``"relief"``: :func:`detector.synth.families.relief.relief_sample`;
    ``"oblique"``: :func:`detector.synth.families.oblique.oblique_sample`).
    ``families``, a mix such as
    ``{"classic": 0.5, "flat": 0.5}``, picks the family per sample from the seed instead
    (:func:`detector.synth.families.pick_family`).

    ``layouts`` picks the layout generator: ``"v1"`` (the shipped recipe's, this module's
    composer) or ``"v2"`` (:mod:`detector.synth.terminal`: terminal layouts real ports
    have, occlusion by spreaders, and hard-negative settings such as bus depots);
    ``setting_weights`` replaces the weights of the v2 settings it names
    (:func:`detector.synth.terminal.setting_shares`; ``{"town": 0.15}``: town blocks three
    times as often as shipped, before renormalising).
    ``compose(rng, canvas)``, when given, lays the patch out instead of a random setting
    (evaluation scenes, :mod:`detector.synth.lookalike_scenes`); it returns (blocks,
    cranes, theta, spreaders) like :func:`detector.synth.terminal.compose_v2`, and its
    ``setting`` attribute names the sample's setting."""
    from .families.registry import check_family, family_sampler, pick_family

    if int(size_px) < 32 or int(size_px) > 4096:
        raise ConfigError(f"training_sample: size_px={size_px} outside 32..4096")
    if not 0.05 <= float(out_gsd_m) <= 5.0:
        raise ConfigError(f"training_sample: out_gsd_m={out_gsd_m} outside 0.05..5 m")
    family = pick_family(seed, families) if families is not None else check_family(family)
    if layouts not in ("v1", "v2"):
        raise ConfigError(f"training_sample: layouts={layouts!r}; expected 'v1' or 'v2'")
    if not 0.0 <= float(deep_snow) <= 1.0:
        raise ConfigError(f"training_sample: deep_snow={deep_snow} outside 0..1")
    if setting_weights and layouts != "v2":
        raise ConfigError("training_sample: setting_weights needs layouts='v2'")
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, 0x5EED])
    n_out = int(size_px) + 2 * _MARGIN_PX
    n_nat = max(int(round(n_out * out_gsd_m / rng.uniform(0.3, 0.6))), 16)
    g = n_out * float(out_gsd_m) / n_nat
    canvas = Canvas.blank(n_nat, n_nat, g)
    spreaders: list = []
    if layouts == "v1":
        setting = str(rng.choice(SETTINGS, p=_WEIGHTS / _WEIGHTS.sum()))
    else:
        from .terminal import SETTINGS_V2, compose_v2, setting_shares

        setting = str(rng.choice(SETTINGS_V2, p=setting_shares(setting_weights)))
    empty = rng.random() < 0.08
    if family != "classic":
        canvas.notes = []
    if compose is not None:
        setting = str(getattr(compose, "setting", "custom"))
        blocks, cranes, theta, spreaders = compose(rng, canvas)
    elif layouts == "v1":
        blocks, cranes, theta = compose_v1(rng, canvas, setting, empty)
    else:
        blocks, cranes, theta, spreaders = compose_v2(rng, canvas, setting, empty)
    if family != "classic":
        deep = {"deep_snow": float(deep_snow)} if deep_snow > 0 else {}
        if deep and family == "oblique":  # the held-out family draws its own winter only
            raise ConfigError("training_sample: deep_snow is not drawn by the oblique family")
        return family_sampler(family)(
            seed, canvas, blocks, cranes, setting, size_px=int(size_px),
            out_gsd_m=float(out_gsd_m), margin_px=_MARGIN_PX, snow=float(snow), **deep,
        )  # fmt: skip
    lean = (0.0, 0.0)
    if rng.random() < 0.6:  # off-nadir view: stack sides show, tops shift away from the satellite
        off = np.tan(np.radians(rng.uniform(0.0, 25.0))) / g
        a = rng.uniform(0, 2 * np.pi)
        lean = (off * np.cos(a), off * np.sin(a))
    tops = draw_containers(canvas, blocks, rng, lean_px_per_m=lean)
    if spreaders:
        from .terminal import draw_spreaders

        draw_spreaders(canvas, rng, spreaders, lean)
    for cx_, cy_, ang, span, kind in cranes:
        draw_crane(canvas, rng, cx_, cy_, ang, span, kind)
    if snow > 0.0:
        winter = winter_rng(seed)
        cover = draw_winter(winter, snow, 0.2, 0.9)
        apply_snow(canvas, winter, cover, deep=deep_draw(winter, cover, float(deep_snow)))
    elev, az = float(rng.uniform(15.0, 75.0)), float(rng.uniform(0.0, 360.0))
    apply_shadows(canvas, elev, az, ambient=float(rng.uniform(0.28, 0.6)))
    cloud = None
    shift = (0.0, 0.0)
    if rng.random() < 0.07:
        cloud = cloud_alpha(rng, canvas.shape, g, rng.uniform(0.1, 0.6))
        d = rng.uniform(20.0, 80.0) / g
        shift = (-np.sin(np.radians(az)) * d, np.cos(np.radians(az)) * d)
    img = apply_sensor(canvas.rgb, random_sensor(rng), rng, cloud=cloud, cloud_shift_px=shift)
    method = (
        str(rng.choice(["area", "linear", "cubic"]))
        if n_nat > n_out
        else str(rng.choice(["linear", "cubic"]))
    )
    out = np.clip(resample(img, (n_out, n_out), method), 0, 1)
    hull = resample(canvas.hull.astype(np.float32), (n_out, n_out), "area") > 0.5
    bridge = resample(canvas.bridge.astype(np.float32), (n_out, n_out), "area") > 0.5
    m, s = _MARGIN_PX, int(size_px)
    dets = tops
    if len(dets) and cloud is not None:
        ix = np.clip(dets.cx.astype(int), 0, n_nat - 1)
        iy = np.clip(dets.cy.astype(int), 0, n_nat - 1)
        dets = dets.select(cloud[iy, ix] < 0.6)
    return crop_sample(out, dets.scaled(n_out / n_nat), hull, bridge, margin_px=m, size_px=s,
                       native_gsd_m=g, out_gsd_m=out_gsd_m, sun=(elev, az), setting=setting)  # fmt: skip
