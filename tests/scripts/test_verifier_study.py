"""scripts/verifier_study.py: crops centred on their boxes, labels from the truth, rules scored."""

from __future__ import annotations

import numpy as np
from conftest import load_script
from test_eval_thresholds import _collection

X0, Y0, GSD = 604990.0, 4678030.0, 0.4  # the scene's upper-left corner (EPSG:32652)
TRUE_XY = [(0.0, 0.0), (10.0, 0.0), (0.0, 10.0), (10.0, 10.0)]  # offsets from 605000, 4678000


def _scene(path):
    import rasterio
    from rasterio.transform import from_origin

    img = np.full((3, 128, 128), 40, np.uint8)
    for x, y in [*TRUE_XY, (20.0, 20.0)]:  # the false detection's spot holds a box too
        col = (605000.0 + x - X0) / GSD
        row = (Y0 - 4678000.0 - y) / GSD
        img[:, round(row - 3) : round(row + 3), round(col - 7.5) : round(col + 7.5)] = 220
    path.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(path, "w", driver="GTiff", width=128, height=128, count=3, dtype="uint8",
                       crs="EPSG:32652", transform=from_origin(X0, Y0, GSD, GSD)) as ds:  # fmt: skip
        ds.write(img)


def _train_and_eval(vs, crops, tmp_path, capsys, rules: list[str]) -> str:
    """A few training steps on ``crops``, then ``eval`` at ``rules``: what it printed."""
    model = tmp_path / "v.pt"
    assert vs.main(["train", "--crops", str(crops), "--out", str(model), "--steps", "3",
                    "--batch", "4", "--threads", "1"]) == 0  # fmt: skip
    capsys.readouterr()
    assert vs.main(["eval", "--model", str(model), "--crops", str(crops), "--rules", *rules]) == 0
    return capsys.readouterr().out


def test_crops_labels_training_and_rules(tmp_path, capsys):
    vs = load_script("verifier_study")
    truth = tmp_path / "set" / "truth"
    _scene(truth / "a" / "a.tif")
    _collection(truth / "a" / "a.geojson", [(x, y, 1.0) for x, y in TRUE_XY], truth=True)
    _collection(tmp_path / "w" / "set_truth" / "a.detections.geojson",
                [(x, y, 0.5) for x, y in TRUE_XY] + [(20.0, 20.0, 0.35)], truth=False)  # fmt: skip
    crops = tmp_path / "c.npz"
    assert vs.main(["crops", "--truth", str(truth), "--work", str(tmp_path / "w"),
                    "--out", str(crops)]) == 0  # fmt: skip
    d = np.load(crops)
    assert d["x"].shape == (5, 3, 32, 64)
    assert d["label"].tolist() == [True, True, True, True, False]
    assert np.allclose(d["score"], [0.5, 0.5, 0.5, 0.5, 0.35])
    # each crop is centred on its box, long side along x: 15 x 6 px of bright box
    centre = d["x"][:, :, 13:19, 26:38].mean(axis=(1, 2, 3))
    assert (centre > 200).all()
    for row, col in ((16, 22), (16, 42), (4, 32), (28, 32)):  # 4 m along, 4.8 m across: ground
        assert (d["x"][:, :, row, col] < 100).all()

    out = _train_and_eval(vs, crops, tmp_path, capsys, ["0.39", "0.3", "0.3:1.0"])
    lines = {ln.split(": F1")[0].strip(): ln for ln in out.splitlines() if ": F1" in ln}
    assert "F1 1.000" in lines["0.39"]  # the four true boxes
    assert "F1 0.889" in lines["0.3"]  # and the false one: 8 / 9
    assert "F1 0.000" in lines["0.3:1.0"]  # no probability reaches 1: nothing kept


def test_look_alike_scenes_count_the_boxes_each_rule_keeps(tmp_path, capsys):
    vs = load_script("verifier_study")
    _scene(tmp_path / "look" / "depot.tif")
    _collection(tmp_path / "pred" / "depot.detections.geojson",
                [(0.0, 0.0, 0.5), (10.0, 10.0, 0.35)], truth=False)  # fmt: skip
    crops = tmp_path / "n.npz"
    assert vs.main(["crops", "--negatives", str(tmp_path / "look"), "--pred",
                    str(tmp_path / "pred"), "--out", str(crops)]) == 0  # fmt: skip
    d = np.load(crops)
    assert d["x"].shape == (2, 3, 32, 64) and not d["label"].any()
    out = _train_and_eval(vs, crops, tmp_path, capsys, ["0.3", "0.39", "0.3:1.0"])
    assert "0.3: 2.00 false containers a scene  (depot 2.00)" in out
    assert "0.39: 1.00 false containers a scene" in out
    assert "0.3:1.0: 0.00 false containers a scene" in out
