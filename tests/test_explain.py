"""Which features carry the released energy: the path-integral decomposition (shiftemp/explain.py)."""

from __future__ import annotations

import doctest
import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

import shiftemp
from shiftemp import explain
from shiftemp.explain import INTERCEPT, explain_energy
from shiftemp.models import Family, Loss, Model
from shiftemp.report import Comparison


def _pair(rng, family, loss, n=300, classes=2, old_coef=(1.0, 1.0, 0.5), new_coef=(1.0, -1.0, 0.5),
          offset=0.0):
    """An old model fitted on one law and a refreshed one on another, on the new design."""
    X_old, X_new = rng.normal(size=(n, 3)), rng.normal(size=(n, 3))
    if family is Family.LINEAR:
        y_old = X_old @ old_coef + rng.normal(size=n)
        y_new = X_new @ new_coef + offset + rng.normal(size=n)
        old = Model(family, loss).fit(X_old, y_old)
    else:
        def draw(X, coef):
            logits = np.column_stack([np.zeros(n)] + [X @ coef * (1 + 0.5 * k) + offset
                                                       for k in range(classes - 1)])
            P = np.exp(logits - logits.max(axis=1, keepdims=True))
            P /= P.sum(axis=1, keepdims=True)
            return (rng.random(n)[:, None] > np.cumsum(P, axis=1)).sum(axis=1)

        y_old, y_new = draw(X_old, np.array(old_coef)), draw(X_new, np.array(new_coef))
        old = Model(family, loss, n_classes=classes).fit(X_old, y_old)
    D = old.design(X_new)
    refreshed = old.with_params(None).fit_design(D, y_new)
    return old, refreshed, D, y_new


CASES = [
    (Family.LINEAR, Loss.MSE, 2),
    (Family.LINEAR, Loss.MAE, 2),
    (Family.LOGISTIC, Loss.CE, 2),
    (Family.LOGISTIC, Loss.CE, 3),
]


@pytest.mark.parametrize("family, loss, classes", CASES)
def test_shares_add_up_to_the_released_energy(rng, family, loss, classes):
    old, refreshed, D, y = _pair(rng, family, loss, classes=classes)
    found = explain_energy(old, refreshed, D, y, ("a", "b", "c"))
    released = old.loss_per_row_design(D, y).mean() - refreshed.loss_per_row_design(D, y).mean()
    assert found.total == pytest.approx(released, rel=1e-12)
    assert sum(f.energy for f in found.features) == pytest.approx(found.total, rel=1e-9, abs=1e-12)
    assert abs(found.residual) <= 1e-9 * abs(found.total) + 1e-12
    assert sum(f.share for f in found.features) == pytest.approx(1.0, abs=1e-8)
    assert {f.feature for f in found.features} == {INTERCEPT, "a", "b", "c"}
    assert all(len(f.coefficient_change) == (1 if family is Family.LINEAR else classes - 1)
               for f in found.features)


@pytest.mark.parametrize("family, loss, classes", CASES)
def test_the_feature_whose_coefficient_flipped_carries_the_energy(rng, family, loss, classes):
    old, refreshed, D, y = _pair(rng, family, loss, n=2_000, classes=classes)
    found = explain_energy(old, refreshed, D, y, ("a", "b", "c"))
    assert found.features[0].feature == "b"
    assert found.features[0].share > 0.8
    energies = [abs(f.energy) for f in found.features]
    assert energies == sorted(energies, reverse=True)


def test_a_moved_mean_of_the_target_is_carried_by_the_intercept(rng):
    old, refreshed, D, y = _pair(rng, Family.LINEAR, Loss.MSE, n=2_000, new_coef=(1.0, 1.0, 0.5),
                                 offset=2.0)
    found = explain_energy(old, refreshed, D, y, ("a", "b", "c"))
    assert found.features[0].feature == INTERCEPT and found.features[0].share > 0.95
    assert found.features[0].coefficient_change[0] == pytest.approx(2.0, abs=0.15)


def test_mse_shares_are_the_quadratic_form_terms(rng):
    old, refreshed, D, y = _pair(rng, Family.LINEAR, Loss.MSE)
    found = explain_energy(old, refreshed, D, y, ("a", "b", "c"))
    delta = old.params_ - refreshed.params_
    G = D.T @ D / D.shape[0]
    gradient = -2 * D.T @ (y - D @ refreshed.params_) / D.shape[0]
    expected = dict(zip((INTERCEPT, "a", "b", "c"), delta * (gradient + G @ delta)))
    assert {f.feature: f.energy for f in found.features} == pytest.approx(expected, rel=1e-10)
    assert {f.feature: f.coefficient_change[0] for f in found.features} == pytest.approx(
        dict(zip((INTERCEPT, "a", "b", "c"), -delta)))


def test_mae_shares_match_a_fine_numerical_path_integral(rng):
    old, refreshed, D, y = _pair(rng, Family.LINEAR, Loss.MAE, n=200)
    found = explain_energy(old, refreshed, D, y, ("a", "b", "c"))
    delta = old.params_ - refreshed.params_
    t = (np.arange(20_000) + 0.5) / 20_000  # midpoint rule on the piecewise-constant gradient
    path = sum(explain.mean_gradient(old, refreshed.params_ + s * delta, D, y) for s in t) / t.size
    numeric = dict(zip((INTERCEPT, "a", "b", "c"), delta * path))
    assert {f.feature: f.energy for f in found.features} == pytest.approx(numeric, abs=1e-4)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(20, 120), scale=st.floats(0.1, 10.0))
def test_property_mse_and_mae_shares_are_exact(seed, n, scale):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2)) * scale
    for loss in (Loss.MSE, Loss.MAE):
        old = Model(Family.LINEAR, loss).fit(X, X @ [1.0, 2.0] + rng.normal(size=n))
        D = old.design(X)
        y_new = X @ [-1.0, 0.5] + rng.standard_t(3, size=n)
        refreshed = old.with_params(None).fit_design(D, y_new)
        found = explain_energy(old, refreshed, D, y_new, ("u", "v"))
        assert abs(found.residual) <= 1e-9 * max(1.0, abs(found.total))


def test_compare_reports_the_explanation_and_it_round_trips(rng):
    x = rng.normal(size=(2, 600))
    old = pd.DataFrame({"u": x[0], "v": rng.normal(size=600), "y": 2 * x[0] + rng.normal(size=600)})
    new = pd.DataFrame({"u": x[1], "v": rng.normal(size=600), "y": -2 * x[1] + rng.normal(size=600)})
    report = shiftemp.compare(old, new, target="y")
    found = report.explanation
    assert found is not None and found.features[0].feature == "u"
    assert found.total == pytest.approx(-report.energy.delta_in_sample.value, rel=1e-9)
    data = json.loads(report.to_json())
    assert [f["feature"] for f in data["explanation"]["features"]][:1] == ["u"]
    assert len(data["explanation"]["features"]) == 3  # every feature and the intercept
    assert Comparison.from_json(report.to_json()).explanation == found


def test_the_table_and_markdown_show_the_top_five(rng):
    from shiftemp import render
    from shiftemp.render import Format

    X = rng.normal(size=(800, 7))
    names = [f"f{j}" for j in range(7)]
    old = pd.DataFrame(X, columns=names).assign(y=X.sum(axis=1) + rng.normal(size=800))
    X2 = rng.normal(size=(800, 7))
    new = pd.DataFrame(X2, columns=names).assign(y=-X2.sum(axis=1) + rng.normal(size=800))
    report = shiftemp.compare(old, new, target="y")
    text = render.render_text(report, Format.TABLE, width=140)
    assert "features that carry the released energy" in text
    block = text.split("features that carry the released energy")[1].split("RETRAIN")[0]
    assert sum(name in block for name in (*names, INTERCEPT)) == 5
    md = render.markdown(report)
    assert "| feature | coefficient change | energy released (in sample) | share |" in md


def test_docstring_examples_run():
    assert doctest.testmod(explain).failed == 0


def test_mean_logistic_on_segment_matches_quadrature():
    """The binary path integral is closed-form; checked against adaptive quadrature on both
    sides of the series/difference switch, on tiny and huge slopes, and on saturated logits."""
    from scipy import integrate, special

    from shiftemp.explain import mean_logistic_on_segment

    rng = np.random.default_rng(3)
    a = np.concatenate([rng.normal(scale=5, size=100), [1.0, 1.0, 1.0, -40.0, 40.0, 0.0]])
    b = np.concatenate([10 ** rng.uniform(-6, 1.5, 100) * rng.choice([-1, 1], 100),
                        [0.0, 9.99e-3, 1.001e-2, -80.0, 80.0, 1e-9]])
    exact = np.array([
        integrate.quad(lambda t: special.expit(ai + t * bi), 0, 1, epsabs=0, epsrel=1e-13)[0]
        for ai, bi in zip(a, b)
    ])
    assert np.allclose(mean_logistic_on_segment(a, b), exact, rtol=1e-11, atol=0)


def test_segment_start_slope_is_the_derivative_in_the_segments_start():
    """Moving the start of the segment with its end fixed: against quadrature of
    ``d/da integral sigma(a + t (e - a)) dt = integral (1 - t) sigma'(...) dt``, on both sides
    of the series switch; positive everywhere."""
    from scipy import integrate, special

    from shiftemp.explain import mean_logistic_on_segment, segment_start_slope

    rng = np.random.default_rng(4)
    a = np.concatenate([rng.normal(scale=4, size=80), [1.0, 1.0, -30.0, 0.0]])
    b = np.concatenate([10 ** rng.uniform(-6, 1.2, 80) * rng.choice([-1, 1], 80),
                        [9.99e-3, 1.001e-2, 25.0, 0.0]])

    def slope(t, ai, bi):
        s = special.expit(ai + t * bi)
        return (1 - t) * s * (1 - s)

    exact = np.array([integrate.quad(slope, 0, 1, args=(ai, bi), epsabs=0, epsrel=1e-12)[0]
                      for ai, bi in zip(a, b)])
    found = segment_start_slope(mean_logistic_on_segment(a, b), special.expit(a), b)
    assert np.allclose(found, exact, rtol=1e-7, atol=1e-15)
    assert (found > 0).all()
