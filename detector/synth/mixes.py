"""Rendering-family mixes as training options: ``"classic=1,flat=1,photo=1"`` <-> a
validated ``{family: weight}`` mapping (:func:`parse_mix`, :func:`check_mix`,
:func:`format_mix`). Family names come from the registry
(:data:`detector.synth.families.FAMILIES`), so a family that lands there is accepted here.
Layout-setting weights (``"town=0.15,carpark=0.06"``, :func:`check_setting_weights`) parse the
same way.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from ..errors import ConfigError

__all__ = ["check_mix", "check_setting_weights", "format_mix", "named_weights", "parse_mix"]


def check_mix(mix: Mapping[str, float]) -> dict[str, float]:
    """``mix`` as a plain dict of registered families to weights (>= 0, finite, not all
    zero); :class:`~detector.errors.ConfigError` naming the problem otherwise."""
    from .families.registry import FAMILIES

    out = named_weights("--families", "rendering family", FAMILIES, mix)
    if not out or sum(out.values()) <= 0:
        raise ConfigError(f"--families {dict(mix)!r}: give at least one weight > 0")
    return out


def check_setting_weights(weights: Mapping[str, float]) -> dict[str, float]:
    """``weights`` as a plain dict of v2 layout settings
    (:data:`detector.synth.terminal.SETTINGS_V2`) to the weights that replace theirs in
    :data:`~detector.synth.terminal.WEIGHTS_V2` (>= 0, finite; settings not named keep
    theirs); :class:`~detector.errors.ConfigError` otherwise."""
    from .terminal import SETTINGS_V2, WEIGHTS_V2

    out = named_weights("--setting-weights", "layout setting", SETTINGS_V2, weights)
    if all(out.get(name, base) <= 0 for name, base in zip(SETTINGS_V2, WEIGHTS_V2, strict=True)):
        raise ConfigError(f"--setting-weights {dict(weights)!r}: every setting weighs 0")
    return out


def named_weights(option: str, what: str, names, weights: Mapping) -> dict[str, float]:
    """``weights`` as a plain dict of float weights >= 0, every key one of ``names``."""
    out: dict[str, float] = {}
    for name, weight in dict(weights).items():
        if name not in names:
            raise ConfigError(
                f"{option}: unknown {what} {name!r}; expected some of {', '.join(names)}"
            )
        out[str(name)] = _weight(option, name, weight)
    return out


def _weight(option: str, name: str, weight) -> float:
    try:
        w = float(weight)
    except (TypeError, ValueError):
        raise ConfigError(f"{option}: weight of {name} {weight!r} is not a number") from None
    if not math.isfinite(w) or w < 0:
        raise ConfigError(f"{option}: weight of {name} {weight!r}: expected a number >= 0")
    return w


def parse_mix(text: str, *, option: str = "--families", check=None) -> dict[str, float]:
    """``"classic=1,flat=0.5"`` -> ``{"classic": 1.0, "flat": 0.5}`` (a bare name weighs 1;
    a family named twice is an error). ``option="--setting-weights"`` parses layout-setting
    weights instead (:func:`check_setting_weights`); ``check`` another checker of the
    parsed ``{name: weight}`` (e.g. :func:`detector.model.losses.check_loss_weights`)."""
    mix: dict[str, float | str] = {}
    for item in str(text).split(","):
        item = item.strip()
        if not item:
            continue
        name, sep, weight = item.partition("=")
        name = name.strip()
        if name in mix:
            raise ConfigError(f"{option} {text!r}: {name} is given twice")
        mix[name] = weight.strip() if sep else 1.0
    if not mix:
        raise ConfigError(f"{option} {text!r}: expected NAME=WEIGHT[,NAME=WEIGHT...]")
    if check is None:
        check = check_setting_weights if option == "--setting-weights" else check_mix
    return check(mix)


def format_mix(mix: Mapping[str, float] | None) -> str:
    """The option text of ``mix`` (``"classic"`` when None: the classic family alone)."""
    if not mix:
        return "classic"
    return ",".join(f"{k}={v:g}" for k, v in mix.items())
