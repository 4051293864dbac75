"""The review round folder: its data model, and the only code that reads or writes it.

A round folder holds ``manifest.json``, ``queue.gpkg`` (layers ``candidates`` and
``regions``), ``chips/<unit_id>.png`` with ``chips/chips.json``, and ``journal.jsonl``.
Every change goes through :meth:`Round.apply` (or :meth:`Round.undo`): under a lock file it
reloads the state, validates the action (a bad one raises :class:`ReviewError`), appends
the action to the journal and fsyncs it, then rewrites ``queue.gpkg`` atomically. The
GeoPackage records how many journal lines it holds; :meth:`Round.open` replays any journal
lines written after it (a process killed between the two writes loses nothing).

Frames: ``Candidate.corners`` and ``Unit.bounds`` are in the scene CRS (map units); a
chip's ``affine`` maps chip pixels (col, row) to the scene CRS (rasterio order
``a, b, c, d, e, f``: ``x = a*col + b*row + c``, ``y = d*col + e*row + f``).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from .._io import atomic_path, atomic_write_text
from ..errors import ReviewError
from .actions import ACTIONS, check_seconds, validate_action
from .queue_io import read_queue, write_queue
from .records import (
    KINDS,
    REASONS,
    Candidate,
    Chip,
    Manifest,
    Unit,
    apply_affine,
    invert_affine,
    utc_now,
)

__all__ = [
    "ACTIONS",
    "KINDS",
    "REASONS",
    "Candidate",
    "Chip",
    "Manifest",
    "Round",
    "Unit",
    "utc_now",
]

_CAND_STATUS = ("pending", "accepted", "rejected", "added")
_UNIT_STATUS = ("pending", "complete")
_SPLITS = ("train", "holdout")
_THREAD_LOCK = threading.RLock()


class Round:
    """An open review round. Attributes: ``path``, ``manifest``, ``candidates`` (dict
    cand_id -> :class:`Candidate`), ``units`` (dict unit_id -> :class:`Unit`), ``chips``
    (dict unit_id -> :class:`Chip`)."""

    def __init__(self, path, manifest, candidates, units, chips):
        self.path = Path(path)
        self.manifest: Manifest = manifest
        self.candidates: dict[int, Candidate] = candidates
        self.units: dict[int, Unit] = units
        self.chips: dict[int, Chip] = chips
        self._seen: tuple = ()  # _stamp() of the files the state in memory reflects

    # ---- files -------------------------------------------------------------------------
    @property
    def journal_path(self) -> Path:
        return self.path / "journal.jsonl"

    @property
    def queue_path(self) -> Path:
        return self.path / "queue.gpkg"

    def chip_png(self, unit_id: int) -> Path:
        """The PNG of unit ``unit_id`` (a path inside the round; the id must exist)."""
        if int(unit_id) not in self.chips:
            raise ReviewError(f"{self.path}: no chip for unit {unit_id!r}")
        return self.path / "chips" / f"{int(unit_id)}.png"

    @classmethod
    def create(
        cls,
        path,
        manifest: Manifest,
        candidates: Iterable[Candidate],
        units: Iterable[Unit],
        chips_with_images: Iterable[tuple[Chip, np.ndarray]],
    ) -> Round:
        """Write a new round folder (it must not hold a round yet) and return it open.
        ``chips_with_images``: (chip, RGB uint8 array [H, W, 3]) per unit."""
        from PIL import Image

        path = Path(path)
        if (path / "manifest.json").exists():
            raise ReviewError(f"{path}: already holds a review round; choose a new --out")
        units = {u.unit_id: u for u in units}
        cands = {}
        for c in candidates:
            if c.cand_id in cands:
                raise ReviewError(f"{path}: candidate id {c.cand_id} used twice")
            if c.unit_id not in units:
                raise ReviewError(f"{path}: candidate {c.cand_id} names unknown unit {c.unit_id}")
            cands[c.cand_id] = c
        for u in units.values():
            _check_unit(path, u)
        if not manifest.created:
            manifest = replace(manifest, created=utc_now())
        chips = {}
        (path / "chips").mkdir(parents=True, exist_ok=True)
        for chip, image in chips_with_images:
            if chip.unit_id not in units:
                raise ReviewError(f"{path}: chip for unknown unit {chip.unit_id}")
            img = np.asarray(image)
            if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
                raise ReviewError(f"{path}: chip {chip.unit_id} must be uint8 [H, W, 3]")
            with atomic_path(path / "chips" / f"{chip.unit_id}.png") as tmp:
                Image.fromarray(img).save(tmp, format="PNG")
            chips[chip.unit_id] = replace(chip, size_px=(img.shape[1], img.shape[0]))
        missing = sorted(set(units) - set(chips))
        if missing:
            raise ReviewError(f"{path}: no chip image for units {missing[:5]}")
        rnd = cls(path, manifest, cands, units, chips)
        atomic_write_text(
            path / "chips" / "chips.json",
            json.dumps({str(k): v.to_dict() for k, v in sorted(chips.items())}, indent=1),
        )
        write_queue(rnd.queue_path, manifest, cands, units, 0)
        atomic_write_text(rnd.journal_path, "")
        atomic_write_text(path / "manifest.json", json.dumps(manifest.to_dict(), indent=1))
        return rnd

    @classmethod
    def open(cls, path) -> Round:
        """Open the round at ``path``; journal lines newer than ``queue.gpkg`` are replayed."""
        path = Path(path)
        mpath = path / "manifest.json"
        if not mpath.is_file():
            raise ReviewError(f"{path}: not a review round (no manifest.json)")
        try:
            manifest = Manifest.from_dict(json.loads(mpath.read_text()))
            chips_raw = json.loads((path / "chips" / "chips.json").read_text())
        except (OSError, ValueError, TypeError, KeyError) as e:
            raise ReviewError(f"{path}: unreadable round files ({e})") from e
        chips = {int(k): Chip.from_dict(k, v) for k, v in chips_raw.items()}
        rnd = cls(path, manifest, {}, {}, chips)
        rnd._reload()
        return rnd

    def _reload(self) -> None:
        stamp = self._stamp()
        cands, units, applied = read_queue(self.queue_path, self.manifest)
        self.candidates, self.units = cands, units
        for entry in self.journal()[applied:]:
            self._replay(entry)
        self._seen = stamp

    def journal(self) -> list[dict]:
        """The journal's entries, oldest first (a torn last line is skipped)."""
        if not self.journal_path.exists():
            return []
        out = []
        for line in self.journal_path.read_text().splitlines():
            if not line.strip():
                continue
            try:
                out.append(json.loads(line))
            except ValueError:
                break
        return out

    # ---- geometry ----------------------------------------------------------------------
    def chip_to_crs(self, unit_id: int, xy) -> np.ndarray:
        """Chip pixel (col, row) points ``[N, 2]`` (or one pair) -> scene CRS ``[N, 2]``."""
        chip = self._chip(unit_id)
        return apply_affine(chip.affine, np.atleast_2d(np.asarray(xy, dtype=float)))

    def crs_to_chip(self, unit_id: int, xy) -> np.ndarray:
        """Scene CRS points ``[N, 2]`` (or one pair) -> chip pixel (col, row) ``[N, 2]``."""
        chip = self._chip(unit_id)
        inv = invert_affine(chip.affine)
        return apply_affine(inv, np.atleast_2d(np.asarray(xy, dtype=float)))

    def _chip(self, unit_id) -> Chip:
        try:
            return self.chips[int(unit_id)]
        except (KeyError, TypeError, ValueError):
            raise ReviewError(f"{self.path}: unknown unit {unit_id!r}") from None

    # ---- queries -----------------------------------------------------------------------
    def reviewed_units(self, split: str | None = None) -> list[Unit]:
        """Complete units (of ``split`` "train"|"holdout", or all), by unit id."""
        return [
            u
            for _, u in sorted(self.units.items())
            if u.status == "complete" and (split is None or u.split == split)
        ]

    def ordered_units(self) -> list[Unit]:
        """All units in review order: most doubtful (highest priority) first."""
        return sorted(self.units.values(), key=lambda u: (-u.priority, u.unit_id))

    def unit_candidates(self, unit_id: int) -> list[Candidate]:
        """The candidates of one unit, by id."""
        return [c for _, c in sorted(self.candidates.items()) if c.unit_id == int(unit_id)]

    # ---- changes -----------------------------------------------------------------------
    def apply(self, action: dict) -> Candidate | Unit:
        """Validate and record one action; returns the changed candidate or unit (for a
        "delete", the deleted candidate). Keys: "action"; "unit" (id; optional when "cand"
        is given); "cand" (id; for accept/reject/kind/move/delete); "kind" (for kind/add);
        "corners" (4 CRS points) or "chip_corners" (4 chip pixel points) for move/add;
        "by" (default "browser"); "seconds" (optional). "undo" is :meth:`undo`."""
        if not isinstance(action, dict):
            raise ReviewError(f"{self.path}: an action must be an object, not {action!r}")
        if action.get("action") == "undo":
            return self.undo(by=action.get("by", "browser"), seconds=action.get("seconds"))
        with self._locked():
            entry, result = validate_action(self, action)
            self._commit(entry)
            return result

    def apply_many(self, actions: Sequence[dict]) -> list[Candidate | Unit]:
        """:meth:`apply` of several actions in order under one lock, journalled with one
        fsync and one rewrite of the state (a reviewer's or an import's batch). If any
        action is bad, none is recorded (:class:`ReviewError`). No "undo" in a batch."""
        with self._locked():
            before = (dict(self.candidates), dict(self.units))
            entries, results = [], []
            try:
                for a in actions:
                    if not isinstance(a, dict) or a.get("action") == "undo":
                        raise ReviewError(f"{self.path}: a batch holds actions, not {a!r}")
                    entry, result = validate_action(self, a)
                    self._replay(entry)
                    entries.append(entry)
                    results.append(result)
            except BaseException:
                self.candidates, self.units = before
                raise
            if entries:
                self._append_journal(*entries)
                write_queue(
                    self.queue_path, self.manifest, self.candidates, self.units, len(self.journal())
                )
                self._seen = self._stamp()
            return results

    def undo(self, by: str = "browser", seconds: float | None = None) -> Candidate | Unit:
        """Revert the last action not yet undone; journalled as "undo" (with "undoes": the
        journal index of the reverted action). Nothing to undo -> :class:`ReviewError`."""
        with self._locked():
            entries = self.journal()
            stack: list[int] = []
            for i, e in enumerate(entries):
                if e.get("action") == "undo":
                    if stack:
                        stack.pop()
                else:
                    stack.append(i)
            if not stack:
                raise ReviewError(f"{self.path}: nothing to undo")
            idx = stack[-1]
            last = entries[idx]
            entry = {
                "t": utc_now(),
                "unit": last.get("unit"),
                "action": "undo",
                "cand": last.get("cand"),
                "before": last.get("after"),
                "after": last.get("before"),
                "by": str(by),
                "seconds": check_seconds(self.path, seconds),
                "undoes": idx,
            }
            if "unit_status" in last:
                entry["unit_status"] = list(reversed(last["unit_status"]))
            result = self._commit(entry)
            return result

    # ---- internals ---------------------------------------------------------------------
    def _stamp(self) -> tuple:
        """What changes when another writer changes the round (journal and queue files)."""
        try:
            j, q = os.stat(self.journal_path), os.stat(self.queue_path)
        except OSError:
            return ()
        return (j.st_size, j.st_mtime_ns, q.st_ino, q.st_mtime_ns, q.st_size)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with _THREAD_LOCK, open(self.path / ".lock", "a+") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                if not self._seen or self._stamp() != self._seen:
                    self._reload()
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    def _commit(self, entry: dict) -> Candidate | Unit:
        self._append_journal(entry)
        result = self._replay(entry)
        write_queue(
            self.queue_path, self.manifest, self.candidates, self.units, len(self.journal())
        )
        self._seen = self._stamp()
        return result

    def _append_journal(self, *entries: dict) -> None:
        line = "".join(json.dumps(e, separators=(",", ":")) + "\n" for e in entries)
        line = line.encode("utf-8")
        fd = os.open(self.journal_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            size = os.lseek(fd, 0, os.SEEK_END)
            if size:  # drop a torn last line left by a killed writer
                os.lseek(fd, size - 1, os.SEEK_SET)
                if os.read(fd, 1) != b"\n":
                    data = self.journal_path.read_bytes()
                    os.ftruncate(fd, data.rfind(b"\n") + 1)
            os.lseek(fd, 0, os.SEEK_END)
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)

    def _replay(self, entry: dict) -> Candidate | Unit:
        """Set the state an entry leads to (its "after"); returns what changed."""
        unit_id = int(entry["unit"])
        if "unit_status" in entry:
            unit = replace(self.units[unit_id], status=entry["unit_status"][1])
            self.units[unit_id] = unit
            return unit
        cand_id = int(entry["cand"])
        if entry.get("after") is None:
            return self.candidates.pop(cand_id, None) or Candidate.from_dict(entry["before"])
        cand = Candidate.from_dict(entry["after"])
        self.candidates[cand_id] = cand
        return cand

    def _max_journal_id(self) -> int:
        ids = [int(e["cand"]) for e in self.journal() if e.get("cand") is not None]
        return max(ids, default=-1)

    def _candidate(self, ref) -> Candidate:
        try:
            return self.candidates[int(ref)]
        except (KeyError, TypeError, ValueError):
            raise ReviewError(f"{self.path}: unknown candidate {ref!r}") from None

    def _unit(self, ref) -> Unit:
        try:
            return self.units[int(ref)]
        except (KeyError, TypeError, ValueError):
            raise ReviewError(f"{self.path}: unknown unit {ref!r}") from None


def _check_unit(path: Path, u: Unit) -> None:
    if u.split not in _SPLITS or u.status not in _UNIT_STATUS:
        raise ReviewError(f"{path}: unit {u.unit_id} has split {u.split!r}, status {u.status!r}")
