"""Evaluation: Hungarian matching within 1.25 m, metrics on hand-built cases, COCO AP."""

from __future__ import annotations

import json

import numpy as np
import pytest
from pyproj import Transformer

from detector.detections import box_corners
from detector.errors import LabelError
from detector.labels.evaluate import (
    MATCH_RADIUS_M,
    Tally,
    coco_ap,
    evaluate_dirs,
    evaluate_scene,
    format_table,
    load_containers,
    pair_files,
)
from detector.labels.match import match_centres

CRS = "EPSG:32652"
X0, Y0 = 605000.0, 4678000.0
_TO_LONLAT = Transformer.from_crs(CRS, 4326, always_xy=True)


def feature(x_m, y_m, *, kind="20ft", angle=0.3, region="yard", truth=False, tiers=1,
            visible=True, score=0.9, tiers_est=None) -> dict:  # fmt: skip
    length = 6.058 if kind == "20ft" else 12.192
    c = box_corners(np.array([x_m]), np.array([y_m]), np.array([length]), np.array([2.438]),
                    np.array([angle]))[0]  # fmt: skip
    lon, lat = _TO_LONLAT.transform(c[:, 0], c[:, 1])
    ring = [[float(a), float(b)] for a, b in zip(lon, lat, strict=True)]
    props = {"type": "container", "kind": kind, "region": region, "ship": None, "score": score,
             "tiers_est": float(tiers if tiers_est is None else tiers_est)}  # fmt: skip
    if truth:
        props.update(tiers=int(tiers), visible=bool(visible), score=1.0)
    return {"type": "Feature", "properties": props,
            "geometry": {"type": "Polygon", "coordinates": [ring + [ring[0]]]}}  # fmt: skip


def grid_truth(n_side=5, pitch=8.0, **kw) -> list[dict]:
    return [
        feature(X0 + i * pitch, Y0 + j * pitch, truth=True, **kw)
        for i in range(n_side)
        for j in range(n_side)
    ]


def as_pred(truth_feats, dx=0.0, dy=0.0) -> list[dict]:
    out = []
    for f in truth_feats:
        if not f["properties"]["visible"]:
            continue
        ring = np.asarray(f["geometry"]["coordinates"][0])
        tr = Transformer.from_crs(4326, CRS, always_xy=True)
        x, y = tr.transform(ring[:-1, 0], ring[:-1, 1])
        p = f["properties"]
        out.append(feature(np.mean(x) + dx, np.mean(y) + dy, kind=p["kind"], region=p["region"],
                           tiers=p["tiers"], angle=0.3))  # fmt: skip
    return out


def _write(path, feats, props=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "properties": props or {"crs": CRS, "gsd_m": 0.4},
                "features": feats,
            }
        )  # fmt: skip
    )


@pytest.fixture
def _sets(tmp_path):
    def make(pred_feats, truth_feats):
        _write(tmp_path / "p.geojson", pred_feats)
        _write(tmp_path / "t.geojson", truth_feats)
        return (
            load_containers(tmp_path / "p.geojson", truth=False),
            load_containers(tmp_path / "t.geojson", truth=True),
        )

    return make


def test_match_one_to_one_prefers_more_pairs_then_shorter():
    # pred 0 is closest to truth 0, but giving truth 0 to pred 1 lets both match
    pred = np.array([[0.0, 0.0], [1.0, 0.0]])
    truth = np.array([[0.5, 0.0], [-0.6, 0.0]])
    p, t, d = match_centres(pred, truth, max_dist=1.25)
    assert p.tolist() == [0, 1] and t.tolist() == [1, 0]
    np.testing.assert_allclose(d, [0.6, 0.5])
    # radius is inclusive, beyond it nothing matches
    p, t, _ = match_centres([[0, 0]], [[1.25, 0]], max_dist=1.25)
    assert len(p) == 1
    p, _, _ = match_centres([[0, 0]], [[1.3, 0]], max_dist=1.25)
    assert len(p) == 0
    assert len(match_centres(np.zeros((0, 2)), truth, max_dist=1.0)[0]) == 0


def test_match_large_random_is_one_to_one():
    rng = np.random.default_rng(0)
    truth = rng.uniform(0, 200, (3000, 2))
    pred = np.concatenate([truth + rng.normal(0, 0.4, truth.shape), rng.uniform(0, 200, (500, 2))])
    p, t, d = match_centres(pred, truth, max_dist=1.25)
    assert len(set(p.tolist())) == len(p) and len(set(t.tolist())) == len(t)
    assert np.all(d <= 1.25)
    assert len(p) > 2900


def test_perfect_prediction_scores_one(_sets):
    truth = grid_truth()
    pred, tr = _sets(as_pred(truth), truth)
    m = evaluate_scene(pred, tr)["all"].metrics()
    assert (m["precision"], m["recall"], m["f1"]) == (1.0, 1.0, 1.0)
    assert m["count_error_pct"] == 0.0 and m["teu_error_pct"] == 0.0
    assert m["kind_accuracy"] == 1.0 and m["tier_mae"] == 0.0


def test_one_missing_gives_known_recall(_sets):
    truth = grid_truth()  # 25
    pred, tr = _sets(as_pred(truth)[1:], truth)
    m = evaluate_scene(pred, tr)["all"].metrics()
    assert m["tp"] == 24 and m["fn"] == 1 and m["fp"] == 0
    assert m["recall"] == 0.96 and m["precision"] == 1.0
    assert m["f1"] == round(2 * 0.96 / 1.96, 4)
    assert m["count_error_pct"] == -4.0


def test_offset_beyond_radius_does_not_match(_sets):
    truth = grid_truth(n_side=2)
    pred, tr = _sets(as_pred(truth, dx=1.3), truth)
    m = evaluate_scene(pred, tr)["all"].metrics()
    assert m["tp"] == 0 and m["fp"] == 4 and m["fn"] == 4 and m["f1"] == 0.0
    assert m["count_error_pct"] == 0.0  # counts agree even though nothing matched
    pred, tr = _sets(as_pred(truth, dx=1.2), truth)
    assert evaluate_scene(pred, tr)["all"].tp == 4
    assert MATCH_RADIUS_M == 1.25


def test_kind_tiers_teu_hidden_and_regions(_sets):
    truth = [
        feature(X0, Y0, truth=True, kind="40ft", tiers=3, region="deck"),
        feature(X0, Y0, truth=True, kind="40ft", tiers=3, visible=False, region="deck"),
        feature(X0, Y0, truth=True, kind="40ft", tiers=3, visible=False, region="deck"),
        feature(X0 + 20, Y0, truth=True, kind="20ft", tiers=1, region="quay"),
        feature(X0 + 40, Y0, truth=True, kind="20ft", tiers=2, region="yard"),
    ]
    pred = [
        feature(X0 + 0.5, Y0, kind="20ft", tiers=2.5, region="deck"),  # wrong kind, tiers off .5
        feature(X0 + 20, Y0, kind="20ft", tiers=1.0, region="quay"),
        feature(X0 + 60, Y0, kind="20ft", tiers=1.0, region="yard"),  # false positive
    ]
    p, t = _sets(pred, truth)
    res = evaluate_scene(p, t)
    m = res["all"].metrics()
    assert (m["tp"], m["fp"], m["fn"]) == (2, 1, 1)
    assert m["kind_accuracy"] == 0.5
    assert m["tier_mae"] == 0.25
    assert m["truth_visible"] == 3 and m["truth_total"] == 5
    assert m["truth_teu"] == 4 and m["pred_teu"] == 3 and m["teu_error_pct"] == -25.0
    assert m["pred_est"] == 4.5 and m["est_error_pct"] == -10.0
    by = {r: res["by_region"][r].metrics() for r in res["by_region"]}
    assert (by["deck"]["tp"], by["deck"]["fn"], by["deck"]["truth_total"]) == (1, 0, 3)
    assert (by["yard"]["tp"], by["yard"]["fp"], by["yard"]["fn"]) == (0, 1, 1)
    assert by["rail"]["truth_visible"] == 0 and by["rail"]["recall"] is None
    assert res["region_agree"] == 2
    # recall by what the truth is (visible truths only: the hidden 40 ft tiers do not count)
    assert res["recall_by"] == {
        "kind": {"20ft": [1, 2], "40ft": [1, 1]},
        "tiers": {"1": [1, 1], "2": [0, 1], "3": [1, 1], "4+": [0, 0]},
    }


def test_tally_adds():
    a, b = Tally(tp=1, fp=2, tier_abs_err=0.5), Tally(tp=3, fn=1, tier_abs_err=1.0)
    s = a + b
    assert (s.tp, s.fp, s.fn, s.tier_abs_err) == (4, 2, 1, 1.5)


def test_coco_ap_perfect_and_shifted(_sets):
    truth = grid_truth(n_side=3)
    pred, tr = _sets(as_pred(truth), truth)
    ap = coco_ap([(pred, tr, 0.4)])
    assert ap["ap"] == pytest.approx(1.0, abs=1e-3) and ap["ap50"] == pytest.approx(1.0, abs=1e-3)
    # shifted by half a container length: boxes overlap less than 0.5
    pred2, _ = _sets(as_pred(truth, dx=3.5), truth)
    assert coco_ap([(pred2, tr, 0.4)])["ap50"] == 0.0
    empty, _ = _sets([], truth)
    assert coco_ap([(empty, tr, 0.4)]) == {"ap": 0.0, "ap50": 0.0, "ap75": 0.0}


def test_pred_in_another_utm_zone_is_reprojected(tmp_path):
    truth = grid_truth(n_side=2)
    _write(tmp_path / "t.geojson", truth)
    _write(tmp_path / "p.geojson", as_pred(truth), {"crs": "EPSG:32653"})
    t = load_containers(tmp_path / "t.geojson", truth=True)
    p = load_containers(tmp_path / "p.geojson", truth=False, crs=t.crs)
    np.testing.assert_allclose(p.x_m, t.x_m, atol=1e-3)
    assert evaluate_scene(p, t)["all"].tp == 4


def test_evaluate_dirs_pairs_both_truth_layouts(tmp_path):
    truth_a = grid_truth(n_side=3)
    truth_b = grid_truth(n_side=2, pitch=10.0)
    _write(tmp_path / "pred" / "a.detections.geojson", as_pred(truth_a))
    _write(tmp_path / "pred" / "b.detections.geojson", as_pred(truth_b)[1:])
    _write(tmp_path / "pred" / "c.detections.geojson", [])
    _write(tmp_path / "truth" / "a.geojson", truth_a)  # flat layout
    _write(tmp_path / "truth" / "truth" / "b.geojson", truth_b)  # world layout
    pairs, unpaired = pair_files(tmp_path / "pred", tmp_path / "truth")
    assert [p[0] for p in pairs] == ["a", "b"] and unpaired == ["c"]
    rep = evaluate_dirs(tmp_path / "pred", tmp_path / "truth")
    assert rep["overall"]["tp"] == 12 and rep["overall"]["fn"] == 1
    assert rep["overall"]["recall"] == round(12 / 13, 4)
    assert [s["recall"] for s in rep["scenes"]] == [1.0, 0.75]
    assert rep["unpaired"] == ["c"]
    # pooled over both scenes: 13 visible single-tier 20 ft tops, 12 found
    assert rep["recall_by"]["kind"] == {
        "20ft": {"recall": round(12 / 13, 4), "truth_visible": 13},
        "40ft": {"recall": None, "truth_visible": 0},
    }
    assert rep["recall_by"]["tiers"]["1"] == {"recall": round(12 / 13, 4), "truth_visible": 13}
    table = format_table(rep)
    assert "OVERALL" in table and "a " in table and "no truth for: c" in table
    assert "recall by true kind: 20ft 0.923 (13), 40ft - (0); by true tiers: 1 0.923 (13)" in table
    json.dumps(rep)  # JSON-ready


def test_evaluate_dirs_errors(tmp_path):
    with pytest.raises(LabelError, match="not found"):
        evaluate_dirs(tmp_path / "nope", tmp_path)
    (tmp_path / "p").mkdir()
    with pytest.raises(LabelError, match="no <scene>.detections.geojson"):
        evaluate_dirs(tmp_path / "p", tmp_path)


def test_f1_without_predictions_is_zero():
    m = Tally(fn=5, truth=5).metrics()
    assert m["precision"] is None and m["recall"] == 0.0 and m["f1"] == 0.0
    assert Tally().metrics()["f1"] is None


def test_evaluate_dirs_pools_by_the_conditions_in_the_truth_headers(tmp_path):
    from detector.labels.conditions import condition_bins

    low, high = grid_truth(n_side=3), grid_truth(n_side=2, pitch=10.0)
    _write(tmp_path / "pred" / "low.detections.geojson", as_pred(low)[3:])  # 6 of 9 found
    _write(tmp_path / "pred" / "high.detections.geojson", as_pred(high))  # 4 of 4
    _write(tmp_path / "pred" / "bare.detections.geojson", as_pred(high))
    head = {"crs": CRS, "snow": 0.0, "off_nadir_deg": 3.0}
    _write(
        tmp_path / "truth" / "low.geojson", low, {**head, "gsd_m": 0.5, "sun_elevation_deg": 22.0}
    )
    _write(
        tmp_path / "truth" / "high.geojson", high, {**head, "gsd_m": 0.3, "sun_elevation_deg": 61.5}
    )
    _write(tmp_path / "truth" / "bare.geojson", high, {"crs": CRS})  # hand labels: no conditions
    rep = evaluate_dirs(tmp_path / "pred", tmp_path / "truth")
    sun = rep["by_condition"]["sun_elevation"]
    assert list(sun) == ["<30", ">=50"]  # in bin order, empty bins left out
    assert (sun["<30"]["recall"], sun["<30"]["fn"], sun["<30"]["scenes"]) == (round(6 / 9, 4), 3, 1)
    assert (sun[">=50"]["recall"], sun[">=50"]["scenes"]) == (1.0, 1)
    assert sun["<30"]["count_error_pct"] == round(100 * (6 - 9) / 9, 2)
    assert list(rep["by_condition"]["gsd"]) == ["0.3", "0.5"]
    assert list(rep["by_condition"]["snow"]) == ["none"]
    assert rep["by_condition"]["snow"]["none"]["scenes"] == 2  # the bare header is in no split
    assert rep["overall"]["tp"] == 6 + 4 + 4
    table = format_table(rep)
    assert (
        "by sun elevation: <30 R 0.667 P 1.000 F1 0.800 count -33.33% (1 scene) | >=50 R 1.000"
        in table
    )
    assert "by gsd: 0.3 " in table and "by snow" not in table  # one bin: no split to show
    json.dumps(rep)
    # what a header gives: finite numbers only, bins by their edges
    assert condition_bins({"sun_elevation_deg": 30.0, "gsd_m": 0.35, "snow": 0.5}) == {
        "sun_elevation": "30-50", "gsd": "0.4", "snow": "snow"}  # fmt: skip
    assert condition_bins({"sun_elevation_deg": float("nan"), "snow": True, "gsd_m": "0.4"}) == {}
