"""Files of a reconciliation: ``shipments.csv``, ``totals.json``, ``detections.gpkg``; and the
counts documents it reads. Every output is written atomically (:mod:`detector._io`).

``shipments.csv`` columns (one row per voyage of the log, by voyage number): ``voyage``,
``ship``, ``rajin_date`` (YYYY-MM-DD), ``containers_est``, ``containers_low``,
``containers_high`` (nominal 90 % interval), ``teu_est`` (integers, rounded), ``n_scenes``
(scenes whose evidence entered the estimate), ``imputed`` (``true`` when no usable imagery:
estimated from the ship's other voyages), ``evidence`` (those scene ids, ``;``-separated),
``note`` (``imagery failed: <scene ids>`` when the voyage is imputed because scenes that
would have matched it failed; else empty).

A run folder's failed and gone scenes (catalog rows, :func:`run_uncounted`) are passed to
the reconciliation so that ``totals.json`` and the report list them.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .._io import atomic_write_text
from ..errors import CountError, LabelError
from ..reconcile.core import Reconciliation, UncountedScene

__all__ = [
    "SHIPMENT_COLUMNS",
    "shipments_rows",
    "shipments_csv",
    "write_outputs",
    "read_counts_dir",
    "merge_detections",
    "detections_dir",
    "run_counts",
    "run_inputs",
    "run_uncounted",
    "uncounted_scene",
]

DETECTIONS_DIR = "detections"
CATALOG_NAME = "ccount.sqlite"

SHIPMENT_COLUMNS = (
    "voyage", "ship", "rajin_date", "containers_est", "containers_low", "containers_high",
    "teu_est", "n_scenes", "imputed", "evidence", "note",
)  # fmt: skip


def shipments_rows(result: Reconciliation) -> list[dict[str, Any]]:
    rows = []
    for s in result.shipments:
        lo, hi = s.interval
        rows.append(
            {
                "voyage": s.voyage.voyage,
                "ship": s.voyage.ship,
                "rajin_date": s.voyage.rajin_date.isoformat(),
                "containers_est": round(s.containers_est),
                "containers_low": round(lo),
                "containers_high": round(hi),
                "teu_est": round(s.teu.value),
                "n_scenes": len(s.evidence),
                "imputed": "true" if s.imputed else "false",
                "evidence": ";".join(s.evidence),
                "note": s.note,
            }
        )
    return rows


def shipments_csv(result: Reconciliation) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=SHIPMENT_COLUMNS, lineterminator="\n")
    w.writeheader()
    w.writerows(shipments_rows(result))
    return buf.getvalue()


def write_outputs(
    out_dir: str | Path, result: Reconciliation, totals: dict[str, Any]
) -> dict[str, Path]:
    """Write ``shipments.csv`` and ``totals.json`` into ``out_dir``; returns their paths."""
    out = Path(out_dir)
    paths = {"shipments": out / "shipments.csv", "totals": out / "totals.json"}
    atomic_write_text(paths["shipments"], shipments_csv(result))
    atomic_write_text(paths["totals"], json.dumps(totals, indent=2, sort_keys=False) + "\n")
    return paths


def read_counts_dir(directory: str | Path) -> list[dict[str, Any]]:
    """All ``*.counts.json`` documents in ``directory`` (not recursive), by file name."""
    d = Path(directory)
    if not d.is_dir():
        raise LabelError(f"{d}: not a directory of counts files")
    out = []
    for p in sorted(d.glob("*.counts.json")):
        if p.name.startswith("."):
            continue
        try:
            out.append(json.loads(p.read_text(encoding="utf-8")))
        except (OSError, ValueError) as e:
            raise LabelError(f"{p}: not a readable counts file ({e})") from None
    return out


def merge_detections(paths: Sequence[str | Path], out_path: str | Path) -> int:
    """Merge the container features of several ``<scene>.detections.geojson`` files into one
    GeoPackage layer ``detections`` (EPSG:4326), each feature tagged with its ``scene``,
    ``port`` and ``acquired`` (ship hulls are left out). Returns the number of features."""
    from ..labels.io import read_geojson, write_gpkg

    containers: list[dict] = []
    for p in sorted(Path(x) for x in paths):
        feats, props = read_geojson(p)
        scene = props.get("scene") or p.name.split(".")[0]
        extra = {"scene": scene, "port": props.get("port"), "acquired": props.get("acquired")}
        for f in feats:
            fp = f.get("properties") or {}
            if fp.get("type", "container") != "container":
                continue
            containers.append({**f, "properties": {**fp, **extra}})
    write_gpkg(out_path, containers, layer="detections")
    return len(containers)


def detections_dir(run_dir: str | Path) -> Path:
    """Where a run folder keeps per-scene outputs: ``RUN_DIR/detections`` (or ``RUN_DIR``
    itself for a plain ``ccount detect --out`` folder)."""
    d = Path(run_dir)
    return d / DETECTIONS_DIR if (d / DETECTIONS_DIR).is_dir() else d


def run_counts(run_dir: str | Path) -> list[dict[str, Any]]:
    """Counts of a run's finished scenes: the counts files whose catalog row is ``done``
    (all counts files when the folder has no catalog, e.g. a ``ccount detect`` output)."""
    from ..catalog import Catalog

    d = Path(run_dir)
    counts = read_counts_dir(detections_dir(d))
    if (d / CATALOG_NAME).is_file():
        with Catalog(d / CATALOG_NAME) as cat:
            ok = {r.id for r in cat.records("done")}
        counts = [c for c in counts if c.get("scene") in ok]
    return counts


def run_inputs(run_dir: str | Path) -> tuple[list[dict[str, Any]], tuple, Any]:
    """(counts, voyages, assumptions) of a run folder, from the copies ``ccount run`` saved
    (``voyages.csv``, ``assumptions.json``; the default assumptions when that is missing)."""
    from ..errors import ConfigError
    from ..labels.voyages import read_voyages
    from ..reconcile.munitions import load_assumptions, read_saved_assumptions

    d = Path(run_dir)
    if not d.is_dir():
        raise ConfigError(f"{d}: run folder not found")
    if not (d / "voyages.csv").is_file():
        raise ConfigError(
            f"{d}: no voyages.csv in the run folder; run `ccount reconcile {d} --voyages CSV`"
        )
    saved = d / "assumptions.json"
    assumptions = read_saved_assumptions(saved) if saved.is_file() else load_assumptions()
    return run_counts(d), read_voyages(d / "voyages.csv"), assumptions


def uncounted_scene(
    scene_id: str, path: str, state: str, error: str, counts: dict[str, Any] | None = None
) -> UncountedScene:
    """An :class:`UncountedScene` with the port and acquisition time as far as they are
    known: from the scene's last counts (a gone scene that was done), else from the file
    name (``rajin_20250115T0224Z.tif``: port before the first ``_``, time as
    :func:`detector.imagery.meta.time_from_name` reads it), else from the header when the
    file is still there and readable (its tags and footprint)."""
    import datetime as dt

    from ..imagery.aoi import PORTS
    from ..imagery.meta import time_from_name

    port: str | None = None
    acquired: dt.datetime | None = None
    if counts:
        port = counts.get("port")
        with_z = str(counts.get("acquired") or "").replace("Z", "+00:00")
        try:
            acquired = dt.datetime.fromisoformat(with_z) if with_z else None
        except ValueError:
            acquired = None
    name = Path(path).name or scene_id
    head = name.split("_")[0].lower()
    port = port or (head if head in PORTS else None)
    acquired = acquired or time_from_name(name)
    if (port is None or acquired is None) and Path(path).is_file():
        try:
            from ..imagery.raster import open_scene

            sc = open_scene(path)
            port, acquired = port or sc.port, acquired or sc.acquired
        except (CountError, OSError, ValueError):  # unreadable: the name is all there is
            pass
    return UncountedScene(scene_id, str(path), state, error, port, acquired)


def run_uncounted(run_dir: str | Path) -> list[UncountedScene]:
    """The failed and gone scenes of a run folder (catalog rows), by scene id; none for a
    folder without a catalog."""
    from ..catalog import Catalog

    d = Path(run_dir)
    if not (d / CATALOG_NAME).is_file():
        return []
    with Catalog(d / CATALOG_NAME) as cat:
        rows = [r for r in cat.records() if r.status in ("failed", "gone")]
    return [uncounted_scene(r.id, r.path, r.status, r.error or "", r.counts) for r in rows]
