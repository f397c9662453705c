"""Energies of the Type II transition: folds, cross-fitting, and the paired intervals."""

from __future__ import annotations

import numpy as np
import pytest

from shiftemp.energy import (
    cross_fitted_loss,
    fold_ids,
    mean_estimate,
    row_folds,
    type_two_energy,
)
from shiftemp.errors import InputError
from shiftemp.models import Family, Loss, Model
from shiftemp.report import Z95

pytestmark = pytest.mark.usefixtures("one_blas_thread")


def linear_pair(rng, n_old=300, n_new=250, slope_change=0.0):
    X_old = rng.normal(size=(n_old, 3)) * [1.0, 4.0, 0.5] + [0.0, 10.0, 0.0]
    X_new = rng.normal(size=(n_new, 3)) * [1.0, 4.0, 0.5] + [0.0, 10.0, 0.0]
    coef = np.array([1.0, 0.2, -2.0])
    y_old = X_old @ coef + rng.normal(size=n_old)
    y_new = X_new @ (coef + [slope_change, 0, 0]) + rng.normal(size=n_new)
    return X_old, y_old, X_new, y_new


def fitted(family, loss, X_old, y_old, X_new, y_new, n_classes=None):
    old = Model(family, loss, n_classes=n_classes).fit(X_old, y_old)
    refreshed = old.with_params(None).fit_design(old.design(X_new), y_new)
    return old, refreshed


# -- mean_estimate ------------------------------------------------------------------------------


def test_mean_estimate_has_the_standard_error_of_the_mean():
    values = np.array([1.0, 2.0, 4.0, 7.0])
    e = mean_estimate(values)
    se = values.std(ddof=1) / 2.0
    assert e.value == pytest.approx(3.5)
    assert e.se == pytest.approx(se)
    assert (e.low, e.high) == pytest.approx((3.5 - Z95 * se, 3.5 + Z95 * se))


def test_mean_estimate_of_one_value_has_no_spread():
    e = mean_estimate(np.array([2.5]))
    assert (e.value, e.se, e.low, e.high) == (2.5, 0.0, 2.5, 2.5)


# -- folds --------------------------------------------------------------------------------------


def test_folds_are_in_range_and_balanced(rng):
    columns = rng.normal(size=(5000, 3))
    folds = fold_ids(columns, ("a", "b", "c"), 5, seed=0)
    assert folds.min() == 0 and folds.max() == 4
    counts = np.bincount(folds, minlength=5)
    assert np.all(np.abs(counts - 1000) < 5 * np.sqrt(1000))


def test_folds_follow_the_rows_not_their_order(rng):
    columns = rng.normal(size=(500, 3))
    folds = fold_ids(columns, ("a", "b", "c"), 5, seed=0)
    order = rng.permutation(500)
    np.testing.assert_array_equal(fold_ids(columns[order], ("a", "b", "c"), 5, 0), folds[order])


def test_folds_do_not_depend_on_column_order(rng):
    columns = rng.normal(size=(500, 3))
    folds = fold_ids(columns, ("a", "b", "c"), 5, seed=0)
    np.testing.assert_array_equal(fold_ids(columns[:, [2, 0, 1]], ("c", "a", "b"), 5, 0), folds)
    # but they do depend on the names, and on the seed
    assert np.any(fold_ids(columns, ("x", "b", "c"), 5, 0) != folds)
    assert np.any(fold_ids(columns, ("a", "b", "c"), 5, 1) != folds)


def test_duplicated_rows_share_a_fold(rng):
    columns = rng.normal(size=(300, 2))
    doubled = np.vstack([columns, columns])
    folds = fold_ids(doubled, ("a", "b"), 5, 0)
    np.testing.assert_array_equal(folds[:300], folds[300:])


def test_row_folds_ignore_the_units_of_the_target(rng):
    D = np.column_stack([np.ones(400), rng.normal(size=(400, 2))])
    y = rng.normal(size=400) * 3 + 7
    folds = row_folds(D, y, ("a", "b"), (7.0, 3.0), 5, 0)
    np.testing.assert_array_equal(row_folds(D, 60 * y, ("a", "b"), (420.0, 180.0), 5, 0), folds)


# -- cross-fitting: each row's model did not see the row ----------------------------------------


@pytest.mark.parametrize("loss", [Loss.MSE, Loss.MAE])
def test_cross_fitted_linear_losses_come_from_a_refit_without_the_fold(rng, loss):
    X_old, y_old, X_new, y_new = linear_pair(rng, n_new=120)
    old, refreshed = fitted(Family.LINEAR, loss, X_old, y_old, X_new, y_new)
    D = old.design(X_new)
    folds = row_folds(D, y_new, ("a", "b", "c"), (0.0, 1.0), 4, 0)
    losses = cross_fitted_loss(refreshed, D, y_new, folds, 4)
    for f in range(4):
        held = folds == f
        explicit = Model(Family.LINEAR, loss, centre=old.centre_, scale=old.scale_)
        explicit.fit(X_new[~held], y_new[~held])
        np.testing.assert_allclose(
            losses[held], explicit.loss_per_row(X_new[held], y_new[held]), rtol=1e-7, atol=1e-9
        )


def test_cross_fitted_logistic_losses_come_from_a_refit_without_the_fold(rng):
    X_old, X_new = rng.normal(size=(200, 2)), rng.normal(size=(150, 2))
    y_old = (rng.random(200) < 1 / (1 + np.exp(-X_old[:, 0]))).astype(int)
    y_new = (rng.random(150) < 1 / (1 + np.exp(X_new[:, 1]))).astype(int)
    old, refreshed = fitted(Family.LOGISTIC, Loss.CE, X_old, y_old, X_new, y_new, n_classes=2)
    D = old.design(X_new)
    folds = row_folds(D, y_new, ("u", "v"), None, 3, 0)
    losses = cross_fitted_loss(refreshed, D, y_new, folds, 3)
    for f in range(3):
        held = folds == f
        explicit = Model(Family.LOGISTIC, centre=old.centre_, scale=old.scale_, n_classes=2)
        explicit.fit(X_new[~held], y_new[~held])
        np.testing.assert_allclose(
            losses[held], explicit.loss_per_row(X_new[held], y_new[held]), rtol=1e-7
        )


def test_cross_fitted_loss_of_a_row_does_not_depend_on_its_own_target(rng):
    """Change a row's target: its fold's model, hence its prediction, must not move."""
    X_old, y_old, X_new, y_new = linear_pair(rng, n_new=100)
    old, refreshed = fitted(Family.LINEAR, Loss.MSE, X_old, y_old, X_new, y_new)
    D = old.design(X_new)
    folds = fold_ids(D[:, 1:], ("a", "b", "c"), 5, 0)  # folds from the features only
    base = cross_fitted_loss(refreshed, D, y_new, folds, 5)
    y2 = y_new.copy()
    y2[0] += 100.0
    moved = cross_fitted_loss(refreshed, D, y2, folds, 5)
    same_fold = folds == folds[0]
    without = Model(Family.LINEAR, centre=old.centre_, scale=old.scale_)
    prediction = without.fit(X_new[~same_fold], y_new[~same_fold]).predict(X_new[:1])[0]
    assert moved[0] == pytest.approx((y2[0] - prediction) ** 2, rel=1e-9)
    np.testing.assert_allclose(moved[same_fold][1:], base[same_fold][1:], rtol=1e-12)
    # the other folds' models saw the change
    assert np.all(np.abs(moved[~same_fold] - base[~same_fold]) > 0)


def test_an_empty_fold_is_skipped(rng):
    X_old, y_old, X_new, y_new = linear_pair(rng, n_new=40)
    old, refreshed = fitted(Family.LINEAR, Loss.MSE, X_old, y_old, X_new, y_new)
    D = old.design(X_new)
    folds = np.arange(40) % 3  # fold 3 of 4 is empty
    losses = cross_fitted_loss(refreshed, D, y_new, folds, 4)
    assert np.all(np.isfinite(losses))


# -- the transition's energies ------------------------------------------------------------------


def energy_of(rng, slope_change, loss=Loss.MSE, folds=5):
    X_old, y_old, X_new, y_new = linear_pair(rng, slope_change=slope_change)
    old, refreshed = fitted(Family.LINEAR, loss, X_old, y_old, X_new, y_new)
    D_ref, D_new = old.design(X_old), old.design(X_new)
    fold = row_folds(D_new, y_new, ("a", "b", "c"), (float(y_old.mean()), float(y_old.std())), folds, 0)
    energy = type_two_energy(old, refreshed, D_ref, y_old, D_new, y_new, fold, folds)
    return energy, old, refreshed, (X_old, y_old, X_new, y_new)


@pytest.mark.parametrize("loss", [Loss.MSE, Loss.MAE])
def test_type_two_energy_identities(rng, loss):
    energy, old, refreshed, (X_old, y_old, X_new, y_new) = energy_of(rng, 0.5, loss)
    e_a = old.loss_per_row(X_new, y_new).mean()
    e_b = refreshed.loss_per_row(X_new, y_new).mean()
    assert energy.before.value == pytest.approx(e_a, rel=1e-12)
    assert energy.after_in_sample.value == pytest.approx(e_b, rel=1e-12)
    assert energy.reference.value == pytest.approx(old.loss_per_row(X_old, y_old).mean(), rel=1e-12)
    # the paired differences' mean is the difference of the means
    assert energy.delta_in_sample.value == pytest.approx(e_b - e_a, rel=1e-9)
    assert energy.delta_out_of_sample.value == pytest.approx(
        energy.after_out_of_sample.value - e_a, rel=1e-9
    )
    # refitting lowers the in-sample energy; held-out losses are no lower than in-sample ones
    assert energy.after_in_sample.value <= energy.before.value
    assert energy.after_in_sample.value <= energy.after_out_of_sample.value
    assert energy.folds == 5


def test_in_sample_energy_after_the_refresh_is_rss_over_n(rng):
    energy, old, refreshed, (_, _, X_new, y_new) = energy_of(rng, 0.0)
    r = y_new - refreshed.predict(X_new)
    assert energy.after_in_sample.value == pytest.approx(r @ r / len(y_new), rel=1e-12)


def test_paired_interval_is_narrower_than_the_unpaired_one(rng):
    energy, *_ = energy_of(rng, 0.3)
    unpaired = np.hypot(energy.before.se, energy.after_out_of_sample.se)
    assert energy.delta_out_of_sample.se < unpaired


def test_a_concept_shift_releases_significant_energy_and_none_without(rng):
    shifted, *_ = energy_of(rng, 1.0)
    assert shifted.delta_out_of_sample.high < 0
    assert shifted.relative_gain > 0.2
    same, *_ = energy_of(rng, 0.0)
    assert same.delta_out_of_sample.low < 0 < same.delta_out_of_sample.high or \
        same.delta_out_of_sample.value > 0


def test_too_few_rows_for_the_folds_is_an_input_error(rng):
    X_old, y_old, X_new, y_new = linear_pair(rng, n_new=9)
    old, refreshed = fitted(Family.LINEAR, Loss.MSE, X_old, y_old, X_new, y_new)
    D_new = old.design(X_new)
    with pytest.raises(InputError, match="9 usable rows are too few for 5-fold .* at least 10"):
        type_two_energy(old, refreshed, old.design(X_old), y_old, D_new, y_new,
                        np.arange(9) % 5, 5)


def test_out_of_sample_delta_standard_error_matches_the_monte_carlo_spread():
    """Over replicates without a shift, the paired standard error of the out-of-sample dE is
    about the spread of dE itself (loose: 60 replicates)."""
    rng = np.random.default_rng(17)
    values, ses = [], []
    for _ in range(60):
        energy, *_ = energy_of(rng, 0.0)
        values.append(energy.delta_out_of_sample.value)
        ses.append(energy.delta_out_of_sample.se)
    assert np.mean(ses) == pytest.approx(np.std(values, ddof=1), rel=0.5)
