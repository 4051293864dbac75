"""scripts/probe_side_heights.py: the wall an off-nadir view shows is read to its foot."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import load_script

from detector.detect.profiles import box_labels
from detector.detections import Detections


def _scene(wall_px: int, wall_rgb, view_azimuth_deg: float):
    """A grey ground, one top 24 x 10 px at the centre and its wall ``wall_px`` long on the
    side towards the satellite (azimuth 180: south, down the image)."""
    img = np.full((3, 80, 80), 0.5, np.float32)
    img += np.random.default_rng(0).normal(0, 0.01, img.shape).astype(np.float32)
    img[:, 35:45, 28:52] = np.array([0.9, 0.9, 0.9], np.float32)[:, None, None]  # the top
    img[:, 45 : 45 + wall_px, 28:52] = np.asarray(wall_rgb, np.float32)[:, None, None]
    dets = Detections(np.array([40.0]), np.array([40.0]), np.array([24.0]), np.array([10.0]),
                      np.array([0.0]), np.array([1]), np.ones(1), np.ones(1))  # fmt: skip
    return img, np.ones((80, 80), bool), dets, box_labels(dets, (80, 80))


@pytest.mark.parametrize("wall_px", [3, 6])
def test_wall_length_is_read_to_its_foot(wall_px):
    probe = load_script("probe_side_heights")
    img, valid, dets, lab = _scene(wall_px, (0.7, 0.2, 0.2), 180.0)
    for chroma in (True, False):
        got = probe.wall_lengths_px(img, valid, dets, lab, 180.0, 12.0, chroma)
        assert got[0] == pytest.approx(wall_px, abs=0.6)


def test_no_wall_on_the_other_side_and_a_grey_wall_is_not_read():
    probe = load_script("probe_side_heights")
    img, valid, dets, lab = _scene(5, (0.7, 0.2, 0.2), 180.0)
    # the satellite to the north: ground right beside the top, nothing to read
    assert not np.isfinite(probe.wall_lengths_px(img, valid, dets, lab, 0.0, 12.0, False)[0])
    grey, valid, dets, lab = _scene(5, (0.5, 0.5, 0.5), 180.0)  # a wall like the ground
    assert not np.isfinite(probe.wall_lengths_px(grey, valid, dets, lab, 180.0, 12.0, True)[0])
