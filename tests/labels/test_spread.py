"""Sampling spread of pooled scores: bootstrap over scenes or voyages, exact binomial shares."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from detector.labels.evaluate import Tally
from detector.labels.spread import (
    median_interval,
    paired_f1_difference,
    scene_intervals,
    share_interval,
)


def _scenes(seed: int, n: int = 12) -> list[Tally]:
    rng = np.random.default_rng(seed)
    return [Tally(tp=int(t), fp=int(f), fn=int(m))
            for t, f, m in zip(rng.integers(50, 500, n), rng.integers(0, 60, n),
                               rng.integers(0, 60, n), strict=True)]  # fmt: skip


def test_scene_intervals_hold_the_pooled_value_and_vanish_when_scenes_agree():
    iv = scene_intervals(_scenes(1))
    tp, fp, fn = (sum(getattr(t, k) for t in _scenes(1)) for k in ("tp", "fp", "fn"))
    assert iv["f1"].value == pytest.approx(2 * tp / (2 * tp + fp + fn))
    assert iv["count_error_pct"].value == pytest.approx(100 * (fp - fn) / (tp + fn))
    for v in iv.values():
        assert v.low < v.value < v.high
    same = scene_intervals([Tally(tp=90, fp=10, fn=10)] * 12)  # every scene alike: no spread
    assert same["f1"].low == pytest.approx(0.9) and same["f1"].high == pytest.approx(0.9)
    # a quarter as many scenes: a wider interval
    few = scene_intervals(_scenes(1, n=48)[:3])
    many = scene_intervals(_scenes(1, n=48))
    assert few["f1"].high - few["f1"].low > many["f1"].high - many["f1"].low


def test_a_paired_difference_sees_a_small_gain_that_the_scenes_spread_would_hide():
    base = _scenes(2)
    better = [Tally(tp=t.tp + 3, fp=t.fp, fn=t.fn - min(3, t.fn)) for t in base]
    d, wins = paired_f1_difference(base, better)
    alone = scene_intervals(base)["f1"]
    assert d.value > 0 and d.low > 0 and wins == 1.0
    assert d.value < alone.high - alone.low  # smaller than the unpaired interval's width
    back, wins_back = paired_f1_difference(better, base)
    assert back.value == pytest.approx(-d.value) and back.high < 0 and wins_back == 0.0
    with pytest.raises(ValueError, match="same scenes"):
        paired_f1_difference(base, better[:-1])


def test_share_interval_is_the_exact_clopper_pearson_one():
    iv = share_interval(13, 16)
    assert iv.value == pytest.approx(13 / 16)
    assert iv.low == pytest.approx(stats.beta.ppf(0.05, 13, 4))
    assert iv.high == pytest.approx(stats.beta.ppf(0.95, 14, 3))
    assert share_interval(16, 16).high == 1.0
    with pytest.raises(ValueError):
        share_interval(0, 0)


def test_median_interval_covers_the_true_median_about_as_often_as_it_says():
    rng = np.random.default_rng(7)
    true_median = np.log(2.0)  # of an exponential with rate 1: |errors| are skewed like it
    hits = []
    for k in range(120):
        iv = median_interval(rng.exponential(size=40), seed=k)
        assert iv.low <= iv.value <= iv.high
        hits.append(iv.low <= true_median <= iv.high)
    assert 0.80 <= np.mean(hits) <= 0.97
