"""The reconciler on measured stack heights (issue 17 item 5): a run counted with
``--heights shadow`` is taken as counted (no deck, arrival, ship or stock factor, no tier
figures), with intervals from the measured heights; a net run keeps its factors; a run
mixing both is refused with one line."""

from __future__ import annotations

import csv
import json
import shutil

import pytest

from detector.cli.main import main
from detector.reconcile.evidence import ReconcileConfig, ShipSighting, deck_estimate
from detector.reconcile.measured import HeightStats, MeasuredConfig
from detector.reconcile.munitions import load_assumptions

#: factors no synthetic fit would give: applied, they move every deck and stock estimate
ABSURD = {
    "shipments": {
        "deck_count_scale_rajin": {"value": 3.0, "source": "test"},
        "deck_count_scale_arrival": {"value": 0.3, "source": "test"},
        "deck_count_scale_ship": {"value": {"Angara": 2.0}, "source": "test"},
        "stock_count_scale": {"value": 2.5, "source": "test"},
        "count_bias_rel_90": {"value": 0.9, "source": "test"},
        "count_bias_ship_rel_90": {"value": 0.9, "source": "test"},
        "tier_mae_per_stack": {"value": 3.0, "source": "test"},
        "tier_bias_per_scene": {"value": 2.0, "source": "test"},
    }
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A one-voyage demo world counted twice with the shipped model: ``shadow`` (measured
    heights, through ``ccount demo``) and ``net`` (the tier head, ``ccount run``)."""
    root = tmp_path_factory.mktemp("heights")
    demo = root / "demo"
    assert main(["demo", "--out", str(demo), "--first", "1", "--heights", "shadow",
                 "--device", "cpu", "--no-progress"]) == 0  # fmt: skip
    net = root / "net"
    assert main(["run", str(demo / "world" / "scenes"), "--voyages", str(demo / "voyages.csv"),
                 "--out", str(net), "--device", "cpu", "--no-progress"]) == 0  # fmt: skip
    absurd = root / "absurd.json"
    absurd.write_text(json.dumps(ABSURD))
    return demo / "run", net, absurd


def _rows(run):
    with (run / "shipments.csv").open() as f:
        return list(csv.DictReader(f))


def _reconciled(run, tmp_path, name, *extra):
    out = tmp_path / name
    shutil.copytree(run, out)
    assert main(["reconcile", str(out), "--no-report", *extra]) == 0
    return _rows(out), json.loads((out / "totals.json").read_text())


def test_shadow_run_applies_no_fitted_factor(runs, tmp_path):
    shadow, net, absurd = runs
    counts = [
        json.loads(p.read_text()) for p in sorted((shadow / "detections").glob("*.counts.json"))
    ]
    assert {c["settings"]["heights"] for c in counts} == {"shadow"}
    decks = [s for c in counts for s in c["ships"] if s["name"] == "Angara"]
    assert decks and all(s["heights"]["measured"]["n"] + s["heights"]["prior"]["n"]
                         == s["visible"] for s in decks)  # fmt: skip
    rows, tot = _reconciled(shadow, tmp_path, "shadow_default")
    rows_absurd, tot_absurd = _reconciled(shadow, tmp_path, "shadow_absurd", "--assumptions",
                                          str(absurd))  # fmt: skip
    assert rows_absurd == rows and rows[0]["imputed"] == "false"
    assert tot_absurd["containers"] == tot["containers"]
    assert tot["heights"]["basis"] == "shadow"
    assert "deck_count_scale_rajin" in tot["heights"]["not_applied"]
    # the net run: the same absurd file moves the estimate (its factors apply)
    rows_n, tot_n = _reconciled(net, tmp_path, "net_default")
    rows_na, _ = _reconciled(net, tmp_path, "net_absurd", "--assumptions", str(absurd))
    assert rows_na[0]["containers_est"] != rows_n[0]["containers_est"]
    assert "heights" not in tot_n


def test_mixed_run_is_refused_with_one_line(runs, tmp_path, capsys):
    shadow, net, _ = runs
    mixed = tmp_path / "mixed"
    shutil.copytree(shadow, mixed)
    name = sorted(p.name for p in (net / "detections").glob("*.counts.json"))[0]
    shutil.copy(net / "detections" / name, mixed / "detections" / name)
    capsys.readouterr()
    assert main(["reconcile", str(mixed), "--no-report"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert f"{name}: counted with --heights net" in err and "--heights shadow" in err


def test_shadow_counts_without_height_sums_are_refused(runs, tmp_path, capsys):
    shadow, _, _ = runs
    old = tmp_path / "old"
    shutil.copytree(shadow, old)
    for p in (old / "detections").glob("*.counts.json"):
        c = json.loads(p.read_text())
        for s in c["ships"]:
            s.pop("heights", None)
        p.write_text(json.dumps(c))
    capsys.readouterr()
    assert main(["reconcile", str(old), "--no-report"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "ships[0]: counted with --heights shadow" in err


def test_measured_intervals_from_the_stacks():
    """Measured stacks add independently; prior stacks share the ship's prior mean; an
    assumptions file without the measured_heights section gets the defaults."""
    cfg = ReconcileConfig.from_assumptions(load_assumptions()).for_basis("shadow")
    assert cfg.measured == MeasuredConfig() and cfg.deck_scale == 1.0 and cfg.stock_scale == 1.0
    h = HeightStats(n_measured=100, est_measured=200.0, span_measured=100.0,
                    span2_measured=100.0, n_prior=0, est_prior=0.0, span_prior=0.0,
                    span2_prior=0.0, sun_elevation_deg=45.0, sun_source="metadata", gsd_m=0.4)  # fmt: skip
    s = ShipSighting("sc", "Angara", "Pier 2 east berth", 100, 200.0, heights=h)
    g = deck_estimate(s, cfg, ship="Angara", voyage=1).groups()
    assert deck_estimate(s, cfg, ship="Angara", voyage=1).value == 200.0
    assert g["scene:sc:tiers"] == pytest.approx(10.0 / 3.2897, rel=1e-3)  # sqrt(100) / 2z
    # sun: 0.5 deg / (sin cos 45) x 200 + 0.5 px x 0.4 m x tan 45 / 2.591 x 100
    assert g["scene:sc:sun"] == pytest.approx(0.017453 * 200 + 0.2 / 2.591 * 100, rel=1e-3)
    assert g["ship_prior:Angara"] == 0.0
    prior = HeightStats(0, 0.0, 0.0, 0.0, 100, 250.0, 400.0, 1600.0, 45.0, "metadata", 0.4)
    g = deck_estimate(ShipSighting("sc", "Angara", None, 100, 250.0, heights=prior), cfg,
                      ship="Angara", voyage=1).groups()  # fmt: skip
    assert g["ship_prior:Angara"] == pytest.approx(0.3 * 100)
    assert g["deck_prior:1:prior_scatter"] == pytest.approx(40.0 / 3.2897, rel=1e-3)
    assert g["scene:sc:sun"] == 0.0
