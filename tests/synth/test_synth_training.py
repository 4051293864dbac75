"""training_sample: shapes, ranges, determinism, container sizes, truth on rendered pixels."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from detector.detections import CONTAINER_SIZE_M
from detector.errors import ConfigError
from detector.synth.training import SETTINGS, training_sample


@pytest.fixture(scope="module")
def samples():
    return [training_sample(s) for s in range(40)]


def test_shapes_and_ranges(samples):
    for ts in samples:
        assert ts.image.shape == (3, 256, 256) and ts.image.dtype == np.float32
        assert ts.image.min() >= 0.0 and ts.image.max() <= 1.0
        assert ts.hull_mask.shape == (256, 256) and ts.hull_mask.dtype == bool
        assert ts.bridge_mask.shape == (256, 256) and ts.bridge_mask.dtype == bool
        assert not (ts.bridge_mask & ~ts.hull_mask).sum() > 0.05 * max(ts.bridge_mask.sum(), 1)
        assert 0.3 * 0.95 <= ts.native_gsd_m <= 0.6 * 1.05
        d = ts.containers
        assert ((d.cx >= 0) & (d.cx < 256) & (d.cy >= 0) & (d.cy < 256)).all()
        assert ((d.tiers >= 1) & (d.tiers <= 4)).all()
        assert ((d.angle_rad >= 0) & (d.angle_rad < np.pi)).all()
        assert d.visible.all() and (d.score == 1).all()


def test_variety(samples):
    assert {ts.setting for ts in samples} >= {"yard", "quay", "deck"}
    assert set(SETTINGS) >= {ts.setting for ts in samples}
    counts = np.array([len(ts.containers) for ts in samples])
    assert (counts == 0).sum() >= 2  # empty and look-alike-only tiles exist
    assert counts.max() > 60  # and dense blocks
    kinds = np.concatenate([ts.containers.kind for ts in samples])
    assert (kinds == 0).sum() > 100 and (kinds == 1).sum() > 50
    assert any(ts.hull_mask.any() for ts in samples) and any(ts.bridge_mask.any() for ts in samples)
    tiers = np.concatenate([ts.containers.tiers for ts in samples])
    assert set(np.unique(tiers).astype(int)) == {1, 2, 3, 4}


def test_container_pixel_sizes(samples):
    """At 0.4 m a 20-ft box is 6.058/0.4 = 15.1 px long and 6.1 px wide; 40-ft 30.5 px."""
    for ts in samples:
        d = ts.containers
        for k, (length_m, width_m) in enumerate(CONTAINER_SIZE_M):
            sel = d.kind == k
            np.testing.assert_allclose(d.length_px[sel], length_m / 0.4, rtol=1e-6)
            np.testing.assert_allclose(d.width_px[sel], width_m / 0.4, rtol=1e-6)
    ts = training_sample(3, size_px=128, out_gsd_m=0.5)
    assert ts.image.shape == (3, 128, 128)
    if len(ts.containers):
        assert np.isin(
            np.round(ts.containers.length_px, 2), [round(6.058 / 0.5, 2), round(12.192 / 0.5, 2)]
        ).all()


def test_deterministic():
    a, b = training_sample(123), training_sample(123)
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.containers.cx, b.containers.cx)
    np.testing.assert_array_equal(a.hull_mask, b.hull_mask)
    c = training_sample(124)
    assert not np.array_equal(a.image, c.image)


def _inner_std(samples, shift_widths: float) -> float:
    """Median colour spread inside the central 70 % of each footprint moved sideways by
    ``shift_widths`` container widths."""
    import cv2

    spread = []
    for ts in samples:
        img = ts.image.transpose(1, 2, 0)
        d = ts.containers
        d = d.select((d.cx > 20) & (d.cx < 236) & (d.cy > 20) & (d.cy < 236))
        c, s = np.cos(d.angle_rad), np.sin(d.angle_rad)
        off = d.width_px * shift_widths
        moved = replace(d, cx=d.cx - s * off, cy=d.cy + c * off)
        for q in moved.corners()[:25]:
            m = np.zeros((256, 256), np.uint8)
            centre = q.mean(axis=0)
            cv2.fillConvexPoly(
                m, np.round((centre + (q - centre) * 0.7) * 16).astype(np.int32), 1, shift=4
            )
            if m.sum() >= 4:
                spread.append(img[m.astype(bool)].std(axis=0).mean())
    assert len(spread) > 300
    return float(np.median(spread))


def test_truth_lies_on_containers(samples):
    """Inside a true footprint there is one roof (low colour spread); the same box moved half
    a container width sideways straddles two roofs or roof and ground (much higher)."""
    on = _inner_std(samples, 0.0)
    off = _inner_std(samples, 0.5)
    assert on < 0.7 * off, (on, off)


def test_bad_arguments():
    with pytest.raises(ConfigError):
        training_sample(0, size_px=8)
    with pytest.raises(ConfigError):
        training_sample(0, out_gsd_m=0.0)
