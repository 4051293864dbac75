"""The review round folder: create/open round trip, actions, undo, journal, locking."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest

from detector.errors import CountError, ReviewError
from detector.review.round import Candidate, Chip, Manifest, Round, Unit

CRS = "EPSG:32652"
GSD = 0.5


def _box(cx, cy, length=6.1, width=2.4):
    h, w = length / 2, width / 2
    return ((cx - h, cy - w), (cx + h, cy - w), (cx + h, cy + w), (cx - h, cy + w))


def _applied(path) -> int:
    """How many journal lines queue.gpkg says it holds."""
    from detector.review.queue_io import read_queue

    return read_queue(path / "queue.gpkg", Round.open(path).manifest)[2]


def make_round(path, n_units=2, **kw) -> Round:
    """Two 128 m units side by side at x0=500000, y top=4000000, three candidates."""
    manifest = Manifest(
        model="models/m.pt", model_sha256="ab" * 32, threshold=0.35, strategy="mix", seed=3,
        budget=10, holdout_share=0.5, detect_dir="det",
        scenes={"s1": {"path": "s1.tif", "crs": CRS, "gsd_m": GSD,
                       "transform": [GSD, 0, 500000.0, 0, -GSD, 4000000.0]}},
    )  # fmt: skip
    units, chips = [], []
    for i in range(n_units):
        x0 = 500000.0 + 128.0 * i
        units.append(Unit(i, "s1", "train" if i == 0 else "holdout", "pending", 1.0 - i,
                          "below_peak", (x0, 4000000.0 - 128, x0 + 128, 4000000.0)))  # fmt: skip
        chip = Chip(i, "s1", (256 * i, 0, 256, 256), (GSD, 0.0, x0, 0.0, -GSD, 4000000.0),
                    GSD, (256, 256))  # fmt: skip
        img = np.full((256, 256, 3), 40 * (i + 1), dtype=np.uint8)
        chips.append((chip, img))
    cands = [
        Candidate(0, 0, "s1", "20ft", 0.9, "near_threshold", "model", "pending",
                  _box(500020.0, 3999950.0), verify=0.62),
        Candidate(1, 0, "s1", "40ft", 0.2, "below_peak", "peak", "pending",
                  _box(500060.0, 3999950.0, 12.2)),
        Candidate(2, 1, "s1", "20ft", 0.5, "random", "model", "pending",
                  _box(500150.0, 3999900.0)),
    ]  # fmt: skip
    return Round.create(path, manifest, cands, units, chips, **kw)


def test_create_open_round_trip(tmp_path):
    r = make_round(tmp_path / "r")
    for name in ("manifest.json", "queue.gpkg", "journal.jsonl", "chips/chips.json",
                 "chips/0.png", "chips/1.png"):  # fmt: skip
        assert (tmp_path / "r" / name).is_file(), name
    import pyogrio

    layers = {name for name, _ in pyogrio.list_layers(tmp_path / "r" / "queue.gpkg")}
    assert layers == {"candidates", "regions"}
    assert pyogrio.read_info(tmp_path / "r" / "queue.gpkg", layer="candidates")["crs"] == CRS
    back = Round.open(tmp_path / "r")
    assert back.manifest == r.manifest
    assert back.manifest.created.endswith("Z")
    assert back.candidates == r.candidates
    assert back.units == r.units
    assert back.chips == r.chips
    assert back.journal() == []
    assert [u.unit_id for u in back.ordered_units()] == [0, 1]
    # chip <-> CRS through the affine
    xy = back.chip_to_crs(1, [(10.0, 20.0)])
    assert xy.tolist() == [[500128.0 + 5.0, 4000000.0 - 10.0]]
    assert np.allclose(back.crs_to_chip(1, xy), [[10.0, 20.0]])


def test_a_queue_written_before_the_verifier_field_opens(tmp_path, monkeypatch):
    from detector.review import queue_io

    old = dict(queue_io._LAYER_FIELDS)
    old["candidates"] = tuple(k for k in old["candidates"] if k != "verify")
    monkeypatch.setattr(queue_io, "_LAYER_FIELDS", old)
    make_round(tmp_path / "r")
    monkeypatch.undo()
    back = Round.open(tmp_path / "r")
    assert [c.verify for c in back.candidates.values()] == [None, None, None]
    assert back.candidates[0].score == 0.9


def test_create_refuses_existing_round(tmp_path):
    make_round(tmp_path / "r")
    with pytest.raises(ReviewError, match="already holds a review round"):
        make_round(tmp_path / "r")


def test_open_not_a_round(tmp_path):
    with pytest.raises(ReviewError, match="not a review round") as ei:
        Round.open(tmp_path)
    assert isinstance(ei.value, CountError)
    assert str(ei.value).startswith(str(tmp_path))


def test_apply_and_undo(tmp_path):
    r = make_round(tmp_path / "r")
    assert r.apply({"action": "accept", "cand": 0, "seconds": 1.5}).status == "accepted"
    assert r.apply({"action": "kind", "cand": 1, "kind": "20ft"}).kind == "20ft"
    moved = r.apply(
        {"action": "move", "cand": 1, "chip_corners": [[40, 90], [60, 90], [60, 100], [40, 100]]}
    )
    assert moved.status == "accepted"
    assert np.allclose(moved.corners[0], (500020.0, 4000000.0 - 45.0))
    added = r.apply({"action": "add", "unit": 0, "kind": "40ft",
                     "corners": _box(500100.0, 3999900.0, 12.2)})  # fmt: skip
    assert (added.cand_id, added.status, added.source, added.score) == (3, "added", "reviewer", 0)
    assert r.apply({"action": "complete", "unit": 0}).status == "complete"
    assert [u.unit_id for u in r.reviewed_units("train")] == [0]
    assert r.reviewed_units("holdout") == []

    back = Round.open(tmp_path / "r")
    assert back.candidates == r.candidates and back.units == r.units
    j = back.journal()
    assert [e["action"] for e in j] == ["accept", "kind", "move", "add", "complete"]
    assert j[0]["seconds"] == 1.5 and j[0]["by"] == "browser"
    assert j[0]["before"]["status"] == "pending" and j[0]["after"]["status"] == "accepted"

    # undo: complete, then add, then the move
    assert r.undo().status == "pending"
    r.undo()
    assert 3 not in r.candidates
    r.undo()
    assert r.candidates[1].corners == _box(500060.0, 3999950.0, 12.2)
    assert r.candidates[1].kind == "20ft"
    back = Round.open(tmp_path / "r")
    assert back.candidates == r.candidates and back.units == r.units
    j = back.journal()
    assert [e.get("undoes") for e in j[5:]] == [4, 3, 2]
    # a new add after undoing one gets a fresh id
    again = r.apply({"action": "add", "unit": 0, "kind": "20ft",
                     "corners": _box(500100.0, 3999900.0)})  # fmt: skip
    assert again.cand_id == 4
    assert r.apply({"action": "delete", "cand": 4}).cand_id == 4
    assert 4 not in Round.open(tmp_path / "r").candidates
    r.undo()
    assert Round.open(tmp_path / "r").candidates[4].status == "added"


@pytest.mark.parametrize(
    ("action", "match"),
    [
        ({"action": "explode", "cand": 0}, "unknown action"),
        ({"action": "accept", "cand": 99}, "unknown candidate 99"),
        ({"action": "accept"}, "unknown candidate None"),
        ({"action": "complete", "unit": 7}, "unknown unit 7"),
        ({"action": "kind", "cand": 0, "kind": "45ft"}, "bad kind '45ft'"),
        ({"action": "accept", "cand": 2, "unit": 0}, "candidate 2 is in unit 1"),
        ({"action": "move", "cand": 0, "corners": _box(500200.0, 3999950.0)}, "outside unit 0"),
        ({"action": "add", "unit": 0, "kind": "20ft", "corners": [[1, 2]]}, "4 finite"),
        ({"action": "add", "unit": 0, "kind": "20ft"}, "needs 'corners'"),
        ({"action": "accept", "cand": 0, "seconds": -1}, "seconds must be >= 0"),
    ],
)
def test_bad_action(tmp_path, action, match):
    r = make_round(tmp_path / "r")
    before = (tmp_path / "r" / "queue.gpkg").read_bytes()
    with pytest.raises(ReviewError, match=match) as ei:
        r.apply(action)
    assert "\n" not in str(ei.value)
    assert r.journal() == []
    assert (tmp_path / "r" / "queue.gpkg").read_bytes() == before


def test_nothing_to_undo(tmp_path):
    r = make_round(tmp_path / "r")
    with pytest.raises(ReviewError, match="nothing to undo"):
        r.undo()
    r.apply({"action": "reject", "cand": 2})
    r.apply({"action": "undo"})
    with pytest.raises(ReviewError, match="nothing to undo"):
        r.undo()


def test_journal_written_before_state(tmp_path, monkeypatch):
    """A crash after the journal append but before queue.gpkg is rewritten loses nothing:
    the journal line is there, and opening the round replays it."""
    r = make_round(tmp_path / "r")

    def boom(*args):
        raise OSError("killed")

    monkeypatch.setattr("detector.review.round.write_queue", boom)
    with pytest.raises(OSError, match="killed"):
        r.apply({"action": "reject", "cand": 2, "by": "simulated"})
    monkeypatch.undo()
    j = [json.loads(s) for s in (tmp_path / "r" / "journal.jsonl").read_text().splitlines()]
    assert [(e["action"], e["cand"], e["by"]) for e in j] == [("reject", 2, "simulated")]
    back = Round.open(tmp_path / "r")
    assert back.candidates[2].status == "rejected"
    # the next action writes the state with both
    back.apply({"action": "accept", "cand": 0})
    assert _applied(tmp_path / "r") == 2


def test_torn_journal_line_is_dropped(tmp_path):
    r = make_round(tmp_path / "r")
    r.apply({"action": "accept", "cand": 0})
    with open(tmp_path / "r" / "journal.jsonl", "a") as fh:
        fh.write('{"t": "2026-01-01T00:00:00Z", "unit": 0, "act')
    assert len(Round.open(tmp_path / "r").journal()) == 1
    r.apply({"action": "accept", "cand": 1})
    lines = (tmp_path / "r" / "journal.jsonl").read_text().splitlines()
    assert [json.loads(s)["cand"] for s in lines] == [0, 1]


def test_concurrent_apply_is_safe(tmp_path):
    """Threads with their own Round objects add boxes at once: every add is kept, ids are
    unique, journal and queue agree."""
    make_round(tmp_path / "r")
    errors = []

    def worker(k):
        try:
            r = Round.open(tmp_path / "r")
            for i in range(4):
                r.apply({"action": "add", "unit": 0, "kind": "20ft",
                         "corners": _box(500010.0 + 10 * k, 3999990.0 - 10 * i)})  # fmt: skip
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    back = Round.open(tmp_path / "r")
    added = [c for c in back.candidates.values() if c.source == "reviewer"]
    assert len(added) == 16
    assert sorted(c.cand_id for c in added) == list(range(3, 19))
    assert len(back.journal()) == 16
    assert _applied(tmp_path / "r") == 16


def test_apply_many_is_all_or_nothing(tmp_path):
    r = make_round(tmp_path / "r")
    with pytest.raises(ReviewError, match="unknown candidate 42"):
        r.apply_many([{"action": "accept", "cand": 0}, {"action": "reject", "cand": 42}])
    assert r.journal() == [] and r.candidates[0].status == "pending"
    out = r.apply_many([
        {"action": "accept", "cand": 0, "by": "simulated"},
        {"action": "add", "unit": 0, "kind": "20ft", "corners": _box(500100.0, 3999900.0)},
        {"action": "complete", "unit": 0},
    ])  # fmt: skip
    assert [o.status for o in out] == ["accepted", "added", "complete"]
    back = Round.open(tmp_path / "r")
    assert [e["action"] for e in back.journal()] == ["accept", "add", "complete"]
    assert back.candidates == r.candidates and back.units[0].status == "complete"
    assert _applied(tmp_path / "r") == 3
    back.undo()  # the batch's actions undo one by one
    assert Round.open(tmp_path / "r").units[0].status == "pending"
