"""drop_contained: a second peak inside a container's footprint goes, touching neighbours stay."""

from __future__ import annotations

import numpy as np

from detector.detections import CONTAINER_SIZE_M, Detections, drop_contained

GSD = 0.4
L20, W = (v / GSD for v in CONTAINER_SIZE_M[0])
L40 = CONTAINER_SIZE_M[1][0] / GSD


def _dets(rows):
    """rows of (cx, cy, length, width, angle, kind, score)."""
    a = np.array(rows, float)
    return Detections(
        a[:, 0], a[:, 1], a[:, 2], a[:, 3], a[:, 4], a[:, 5], a[:, 6], np.ones(len(a))
    )


def test_halves_of_a_40ft_top_are_dropped_in_any_orientation():
    for ang in (0.0, 0.7, np.pi / 2, 2.9):
        c, s = np.cos(ang), np.sin(ang)
        q = L20 / 2  # the 20 ft halves sit a quarter of the 40 ft length from its centre
        rows = [
            (100, 100, L40, W, ang, 1, 0.9),
            (100 + q * c, 100 + q * s, L20, W, ang, 0, 0.6),
            (100 - q * c, 100 - q * s, L20, W, ang, 0, 0.5),
        ]
        out = drop_contained(_dets(rows))
        assert len(out) == 1 and out.kind[0] == 1 and out.score[0] == np.float32(0.9)


def test_touching_neighbours_all_stay():
    rows, ang = [], 0.3
    for r in range(4):  # a block: 4 rows of 5 touching 20 ft tops, rotated by 0.3 rad
        for k in range(5):
            u, v = k * L20, r * W
            x = 200 + u * np.cos(ang) - v * np.sin(ang)
            y = 200 + u * np.sin(ang) + v * np.cos(ang)
            rows.append((x, y, L20 * 1.15, W * 1.15, ang, 0, 0.5 + 0.02 * k))  # 15 % too big
    d = _dets(rows)
    out = drop_contained(d)
    assert len(out) == len(d) == 20


def test_weaker_box_is_dropped_not_the_stronger_and_order_is_kept():
    rows = [
        (50, 50, L20, W, 0.0, 0, 0.5),  # inside the 40 ft below, weaker: dropped
        (10, 10, L20, W, 0.0, 0, 0.8),  # alone: kept
        (52, 50, L40, W, 0.0, 1, 0.7),
        (53, 51, L20, W, 0.0, 0, 0.95),  # stronger than the 40 ft: it drops the 40 ft
    ]
    out = drop_contained(_dets(rows))
    assert out.score.tolist() == [np.float32(0.8), np.float32(0.95)]


def test_chain_is_greedy_a_dropped_box_drops_nothing():
    # A drops B (B's centre in A); B would drop C, but B is gone, and C is outside A
    rows = [
        (0, 0, L20, W, 0.0, 0, 0.9),
        (0.35 * L20, 0, L20, W, 0.0, 0, 0.8),
        (0.7 * L20, 0, L20, W, 0.0, 0, 0.7),
    ]
    out = drop_contained(_dets(rows))
    assert out.score.tolist() == [np.float32(0.9), np.float32(0.7)]


def test_empty_and_single():
    assert len(drop_contained(Detections.empty())) == 0
    one = _dets([(1, 1, L20, W, 0, 0, 0.5)])
    assert drop_contained(one) is one


def test_one_absurdly_long_box_drops_only_what_it_covers():
    # 4000 tops on a grid 20 px apart, plus one 1e6 px long, 3 px wide box along y = 0
    gx, gy = np.meshgrid(np.arange(80) * 20.0, np.arange(50) * 20.0)
    n = gx.size
    grid = [(x, y, L20, W, 0.0, 0, 0.5) for x, y in zip(gx.ravel(), gy.ravel(), strict=True)]
    out = drop_contained(_dets([*grid, (800.0, 0.0, 1e6, 3.0, 0.0, 0, 0.99)]))
    assert len(out) == n + 1 - 80  # the 80 grid tops on y = 0 are inside it
    assert not np.any((out.cy == 0.0) & (out.score == np.float32(0.5)))


def test_peak_near_a_corner_of_the_footprint_is_dropped():
    # inside the 0.8-scaled footprint, but farther from the centre than half its length
    rows = [(0, 0, L40, W, 0.0, 1, 0.9), (0.399 * L40, 0.39 * W, L20, W, 0.0, 0, 0.5)]
    assert np.hypot(0.399 * L40, 0.39 * W) > 0.4 * L40
    assert len(drop_contained(_dets(rows))) == 1
