"""Which features carry the energy a refresh releases.

The in-sample energy a refresh releases on the new data, ``E(w_old) - E(w_new)`` (both on the new
data), is the line integral of the energy's gradient along the straight path from the refreshed
parameters to the old ones. With ``Delta = w_old - w_new`` and ``w(t) = w_new + t Delta``:

    E(w_old) - E(w_new) = sum_k Delta_k * integral_0^1 dE/dw_k (w(t)) dt

(the fundamental theorem of calculus for line integrals). Each parameter's term is its share of
the released energy; a feature's share is the sum over its parameters (one per non-reference class
for a softmax model), and the intercept has its own. The shares add up to the released energy:

- MSE: the gradient is linear in ``t``, so the integral is exact in closed form:
  ``share_k = Delta_k (g(w_new) + G Delta)_k`` with ``G = D'D / n`` and ``g(w_new)`` the gradient
  at the refreshed fit (zero but for the tiny ridge).
- MAE: along the path each row's residual changes sign at most once, so the integral of its sign is
  exact in closed form too.
- Cross entropy, two classes: the gradient's only nonlinearity is the logistic function of a
  logit that is affine in ``t``, whose integral is closed-form (``mean_logistic_on_segment``).
- Cross entropy, more classes: Gauss-Legendre quadrature in ``t`` (32 nodes; the integrand is
  analytic, so the error falls geometrically with the nodes), and the report states the residual
  (total minus the sum of the shares): at rounding level on ordinary shifts.

The coefficient change ``w_new - w_old`` is in the reference's standardisation: units of the loss's
argument (the target, or a logit) per standard deviation of the feature.
"""

from __future__ import annotations

import numpy as np

from .models import Family, Loss, Model, class_probabilities
from .report import Explanation, FeatureEnergy

#: Gauss-Legendre nodes for the cross-entropy path integral.
QUADRATURE_NODES = 32

INTERCEPT = "(intercept)"

BINARY_METHOD = "exact (the logistic function's integral along the path is closed-form)"

#: Below this |b| the segment's mean of the logistic function is taken from its Taylor series
#: at the midpoint (first omitted term ~ b^6 / 322560), above it from the difference of softplus
#: values (cancellation ~ 1e-16 / |b|): both about 1e-14 or less.
_SEGMENT_SERIES_BELOW = 1e-2


def mean_logistic_on_segment(a: np.ndarray, b: np.ndarray,
                             softplus_a: np.ndarray | None = None) -> np.ndarray:
    """``integral_0^1 sigma(a + t b) dt`` elementwise, ``sigma`` the logistic function:
    ``(softplus(a + b) - softplus(a)) / b``, or near ``b = 0`` the midpoint series
    ``sigma(c) + b^2 sigma''(c) / 24 + b^4 sigma(c) / 1920`` with ``c = a + b / 2``.
    ``softplus_a``: ``softplus(a)``, when the caller has it already."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    small = np.abs(b) < _SEGMENT_SERIES_BELOW
    if softplus_a is None:
        softplus_a = np.logaddexp(0.0, a)  # softplus, without overflow
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (np.logaddexp(0.0, a + b) - softplus_a) / b
    if small.any():
        c = a[small] + 0.5 * b[small]
        s = 0.5 * (1.0 + np.tanh(0.5 * c))  # the logistic function, overflow-free
        b2 = b[small] ** 2
        second = s * (1.0 - s) * (1.0 - 2.0 * s)
        fourth = second * (1.0 - 12.0 * s + 12.0 * s * s)
        out[small] = s + b2 / 24.0 * second + b2 * b2 / 1920.0 * fourth
    return out


def binary_path_sum(D: np.ndarray, y: np.ndarray, logit: np.ndarray, slope: np.ndarray,
                    softplus_logit: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Two classes: ``sum_i integral_0^1 grad CE_i`` along a path whose logits are ``logit + t
    slope`` (n,), for the design ``D`` (n, p) and class codes ``y`` (n,). Returns that sum
    (p, 1) and each row's :func:`mean_logistic_on_segment` (n,)."""
    mean = mean_logistic_on_segment(logit, slope, softplus_logit)
    return np.dot(D.T, mean - (y > 0))[:, None], mean


def segment_start_slope(mean: np.ndarray, start: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``d m / d a - d m / d b = (m - sigma(a)) / b`` elementwise, for ``m`` the
    :func:`mean_logistic_on_segment` of ``(a, b)`` and ``start = sigma(a)``: how ``m`` moves
    when the segment's start moves and its end stays (the derivative of the explanation's path
    gradient in the refreshed model's parameters). Near ``b = 0`` the Taylor series in ``b``
    to the second order (the derivatives of sigma at ``a``). Positive: ``m`` lies between
    ``sigma(a)`` and ``sigma(a + b)``."""
    s = start
    first = s * (1.0 - s)
    small = np.abs(b) < _SEGMENT_SERIES_BELOW
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (mean - s) / b
    if small.any():
        f, bs, ss = first[small], b[small], s[small]
        second = f * (1.0 - 2.0 * ss)
        third = f * (1.0 - 6.0 * ss + 6.0 * ss * ss)
        out[small] = f / 2.0 + bs * second / 6.0 + bs * bs * third / 24.0
    return out


def mean_gradient(model: Model, params: np.ndarray, D: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Gradient of the mean loss (the energy, no ridge) at ``params``, shaped like ``params``."""
    n = D.shape[0]
    if model.family is Family.LOGISTIC:
        P = class_probabilities(D, params)
        Y = np.zeros_like(P)
        Y[np.arange(n), y] = 1.0
        return D.T @ (P[:, 1:] - Y[:, 1:]) / n
    r = y - D @ params
    if model.loss is Loss.MSE:
        return -2.0 * D.T @ r / n
    return -D.T @ np.sign(r) / n


def _path_gradient(old: Model, refreshed: Model, D: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, str]:
    """``integral_0^1 grad E(w_new + t Delta) dt`` and how it was computed."""
    w_new, w_old = refreshed.params_, old.params_
    delta = w_old - w_new
    if old.family is Family.LINEAR and old.loss is Loss.MSE:
        G = D.T @ D / D.shape[0]
        return mean_gradient(old, w_new, D, y) + G @ delta, "exact (the MSE gradient is linear along the path)"
    if old.family is Family.LINEAR:  # MAE: the mean sign of each row's residual along the path
        a = y - D @ w_new
        b = D @ delta
        sign_a = np.sign(a)
        with np.errstate(divide="ignore", invalid="ignore"):
            crossing = np.where(b != 0, a / b, np.inf)
        inside = (crossing > 0) & (crossing < 1)
        mean_sign = np.where(inside, sign_a * (2 * crossing - 1), np.sign(a - 0.5 * b))
        return -D.T @ mean_sign / D.shape[0], "exact (each residual changes sign at most once)"
    if w_new.shape[1] == 1:  # binary: the logistic function integrates in closed form
        total, _ = binary_path_sum(D, y, D @ w_new[:, 0], D @ delta[:, 0])
        return total / D.shape[0], BINARY_METHOD
    nodes, weights = np.polynomial.legendre.leggauss(QUADRATURE_NODES)
    total = np.zeros_like(w_new)
    for node, weight in zip(nodes, weights):
        t = 0.5 * (node + 1.0)
        total += 0.5 * weight * mean_gradient(old, w_new + t * delta, D, y)
    return total, f"Gauss-Legendre quadrature along the path, {QUADRATURE_NODES} nodes"


def explain_energy(
    old: Model, refreshed: Model, D: np.ndarray, y: np.ndarray, feature_names: tuple[str, ...]
) -> Explanation:
    """Each feature's share of the in-sample energy a refresh releases on the new data.

    Parameters
    ----------
    old, refreshed
        The model fitted on the reference and the one refitted on the new data, in one
        standardisation.
    D, y
        The new data's standardised design (n, p), intercept first, and its target.
    feature_names
        The p - 1 encoded feature names.

    Returns
    -------
    Explanation
        ``total`` (``E(w_old) - E(w_new)`` on the new data, the loss's units), ``residual``
        (total minus the sum of the shares) and one :class:`FeatureEnergy` per feature and one
        for the intercept, largest share first.

    Examples
    --------
    >>> import numpy as np
    >>> from shiftemp.models import Model
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(400, 2))
    >>> old = Model().fit(X, X @ [1.0, 1.0] + rng.normal(size=400))
    >>> y_new = X @ [1.0, -1.0] + rng.normal(size=400)
    >>> new = old.with_params(None).fit_design(old.design(X), y_new)
    >>> found = explain_energy(old, new, old.design(X), y_new, ("a", "b"))
    >>> found.features[0].feature, round(found.features[0].share, 2)
    ('b', 1.0)
    """
    w_new, w_old = refreshed.params_, old.params_
    delta = w_old - w_new
    path, method = _path_gradient(old, refreshed, D, y)
    terms = (delta * path).reshape(delta.shape[0], -1).sum(axis=1)  # per design column
    total = float(np.mean(old.loss_per_row_design(D, y)) - np.mean(refreshed.loss_per_row_design(D, y)))
    change = (w_new - w_old).reshape(delta.shape[0], -1)
    names = (INTERCEPT, *feature_names)
    rows = [
        FeatureEnergy(
            feature=name, coefficient_change=tuple(float(v) for v in change[j]),
            energy=float(terms[j]), share=float(terms[j] / total) if total != 0 else 0.0,
        )
        for j, name in enumerate(names)
    ]
    rows.sort(key=lambda row: -abs(row.energy))
    return Explanation(
        total=total, residual=float(total - terms.sum()), method=method, features=tuple(rows)
    )
