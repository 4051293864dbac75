"""Plain-text shipments table for the terminal (``ccount run``, ``reconcile``, ``demo``)."""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping
from pathlib import Path

__all__ = ["shipments_table", "print_shipments"]


def shipments_table(
    shipments_csv: str | Path, totals_json: str | Path | None = None,
    truth: Mapping[int, int] | None = None,
) -> str:  # fmt: skip
    """The shipments as aligned text columns (plus a ``true`` column when ``truth`` maps
    voyage numbers to true loads) and a totals line."""
    with open(shipments_csv, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    head = ["voyage", "ship", "rajin_date", "containers", "90% interval", "TEU", "scenes", "note"]
    if truth is not None:
        head.insert(5, "true")
    lines = []
    for r in rows:
        cells = [r["voyage"], r["ship"], r["rajin_date"], r["containers_est"],
                 f"{r['containers_low']}-{r['containers_high']}", r["teu_est"], r["n_scenes"],
                 _note(r)]  # fmt: skip
        if truth is not None:
            cells.insert(5, str(truth.get(int(r["voyage"]), "?")))
        lines.append(cells)
    widths = [max(len(str(x)) for x in col) for col in zip(head, *lines, strict=True)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    out = [fmt.format(*head), fmt.format(*("-" * w for w in widths))]
    out += [fmt.format(*c) for c in lines]
    if totals_json is not None and Path(totals_json).is_file():
        t = json.loads(Path(totals_json).read_text())
        c, r = t["containers"], t["rounds"]
        v = t["voyages"]
        out.append(
            f"total: {c['est']:,.0f} containers (90% {c['low']:,.0f}-{c['high']:,.0f}), "
            f"TEU {t['teu']['est']:,.0f}; {v['observed']} voyages observed, {v['imputed']} "
            f"imputed; {r['low'] / 1e6:.2f}-{r['high'] / 1e6:.2f} M rounds"
        )
        if t["scenes"]["unmatched"]:
            out.append(f"unmatched scenes: {len(t['scenes']['unmatched'])} (see totals.json)")
        lost = t["scenes"].get("not_counted") or []
        if lost:
            n_failed = sum(u["state"] == "failed" for u in lost)
            out.append(f"scenes not counted: {n_failed} failed, {len(lost) - n_failed} gone "
                       "(see totals.json)")  # fmt: skip
    return "\n".join(out)


def _note(row: Mapping[str, str]) -> str:
    """``imagery failed`` (a failed scene would have matched), ``imputed`` or empty."""
    if (row.get("note") or "").startswith("imagery failed"):
        return "imagery failed"
    return "imputed" if row["imputed"] == "true" else ""


def print_shipments(shipments_csv, totals_json=None, truth=None) -> None:
    print(shipments_table(shipments_csv, totals_json, truth))
