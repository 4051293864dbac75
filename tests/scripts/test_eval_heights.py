"""scripts/eval_heights.py: the summary splits the error by what each height rests on."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import load_script


def test_summary_splits_the_error_by_basis():
    ev = load_script("eval_heights")
    rows = [
        dict(truth=3.0, est=3.0, low=2.0, high=3.0, source="shadow", reason="", basis="shadow"),
        dict(truth=2.0, est=3.0, low=3.0, high=4.0, source="shadow", reason="", basis="shadow"),
        dict(truth=3.0, est=3.0, low=2.5, high=3.5, source="prior", reason="occluded",
             basis="block"),
        dict(truth=1.0, est=1.0, low=1.0, high=1.0, source="prior", reason="occluded",
             basis="rail"),
        dict(truth=4.0, est=2.5, low=1.0, high=4.0, source="prior", reason="occluded",
             basis="stowage"),
        dict(truth=1.0, est=2.5, low=1.0, high=4.0, source="prior", reason="unknown_base",
             basis="stowage"),
        dict(truth=2.0, est=3.0, low=2.0, high=4.0, source="prior", reason="occluded",
             basis="step"),
    ]  # fmt: skip
    s = ev.summarise(rows)
    # [stacks, MAE, 90 % cover]: the second shadow stack's 3..4 misses its truth 2
    assert s["by_basis"] == {"shadow": [2, 0.5, 0.5], "step": [1, 1.0, 1.0],
                             "block": [1, 0.0, 1.0], "rail": [1, 0.0, 1.0],
                             "stowage": [2, 1.5, 1.0]}  # fmt: skip
    assert list(s["by_basis"]) == ["shadow", "step", "block", "rail", "stowage"]
    assert s["mae"] == pytest.approx(np.mean([0, 1, 0, 0, 1.5, 1.5, 1]))
    assert s["coverage90"] == pytest.approx(6 / 7)  # the second: 2 tiers outside 3..4


def test_summary_splits_the_error_by_region():
    ev = load_script("eval_heights")

    def row(truth, est, source, region):
        return dict(truth=truth, est=est, low=1.0, high=4.0, source=source, reason="",
                    net=2.0, region=region)  # fmt: skip

    rows = [row(1.0, 2.5, "prior", "deck"), row(1.0, 2.5, "prior", "deck"),
            row(3.0, 3.0, "shadow", "yard"), row(2.0, 3.0, "prior", "yard")]  # fmt: skip
    s = ev.summarise(rows)
    # [stacks, MAE, mean truth, mean estimate, share measured]
    assert s["by_region"] == {"deck": [2, 1.5, 1.0, 2.5, 0.0], "yard": [2, 0.5, 2.5, 3.0, 0.5]}
    assert s["factor_heights_by_region"] == {"deck": 0.4, "yard": round(5 / 6, 3)}


def test_scenes_outside_the_sun_range_are_skipped_before_rendering(tmp_path):
    ev = load_script("eval_heights")
    # rajin seed 82004 is acquired 2024-12-30 01:37 UTC: a 20.3-degree sun (its render says so)
    assert 20.0 < ev.spec_sun("rajin", 82004) < 20.6
    assert ev.render("classic", "rajin", 82004, tmp_path, sun=(30.0, 70.0)) is None
    assert not any(tmp_path.rglob("*.tif"))  # nothing rendered
