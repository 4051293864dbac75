"""Run catalog: rows, resume decisions, signatures, WAL, one row per scene."""

from __future__ import annotations

import sqlite3

import pytest

from detector.catalog import Catalog, file_signature, settings_hash
from detector.errors import ConfigError


def _done(cat, sid="s1", sig="sig", sh="set", mh="mod", counts=None):
    cat.mark_done(sid, path=f"/x/{sid}.tif", file_sig=sig, size=10, settings_hash=sh,
                  model_hash=mh, counts=counts or {"scene": sid, "totals": {"visible": 3}})  # fmt: skip


def test_done_row_round_trips_and_decides_resume(tmp_path):
    with Catalog(tmp_path / "c.sqlite") as cat:
        assert cat.get("s1") is None
        _done(cat)
        rec = cat.get("s1")
        assert rec.status == "done" and rec.counts == {"scene": "s1", "totals": {"visible": 3}}
        assert rec.attempts == 1 and rec.error is None
        assert rec.is_current(file_sig="sig", settings_hash="set", model_hash="mod")
        assert not rec.is_current(file_sig="sig", settings_hash="other", model_hash="mod")
        assert not rec.is_current(file_sig="sig", settings_hash="set", model_hash="new")
        assert not rec.is_current(file_sig="changed", settings_hash="set", model_hash="mod")


def test_reprocessing_replaces_the_row_never_duplicates(tmp_path):
    path = tmp_path / "c.sqlite"
    with Catalog(path) as cat:
        _done(cat)
        cat.mark_failed("s1", path="/x/s1.tif", file_sig="sig", size=10, settings_hash="set",
                        model_hash="mod", error="boom\non two lines")  # fmt: skip
        _done(cat, "s2")
    with Catalog(path) as cat:  # reopened: persisted
        recs = cat.records()
        assert [r.id for r in recs] == ["s1", "s2"]
        assert recs[0].status == "failed" and recs[0].error == "boom on two lines"
        assert recs[0].counts is None and recs[0].attempts == 2
        assert not recs[0].is_current(file_sig="sig", settings_hash="set", model_hash="mod")
        assert [r.id for r in cat.records("done")] == ["s2"]
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("SELECT COUNT(*) FROM scenes").fetchone()[0] == 2


def test_file_signature_sees_content_not_mtime(tmp_path):
    import os

    small = tmp_path / "a.bin"
    small.write_bytes(b"x" * 1000)
    s1 = file_signature(small)
    os.utime(small, (1, 1))
    assert file_signature(small) == s1
    small.write_bytes(b"x" * 999 + b"y")
    assert file_signature(small) != s1
    big = tmp_path / "big.bin"
    data = bytearray(5 * 2**20)
    big.write_bytes(data)
    b1 = file_signature(big)
    data[-1] = 1  # last MiB
    big.write_bytes(data)
    b2 = file_signature(big)
    data[0] = 1  # header
    big.write_bytes(data)
    assert len({b1, b2, file_signature(big)}) == 3
    assert b1.startswith("quick-sha256:")


def test_settings_hash_is_order_independent():
    assert settings_hash({"a": 1, "b": [1, 2]}) == settings_hash({"b": [1, 2], "a": 1})
    assert settings_hash({"a": 1}) != settings_hash({"a": 2})


def test_not_a_database_is_a_config_error(tmp_path):
    p = tmp_path / "c.sqlite"
    p.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(ConfigError, match="not a usable run catalog"):
        Catalog(p)
