"""What the review page is told: unit views in chip pixels, progress, where to resume."""

from __future__ import annotations

import numpy as np

from detector.review.view import progress, resume_unit, state_view, unit_view


def test_unit_view_in_chip_pixels(page_round):
    v = unit_view(page_round, 0)
    assert v["chip"] == {"size_px": [160, 160], "gsd_m": 0.5, "url": "chip/0.png"}
    assert v["square"] == [[16.0, 144.0], [144.0, 144.0], [144.0, 16.0], [16.0, 16.0]]
    cands = {c["cand_id"]: c for c in v["candidates"]}
    assert sorted(cands) == [0, 1, 2]
    # box 0: 6.06 m x 2.44 m centred 16 m east, 30 m south of the chip's corner + margin
    assert np.allclose(np.mean(cands[0]["corners"], axis=0), [48.0, 56.0])
    sides = np.hypot(*np.diff(np.array(cands[0]["corners"] + cands[0]["corners"][:1]), axis=0).T)
    assert np.allclose(sides, [12.12, 4.88, 12.12, 4.88])
    assert (cands[2]["source"], cands[2]["status"]) == ("peak", "pending")
    # the verifier's probability where it looked (box 1), and the threshold it accepts from
    assert [cands[k]["verify"] for k in range(3)] == [None, 0.47, None]
    assert v["verify_thresh"] == 0.36
    # unit 1's box lies in unit 0's margin: a neighbour; unit 2's does not
    assert [c["cand_id"] for c in v["neighbours"]] == [3]
    assert v["unit"]["window"] == [-16, 4, 160, 160]  # scene pixels


def test_progress_counts_decisions_changes_and_time(page_round):
    rnd = page_round
    assert progress(rnd, rnd.journal())["reviewed"] == 0
    rnd.apply({"action": "accept", "cand": 0, "seconds": 1.0})
    rnd.apply({"action": "reject", "cand": 2, "seconds": 2.0})  # a peak rejected: no change
    rnd.apply({"action": "kind", "cand": 1, "kind": "20ft", "seconds": 3.0})
    box = unit_view(rnd, 1)["candidates"][0]["corners"]
    rnd.apply({"action": "add", "unit": 1, "kind": "20ft",
               "chip_corners": (np.array(box) + [20, 20]).tolist()})  # fmt: skip
    # box 0 moved and moved back: no change
    c0 = np.array(unit_view(rnd, 0)["candidates"][0]["corners"])
    rnd.apply({"action": "move", "cand": 0, "chip_corners": (c0 + 2).tolist()})
    rnd.apply({"action": "move", "cand": 0, "chip_corners": c0.tolist()})
    p = progress(rnd, rnd.journal())
    assert p == {
        "reviewed": 3, "candidates": 5, "budget": 6, "added": 1, "units_complete": 0,
        "units": 3, "changed_share": 0.5, "seconds_per_decision": 2.0, "actions": 6,
    }  # fmt: skip


def test_resume_where_the_reviewer_was(page_round):
    rnd = page_round
    assert resume_unit(rnd, rnd.journal()) == 0  # the most doubtful unit
    rnd.apply({"action": "accept", "cand": 4})
    assert resume_unit(rnd, rnd.journal()) == 2  # the unit last worked on
    rnd.apply({"action": "complete", "unit": 2})
    assert resume_unit(rnd, rnd.journal()) == 0  # done there: the first unit not complete
    rnd.apply({"action": "complete", "unit": 0})
    assert resume_unit(rnd, rnd.journal()) == 1
    rnd.apply({"action": "complete", "unit": 1})
    state = state_view(rnd)
    assert state["resume"] == 0 and state["can_undo"] is True
    assert [u["status"] for u in state["units"]] == ["complete"] * 3
    for _ in range(4):
        rnd.undo()
    assert state_view(rnd)["can_undo"] is False
