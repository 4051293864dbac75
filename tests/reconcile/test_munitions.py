"""Munitions range and the editable assumptions file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from detector.errors import ConfigError, LabelError
from detector.reconcile.munitions import (
    load_assumptions,
    munitions_summary,
    read_saved_assumptions,
    rounds_range,
    saved_assumptions_json,
)

CCOUNT = Path(sys.executable).with_name("ccount")


def test_defaults_reproduce_the_published_range():
    a = load_assumptions()
    r = rounds_range(16_000, a)
    assert r.rounds_low == pytest.approx(4.0e6)
    assert r.rounds_high == pytest.approx(6.0e6)
    assert (r.rounds_per_container_low, r.rounds_per_container_high) == (250.0, 375.0)


def test_every_default_figure_has_a_source_and_unit():
    a = load_assumptions()
    rows = a.table()
    assert {r["section"] for r in rows} == {
        "munitions",
        "shipments",
        "measured_heights",
        "matching",
    }
    for row in rows:
        assert len(row["source"]) > 20, row
        assert row["unit"], row
    assert "16,000" in a.figure("munitions", "rounds_per_container_low").source
    ud = a.figure("shipments", "under_deck_containers")
    assert (ud.value, ud.low, ud.high) == (0.0, 0.0, 0.0)


def test_override_file_changes_only_what_it_holds(tmp_path):
    p = tmp_path / "a.json"
    p.write_text(json.dumps({"munitions": {"rounds_per_container_high": {"value": 450}}}))
    a = load_assumptions(p)
    assert a.path == str(p)
    f = a.figure("munitions", "rounds_per_container_high")
    assert f.value == 450.0 and "DOMAIN" in f.source  # unit/source kept from the default
    assert a.value("munitions", "rounds_per_container_low") == 250.0
    assert rounds_range(1000, a).rounds_high == 450_000


@pytest.mark.parametrize(
    "doc, words",
    [
        ({"munitions": {"rounds_per_container_low": {"value": 500}}}, "low <= rounds_per"),
        ({"munitions": {"rounds_per_container_low": {"value": "many"}}}, "finite number"),
        ({"munitions": {"rounds_per_container_low": 300}}, "must be an object"),
        ({"shipments": {"under_deck_containers": {"value": 5, "low": 10}}}, "low <= value"),
        ([1, 2], "JSON object"),
    ],
)
def test_bad_assumption_files_are_label_errors(tmp_path, doc, words):
    p = tmp_path / "a.json"
    p.write_text(json.dumps(doc))
    with pytest.raises(LabelError, match=words) as err:
        load_assumptions(p)
    assert str(p) in str(err.value)


def test_saved_assumptions_round_trip(tmp_path):
    a = load_assumptions()
    p = tmp_path / "assumptions.json"
    p.write_text(saved_assumptions_json(a))
    b = read_saved_assumptions(p)
    assert b.table() == a.table() and b.path == a.path
    assert load_assumptions(p).table() == a.table()  # --assumptions accepts it too


def test_negative_containers_rejected():
    with pytest.raises(ConfigError):
        rounds_range(-1, load_assumptions())


def test_summary_and_cli(capsys, tmp_path):
    from detector.cli.main import main

    s = munitions_summary(16_000, load_assumptions())
    assert (s["rounds_low"], s["rounds_high"], s["containers"]) == (4_000_000, 6_000_000, 16_000)
    assert main(["munitions", "--containers", "1000"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["rounds_low"], out["rounds_high"]) == (250_000, 375_000)
    assert set(out["assumptions"]) == {"rounds_per_container_low", "rounds_per_container_high"}
    assert main(["munitions", "--containers", "5", "--assumptions", str(tmp_path / "x.json")]) == 2
    assert "assumptions file not found" in capsys.readouterr().err


def test_cli_subprocess():
    res = subprocess.run([str(CCOUNT), "munitions", "--containers", "16000"],
                         capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert (out["rounds_low"], out["rounds_high"]) == (4_000_000, 6_000_000)
