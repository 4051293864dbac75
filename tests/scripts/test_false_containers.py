"""scripts/false_containers.py: false containers placed by the true container nearest them."""

from __future__ import annotations

import numpy as np
from conftest import load_script


def test_false_containers_are_placed_by_their_nearest_true_container():
    fc = load_script("false_containers")
    # one row of 40-ft stacks along x, slots 2.54 m apart across (y); the slot at y = 2.54 is
    # empty, and a hidden lower tier lies under the top at y = 0
    truth = np.array([[0.0, 0.0], [0.0, 5.08], [0.0, 7.62], [0.0, 0.0]])
    axis = np.tile([1.0, 0.0], (4, 1))
    visible = np.array([True, True, True, False])
    pred = np.array([
        [0.1, 0.05],   # the top at 0: matched
        [0.0, 2.54],   # the empty slot between two stacks
        [0.0, 10.16],  # one slot past the block's last row
        [0.0, -2.5],   # one slot past the other side
        [3.0, 2.0],    # near a container, not one slot beside it
        [60.0, 60.0],  # away from any
        [0.05, 5.1],   # the top at 5.08: matched
    ])  # fmt: skip
    false, place = fc.place_false(pred, truth, axis, visible)
    assert false.tolist() == [1, 2, 3, 4, 5]
    assert place.tolist() == ["hole", "edge", "edge", "near", "far"]
    # no visible truth: every detection is false and away from any
    false, place = fc.place_false(pred[:2], truth, axis, np.zeros(4, bool))
    assert false.tolist() == [0, 1] and place.tolist() == ["far", "far"]


def test_false_containers_cli_rejects_a_bad_pair(tmp_path, capsys):
    fc = load_script("false_containers")
    assert fc.main([str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "TRUTH_DIR:PRED_DIR" in err
