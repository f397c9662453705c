"""Energies of the Type II transition (theory section 5): mean losses and their intervals.

The old model is fitted on all of the reference; the refreshed model is fitted on all of the
shifted data (in-sample figures) and cross-fitted on it with K folds (out-of-sample figures: each
row's loss comes from a model that did not see it). Every interval comes from per-row losses; the
change ``dE`` from the paired per-row differences between the refreshed and the old model on the
same rows, which cancels most of the row-to-row noise.

Folds are assigned by a hash of each row's content (its standardised, quantised values and its
target, keyed by column name, and the seed): the assignment does not depend on row order, column
order, batch boundaries or on a feature's units, and duplicated rows share a fold.
"""

from __future__ import annotations

import hashlib

import numpy as np

from .errors import InputError
from .models import Family, Loss, Model, augmented_gram, solve_least_squares
from .report import Energy, Estimate

#: Standardised values are quantised to this grid before hashing, so that rescaling a column
#: (which changes the last bits of the standardised value) does not move rows between folds.
QUANTUM = 2.0 ** -20


def mean_estimate(values: np.ndarray) -> Estimate:
    """The mean of per-row ``values`` (n,) with its standard error and 95% interval."""
    n = values.size
    se = float(values.std(ddof=1) / np.sqrt(n)) if n > 1 else 0.0
    return Estimate.normal(float(values.mean()), se)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: a fast, well-spread bijection of uint64."""
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _name_key(name: str) -> np.uint64:
    return np.uint64(int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "little"))


def fold_ids(
    columns: np.ndarray, names: tuple[str, ...], k: int, seed: int
) -> np.ndarray:
    """Fold of each row, in ``0..k-1``, from a hash of its content.

    Parameters
    ----------
    columns
        (n, m) standardised values of the columns that define a row (features and target).
    names
        The m column names: each column's hash is keyed by its name, and the row hash is the
        wrapping sum over columns, so column order does not matter.
    """
    quantised = np.clip(np.floor(columns / QUANTUM), -(2.0 ** 62), 2.0 ** 62).astype(np.int64)
    total = np.zeros(columns.shape[0], dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j, name in enumerate(names):
            total += _mix(quantised[:, j].view(np.uint64) ^ _name_key(name))
        total = _mix(total ^ _mix(np.array([seed], dtype=np.uint64))[0])
    return (total % np.uint64(k)).astype(np.int64)


def row_folds(
    D: np.ndarray, y: np.ndarray, names: tuple[str, ...], target_scale: tuple[float, float] | None,
    k: int, seed: int,
) -> np.ndarray:
    """Folds (n,) of the rows of a standardised design ``D`` (n, p) and target ``y``.

    ``names`` are the p - 1 feature names; ``target_scale`` the reference's (centre, scale) of a
    numeric target, or ``None`` for class codes, which are hashed as they are.
    """
    target = y.astype(float)
    if target_scale is not None:
        target = (target - target_scale[0]) / target_scale[1]
    return fold_ids(np.column_stack([D[:, 1:], target]), (*names, "\0target"), k, seed)


def cross_fitted_loss(template: Model, D: np.ndarray, y: np.ndarray, folds: np.ndarray, k: int) -> np.ndarray:
    """Per-row loss (n,) of models fitted without each row's fold, on design ``D`` (n, p).

    For MSE the fold fits come from one pass of per-fold Gram matrices (total minus fold), the
    same kernel the streaming engine uses.
    """
    losses = np.empty(D.shape[0])
    members = [np.flatnonzero(folds == f) for f in range(k)]
    if template.family is Family.LINEAR and template.loss is Loss.MSE:
        grams = [augmented_gram(D[rows], y[rows]) for rows in members]
        total = sum(grams)
        for rows, gram in zip(members, grams):
            if rows.size == 0:
                continue
            params = solve_least_squares(total - gram, D.shape[0] - rows.size, template.ridge)
            losses[rows] = template.with_params(params).loss_per_row_design(D[rows], y[rows])
        return losses
    for rows in members:
        if rows.size == 0:
            continue
        train = np.ones(D.shape[0], dtype=bool)
        train[rows] = False
        fitted = template.with_params(None).fit_design(D[train], y[train])
        losses[rows] = fitted.loss_per_row_design(D[rows], y[rows])
    return losses


def type_two_energy(
    old: Model, refreshed: Model, D_ref: np.ndarray, y_ref: np.ndarray, D_new: np.ndarray,
    y_new: np.ndarray, fold: np.ndarray, folds: int, shifted_name: str = "the shifted data",
) -> Energy:
    """The energies of the retraining transition (theory section 5).

    Parameters
    ----------
    old
        Fitted on all of the reference (design ``D_ref`` (n_ref, p), target ``y_ref``).
    refreshed
        Fitted on all of the shifted data, in the reference's standardisation; also the template
        of the cross-fitted models.
    D_new, y_new
        The shifted data's design (n_new, p), in the reference's standardisation, and target.
    fold, folds
        Each shifted row's fold (n_new,), from :func:`row_folds`, and K, the number of folds.
    """
    n = D_new.shape[0]
    if n < 2 * folds:
        raise InputError(
            f"{shifted_name}: {n} usable rows are too few for {folds}-fold cross-fitting;"
            f" it needs at least {2 * folds} (or lower --folds)."
        )
    before = old.loss_per_row_design(D_new, y_new)
    in_sample = refreshed.loss_per_row_design(D_new, y_new)
    held_out = cross_fitted_loss(refreshed, D_new, y_new, fold, folds)
    return Energy(
        before=mean_estimate(before),
        after_in_sample=mean_estimate(in_sample),
        after_out_of_sample=mean_estimate(held_out),
        delta_in_sample=mean_estimate(in_sample - before),
        delta_out_of_sample=mean_estimate(held_out - before),
        reference=mean_estimate(old.loss_per_row_design(D_ref, y_ref)),
        folds=folds,
    )
