"""scripts/eval_review.py --quick end to end: a tiny world of the unseen family (oblique), two rounds, three fine-tunes."""

from __future__ import annotations

import json

import pytest
from conftest import load_script


@pytest.mark.slow
def test_quick_review_measurement(tmp_path):
    eval_review = load_script("eval_review")
    assert eval_review.main(["--quick", "--out", str(tmp_path)]) == 0
    doc = json.loads((tmp_path / "eval_review.json").read_text())
    rows = doc["rows"]
    assert set(rows) == {"shipped", "mix", "random", "ceiling"}
    # the same random hold-out units for every row; rounds within the budget
    assert len({r["holdout_units"] for r in rows.values()}) == 1
    assert len({r["holdout_containers"] for r in rows.values()}) == 1
    from detector.review.round import Round

    budget = doc["settings"]["budget"]
    for k in ("mix", "random"):
        # the budget bounds the queue's boxes; the reviewer's additions (and a kind fixed then
        # moved: two decisions on one box) come on top
        queued = [c for c in Round.open(tmp_path / f"round_{k}").candidates.values()
                  if c.source != "reviewer"]  # fmt: skip
        assert 0 < len(queued) <= budget
        cost = rows[k]["cost"]
        assert 0 < cost["decisions"] - cost["additions"] - cost["edits"] <= len(queued)
        assert cost["by"] == ["simulated"]
    # the shipped row measures the shipped model against itself
    assert rows["shipped"]["delta_f1_ci90"] == [0.0, 0.0]
    for r in rows.values():
        assert 0.0 <= r["holdout"]["f1"] <= 1.0 and 0.0 <= r["classic"]["f1"] <= 1.0
    assert doc["classic_f1_drop"]["shipped"] == 0.0
    assert doc["fine_tune_steps"] == 3
    assert doc["family"] == "oblique" and (tmp_path / "oblique_test" / "all").is_dir()
    assert 0.0 <= rows["mix"]["shifted_test"]["f1"] <= 1.0
    assert (tmp_path / "labels_ceiling").is_dir() and (tmp_path / "mix.pt").is_file()
