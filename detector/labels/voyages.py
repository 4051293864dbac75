"""The voyage log (``labels/voyages.csv``): one row per trip of a ship from Rajin.

Format: CSV with a header holding the columns ``voyage`` (positive integer, unique), ``ship``
(one of :data:`detector.ships.SHIP_NAMES`, case and spacing forgiven) and ``rajin_date``
(ISO ``YYYY-MM-DD``, the date the ship loaded at Rajin). Other columns are ignored. This module
is the only one that reads the log; a bad row raises :class:`LabelError` naming the file and
the line number (the header is line 1).
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from ..errors import LabelError
from ..ships import SHIP_NAMES

__all__ = ["Voyage", "REQUIRED_COLUMNS", "read_voyages", "parse_voyages"]

REQUIRED_COLUMNS = ("voyage", "ship", "rajin_date")


@dataclass(frozen=True, order=True)
class Voyage:
    """One trip: ``voyage`` number, canonical ``ship`` name, ``rajin_date`` (loading day)."""

    voyage: int
    ship: str
    rajin_date: dt.date

    @property
    def month(self) -> str:
        """Calendar month of the loading day, ``YYYY-MM``."""
        return self.rajin_date.strftime("%Y-%m")


def _canonical_ship(name: str) -> str | None:
    key = " ".join(name.split()).casefold()
    for ship in SHIP_NAMES:
        if ship.casefold() == key:
            return ship
    return None


def parse_voyages(text: str, source: str = "<voyages>") -> tuple[Voyage, ...]:
    """Voyages from CSV text, sorted by voyage number; ``source`` names the file in errors."""
    lines = text.splitlines()
    if not any(line.strip() for line in lines):
        raise LabelError(
            f"{source}: empty voyage log, expected a header {','.join(REQUIRED_COLUMNS)}"
        )
    reader = csv.DictReader(lines)
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise LabelError(
            f"{source}: line 1: missing column(s) {', '.join(missing)}; "
            f"expected a header with {','.join(REQUIRED_COLUMNS)}"
        )
    reader.fieldnames = header
    seen: dict[int, int] = {}
    out: list[Voyage] = []
    for row in reader:
        line = reader.line_num
        if not any((v or "").strip() for k, v in row.items() if k is not None):
            continue  # blank line
        values = {c: (row.get(c) or "").strip() for c in REQUIRED_COLUMNS}
        for c, v in values.items():
            if not v:
                raise LabelError(f"{source}: line {line}: empty {c!r}")
        try:
            number = int(values["voyage"])
        except ValueError:
            raise LabelError(
                f"{source}: line {line}: voyage {values['voyage']!r} is not an integer"
            ) from None
        if number < 1:
            raise LabelError(f"{source}: line {line}: voyage {number} must be >= 1")
        if number in seen:
            raise LabelError(
                f"{source}: line {line}: duplicate voyage {number} (first on line {seen[number]})"
            )
        ship = _canonical_ship(values["ship"])
        if ship is None:
            raise LabelError(
                f"{source}: line {line}: unknown ship {values['ship']!r}, "
                f"expected one of {', '.join(SHIP_NAMES)}"
            )
        try:
            date = dt.date.fromisoformat(values["rajin_date"])
        except ValueError:
            raise LabelError(
                f"{source}: line {line}: rajin_date {values['rajin_date']!r} is not a date "
                "YYYY-MM-DD"
            ) from None
        seen[number] = line
        out.append(Voyage(voyage=number, ship=ship, rajin_date=date))
    if not out:
        raise LabelError(f"{source}: the voyage log has a header but no voyages")
    return tuple(sorted(out))


def read_voyages(path: str | Path) -> tuple[Voyage, ...]:
    """Read and validate a voyage log file; see the module docstring for the format."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise LabelError(f"{p}: voyage log not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise LabelError(f"{p}: cannot read the voyage log ({e})") from None
    return parse_voyages(text, source=str(p))
