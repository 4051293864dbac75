"""Stack tiers from shadows: targets, conversion, masking of unknown suns."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from detector.detections import TIER_HEIGHT_M, Detections
from detector.model.losses import collate_targets, detection_loss
from detector.model.targets import encode_targets
from detector.model.tiers import (
    TIERS_DIRECT,
    TIERS_LOG_SHADOW,
    shadow_target,
    tiers_from_output,
)


@pytest.mark.parametrize("elevation", [8.0, 21.0, 45.0, 75.0])
def test_shadow_target_round_trips_to_tiers(elevation):
    tiers = np.array([1.0, 2.0, 3.0, 4.0])
    raw = shadow_target(tiers, elevation)
    # a 1-tier stack's shadow is its height over tan(elevation)
    assert np.isclose(np.exp(raw[0]), TIER_HEIGHT_M / np.tan(np.radians(elevation)), rtol=1e-5)
    assert np.allclose(np.diff(raw), np.diff(np.log(tiers)), atol=1e-5)  # log: ratios kept
    back = tiers_from_output(raw, TIERS_LOG_SHADOW, elevation)
    assert np.allclose(back, tiers, rtol=1e-4)


def test_same_shadow_means_more_tiers_under_a_higher_sun():
    raw = shadow_target(np.array([2.0]), 20.0)  # a 2-tier shadow at 20 degrees ...
    high = tiers_from_output(raw, TIERS_LOG_SHADOW, 40.0)[0]  # ... seen with the sun at 40
    assert np.isclose(high, 2.0 * np.tan(np.radians(40)) / np.tan(np.radians(20)), rtol=1e-4)


def test_unknown_or_low_sun_gives_unknown_tiers_not_a_guess():
    assert shadow_target(np.ones(3), None) is None
    assert shadow_target(np.ones(3), 3.0) is None  # below MIN_SUN_ELEVATION_DEG
    assert np.isnan(tiers_from_output(np.zeros(3), TIERS_LOG_SHADOW, None)).all()
    assert np.isnan(tiers_from_output(np.zeros(3), TIERS_LOG_SHADOW, float("nan"))).all()
    assert np.isnan(tiers_from_output(np.zeros(3), TIERS_LOG_SHADOW, 2.0)).all()


def test_direct_output_is_clamped_and_unknown_mode_refused():
    assert tiers_from_output(np.array([0.2, 2.5]), TIERS_DIRECT, None).tolist() == [1.0, 2.5]
    with pytest.raises(ValueError, match="unknown tiers output"):
        tiers_from_output(np.zeros(1), "metres", 30.0)


def _one_container(tiers: float) -> Detections:
    return Detections(
        cx=np.array([20.3]), cy=np.array([30.7]), length_px=np.array([15.0]),
        width_px=np.array([6.0]), angle_rad=np.array([0.0]), kind=np.array([0], np.int8),
        score=np.ones(1, np.float32), tiers=np.array([tiers], np.float32),
    )  # fmt: skip


def test_targets_and_loss_mask_the_tiers_of_images_without_a_sun():
    d = _one_container(3.0)
    known = encode_targets(d, height=64, width=64, tiers_output=TIERS_LOG_SHADOW,
                           sun_elevation_deg=30.0)  # fmt: skip
    unknown = encode_targets(d, height=64, width=64, tiers_output=TIERS_LOG_SHADOW)
    direct = encode_targets(d, height=64, width=64)
    assert known.tiers_known and not unknown.tiers_known and direct.tiers_known
    cell = (0, 15, 10)  # floor(30.7 / 2), floor(20.3 / 2)
    assert np.isclose(known.tiers[cell], np.log(3 * TIER_HEIGHT_M / np.tan(np.radians(30))))
    assert direct.tiers[cell] == 3.0 and unknown.tiers[cell] == 0.0
    outputs = {
        "heatmap": torch.zeros(2, 2, 32, 32), "size": torch.zeros(2, 2, 32, 32),
        "angle": torch.zeros(2, 2, 32, 32), "offset": torch.zeros(2, 2, 32, 32),
        "tiers": torch.full((2, 1, 32, 32), 100.0), "hull": torch.zeros(2, 1, 32, 32),
        "bridge": torch.zeros(2, 1, 32, 32),
    }  # fmt: skip
    _, parts = detection_loss(outputs, collate_targets([unknown, unknown]))
    assert parts["tiers"] == 0.0  # a wildly wrong prediction costs nothing without a target
    _, parts = detection_loss(outputs, collate_targets([known, unknown]))
    assert np.isclose(parts["tiers"], 100.0 - known.tiers[cell], rtol=1e-5)
