"""Error budgets: fusion (generalised inverse-variance), sums and imputation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from detector.reconcile.fuse import Z90, Estimate, combine, consistent, fuse, total


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


def test_combine_propagates_loadings_exactly():
    a = Estimate(10.0, (("x", 1.0), ("s", 2.0)), -1.0, 1.0)
    b = Estimate(20.0, (("y", 3.0), ("s", 2.0)))
    c = combine([(0.5, a), (-1.0, b)], extra=[("z", 4.0), ("x", -0.5)])
    assert c.value == pytest.approx(-15.0)
    assert c.groups() == pytest.approx({"x": 0.0, "s": -1.0, "y": -3.0, "z": 4.0})
    assert (c.add_low, c.add_high) == (-0.5, 0.5)
    assert c.total_sd == pytest.approx(math.sqrt(1 + 9 + 16))


def _vg(v, ship="Angara"):
    import datetime as dt

    from detector.labels.voyages import Voyage

    return Voyage(v, ship, dt.date(2024, 1, 1) + dt.timedelta(days=10 * v))


def test_pool_shrinks_noisy_observations_and_imputes_from_the_ship():
    from detector.reconcile.evidence import ReconcileConfig
    from detector.reconcile.pool import between_voyage_sd, pool

    cfg = ReconcileConfig(prior_per_voyage=250, prior_sd_per_voyage=50, prior_ship_mean_sd=40)
    precise = {i: (_vg(i), Estimate(230.0 + 4 * i, ((f"s{i}", 3.0),))) for i in range(1, 7)}
    out, tau = pool(precise, [_vg(9)], cfg)
    # precise observations stand; the imputed voyage takes the ship's mean with the spread
    for i in range(1, 7):
        assert out[i].value == pytest.approx(precise[i][1].value, abs=1.0)
    assert out[9].value == pytest.approx(244, abs=3)
    assert out[9].total_sd > tau * 0.9 > out[1].total_sd
    noisy = {i: (_vg(i), Estimate(v, ((f"s{i}", 60.0),)))
             for i, v in zip(range(1, 7), [150, 330, 260, 200, 300, 250], strict=True)}  # fmt: skip
    out, tau = pool(noisy, [], cfg)
    assert tau == pytest.approx(between_voyage_sd({"Angara": [e for _, e in noisy.values()]}, 50))
    assert out[1].value > 200 and out[2].value < 290  # pulled towards the ship's mean
    assert all(out[i].total_sd < 60 for i in out)
    # the shared model bias survives pooling undiminished in a total
    biased = {i: (_vg(i), Estimate(250.0, ((f"s{i}", 5.0), ("model:bias", 5.0)))) for i in (1, 2)}
    out, _ = pool(biased, [], cfg)
    assert total(out.values()).groups()["model:bias"] == pytest.approx(10.0, rel=0.05)


def test_consistent_keeps_agreeing_estimates_and_drops_the_outlier():
    a = Estimate(250.0, (("a", 10.0),))
    b = Estimate(245.0, (("b", 10.0),))
    c = Estimate(120.0, (("c", 10.0),))
    assert consistent([a, b], prior_mean=250, prior_sd=60) == [0, 1]
    assert consistent([a, b, c], prior_mean=250, prior_sd=60) == [0, 1]
    # two that disagree: the one the prior finds less plausible goes
    assert consistent([c, a], prior_mean=250, prior_sd=60) == [1]
    assert consistent([c, a], prior_mean=100, prior_sd=30) == [0]
