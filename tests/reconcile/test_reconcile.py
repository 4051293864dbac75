"""Reconciler with hand-built counts documents: matching, fusion, imputation, outputs."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import pytest

from detector.errors import LabelError
from detector.labels.voyages import Voyage
from detector.reconcile.core import reconcile, totals
from detector.reconcile.munitions import load_assumptions
from detector.reconcile.truth_counts import PRECISE_DETECTOR, precise_assumptions
from detector.report.shipments_io import SHIPMENT_COLUMNS, shipments_csv, write_outputs

# a precise detector (the targets: 3 % counts, small tier errors, no ship bias, no
# calibration scales), so the values these tests check are exactly the counts
A = precise_assumptions()
PRECISE = PRECISE_DETECTOR


def counts(port, when, ships=(), stock=None, scene=None, teu_ratio=1.0):
    """A minimal counts document: ``ships`` as (name, berth, visible, est) tuples, ``stock``
    as (visible, est) on Rajin Pier 2."""
    t = dt.datetime.fromisoformat(when)
    scene = scene or f"{port}_{t:%Y%m%dT%H%M}Z"
    est = sum(s[3] for s in ships) + (stock[1] if stock else 0)
    doc = {
        "scene": scene, "file": f"/img/{scene}.tif", "port": port,
        "acquired": t.strftime("%Y-%m-%dT%H:%M:%SZ"), "model": {"sha256": "f00d" * 16},
        "settings": {"tile": 512}, "totals": {"visible": 0, "est": est, "teu_est": est * 1.5},
        "by_region": {"deck": {"est": est, "teu_est": est * teu_ratio}}, "by_aoi": {}, "ships": [],
    }  # fmt: skip
    for name, berth, vis, e in ships:
        doc["ships"].append({"name": name, "berth": berth, "visible": vis, "est": e})
    if stock is not None:
        doc["by_aoi"]["Pier 2"] = {"visible": stock[0], "est": stock[1]}
    return doc


P2 = "Pier 2 east berth"
V = (
    Voyage(1, "Angara", dt.date(2023, 9, 3)),
    Voyage(2, "Maria", dt.date(2023, 9, 10)),
    Voyage(3, "Angara", dt.date(2023, 9, 20)),
    Voyage(4, "Angara", dt.date(2023, 10, 1)),
)


def by_voyage(result):
    return {s.voyage.voyage: s for s in result.shipments}


def test_deck_at_rajin_arrival_and_stock_drop_are_fused():
    docs = [
        counts("rajin", "2023-09-01T02:00", stock=(110, 262)),
        counts("rajin", "2023-09-03T02:00", ships=[("Angara", P2, 100, 250)], stock=(5, 12)),
        counts("vostochny", "2023-09-05T02:00", ships=[("Angara", "Berth 1", 98, 246)]),
    ]
    r = reconcile(docs, V[:1], A)
    (s,) = r.shipments
    assert not s.imputed
    assert s.evidence == (
        "rajin_20230901T0200Z",
        "rajin_20230903T0200Z",
        "vostochny_20230905T0200Z",
    )
    assert {e.kind for e in r.evidence if e.used} == {"deck_rajin", "deck_arrival", "stock_drop"}
    assert 246 <= s.containers_est <= 250
    lo, hi = s.interval
    assert lo < s.containers_est < hi
    # fusing three observations is tighter than the deck at Rajin alone
    alone = reconcile(docs[1:2], V[:1], A).shipments[0]
    assert hi - lo < alone.interval[1] - alone.interval[0]
    assert r.unmatched == ()


def test_matching_by_port_window_and_ship_identity():
    docs = [
        # Angara at Pier 2 three days early: voyage 1 (window -3..+1 days)
        counts("rajin", "2023-08-31T02:00", ships=[("Angara", P2, 100, 240)]),
        # Maria at Rajin: no voyage within the window -> unmatched with the reason
        counts("rajin", "2023-09-15T05:00", ships=[("Maria", "Pier 2 west berth", 90, 230)]),
        # a ship at Pier 1 is unloading, not loading
        counts("rajin", "2023-09-10T02:00", ships=[("Maria", "Pier 1 east berth", 90, 220)]),
        # unknown ship at Dunai 2 days after voyage 2 only -> voyage 2
        counts("dunai", "2023-09-12T02:00", ships=[("unknown", "Dunai pier west berth", 80, 210)]),
        # Angara at Vostochny the same day it loaded is not an arrival (1..7 days)
        counts("vostochny", "2023-09-20T08:00", ships=[("Angara", "Berth 2", 100, 251)]),
        # ...nor 8 days after
        counts("vostochny", "2023-09-28T08:00", ships=[("Angara", "Berth 2", 100, 251)]),
        counts("vostochny", "2023-09-22T08:00", ships=[]),
    ]
    r = reconcile(docs, V, A)
    s = by_voyage(r)
    assert s[1].evidence == ("rajin_20230831T0200Z",) and s[1].observed.value == pytest.approx(240)
    assert s[2].evidence == ("dunai_20230912T0200Z",) and s[2].observed.value == pytest.approx(210)
    # precise observations barely move when pooled with their ship's voyages
    assert s[1].containers_est == pytest.approx(240, abs=2)
    assert s[2].containers_est == pytest.approx(210, abs=3)
    assert s[3].imputed and s[4].imputed
    reasons = {u.scene: u.reason for u in r.unmatched}
    assert set(reasons) == {
        "rajin_20230915T0500Z", "rajin_20230910T0200Z", "vostochny_20230920T0800Z",
        "vostochny_20230928T0800Z", "vostochny_20230922T0800Z",
    }  # fmt: skip
    assert reasons["rajin_20230915T0500Z"] == (
        "Maria at Rajin Pier 2 on 2023-09-15: no voyage in the window"
    )
    assert "not at Pier 2" in reasons["rajin_20230910T0200Z"]
    assert reasons["vostochny_20230920T0800Z"] == (
        "Angara at Vostochny on 2023-09-20: no voyage in the window"
    )
    assert reasons["vostochny_20230922T0800Z"] == (
        "no loaded ship at a berth at Vostochny (after unloading? voyage(s) 3 within the window)"
    )


def test_unknown_ship_with_two_voyages_in_window_is_ambiguous():
    vs = (Voyage(1, "Angara", dt.date(2024, 1, 5)), Voyage(2, "Maria", dt.date(2024, 1, 6)))
    doc = counts("rajin", "2024-01-05T03:00", ships=[("unknown", P2, 90, 220)])
    r = reconcile([doc], vs, A)
    assert all(s.imputed for s in r.shipments)
    assert "ambiguous between voyages 1, 2" in r.unmatched[0].reason
    named = counts("rajin", "2024-01-05T03:00", ships=[("Maria", P2, 90, 220)])
    assert not by_voyage(reconcile([named], vs, A))[2].imputed


def test_fullest_sighting_is_used_and_empty_or_stray_hulls_ignored():
    docs = [
        counts("rajin", "2023-09-02T02:00", ships=[("Angara", P2, 40, 90)]),  # loading
        counts(
            "rajin", "2023-09-03T02:00", ships=[("Angara", P2, 100, 250), ("unknown", P2, 1, 3)]
        ),  # fmt: skip
        # unloaded; plus a look-alike "hull" away from the berths
        counts(
            "vostochny",
            "2023-09-06T02:00",
            ships=[("Angara", "Berth 1", 2, 3), ("unknown", None, 50, 120)],
        ),  # fmt: skip
    ]
    r = reconcile(docs, V[:1], A)
    ev = {e.scenes[0]: e for e in r.evidence}
    assert set(ev) == {"rajin_20230903T0200Z", "rajin_20230902T0200Z"}
    assert ev["rajin_20230903T0200Z"].used
    assert not ev["rajin_20230902T0200Z"].used and "loading" in ev["rajin_20230902T0200Z"].reason
    assert r.shipments[0].containers_est == pytest.approx(250)
    (u,) = r.unmatched
    assert u.scene == "vostochny_20230906T0200Z"
    assert u.reason == "unknown with 120 containers at no berth"
    t = totals(r, A)
    assert [m["scene"] for m in t["scenes"]["matched_unused"]] == ["rajin_20230902T0200Z"]


def test_hull_pieces_of_one_ship_are_merged():
    doc = counts("vostochny", "2023-09-05T02:00", ships=[("Angara", "Berth 1", 60, 150),
                                                          ("unknown", "Berth 1", 40, 100)])  # fmt: skip
    r = reconcile([doc], V[:1], A)
    assert r.shipments[0].containers_est == pytest.approx(250)
    assert len(r.evidence) == 1


def test_stock_drop_is_unused_when_another_voyage_loaded_in_between():
    vs = (Voyage(1, "Angara", dt.date(2024, 1, 5)), Voyage(2, "Maria", dt.date(2024, 1, 3)))
    docs = [
        counts("rajin", "2024-01-01T02:00", stock=(200, 480)),
        counts("rajin", "2024-01-05T02:00", ships=[("Angara", P2, 100, 250)], stock=(4, 10)),
    ]
    r = reconcile(docs, vs, A)
    stock = [e for e in r.evidence if e.kind == "stock_drop"]
    assert len(stock) == 1 and not stock[0].used
    assert "voyage(s) 2 also loaded in between" in stock[0].reason
    assert by_voyage(r)[1].evidence == ("rajin_20240105T0200Z",)


def test_imputed_voyages_are_flagged_wider_and_follow_the_ship():
    docs = [
        counts("rajin", "2023-09-03T02:00", ships=[("Angara", P2, 80, 200)]),
        counts("rajin", "2023-09-20T02:00", ships=[("Angara", P2, 84, 210)]),
    ]
    r = reconcile(docs, V, A)
    s = by_voyage(r)
    assert [v for v, x in s.items() if x.imputed] == [2, 4]
    assert s[4].evidence == () and s[2].evidence == ()
    # Angara's two observed voyages pull its imputed voyage below the 250 prior
    assert 200 < s[4].containers_est < 250
    # Maria has no observed voyage: the prior
    assert s[2].containers_est == pytest.approx(250)
    w_obs = s[1].interval[1] - s[1].interval[0]
    w_imp = s[4].interval[1] - s[4].interval[0]
    assert w_imp > 3 * w_obs


def test_maia_prior_from_domain():
    v = (Voyage(1, "Maia-1", dt.date(2023, 10, 30)),)
    assert reconcile([], v, A).shipments[0].containers_est == pytest.approx(220)


def test_under_deck_assumption_shifts_and_widens(tmp_path):
    p = tmp_path / "a.json"
    p.write_text(json.dumps({"shipments": {**PRECISE["shipments"], "under_deck_containers":
                                           {"value": 20, "low": 0, "high": 60}}}))  # fmt: skip
    doc = counts("rajin", "2023-09-03T02:00", ships=[("Angara", P2, 100, 250)])
    base = reconcile([doc], V[:1], A).shipments[0]
    more = reconcile([doc], V[:1], load_assumptions(p)).shipments[0]
    assert more.observed.value == pytest.approx(base.observed.value + 20)
    assert more.observed.interval()[0] == pytest.approx(base.observed.interval()[0])  # 0 below
    assert more.observed.interval()[1] == pytest.approx(base.observed.interval()[1] + 60)
    assert more.containers_est == pytest.approx(base.containers_est + 20, abs=1)
    # the interval reaches 60 - 20 = 40 further above the estimate
    assert more.interval[1] - more.containers_est > base.interval[1] - base.containers_est + 35


def test_scenes_without_time_or_port_are_unmatched():
    a = counts("rajin", "2023-09-03T02:00", ships=[("Angara", P2, 100, 250)], scene="a")
    a["acquired"] = None
    b = counts("busan", "2023-09-03T02:00", scene="b")
    r = reconcile([a, b], V[:1], A)
    assert {u.scene: u.reason for u in r.unmatched} == {
        "a": "no acquisition time", "b": "port busan is not part of the route"}  # fmt: skip


def test_malformed_counts_raise_label_error_naming_the_scene():
    doc = counts("rajin", "2023-09-03T02:00", ships=[("Angara", P2, "many", 250)], scene="x")
    with pytest.raises(LabelError, match=r"x.counts.json: ships\[0\].visible"):
        reconcile([doc], V, A)
    bad = counts("rajin", "2023-09-03T02:00", scene="y")
    bad["acquired"] = "yesterday"
    with pytest.raises(LabelError, match="y.counts.json: acquired 'yesterday'"):
        reconcile([bad], V, A)


def test_csv_schema_totals_and_files(tmp_path):
    docs = [
        counts("rajin", "2023-09-03T02:00", ships=[("Angara", P2, 100, 250)], teu_ratio=1.1),
        counts("dunai", "2023-09-12T02:00", ships=[("Maria", "Dunai pier west berth", 90, 230)]),
    ]
    r = reconcile(docs, V, A)
    rows = list(csv.DictReader(io.StringIO(shipments_csv(r))))
    assert tuple(rows[0]) == SHIPMENT_COLUMNS
    assert [row["voyage"] for row in rows] == ["1", "2", "3", "4"]
    assert rows[0] == {
        "voyage": "1", "ship": "Angara", "rajin_date": "2023-09-03", "containers_est": "250",
        "containers_low": rows[0]["containers_low"], "containers_high": rows[0]["containers_high"],
        "teu_est": "275", "n_scenes": "1", "imputed": "false", "evidence": "rajin_20230903T0200Z",
        "note": "",
    }  # fmt: skip
    assert int(rows[0]["containers_low"]) < 250 < int(rows[0]["containers_high"])
    assert rows[2]["imputed"] == "true" and rows[2]["evidence"] == "" and rows[2]["n_scenes"] == "0"
    t = totals(r, A)
    est = sum(s.containers_est for s in r.shipments)
    assert t["containers"]["est"] == pytest.approx(est, abs=0.1)
    assert t["containers"]["low"] < est < t["containers"]["high"]
    assert t["voyages"] == {"total": 4, "observed": 2, "imputed": 2}
    assert t["rounds"]["low"] == pytest.approx(est * 250, abs=30)
    assert t["rounds"]["high"] == pytest.approx(est * 375, abs=40)
    assert t["rounds"]["low_with_count_interval"] < t["rounds"]["low"]
    assert set(t["per_ship"]) == {"Angara", "Maria"}
    assert t["per_ship"]["Angara"]["shipments"] == 3
    assert set(t["per_month"]) == {"2023-09", "2023-10"}
    assert t["per_month"]["2023-09"]["observed"] == 2 and t["per_month"]["2023-10"]["imputed"] == 1
    assert t["models"] == ["f00d" * 16]
    paths = write_outputs(tmp_path, r, t)
    assert json.loads(paths["totals"].read_text()) == t
    assert paths["shipments"].read_text() == shipments_csv(r)
    assert not list(tmp_path.glob(".*"))  # no temporaries left


def test_evidence_inconsistent_with_the_rest_is_left_out_and_listed():
    docs = [
        counts("rajin", "2023-09-03T02:00", ships=[("Angara", P2, 100, 250)]),
        counts("vostochny", "2023-09-05T02:00", ships=[("Angara", "Berth 1", 98, 247)]),
        # a partly clouded arrival view of the same ship
        counts("vostochny", "2023-09-06T02:00", ships=[("Angara", "Berth 1", 30, 70)]),
    ]
    r = reconcile(docs, V[:1], A)
    assert r.shipments[0].containers_est == pytest.approx(248.5, abs=1)  # fullest view kept
    assert r.shipments[0].evidence == ("rajin_20230903T0200Z", "vostochny_20230905T0200Z")
    docs[1]["ships"][0].update(visible=40, est=100)  # now the only arrival view is off
    r = reconcile(docs[:2], V[:1], A)
    s = r.shipments[0]
    assert s.containers_est == pytest.approx(250) and s.evidence == ("rajin_20230903T0200Z",)
    (bad,) = [e for e in r.evidence if not e.used]
    assert bad.scenes == ("vostochny_20230905T0200Z",)
    assert bad.reason == "inconsistent with the voyage's other evidence (250)"


def test_shipped_assumptions_give_wider_intervals_than_a_precise_detector():
    doc = counts("rajin", "2023-09-03T02:00", ships=[("Angara", P2, 100, 250)])
    precise = reconcile([doc], V[:1], A).shipments[0]
    loose = reconcile([doc], V[:1], load_assumptions()).shipments[0]
    w = [s.interval[1] - s.interval[0] for s in (precise, loose)]
    assert w[1] > 2 * w[0]
    # the shipped figures correct the model's calibrated undercount at Rajin, and Angara's
    shipped = load_assumptions()
    scale = shipped.value("shipments", "deck_count_scale_rajin")
    scale *= shipped.value("shipments", "deck_count_scale_ship")["Angara"]
    assert precise.observed.value == 250
    assert reconcile([doc], V[:1], shipped).shipments[0].observed.value == pytest.approx(
        250 * scale
    )


def test_per_ship_deck_factor_applies_to_the_voyages_ship_only(tmp_path):
    p = tmp_path / "a.json"
    factors = {"deck_count_scale_ship": {"value": {"Maria": 1.5}}}
    p.write_text(json.dumps({"shipments": {**PRECISE["shipments"], **factors}}))
    docs = [
        counts("rajin", "2023-09-03T02:00", ships=[("Angara", P2, 100, 250)]),
        counts("rajin", "2023-09-10T02:00", ships=[("Maria", P2, 80, 200)]),
    ]
    got = by_voyage(reconcile(docs, V[:2], load_assumptions(p)))
    assert got[1].observed.value == pytest.approx(250)  # a ship not listed: 1.0
    assert got[2].observed.value == pytest.approx(300)
