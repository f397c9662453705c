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
from scipy import linalg, special

from .models import Family, Loss, Model, class_probabilities, curvature, kernel_bandwidth
from .report import ColumnEntropy, Entropy, Estimate

LOG_2PI_E = float(np.log(2 * np.pi * np.e))


@dataclass(frozen=True)
class EntropyEstimate:
    """An entropy (nats per row) with the per-row influence values behind its standard error."""

    value: float
    influence: np.ndarray
    marginals: dict[str, float]
    dependence: float = 0.0

    @property
    def se(self) -> float:
        n = self.influence.size
        return float(self.influence.std(ddof=1) / np.sqrt(n)) if n > 1 else 0.0

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
    return float(p * np.log(2.0 / (n - 1)) + special.digamma((n - i) / 2.0).sum())


def shrinkage_intensity(Z: np.ndarray) -> float:
    """Ledoit-Wolf intensity for the correlation matrix of standardised columns ``Z`` (n, p),
    shrinking toward the identity."""
    n, p = Z.shape
    if p < 2:
        return 0.0
    R = Z.T @ Z / n
    target_gap = R - np.eye(p)
    d2 = float(np.sum(target_gap ** 2))
    if d2 <= 0:
        return 0.0
    # b2: mean squared distance of the rank-one terms z z' from R, over n
    row_sq = np.einsum("ij,ij->i", Z, Z)
    b2 = float((np.sum(row_sq ** 2) / n - np.sum(R ** 2)) / n)
    return float(min(max(b2 / d2, 0.0), 1.0))


def gaussian_entropy(X: np.ndarray, names: tuple[str, ...]) -> EntropyEstimate:
    """Gaussian entropy ``0.5 ln det(2 pi e Sigma)`` of the columns of ``X`` (n, m), nats per row.

    Sigma is the sample covariance with its correlation shrunk toward the identity (Ledoit-Wolf),
    which keeps it invertible with few rows and makes the estimate equivariant to each column's
    units; the Wishart bias of the log-determinant is removed. Columns must not be constant.
    """
    n, m = X.shape
    if m == 0:
        return EntropyEstimate(0.0, np.zeros(n), {})
    centre = X.mean(axis=0)
    sd = X.std(axis=0, ddof=1)
    Z = (X - centre) / sd
    delta = shrinkage_intensity(Z)
    R = (1 - delta) * (Z.T @ Z / (n - 1)) + delta * np.eye(m)
    chol = linalg.cholesky(R, lower=True)
    log_det_R = 2.0 * float(np.log(np.diag(chol)).sum())
    log_sd = np.log(sd)
    value = 0.5 * m * LOG_2PI_E + float(log_sd.sum()) + 0.5 * (log_det_R - log_det_bias(m, n))
    mahalanobis = np.sum(linalg.solve_triangular(chol, Z.T, lower=True) ** 2, axis=0)
    marginal_bias = log_det_bias(1, n)
    marginals = {
        name: 0.5 * LOG_2PI_E + float(s) - 0.5 * marginal_bias for name, s in zip(names, log_sd)
    }
    dependence = value - sum(marginals.values())
    return EntropyEstimate(value, 0.5 * (mahalanobis - m), marginals, dependence)


def shannon_entropy(codes: np.ndarray) -> EntropyEstimate:
    """Plug-in Shannon entropy of category codes (n,), nats, with the Miller-Madow correction
    ``(k - 1) / (2 n)`` for the k observed categories."""
    n = codes.size
    counts = np.bincount(codes)
    counts = counts[counts > 0]
    p = counts / n
    plug_in = float(-(p * np.log(p)).sum())
    log_p = np.log(np.bincount(codes)[codes] / n)
    return EntropyEstimate(plug_in + (counts.size - 1) / (2.0 * n), -log_p - plug_in, {})


def data_entropy(
    numeric: np.ndarray, numeric_names: tuple[str, ...], categorical: tuple[np.ndarray, ...],
    categorical_names: tuple[str, ...],
) -> EntropyEstimate:
    """Per-row data entropy of one dataset: Gaussian numeric part plus categorical parts."""
    total = gaussian_entropy(numeric, numeric_names)
    value, influence = total.value, total.influence.copy()
    marginals = dict(total.marginals)
    for name, codes in zip(categorical_names, categorical):
        part = shannon_entropy(codes)
        value += part.value
        influence += part.influence
        marginals[name] = part.value
    return EntropyEstimate(value, influence, marginals, total.dependence)


def data_entropy_change(reference, shifted, numeric_names, categorical_names) -> Entropy:
    """``dS = H(shifted) - H(reference)`` with per-column contributions (theory section 2).

    ``reference`` and ``shifted`` are :class:`shiftemp.dataset.Side` objects. A numeric column that
    is constant in either dataset has no Gaussian entropy: it is left out of both, and listed in
    ``excluded``.
    """
    constant = {
        name for j, name in enumerate(numeric_names)
        for side in (reference, shifted) if np.ptp(side.numeric[:, j]) == 0
    }
    keep = [j for j, name in enumerate(numeric_names) if name not in constant]
    names = tuple(numeric_names[j] for j in keep)
    parts = [
        data_entropy(side.numeric[:, keep], names, side.categorical, categorical_names)
        for side in (reference, shifted)
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


def parameter_entropy(model: Model, D: np.ndarray, y: np.ndarray) -> EntropyEstimate:
    """Laplace entropy of ``model``'s parameters fitted on ``D`` (n, p), per row, in nats.

    ``S = 0.5 ln det(2 pi e n C)``, with C the Laplace covariance: multiplying by n removes the
    ``-q/2 ln n`` that would make a smaller batch look hotter only because it is smaller.
    """
    n, p = D.shape
    A = curvature(model, D, y)
    q = A.shape[0]
    chol = linalg.cholesky(A, lower=True)
    value = 0.5 * q * LOG_2PI_E - float(np.log(np.diag(chol)).sum())
    if model.family is Family.LOGISTIC:
        influence = -0.5 * (_fisher_trace(model, D, A) - q)
        return EntropyEstimate(value, influence, {})
    G_inv_scaled = linalg.cho_solve((chol, True), D.T)  # A^-1 D', (p, n)
    r = y - D @ model.params_
    if model.loss is Loss.MSE:
        sigma2 = float(r @ r) / max(n - p, 1)
        leverage = np.einsum("ij,ji->i", D, G_inv_scaled) / sigma2  # d' G^-1 d
        influence = 0.5 * q * (r * r / sigma2 - 1) - 0.5 * (leverage - q)
    else:
        h = kernel_bandwidth(r)
        kernel = np.exp(-0.5 * (r / h) ** 2) / (h * np.sqrt(2 * np.pi))
        f0 = float(kernel.mean())
        leverage = np.einsum("ij,ji->i", D, G_inv_scaled) * 4 * f0 * f0
        influence = -0.5 * (leverage - q) - q * (kernel - f0) / f0
    return EntropyEstimate(value, influence, {})


def _fisher_trace(model: Model, D: np.ndarray, A: np.ndarray) -> np.ndarray:
    """``tr(A^-1 F_i)`` (n,) for each row's Fisher information F_i of the softmax model."""
    n, p = D.shape
    P = class_probabilities(D, model.params_)
    m = P.shape[1] - 1
    A_inv = linalg.inv(A)
    trace = np.zeros(n)
    for k in range(m):
        for l in range(m):
            weight = P[:, k + 1] * ((k == l) - P[:, l + 1])
            block = A_inv[l * p:(l + 1) * p, k * p:(k + 1) * p]
            trace += weight * np.einsum("ij,jk,ik->i", D, block, D)
    return trace


def parameter_entropy_change(old: Model, D_ref, y_ref, refreshed: Model, D_new, y_new) -> Entropy:
    """``dS`` between the Laplace entropies of the old and the refreshed model's parameters."""
    a = parameter_entropy(old, D_ref, y_ref)
    b = parameter_entropy(refreshed, D_new, y_new)
    return Entropy(
        kind="parameters",
        reference=a.estimate(),
        shifted=b.estimate(),
        delta=Estimate.normal(b.value - a.value, float(np.hypot(a.se, b.se))),
    )
