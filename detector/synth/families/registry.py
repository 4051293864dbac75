"""The rendering families and how a training mix picks one per sample."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ...errors import ConfigError

__all__ = ["FAMILIES", "check_family", "pick_family"]

#: Every rendering family, the default first.
FAMILIES: tuple[str, ...] = ("classic", "flat")


def check_family(family: str) -> str:
    """``family`` if it names a family, else :class:`~detector.errors.ConfigError`."""
    if family not in FAMILIES:
        raise ConfigError(f"unknown rendering family {family!r}; expected one of {FAMILIES}")
    return str(family)


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
