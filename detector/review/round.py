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
import math
import os
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from .._io import atomic_path, atomic_write_text
from ..errors import ReviewError

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

KINDS = ("20ft", "40ft")
REASONS = (
    "near_threshold",
    "below_peak",
    "flip_disagree",
    "kind_margin",
    "count_change",
    "spread",
    "random",
    "reviewer",
)
ACTIONS = ("accept", "reject", "kind", "move", "add", "delete", "complete", "reopen", "undo")
_CAND_STATUS = ("pending", "accepted", "rejected", "added")
_UNIT_STATUS = ("pending", "complete")
_SPLITS = ("train", "holdout")
_LAYER_FIELDS = {
    "candidates": ("cand_id", "unit_id", "scene", "kind", "score", "reason", "source", "status"),
    "regions": ("unit_id", "scene", "split", "status", "priority", "reason"),
}
_THREAD_LOCK = threading.RLock()


def utc_now() -> str:
    """The current time as an ISO 8601 UTC string (seconds)."""
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Candidate:
    """One box to review. ``corners``: 4 (x, y) points of the rotated box in the scene CRS.
    ``source``: "model" (a detection), "peak" (a below-threshold heatmap peak) or
    "reviewer" (added by hand; its ``score`` is 0)."""

    cand_id: int
    unit_id: int
    scene: str
    kind: str
    score: float
    reason: str
    source: str
    status: str
    corners: tuple[tuple[float, float], ...]

    def to_dict(self) -> dict:
        d = asdict(self)
        d["corners"] = [list(p) for p in self.corners]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Candidate:
        return cls(
            cand_id=int(d["cand_id"]),
            unit_id=int(d["unit_id"]),
            scene=str(d["scene"]),
            kind=str(d["kind"]),
            score=float(d["score"]),
            reason=str(d["reason"]),
            source=str(d["source"]),
            status=str(d["status"]),
            corners=tuple((float(x), float(y)) for x, y in d["corners"]),
        )

    @property
    def centre(self) -> tuple[float, float]:
        xs, ys = zip(*self.corners, strict=True)
        return (sum(xs) / 4.0, sum(ys) / 4.0)

    @property
    def is_container(self) -> bool:
        """What the review says: accepted or added (a pending box is not yet a decision)."""
        return self.status in ("accepted", "added")


@dataclass(frozen=True)
class Unit:
    """A review unit: a chip-sized square of one scene, reviewed exhaustively once complete.
    ``bounds``: (minx, miny, maxx, maxy) in the scene CRS; ``priority``: higher = more
    doubtful = reviewed earlier."""

    unit_id: int
    scene: str
    split: str
    status: str
    priority: float
    reason: str
    bounds: tuple[float, float, float, float]

    def to_dict(self) -> dict:
        d = asdict(self)
        d["bounds"] = list(self.bounds)
        return d

    def contains(self, x: float, y: float) -> bool:
        minx, miny, maxx, maxy = self.bounds
        return minx <= x <= maxx and miny <= y <= maxy


@dataclass(frozen=True)
class Chip:
    """The picture of one unit. ``window``: (col_off, row_off, width, height) in scene
    pixels; ``affine``: chip pixel -> scene CRS (6 numbers, rasterio order); ``size_px``:
    (width, height) of the PNG."""

    unit_id: int
    scene: str
    window: tuple[int, int, int, int]
    affine: tuple[float, float, float, float, float, float]
    gsd_m: float
    size_px: tuple[int, int]

    def to_dict(self) -> dict:
        return {
            "scene": self.scene,
            "window": list(self.window),
            "affine": list(self.affine),
            "gsd_m": self.gsd_m,
            "size_px": list(self.size_px),
        }

    @classmethod
    def from_dict(cls, unit_id: int, d: dict) -> Chip:
        return cls(
            unit_id=int(unit_id),
            scene=str(d["scene"]),
            window=tuple(int(v) for v in d["window"]),
            affine=tuple(float(v) for v in d["affine"]),
            gsd_m=float(d["gsd_m"]),
            size_px=tuple(int(v) for v in d["size_px"]),
        )


@dataclass(frozen=True)
class Manifest:
    """What the round was made from. ``scenes``: {scene_id: {"path", "crs", "gsd_m",
    "transform"}} (transform: scene pixel -> CRS, 6 numbers, rasterio order)."""

    model: str
    model_sha256: str
    threshold: float
    strategy: str
    seed: int
    budget: int
    holdout_share: float
    detect_dir: str
    scenes: dict = field(default_factory=dict)
    created: str = ""
    schema: int = 1

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Manifest:
        names = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in d.items() if k in names})


def _apply_affine(affine: Sequence[float], xy: np.ndarray) -> np.ndarray:
    a, b, c, d, e, f = affine
    return np.stack([a * xy[:, 0] + b * xy[:, 1] + c, d * xy[:, 0] + e * xy[:, 1] + f], axis=1)


def _invert_affine(affine: Sequence[float]) -> tuple[float, ...]:
    a, b, c, d, e, f = affine
    det = a * e - b * d
    if det == 0:
        raise ReviewError(f"chip affine {tuple(affine)} is singular")
    ia, ib, id_, ie = e / det, -b / det, -d / det, a / det
    return (ia, ib, -(ia * c + ib * f), id_, ie, -(id_ * c + ie * f))


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
        rnd._write_queue(0)
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
        cands, units, applied = self._read_queue()
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
        return _apply_affine(chip.affine, np.atleast_2d(np.asarray(xy, dtype=float)))

    def crs_to_chip(self, unit_id: int, xy) -> np.ndarray:
        """Scene CRS points ``[N, 2]`` (or one pair) -> chip pixel (col, row) ``[N, 2]``."""
        chip = self._chip(unit_id)
        inv = _invert_affine(chip.affine)
        return _apply_affine(inv, np.atleast_2d(np.asarray(xy, dtype=float)))

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
            entry, result = self._validate(action)
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
                    entry, result = self._validate(a)
                    self._replay(entry)
                    entries.append(entry)
                    results.append(result)
            except BaseException:
                self.candidates, self.units = before
                raise
            if entries:
                self._append_journal(*entries)
                self._write_queue(len(self.journal()))
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
                "seconds": _seconds(self.path, seconds),
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
        self._write_queue(len(self.journal()))
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

    def _validate(self, action: dict) -> tuple[dict, Candidate | Unit]:
        name = action.get("action")
        if name not in ACTIONS:
            raise ReviewError(f"{self.path}: unknown action {name!r}; expected one of {ACTIONS}")
        by = str(action.get("by", "browser"))
        seconds = _seconds(self.path, action.get("seconds"))
        cand = None
        if name in ("accept", "reject", "kind", "move", "delete"):
            cand = self._candidate(action.get("cand"))
        unit_ref = action.get("unit", cand.unit_id if cand is not None else None)
        unit = self._unit(unit_ref)
        if cand is not None and cand.unit_id != unit.unit_id:
            raise ReviewError(
                f"{self.path}: candidate {cand.cand_id} is in unit {cand.unit_id}, "
                f"not {unit.unit_id}"
            )
        entry = {"t": utc_now(), "unit": unit.unit_id, "action": name, "cand": None,
                 "before": None, "after": None, "by": by, "seconds": seconds}  # fmt: skip
        if name in ("complete", "reopen"):
            new = "complete" if name == "complete" else "pending"
            entry["unit_status"] = [unit.status, new]
            return entry, replace(unit, status=new)
        if name == "add":
            kind = self._kind(action.get("kind"))
            corners = self._corners(unit, action)
            new_id = max(self.candidates, default=-1) + 1
            new_id = max(new_id, self._max_journal_id() + 1)
            after = Candidate(new_id, unit.unit_id, unit.scene, kind, 0.0, "reviewer",
                              "reviewer", "added", corners)  # fmt: skip
            entry.update(cand=new_id, after=after.to_dict())
            return entry, after
        assert cand is not None
        entry.update(cand=cand.cand_id, before=cand.to_dict())
        decided = "added" if cand.source == "reviewer" else "accepted"
        if name == "delete":
            return entry, cand
        if name == "accept":
            after = replace(cand, status=decided)
        elif name == "reject":
            after = replace(cand, status="rejected")
        elif name == "kind":
            after = replace(cand, kind=self._kind(action.get("kind")), status=decided)
        else:  # move
            after = replace(cand, corners=self._corners(unit, action), status=decided)
        entry["after"] = after.to_dict()
        return entry, after

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

    def _kind(self, kind) -> str:
        if kind not in KINDS:
            raise ReviewError(f"{self.path}: bad kind {kind!r}; expected 20ft or 40ft")
        return kind

    def _corners(self, unit: Unit, action: dict) -> tuple[tuple[float, float], ...]:
        if action.get("corners") is not None:
            pts = action["corners"]
        elif action.get("chip_corners") is not None:
            pts = self.chip_to_crs(unit.unit_id, _points(self.path, action["chip_corners"]))
        else:
            raise ReviewError(f"{self.path}: {action.get('action')} needs 'corners'")
        pts = _points(self.path, pts)
        cx, cy = pts.mean(axis=0)
        if not unit.contains(cx, cy):
            raise ReviewError(
                f"{self.path}: box centre ({cx:.2f}, {cy:.2f}) is outside unit {unit.unit_id} "
                f"{unit.bounds}"
            )
        sides = np.hypot(*(np.roll(pts, -1, axis=0) - pts).T)
        if not (sides > 0).all():
            raise ReviewError(f"{self.path}: degenerate box {pts.tolist()}")
        return tuple((float(x), float(y)) for x, y in pts)

    # ---- the GeoPackage ----------------------------------------------------------------
    def _layer_crs(self) -> str | None:
        crss = {s.get("crs") for s in self.manifest.scenes.values()}
        return crss.pop() if len(crss) == 1 else None

    def _to_layer(self, scene: str, pts: np.ndarray, inverse: bool = False) -> np.ndarray:
        if self._layer_crs() is not None:
            return pts
        from pyproj import Transformer

        src = self.manifest.scenes[scene]["crs"]
        a, b = ("EPSG:4326", src) if inverse else (src, "EPSG:4326")
        t = Transformer.from_crs(a, b, always_xy=True)
        x, y = t.transform(pts[:, 0], pts[:, 1])
        return np.stack([x, y], axis=1)

    def _write_queue(self, applied: int) -> None:
        import shapely
        from pyogrio.raw import write as ogr_write

        crs = self._layer_crs() or "EPSG:4326"
        cands = [c for _, c in sorted(self.candidates.items())]
        units = [u for _, u in sorted(self.units.items())]
        rings = [self._to_layer(c.scene, np.asarray(c.corners)) for c in cands]
        unit_rings = []
        for u in units:
            x0, y0, x1, y1 = u.bounds
            sq = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=float)
            unit_rings.append(self._to_layer(u.scene, sq))
        layers = {
            "candidates": ([c.to_dict() for c in cands], rings),
            "regions": ([u.to_dict() for u in units], unit_rings),
        }
        try:
            with atomic_path(self.queue_path) as tmp:
                for layer, (rows, rr) in layers.items():
                    geoms = np.array(
                        [shapely.to_wkb(shapely.Polygon(r)) for r in rr], dtype=object
                    ).reshape(-1)
                    names = _LAYER_FIELDS[layer]
                    cols = [_column([row[k] for row in rows], k) for k in names]
                    ogr_write(
                        str(tmp), geometry=geoms, field_data=cols, fields=list(names),
                        layer=layer, driver="GPKG", crs=crs, geometry_type="Polygon",
                        dataset_metadata={"ccount_journal_applied": str(applied)},
                    )  # fmt: skip
        except Exception as e:
            if isinstance(e, ReviewError | OSError):
                raise
            raise ReviewError(f"{self.queue_path}: cannot write ({e})") from e

    def _read_queue(self) -> tuple[dict[int, Candidate], dict[int, Unit], int]:
        import pyogrio
        import shapely
        from pyogrio.raw import read as ogr_read

        try:
            info = pyogrio.read_info(self.queue_path, layer="regions")
            applied = int((info.get("dataset_metadata") or {}).get("ccount_journal_applied", 0))
            out = {}
            for layer in ("candidates", "regions"):
                meta, _, geoms, cols = ogr_read(self.queue_path, layer=layer)
                names = list(meta["fields"])
                rows = [dict(zip(names, vals, strict=True)) for vals in zip(*cols, strict=True)]
                if not names:
                    rows = [{} for _ in geoms]
                polys = [np.asarray(shapely.from_wkb(g).exterior.coords)[:4] for g in geoms]
                out[layer] = list(zip(rows, polys, strict=True))
        except Exception as e:
            raise ReviewError(f"{self.queue_path}: unreadable review queue ({e})") from e
        cands = {}
        for row, poly in out["candidates"]:
            d = {k: _py(v) for k, v in row.items()}
            d["corners"] = self._to_layer(d["scene"], poly, inverse=True).tolist()
            c = Candidate.from_dict(d)
            cands[c.cand_id] = c
        units = {}
        for row, poly in out["regions"]:
            d = {k: _py(v) for k, v in row.items()}
            sq = self._to_layer(d["scene"], poly, inverse=True)
            (x0, y0), (x1, y1) = sq.min(axis=0), sq.max(axis=0)
            u = Unit(int(d["unit_id"]), d["scene"], d["split"], d["status"],
                     float(d["priority"]), d["reason"], (x0, y0, x1, y1))  # fmt: skip
            units[u.unit_id] = u
        return cands, units, applied


def _check_unit(path: Path, u: Unit) -> None:
    if u.split not in _SPLITS or u.status not in _UNIT_STATUS:
        raise ReviewError(f"{path}: unit {u.unit_id} has split {u.split!r}, status {u.status!r}")


def _seconds(path: Path, v) -> float | None:
    if v is None:
        return None
    try:
        s = float(v)
    except (TypeError, ValueError):
        raise ReviewError(f"{path}: seconds must be a number, not {v!r}") from None
    if not math.isfinite(s) or s < 0:
        raise ReviewError(f"{path}: seconds must be >= 0, not {v!r}")
    return s


def _points(path: Path, pts) -> np.ndarray:
    try:
        arr = np.asarray(pts, dtype=float)
    except (TypeError, ValueError):
        raise ReviewError(f"{path}: corners must be 4 (x, y) points, not {pts!r}") from None
    if arr.shape != (4, 2) or not np.isfinite(arr).all():
        raise ReviewError(f"{path}: corners must be 4 finite (x, y) points, not {pts!r}")
    return arr


def _column(vals: list, name: str) -> np.ndarray:
    if name in ("cand_id", "unit_id"):
        return np.array(vals, dtype=np.int64)
    if name in ("score", "priority"):
        return np.array(vals, dtype=np.float64)
    return np.array([str(v) for v in vals], dtype=object)


def _py(v):
    return v.item() if isinstance(v, np.generic) else v
