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
