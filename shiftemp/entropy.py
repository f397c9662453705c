"""Entropies in nats (theory section 2): of the data, and of the fitted parameters.

Data entropy ``H(D)`` is the per-row entropy of the joint distribution of a dataset's columns: a
Gaussian estimate over the numeric columns plus the Shannon entropy of each categorical column.
Parameter entropy is the Laplace entropy of a fitted model's parameters, normalised per row.

Standard errors come from influence functions: each estimator is, to first order, the mean of a
per-row influence ``psi_i`` plus a constant, so ``se = sd(psi) / sqrt(n)``. This costs one pass
over the rows, where a bootstrap would cost hundreds. docs/theory.md derives each ``psi``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import numerics
from .models import Family, Loss, Model, class_probabilities, curvature, kernel_bandwidth, magnitude_units
from .report import ColumnEntropy, Entropy, Estimate

LOG_2PI_E = float(np.log(2 * np.pi * np.e))


@dataclass(frozen=True)
class EntropyEstimate:
    """An entropy (nats per row) with the per-row influence values behind its standard error."""

    value: float
    influence: np.ndarray
    marginals: dict[str, float]
    dependence: float = 0.0
    rows: int = 0
    """Rows the estimate is over; 0: as many as ``influence`` (which may hold only the spread
    sample's rows: ``se = sd(influence) / sqrt(rows)``)."""
    second_order: float = 0.0
    """Variance the first-order influence misses where it vanishes: ``(k - 1) / (2 n^2)`` per
    categorical column (exactly balanced categories have zero influence, not zero variance)."""

    @property
    def se(self) -> float:
        n = self.rows or self.influence.size
        m = self.influence.size
        first = float(self.influence.var(ddof=1) / n) if n > 1 and m > 1 else 0.0
        return float(np.sqrt(first + self.second_order))

    def estimate(self) -> Estimate:
        return Estimate.normal(self.value, self.se)


def log_det_bias(p: int, n: int) -> float:
    """``E[ln det S] - ln det Sigma`` for a Gaussian sample covariance S (n rows, p columns).

    S = A / (n - 1) with A ~ Wishart(Sigma, n - 1), so the bias is
    ``p ln(2 / (n - 1)) + sum_{i=1..p} digamma((n - i) / 2)`` (zero when undefined, n <= p + 1).
    """
    if p == 0 or n <= p + 1:
        return 0.0
    i = np.arange(1, p + 1)
    return float(p * np.log(2.0 / (n - 1)) + numerics.digamma((n - i) / 2.0).sum())


def shrinkage_intensity(Z: np.ndarray) -> float:
    """Ledoit-Wolf intensity for the correlation matrix of standardised columns ``Z`` (n, p),
    shrinking toward the identity."""
    n, p = Z.shape
    if p < 2:
        return 0.0
    row_sq = np.einsum("ij,ij->i", Z, Z)
    return shrinkage_from_moments(Z.T @ Z / n, float(np.mean(row_sq ** 2)), n)


def shrinkage_from_moments(R: np.ndarray, fourth: float, n: int) -> float:
    """Ledoit-Wolf intensity from ``R = Z'Z / n`` (p, p) and ``fourth``, the mean of ``|z_i|^4``.

    The fourth moment is the one statistic a Gram matrix cannot give; the engines estimate it on
    the spread sample (every row on small data).
    """
    p = R.shape[0]
    if p < 2:
        return 0.0
    target_gap = R - np.eye(p)
    d2 = float(np.sum(target_gap ** 2))
    if d2 <= 0:
        return 0.0
    # b2: mean squared distance of the rank-one terms z z' from R, over n
    b2 = float((fourth - np.sum(R ** 2)) / n)
    return float(min(max(b2 / d2, 0.0), 1.0))


def gaussian_entropy(
    X: np.ndarray, names: tuple[str, ...], spread: np.ndarray | None = None
) -> EntropyEstimate:
    """Gaussian entropy ``0.5 ln det(2 pi e Sigma)`` of the columns of ``X`` (n, m), nats per row.

    Sigma is the sample covariance, worked through its correlation matrix so that the estimate is
    equivariant to each column's units; the Wishart bias of the log-determinant is removed, which
    makes the estimate unbiased for Gaussian data. Only when the sample correlation is singular
    (too few rows, collinear columns) is it shrunk toward the identity (Ledoit-Wolf): shrinking
    a regular one would bias ``ln det`` upward by more than the Wishart correction removes.
    Columns must not be constant. ``spread``: rows of the spread sample (influence values and the
    shrinkage's fourth moment are computed on them); ``None``: every row.
    """
    n, m = X.shape
    if m == 0:
        return EntropyEstimate(0.0, np.zeros(n if spread is None else len(spread)), {}, rows=n)
    unit = magnitude_units(X)
    if unit is not None:
        X = X / unit
    centre = X.mean(axis=0)
    Xc = X - centre
    sample = X if spread is None else X[spread]
    return gaussian_entropy_from_moments(
        n, centre, Xc.T @ Xc, names, sample, None if unit is None else np.log(unit)
    )


def gaussian_entropy_from_moments(
    n: int, mean: np.ndarray, comoment: np.ndarray, names: tuple[str, ...], sample: np.ndarray,
    log_unit: np.ndarray | None = None,
) -> EntropyEstimate:
    """:func:`gaussian_entropy` from exact sufficient statistics of n rows.

    ``mean`` (m,) and ``comoment`` (m, m), the centred cross products ``sum (x - mean)(x - mean)'``;
    ``sample`` (k, m): the raw rows of the spread sample, for the influence values (and, only when
    the correlation is singular, the shrinkage's fourth moment). ``log_unit`` (m,): when the
    columns were divided by units (see :func:`shiftemp.models.magnitude_units`), their logs, which
    the entropy adds back.
    """
    m = mean.shape[0]
    if m == 0:
        return EntropyEstimate(0.0, np.zeros(sample.shape[0]), {}, rows=n)
    sd = np.sqrt(np.diag(comoment) / (n - 1))
    # the sample standardised in its transpose (m, k), whose rows are contiguous, and worked on
    # in place: a 100,000-row sample made several (k, m) temporaries, most of the time after a
    # streaming pass
    Zt = np.subtract(sample.T, mean[:, None])
    Zt /= sd[:, None]
    R = comoment / np.outer(sd, sd) / (n - 1)
    try:
        chol = numerics.cholesky(R) if n > m + 1 else None
    except np.linalg.LinAlgError:
        chol = None
    if chol is None or np.min(np.diag(chol)) ** 2 < 1e-12:
        fourth = float(np.mean(np.einsum("ij,ij->j", Zt, Zt) ** 2))
        delta = shrinkage_from_moments(R * ((n - 1) / n), fourth, n)
        R = (1 - delta) * R + delta * np.eye(m)
        chol = numerics.cholesky(R)
    log_det_R = 2.0 * float(np.log(np.diag(chol)).sum())
    log_sd = np.log(sd) if log_unit is None else np.log(sd) + log_unit
    value = 0.5 * m * LOG_2PI_E + float(log_sd.sum()) + 0.5 * (log_det_R - log_det_bias(m, n))
    # L^-1 once (m x m), then one matrix product over the sample's rows: a triangular solve
    # with 100,000 right-hand sides costs ten times more in numpy
    whitened = numerics.solve_lower(chol, np.eye(m)) @ Zt
    whitened *= whitened
    mahalanobis = whitened.sum(axis=0)
    marginal_bias = log_det_bias(1, n)
    marginals = {
        name: 0.5 * LOG_2PI_E + float(s) - 0.5 * marginal_bias for name, s in zip(names, log_sd)
    }
    dependence = value - sum(marginals.values())
    return EntropyEstimate(value, 0.5 * (mahalanobis - m), marginals, dependence, rows=n)


def shannon_entropy(codes: np.ndarray, spread: np.ndarray | None = None) -> EntropyEstimate:
    """Plug-in Shannon entropy of category codes (n,), nats, with the Miller-Madow correction
    ``(k - 1) / (2 n)`` for the k observed categories."""
    return shannon_entropy_from_counts(
        np.bincount(codes), codes if spread is None else codes[spread]
    )


def shannon_entropy_from_counts(counts: np.ndarray, sample_codes: np.ndarray) -> EntropyEstimate:
    """:func:`shannon_entropy` from the ``counts`` of each category (code order), with the
    influence values of the spread sample's codes ``sample_codes``."""
    n = int(counts.sum())
    observed = counts[counts > 0]
    p = observed / n
    plug_in = float(-(p * np.log(p)).sum())
    log_p = np.log(counts[sample_codes] / n)
    return EntropyEstimate(
        plug_in + (observed.size - 1) / (2.0 * n), -log_p - plug_in, {}, rows=n,
        second_order=(observed.size - 1) / (2.0 * n * n),
    )


def data_entropy(
    numeric: np.ndarray, numeric_names: tuple[str, ...], categorical: tuple[np.ndarray, ...],
    categorical_names: tuple[str, ...], spread: np.ndarray | None = None,
) -> EntropyEstimate:
    """Per-row data entropy of one dataset: Gaussian numeric part plus categorical parts."""
    total = gaussian_entropy(numeric, numeric_names, spread)
    parts = [shannon_entropy(codes, spread) for codes in categorical]
    return _joint(total, parts, categorical_names)


def _joint(total: EntropyEstimate, parts, categorical_names) -> EntropyEstimate:
    value, influence = total.value, total.influence.copy()
    marginals = dict(total.marginals)
    second_order = total.second_order
    for name, part in zip(categorical_names, parts):
        value += part.value
        influence += part.influence
        marginals[name] = part.value
        second_order += part.second_order
    return EntropyEstimate(
        value, influence, marginals, total.dependence, rows=total.rows, second_order=second_order
    )


@dataclass(frozen=True)
class DataSummary:
    """What the data entropy of one dataset needs: exact statistics plus the spread sample.

    ``mean`` (m,) and ``comoment`` (m, m) of the numeric columns; ``constant`` (m,) whether each
    is constant; ``counts``: per categorical column, the count of each category (code order);
    ``sample_numeric`` (k, m) and ``sample_codes`` (one (k,) array per categorical column): the
    spread sample's rows.
    """

    rows: int
    mean: np.ndarray
    comoment: np.ndarray
    constant: np.ndarray
    counts: tuple[np.ndarray, ...]
    sample_numeric: np.ndarray
    sample_codes: tuple[np.ndarray, ...]
    log_unit: np.ndarray | None = None

    @classmethod
    def of_side(cls, side, spread: np.ndarray | None = None) -> "DataSummary":
        """The summary of a :class:`shiftemp.dataset.Side` (every row in memory)."""
        X = side.numeric
        unit = magnitude_units(X)  # values near the float limits: statistics in units of them
        if unit is not None:
            X = X / unit
        rows = slice(None) if spread is None else spread
        centre = X.mean(axis=0)
        Xc = X - centre
        return cls(
            rows=X.shape[0], mean=centre, comoment=Xc.T @ Xc,
            constant=np.ptp(X, axis=0) == 0 if X.shape[0] else np.zeros(X.shape[1], bool),
            counts=tuple(np.bincount(codes) for codes in side.categorical),
            sample_numeric=X[rows], sample_codes=tuple(codes[rows] for codes in side.categorical),
            log_unit=None if unit is None else np.log(unit),
        )

    def entropy(self, keep: list[int], names: tuple[str, ...]) -> EntropyEstimate:
        """The data entropy over the numeric columns ``keep`` (named ``names``) and every
        categorical column."""
        every = len(keep) == self.mean.shape[0]  # keep is sorted: all columns, no copies
        total = gaussian_entropy_from_moments(
            self.rows, self.mean if every else self.mean[keep],
            self.comoment if every else self.comoment[np.ix_(keep, keep)], names,
            self.sample_numeric if every else self.sample_numeric[:, keep],
            None if self.log_unit is None else self.log_unit[keep],
        )
        return total, [
            shannon_entropy_from_counts(counts, codes)
            for counts, codes in zip(self.counts, self.sample_codes)
        ]


def data_entropy_change(
    reference, shifted, numeric_names, categorical_names,
    spread: tuple[np.ndarray | None, np.ndarray | None] = (None, None),
) -> Entropy:
    """``dS = H(shifted) - H(reference)`` with per-column contributions (theory section 2).

    ``reference`` and ``shifted`` are :class:`shiftemp.dataset.Side` objects. A numeric column that
    is constant in either dataset has no Gaussian entropy: it is left out of both, and listed in
    ``excluded``. ``spread``: each side's spread-sample rows (``None``: every row).
    """
    summaries = [DataSummary.of_side(side, rows) for side, rows in zip((reference, shifted), spread)]
    return data_entropy_change_of(*summaries, numeric_names, categorical_names)


def data_entropy_change_of(
    reference: DataSummary, shifted: DataSummary, numeric_names, categorical_names
) -> Entropy:
    """:func:`data_entropy_change` from the two datasets' :class:`DataSummary`."""
    constant = {
        name for j, name in enumerate(numeric_names)
        for side in (reference, shifted) if side.constant[j]
    }
    keep = [j for j, name in enumerate(numeric_names) if name not in constant]
    names = tuple(numeric_names[j] for j in keep)
    parts = [
        _joint(*summary.entropy(keep, names), categorical_names)
        for summary in (reference, shifted)
    ]
    a, b = parts
    columns = sorted(
        (
            ColumnEntropy(
                column=name,
                kind="categorical" if name in categorical_names else "numeric",
                reference=a.marginals[name],
                shifted=b.marginals[name],
                delta=b.marginals[name] - a.marginals[name],
            )
            for name in (*names, *categorical_names)
        ),
        key=lambda c: -abs(c.delta),
    )
    return Entropy(
        kind="data",
        reference=a.estimate(),
        shifted=b.estimate(),
        delta=Estimate.normal(b.value - a.value, float(np.hypot(a.se, b.se))),
        columns=tuple(columns),
        dependence=b.dependence - a.dependence,
        excluded=tuple(sorted(constant)),
    )


def parameter_entropy(
    model: Model, D: np.ndarray, y: np.ndarray, spread: np.ndarray | None = None
) -> EntropyEstimate:
    """Laplace entropy of ``model``'s parameters fitted on ``D`` (n, p), per row, in nats.

    ``S = 0.5 ln det(2 pi e n C)``, with C the Laplace covariance: multiplying by n removes the
    ``-q/2 ln n`` that would make a smaller batch look hotter only because it is smaller.
    ``spread``: the rows of the spread sample, on which the influence values are computed.
    """
    n, p = D.shape
    A = curvature(model, D, y)
    rows = slice(None) if spread is None else spread
    sigma2 = bandwidth = f0 = None
    if model.family is Family.LINEAR:
        r = y - D @ model.params_
        if model.loss is Loss.MSE:
            sigma2 = float(r @ r) / max(n - p, 1)
        else:
            bandwidth = kernel_bandwidth(r)
            f0 = float(np.mean(np.exp(-0.5 * (r / bandwidth) ** 2))) / (
                bandwidth * np.sqrt(2 * np.pi)
            )
    return laplace_entropy(model, A, n, D[rows], y[rows], sigma2, bandwidth, f0)


def laplace_entropy(
    model: Model, A: np.ndarray, n: int, D: np.ndarray, y: np.ndarray,
    sigma2: float | None = None, bandwidth: float | None = None, f0: float | None = None,
) -> EntropyEstimate:
    """:func:`parameter_entropy` from the per-row precision ``A`` (q, q) of n rows (exact
    statistics) and the spread sample's design ``D`` (k, p) and target ``y``, for the influence.

    ``sigma2``: the residual variance (MSE); ``bandwidth``, ``f0``: the residual kernel's width
    and density at zero (MAE).
    """
    q = A.shape[0]
    chol = numerics.cholesky(A)
    value = 0.5 * q * LOG_2PI_E - float(np.log(np.diag(chol)).sum())
    if model.family is Family.LOGISTIC:
        return EntropyEstimate(value, _logistic_influence(model, D, y, A), {}, rows=n)
    G_inv_scaled = numerics.cho_solve(chol, D.T)  # A^-1 D', (p, k)
    r = y - D @ model.params_
    if model.loss is Loss.MSE:
        leverage = np.einsum("ij,ji->i", D, G_inv_scaled) / sigma2  # d' G^-1 d
        influence = 0.5 * q * (r * r / sigma2 - 1) - 0.5 * (leverage - q)
    else:
        kernel = np.exp(-0.5 * (r / bandwidth) ** 2) / (bandwidth * np.sqrt(2 * np.pi))
        leverage = np.einsum("ij,ji->i", D, G_inv_scaled) * 4 * f0 * f0
        influence = -0.5 * (leverage - q) - q * (kernel - f0) / f0
    return EntropyEstimate(value, influence, {}, rows=n)


def _logistic_influence(model: Model, D: np.ndarray, y: np.ndarray, A: np.ndarray) -> np.ndarray:
    """Influence values (k,) of the per-row Laplace entropy ``-0.5 ln det A`` of a softmax model,
    for the rows of ``D`` (k, p) and their class codes ``y``.

    Two parts: the row's own Fisher information at the fitted parameters,
    ``-0.5 (tr(A^-1 F_i) - q)``, and the move of the fitted parameters the row causes,
    ``-0.5 g' A^-1 (s_i - ridge w)``, with ``g = d ln det A / dw`` (a mean over the rows given)
    and ``s_i`` the row's score. The Fisher weights move with the parameters, so the second part
    is of the same order as the first; without it the standard error comes out several times too
    small.
    """
    from scipy import linalg

    k, p = D.shape
    pi = class_probabilities(D, model.params_)[:, 1:]
    m = pi.shape[1]
    A_inv = linalg.inv(A)
    # B[i, a, b] = x_i' (A^-1)_{ab} x_i: the row's leverage for each pair of classes
    B = np.empty((k, m, m))
    for a in range(m):
        for b in range(a, m):
            block = A_inv[a * p:(a + 1) * p, b * p:(b + 1) * p]
            B[:, a, b] = B[:, b, a] = np.einsum("ij,jk,ik->i", D, block, D)
    # J[i, a, j] = d pi_a / d eta_j = pi_a (delta_aj - pi_j), also the row's Fisher weight
    # matrix M_i: tr(A^-1 F_i) = tr(M_i B_i)
    J = pi[:, :, None] * (np.eye(m)[None] - pi[:, None, :])
    own = np.einsum("iab,iba->i", J, B)
    # d tr(M_i B_i) / d eta_j = sum_a J[i, a, j] (B_aa - 2 (B pi)_a); the chain rule through
    # eta_j = x_i' w_j gives g, class-major like the flattened parameters
    c = np.einsum("iaj,ia->ij", J, np.einsum("iaa->ia", B) - 2 * np.einsum("iab,ib->ia", B, pi))
    g = (D.T @ c / k).ravel(order="F")
    V = (A_inv @ g).reshape((p, m), order="F")
    Y = np.zeros((k, m))
    labelled = np.flatnonzero(y > 0)
    Y[labelled, y[labelled] - 1] = 1.0
    w = np.asarray(model.params_).ravel(order="F")
    moved = ((Y - pi) * (D @ V)).sum(axis=1) - model.ridge * float(w @ V.ravel(order="F"))
    return -0.5 * (own - A.shape[0]) - 0.5 * moved


def parameter_entropy_change(
    old: Model, D_ref, y_ref, refreshed: Model, D_new, y_new,
    spread: tuple[np.ndarray | None, np.ndarray | None] = (None, None),
) -> Entropy:
    """``dS`` between the Laplace entropies of the old and the refreshed model's parameters."""
    a = parameter_entropy(old, D_ref, y_ref, spread[0])
    b = parameter_entropy(refreshed, D_new, y_new, spread[1])
    return parameter_entropy_change_of(a, b)


def parameter_entropy_change_of(a: EntropyEstimate, b: EntropyEstimate) -> Entropy:
    """The parameter :class:`Entropy` of two :func:`laplace_entropy` estimates."""
    return Entropy(
        kind="parameters",
        reference=a.estimate(),
        shifted=b.estimate(),
        delta=Estimate.normal(b.value - a.value, float(np.hypot(a.se, b.se))),
    )
