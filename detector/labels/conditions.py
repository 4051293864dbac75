"""Scores pooled by the conditions a scene was taken in (``ccount eval``'s ``by_condition``).

A truth file's header may say how its scene was taken (synthetic truth does: ``gsd_m``,
``sun_elevation_deg``, ``snow``, ``off_nadir_deg``; hand labels usually do not). Pooling the
scenes' tallies by those conditions shows where a model loses what it loses (a low sun, whose
long shadows darken the tops, costs the shipped weights most: docs/training.md). Conditions a header
does not give leave the scene out of that split.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

__all__ = ["CONDITIONS", "condition_bins", "format_conditions"]

#: name -> (header key, bin edges, labels of the bins between them; the first below the
#: first edge, the last at or above the last)
CONDITIONS: dict[str, tuple[str, tuple[float, ...], tuple[str, ...]]] = {
    "sun_elevation": ("sun_elevation_deg", (30.0, 50.0), ("<30", "30-50", ">=50")),
    "gsd": ("gsd_m", (0.35, 0.45, 0.55), ("0.3", "0.4", "0.5", "0.6")),
    "snow": ("snow", (0.01,), ("none", "snow")),
    "off_nadir": ("off_nadir_deg", (5.0, 15.0), ("<5", "5-15", ">=15")),
}


def condition_bins(header: Mapping[str, Any]) -> dict[str, str]:
    """{condition: bin label} for each of :data:`CONDITIONS` the truth ``header`` gives as a
    finite number (``gsd`` bins are named by their centre: 0.3 holds 0.25-0.35 m)."""
    out = {}
    for name, (key, edges, labels) in CONDITIONS.items():
        v = header.get(key)
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            continue
        out[name] = labels[sum(v >= e for e in edges)]
    return out


def format_conditions(by_condition: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> list[str]:
    """One line per condition with more than one bin: recall, precision, F1 and count error
    of each bin, and its scenes."""

    def f(v) -> str:
        return "-" if v is None else f"{v:.3f}"

    lines = []
    for name, bins in by_condition.items():
        if len(bins) < 2:
            continue
        parts = [
            f"{b} R {f(m['recall'])} P {f(m['precision'])} F1 {f(m['f1'])} "
            f"count {m['count_error_pct'] if m['count_error_pct'] is not None else '-'}% "
            f"({m['scenes']} scene{'s' if m['scenes'] != 1 else ''})"
            for b, m in bins.items()
        ]
        lines.append(f"by {name.replace('_', ' ')}: " + " | ".join(parts))
    return lines
