"""What each export writes: Label Studio tasks and config, CVAT 1.1 XML, YOLO-OBB files,
GeoJSON label files (the round of :mod:`test_formats`)."""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from test_formats import UTM, RBox, export, make_round

from detector.review.formats.geometry import corner_distance
from detector.review.round import Round


@pytest.fixture
def rnd(tmp_path):
    make_round(tmp_path / "round")
    return Round.open(tmp_path / "round")


def test_labelstudio_export_holds_predictions_and_config(rnd, tmp_path):
    out = tmp_path / "ls"
    export(rnd, "labelstudio", out)
    tasks = json.loads((out / "tasks.json").read_text())
    assert [t["data"]["unit_id"] for t in tasks] == [0, 1, 2]  # most doubtful first
    t0 = tasks[0]
    assert t0["data"]["image"] == "/data/local-files/?d=chips/0.png"
    assert (out / "chips" / "0.png").read_bytes() == (rnd.path / "chips" / "0.png").read_bytes()
    pred = t0["predictions"][0]
    assert pred["model_version"] == "cd" * 32
    assert pred["score"] == pytest.approx(1.0)  # the unit's priority
    res = {r["id"]: r for r in pred["result"]}
    assert sorted(res) == ["c0", "c1", "c2", "c3"]  # rejected cand 4 is left out
    r1 = res["c1"]
    assert r1["type"] == "rectanglelabels" and r1["value"]["rectanglelabels"] == ["40ft"]
    assert r1["score"] == pytest.approx(0.55)
    # a 24.4 x 4.9 px box at (90, 60) turned 89.9 deg clockwise: top-left corner pivot
    a = math.radians(89.9)
    tlx = 90 - 12.2 * math.cos(a) + 2.45 * math.sin(a)
    tly = 60 - 12.2 * math.sin(a) - 2.45 * math.cos(a)
    assert r1["value"]["x"] == pytest.approx(tlx / 2.56)
    assert r1["value"]["y"] == pytest.approx(tly / 2.56)
    assert r1["value"]["width"] == pytest.approx(24.4 / 2.56)
    assert r1["value"]["rotation"] == pytest.approx(89.9)
    cfg = ET.fromstring((out / "config.xml").read_text())
    rl = cfg.find("RectangleLabels")
    assert rl.get("canRotate") == "true"
    assert [lab.get("value") for lab in rl.iter("Label")] == ["20ft", "40ft"]
    # the non-square chip of unit 2: percent of its own width and height
    r7 = {r["id"]: r for r in tasks[2]["predictions"][0]["result"]}["c7"]
    assert (r7["original_width"], r7["original_height"]) == (240, 200)
    assert r7["value"]["width"] == pytest.approx(12.1 / 2.4)
    assert r7["value"]["height"] == pytest.approx(4.9 / 2.0)


def test_cvat_export_rotation_about_the_centre(rnd, tmp_path):
    out = tmp_path / "cvat"
    export(rnd, "cvat", out)
    root = ET.parse(out / "annotations.xml").getroot()
    assert root.findtext("version") == "1.1"
    names = [lab.findtext("name") for lab in root.iter("label")]
    assert names == ["20ft", "40ft"]
    img = next(im for im in root.iter("image") if im.get("name") == "1.png")
    assert (img.get("width"), img.get("height")) == ("256", "256")
    (box,) = [b for b in img.iter("box")
              if any(a.text == "5" for a in b.iter("attribute"))]  # fmt: skip
    assert box.get("label") == "40ft"
    cx = (float(box.get("xtl")) + float(box.get("xbr"))) / 2
    cy = (float(box.get("ytl")) + float(box.get("ybr"))) / 2
    assert (cx, cy) == (pytest.approx(30.0), pytest.approx(40.0))
    assert float(box.get("xbr")) - float(box.get("xtl")) == pytest.approx(24.4)
    assert float(box.get("rotation")) == pytest.approx(90.0)
    assert (out / "images" / "1.png").is_file()


def test_yolo_obb_export_layout(rnd, tmp_path):
    import yaml

    out = tmp_path / "yolo"
    export(rnd, "yolo-obb", out)
    data = yaml.safe_load((out / "data.yaml").read_text())
    assert data["names"] == {0: "20ft", 1: "40ft"}
    assert (data["train"], data["val"]) == ("train.txt", "val.txt")
    assert (out / "train.txt").read_text().split() == ["./images/0.png", "./images/2.png"]
    assert (out / "val.txt").read_text().split() == ["./images/1.png"]
    lines = (out / "labels" / "2.txt").read_text().splitlines()
    assert [ln.split()[0] for ln in lines] == ["0", "1"]
    pts = np.array([float(v) for v in lines[0].split()[1:]]).reshape(4, 2) * [240, 200]
    assert corner_distance(pts, RBox(80.0, 90.0, 12.1, 4.9, 0.1).corners()) < 1e-6


def test_geojson_export_is_a_label_file(rnd, tmp_path):
    from detector.labels.io import read_containers

    out = tmp_path / "gj"
    export(rnd, "geojson", out)
    assert sorted(p.name for p in out.glob("*.geojson")) == ["s1.geojson", "s2.geojson"]
    data = json.loads((out / "s1.geojson").read_text())
    assert data["properties"]["scene"] == "s1" and data["properties"]["crs"] == UTM
    props = {f["properties"].get("cand_id"): f["properties"] for f in data["features"]
             if f["properties"]["type"] != "review_unit"}  # fmt: skip
    assert props[4]["type"] == "rejected" and props[3]["type"] == "candidate"
    assert props[0]["type"] == "container" and props[0]["reason"] == "near_threshold"
    assert props[6]["status"] == "added"
    units = [f["properties"] for f in data["features"] if f["properties"]["type"] == "review_unit"]
    assert [(u["unit_id"], u["split"], u["status"]) for u in units] == [
        (0, "train", "pending"), (1, "holdout", "pending")]  # fmt: skip
    table = read_containers(out / "s1.geojson")  # what ccount train --labels reads
    assert len(table) == 5  # cands 0, 1, 2 (model), 5 (model), 6 (added)
    c0 = np.asarray(rnd.candidates[0].corners)
    i = int(np.argmin(np.hypot(table.x_m - c0[:, 0].mean(), table.y_m - c0[:, 1].mean())))
    assert corner_distance(table.corners_m[i], c0) < 1e-3  # metres
