"""T = dE / dS, with the infinite and undefined cases explicit (theory section 3)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shiftemp.report import Z95, Estimate, Temperature
from shiftemp.temperature import temperature


def est(value, se):
    return Estimate.normal(value, se)


def test_finite_temperature_is_the_ratio_with_a_delta_method_interval():
    dE, dS = est(-0.6, 0.1), est(0.3, 0.05)
    t = temperature(dE, dS)
    assert t.status == "finite"
    assert t.value == pytest.approx(-2.0)
    se = math.hypot(0.1, -2.0 * 0.05) / 0.3
    assert (t.low, t.high) == pytest.approx((-2.0 - Z95 * se, -2.0 + Z95 * se))
    assert t.sign == -1
    assert t.describe() == "-2"


def test_positive_temperature():
    t = temperature(est(0.5, 0.1), est(-0.25, 0.05))
    assert t.status == "finite" and t.value == pytest.approx(-2.0)
    t = temperature(est(0.5, 0.1), est(0.25, 0.05))
    assert t.value == pytest.approx(2.0) and t.sign == 1


@pytest.mark.parametrize("sign", [1, -1])
def test_energy_without_entropy_is_an_infinite_temperature(sign):
    # dS indistinguishable from zero (tiny, inside its interval): never divided out
    t = temperature(est(sign * 5.0, 0.1), est(1e-12, 0.01))
    assert t.status == "infinite"
    assert t.sign == sign
    assert t.value is None and t.low is None and t.high is None
    assert t.describe() == ("+infinite" if sign > 0 else "-infinite")


def test_neither_moving_is_undefined():
    t = temperature(est(0.01, 0.1), est(0.0, 0.01))
    assert t == Temperature(status="undefined")
    assert t.describe() == "undefined"


def test_an_exactly_zero_entropy_change_never_divides():
    t = temperature(est(-1.0, 0.0), est(0.0, 0.0))
    assert t.status == "infinite" and t.sign == -1
    t = temperature(est(0.0, 0.0), est(0.0, 0.0))
    assert t.status == "undefined"


def test_a_near_zero_but_significant_entropy_change_gives_a_finite_number():
    # dS tiny but measured very precisely: the ratio is large and honest, with its interval
    t = temperature(est(-1.0, 0.01), est(1e-3, 1e-5))
    assert t.status == "finite"
    assert t.value == pytest.approx(-1000.0)
    assert t.low < t.value < t.high
    assert np.isfinite([t.low, t.high]).all()


def test_describe_uses_significant_digits():
    assert Temperature("finite", 0.0123456, 0.0, 0.1, 1).describe() == "0.01235"
    assert Temperature("finite", 0.0123456, 0.0, 0.1, 1).describe(2) == "0.012"


finite = st.floats(-1e3, 1e3, allow_nan=False)
spread = st.floats(0.0, 1e2, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(finite, spread, finite, spread)
def test_temperature_is_never_a_division_by_an_indistinguishable_entropy(e, se_e, s, se_s):
    dE, dS = est(e, se_e), est(s, se_s)
    t = temperature(dE, dS)
    with np.errstate(all="ignore"):
        ratio = np.float64(e) / np.float64(s) if s != 0 else np.inf
        se_t = np.hypot(se_e, ratio * se_s) / abs(np.float64(s)) if s != 0 else np.inf
        representable = np.isfinite([ratio, se_t, ratio - 1.96 * se_t, ratio + 1.96 * se_t]).all()
    if dS.clear_of_zero and representable:
        assert t.status == "finite"
        assert t.value == pytest.approx(e / s)
        assert t.low <= t.value <= t.high
        # |dS| > 1.96 se_S bounds the ratio by |dE| / (1.96 se_S)
        assert np.isfinite([t.value, t.low, t.high]).all()
    else:
        assert t.value is None and t.low is None and t.high is None
        assert t.status == ("infinite" if dE.clear_of_zero else "undefined")
        if t.status == "infinite":
            assert t.sign == (1 if e > 0 else -1)
