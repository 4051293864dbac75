"""Rendering-family mixes as training options: ``"classic=1,flat=1,photo=1"`` <-> a
validated ``{family: weight}`` mapping (:func:`parse_mix`, :func:`check_mix`,
:func:`format_mix`). Family names come from the registry
(:data:`detector.synth.families.FAMILIES`), so a family that lands there is accepted here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from ..errors import ConfigError

__all__ = ["check_mix", "format_mix", "parse_mix"]


def check_mix(mix: Mapping[str, float]) -> dict[str, float]:
    """``mix`` as a plain dict of registered families to weights (>= 0, finite, not all
    zero); :class:`~detector.errors.ConfigError` naming the problem otherwise."""
    from .families.registry import FAMILIES

    out: dict[str, float] = {}
    for name, weight in dict(mix).items():
        if name not in FAMILIES:
            raise ConfigError(
                f"--families: unknown rendering family {name!r}; expected some of "
                f"{', '.join(FAMILIES)}"
            )
        try:
            w = float(weight)
        except (TypeError, ValueError):
            raise ConfigError(f"--families: weight of {name} {weight!r} is not a number") from None
        if not math.isfinite(w) or w < 0:
            raise ConfigError(f"--families: weight of {name} {weight!r}: expected a number >= 0")
        out[str(name)] = w
    if not out or sum(out.values()) <= 0:
        raise ConfigError(f"--families {dict(mix)!r}: give at least one weight > 0")
    return out


def parse_mix(text: str) -> dict[str, float]:
    """``"classic=1,flat=0.5"`` -> ``{"classic": 1.0, "flat": 0.5}`` (a bare name weighs 1;
    a family named twice is an error)."""
    mix: dict[str, float | str] = {}
    for item in str(text).split(","):
        item = item.strip()
        if not item:
            continue
        name, sep, weight = item.partition("=")
        name = name.strip()
        if name in mix:
            raise ConfigError(f"--families {text!r}: {name} is given twice")
        mix[name] = weight.strip() if sep else 1.0
    if not mix:
        raise ConfigError(f"--families {text!r}: expected NAME=WEIGHT[,NAME=WEIGHT...]")
    return check_mix(mix)


def format_mix(mix: Mapping[str, float] | None) -> str:
    """The option text of ``mix`` (``"classic"`` when None: the classic family alone)."""
    if not mix:
        return "classic"
    return ",".join(f"{k}={v:g}" for k, v in mix.items())
