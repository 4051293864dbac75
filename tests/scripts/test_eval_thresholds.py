"""scripts/eval_thresholds.py: cached predictions belong to one model."""

from __future__ import annotations

from conftest import load_script


def test_a_prediction_folder_is_kept_for_the_model_that_made_it(tmp_path):
    et = load_script("eval_thresholds")
    pred = tmp_path / "work" / "test-classic_truth"
    assert et.same_model(pred, "aaaaaaaaaaaa")  # new: stamped
    assert (pred / "model.id").read_text().strip() == "aaaaaaaaaaaa"
    assert et.same_model(pred, "aaaaaaaaaaaa")
    assert not et.same_model(pred, "bbbbbbbbbbbb")  # another network: refused, not reused
    old = tmp_path / "work" / "from-before"  # a folder from before the stamp is adopted
    old.mkdir()
    (old / "x.detections.geojson").write_text("{}")
    assert et.same_model(old, "bbbbbbbbbbbb")
    assert not et.same_model(old, "aaaaaaaaaaaa")


def _collection(path, feats, truth):
    import json

    import numpy as np
    from pyproj import Transformer

    from detector.detections import box_corners

    to_ll = Transformer.from_crs("EPSG:32652", 4326, always_xy=True)
    out = []
    for x, y, score in feats:
        c = box_corners(np.array([605000.0 + x]), np.array([4678000.0 + y]), np.array([6.058]),
                        np.array([2.438]), np.array([0.0]))[0]  # fmt: skip
        lon, lat = to_ll.transform(c[:, 0], c[:, 1])
        ring = [[float(a), float(b)] for a, b in zip(lon, lat, strict=True)]
        props = {"type": "container", "kind": "20ft", "region": "yard", "score": score,
                 "tiers_est": 1.0, **({"tiers": 1, "visible": True} if truth else {})}  # fmt: skip
        out.append({"type": "Feature", "properties": props,
                    "geometry": {"type": "Polygon", "coordinates": [ring + [ring[0]]]}})  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    head = {"crs": "EPSG:32652", "gsd_m": 0.4, "sun_elevation_deg": 40.0}
    path.write_text(json.dumps({"type": "FeatureCollection", "properties": head, "features": out}))


def test_rules_are_compared_paired_with_another_runs_predictions(tmp_path, capsys, monkeypatch):
    """Two scenes of four containers; this run's predictions find all four at 0.5 and add a
    false one at 0.35, the base run's find three: at 0.39 this run is better on both scenes,
    at 0.30 its false boxes cost it; a missing base folder is an error, not a silent skip."""
    et = load_script("eval_thresholds")
    truth = tmp_path / "set" / "truth"
    xs = [(0.0, 0.0), (10.0, 0.0), (0.0, 10.0), (10.0, 10.0)]
    for s in ("a", "b"):
        _collection(truth / s / f"{s}.geojson", [(x, y, 1.0) for x, y in xs], truth=True)
        (truth / s / f"{s}.tif").write_bytes(b"")  # found by scenes_of, never read here
        _collection(tmp_path / "w" / "set_truth" / f"{s}.detections.geojson",
                    [(x, y, 0.5) for x, y in xs] + [(30.0, 30.0, 0.35)], truth=False)  # fmt: skip
        _collection(tmp_path / "b" / "set_truth" / f"{s}.detections.geojson",
                    [(x, y, 0.5) for x, y in xs[:3]], truth=False)  # fmt: skip
    (tmp_path / "w" / "set_truth" / "model.id").write_text("x\n")
    import detector.model.weights as weights

    monkeypatch.setattr(weights, "weights_id", lambda _model: "x")  # the stamp, no network
    rc = et.main(["--truth", str(truth), "--work", str(tmp_path / "w"), "--rules", "0.39",
                  "0.30", "--base-work", str(tmp_path / "b")])  # fmt: skip
    out = capsys.readouterr().out
    assert rc == 0
    lines = [ln for ln in out.splitlines() if "minus the base" in ln]
    assert len(lines) == 2
    # F1 1.0 against 6/7 = 0.857: +0.143 on every resample
    assert "F1 minus the base's +0.143 [+0.143, +0.143], higher in 100%" in lines[0]
    # 0.30: 8 true and 2 false (F1 8/9 = 0.889): still above the base, by less
    assert "F1 minus the base's +0.032" in lines[1]
    rc = et.main(["--truth", str(truth), "--work", str(tmp_path / "w"), "--rules", "0.39",
                  "--base-work", str(tmp_path / "missing")])  # fmt: skip
    assert rc == 2 and "label file not found" in capsys.readouterr().err
