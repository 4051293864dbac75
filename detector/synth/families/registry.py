"""The rendering families and how a training mix picks one per sample."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ...errors import ConfigError

__all__ = [
    "FAMILIES",
    "HELD_OUT",
    "check_family",
    "family_sampler",
    "family_scene_image",
    "pick_family",
    "refuse_weather",
    "scene_result",
    "scene_view",
]

#: Every rendering family, the default first.
FAMILIES: tuple[str, ...] = ("classic", "flat", "photo", "relief", "oblique")

#: Families kept out of every training recipe and study default, to judge models on imagery
#: no recipe draws (``oblique``, designed apart from the others).
HELD_OUT: tuple[str, ...] = ("oblique",)


def check_family(family: str) -> str:
    """``family`` if it names a family, else :class:`~detector.errors.ConfigError`."""
    if family not in FAMILIES:
        raise ConfigError(f"unknown rendering family {family!r}; expected one of {FAMILIES}")
    return str(family)


#: Families whose scenes can show snow (``SceneSpec.snow``); none but classic draws cloud.
SNOWY: frozenset[str] = frozenset({"classic", "flat", "photo", "relief", "oblique"})


def refuse_weather(family: str, cloud: float, snow: float, what: str) -> None:
    """:class:`~detector.errors.ConfigError` if ``family`` cannot draw the weather asked for;
    the message starts with ``what`` and names the family."""
    if family != "classic" and cloud > 0 and family in SNOWY:
        raise ConfigError(f"{what} {family} draws no cloud yet; drop --cloud")
    if family not in SNOWY and (cloud > 0 or snow > 0):
        raise ConfigError(f"{what} {family} draws no cloud or snow yet; drop --cloud/--snow")


def family_sampler(family: str):
    """The training-patch function of a non-classic ``family``: the signature of
    :func:`.flat.flat_sample`."""
    if family == "photo":
        from .photo import photo_sample

        return photo_sample
    if family == "relief":
        from .relief import relief_sample

        return relief_sample
    if family == "oblique":
        from .oblique import oblique_sample

        return oblique_sample
    if family == "flat":
        from .flat import flat_sample

        return flat_sample
    raise ConfigError(f"family {family!r} has no training patches of its own")


def scene_result(out: np.ndarray, valid: np.ndarray, tops, blocks: list, lean_px_per_m):
    """What a family's ``*_scene_image`` returns: (``out`` with 0 outside ``valid``, the
    container ``tops`` where they are seen, the same tops where their stacks stand: moved
    back by their full height above the ground times ``lean_px_per_m``)."""
    from dataclasses import replace

    from ...detections import TIER_HEIGHT_M

    out[:, ~valid] = 0
    kept = [b for b in blocks if len(b.tops)]
    if not kept:
        return out, tops, tops
    rise = np.concatenate([b.base_m for b in kept]).astype(np.float64) + tops.tiers * TIER_HEIGHT_M
    stand = replace(
        tops, cx=tops.cx - rise * lean_px_per_m[0], cy=tops.cy - rise * lean_px_per_m[1]
    )
    return out, tops, stand


def scene_view(look, sun_elevation_deg: float, sun_azimuth_deg: float, lean_px_per_m):
    """A family's random ``look`` (any dataclass with these three fields) seen as the
    scene's acquisition: its sun (elevation at least 5 degrees) and off-nadir lean."""
    from dataclasses import replace

    return replace(
        look,
        sun_elevation_deg=float(max(sun_elevation_deg, 5.0)),
        sun_azimuth_deg=float(sun_azimuth_deg),
        lean_px_per_m=(float(lean_px_per_m[0]), float(lean_px_per_m[1])),
    )


def family_scene_image(family: str, canvas, blocks: list, **kw):
    """The image and tops of a whole scene in a non-classic ``family``: the keyword
    arguments of :func:`.flat_scene.flat_scene_image`."""
    if family == "photo":
        from .photo_scene import photo_scene_image

        return photo_scene_image(canvas, blocks, **kw)
    if family == "relief":
        from .relief_scene import relief_scene_image

        return relief_scene_image(canvas, blocks, **kw)
    if family == "oblique":
        from .oblique_scene import oblique_scene_image

        return oblique_scene_image(canvas, blocks, **kw)
    from .flat_scene import flat_scene_image

    return flat_scene_image(canvas, blocks, **kw)


def pick_family(seed: int, families: Mapping[str, float]) -> str:
    """The family of sample ``seed`` in a mix ``{family: weight}`` (weights >= 0, not all
    zero; normalised). Drawn from its own stream of the seed, so the layout of the sample
    does not depend on the mix."""
    names = [check_family(f) for f in families]
    w = np.array([float(families[f]) for f in families], np.float64)
    if not names or (w < 0).any() or not np.isfinite(w).all() or w.sum() <= 0:
        raise ConfigError(f"family mix {dict(families)!r}: weights must be >= 0, not all zero")
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, 0xFA3117])
    return names[int(rng.choice(len(names), p=w / w.sum()))]
