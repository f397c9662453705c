"""Energies of the Type II transition (theory section 5): mean losses and their intervals.

The old model is fitted on all of the reference; the refreshed model is fitted on all of the
shifted data (in-sample figures) and cross-fitted on it with K folds (out-of-sample figures: each
row's loss comes from a model that did not see it). Every interval comes from per-row losses; the
change ``dE`` from the paired per-row differences between the refreshed and the old model on the
same rows, which cancels most of the row-to-row noise.

Folds are assigned by a hash of each row's content (its standardised, quantised values and its
target, keyed by column name, and the seed): the assignment does not depend on row order, column
order, batch boundaries or on a feature's units, and duplicated rows share a fold.

Means are exact, spreads come from a sample: every standard error (of the per-row losses and of
their paired differences) is computed on the *spread sample*, the ``M`` rows with the smallest
value of a second content hash (:func:`spread_keys`), ``M = spread_size(p)``. On data with at
most ``M`` rows that is every row; on larger data it is a deterministic sample that does not
depend on row order or batch boundaries, so the in-memory and the streaming engines (which cannot
keep every row) report the same intervals.
"""

from __future__ import annotations

import functools
import hashlib

import numpy as np

from .errors import InputError
from .models import Family, Loss, Model, augmented_gram, solve_least_squares
from .report import Energy, Estimate

#: Standardised values are quantised to this grid before hashing, so that rescaling a column
#: (which changes the last bits of the standardised value) does not move rows between folds.
QUANTUM = 2.0 ** -20

#: The spread sample holds at most this many rows...
SPREAD_ROWS = 100_000
#: ...and at most this many design values (128 MiB of float64), so wide designs get fewer rows.
SPREAD_BUDGET = 2 ** 24

_FOLD_SALT = 0
_SPREAD_SALT = 0x5EED_0F_5B4EAD


def spread_size(p: int, rows: int | None = None) -> int:
    """Rows M of the spread sample for a design of width ``p``: ``min(100_000, 2**24 // (p + 1))``.

    ``rows`` overrides the default (tests use a small M to exercise the sampled path).
    """
    if rows is not None:
        return max(2, int(rows))
    return max(2, min(SPREAD_ROWS, SPREAD_BUDGET // (p + 1)))


def mean_estimate(values: np.ndarray, spread: np.ndarray | None = None) -> Estimate:
    """The mean of per-row ``values`` (n,) with its standard error and 95% interval.

    The mean is over every row; the standard deviation behind the standard error is over the
    rows ``spread`` (indices of the spread sample) when given, over every row otherwise.
    """
    sample = values if spread is None else values[spread]
    return estimate_from_sample(float(values.mean()), sample, values.size)


def estimate_from_sample(mean: float, sample: np.ndarray, n: int) -> Estimate:
    """An exact ``mean`` of n rows with the standard error ``sd(sample) / sqrt(n)``."""
    se = float(sample.std(ddof=1) / np.sqrt(n)) if n > 1 and sample.size > 1 else 0.0
    return Estimate.normal(float(mean), se)


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX_STEPS = ((np.uint64(30), np.uint64(0xBF58476D1CE4E5B9)),
              (np.uint64(27), np.uint64(0x94D049BB133111EB)), (np.uint64(31), None))


def _mix(x: np.ndarray, scratch: np.ndarray | None = None) -> np.ndarray:
    """splitmix64's finaliser: a fast, well-spread bijection of uint64.

    With ``scratch`` (uint64, as long as ``x``), ``x`` is mixed in place and returned: the
    streaming passes run it on every batch, on buffers they reuse, rather than making nine
    temporaries as long as the batch."""
    if scratch is None:
        x, scratch = x.copy(), np.empty_like(x)
    with np.errstate(over="ignore"):
        x += _GOLDEN
        for shift, multiplier in _MIX_STEPS:
            np.right_shift(x, shift, out=scratch)
            x ^= scratch
            if multiplier is not None:
                x *= multiplier
    return x


def _name_key(name: str) -> np.uint64:
    return np.uint64(int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "little"))


@functools.lru_cache(maxsize=4096)
def _column_key(name: str, salt: int) -> np.uint64:
    """An odd 64-bit multiplier for the column ``name``."""
    key = _mix(np.array([_name_key(name) ^ np.uint64(salt)], dtype=np.uint64))[0]
    return key | np.uint64(1)


def _seed_key(seed: int, salt: int) -> np.uint64:
    return _mix(np.array([seed], dtype=np.uint64) ^ np.uint64(salt))[0]


class RowHash:
    """The wrapping sum over columns of ``bits(value) * key(name)``, added column by column.

    ``n`` rows; each column's key comes from its name and ``salt``. With ``scale`` each value is
    first mapped to its nearest grid point, ``rint(value * scale)`` (to nearest, ties to even):
    rescaling a column changes the last bits of its standardised values, and a grid absorbs
    them (``floor`` would flip with the last bit of values that lie on the grid, as a one-hot
    column's often do). The sum does not depend on column order. A multiply-add per value keeps
    this cheap enough for a streaming pass (a per-value mixer cost ten times a Gram matrix); the
    strong mixer runs once per row, on the sum. Adding a column while it is still in the CPU's
    cache, right after it was computed, is what makes a fused pass cheap.
    """

    def __init__(self, n: int, salt: int, scale: float | None = None,
                 out: np.ndarray | None = None, scratch: np.ndarray | None = None):
        self.salt, self.scale = salt, scale
        self._total = np.empty(n, dtype=np.uint64) if out is None else out
        self._fresh = True  # no column yet: the first one's products are written, not added
        self._scratch = np.empty(n) if scratch is None else scratch
        self._bits = self._scratch.view(np.uint64)

    @property
    def total(self) -> np.ndarray:
        """The sum so far (n,) uint64."""
        if self._fresh:
            self._total[:] = 0
            self._fresh = False
        return self._total

    def _products(self) -> np.ndarray:
        """Where the next column's products go: the sum itself for the first column (no zeros
        to add them to), the scratch otherwise."""
        return self._total if self._fresh else self._bits

    def _added(self, products: np.ndarray) -> None:
        if products is self._bits:
            self._total += products
        self._fresh = False

    def add(self, column: np.ndarray, name: str) -> None:
        """Add one column (n,) of float64 values."""
        key = _column_key(name, self.salt)
        bits, out = self._bits, self._products()
        if self.scale is not None:
            np.multiply(column, self.scale, out=self._scratch)
            np.rint(self._scratch, out=self._scratch)
            np.multiply(bits, key, out=out)
        elif column.dtype == np.float64 and column.flags.c_contiguous:
            np.multiply(column.view(np.uint64), key, out=out)  # the bits in place, no copy
        else:
            np.copyto(self._scratch, column)
            np.multiply(bits, key, out=out)
        self._added(out)

    def add_grid(self, column: np.ndarray, name: str) -> None:
        """Add one column (n,) given in grid units, ``value * scale`` already (bit for bit what
        :meth:`add` computes first when the scale is a power of two): one multiplication less
        per value."""
        out = self._products()
        np.rint(column, out=self._scratch)
        np.multiply(self._bits, _column_key(name, self.salt), out=out)
        self._added(out)

    def add_keys(self, hashes: np.ndarray, name: str) -> None:
        """Add a column of 64-bit hashes (n,) uint64 (categories: :func:`level_hashes`)."""
        out = self._products()
        np.multiply(hashes, _column_key(name, self.salt), out=out)
        self._added(out)


def row_hash(
    columns_t, names: tuple[str, ...], salt: int, scale: float | None = None,
    n: int | None = None,
) -> np.ndarray:
    """:class:`RowHash` of the columns ``columns_t`` (m float64 rows of length n: an (m, n) array
    or a list), named ``names``: (n,) uint64."""
    if n is None:
        n = np.asarray(columns_t[0]).shape[0] if len(names) else 0
    hashed = RowHash(n, salt, scale)
    for column, name in zip(columns_t, names):
        hashed.add(np.asarray(column, dtype=np.float64), name)
    return hashed.total


def finish_folds(total: np.ndarray, k: int, seed: int, scratch: np.ndarray | None = None,
                 dtype=np.int64) -> np.ndarray:
    """Folds (n,) in ``0..k-1`` (``dtype``) of rows whose quantised :class:`RowHash` is
    ``total``. With ``scratch`` (uint64 (n,)), ``total`` is overwritten: no temporaries."""
    if scratch is None:
        total, scratch = total.copy(), np.empty_like(total)
    total ^= _seed_key(seed, _FOLD_SALT)
    np.remainder(_mix(total, scratch), np.uint64(k), out=total)
    return total.astype(dtype)


def finish_spread(total: np.ndarray, scratch: np.ndarray | None = None) -> np.ndarray:
    """Spread keys (n,) uint64 of rows whose raw :class:`RowHash` is ``total``. With
    ``scratch`` (uint64 (n,)), the keys are written over ``total``: no temporaries."""
    if scratch is None:
        total, scratch = total.copy(), np.empty_like(total)
    total ^= _seed_key(0, _SPREAD_SALT)
    return _mix(total, scratch)


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

    Notes
    -----
    Each value is quantised to its nearest grid point, ``q = rint(z / QUANTUM)``; the row's hash is
    ``mix(sum_j bits(q_j) * key_j XOR mix(seed))``, with ``mix`` splitmix64's finaliser and
    ``key_j`` an odd multiplier derived from the column name; the fold is the hash modulo k.
    """
    return fold_ids_t(columns.T, names, k, seed)


def fold_ids_t(columns_t, names: tuple[str, ...], k: int, seed: int) -> np.ndarray:
    """:func:`fold_ids` of columns given as m rows of length n (the streaming engine's layout)."""
    return finish_folds(row_hash(columns_t, names, _FOLD_SALT, scale=1.0 / QUANTUM), k, seed)


def fold_hash(n: int, **buffers) -> RowHash:
    """An empty :class:`RowHash` of the fold assignment, for columns added one at a time."""
    return RowHash(n, _FOLD_SALT, 1.0 / QUANTUM, **buffers)


def spread_hash(n: int, **buffers) -> RowHash:
    """An empty :class:`RowHash` of the spread keys, for columns added one at a time."""
    return RowHash(n, _SPREAD_SALT, None, **buffers)


def level_hashes(levels) -> np.ndarray:
    """A 64-bit hash (uint64) of each category name: what the spread hash sees of a category."""
    return np.array(
        [_name_key("\0level" + str(level)) for level in levels], dtype=np.uint64
    ).reshape(-1)


def spread_keys(
    numeric_t, numeric_names: tuple[str, ...], categorical_t, categorical_names: tuple[str, ...]
) -> np.ndarray:
    """Spread-sample keys (n,) uint64 of rows given by their raw values.

    ``numeric_t``: m float64 rows (the raw numeric columns, target included when numeric);
    ``categorical_t``: the :func:`level_hashes` of each categorical column's values, one uint64
    row per column. The raw values, not the standardised ones, so that the key of a reference row
    is known while the reference is still being read; the spread sample is the rows with the
    smallest keys (:func:`smallest_keys`).
    """
    if len(numeric_names):
        n = np.asarray(numeric_t[0]).shape[0]
    else:
        n = np.asarray(categorical_t[0]).shape[0] if len(categorical_names) else 0
    hashed = spread_hash(n)
    for column, name in zip(numeric_t, numeric_names):
        hashed.add(np.asarray(column, dtype=np.float64), name)
    for hashes, name in zip(categorical_t, categorical_names):
        hashed.add_keys(np.asarray(hashes, dtype=np.uint64), name)
    return finish_spread(hashed.total)


def smallest_keys(keys: np.ndarray, m: int) -> np.ndarray:
    """Indices of the ``m`` smallest ``keys``, in increasing key order (all when fewer)."""
    if keys.size > m:
        chosen = np.argpartition(keys, m - 1)[:m]
    else:
        chosen = np.arange(keys.size)
    return chosen[np.argsort(keys[chosen], kind="stable")]


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
    spread: tuple[np.ndarray | None, np.ndarray | None] = (None, None),
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
    spread
        Row indices of the spread samples of the reference and of the shifted data (``None``:
        every row), from which the standard errors come.
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
    spread_ref, spread_new = spread
    return Energy(
        before=mean_estimate(before, spread_new),
        after_in_sample=mean_estimate(in_sample, spread_new),
        after_out_of_sample=mean_estimate(held_out, spread_new),
        delta_in_sample=mean_estimate(in_sample - before, spread_new),
        delta_out_of_sample=mean_estimate(held_out - before, spread_new),
        reference=mean_estimate(old.loss_per_row_design(D_ref, y_ref), spread_ref),
        folds=folds,
    )
