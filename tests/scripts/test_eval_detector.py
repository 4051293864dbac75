"""scripts/eval_detector.py end to end on one tiny scene (a winter one)."""

from __future__ import annotations

import json

from conftest import load_script


def test_winter_test_set_is_built_detected_and_scored(tmp_path):
    eval_detector = load_script("eval_detector")
    args = ["--out", str(tmp_path), "--ports", "rajin", "--gsds", "0.4", "--size", "400"]
    assert eval_detector.main([*args, "--snow", "0.5"]) == 0
    (scene_dir,) = (tmp_path / "truth").glob("rajin_*")
    assert scene_dir.name == "rajin_0.4_7001_snow0.5"
    truth = json.loads(next(scene_dir.glob("*.geojson")).read_text())
    assert truth["properties"]["snow"] == 0.5
    report = json.loads((tmp_path / "eval.json").read_text())
    assert report["overall"]["truth_visible"] == truth["properties"]["containers_visible"]
