"""A run folder tells the truth about scenes that are gone or now fail (issue 19, cases 1-2),
cleans the temporaries of a killed run, lists broken links, exits 2 on partial failure,
and ``reconcile``/``report`` take the run lock and refuse a folder without scenes.

Two rendered Rajin Pier 2 scenes with the shipped model: A (Angara loaded, the day before
voyage 1) and B (Maria loaded, the day before voyage 2), so each voyage has deck evidence.
"""

from __future__ import annotations

import csv
import datetime as dt
import fcntl
import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from detector.cli.main import main

A, B = "rajin_20230902T0212Z", "rajin_20230910T0212Z"
SUFFIXES = ("counts.json", "detections.geojson", "detections.gpkg")


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """``src/img`` (scenes A and B), ``src/voyages.csv`` and ``src/out``, a finished run."""
    from conftest import pier2_spec

    from detector.synth.export import write_scene
    from detector.synth.scene import ShipVisit, render_scene

    src = tmp_path_factory.mktemp("state")
    write_scene(render_scene(pier2_spec()), src / "img")
    spec_b = pier2_spec(acquired=dt.datetime(2023, 9, 10, 2, 12, tzinfo=dt.UTC), seed=6,
                        ships=(ShipVisit("Maria", "Pier 2 east berth", 120),))  # fmt: skip
    write_scene(render_scene(spec_b), src / "img")
    assert sorted(p.stem for p in (src / "img").glob("*.tif")) == [A, B]
    (src / "voyages.csv").write_text("voyage,ship,rajin_date\n1,Angara,2023-09-03\n"
                                     "2,Maria,2023-09-11\n")  # fmt: skip
    assert main(["run", *_args(src / "img", src / "voyages.csv", src / "out")]) == 0
    rows = _shipments(src / "out")
    assert [r["evidence"] for r in rows] == [A, B]  # both voyages observed
    return src


@pytest.fixture
def folder(base, tmp_path):
    """A copy of the finished run: (imagery folder, voyage log, run folder)."""
    shutil.copytree(base / "img", tmp_path / "img")
    shutil.copytree(base / "out", tmp_path / "out")
    return tmp_path / "img", base / "voyages.csv", tmp_path / "out"


def _args(img, voyages, out):
    return [str(img), "--voyages", str(voyages), "--out", str(out), "--device", "cpu",
            "--threads", "2", "--no-progress"]  # fmt: skip


def _shipments(out: Path) -> list[dict]:
    with open(out / "shipments.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def _status(out: Path) -> dict[str, str]:
    db = sqlite3.connect(out / "ccount.sqlite")
    try:
        return dict(db.execute("SELECT id, status FROM scenes"))
    finally:
        db.close()


def _gpkg_scenes(path: Path) -> set[str]:
    from pyogrio.raw import read

    meta, _, _, cols = read(path, layer="detections", columns=["scene"], read_geometry=False)
    return set(cols[list(meta["fields"]).index("scene")])


def test_removed_scene_is_gone_and_rerun_equals_fresh_run(folder, base, tmp_path, capsys):
    img, voyages, out = folder
    first = (out / "shipments.csv").read_text()
    (img / f"{A}.tif").unlink()
    assert main(["run", *_args(img, voyages, out)]) == 0
    text = capsys.readouterr().out
    assert "scenes: 0 processed, 1 skipped (already done), 0 failed" in text
    assert "gone: 1 (" in text and f"  gone {A}: " in text
    # the same shipments as a fresh run on what is left
    fresh = tmp_path / "fresh"
    assert main(["run", *_args(img, voyages, fresh)]) == 0
    capsys.readouterr()
    assert (out / "shipments.csv").read_text() == (fresh / "shipments.csv").read_text()
    rows = _shipments(out)
    assert (rows[0]["imputed"], rows[0]["evidence"], rows[0]["note"]) == ("true", "", "")
    assert rows[1]["evidence"] == B
    # the row is kept for history; its outputs are set aside, out of every output
    assert _status(out) == {A: "gone", B: "done"}
    det = out / "detections"
    assert not list(det.glob(f"{A}.*"))
    assert sorted(p.name for p in (det / ".gone").iterdir()) == [f"{A}.{s}" for s in SUFFIXES]
    assert _gpkg_scenes(out / "detections.gpkg") == {B}
    t = json.loads((out / "totals.json").read_text())
    assert t["scenes"]["used"] == [B]
    (lost,) = t["scenes"]["not_counted"]
    assert lost["scene"] == A and lost["state"] == "gone" and lost["voyages"] == [1]
    assert lost["file"] == str((base / "img" / f"{A}.tif").resolve())
    assert "no longer in the imagery folder" in lost["error"]
    # run.json: the latest run at the top level, both runs in the history
    rj = json.loads((out / "run.json").read_text())
    assert rj["imagery_dir"] == str(img.resolve())
    assert [h["imagery_dir"] for h in rj["history"]] == [str((base / "img").resolve()),
                                                         str(img.resolve())]  # fmt: skip
    assert [h["scenes"] for h in rj["history"]] == [
        {"done": 2, "skipped": 0, "failed": 0, "gone": 0},
        {"done": 0, "skipped": 1, "failed": 0, "gone": 1},
    ]
    assert all(h["model"]["sha256"] == rj["model"]["sha256"] for h in rj["history"])
    assert all(h["voyages"] == str(voyages.resolve()) and h["started_at"] for h in rj["history"])
    html = (out / "report.html").read_text()
    assert "Scenes not counted" in html and "0 failed" in html and A in html
    # the scene comes back: counted again, nothing gone, the first shipments again
    shutil.copy(base / "img" / f"{A}.tif", img)
    assert main(["run", *_args(img, voyages, out)]) == 0
    text = capsys.readouterr().out
    assert "scenes: 1 processed, 1 skipped (already done), 0 failed" in text
    assert "gone:" not in text and "  gone " not in text
    assert (out / "shipments.csv").read_text() == first
    assert _status(out) == {A: "done", B: "done"} and not list((det / ".gone").iterdir())
    assert json.loads((out / "totals.json").read_text())["scenes"]["not_counted"] == []


def test_scene_that_now_fails_is_listed_and_its_voyage_says_imagery_failed(folder, capsys):
    img, voyages, out = folder
    (img / f"{A}.tif").write_bytes(b"II*\x00 this file was overwritten")
    assert main(["run", *_args(img, voyages, out)]) == 2
    cap = capsys.readouterr()
    assert "scenes: 0 processed, 1 skipped (already done), 1 failed" in cap.out
    assert f"failed {A}: " in cap.out and "1 scene(s) failed" in cap.err
    assert _status(out) == {A: "failed", B: "done"}
    det = out / "detections"
    assert not list(det.glob(f"{A}.*"))  # the earlier success does not pass for current
    assert sorted(p.name for p in (det / ".failed").iterdir()) == [f"{A}.{s}" for s in SUFFIXES]
    assert _gpkg_scenes(out / "detections.gpkg") == {B}
    rows = _shipments(out)
    assert rows[0]["imputed"] == "true" and rows[0]["evidence"] == ""
    assert rows[0]["note"] == f"imagery failed: {A}"
    assert rows[1]["note"] == "" and rows[1]["evidence"] == B
    t = json.loads((out / "totals.json").read_text())
    (lost,) = t["scenes"]["not_counted"]
    assert {k: lost[k] for k in ("scene", "file", "state", "voyages")} == {
        "scene": A, "file": str((img / f"{A}.tif").resolve()), "state": "failed", "voyages": [1],
    }  # fmt: skip
    assert f"{A}.tif" in lost["error"] and "\n" not in lost["error"]
    html = (out / "report.html").read_text()
    assert "Scenes not counted" in html and "imagery failed" in html
    assert lost["error"].split(":")[-1].strip()[:20] in html
    # `reconcile` and `report` on the folder keep saying so
    assert main(["reconcile", str(out), "--no-report"]) == 0
    assert "imagery failed" in capsys.readouterr().out
    assert _shipments(out)[0]["note"] == f"imagery failed: {A}"
    assert main(["report", str(out)]) == 0
    assert "Scenes not counted" in (out / "report.html").read_text()


def test_broken_symlink_is_a_failed_scene(folder, tmp_path, capsys):
    img, voyages, out = folder
    (img / f"{A}.tif").unlink()
    link = img / "rajin_20230903T0600Z.tif"
    link.symlink_to(tmp_path / "nowhere.tif")
    assert main(["run", *_args(img, voyages, out)]) == 2
    cap = capsys.readouterr()
    assert "1 skipped (already done), 1 failed" in cap.out
    assert f"failed rajin_20230903T0600Z: {link}: broken symbolic link" in cap.out
    assert _status(out)["rajin_20230903T0600Z"] == "failed"
    lost = {d["scene"]: d for d in json.loads((out / "totals.json").read_text())["scenes"][
        "not_counted"]}  # fmt: skip
    assert lost["rajin_20230903T0600Z"]["state"] == "failed"
    assert lost["rajin_20230903T0600Z"]["voyages"] == [1]  # Rajin, voyage 1's loading day
    assert lost[A]["state"] == "gone"
    # voyage 1 lost its deck scene (gone) and a pier scene in its window failed
    assert _shipments(out)[0]["note"] == "imagery failed: rajin_20230903T0600Z"


def test_temporaries_of_a_killed_run_are_cleaned(folder, capsys):
    img, voyages, out = folder
    det = out / "detections"
    temps = [out / ".shipments.csv.k3j_x9a2.csv", out / ".report.html.abcdefgh.html",
             out / ".detections.gpkg.q1w2e3r4.gpkg", out / ".run.json.zzzzzzzz.json",
             det / f".{A}.counts.json.a1b2c3d4.json"]  # fmt: skip
    for p in temps:
        p.write_text("partial")
    keep = out / ".analyst-notes.txt"
    keep.write_text("mine")
    assert main(["run", *_args(img, voyages, out)]) == 0
    capsys.readouterr()
    assert [p for p in temps if p.exists()] == []
    assert keep.read_text() == "mine" and (out / ".lock").exists()


def test_reconcile_refuses_a_folder_without_scenes(base, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["reconcile", str(empty), "--voyages", str(base / "voyages.csv")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and f"{empty}: no scenes in the run folder" in err
    assert not (empty / "shipments.csv").exists() and not (empty / "totals.json").exists()
    assert main(["reconcile", str(tmp_path / "missing")]) == 2
    assert "run folder not found" in capsys.readouterr().err
    assert not (tmp_path / "missing").exists()


def test_reconcile_and_report_take_the_run_lock(folder, capsys):
    _, _, out = folder
    before = (out / "totals.json").read_text()
    with open(out / ".lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a `ccount run` at work
        for cmd in (["reconcile", str(out)], ["report", str(out)]):
            assert main(cmd) == 2
            assert "another ccount command" in capsys.readouterr().err
        fcntl.flock(fh, fcntl.LOCK_UN)
    assert (out / "totals.json").read_text() == before
    assert main(["reconcile", str(out), "--no-report"]) == 0


def test_catalog_of_schema_1_is_upgraded(tmp_path):
    from detector.catalog import Catalog

    path = tmp_path / "ccount.sqlite"
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
        "INSERT INTO meta VALUES ('schema', '1');"
        "CREATE TABLE scenes (id TEXT PRIMARY KEY, path TEXT NOT NULL, file_sig TEXT NOT NULL,"
        " size INTEGER NOT NULL, status TEXT NOT NULL CHECK (status IN ('done', 'failed')),"
        " error TEXT, settings_hash TEXT NOT NULL, model_hash TEXT NOT NULL, counts_json TEXT,"
        " started_at TEXT NOT NULL, finished_at TEXT NOT NULL, attempts INTEGER NOT NULL"
        " DEFAULT 1);"
        "INSERT INTO scenes VALUES ('s1', '/x/s1.tif', 'sig', 10, 'done', NULL, 'h', 'm',"
        " '{\"scene\": \"s1\"}', 't0', 't1', 3);"
    )
    db.commit()
    db.close()
    with Catalog(path) as cat:
        cat.mark_gone("s1", reason="/x/s1.tif: no longer in the imagery folder /x")
        (rec,) = cat.records()
    assert (rec.status, rec.attempts, rec.counts) == ("gone", 3, {"scene": "s1"})
    assert rec.error == "/x/s1.tif: no longer in the imagery folder /x"
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT value FROM meta WHERE key='schema'").fetchone() == ("2",)
