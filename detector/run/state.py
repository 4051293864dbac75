"""What a run folder records about itself: the lock, temporaries of a killed run, scenes that
left the imagery folder or now fail, and the history of runs in ``run.json``.

- **Lock**: ``OUT/.lock`` (an exclusive ``flock``) is held by ``ccount run``, ``reconcile``
  and ``report``: one command at a time writes a run folder.
- **Temporaries**: an atomic write (:mod:`detector._io`) goes through ``.<name>.<random>``
  beside its target; a run killed with SIGKILL leaves it behind. The next run removes those
  of its own outputs (per-scene files in ``OUT/detections``, the run files in ``OUT``).
- **Set aside**: the outputs of a scene that is gone (its file left the imagery folder) are
  *moved* to ``OUT/detections/.gone/``, those of a scene that was done and now fails (its
  file replaced by an unreadable one) to ``OUT/detections/.failed/`` (same names; a later
  move of the same scene replaces them; they are deleted once the scene is counted again).
  Nothing in ``OUT/detections`` then speaks for a scene that has no current counts, and the
  files stay at hand for an analyst.
- **History**: ``run.json`` holds the latest run's fields at the top level (``imagery_dir``,
  ``voyages``, ``model``, ``settings``...) and ``history``, every run in order: its time,
  inputs, model, settings and the number of scenes done, skipped, failed and gone.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from .._io import atomic_write_text, safe_name
from ..errors import ConfigError

__all__ = [
    "GONE_DIR",
    "FAILED_DIR",
    "RUN_FILES",
    "SCENE_OUTPUTS",
    "run_lock",
    "clean_partials",
    "set_aside",
    "drop_aside",
    "append_run_json",
]

log = logging.getLogger(__name__)

GONE_DIR = ".gone"
FAILED_DIR = ".failed"
#: a scene's output files in ``OUT/detections`` (``<scene>.<suffix>``)
SCENE_OUTPUTS = ("detections.geojson", "detections.gpkg", "counts.json")
#: the run files in ``OUT`` that are written atomically
RUN_FILES = ("shipments.csv", "totals.json", "detections.gpkg", "report.html", "run.json",
             "voyages.csv", "assumptions.json")  # fmt: skip


@contextlib.contextmanager
def run_lock(out_dir: str | Path, *, create: bool = True) -> Iterator[None]:
    """Hold ``OUT/.lock`` exclusively (raises :class:`ConfigError` when another command holds
    it); ``create=False`` refuses a folder that does not exist instead of making it."""
    out = Path(out_dir)
    if not create and not out.is_dir():
        raise ConfigError(f"{out}: run folder not found")
    try:
        out.mkdir(parents=True, exist_ok=True)
        fh = open(out / ".lock", "a")  # noqa: SIM115 (held for the whole block)
    except OSError as e:
        raise ConfigError(f"{out}: cannot use as a run folder ({e.strerror or e})") from None
    with fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConfigError(
                f"{out}: another ccount command (run, reconcile or report) is using this folder"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _is_temp_of(name: str, target: str) -> bool:
    """``.<target>.<random>[<suffix>]`` as :func:`detector._io.atomic_path` names it, and
    the SQLite/GDAL side files of such a temporary (``-journal``, ``-wal``, ``-shm``)."""
    return name.startswith(f".{target}.") and len(name) > len(target) + 2


def clean_partials(out_dir: str | Path, det_dir: str | Path) -> list[Path]:
    """Remove the temporaries a killed run left in ``det_dir`` (per-scene outputs) and
    ``out_dir`` (the run files); returns what was removed. The lock, the catalog and its
    WAL files and anything else are left alone."""
    removed = []
    det = Path(det_dir)
    if det.is_dir():
        for p in det.glob(".*"):
            if p.is_file() and (".counts." in p.name or ".detections." in p.name):
                p.unlink(missing_ok=True)
                removed.append(p)
    out = Path(out_dir)
    if out.is_dir():
        for p in out.glob(".*"):
            if p.is_file() and any(_is_temp_of(p.name, t) for t in RUN_FILES):
                p.unlink(missing_ok=True)
                removed.append(p)
    return removed


def set_aside(det_dir: str | Path, scene_id: str, folder: str) -> list[Path]:
    """Move ``<scene>.detections.geojson|.detections.gpkg|.counts.json`` from ``det_dir`` to
    ``det_dir/<folder>/`` (:data:`GONE_DIR` or :data:`FAILED_DIR`); returns the new paths."""
    det, name = Path(det_dir), safe_name(scene_id)
    moved = []
    for suffix in SCENE_OUTPUTS:
        src = det / f"{name}.{suffix}"
        if src.is_file():
            dst = det / folder / src.name
            dst.parent.mkdir(parents=True, exist_ok=True)
            src.replace(dst)
            moved.append(dst)
    return moved


def drop_aside(det_dir: str | Path, scene_id: str) -> None:
    """Remove the set-aside outputs of a scene that is counted again (its file is back or
    readable again): the aside folders hold only scenes that are gone or failed now."""
    det, name = Path(det_dir), safe_name(scene_id)
    for folder in (GONE_DIR, FAILED_DIR):
        for suffix in SCENE_OUTPUTS:
            (det / folder / f"{name}.{suffix}").unlink(missing_ok=True)


def _read_history(path: Path) -> list[dict[str, Any]]:
    """The runs recorded in an existing ``run.json`` (one written before the history was
    kept becomes its first entry); none when it is missing or unreadable."""
    if not path.is_file():
        return []
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        log.warning("%s: unreadable (%s); starting a new run history", path, e)
        return []
    if not isinstance(doc, dict):
        return []
    hist = doc.get("history")
    if isinstance(hist, list):
        return [h for h in hist if isinstance(h, dict)]
    return [{k: v for k, v in doc.items() if k != "history"}]


def append_run_json(out_dir: str | Path, entry: Mapping[str, Any]) -> dict[str, Any]:
    """Write ``OUT/run.json``: ``entry`` (this run) at the top level, and ``history`` = the
    runs recorded before plus this one. Returns the document."""
    path = Path(out_dir) / "run.json"
    history = [*_read_history(path), dict(entry)]
    doc = {**entry, "history": history}
    atomic_write_text(path, json.dumps(doc, indent=1) + "\n")
    return doc
