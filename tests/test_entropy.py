"""Entropies against closed forms, their bias corrections, and their influence-function errors."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special

from shiftemp.dataset import Side
from shiftemp.entropy import (
    LOG_2PI_E,
    data_entropy,
    data_entropy_change,
    gaussian_entropy,
    log_det_bias,
    parameter_entropy,
    parameter_entropy_change,
    shannon_entropy,
    shrinkage_intensity,
)
from shiftemp.models import Family, Loss, Model

SIGMA = np.array([[2.0, 0.6, 0.0], [0.6, 1.0, 0.3], [0.0, 0.3, 0.5]])
NAMES = ("a", "b", "c")

pytestmark = pytest.mark.usefixtures("one_blas_thread")


def gaussian_closed_form(sigma: np.ndarray) -> float:
    return 0.5 * float(np.linalg.slogdet(2 * np.pi * np.e * sigma)[1])


def normal_sample(rng, n, sigma=SIGMA, mean=(1.0, -2.0, 5.0)):
    return rng.normal(size=(n, sigma.shape[0])) @ np.linalg.cholesky(sigma).T + mean


# -- Gaussian entropy ---------------------------------------------------------------------------


def test_gaussian_entropy_of_a_large_sample_matches_the_closed_form(rng):
    estimate = gaussian_entropy(normal_sample(rng, 200_000), NAMES)
    assert estimate.value == pytest.approx(gaussian_closed_form(SIGMA), abs=0.01)
    assert estimate.se < 0.005


def test_gaussian_entropy_of_one_column_is_half_log_2_pi_e_variance(rng):
    x = rng.normal(3.0, 2.5, size=(100_000, 1))
    assert gaussian_entropy(x, ("x",)).value == pytest.approx(0.5 * np.log(2 * np.pi * np.e * 6.25), abs=0.01)


def test_log_det_bias_is_the_wishart_expectation():
    # E ln det S - ln det Sigma for S = W_p(Sigma, n - 1) / (n - 1)
    p, n = 3, 12
    expected = p * np.log(2 / (n - 1)) + sum(special.digamma((n - i) / 2) for i in range(1, p + 1))
    assert log_det_bias(p, n) == pytest.approx(expected, rel=1e-12)
    assert log_det_bias(p, n) < 0
    assert log_det_bias(p, p + 1) == 0.0 and log_det_bias(0, 50) == 0.0
    # it vanishes with n
    assert abs(log_det_bias(p, 1_000_000)) < 1e-5


def test_log_det_bias_matches_monte_carlo():
    rng = np.random.default_rng(8)
    n, reps = 15, 4000
    samples = rng.normal(size=(reps, n, 3)) @ np.linalg.cholesky(SIGMA).T
    log_dets = [np.linalg.slogdet(np.cov(s.T))[1] for s in samples]
    bias = np.mean(log_dets) - np.linalg.slogdet(SIGMA)[1]
    assert bias == pytest.approx(log_det_bias(3, n), abs=4 * np.std(log_dets) / np.sqrt(reps))


@pytest.mark.parametrize("n", [12, 40])
def test_corrected_small_sample_estimates_are_unbiased_on_average(n):
    rng = np.random.default_rng(n)
    reps = 1500
    values, raw = [], []
    for _ in range(reps):
        X = normal_sample(rng, n)
        values.append(gaussian_entropy(X, NAMES).value)
        raw.append(0.5 * np.linalg.slogdet(2 * np.pi * np.e * np.cov(X.T))[1])
    truth = gaussian_closed_form(SIGMA)
    tolerance = 4 * np.std(values) / np.sqrt(reps)
    assert np.mean(values) == pytest.approx(truth, abs=tolerance)
    # the plug-in estimate is biased down by more than that: the correction does the work
    assert truth - np.mean(raw) > 2 * tolerance


def test_unequal_batch_sizes_of_one_distribution_give_no_entropy_change_on_average():
    """A small batch must not look hotter or colder than a large one only because it is small."""
    rng = np.random.default_rng(21)
    sigma = 0.5 * np.ones((6, 6)) + 0.5 * np.eye(6)
    names = tuple("abcdef")
    big = gaussian_entropy(normal_sample(rng, 50_000, sigma, np.zeros(6)), names).value
    small = [gaussian_entropy(normal_sample(rng, 60, sigma, np.zeros(6)), names) for _ in range(300)]
    values = np.array([s.value for s in small])
    assert np.mean(values) - big == pytest.approx(0.0, abs=4 * values.std() / np.sqrt(300) + 0.01)


def test_gaussian_entropy_is_equivariant_to_units(rng):
    X = normal_sample(rng, 500)
    base = gaussian_entropy(X, NAMES)
    scaled = gaussian_entropy(X * [1000.0, 1.0, 0.01] + [5.0, 0.0, -3.0], NAMES)
    assert scaled.value - base.value == pytest.approx(np.log(1000.0) + np.log(0.01), abs=1e-9)
    np.testing.assert_allclose(scaled.influence, base.influence, atol=1e-9)
    assert scaled.dependence == pytest.approx(base.dependence, abs=1e-9)


def test_gaussian_entropy_splits_into_marginals_and_dependence(rng):
    X = normal_sample(rng, 2000)
    estimate = gaussian_entropy(X, NAMES)
    assert set(estimate.marginals) == set(NAMES)
    assert sum(estimate.marginals.values()) + estimate.dependence == pytest.approx(estimate.value)
    for j, name in enumerate(NAMES):
        assert estimate.marginals[name] == pytest.approx(
            0.5 * np.log(2 * np.pi * np.e * SIGMA[j, j]), abs=0.05
        )
    # correlated columns: the joint entropy is below the sum of the marginals
    assert estimate.dependence < 0
    independent = gaussian_entropy(normal_sample(rng, 2000, np.diag(np.diag(SIGMA))), NAMES)
    assert abs(independent.dependence) < 0.01


def test_gaussian_entropy_survives_fewer_rows_than_columns(rng):
    X = rng.normal(size=(4, 6))
    estimate = gaussian_entropy(X, tuple("abcdef"))
    assert np.isfinite(estimate.value)
    assert np.all(np.isfinite(estimate.influence))


def test_gaussian_entropy_survives_collinear_columns(rng):
    x = rng.normal(size=500)
    X = np.column_stack([x, 2 * x + 1, rng.normal(size=500)])
    estimate = gaussian_entropy(X, NAMES)
    assert np.isfinite(estimate.value)
    # far below the independent case: the columns carry one dimension less of information
    assert estimate.value < gaussian_entropy(rng.normal(size=(500, 3)) * [1, 2, 1], NAMES).value - 1


def test_shrinkage_intensity_is_a_fraction():
    rng = np.random.default_rng(4)
    assert shrinkage_intensity(rng.normal(size=(50, 1))) == 0.0
    Z = rng.normal(size=(5, 8))
    assert 0.0 < shrinkage_intensity((Z - Z.mean(0)) / Z.std(0)) <= 1.0
    x = rng.normal(size=1000)
    Z = np.column_stack([x, x + 0.01 * rng.normal(size=1000)])
    assert shrinkage_intensity((Z - Z.mean(0)) / Z.std(0)) < 0.01


def test_gaussian_influence_standard_error_matches_monte_carlo():
    rng = np.random.default_rng(9)
    n, reps = 400, 400
    estimates = [gaussian_entropy(normal_sample(rng, n), NAMES) for _ in range(reps)]
    spread = np.std([e.value for e in estimates], ddof=1)
    assert np.mean([e.se for e in estimates]) == pytest.approx(spread, rel=0.15)


# -- Shannon entropy ----------------------------------------------------------------------------


def test_shannon_entropy_of_known_frequencies():
    counts = np.array([50, 30, 15, 5])
    codes = np.repeat(np.arange(4), counts)
    p = counts / counts.sum()
    expected = -(p * np.log(p)).sum() + (4 - 1) / (2 * 100)
    estimate = shannon_entropy(codes)
    assert estimate.value == pytest.approx(expected, rel=1e-12)
    # the influence of a row is its surprisal minus the plug-in entropy: mean zero
    assert estimate.influence.mean() == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(estimate.influence[:50], -np.log(0.5) + (p * np.log(p)).sum())


def test_shannon_entropy_of_a_uniform_large_sample_is_log_k(rng):
    codes = rng.integers(0, 6, size=200_000)
    assert shannon_entropy(codes).value == pytest.approx(np.log(6), abs=1e-3)


def test_shannon_entropy_ignores_unused_codes():
    codes = np.array([0, 0, 3, 3])
    assert shannon_entropy(codes).value == pytest.approx(np.log(2) + 1 / 8)


def test_miller_madow_correction_removes_most_of_the_small_sample_bias():
    rng = np.random.default_rng(12)
    p = np.array([0.4, 0.3, 0.2, 0.1])
    truth = -(p * np.log(p)).sum()
    corrected, plug_in = [], []
    for _ in range(3000):
        codes = rng.choice(4, size=30, p=p)
        corrected.append(shannon_entropy(codes).value)
        plug_in.append(corrected[-1] - (np.unique(codes).size - 1) / 60)
    assert abs(np.mean(corrected) - truth) < 0.01
    assert truth - np.mean(plug_in) > 0.03


def test_shannon_influence_standard_error_matches_monte_carlo():
    rng = np.random.default_rng(10)
    p = np.array([0.5, 0.25, 0.15, 0.1])
    estimates = [shannon_entropy(rng.choice(4, size=500, p=p)) for _ in range(400)]
    spread = np.std([e.value for e in estimates], ddof=1)
    assert np.mean([e.se for e in estimates]) == pytest.approx(spread, rel=0.15)


# -- data entropy of a dataset ------------------------------------------------------------------


def side(rng, n, sigma=SIGMA, shift=0.0, constant=False, probabilities=(0.5, 0.3, 0.2)):
    numeric = normal_sample(rng, n, sigma) + shift
    if constant:
        numeric[:, 2] = 7.0
    codes = rng.choice(len(probabilities), size=n, p=probabilities)
    return Side(name="s", X=numeric, y=numeric[:, 0], numeric=numeric, categorical=(codes,),
                rows_read=n, rows_dropped=0)


def test_data_entropy_adds_the_categorical_parts(rng):
    s = side(rng, 1000)
    total = data_entropy(s.numeric, NAMES, s.categorical, ("region",))
    assert total.value == pytest.approx(
        gaussian_entropy(s.numeric, NAMES).value + shannon_entropy(s.categorical[0]).value
    )
    assert set(total.marginals) == {*NAMES, "region"}
    assert total.influence.shape == (1000,)


def test_data_entropy_change_of_a_spread_column(rng):
    a = side(rng, 3000)
    b = side(rng, 3000, sigma=SIGMA * np.outer([1, 1, 2], [1, 1, 2]))  # column c twice as wide
    change = data_entropy_change(a, b, NAMES, ("region",))
    assert change.kind == "data"
    assert change.delta.value == pytest.approx(np.log(2), abs=4 * change.delta.se)
    assert change.delta.clear_of_zero
    assert change.columns[0].column == "c"
    assert change.columns[0].delta == pytest.approx(np.log(2), abs=0.1)
    deltas = [abs(c.delta) for c in change.columns]
    assert deltas == sorted(deltas, reverse=True)
    kinds = {c.column: c.kind for c in change.columns}
    assert kinds == {"a": "numeric", "b": "numeric", "c": "numeric", "region": "categorical"}
    # marginals plus the change in dependence add up to dS
    assert sum(c.delta for c in change.columns) + change.dependence == pytest.approx(
        change.delta.value, abs=1e-9
    )
    assert change.delta.se == pytest.approx(np.hypot(change.reference.se, change.shifted.se))


def test_data_entropy_change_without_a_shift_is_indistinguishable_from_zero(rng):
    change = data_entropy_change(side(rng, 2000), side(rng, 2000), NAMES, ("region",))
    assert not change.delta.clear_of_zero


def test_a_mean_shift_does_not_move_the_data_entropy(rng):
    change = data_entropy_change(side(rng, 2000), side(rng, 2000, shift=10.0), NAMES, ("region",))
    assert not change.delta.clear_of_zero


def test_a_constant_column_is_left_out_of_both_entropies(rng):
    change = data_entropy_change(side(rng, 500), side(rng, 500, constant=True), NAMES, ("region",))
    assert change.excluded == ("c",)
    assert {c.column for c in change.columns} == {"a", "b", "region"}
    assert np.isfinite(change.delta.value)


def test_categorical_entropy_change(rng):
    a = side(rng, 4000, probabilities=(0.5, 0.3, 0.2))
    b = side(rng, 4000, probabilities=(1 / 3, 1 / 3, 1 / 3))
    change = data_entropy_change(a, b, NAMES, ("region",))
    region = next(c for c in change.columns if c.column == "region")
    p = np.array([0.5, 0.3, 0.2])
    assert region.delta == pytest.approx(np.log(3) + (p * np.log(p)).sum(), abs=0.03)


# -- parameter entropy --------------------------------------------------------------------------


def linear_fit(rng, n, loss=Loss.MSE, noise=1.0):
    X = rng.normal(size=(n, 2)) * [1.0, 3.0]
    y = X @ [1.0, -0.5] + noise * (rng.standard_t(5, size=n) if loss is Loss.MAE else rng.normal(size=n))
    model = Model(Family.LINEAR, loss).fit(X, y)
    return model, model.design(X), y


def test_parameter_entropy_is_half_log_det_of_n_times_the_laplace_covariance(rng):
    model, D, y = linear_fit(rng, 300)
    n = len(y)
    C = model.laplace_covariance(model.centre_ + D[:, 1:] * model.scale_, y)
    expected = 0.5 * np.linalg.slogdet(2 * np.pi * np.e * n * C)[1]
    assert parameter_entropy(model, D, y).value == pytest.approx(expected, rel=1e-9)


def test_parameter_entropy_is_per_row_normalised(rng):
    """Per-row normalisation: a batch 10x larger from the same law has about the same entropy."""
    small = parameter_entropy(*linear_fit(rng, 2000))
    large = parameter_entropy(*linear_fit(rng, 20000))
    assert large.value == pytest.approx(small.value, abs=4 * np.hypot(small.se, large.se))


def test_parameter_entropy_grows_with_the_noise(rng):
    quiet = parameter_entropy(*linear_fit(rng, 2000, noise=1.0))
    loud = parameter_entropy(*linear_fit(rng, 2000, noise=2.0))
    # sigma^2 scales the covariance: 3 parameters gain 0.5 ln 4 each
    assert loud.value - quiet.value == pytest.approx(1.5 * np.log(4), abs=0.15)


@pytest.mark.parametrize("loss", [Loss.MSE, Loss.MAE])
def test_parameter_influence_standard_error_matches_monte_carlo(loss):
    rng = np.random.default_rng(13)
    estimates = [parameter_entropy(*linear_fit(rng, 400, loss)) for _ in range(50 if loss is Loss.MAE else 200)]
    spread = np.std([e.value for e in estimates], ddof=1)
    assert np.mean([e.se for e in estimates]) == pytest.approx(spread, rel=0.35)


@pytest.mark.parametrize("classes", [2, 3])
def test_logistic_parameter_influence_standard_error_matches_monte_carlo(classes):
    """The influence includes the move of the fitted parameters (the Fisher weights depend on
    them); the row's own Fisher information alone gives a third of the true spread."""
    rng = np.random.default_rng(14 + classes)
    W = np.array([[0.0, 1.0, -1.0], [0.0, -2.0, 0.5]])[:, :classes]
    estimates = []
    for _ in range(120 if classes == 2 else 80):
        X = rng.normal(size=(600, 2))
        P = np.exp(X @ W)
        P /= P.sum(axis=1, keepdims=True)
        y = (rng.random(600)[:, None] > np.cumsum(P, axis=1)).sum(axis=1)
        model = Model(Family.LOGISTIC, n_classes=classes).fit(X, y)
        estimates.append(parameter_entropy(model, model.design(X), y))
    spread = np.std([e.value for e in estimates], ddof=1)
    assert np.mean([e.se for e in estimates]) == pytest.approx(spread, rel=0.3)


def test_parameter_entropy_change(rng):
    old, D_old, y_old = linear_fit(rng, 1000, noise=1.0)
    new, D_new, y_new = linear_fit(rng, 1000, noise=3.0)
    change = parameter_entropy_change(old, D_old, y_old, new, D_new, y_new)
    assert change.kind == "parameters"
    assert change.delta.value == pytest.approx(1.5 * np.log(9), abs=0.3)
    assert change.delta.clear_of_zero and change.delta.se > 0
    assert change.columns == ()


def test_log_2_pi_e():
    assert LOG_2PI_E == pytest.approx(np.log(2 * np.pi) + 1)
