"""The ship registry (``labels/ships.json``): dimensions and features of the four ships."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .errors import LabelError
from .paths import labels_dir

__all__ = ["ShipSpec", "load_registry", "SHIP_NAMES"]

SHIP_NAMES = ("Angara", "Maria", "Maia-1", "Lady R")


@dataclass(frozen=True)
class ShipSpec:
    name: str
    loa_m: float
    beam_m: float
    bridge_from_bow: float  # fraction of LOA from the bow
    deck_rows: int  # 20-ft stack positions across the beam
    deck_bays: int  # 20-ft stack positions along the hull
    cranes: int

    @property
    def deck_slots(self) -> int:
        return self.deck_rows * self.deck_bays


@lru_cache(maxsize=4)
def load_registry(path: Path | None = None) -> tuple[ShipSpec, ...]:
    p = Path(path) if path else labels_dir() / "ships.json"
    try:
        rows = json.loads(p.read_text())["ships"]
        return tuple(ShipSpec(**r) for r in rows)
    except FileNotFoundError:
        raise LabelError(f"{p}: ship registry not found") from None
    except (KeyError, TypeError, ValueError) as e:
        raise LabelError(f"{p}: bad ship registry ({e})") from None
