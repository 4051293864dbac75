"""Editable assumptions and the rounds-of-munitions range.

Assumptions live in ``labels/munitions_assumptions.json``: sections (``munitions``,
``shipments``, ``matching``) of named figures ``{"value", "unit", "source"[, "low", "high"]}``,
each with its source (DOMAIN.md). A user file passed with ``--assumptions`` is laid over the
defaults figure by figure, so it may hold only what it changes. This module reads that file;
everything else receives an :class:`Assumptions` value.

The range is linear: ``rounds = containers * rounds_per_container`` with the low and high
figures. The defaults (250 and 375, [D] from OSC's 4-6 M rounds over ~16,000 containers)
turn 16,000 containers into 4.0-6.0 million rounds.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError, LabelError
from ..paths import labels_dir

__all__ = [
    "MAX_CONTAINERS",
    "Figure",
    "Assumptions",
    "RoundsRange",
    "default_assumptions_path",
    "load_assumptions",
    "parse_assumptions",
    "rounds_range",
    "munitions_summary",
    "saved_assumptions_json",
    "read_saved_assumptions",
]

#: Figures every assumptions file must end up with (after merging over the defaults).
REQUIRED = {
    "munitions": ("rounds_per_container_low", "rounds_per_container_high"),
}


@dataclass(frozen=True)
class Figure:
    """One assumed figure: ``value`` (a number, or a mapping such as ship -> number), an
    optional ``low``/``high`` range, its ``unit`` and ``source`` text."""

    value: Any
    unit: str
    source: str
    low: float | None = None
    high: float | None = None


@dataclass(frozen=True)
class Assumptions:
    """All figures, keyed ``(section, name)``; ``path`` says where they came from."""

    path: str
    figures: tuple[tuple[str, str, Figure], ...]

    def figure(self, section: str, name: str) -> Figure:
        for s, n, f in self.figures:
            if s == section and n == name:
                return f
        raise ConfigError(f"{self.path}: no assumption {section}.{name}")

    def value(self, section: str, name: str) -> Any:
        return self.figure(section, name).value

    def table(self) -> list[dict[str, Any]]:
        """Rows for reports and JSON: section, name, value, low, high, unit, source."""
        return [
            {"section": s, "name": n, "value": f.value, "low": f.low, "high": f.high,
             "unit": f.unit, "source": f.source}
            for s, n, f in self.figures
        ]  # fmt: skip

    def section(self, section: str) -> dict[str, Any]:
        """``{name: value}`` of one section (the ranges are in :meth:`figure`)."""
        return {n: f.value for s, n, f in self.figures if s == section}


@dataclass(frozen=True)
class RoundsRange:
    containers: float
    rounds_low: float
    rounds_high: float
    rounds_per_container_low: float
    rounds_per_container_high: float


#: the most containers ``ccount munitions`` takes: far above any shipment or route total
MAX_CONTAINERS = 1_000_000


def default_assumptions_path() -> Path:
    return labels_dir() / "munitions_assumptions.json"


def _number(x: Any, where: str) -> float:
    if isinstance(x, bool) or not isinstance(x, int | float) or not math.isfinite(x):
        raise LabelError(f"{where} must be a finite number, got {x!r}")
    return float(x)


def _figure(raw: Any, where: str) -> Figure:
    if not isinstance(raw, Mapping) or "value" not in raw:
        raise LabelError(f"{where} must be an object with 'value' and 'source'")
    value = raw["value"]
    if isinstance(value, Mapping):
        value = {str(k): _number(v, f"{where}.value[{k!r}]") for k, v in value.items()}
    else:
        value = _number(value, f"{where}.value")
    low = None if raw.get("low") is None else _number(raw["low"], f"{where}.low")
    high = None if raw.get("high") is None else _number(raw["high"], f"{where}.high")
    if isinstance(value, float) and (
        (low is not None and low > value) or (high is not None and high < value)
    ):
        raise LabelError(f"{where}: expected low <= value <= high, got {low}, {value}, {high}")
    return Figure(value=value, unit=str(raw.get("unit", "")), source=str(raw.get("source", "")),
                  low=low, high=high)  # fmt: skip


def _sections(data: Any, source: str) -> dict[str, dict[str, Any]]:
    if not isinstance(data, Mapping):
        raise LabelError(f"{source}: expected a JSON object of sections")
    out: dict[str, dict[str, Any]] = {}
    for sec, figs in data.items():
        if sec.startswith("_"):
            continue
        if not isinstance(figs, Mapping):
            raise LabelError(f"{source}: section {sec!r} must be an object of figures")
        out[sec] = {n: f for n, f in figs.items() if not n.startswith("_")}
    return out


def parse_assumptions(
    data: Mapping[str, Any], source: str, defaults: Mapping[str, Any] | None = None
) -> Assumptions:
    """Assumptions from parsed JSON ``data`` laid over ``defaults`` (parsed JSON too)."""
    merged = _sections(defaults, "defaults") if defaults is not None else {}
    for sec, figs in _sections(data, source).items():
        for name, raw in figs.items():
            base = merged.setdefault(sec, {}).get(name)
            # an override may give only "value": keep the default's unit, source, range
            if isinstance(base, Mapping) and isinstance(raw, Mapping):
                raw = {**base, **raw}
            merged[sec][name] = raw
    figures = []
    for sec, figs in merged.items():
        for name, raw in figs.items():
            figures.append((sec, name, _figure(raw, f"{source}: {sec}.{name}")))
    out = Assumptions(path=source, figures=tuple(figures))
    for sec, names in REQUIRED.items():
        for name in names:
            if not any(s == sec and n == name for s, n, _ in figures):
                raise LabelError(f"{source}: missing assumption {sec}.{name}")
    lo = out.value("munitions", "rounds_per_container_low")
    hi = out.value("munitions", "rounds_per_container_high")
    if not 0 <= lo <= hi:
        raise LabelError(
            f"{source}: expected 0 <= rounds_per_container_low <= rounds_per_container_high, "
            f"got {lo} and {hi}"
        )
    return out


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LabelError(f"{path}: assumptions file not found") from None
    except (OSError, ValueError) as e:
        raise LabelError(f"{path}: not a readable JSON file ({e})") from None


def load_assumptions(path: str | Path | None = None) -> Assumptions:
    """The default assumptions, with the figures of ``path`` (if given) laid over them; a
    run folder's saved ``assumptions.json`` is read as it is."""
    default_path = default_assumptions_path()
    defaults = _read_json(default_path)
    if path is None:
        return parse_assumptions(defaults, str(default_path))
    p = Path(path)
    data = _read_json(p)
    if isinstance(data, Mapping) and isinstance(data.get("figures"), list):
        return read_saved_assumptions(p)  # a run folder's assumptions.json
    return parse_assumptions(data, str(p), defaults=defaults)


def rounds_range(containers: float, assumptions: Assumptions) -> RoundsRange:
    """Rounds of munitions ``containers`` could hold under the assumptions (linear)."""
    if not math.isfinite(containers) or containers < 0:
        raise ConfigError(f"containers must be a finite number >= 0, got {containers}")
    lo = float(assumptions.value("munitions", "rounds_per_container_low"))
    hi = float(assumptions.value("munitions", "rounds_per_container_high"))
    return RoundsRange(
        containers=float(containers),
        rounds_low=containers * lo,
        rounds_high=containers * hi,
        rounds_per_container_low=lo,
        rounds_per_container_high=hi,
    )


def munitions_summary(containers: float, assumptions: Assumptions) -> dict[str, Any]:
    """The JSON ``ccount munitions`` prints: the range and the munitions figures used.

    Raises :class:`ConfigError` for a count that is not finite, negative or above
    :data:`MAX_CONTAINERS`."""
    if math.isfinite(containers) and containers > MAX_CONTAINERS:
        raise ConfigError(
            f"--containers {containers:g}: more than {MAX_CONTAINERS:,} containers is no "
            f"shipment (the whole route carries tens of thousands); expected 0..{MAX_CONTAINERS:,}"
        )
    if not math.isfinite(containers) or containers < 0:
        raise ConfigError(f"--containers {containers}: expected a finite number >= 0")
    r = rounds_range(containers, assumptions)
    return {
        "containers": int(r.containers) if r.containers.is_integer() else r.containers,
        "rounds_low": round(r.rounds_low),
        "rounds_high": round(r.rounds_high),
        "assumptions_file": assumptions.path,
        "assumptions": {
            n: {"value": f.value, "unit": f.unit, "source": f.source}
            for s, n, f in assumptions.figures
            if s == "munitions"
        },
    }


def saved_assumptions_json(assumptions: Assumptions) -> str:
    """All figures as JSON (``{"source", "figures": [table rows]}``) to keep with a run."""
    return json.dumps({"source": assumptions.path, "figures": assumptions.table()}, indent=1) + "\n"


def read_saved_assumptions(path: str | Path) -> Assumptions:
    """Assumptions from a file written with :func:`saved_assumptions_json` (no defaults
    merged: the file holds every figure the run used)."""
    p = Path(path)
    data = _read_json(p)
    try:
        overlay: dict[str, dict[str, Any]] = {}
        for row in data["figures"]:
            fig = {k: row[k] for k in ("value", "unit", "source", "low", "high") if k in row}
            overlay.setdefault(row["section"], {})[row["name"]] = fig
        source = str(data.get("source") or p)
    except (KeyError, TypeError):
        raise LabelError(f"{p}: not a saved assumptions file (expected 'figures' rows)") from None
    return parse_assumptions(overlay, source)
