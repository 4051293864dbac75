"""The reconciler on synthetic worlds: intervals hold the true loads.

``test_planned_worlds``: whole 64-voyage worlds planned by the generator (no rendering), each
scene's counts made from what the plan puts in it with simulated counting and tier errors;
seeds not used to set the assumptions. ``test_rendered_world``: a small rendered world whose
truth GeoJSON goes through :func:`detector.reconcile.truth_counts.counts_from_truth`.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from detector.labels.io import read_geojson
from detector.labels.voyages import read_voyages
from detector.paths import labels_dir
from detector.reconcile.core import reconcile, totals
from detector.reconcile.truth_counts import counts_from_truth, precise_assumptions
from detector.synth.world import build_world, plan_world

A = precise_assumptions()  # counts from plans and truth: no detector calibration applies


def _noisy(n: float, rng, rel: float = 0.03) -> float:
    return max(0.0, n * (1 + rng.normal(0, rel)))


def planned_counts(planned, rng) -> list[dict]:
    """Counts documents of planned scenes: ships' decks and Pier 2 stock with ~3 % noise."""
    out = []
    for p in planned:
        spec = p.spec
        doc = {"scene": p.scene_id, "port": spec.port,
               "acquired": spec.acquired.strftime("%Y-%m-%dT%H:%M:%SZ"),
               "model": {"sha256": "plan"}, "settings": {}, "by_aoi": {}, "ships": []}  # fmt: skip
        for v in spec.ships:
            est = _noisy(v.containers, rng)
            doc["ships"].append({"name": v.name,
                                 "berth": v.berth, "visible": est / 2.4, "est": est})  # fmt: skip
        pier = sum(s.containers for s in spec.stock if s.area == "Pier 2")
        if spec.port == "rajin":
            doc["by_aoi"]["Pier 2"] = {"visible": pier / 2.4, "est": _noisy(pier, rng)}
        out.append(doc)
    return out


def _check(result, truth: dict[int, int], *, min_inside: float, max_med: float, max_total: float):
    errs, inside = [], []
    for s in result.shipments:
        lo, hi = s.interval
        t = truth[s.voyage.voyage]
        errs.append(abs(s.containers_est - t) / t)
        inside.append(lo <= t <= hi)
    tot = totals(result, A)["containers"]["est"]
    true_total = sum(truth.values())
    assert np.median(errs) <= max_med, np.median(errs)
    assert np.mean(inside) >= min_inside, np.mean(inside)
    assert abs(tot - true_total) / true_total <= max_total, (tot, true_total)


@pytest.mark.parametrize("seed", [101, 102, 103])
def test_planned_worlds(seed):
    voyages = read_voyages(labels_dir() / "voyages.csv")
    truths, planned = plan_world(voyages, seed)
    result = reconcile(planned_counts(planned, np.random.default_rng(seed)), voyages, A)
    truth = {t.voyage: t.containers for t in truths}
    assert len(result.shipments) == 64
    assert sum(s.imputed for s in result.shipments) == sum(
        1 for t in truths if not any(p.voyage == t.voyage and p.role != "after_unload"
                                     for p in planned))  # fmt: skip
    _check(result, truth, min_inside=0.8, max_med=0.10, max_total=0.05)


def test_rendered_world(tmp_path):
    world = build_world(labels_dir() / "voyages.csv", tmp_path, 19, first=2)
    counts = []
    for i, s in enumerate(world["scenes"]):
        feats, props = read_geojson(tmp_path / s["truth"])
        counts.append(counts_from_truth(feats, {**props, "scene": s["scene"]}, seed=i))
    assert {c["port"] for c in counts} == {"rajin", "vostochny"}
    voyages = read_voyages(labels_dir() / "voyages.csv")[:2]
    result = reconcile(counts, voyages, A)
    truth = {v["voyage"]: v["containers"] for v in world["voyages"]}
    for s in result.shipments:
        lo, hi = s.interval
        assert not s.imputed
        assert lo <= truth[s.voyage.voyage] <= hi
        assert s.containers_est == pytest.approx(truth[s.voyage.voyage], rel=0.03)
    kinds = {e.kind for e in result.evidence if e.used}
    assert kinds == {"deck_rajin", "deck_arrival", "stock_drop"}
    assert json.loads((tmp_path / "world.json").read_text())["seed"] == 19
