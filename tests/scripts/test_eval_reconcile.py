"""scripts/eval_reconcile.py: the sampling spread of the pooled shipment scores."""

from __future__ import annotations

import pytest
from conftest import load_script
from scipy import stats


def test_sampling_spread_of_sixteen_voyages():
    er = load_script("eval_reconcile")
    errs = [0.01, -0.03, 0.05, -0.07, 0.02, 0.09, -0.04, 0.06, 0.08, -0.10, 0.12, -0.02, 0.15,
            -0.06, 0.03, 0.20]  # fmt: skip
    rows = [{"err": e, "inside": abs(e) < 0.11} for e in errs]  # 13 of 16 inside
    s = er.sampling_spread(rows)
    assert s["inside"].value == pytest.approx(13 / 16)
    # 13 of 16 (81 %) is consistent with a true share inside the 85-95 % target
    assert s["inside"].low == pytest.approx(stats.beta.ppf(0.05, 13, 4))
    assert s["inside"].low < 0.85
    assert s["inside"].high == pytest.approx(stats.beta.ppf(0.95, 14, 3)) and s["inside"].high > 0.9
    m = s["median_abs_err"]
    assert m.value == pytest.approx(0.06) and m.low < 0.06 < m.high and m.high - m.low < 0.1
