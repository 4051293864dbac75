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
from detector.paths import labels_dir
from detector.reconcile.evidence import ReconcileConfig, ShipSighting, deck_estimate
from detector.reconcile.measured import HeightStats, MeasuredConfig
from detector.reconcile.munitions import load_assumptions
from detector.report.shipments_io import detections_dir

#: factors no synthetic fit would give: applied, they move every deck and stock estimate
SCALES = {
    "deck_count_scale_rajin": {"value": 3.0, "source": "test"},
    "deck_count_scale_arrival": {"value": 0.5, "source": "test"},
    "deck_count_scale_ship": {"value": {"Angara": 0.8, "Maia-1": 0.8}, "source": "test"},
    "stock_count_scale": {"value": 2.5, "source": "test"},
}
#: ... and error figures fitted to the tier head, which would widen every interval
SPREADS = {
    "count_bias_rel_90": {"value": 0.9, "source": "test"},
    "count_bias_ship_rel_90": {"value": 0.9, "source": "test"},
    "tier_mae_per_stack": {"value": 3.0, "source": "test"},
    "tier_bias_per_scene": {"value": 2.0, "source": "test"},
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The arrival scene of a one-voyage world (seed 19: Angara's deck at Vostochny)
    through ``ccount run`` with the shipped model: ``net`` (the tier head), then a copy of
    that run folder run again with ``--heights shadow`` (measured heights: the catalog must
    re-count the scene); the voyage log and assumptions files of absurd figures beside."""
    root = tmp_path_factory.mktemp("heights")
    world = root / "world"
    assert main(["synth", "world", "--voyages", str(labels_dir() / "voyages.csv"), "--out",
                 str(world), "--seed", "19", "--first", "1"]) == 0  # fmt: skip
    (scene,) = sorted((world / "scenes").glob("vostochny_*.tif"))
    (root / "imagery").mkdir()
    shutil.copy(scene, root / "imagery" / scene.name)
    voyages = root / "voyages.csv"
    voyages.write_text("voyage,ship,rajin_date\n1,Angara,2023-09-03\n")
    net, shadow = root / "net", root / "shadow"
    args = [str(root / "imagery"), "--voyages", str(voyages), "--device", "cpu", "--no-progress"]
    assert main(["run", *args, "--out", str(net)]) == 0
    # the voyage under the name the hull got (identity is measured elsewhere: eval_ships.py)
    (name,) = {s["name"] for c in _counts_files(net) for s in json.loads(c.read_text())["ships"]}
    if name != "Angara":
        voyages.write_text(f"voyage,ship,rajin_date\n1,{name},2023-09-03\n")
        assert main(["run", *args, "--out", str(net)]) == 0
    shutil.copytree(net, shadow)
    assert main(["run", *args, "--out", str(shadow), "--heights", "shadow"]) == 0
    absurd, scales = root / "absurd.json", root / "scales.json"
    absurd.write_text(json.dumps({"shipments": {**SCALES, **SPREADS}}))
    scales.write_text(json.dumps({"shipments": SCALES}))
    return shadow, net, voyages, (absurd, scales)


def _counts_files(run):
    return sorted(detections_dir(run).glob("*.counts.json"))


def _reconciled(run, tmp_path, name, voyages, *extra, report=False):
    out = tmp_path / name
    shutil.copytree(run, out)
    flags = [] if report else ["--no-report"]
    assert main(["reconcile", str(out), "--voyages", str(voyages), *flags, *extra]) == 0
    with (out / "shipments.csv").open() as f:
        return list(csv.DictReader(f)), json.loads((out / "totals.json").read_text())


def test_shadow_run_applies_no_fitted_factor(runs, tmp_path):
    shadow, net, voyages, (absurd, scales) = runs
    (counts,) = [json.loads(p.read_text()) for p in _counts_files(shadow)]
    assert counts["settings"]["heights"] == "shadow"  # re-counted, not kept from the net run
    (deck,) = counts["ships"]
    h = deck["heights"]
    assert h["measured"]["n"] + h["prior"]["n"] == deck["visible"] > 50
    assert h["measured"]["est"] + h["prior"]["est"] == pytest.approx(deck["est"], abs=0.01)
    rows, tot = _reconciled(shadow, tmp_path, "shadow_default", voyages, report=True)
    rows_absurd, tot_absurd = _reconciled(shadow, tmp_path, "shadow_absurd", voyages,
                                          "--assumptions", str(absurd))  # fmt: skip
    assert rows_absurd == rows and rows[0]["imputed"] == "false"
    assert tot_absurd["containers"] == tot["containers"]
    assert tot["heights"]["basis"] == "shadow"
    assert "deck_count_scale_arrival" in tot["heights"]["not_applied"]
    html = (tmp_path / "shadow_default" / "report.html").read_text()
    assert "Stack heights measured from shadows" in html and "not applied: deck_count" in html
    # the net counts of the same scene: the absurd factors move the estimate
    rows_n, tot_n = _reconciled(net, tmp_path, "net_default", voyages)
    rows_na, _ = _reconciled(net, tmp_path, "net_absurd", voyages, "--assumptions", str(scales))
    assert rows_n[0]["imputed"] == "false"
    assert float(rows_na[0]["containers_est"]) < float(rows_n[0]["containers_est"]) - 10
    assert "heights" not in tot_n


def test_mixed_run_is_refused_with_one_line(runs, tmp_path, capsys):
    shadow, net, voyages, _ = runs
    mixed = tmp_path / "mixed"  # a detect --out folder: every counts file in it is read
    shutil.copytree(detections_dir(shadow), mixed)
    (src,) = _counts_files(net)
    counts = json.loads(src.read_text())
    counts["scene"] = "vostochny_20230906T0300Z"  # a second scene, counted on the tier head
    (mixed / "vostochny_20230906T0300Z.counts.json").write_text(json.dumps(counts))
    capsys.readouterr()
    assert main(["reconcile", str(mixed), "--voyages", str(voyages), "--no-report"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert "vostochny_20230906T0300Z.counts.json: counted with --heights net" in err
    assert "with --heights shadow" in err and not (mixed / "shipments.csv").exists()


def test_shadow_counts_without_height_sums_are_refused(runs, tmp_path, capsys):
    shadow, _, voyages, _ = runs
    old = tmp_path / "old"
    shutil.copytree(shadow, old)
    (p,) = _counts_files(old)
    counts = json.loads(p.read_text())
    for s in counts["ships"]:
        s.pop("heights", None)
    p.write_text(json.dumps(counts))
    capsys.readouterr()
    assert main(["reconcile", str(old), "--voyages", str(voyages), "--no-report"]) == 2
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
