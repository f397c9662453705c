"""The recommendation: significant and material energy release -> retrain (theory section 6)."""

from __future__ import annotations

import pytest

from shiftemp.decision import DEFAULT_MIN_GAIN, ShiftClass, recommend
from shiftemp.report import Z95_ONE_SIDED, Energy, Entropy, Estimate


def energy(before: float, delta: float, se: float) -> Energy:
    e = Estimate.normal
    return Energy(
        before=e(before, 0.1), after_in_sample=e(before + delta, 0.1),
        after_out_of_sample=e(before + delta, 0.1), delta_in_sample=e(delta, se),
        delta_out_of_sample=e(delta, se), reference=e(before, 0.1), folds=5,
    )


def entropy(delta: float, se: float = 0.01, kind: str = "data") -> Entropy:
    e = Estimate.normal
    return Entropy(kind=kind, reference=e(1.0, se), shifted=e(1.0 + delta, se), delta=e(delta, se))


MOVED, STILL = entropy(0.5), entropy(0.001)


@pytest.mark.parametrize(
    "dE, se, dS, shift, retrain",
    [
        (-3.0, 0.1, STILL, ShiftClass.HOT, True),      # concept shift: energy, no entropy
        (-3.0, 0.1, MOVED, ShiftClass.HOT, True),
        (-0.05, 0.01, MOVED, ShiftClass.WARM, False),  # significant, 0.5% < 1%
        (-0.05, 0.01, STILL, ShiftClass.WARM, False),
        (-0.5, 1.0, MOVED, ShiftClass.COLD, False),    # not significant, data moved
        (0.2, 0.1, MOVED, ShiftClass.COLD, False),     # refreshing hurts
        (-0.5, 1.0, STILL, ShiftClass.NONE, False),
        (0.0, 0.1, STILL, ShiftClass.NONE, False),
    ],
)
def test_shift_classes(dE, se, dS, shift, retrain):
    r = recommend(energy(10.0, dE, se), dS)
    assert r.shift_class == shift.value
    assert r.retrain is retrain
    assert r.verdict == ("retrain" if retrain else "keep")
    # one sentence
    assert r.reason.endswith(".") and r.reason.count(". ") == 0
    assert r.min_gain == DEFAULT_MIN_GAIN


def test_upper_bound_is_one_sided():
    r = recommend(energy(10.0, -1.0, 0.5), MOVED)
    assert r.delta_upper_bound == pytest.approx(-1.0 + Z95_ONE_SIDED * 0.5)
    assert r.relative_gain == pytest.approx(0.1)


def test_significance_boundary():
    # upper bound just below zero: retrain; just above: keep (significance is one-sided 95%)
    below = recommend(energy(10.0, -1.0, 1.0 / Z95_ONE_SIDED * 0.999), STILL)
    above = recommend(energy(10.0, -1.0, 1.0 / Z95_ONE_SIDED * 1.001), STILL)
    assert below.retrain and not above.retrain
    # one-sided: at se = 1 / 1.8 the two-sided interval includes 0, yet one-sided is significant
    one_sided = recommend(energy(10.0, -1.0, 1.0 / 1.8), STILL)
    assert one_sided.retrain


def test_min_gain_is_configurable():
    e = energy(10.0, -0.5, 0.01)  # 5% of E_A
    assert recommend(e, MOVED).retrain
    r = recommend(e, MOVED, min_gain=0.1)
    assert not r.retrain and r.shift_class == "warm"
    assert "10.0%" in r.reason and r.min_gain == 0.1
    assert recommend(energy(10.0, -1.0, 0.01), MOVED, min_gain=0.1).retrain  # exactly 10%


def test_zero_energy_before_has_no_gain():
    r = recommend(energy(0.0, -0.0, 0.0), STILL)
    assert r.relative_gain == 0.0 and not r.retrain


def test_reasons_say_what_happened():
    hot_still = recommend(energy(10.0, -3.0, 0.1), STILL).reason
    assert "30.0%" in hot_still and "concept shift" in hot_still
    hot_moved = recommend(energy(10.0, -3.0, 0.1), MOVED).reason
    assert "no longer at equilibrium" in hot_moved
    cold = recommend(energy(10.0, 0.0, 0.1), MOVED).reason
    assert "still at equilibrium" in cold and "data entropy" in cold
    cold_parameters = recommend(energy(10.0, 0.0, 0.1), entropy(0.5, kind="parameters")).reason
    assert "parameter entropy" in cold_parameters
