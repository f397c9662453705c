"""The few scipy kernels the linear/MSE path calls, in numpy alone.

Importing scipy.linalg and scipy.special takes about 0.7 s, most of the wall time of a small
streaming run; these are the only pieces of them that path needs, so it does without scipy.
Their answers agree with scipy's to rounding (tests/test_numerics.py).
"""

from __future__ import annotations

import numpy as np

#: Rows per diagonal block of the triangular solves: LAPACK solves each block, and the updates
#: between blocks are matrix products, so wide systems cost matrix products, not Python loops.
_BLOCK = 128

#: The asymptotic series of digamma is used from here on: its first omitted term,
#: ``3617 / (8160 x^16)``, is below 1e-16 of ``ln x`` there.
_ASYMPTOTIC_FROM = 10.0


def digamma(x) -> np.ndarray:
    """``psi(x) = d ln Gamma(x) / dx`` for positive ``x`` (array or scalar), as
    ``scipy.special.digamma``: ``psi(x) = psi(x + k) - sum_{j<k} 1 / (x + j)`` brings x to at
    least 10, where the asymptotic series in ``1 / x^2`` converges to double precision."""
    x = np.array(x, dtype=float)
    if not np.all(x > 0):
        raise ValueError("digamma: arguments must be positive")
    shift = np.zeros_like(x)
    small = x < _ASYMPTOTIC_FROM
    while small.any():
        shift[small] += 1.0 / x[small]
        x[small] += 1.0
        small = x < _ASYMPTOTIC_FROM
    t = 1.0 / (x * x)
    # sum_k B_2k / (2k x^2k), k = 1..7, in Horner form
    series = t * (1 / 12 - t * (1 / 120 - t * (1 / 252 - t * (1 / 240 - t * (
        1 / 132 - t * (691 / 32760 - t / 12))))))
    out = np.log(x) - 0.5 / x - series - shift
    return out if out.ndim else out[()]


def cholesky(A: np.ndarray) -> np.ndarray:
    """Lower Cholesky factor L of a symmetric positive-definite ``A`` (``A = L L'``), read from
    its lower triangle; :class:`numpy.linalg.LinAlgError` (scipy's too) when ``A`` is not
    positive definite, ValueError when it holds infinities or NaN (as scipy's check_finite)."""
    A = np.asarray(A, dtype=float)
    if not np.isfinite(A).all():
        raise ValueError("array must not contain infs or NaNs")
    return np.linalg.cholesky(A)


def solve_lower(L: np.ndarray, B: np.ndarray) -> np.ndarray:
    """``X`` with ``L X = B`` for a lower-triangular ``L`` (m, m); ``B`` (m,) or (m, k)."""
    X = np.array(B, dtype=float)
    m = L.shape[0]
    for start in range(0, m, _BLOCK):
        stop = min(start + _BLOCK, m)
        if start:
            X[start:stop] -= L[start:stop, :start] @ X[:start]
        X[start:stop] = np.linalg.solve(L[start:stop, start:stop], X[start:stop])
    return X


def solve_upper(U: np.ndarray, B: np.ndarray) -> np.ndarray:
    """``X`` with ``U X = B`` for an upper-triangular ``U`` (m, m); ``B`` (m,) or (m, k)."""
    X = np.array(B, dtype=float)
    m = U.shape[0]
    for stop in range(m, 0, -_BLOCK):
        start = max(stop - _BLOCK, 0)
        if stop < m:
            X[start:stop] -= U[start:stop, stop:] @ X[stop:]
        X[start:stop] = np.linalg.solve(U[start:stop, start:stop], X[start:stop])
    return X


def cho_solve(L: np.ndarray, B: np.ndarray) -> np.ndarray:
    """``X`` with ``L L' X = B``, from the lower Cholesky factor ``L`` of :func:`cholesky`."""
    return solve_upper(L.T, solve_lower(L, B))
