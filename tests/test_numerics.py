"""shiftemp.numerics, the numpy stand-ins for the scipy kernels of the linear/MSE path, agree
with scipy to rounding."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import linalg, special

from shiftemp import numerics


def test_digamma_matches_scipy():
    x = np.concatenate([
        np.arange(0.5, 200.0, 0.5),  # the half-integers and integers of the Wishart bias
        np.geomspace(1e-3, 1e12, 2_000),
        [1.4616321449683622, 9.999999, 10.0, 10.000001, 5e5, 1e15],  # the root; the switch
    ])
    np.testing.assert_allclose(numerics.digamma(x), special.digamma(x), rtol=1e-13, atol=1e-15)


def test_digamma_scalar_and_domain():
    assert numerics.digamma(2.5) == pytest.approx(float(special.digamma(2.5)), rel=1e-15)
    assert np.ndim(numerics.digamma(2.5)) == 0
    with pytest.raises(ValueError):
        numerics.digamma([1.0, 0.0])


@pytest.mark.parametrize("p", [1, 5, 127, 128, 129, 300])
def test_cholesky_solves_match_scipy(p):
    rng = np.random.default_rng(p)
    M = rng.normal(size=(p + 20, p))
    A = M.T @ M / (p + 20) + 1e-3 * np.eye(p)
    b, B = rng.normal(size=p), rng.normal(size=(p, 50))
    L = numerics.cholesky(A)
    np.testing.assert_allclose(L, linalg.cholesky(A, lower=True), rtol=0, atol=1e-12)
    for rhs in (b, B):
        expected = linalg.cho_solve(linalg.cho_factor(A), rhs)
        np.testing.assert_allclose(numerics.cho_solve(L, rhs), expected, rtol=1e-10,
                                   atol=1e-12 * np.abs(expected).max())
        lower = linalg.solve_triangular(L, rhs, lower=True)
        np.testing.assert_allclose(numerics.solve_lower(L, rhs), lower, rtol=1e-10,
                                   atol=1e-12 * np.abs(lower).max())
        upper = linalg.solve_triangular(L.T, rhs, lower=False)
        np.testing.assert_allclose(numerics.solve_upper(L.T, rhs), upper, rtol=1e-10,
                                   atol=1e-12 * np.abs(upper).max())


def test_cholesky_refuses_as_scipy():
    with pytest.raises(np.linalg.LinAlgError):
        numerics.cholesky(np.array([[1.0, 2.0], [2.0, 1.0]]))
    assert np.linalg.LinAlgError is linalg.LinAlgError
    with pytest.raises(ValueError):
        numerics.cholesky(np.array([[np.inf, 0.0], [0.0, 1.0]]))
