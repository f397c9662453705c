"""The model families shiftemp fits: a registry keyed by enums.

Every model standardises its features with a centre and scale it is given (the reference's
statistics, so that both the old and the refreshed model see one coordinate system and rescaling a
feature in both files does not change the answer), prepends an intercept column, and minimises

    E(w; D) + (ridge / 2) * |w_penalised|^2

where ``E`` is the mean per-row loss (the energy, theory section 1). The ridge is tiny: it only
makes collinear designs identifiable, and it is stated in every report.

Shapes: ``X`` is (n, d) raw float features; the design ``D = [1, Z]`` is (n, p) with p = d + 1;
linear parameters are (p,); logistic parameters are (p, K - 1), class 0 being the reference class
with logit 0, flattened class-major (index ``k * p + j``) wherever a covariance is involved.
"""

from __future__ import annotations

import enum
import warnings
from dataclasses import dataclass, fields

import numpy as np

from .errors import OptionError
from .numerics import cho_solve, cholesky


class Family(str, enum.Enum):
    """Model family."""

    LINEAR = "linear"
    LOGISTIC = "logistic"
    MLP = "mlp"
    """A multilayer perceptron (shiftemp.network); compare only, see shiftemp/netshift.py."""


class Loss(str, enum.Enum):
    """Per-row loss, the energy density (theory section 1)."""

    MSE = "mse"
    MAE = "mae"
    CE = "ce"


#: The losses each family accepts; the first is its default.
LOSSES = {
    Family.LINEAR: (Loss.MSE, Loss.MAE),
    Family.LOGISTIC: (Loss.CE,),
    Family.MLP: (Loss.MSE, Loss.MAE, Loss.CE),
}

#: Default ridge per family (dimensionless: features are standardised). Logistic needs more, so
#: that a class absent from one dataset or a separable design still has finite parameters.
DEFAULT_RIDGE = {Family.LINEAR: 1e-8, Family.LOGISTIC: 1e-4, Family.MLP: 0.0}


def check_loss(family: Family, loss: Loss | None) -> Loss:
    """Return ``loss`` or the family's default, refusing a combination the family lacks."""
    allowed = LOSSES[family]
    if loss is None:
        return allowed[0]
    if loss not in allowed:
        names = "|".join(item.value for item in allowed)
        raise OptionError(
            f"--loss {loss.value} does not go with --model {family.value}; use --loss {names}."
        )
    return loss


#: A column whose largest magnitude is above this (or below its inverse) is brought near 1 by a
#: power of two before anything is squared, so that values near the float limits (1e300) neither
#: overflow nor underflow.
SAFE_MAGNITUDE = 1e100


def magnitude_units(X: np.ndarray) -> np.ndarray | None:
    """Per-column powers of two (d,) that bring the columns of ``X`` (n, d) whose magnitude is
    beyond :data:`SAFE_MAGNITUDE` near 1; ``None`` when every column is safe to square as it is.

    Dividing by a power of two is exact, so a rescaled computation differs from the plain one
    only where the plain one would overflow or underflow.
    """
    if X.size == 0:
        return None
    top = np.maximum(np.abs(X.max(axis=0)), np.abs(X.min(axis=0)))
    extreme = np.isfinite(top) & (top > 0) & ((top > SAFE_MAGNITUDE) | (top < 1 / SAFE_MAGNITUDE))
    if not extreme.any():
        return None
    unit = np.ones(X.shape[1])
    unit[extreme] = np.exp2(np.round(np.log2(top[extreme])))
    return unit


def accurate_mean(X: np.ndarray, axis: int = 0) -> np.ndarray:
    """The mean of ``X`` along ``axis``, in practice the correctly rounded one: the rough mean
    plus the mean of the residuals about it. A plain mean's last bit depends on the order of the
    rows; the centre of a column far from zero (epoch seconds) sets the fold hash's grid, where
    that bit moves rows between folds. The streaming engine's merged means agree
    (``stream.Moments``)."""
    rough = np.mean(X, axis=axis, keepdims=True)
    return (rough + np.mean(X - rough, axis=axis, keepdims=True)).squeeze(axis)


def standardisation(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centre and scale of the columns of ``X`` (n, d): means and population standard deviations.

    A constant column gets scale 1, so that it maps to zero rather than to a division by zero.
    Columns near the float limits are rescaled by :func:`magnitude_units` first.
    """
    unit = magnitude_units(X)
    if unit is not None:
        Xu = X / unit
        centre, scale = accurate_mean(Xu) * unit, Xu.std(axis=0) * unit
    else:
        centre, scale = accurate_mean(X), X.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    return centre, scale


def design(X: np.ndarray, centre: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """The standardised design ``[1, (X - centre) / scale]``, shape (n, d + 1)."""
    D = np.empty((X.shape[0], X.shape[1] + 1))
    D[:, 0] = 1.0
    np.subtract(X, centre, out=D[:, 1:])
    D[:, 1:] /= scale
    return D


def _penalty(p: int, ridge: float, intercept: bool) -> np.ndarray:
    pen = np.full(p, ridge)
    if not intercept:
        pen[0] = 0.0
    return pen


# --------------------------------------------------------------------------------------------
# least squares


def solve_least_squares(gram: np.ndarray, n: float, ridge: float) -> np.ndarray:
    """Ridge least squares from the augmented Gram matrix ``[D y]'[D y]`` (p + 1, p + 1).

    Minimises ``|y - D b|^2 / n + (ridge / 2) |b[1:]|^2``: the normal equations are
    ``(D'D + n ridge/2 P) b = D'y``. Working from the Gram matrix lets the streaming engine and
    the cross-fitting reuse one kernel.
    """
    p = gram.shape[0] - 1
    A = gram[:p, :p] + np.diag(0.5 * n * _penalty(p, ridge, intercept=False))
    # a Cholesky factor and solve without solve(assume_a="pos")'s condition estimate (1.6x
    # faster on 5,000 features), in numpy: scipy.linalg's import would be most of the wall time
    # of a small streaming run
    return cho_solve(cholesky(A), gram[:p, p])


def augmented_gram(D: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``[D y]'[D y]``, shape (p + 1, p + 1)."""
    Dy = np.column_stack([D, y])
    return Dy.T @ Dy


# --------------------------------------------------------------------------------------------
# least absolute deviations


def solve_least_absolute(
    D: np.ndarray, y: np.ndarray, ridge: float, *, max_iter: int = 200, tol: float = 1e-10
) -> np.ndarray:
    """Ridge least absolute deviations by iteratively reweighted least squares.

    Minimises ``mean |y - D b| + (ridge / 2) |b[1:]|^2``. Each step solves a weighted least
    squares problem with weights ``1 / max(|r|, eps)``; ``eps`` is 1e-9 of the target's spread, so
    the solution is that of the LAD problem up to a Huber smoothing of that width. Stops when the
    objective changes by less than ``tol`` relative.
    """
    from scipy import linalg

    n, p = D.shape
    pen = _penalty(p, ridge, intercept=False)
    b = solve_least_squares(augmented_gram(D, y), n, ridge)
    eps = 1e-9 * max(float(np.std(y)), 1e-300)
    previous = np.inf
    for _ in range(max_iter):
        r = y - D @ b
        objective = np.mean(np.abs(r)) + 0.5 * pen @ (b * b)
        if abs(previous - objective) <= tol * max(objective, 1e-300):
            break
        previous = objective
        w = 1.0 / np.maximum(np.abs(r), eps)
        # the weighted normal equations of 0.5 sum w r^2 / n + (ridge/2)|b|^2
        A = (D.T * w) @ D / n + np.diag(pen)
        with warnings.catch_warnings():
            # weights up to 1/eps on the rows the fit passes through, and the ridge alone on a
            # constant column, make A's condition number huge by design; it stays positive
            # definite, the iteration converges, and scipy's warning (once per step: hundreds
            # of lines) would only break the one-line stderr contract
            warnings.simplefilter("ignore", linalg.LinAlgWarning)
            b = linalg.solve(A, (D.T * w) @ y / n, assume_a="pos")
    return b


# --------------------------------------------------------------------------------------------
# multinomial logistic (softmax with a reference class)


def class_probabilities(D: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Softmax probabilities (n, K) of the logits ``[0, D B]``; ``B`` is (p, K - 1)."""
    logits = np.zeros((D.shape[0], B.shape[1] + 1))
    logits[:, 1:] = D @ B
    logits -= logits.max(axis=1, keepdims=True)
    np.exp(logits, out=logits)
    logits /= logits.sum(axis=1, keepdims=True)
    return logits


def cross_entropy_per_row(D: np.ndarray, B: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``-ln p(y_i | x_i)`` (n,), computed stably with log-sum-exp."""
    logits = np.zeros((D.shape[0], B.shape[1] + 1))
    logits[:, 1:] = D @ B
    top = logits.max(axis=1)
    lse = top + np.log(np.exp(logits - top[:, None]).sum(axis=1))
    return lse - logits[np.arange(D.shape[0]), y]


def fisher_information(D: np.ndarray, P: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Mean Fisher information of the softmax model, (q, q) with q = p (K - 1), class-major.

    Block (k, l) is ``D' diag(P_k (delta_kl - P_l)) D / n`` for the non-reference classes.
    """
    n, p = D.shape
    m = P.shape[1] - 1
    if m == 1:  # D' diag(w) D with w = p (1 - p) >= 0: one symmetric product
        w = P[:, 1] * (1.0 - P[:, 1])
        root = D.T * np.sqrt(w if weights is None else w * weights)
        return np.dot(root, root.T) / n
    F = np.empty((p * m, p * m))
    for k in range(m):
        for l in range(k, m):
            w = P[:, k + 1] * ((k == l) - P[:, l + 1])
            if weights is not None:
                w = w * weights
            block = np.dot(D.T * w, D) / n  # np.dot releases the GIL (np.matmul does not)
            F[k * p:(k + 1) * p, l * p:(l + 1) * p] = block
            F[l * p:(l + 1) * p, k * p:(k + 1) * p] = block.T
    return F


def solve_logistic(
    D: np.ndarray, y: np.ndarray, n_classes: int, ridge: float, *, max_iter: int = 100,
    tol: float = 1e-10, start: np.ndarray | None = None,
) -> np.ndarray:
    """Ridge multinomial logistic regression by Newton's method with backtracking.

    Minimises ``mean CE + (ridge / 2) |B|^2`` (intercepts penalised too, so that a class that is
    absent from the data keeps a finite logit). Converges when the Newton decrement falls below
    ``tol``, and takes that last step; returns ``B`` (p, K - 1). ``start``: the first iterate
    (by default, the class frequencies in the intercepts); the optimum does not depend on it.
    """
    from scipy import linalg

    n, p = D.shape
    m = n_classes - 1
    if start is not None:
        B = np.array(start, dtype=float).reshape(p, m)
    else:
        counts = np.bincount(y, minlength=n_classes) + 0.5
        B = np.zeros((p, m))
        B[0] = np.log(counts[1:] / counts[0])
    Y = np.zeros((n, n_classes))
    Y[np.arange(n), y] = 1.0

    def objective(B: np.ndarray) -> float:
        return float(cross_entropy_per_row(D, B, y).mean() + 0.5 * ridge * np.sum(B * B))

    current = objective(B)
    for _ in range(max_iter):
        P = class_probabilities(D, B)
        grad = (D.T @ (P[:, 1:] - Y[:, 1:]) / n + ridge * B).ravel(order="F")
        H = fisher_information(D, P) + ridge * np.eye(p * m)
        step = linalg.solve(H, grad, assume_a="pos")
        decrement = float(grad @ step)
        if decrement <= tol:
            # the last Newton step too: its error is of the order of the decrement squared, so
            # what moves to first order with the parameters (a loss on other rows) is exact too
            return B - step.reshape((p, m), order="F")
        t = 1.0
        while True:
            candidate = B - t * step.reshape((p, m), order="F")
            value = objective(candidate)
            if value <= current - 0.25 * t * decrement or t < 1e-10:
                break
            t *= 0.5
        B, current = candidate, value
    return B


# --------------------------------------------------------------------------------------------
# the estimator


class NotFittedError(ValueError, AttributeError):
    """A :class:`Model` used before :meth:`Model.fit` (scikit-learn's exception of that name
    derives from the same two)."""


@dataclass
class Model:
    """A model family with a loss, scikit-learn style: configure, ``fit``, then use;
    ``get_params``/``set_params`` as scikit-learn's estimators have them (``sklearn.base.clone``
    works), but not an estimator of it: importing scikit-learn would slow every run's start.

    Parameters
    ----------
    family, loss
        What to fit.
    ridge
        Penalty weight (dimensionless); ``None`` takes the family's default.
    centre, scale
        Feature standardisation, shape (d,) each. ``None`` computes them from the data given to
        :meth:`fit`; pass the reference's statistics to fit a refreshed model in the reference's
        coordinates.
    n_classes
        For the logistic family: the number of classes K (codes 0..K-1).

    Attributes
    ----------
    params_ : ndarray
        (p,) for linear models, (p, K - 1) for logistic ones, in standardised coordinates.
    centre_, scale_ : ndarray
        The standardisation used.
    """

    family: Family = Family.LINEAR
    loss: Loss | None = None
    ridge: float | None = None
    centre: np.ndarray | None = None
    scale: np.ndarray | None = None
    n_classes: int | None = None

    def __post_init__(self) -> None:
        # the enums from their values ("mse"): they are str enums, so a plain string would pass
        # the checks below and then match no family or loss where they are told apart
        self.family = Family(self.family)
        self.loss = check_loss(self.family, None if self.loss is None else Loss(self.loss))
        if self.ridge is None:
            self.ridge = DEFAULT_RIDGE[self.family]
        elif not (isinstance(self.ridge, (int, float, np.floating, np.integer))
                  and np.isfinite(self.ridge) and self.ridge >= 0):
            raise ValueError(f"ridge is a penalty weight >= 0; got {self.ridge!r}.")
        if self.n_classes is not None and not (
            isinstance(self.n_classes, (int, np.integer)) and self.n_classes >= 2
        ):
            raise ValueError(f"n_classes is a number of classes >= 2; got {self.n_classes!r}.")

    def get_params(self, deep: bool = True) -> dict:
        """The constructor's arguments, by name (scikit-learn's convention)."""
        return {field.name: getattr(self, field.name) for field in fields(self)}

    def set_params(self, **params) -> "Model":
        """Change constructor arguments (scikit-learn's convention); returns the model. Settings
        that do not go together leave the model as it was."""
        known = self.get_params()
        for name in params:
            if name not in known:
                raise ValueError(f"Model has no parameter {name!r}; its parameters: {list(known)}.")
        if "family" in params and "loss" not in params:
            known["loss"] = None  # the new family's default, not the old family's loss
        checked = Model(**(known | params))  # raises before this model changes
        for name in known:
            setattr(self, name, getattr(checked, name))
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "centre_"):
            raise NotFittedError("this Model is not fitted yet; call fit(X, y) first.")

    # -- fitting ----------------------------------------------------------------------------
    def fit(self, X: np.ndarray, y: np.ndarray) -> "Model":
        """Fit to ``X`` (n, d) and ``y`` (n,): floats, or class codes for the logistic family
        (array-likes, a DataFrame and a Series included)."""
        X, y = check_X_y(X, y, self.family)
        if self.centre is None or self.scale is None:
            self.centre_, self.scale_ = standardisation(X)
        else:
            self.centre_, self.scale_ = np.asarray(self.centre), np.asarray(self.scale)
        D = self.design(X)
        return self.fit_design(D, y)

    def fit_design(self, D: np.ndarray, y: np.ndarray) -> "Model":
        """Fit on an already standardised design ``D`` (n, p); ``centre_``/``scale_`` must be set."""
        if self.family is Family.LOGISTIC:
            if self.n_classes is not None and int(y.max()) >= self.n_classes:
                raise ValueError(f"y holds class code {int(y.max())}, beyond n_classes ="
                                 f" {self.n_classes} (codes 0..{self.n_classes - 1}).")
            k = self.n_classes if self.n_classes is not None else int(y.max()) + 1
            self.n_classes_ = max(k, 2)
            self.params_ = solve_logistic(D, y, self.n_classes_, self.ridge)
        elif self.loss is Loss.MSE:
            self.params_ = solve_least_squares(augmented_gram(D, y), D.shape[0], self.ridge)
        else:
            self.params_ = solve_least_absolute(D, y, self.ridge)
        return self

    def with_params(self, params: np.ndarray) -> "Model":
        """A copy of this fitted model with other parameters (same standardisation)."""
        other = Model(self.family, self.loss, self.ridge, self.centre_, self.scale_, self.n_classes)
        other.centre_, other.scale_ = self.centre_, self.scale_
        if self.family is Family.LOGISTIC:
            other.n_classes_ = self.n_classes_
        other.params_ = params
        return other

    # -- using ------------------------------------------------------------------------------
    def design(self, X: np.ndarray) -> np.ndarray:
        """The standardised design ``[1, Z]`` (n, p) of raw features ``X`` (n, d)."""
        self._check_fitted()
        return design(np.asarray(X, dtype=float), self.centre_, self.scale_)

    @property
    def n_params(self) -> int:
        """Number of free parameters q."""
        return int(np.size(self.params_))

    def loss_per_row_design(self, D: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Per-row loss (n,) on a standardised design."""
        if self.family is Family.LOGISTIC:
            return cross_entropy_per_row(D, self.params_, y)
        r = y - D @ self.params_
        return r * r if self.loss is Loss.MSE else np.abs(r)

    def loss_per_row(self, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Per-row loss (n,) in the loss's units (squared target units for MSE, nats for CE)."""
        return self.loss_per_row_design(self.design(X), y)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Predictions (n,): the fitted value, or the most probable class code."""
        D = self.design(X)
        if self.family is Family.LOGISTIC:
            return class_probabilities(D, self.params_).argmax(axis=1)
        return D @ self.params_

    def laplace_covariance(self, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Model-based covariance C (q, q) of the fitted parameters (theory section 2)."""
        return laplace_covariance(self, self.design(X), y)


def check_X_y(X, y, family: Family) -> tuple[np.ndarray, np.ndarray]:
    """``X`` as floats (n, d) and ``y`` (n,) as floats (linear) or class codes (logistic);
    a ``ValueError`` for shapes that do not match or values that are not finite."""
    X = np.asarray(X, dtype=float)
    y = np.asarray(y)
    if X.ndim != 2 or y.ndim != 1 or X.shape[0] != y.shape[0]:
        raise ValueError(f"X must be (n, d) and y (n,) with the same n; got X {X.shape} and"
                         f" y {y.shape}.")
    if not X.shape[0]:
        raise ValueError("X and y have no rows.")
    if family is Family.LOGISTIC:
        if y.dtype.kind not in "biuf" or not np.array_equal(y, np.round(y)) or y.min() < 0:
            raise ValueError("y of the logistic family holds class codes 0..K-1.")
        y = y.astype(np.int64)
    else:
        y = np.asarray(y, dtype=float)
    if not (np.isfinite(X).all() and np.isfinite(y).all()):
        raise ValueError("X and y must be finite: drop the rows with NaN or infinite values.")
    return X, y


def laplace_covariance(model: Model, D: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Laplace covariance of ``model``'s parameters on design ``D`` (n, p), shape (q, q).

    MSE: ``sigma^2 (D'D)^-1``; MAE: ``(D'D)^-1 / (4 f(0)^2)``; CE: the inverse Fisher information
    ``(D' W D)^-1``; each with the ridge added to the curvature so that it stays invertible.
    """
    return np.linalg.inv(D.shape[0] * curvature(model, D, y))


def curvature(model: Model, D: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per-row precision of the parameters, ``(n C)^-1``, shape (q, q).

    The per-row form is what the parameter entropy normalises by (theory section 5).
    """
    n, p = D.shape
    if model.family is Family.LOGISTIC:
        P = class_probabilities(D, model.params_)
        return fisher_information(D, P) + model.ridge * np.eye(model.n_params)
    G = D.T @ D / n + np.diag(0.5 * _penalty(p, model.ridge, intercept=False))
    r = y - D @ model.params_
    if model.loss is Loss.MSE:
        sigma2 = float(r @ r) / max(n - p, 1)
        return G / max(sigma2, 1e-300)
    f0 = residual_density_at_zero(r)
    return G * (4.0 * f0 * f0)


def residual_density_at_zero(r: np.ndarray) -> float:
    """Gaussian-kernel density estimate of the residuals at 0, Silverman's bandwidth."""
    h = kernel_bandwidth(r)
    return float(np.mean(np.exp(-0.5 * (r / h) ** 2)) / (h * np.sqrt(2 * np.pi)))


def kernel_bandwidth(r: np.ndarray) -> float:
    """Silverman's rule-of-thumb bandwidth for the residuals ``r`` (n,)."""
    n = r.size
    sd = float(np.std(r))
    iqr = float(np.subtract(*np.percentile(r, [75, 25]))) / 1.349
    spread = min(sd, iqr) if iqr > 0 else sd
    return max(0.9 * spread * n ** -0.2, 1e-12)
