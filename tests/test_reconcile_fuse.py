"""Error budgets: fusion (generalised inverse-variance), sums and imputation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from detector._fuse import Z90, Estimate, consistent, fuse, pooled_spread, predictive, total


def test_independent_fusion_is_inverse_variance_weighting():
    a = Estimate(100.0, (("a", 3.0),))
    b = Estimate(110.0, (("b", 4.0),))
    f = fuse([a, b], inflate=False)
    w = np.array([1 / 9, 1 / 16])
    assert f.value == pytest.approx((w @ [100, 110]) / w.sum())
    assert f.total_sd == pytest.approx(1 / math.sqrt(w.sum()))


def test_shared_error_does_not_shrink_when_fused():
    a = Estimate(100.0, (("a", 3.0), ("bias", 5.0)))
    b = Estimate(100.0, (("b", 3.0), ("bias", 5.0)))
    f = fuse([a, b])
    assert f.groups()["bias"] == pytest.approx(5.0)
    assert f.total_sd == pytest.approx(math.sqrt(9 / 2 + 25))


def test_disagreement_widens_the_fused_interval():
    a = Estimate(100.0, (("a", 2.0),))
    b = Estimate(140.0, (("b", 2.0),))
    f = fuse([a, b], tag="v1")
    assert f.value == pytest.approx(120.0)
    # chi2 = 40^2 / 8 = 200 with 1 dof: variance x 200
    assert f.total_sd == pytest.approx(math.sqrt(2.0 * 200))
    assert "v1:scatter" in f.groups()
    lo, hi = f.interval()
    assert lo < 100 and hi > 140


def test_sum_adds_shared_groups_linearly_and_offsets():
    a = Estimate(10.0, (("x", 1.0), ("s", 2.0)), -1.0, 3.0)
    b = Estimate(20.0, (("y", 1.0), ("s", 2.0)), -1.0, 3.0)
    t = total([a, b])
    assert t.value == 30.0
    assert t.total_sd == pytest.approx(math.sqrt(1 + 1 + 16))
    lo, hi = t.interval()
    assert lo == pytest.approx(30 - Z90 * t.total_sd - 2)
    assert hi == pytest.approx(30 + Z90 * t.total_sd + 6)


def test_interval_low_end_is_clipped_at_zero():
    assert Estimate(5.0, (("a", 100.0),)).interval()[0] == 0.0


def test_pooled_spread_and_predictive_mean():
    assert pooled_spread([], prior_sd=50) == 50
    groups = [[200.0, 210.0, 190.0], [250.0, 260.0, 240.0, 250.0]]
    ss = 200 + 200
    assert pooled_spread(groups, prior_sd=50, prior_dof=4) == pytest.approx(
        math.sqrt((ss + 4 * 2500) / (5 + 4)))  # fmt: skip
    assert pooled_spread(groups, prior_sd=0.0, prior_dof=0, floor=20) == 20
    est = predictive([], prior_mean=250, prior_mean_sd=40, spread=50, group="g")
    assert (est.value, est.total_sd) == (250, 40)
    vals = [200.0, 210.0, 190.0, 205.0, 195.0, 200.0]
    est = predictive(vals, prior_mean=250, prior_mean_sd=40, spread=8.0, group="g")
    assert 200 < est.value < 201  # the data dominate a weak prior
    assert est.total_sd == pytest.approx(1 / math.sqrt(1 / 40**2 + 6 / 64))
    assert set(est.groups()) == {"g:mean"}


def test_consistent_keeps_agreeing_estimates_and_drops_the_outlier():
    a = Estimate(250.0, (("a", 10.0),))
    b = Estimate(245.0, (("b", 10.0),))
    c = Estimate(120.0, (("c", 10.0),))
    assert consistent([a, b], prior_mean=250, prior_sd=60) == [0, 1]
    assert consistent([a, b, c], prior_mean=250, prior_sd=60) == [0, 1]
    # two that disagree: the one the prior finds less plausible goes
    assert consistent([c, a], prior_mean=250, prior_sd=60) == [1]
    assert consistent([c, a], prior_mean=100, prior_sd=30) == [0]
