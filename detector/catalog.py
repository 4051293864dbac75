"""The run catalog: ``RUN_DIR/ccount.sqlite``, what a batch run has done to which scene.

Table ``scenes`` (one row per scene id, so a scene is never listed twice):

- ``id`` scene id (file stem), ``path`` absolute path when last processed;
- ``file_sig`` a quick content signature (see :func:`file_signature`), ``size`` bytes;
- ``status`` ``done`` | ``failed`` | ``gone``, ``error`` one-line message when failed or
  gone. A ``gone`` row is a scene whose file left the imagery folder: the row is kept for
  history (with its last counts) but no output uses it; it comes back when the file does;
- ``settings_hash``, ``model_hash`` what produced the row (see :func:`settings_hash`);
- ``counts_json`` the scene's counts (the same JSON as ``<scene>.counts.json``);
- ``started_at``, ``finished_at`` ISO UTC timestamps, ``attempts`` how often it ran.

Table ``meta`` holds the schema version (2; a version-1 catalog, which knew no ``gone``, is
upgraded in place when opened). The database runs in WAL mode; each scene's result
is committed in one transaction, and the caller commits only AFTER the scene's output files
are atomically in place, so a run killed at any instant leaves either a finished scene (files
and row) or one that the next run redoes; never a row without its files.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ConfigError

__all__ = [
    "CATALOG_NAME",
    "STATUSES",
    "SceneRecord",
    "Catalog",
    "file_signature",
    "settings_hash",
]

CATALOG_NAME = "ccount.sqlite"
SCHEMA_VERSION = 2
STATUSES = ("done", "failed", "gone")
_MIB = 1 << 20

_SCENES_TABLE = """
CREATE TABLE IF NOT EXISTS scenes (
    id TEXT PRIMARY KEY,
    path TEXT NOT NULL,
    file_sig TEXT NOT NULL,
    size INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('done', 'failed', 'gone')),
    error TEXT,
    settings_hash TEXT NOT NULL,
    model_hash TEXT NOT NULL,
    counts_json TEXT,
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 1
)"""
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);\n"
    + _SCENES_TABLE
    + ";\n"
)


def file_signature(path: str | Path) -> str:
    """A quick content signature of a scene file: ``sha256`` over its size and its first and
    last MiB (the whole file when it is at most 2 MiB).

    Hashing a multi-gigabyte scene in full would cost as much as reading it; the head holds
    the TIFF header, tags and tile offsets and the tail the last tiles, so a rewritten,
    re-exported or truncated file changes the signature. The modification time is left out on
    purpose: copying the imagery folder must not re-process it. A same-size edit confined to
    the middle of a file would go unnoticed (delete its catalog row or use a new RUN_DIR).
    """
    p = Path(path)
    h = hashlib.sha256()
    size = p.stat().st_size
    h.update(str(size).encode())
    with open(p, "rb") as fh:
        if size <= 2 * _MIB:
            h.update(fh.read())
        else:
            h.update(fh.read(_MIB))
            fh.seek(size - _MIB)
            h.update(fh.read(_MIB))
    return f"quick-sha256:{h.hexdigest()}"


def settings_hash(settings: Mapping[str, Any]) -> str:
    """sha256 (first 16 hex digits) of the canonical JSON of the output-affecting settings."""
    blob = json.dumps(settings, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class SceneRecord:
    id: str
    path: str
    file_sig: str
    size: int
    status: str
    error: str | None
    settings_hash: str
    model_hash: str
    counts: dict[str, Any] | None
    started_at: str
    finished_at: str
    attempts: int

    def is_current(self, *, file_sig: str, settings_hash: str, model_hash: str) -> bool:
        """Done with this file content, settings and model: nothing to redo."""
        return (
            self.status == "done"
            and self.file_sig == file_sig
            and self.settings_hash == settings_hash
            and self.model_hash == model_hash
        )


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Catalog:
    """An open catalog; use as a context manager (``with Catalog(path) as cat:``)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            row = self._db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
            if row is None:
                self._db.execute(
                    "INSERT INTO meta(key, value) VALUES ('schema', ?)", (str(SCHEMA_VERSION),)
                )
            elif int(row[0]) == 1:
                self._upgrade_v1()
            elif int(row[0]) != SCHEMA_VERSION:
                raise ConfigError(
                    f"{self.path}: catalog schema {row[0]}, this ccount writes "
                    f"{SCHEMA_VERSION}; use a new --out folder"
                )
        except sqlite3.DatabaseError as e:
            raise ConfigError(f"{self.path}: not a usable run catalog ({e})") from None

    def _upgrade_v1(self) -> None:
        """Schema 1 to 2: the same rows, in a table whose status may also be ``gone``
        (SQLite cannot change a CHECK constraint in place)."""
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("ALTER TABLE scenes RENAME TO scenes_v1")
            self._db.execute(_SCENES_TABLE)
            self._db.execute("INSERT INTO scenes SELECT * FROM scenes_v1")
            self._db.execute("DROP TABLE scenes_v1")
            self._db.execute(
                "UPDATE meta SET value = ? WHERE key = 'schema'", (str(SCHEMA_VERSION),)
            )

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    @staticmethod
    def _record(row: tuple) -> SceneRecord:
        (id_, path, sig, size, status, error, sh, mh, cj, t0, t1, attempts) = row
        counts = json.loads(cj) if cj else None
        return SceneRecord(id_, path, sig, size, status, error, sh, mh, counts, t0, t1, attempts)

    _COLS = (
        "id, path, file_sig, size, status, error, settings_hash, model_hash, counts_json, "
        "started_at, finished_at, attempts"
    )

    def get(self, scene_id: str) -> SceneRecord | None:
        row = self._db.execute(
            f"SELECT {self._COLS} FROM scenes WHERE id = ?", (scene_id,)
        ).fetchone()
        return self._record(row) if row else None

    def records(self, status: str | None = None) -> list[SceneRecord]:
        """All rows (or those with ``status``), ordered by scene id."""
        q = f"SELECT {self._COLS} FROM scenes"
        args: tuple = ()
        if status is not None:
            q += " WHERE status = ?"
            args = (status,)
        return [self._record(r) for r in self._db.execute(q + " ORDER BY id", args)]

    def _upsert(
        self,
        *,
        scene_id: str,
        path: str | Path,
        file_sig: str,
        size: int,
        status: str,
        error: str | None,
        settings_hash: str,
        model_hash: str,
        counts: Mapping[str, Any] | None,
        started_at: str,
    ) -> None:
        cj = json.dumps(counts, sort_keys=True) if counts is not None else None
        with self._db:  # one transaction
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute(
                """INSERT INTO scenes (id, path, file_sig, size, status, error, settings_hash,
                       model_hash, counts_json, started_at, finished_at, attempts)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)
                   ON CONFLICT(id) DO UPDATE SET path=excluded.path, file_sig=excluded.file_sig,
                       size=excluded.size, status=excluded.status, error=excluded.error,
                       settings_hash=excluded.settings_hash, model_hash=excluded.model_hash,
                       counts_json=excluded.counts_json, started_at=excluded.started_at,
                       finished_at=excluded.finished_at, attempts=scenes.attempts + 1""",
                (scene_id, str(os.fspath(path)), file_sig, int(size), status, error,
                 settings_hash, model_hash, cj, started_at, _now()),
            )  # fmt: skip

    def mark_done(
        self,
        scene_id: str,
        *,
        path: str | Path,
        file_sig: str,
        size: int,
        settings_hash: str,
        model_hash: str,
        counts: Mapping[str, Any],
        started_at: str | None = None,
    ) -> None:
        """Record a finished scene. Call only once its output files are in place."""
        self._upsert(
            scene_id=scene_id, path=path, file_sig=file_sig, size=size, status="done",
            error=None, settings_hash=settings_hash, model_hash=model_hash, counts=counts,
            started_at=started_at or _now(),
        )  # fmt: skip

    def mark_failed(
        self,
        scene_id: str,
        *,
        path: str | Path,
        file_sig: str,
        size: int,
        settings_hash: str,
        model_hash: str,
        error: str,
        started_at: str | None = None,
    ) -> None:
        """Record a scene that failed, with a one-line ``error``; the next run retries it."""
        self._upsert(
            scene_id=scene_id, path=path, file_sig=file_sig, size=size, status="failed",
            error=" ".join(str(error).split()), settings_hash=settings_hash,
            model_hash=model_hash, counts=None, started_at=started_at or _now(),
        )  # fmt: skip

    def mark_gone(self, scene_id: str, *, reason: str) -> None:
        """Mark a scene whose file is no longer in the imagery folder; the row (path,
        signature, last counts) stays for history, ``error`` says why it is gone."""
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute(
                "UPDATE scenes SET status = 'gone', error = ?, finished_at = ? WHERE id = ?",
                (" ".join(str(reason).split()), _now(), scene_id),
            )

    def forget(self, scene_id: str) -> None:
        with self._db:
            self._db.execute("DELETE FROM scenes WHERE id = ?", (scene_id,))

    @staticmethod
    def now() -> str:
        """The timestamp format the catalog stores (ISO UTC)."""
        return _now()
