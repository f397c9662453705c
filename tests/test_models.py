"""The model families against closed forms and scikit-learn / scipy references."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import optimize
from sklearn.linear_model import LinearRegression, LogisticRegression, QuantileRegressor

from shiftemp.errors import OptionError
from shiftemp.models import (
    DEFAULT_RIDGE,
    Family,
    Loss,
    Model,
    augmented_gram,
    check_loss,
    cross_entropy_per_row,
    design,
    laplace_covariance,
    solve_least_squares,
    standardisation,
)

pytestmark = pytest.mark.usefixtures("one_blas_thread")


def linear_data(rng, n=400, d=4, noise=1.0):
    X = rng.normal(size=(n, d)) * [1.0, 10.0, 0.1, 3.0][:d] + [5.0, -2.0, 0.0, 100.0][:d]
    y = X @ np.linspace(1.0, -1.0, d) + 3.0 + noise * rng.normal(size=n)
    return X, y


# -- options ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "family, loss, expected",
    [
        (Family.LINEAR, None, Loss.MSE),
        (Family.LINEAR, Loss.MAE, Loss.MAE),
        (Family.LOGISTIC, None, Loss.CE),
        (Family.LOGISTIC, Loss.CE, Loss.CE),
    ],
)
def test_check_loss_defaults_and_accepts(family, loss, expected):
    assert check_loss(family, loss) is expected


@pytest.mark.parametrize(
    "family, loss, hint",
    [(Family.LINEAR, Loss.CE, "--loss mse|mae"), (Family.LOGISTIC, Loss.MSE, "--loss ce")],
)
def test_check_loss_refuses_a_combination_with_the_fix(family, loss, hint):
    with pytest.raises(OptionError, match=f"--loss {loss.value} does not go with") as caught:
        check_loss(family, loss)
    assert hint in str(caught.value)


def test_model_takes_the_family_default_ridge():
    assert Model(Family.LINEAR).ridge == DEFAULT_RIDGE[Family.LINEAR]
    assert Model(Family.LOGISTIC).ridge == DEFAULT_RIDGE[Family.LOGISTIC]
    assert Model(Family.LOGISTIC).loss is Loss.CE


# -- standardisation ----------------------------------------------------------------------------


def test_standardisation_maps_constant_columns_to_zero():
    X = np.array([[1.0, 7.0], [3.0, 7.0], [5.0, 7.0]])
    centre, scale = standardisation(X)
    np.testing.assert_allclose(centre, [3.0, 7.0])
    np.testing.assert_allclose(scale, [np.std([1, 3, 5]), 1.0])
    D = design(X, centre, scale)
    np.testing.assert_allclose(D[:, 0], 1.0)
    np.testing.assert_allclose(D[:, 2], 0.0)
    np.testing.assert_allclose(D[:, 1].mean(), 0.0, atol=1e-15)
    np.testing.assert_allclose(D[:, 1].std(), 1.0)


def test_fit_with_given_standardisation_uses_it(rng):
    X, y = linear_data(rng)
    centre, scale = X.mean(axis=0) + 1.0, X.std(axis=0) * 2.0
    model = Model(Family.LINEAR, ridge=0.0, centre=centre, scale=scale).fit(X, y)
    np.testing.assert_array_equal(model.centre_, centre)
    np.testing.assert_array_equal(model.scale_, scale)
    # without a ridge, the fitted values do not depend on the coordinates
    free = Model(Family.LINEAR, ridge=0.0).fit(X, y)
    np.testing.assert_allclose(model.predict(X), free.predict(X), rtol=1e-9, atol=1e-9)


# -- least squares: refit identities ------------------------------------------------------------


def test_least_squares_gram_kernel_matches_lstsq(rng):
    X, y = linear_data(rng)
    D = design(X, *standardisation(X))
    b = solve_least_squares(augmented_gram(D, y), D.shape[0], ridge=0.0)
    expected, *_ = np.linalg.lstsq(D, y, rcond=None)
    np.testing.assert_allclose(b, expected, rtol=1e-10, atol=1e-12)


def test_ols_in_sample_residuals_are_orthogonal_to_the_design(rng):
    X, y = linear_data(rng)
    model = Model(Family.LINEAR, Loss.MSE, ridge=0.0).fit(X, y)
    D = model.design(X)
    r = y - D @ model.params_
    scale = np.sqrt((D ** 2).sum(axis=0) * (r ** 2).sum())
    np.testing.assert_allclose(D.T @ r / scale, 0.0, atol=1e-12)


def test_ridge_normal_equations_hold_with_the_default_ridge(rng):
    """With the tiny ridge, D'r = n ridge/2 b, the intercept unpenalised (so sum r = 0)."""
    X, y = linear_data(rng)
    model = Model(Family.LINEAR, Loss.MSE).fit(X, y)
    D, b = model.design(X), model.params_
    r = y - D @ b
    n = len(y)
    assert abs(r.sum()) < 1e-10 * np.abs(y).sum()
    penalty = 0.5 * n * model.ridge * b
    penalty[0] = 0.0
    np.testing.assert_allclose(D.T @ r, penalty, rtol=1e-4, atol=1e-9 * np.abs(D.T @ y).max())


def test_in_sample_energy_is_rss_over_n_and_matches_sklearn(rng):
    X, y = linear_data(rng)
    model = Model(Family.LINEAR, Loss.MSE).fit(X, y)
    energy = model.loss_per_row(X, y).mean()
    r = y - model.predict(X)
    assert energy == pytest.approx(float(r @ r) / len(y), rel=1e-12)
    reference = LinearRegression().fit(X, y)
    sk_energy = np.mean((y - reference.predict(X)) ** 2)
    assert energy == pytest.approx(sk_energy, rel=1e-9)
    # and the Gram-matrix kernel alone, the path the cross-fitting and streaming use
    D = model.design(X)
    b = solve_least_squares(augmented_gram(D, y), len(y), model.ridge)
    assert np.mean((y - D @ b) ** 2) == pytest.approx(sk_energy, rel=1e-9)


def test_refit_lowers_the_in_sample_energy(rng):
    """E_B (refit on the new data) <= E_A (old model on the new data), in sample."""
    X_old, y_old = linear_data(rng)
    X_new, y_new = linear_data(rng)
    y_new = y_new + 0.5 * X_new[:, 0]
    old = Model(Family.LINEAR).fit(X_old, y_old)
    refreshed = old.with_params(None).fit_design(old.design(X_new), y_new)
    assert refreshed.loss_per_row(X_new, y_new).mean() <= old.loss_per_row(X_new, y_new).mean()
    # a second refit on the same data cannot lower it further
    again = refreshed.with_params(None).fit_design(refreshed.design(X_new), y_new)
    assert again.loss_per_row(X_new, y_new).mean() == pytest.approx(
        refreshed.loss_per_row(X_new, y_new).mean(), rel=1e-12
    )


def test_with_params_keeps_the_standardisation(rng):
    X, y = linear_data(rng)
    model = Model(Family.LINEAR).fit(X, y)
    other = model.with_params(np.zeros_like(model.params_))
    np.testing.assert_array_equal(other.centre_, model.centre_)
    np.testing.assert_allclose(other.loss_per_row(X, y), y ** 2)
    assert model.params_.any()  # the original is untouched


def test_laplace_covariance_of_least_squares_is_sigma2_inverse_gram(rng):
    X, y = linear_data(rng)
    model = Model(Family.LINEAR, ridge=0.0).fit(X, y)
    D = model.design(X)
    r = y - D @ model.params_
    sigma2 = r @ r / (len(y) - D.shape[1])
    np.testing.assert_allclose(
        model.laplace_covariance(X, y), sigma2 * np.linalg.inv(D.T @ D), rtol=1e-10
    )


def test_laplace_covariance_matches_the_monte_carlo_spread_of_the_fit():
    rng = np.random.default_rng(11)
    n, reps = 200, 400
    X = rng.normal(size=(n, 2))
    centre, scale = standardisation(X)
    fits, covariances = [], []
    for _ in range(reps):
        y = X @ [1.0, -1.0] + 2.0 * rng.normal(size=n)
        model = Model(Family.LINEAR, centre=centre, scale=scale).fit(X, y)
        fits.append(model.params_)
        covariances.append(model.laplace_covariance(X, y))
    spread = np.cov(np.array(fits).T)
    np.testing.assert_allclose(np.diag(spread), np.diag(np.mean(covariances, axis=0)), rtol=0.2)


# -- least absolute deviations ------------------------------------------------------------------


def lad_linprog(D, y):
    """LAD by linear programming: min sum(u + v) s.t. D b + u - v = y, u, v >= 0."""
    n, p = D.shape
    c = np.concatenate([np.zeros(p), np.ones(2 * n)])
    A = np.hstack([D, np.eye(n), -np.eye(n)])
    bounds = [(None, None)] * p + [(0, None)] * (2 * n)
    result = optimize.linprog(c, A_eq=A, b_eq=y, bounds=bounds, method="highs")
    assert result.success
    return result.x[:p]


def test_least_absolute_fit_matches_linprog_and_quantile_regression():
    rng = np.random.default_rng(3)
    n = 300
    X = rng.normal(size=(n, 3)) * [1.0, 5.0, 0.2]
    y = X @ [1.0, 0.3, -4.0] + rng.standard_t(df=2, size=n)
    model = Model(Family.LINEAR, Loss.MAE).fit(X, y)
    D = model.design(X)
    ours = np.mean(np.abs(y - D @ model.params_))
    exact = lad_linprog(D, y)
    best = np.mean(np.abs(y - D @ exact))
    # iteratively reweighted least squares stalls within ~1e-6 of the optimum; say 1e-5
    assert best <= ours <= best * (1 + 1e-5)
    np.testing.assert_allclose(model.params_, exact, atol=2e-2)
    quantile = QuantileRegressor(quantile=0.5, alpha=0.0, solver="highs").fit(X, y)
    assert model.loss_per_row(X, y).mean() == pytest.approx(
        np.mean(np.abs(y - quantile.predict(X))), rel=1e-5
    )


def test_mae_loss_is_absolute_residual(rng):
    X, y = linear_data(rng, n=50)
    model = Model(Family.LINEAR, Loss.MAE).fit(X, y)
    np.testing.assert_allclose(model.loss_per_row(X, y), np.abs(y - model.predict(X)))


# -- logistic -----------------------------------------------------------------------------------


def test_binary_logistic_matches_sklearn_with_the_same_penalty():
    rng = np.random.default_rng(5)
    n = 500
    X = rng.normal(size=(n, 3)) * [1.0, 3.0, 0.5]
    logit = X @ [1.0, -0.3, 2.0] + 0.4
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    ridge = 1e-3
    model = Model(Family.LOGISTIC, ridge=ridge).fit(X, y)
    D = model.design(X)
    # ours: mean CE + ridge/2 |B|^2 with the intercept penalised: sklearn on the design D
    # without its own intercept, C = 1 / (n ridge)
    sk = LogisticRegression(C=1.0 / (n * ridge), fit_intercept=False, tol=1e-12, max_iter=10_000)
    sk.fit(D, y)
    np.testing.assert_allclose(model.params_[:, 0], sk.coef_[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        model.loss_per_row(X, y), -np.log(sk.predict_proba(D)[np.arange(n), y]), rtol=1e-5
    )


def test_multiclass_logistic_matches_sklearn_probabilities():
    rng = np.random.default_rng(6)
    n, k = 900, 3
    X = rng.normal(size=(n, 2))
    logits = X @ np.array([[0.0, 1.5, -1.0], [0.0, -0.5, 2.0]])
    P = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = (rng.random(n)[:, None] > np.cumsum(P, axis=1)).sum(axis=1)
    model = Model(Family.LOGISTIC, ridge=1e-8, n_classes=k).fit(X, y)
    assert model.params_.shape == (3, k - 1)
    sk = LogisticRegression(C=1e8, tol=1e-12, max_iter=10_000).fit(X, y)
    D = model.design(X)
    ours = np.exp(-np.array([cross_entropy_per_row(D, model.params_, np.full(n, c)) for c in range(k)]).T)
    np.testing.assert_allclose(ours.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(ours, sk.predict_proba(X), atol=1e-4)
    assert model.loss_per_row(X, y).mean() == pytest.approx(
        -np.mean(np.log(sk.predict_proba(X)[np.arange(n), y])), rel=1e-5
    )
    np.testing.assert_array_equal(model.predict(X), sk.predict(X))


def test_logistic_keeps_finite_parameters_on_separable_data():
    X = np.array([[-2.0], [-1.0], [1.0], [2.0]])
    y = np.array([0, 0, 1, 1])
    model = Model(Family.LOGISTIC).fit(X, y)
    assert np.all(np.isfinite(model.params_))
    assert model.loss_per_row(X, y).max() < 0.1


def test_logistic_with_a_class_absent_from_the_data_keeps_finite_logits(rng):
    X = rng.normal(size=(100, 2))
    y = (X[:, 0] > 0).astype(int)  # classes 0 and 1 of K = 3
    model = Model(Family.LOGISTIC, n_classes=3).fit(X, y)
    assert model.params_.shape == (3, 2)
    assert np.all(np.isfinite(model.params_))
    assert np.all(np.isfinite(model.loss_per_row(X, np.full(100, 2))))


def test_cross_entropy_is_stable_for_huge_logits():
    D = np.array([[1.0, 1000.0], [1.0, -1000.0]])
    B = np.array([[0.0], [1.0]])
    loss = cross_entropy_per_row(D, B, np.array([0, 0]))
    np.testing.assert_allclose(loss, [1000.0, 0.0], atol=1e-12)


def test_logistic_laplace_covariance_is_inverse_fisher(rng):
    X = rng.normal(size=(300, 2))
    y = (rng.random(300) < 1 / (1 + np.exp(-X[:, 0]))).astype(int)
    model = Model(Family.LOGISTIC, ridge=0.0).fit(X, y)
    D = model.design(X)
    p = 1 / (1 + np.exp(-(D @ model.params_[:, 0])))
    fisher = (D.T * (p * (1 - p))) @ D
    np.testing.assert_allclose(laplace_covariance(model, D, y), np.linalg.inv(fisher), rtol=1e-8)


def test_family_and_loss_given_as_strings_fit_what_they_name(rng):
    """They are str enums: "mse" passed every check, then matched no loss where the solvers
    are told apart, and MAE was fitted (a logistic model given as "logistic" fitted least
    squares)."""
    X, y = linear_data(rng)
    assert np.array_equal(Model(loss="mse").fit(X, y).params_,
                          Model(loss=Loss.MSE).fit(X, y).params_)
    assert not np.allclose(Model(loss="mse").fit(X, y).params_,
                           Model(loss=Loss.MAE).fit(X, y).params_)
    codes = (y > np.median(y)).astype(int)
    model = Model("logistic").fit(X, codes)
    assert model.family is Family.LOGISTIC and set(np.unique(model.predict(X))) <= {0, 1}


@pytest.mark.parametrize("options", [{"ridge": -1.0}, {"ridge": float("nan")},
                                     {"n_classes": 1}, {"family": "quadratic"}])
def test_model_refuses_impossible_settings(options):
    with pytest.raises(ValueError):
        Model(**options)


def test_model_follows_scikit_learns_parameter_conventions(rng):
    from sklearn.base import clone

    from shiftemp.models import NotFittedError

    model = Model(loss="mae", ridge=0.25)
    assert model.get_params() == {"family": Family.LINEAR, "loss": Loss.MAE, "ridge": 0.25,
                                  "centre": None, "scale": None, "n_classes": None}
    copy = clone(model)
    assert copy is not model and copy.get_params() == model.get_params()
    assert model.set_params(loss="mse").loss is Loss.MSE
    with pytest.raises(ValueError, match="no parameter 'alpha'"):
        model.set_params(alpha=1.0)
    with pytest.raises(NotFittedError, match="not fitted"):
        Model().predict(np.zeros((3, 2)))


def test_model_fits_frames_and_refuses_missing_values(rng):
    import pandas as pd

    X, y = linear_data(rng)
    framed = Model().fit(pd.DataFrame(X), pd.Series(y)).params_
    assert np.allclose(framed, Model().fit(X, y).params_, rtol=1e-12, atol=0)  # layout: last bits
    X[3, 1] = np.nan
    with pytest.raises(ValueError, match="finite"):
        Model().fit(X, y)
    with pytest.raises(ValueError, match=r"X must be \(n, d\)"):
        Model().fit(X[:, 0], y)


def test_least_absolute_deviations_on_a_constant_column_warn_nothing(rng):
    """A constant feature standardises to a zero column that only the ridge holds up: scipy
    warned of an ill-conditioned matrix at every IRLS step (hundreds of stderr lines)."""
    import warnings

    X, y = linear_data(rng, n=120)
    X = np.column_stack([X, np.full(len(X), 3.0)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        params = Model(loss=Loss.MAE).fit(X, y).params_
    assert np.isfinite(params).all() and abs(params[-1]) < 1e-6


def test_logistic_codes_are_checked_and_set_params_changes_nothing_it_refuses(rng):
    from shiftemp.errors import OptionError

    X, y = linear_data(rng)
    with pytest.raises(ValueError, match="class codes"):
        Model("logistic").fit(X, np.array(["a", "b"] * (len(X) // 2)))
    with pytest.raises(ValueError, match="beyond n_classes = 2"):
        Model("logistic", n_classes=2).fit(X, np.arange(len(X)) % 3)
    model = Model()
    with pytest.raises(OptionError, match="--loss mse does not go with --model logistic"):
        model.set_params(family="logistic", loss="mse")
    assert (model.family, model.loss) == (Family.LINEAR, Loss.MSE)
    assert model.set_params(family="logistic").loss is Loss.CE
