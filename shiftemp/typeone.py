"""Type I temperature: the transition from initialization to equilibrium (theory section 4).

State A draws every parameter independently from an initialization law ``p``
(:mod:`shiftemp.laws`); state B is the fitted model with its Laplace distribution ``N(w*, C)``::

    E_A = E_{w ~ p} E(w; D)      S_A = q h(p)
    E_B = E(w*; D)               S_B = 0.5 ln det(2 pi e C)
    T_I = (E_B - E_A) / (S_B - S_A)

Energies are mean losses per row in the loss's units (squared target units for MSE, target units
for MAE, nats for cross entropy); entropies are nats; ``T_I`` is loss units per nat.

Each figure comes from one of three methods, and says which:

- ``analytic``: ``E_A`` exactly. MSE in closed form for every zero-mean law; MAE by the folded
  normal (normal law) or, for the uniform and mixed laws, by the Fourier series of ``|z|`` on a
  window holding the linear form, whose characteristic function is a product of the law's;
  cross entropy by Gauss-Hermite quadrature of the Gaussian integral (normal law, moderate spread)
  or by characteristic-function formulas that are exact identities for any symmetric law
  (binary: one integral against an exponentially decaying kernel; softmax: Frullani's integral
  and Gil-Pelaez inversion). All are numerically exact; docs/theory.md (section 7) derives them.
- ``asymptotic``: the large-d central-limit forms (MAE), the small- and large-spread expansions
  (cross entropy), and the large-n energy form of the equilibrium covariance (``S_B``).
- ``monte-carlo``: ``E_A`` and ``S_A`` averaged over draws of the parameters, with standard errors.

Shapes: the design ``D`` (n, p) is the model's standardised design, intercept column included;
linear parameters are (p,); logistic parameters ``B`` (p, K - 1) have class 0 as the reference
class with logit 0, flattened class-major (index ``k * p + j``), so ``q = p (K - 1)``.

This is a reconstruction of "On the Temperature of Machine Learning Systems" (Dong Zhang, arXiv
2404.13218), whose body is not available to the project; see docs/theory.md, section 7.
"""

from __future__ import annotations

import enum
import functools
import math
from collections.abc import Iterable, Sequence
import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import integrate, interpolate, linalg, special

from .errors import InputError, OptionError
from .laws import LOG_2PI_E, TAIL_Z, InitLaw, Law, Mixed, Normal, Uniform, make_law
from .models import Loss
from .report import Z95, Temperature

__all__ = [
    "DEFAULT_DRAWS",
    "DEFAULT_MAX_ROWS",
    "DEFAULT_METHODS",
    "Equilibrium",
    "LargeDLimit",
    "Method",
    "Quantity",
    "TypeOneEstimate",
    "TypeOneResult",
    "ce_large_spread",
    "ce_small_spread",
    "expected_ce_fourier",
    "expected_ce_gauss_hermite",
    "expected_mae_folded_normal",
    "expected_mae_fourier",
    "expected_mse",
    "laplace_entropy",
    "large_n_equilibrium_entropy",
    "monte_carlo_draws",
    "mse_large_d_limit",
    "row_spread",
    "through_spread",
    "type_one",
    "type_one_from_model",
    "type_one_table",
]


class Method(str, enum.Enum):
    """How a figure was computed (the ``--method`` choices)."""

    ANALYTIC = "analytic"
    ASYMPTOTIC = "asymptotic"
    MONTE_CARLO = "monte-carlo"


DEFAULT_METHODS = (Method.ANALYTIC, Method.ASYMPTOTIC, Method.MONTE_CARLO)
#: Monte Carlo draws of the parameter vector.
DEFAULT_DRAWS = 100_000
#: Above this many rows, the per-row expectations run on a seeded random subsample (and report
#: its sampling standard error); MSE's closed form always uses every row.
DEFAULT_MAX_ROWS = 5_000

#: Spread (sd of a logit at initialization) below which the cross-entropy asymptotic uses the
#: small-spread expansion, above which the large-spread one: where their errors cross (about 7%
#: for K = 2 and 3; see docs/theory.md, section 7).
SPREAD_CROSSOVER = 1.75
#: Gauss-Hermite nodes by the largest logit spread they serve, exact to ~1e-13 up to there.
GH_NODES = ((1.0, 40), (2.0, 100), (3.0, 200))
GH_MAX_SPREAD = GH_NODES[-1][0]
#: Chebyshev nodes for functions of the spread alone (normal law), when rows outnumber them.
SPREAD_NODES = 48
#: Relative size of the numerical error of an exact figure, below which a difference counts as
#: zero when deciding whether a temperature is finite.
NUMERICAL_FLOOR = 1e-10
#: Floats per working block (rows x nodes, or draws x rows): about 32 MB.
BLOCK = 1 << 22


# ------------------------------------------------------------------------------------------
# results


@dataclass(frozen=True)
class Quantity:
    """One figure of the transition, tagged with the method that produced it.

    ``value`` is ``None`` when the figure is unavailable (``status`` says why). ``se`` is a
    standard error (Monte Carlo draws, or a row subsample); ``error_bound`` a bound on the
    numerical error of an exact method, where one is known. Units as in the module docstring.
    """

    value: float | None
    method: Method
    se: float | None = None
    error_bound: float | None = None
    status: str = "ok"
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "value": _finite_or_none(self.value),
            "method": self.method.value,
            "se": _finite_or_none(self.se),
            "error_bound": _finite_or_none(self.error_bound),
            "status": self.status,
            "note": self.note,
        }


@dataclass(frozen=True)
class TypeOneEstimate:
    """The Type I transition by one method: E_A, S_A, S_B, dE, dS and T_I."""

    method: Method
    initial_energy: Quantity
    initial_entropy: Quantity
    equilibrium_entropy: Quantity
    delta_energy: Quantity
    delta_entropy: Quantity
    temperature: Temperature

    def quantities(self) -> dict[str, Quantity]:
        return {
            "initial_energy": self.initial_energy,
            "initial_entropy": self.initial_entropy,
            "equilibrium_entropy": self.equilibrium_entropy,
            "delta_energy": self.delta_energy,
            "delta_entropy": self.delta_entropy,
        }

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {name: q.to_dict() for name, q in self.quantities().items()}
        out["temperature"] = _temperature_dict(self.temperature, self.method)
        return out


@dataclass(frozen=True)
class TypeOneResult:
    """The Type I transition of one (loss, initialization law) on one dataset.

    Attributes
    ----------
    equilibrium_energy
        ``E_B``, the fitted model's mean loss, as given.
    estimates
        One :class:`TypeOneEstimate` per method, in the order asked for.
    relative_differences
        ``{quantity: {method: (x_method - x_ref) / |x_ref|}}`` against the reference method
        (analytic when computed), for E_A, S_A, S_B, dE, dS and T_I (``temperature``).
    standard_scores
        ``{quantity: (x_mc - x_ref) / se_mc}`` for the Monte Carlo figures with a standard error.
    notes
        What the reader should know: subsampling, which formula ran.
    """

    loss: Loss
    law: Law
    n_rows: int
    n_rows_used: int
    n_params: int
    n_classes: int | None
    equilibrium_energy: float
    estimates: tuple[TypeOneEstimate, ...]
    reference_method: Method
    relative_differences: dict[str, dict[str, float | None]]
    standard_scores: dict[str, float | None]
    notes: tuple[str, ...] = ()

    def estimate(self, method: Method | str) -> TypeOneEstimate:
        """The estimate by ``method``; ``KeyError`` when it was not computed."""
        method = Method(method)
        for item in self.estimates:
            if item.method is method:
                return item
        computed = [e.method.value for e in self.estimates]
        raise KeyError(f"method {method.value!r} was not computed; computed: {computed}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe values: non-finite numbers are ``None`` beside a status word."""
        return {
            "transition": "type-one",
            "loss": self.loss.value,
            "law": self.law.to_dict(),
            "n_rows": self.n_rows,
            "n_rows_used": self.n_rows_used,
            "n_params": self.n_params,
            "n_classes": self.n_classes,
            "equilibrium_energy": {"value": _finite_or_none(self.equilibrium_energy), "method": "given"},
            "estimates": {e.method.value: e.to_dict() for e in self.estimates},
            "reference_method": self.reference_method.value,
            "relative_differences": {
                k: {m: _finite_or_none(v) for m, v in d.items()} for k, d in self.relative_differences.items()
            },
            "standard_scores": {k: _finite_or_none(v) for k, v in self.standard_scores.items()},
            "units": {
                "energy": _ENERGY_UNITS[self.loss],
                "entropy": "nats",
                "temperature": f"{_ENERGY_UNITS[self.loss]} per nat",
            },
            "notes": list(self.notes),
        }


_ENERGY_UNITS = {Loss.MSE: "squared target units", Loss.MAE: "target units", Loss.CE: "nats"}


def _finite_or_none(value: float | None) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _temperature_dict(t: Temperature, method: Method) -> dict[str, Any]:
    return {
        "value": _finite_or_none(t.value),
        "low": _finite_or_none(t.low),
        "high": _finite_or_none(t.high),
        "status": t.status,
        "sign": t.sign,
        "method": method.value,
        "text": t.describe(),
    }


# ------------------------------------------------------------------------------------------
# quadrature helpers


def _gauss_legendre(breaks: np.ndarray, order: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights of composite Gauss-Legendre over consecutive ``breaks``."""
    x, w = np.polynomial.legendre.leggauss(order)
    lo, hi = np.asarray(breaks[:-1], float), np.asarray(breaks[1:], float)
    mid, half = 0.5 * (lo + hi), 0.5 * (hi - lo)
    return (mid[:, None] + half[:, None] * x).ravel(), (half[:, None] * w).ravel()


def _panels(start: float, stop: float, width: float) -> np.ndarray:
    count = max(1, int(math.ceil((stop - start) / width)))
    return np.linspace(start, stop, count + 1)


def _row_blocks(n: int, per_row: int) -> Iterable[slice]:
    """Row slices whose working arrays of ``per_row`` floats per row stay within BLOCK."""
    size = max(1, BLOCK // max(per_row, 1))
    for start in range(0, n, size):
        yield slice(start, min(n, start + size))


# ------------------------------------------------------------------------------------------
# the linear form eta = x'w of one row under a law


def row_spread(design: np.ndarray, law: Law) -> np.ndarray:
    """Standard deviation (n,) of each row's linear form ``x'w`` at initialization: ``sqrt(v) |x|``."""
    return np.sqrt(law.variance * np.einsum("ij,ij->i", design, design))


def _linear_form_cf(law: Law, c: np.ndarray, t: np.ndarray) -> np.ndarray:
    """``psi(t) = E cos(t x'w) = prod_j phi(c_j t)``, shape (n, len(t)), for rows ``c`` (n, p)."""
    psi = np.ones((c.shape[0], t.size))
    for j in range(c.shape[1]):
        psi *= law.characteristic_function(np.outer(c[:, j], t))
    return psi


def _linear_form_cf_pair(law: Law, c: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(1 - psi(t), psi(t))``, each (n, len(t)), the first without cancellation at small ``t``.

    With ``u_j = 1 - phi(c_j t)``: ``1 - prod_j (1 - u_j) = -expm1(sum_j log1p(-u_j))`` while
    every factor is positive, which is where cancellation would bite; the plain product elsewhere.
    """
    log_sum = np.zeros((c.shape[0], t.size))
    product = np.ones_like(log_sum)
    positive = np.ones(log_sum.shape, dtype=bool)
    for j in range(c.shape[1]):
        u = law.one_minus_characteristic_function(np.outer(c[:, j], t))
        positive &= u < 1.0
        log_sum += np.log1p(-np.where(u < 1.0, u, 0.0))
        product *= 1.0 - u
    return np.where(positive, -np.expm1(log_sum), 1.0 - product), product


def _linear_form_majorant(law: Law, c: np.ndarray, t: np.ndarray) -> np.ndarray:
    """A bound on ``|psi(t)|`` (n, len(t)) that does not increase with ``t``."""
    bound = np.ones((c.shape[0], t.size))
    for j in range(c.shape[1]):
        bound *= law.characteristic_majorant(np.outer(np.abs(c[:, j]), t))
    return bound


def _frequency_bound(law: Law, c: np.ndarray) -> float:
    """Rate (rad per unit t) at which the rows' ``psi`` can vary where it matters: the largest
    window half-width ``H``. Up to the mass outside the window (< 2e-16) ``psi`` is the
    characteristic function of a law on ``[-H, H]``, an entire function of exponential type H,
    so Gauss-Legendre panels of width ~4/H resolve it."""
    return float(law.tail_bound(c).max(initial=0.0))


def _decay_point(law: Law, c: np.ndarray, limit: float, weight: Any, level: float = 1e-17) -> float:
    """The smallest ``t <= limit`` beyond which ``max_i B_i(t) weight(t)`` stays below ``level``,
    ``B_i`` the non-increasing majorant of row i's ``|psi|`` and ``weight`` the integration kernel's
    magnitude (non-increasing too): where an integral over ``t`` can stop."""
    grid = np.geomspace(1e-3, limit, 400)
    top = np.zeros(grid.size)
    for block in _row_blocks(c.shape[0], grid.size * 2):
        top = np.maximum(top, _linear_form_majorant(law, c[block], grid).max(axis=0))
    below = np.flatnonzero(top * weight(grid) < level)
    return float(grid[below[0]]) if below.size else float(limit)


def through_spread(
    function: Any, spread: np.ndarray, *, nodes: int = SPREAD_NODES, tolerance: float = 1e-12,
) -> np.ndarray:
    """``function(spread)`` (n,) for a smooth function of the spread alone, at a cost that does
    not grow with n.

    Under the normal law a row's expected loss depends on the row only through its spread
    (cross entropy) so, with many rows, ``function`` runs on ``nodes`` Chebyshev points of
    ``[min, max]`` and is interpolated (barycentric form), which converges geometrically for an
    analytic function. The interpolant is checked against direct evaluation at 16 rows spread
    over the range; beyond ``tolerance`` (absolute) every row is evaluated directly.
    """
    sigma = np.asarray(spread, float)
    lo, hi = float(sigma.min(initial=0.0)), float(sigma.max(initial=0.0))
    if sigma.size <= 4 * nodes or hi - lo <= 1e-12 * max(hi, 1.0):
        return function(sigma)
    k = np.arange(nodes)
    points = 0.5 * (lo + hi) + 0.5 * (hi - lo) * np.cos(np.pi * (k + 0.5) / nodes)
    # the closed-form weights of Chebyshev points of the first kind: without them scipy computes
    # weights in a random order (global RNG), and the report changes in its last digits run to run
    weights = (-1.0) ** k * np.sin(np.pi * (k + 0.5) / nodes)
    interpolant = interpolate.BarycentricInterpolator(points, function(points), wi=weights)
    values = interpolant(sigma)
    probe = np.unique(np.quantile(sigma, np.linspace(0.0, 1.0, 16), method="nearest"))
    if np.max(np.abs(interpolant(probe) - function(probe))) > tolerance:
        return function(sigma)
    return values


# ------------------------------------------------------------------------------------------
# E_A for MSE


def expected_mse(design: np.ndarray, target: np.ndarray, law: Law) -> np.ndarray:
    """Per-row ``E (y - x'w)^2 = y^2 + v |x|^2`` (n,), exact for every zero-mean law.

    Examples
    --------
    >>> from shiftemp.laws import Uniform
    >>> expected_mse(np.array([[1.0, 2.0]]), np.array([1.0]), Uniform(3.0 ** 0.5))
    array([6.])
    """
    return target * target + law.variance * np.einsum("ij,ij->i", design, design)


# ------------------------------------------------------------------------------------------
# E_A for MAE


def expected_mae_folded_normal(target: np.ndarray, spread: np.ndarray) -> np.ndarray:
    """Per-row ``E |y - eta|`` for ``eta ~ N(0, spread^2)`` (n,): the folded-normal mean.

    ``sigma (2 phi(y/sigma) + (y/sigma)(2 Phi(y/sigma) - 1))``, and ``|y|`` when ``sigma = 0``.
    Exact for the normal law; the central-limit form for the others.
    """
    y = np.asarray(target, float)
    sigma = np.asarray(spread, float)
    safe = np.where(sigma > 0, sigma, 1.0)
    z = y / safe
    value = safe * (2.0 * np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi) + z * special.erf(z / math.sqrt(2)))
    return np.where(sigma > 0, value, np.abs(y))


def expected_mae_fourier(
    design: np.ndarray, target: np.ndarray, law: Law, *, tolerance: float = 1e-13,
    max_terms: int = 1 << 16,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-row ``E |y - x'w|`` (n,) for any symmetric law, with a bound on the truncation error.

    Parameters
    ----------
    design, target
        Rows ``x`` (n, p) and targets ``y`` (n,).
    law
        Initialization law of each of the p parameters.
    tolerance
        Target truncation error relative to the window half-width ``M``.
    max_terms
        Most series terms per row.

    Returns
    -------
    values, bounds
        (n,) each: the expectations and bounds on their series-truncation error.

    Notes
    -----
    With ``Z = y - eta`` held in ``[-M, M]`` (``M = |y| + H``, ``H`` the law's window for
    ``eta``, :meth:`~shiftemp.laws.Normal.tail_bound`), the triangle wave's Fourier series is exact
    there, so ``E |Z| = M/2 - (4M / pi^2) sum_{k odd} cos(t_k y) psi(t_k) / k^2`` with
    ``t_k = k pi / M`` and ``psi(t) = prod_j phi(x_j t)``. When ``|y| >= H``,
    ``E |y - eta| = |y|``. Truncating after ``K`` odd terms leaves at most
    ``M B(t_{2K+1}) / (pi^2 K)``, ``B`` the non-increasing majorant of ``|psi|``.
    """
    c = np.asarray(design, float)
    y = np.asarray(target, float)
    window = law.tail_bound(c)
    values = np.abs(y).astype(float)
    bounds = np.zeros(y.size)
    rows = np.flatnonzero(np.abs(y) < window)
    if rows.size == 0:
        return values, bounds
    M = np.abs(y[rows]) + window[rows]
    # terms each row needs: the first power of two whose tail bound meets the tolerance
    candidates = 1 << np.arange(5, int(math.log2(max_terms)) + 1)
    tail = np.empty((rows.size, candidates.size))
    for i, K in enumerate(candidates):
        t = (2 * K + 1) * np.pi / M
        majorant = np.ones(rows.size)
        for j in range(c.shape[1]):
            majorant *= law.characteristic_majorant(np.abs(c[rows, j]) * t)
        tail[:, i] = M * majorant / (np.pi**2 * K)
    meets = tail <= tolerance * M[:, None]
    first = np.where(meets.any(axis=1), meets.argmax(axis=1), candidates.size - 1)
    need = candidates[first]
    order = np.argsort(need, kind="stable")
    for K in np.unique(need):
        members = order[need[order] == K]
        k = np.arange(1, 2 * K, 2, dtype=float)
        for block in _row_blocks(members.size, K * 3):
            idx = members[block]
            t = np.pi * k[None, :] / M[idx, None]
            psi = np.ones_like(t)
            for j in range(c.shape[1]):
                psi *= law.characteristic_function(c[rows[idx], j, None] * t)
            series = (np.cos(t * y[rows[idx], None]) * psi / (k * k)).sum(axis=1)
            values[rows[idx]] = M[idx] / 2.0 - 4.0 * M[idx] / np.pi**2 * series
            bounds[rows[idx]] = tail[idx, first[idx]]
    return values, bounds


# ------------------------------------------------------------------------------------------
# E_A for cross entropy


def _softplus(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, x)


def expected_ce_gauss_hermite(spread: np.ndarray, n_classes: int, *, nodes: int | None = None) -> np.ndarray:
    """Per-row expected cross entropy (n,) when the K - 1 logits are iid ``N(0, spread^2)``.

    Exact for the normal law (the label drops out: the logits have mean zero), to about 1e-13
    while ``spread <= 3``.

    Notes
    -----
    Binary: ``E softplus(sigma Z)`` by Gauss-Hermite quadrature. Softmax (``m = K - 1 >= 2``): by
    Frullani's integral ``ln(1 + S) = int_0^inf (e^-t - e^-t(1+S)) dt / t`` and the independence
    of the logits, ``E ln(1 + sum_k e^eta_k) = int e^{-e^u} (1 - L(u)^m) du`` with
    ``L(u) = E exp(-e^{u + sigma Z})``, a 1-D Gaussian integral by Gauss-Hermite: a 2-D problem
    whatever K is.
    """
    sigma = np.asarray(spread, float)
    if nodes is None:
        top = float(sigma.max(initial=0.0))
        nodes = next((count for limit, count in GH_NODES if top <= limit), GH_NODES[-1][1])
    x, w = np.polynomial.hermite.hermgauss(nodes)
    w = w / math.sqrt(math.pi)
    z = math.sqrt(2.0) * x
    m = n_classes - 1
    out = np.empty(sigma.size)
    if m == 1:
        for block in _row_blocks(sigma.size, nodes):
            out[block] = _softplus(sigma[block, None] * z) @ w
        return out
    u, wu = _frullani_grid(float(TAIL_Z * sigma.max(initial=0.0)), float(sigma.min(initial=0.0)))
    for block in _row_blocks(sigma.size, u.size * nodes):
        s = sigma[block]
        # F = 1 - L = E[1 - exp(-e^{u + sigma Z})], (rows, u)
        arg = u[None, :, None] + s[:, None, None] * z[None, None, :]
        F = (-np.expm1(-np.exp(arg))) @ w
        out[block] = _frullani_outer(F, m, u, wu)
    return out


#: Far-left end of Frullani's u-integral beyond the logit window: e^-36 ~ 2e-16.
U_MARGIN = 36.0


def _frullani_grid(window: float, spread: float) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes for ``u`` in ``[-36 - H, 4]`` (``e^{-e^4} ~ 2e-24`` beyond).

    Panels of width 2 on ``[-8, 4]``, where ``e^{-e^u}`` bends; below, the integrand varies on
    the scale of the smallest logit spread (and like ``e^u`` in the far tail), so panels of
    ``min(2 spread, 8)`` but at least 2.
    """
    low = -U_MARGIN - window
    far = max(2.0, min(2.0 * spread, 8.0))
    if low >= -10.0:
        return _gauss_legendre(_panels(low, 4.0, 2.0))
    return _gauss_legendre(np.concatenate([_panels(low, -8.0, far)[:-1], _panels(-8.0, 4.0, 2.0)]))


def _frullani_outer(F: np.ndarray, m: int, u: np.ndarray, wu: np.ndarray) -> np.ndarray:
    """``int e^{-e^u} (1 - (1 - F)^m) du`` for ``F = P(W <= u)`` (rows, u)."""
    F = np.clip(F, 0.0, 1.0)
    with np.errstate(divide="ignore"):  # F = 1: log1p(-1) = -inf, and 1 - 0^m = 1 as it should
        survival = np.log1p(-F)
    return (-np.expm1(m * survival)) @ (wu * np.exp(-np.exp(u)))


def _binary_kernel(t: np.ndarray) -> np.ndarray:
    """``1/t^2 - pi / (t sinh(pi t))``: the Fourier transform of ``ln(1 + e^{-|x|})``."""
    x = np.pi * t
    small = x < 1e-2
    xs = np.where(small, 1.0, x)
    with np.errstate(over="ignore"):
        ratio = np.where(small, 0.0, 1.0 - xs / np.sinh(xs))
    x2 = x * x
    series = x2 / 6.0 - 7.0 * x2 * x2 / 360.0 + 31.0 * x2**3 / 15120.0
    return np.where(small, series, ratio) / (t * t)


def expected_ce_fourier(design: np.ndarray, law: Law, n_classes: int) -> np.ndarray:
    """Per-row expected cross entropy (n,) for any symmetric law, through the characteristic
    function ``psi`` of the logit ``x'w``. Numerically exact (about 1e-13).

    Notes
    -----
    Binary: ``softplus(x) = x/2 + |x|/2 + ln(1 + e^{-|x|})``, ``E eta = 0``,
    ``E|eta| = (2/pi) int_0^inf (1 - psi)/t^2 dt`` and the Fourier transform of
    ``ln(1 + e^{-|x|})`` is ``1/t^2 - pi/(t sinh pi t)``, so

        E softplus(eta) = (1/pi) int_0^inf [(1 - psi(t))/t^2 + (1/t^2 - pi/(t sinh pi t)) psi(t)] dt,

    whose kernel decays like ``e^{-pi t}``. Softmax: Frullani as in
    :func:`expected_ce_gauss_hermite`, with ``L(u) = P(ln E - eta > u)`` (``E`` a unit
    exponential) by Gil-Pelaez inversion of the characteristic function ``Gamma(1 + is) psi(s)``
    of ``ln E - eta``, which decays like ``e^{-pi s / 2}`` for every law.
    """
    c = np.asarray(design, float)
    out = np.empty(c.shape[0])
    for rows in _window_groups(law, c):
        out[rows] = _binary_fourier(c[rows], law) if n_classes == 2 else _softmax_fourier(c[rows], law, n_classes - 1)
    return out


def _window_groups(law: Law, c: np.ndarray) -> list[np.ndarray]:
    """Rows grouped by window half-width ``H``, within a factor 2 of each other.

    The quadrature grids scale with the largest ``H`` they serve (panel width ~1/H, ``u`` range
    ~H): one outlying row would otherwise set the cost of all of them.
    """
    window = law.tail_bound(c)
    bins = np.floor(np.log2(np.maximum(window, 1e-300) / max(float(window.min(initial=1.0)), 1e-300))).astype(int)
    return [np.flatnonzero(bins == b) for b in np.unique(bins)]


def _binary_fourier(c: np.ndarray, law: Law) -> np.ndarray:
    stop = _decay_point(law, c, 14.0, lambda t: np.pi / (t * np.sinh(np.pi * t)))
    width = min(1.0, 20.0 / max(_frequency_bound(law, c), 1e-300))
    t, w = _gauss_legendre(_panels(0.0, stop, width), order=24)
    kernel = _binary_kernel(t)
    out = np.empty(c.shape[0])
    for block in _row_blocks(c.shape[0], 3 * t.size):
        rows = c[block]
        one_minus, psi = _linear_form_cf_pair(law, rows, t)
        integrand = one_minus / (t * t) + kernel * psi
        # beyond `stop` psi is negligible and the integrand is 1/t^2, whose tail is 1/stop
        out[block] = (integrand @ w + 1.0 / stop) / np.pi
    return out


def _softmax_fourier(c: np.ndarray, law: Law, m: int) -> np.ndarray:
    window = float(law.tail_bound(c).max(initial=0.0))
    u, wu = _frullani_grid(window, float(row_spread(c, law).min(initial=0.0)))
    reach = U_MARGIN + window + 4.0
    # |Gamma(1 + is)| / s = sqrt(pi / (s sinh(pi s))): ~1e-17 by s = 26 whatever psi does
    stop = _decay_point(law, c, 26.0, lambda s: np.sqrt(np.pi / (s * np.sinh(np.pi * s))))
    # 24-point panels over at most 20 rad of the fastest phase s (|u| + H) + arg Gamma
    width = min(1.0, 20.0 / (reach + 4.0 + _frequency_bound(law, c)))
    s, ws = _gauss_legendre(_panels(0.0, stop, width), order=24)
    log_gamma = special.loggamma(1.0 + 1j * s)
    # P(W > u) = 1/2 + (1/pi) int_0^inf Im[e^{-isu} phi_W(s)] / s ds, phi_W = Gamma(1 + is) psi
    kernel = (np.exp(log_gamma.real) * ws / (np.pi * s))[:, None] * np.sin(log_gamma.imag[:, None] - np.outer(s, u))
    out = np.empty(c.shape[0])
    for block in _row_blocks(c.shape[0], s.size + 2 * u.size):
        psi = _linear_form_cf(law, c[block], s)
        F = 0.5 - psi @ kernel  # P(W <= u)
        out[block] = _frullani_outer(F, m, u, wu)
    return out


def ce_small_spread(design: np.ndarray, law: Law, n_classes: int) -> np.ndarray:
    """Small-spread expansion (n,) of the expected cross entropy at initialization, to 4th order.

    ``ln K + (K-1)^2 E eta^2 / (2 K^2) + T_4`` with ``T_4`` from the fourth derivatives of
    ``ln(1 + sum e^eta_k)`` at 0 and the law's exact moments ``E eta^2 = v |x|^2``,
    ``E eta^4 = 3 v^2 |x|^4 + kappa_4 sum_j x_j^4``; error ``O(E eta^6)``. Binary:
    ``ln 2 + E eta^2 / 8 - E eta^4 / 192``.
    """
    K = n_classes
    m, p = K - 1, 1.0 / K
    s2 = np.einsum("ij,ij->i", design, design)
    s4 = np.einsum("ij,ij->i", design**2, design**2)
    second = law.variance * s2
    fourth = 3.0 * second**2 + law.fourth_cumulant * s4
    d2 = p * (1 - p)
    d4_same = p * (1 - p) * (1 - 6 * p + 6 * p * p)
    d4_cross = -p * p * ((1 - 2 * p) ** 2 + 2 * p * p)
    quartic = m * d4_same * fourth + 3 * m * (m - 1) * d4_cross * second**2
    return math.log(K) + 0.5 * m * d2 * second + quartic / 24.0


@functools.lru_cache(maxsize=32)
def _large_spread_constants(m: int) -> tuple[float, float, float]:
    """``(c_m, a_m, e_m)`` of the large-spread expansion with m non-reference logits.

    ``c_m = E max(0, Z_1..Z_m) = int_0^inf (1 - Phi^m)``; ``a_m`` the ``1/sigma`` coefficient
    from near-ties of the two largest logits; ``e_m = E phi''(max(0, Z_2..Z_m))``, which carries
    the law's fourth cumulant into the leading term.
    """
    def cdf(z: float) -> float:
        return float(special.ndtr(z))

    def pdf(z: float) -> float:
        return math.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)

    def quad(f: Any) -> float:
        return integrate.quad(f, 0.0, np.inf, epsabs=1e-14, epsrel=1e-13)[0]

    c_m = quad(lambda z: 1.0 - cdf(z) ** m)
    pairs = quad(lambda z: pdf(z) ** 2 * cdf(z) ** (m - 2)) if m >= 2 else 0.0
    a_m = math.pi**2 / 6.0 * (m * pdf(0.0) * 2.0 ** (1 - m) + m * (m - 1) / 2.0 * pairs)
    e_m = -pdf(0.0) * 2.0 ** (1 - m)
    if m >= 2:
        e_m += quad(lambda t: (t * t - 1.0) * pdf(t) ** 2 * (m - 1) * cdf(t) ** (m - 2))
    return c_m, a_m, e_m


def ce_large_spread(spread: np.ndarray, n_classes: int, kurtosis: np.ndarray | float = 0.0) -> np.ndarray:
    """Large-spread expansion (n,) of the expected cross entropy at initialization.

    Parameters
    ----------
    spread
        ``sigma`` (n,), the standard deviation of each logit.
    n_classes
        K; the K - 1 non-reference logits are independent and identically distributed.
    kurtosis
        Standardised fourth cumulant of a logit, ``kappa_4 sum_j x_j^4 / sigma^4`` (0 for the
        normal law): the first Edgeworth correction for the uniform and mixed laws.

    Notes
    -----
    ``sigma (c_m + kurtosis m e_m / 24) + a_m / sigma`` (and ``- 7 pi^4 / (360 sqrt(2 pi)
    sigma^3)`` for K = 2): ``E max(0, eta_1..eta_m)`` plus the near-ties of the two largest
    logits, with ``c_m = E max(0, Z_1..Z_m)``, ``a_m = (pi^2/6) [m phi(0) 2^{1-m} + C(m,2)
    int_0^inf phi^2 Phi^{m-2}]`` and ``e_m = E phi''(max(0, Z_2..Z_m))`` (Hermite identity
    ``E g(Z) He_4(Z_1) = E d^4 g / dz_1^4``). Error ``O(sigma^-2)`` for K >= 3 (``O(sigma^-5)``
    for K = 2) plus, for non-normal laws, ``O(sigma / d^2)``.
    """
    sigma = np.maximum(np.asarray(spread, float), 1e-300)
    m = n_classes - 1
    c_m, a_m, e_m = _large_spread_constants(m)
    value = sigma * (c_m + np.asarray(kurtosis, float) * m * e_m / 24.0) + a_m / sigma
    if m == 1:
        value = value - 7.0 * math.pi**4 / (360.0 * math.sqrt(2 * math.pi)) / sigma**3
    return value


# ------------------------------------------------------------------------------------------
# Monte Carlo


def monte_carlo_draws(
    design: np.ndarray, target: np.ndarray, loss: Loss, law: Law, n_classes: int | None,
    n_draws: int, rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Energies and log-densities of ``n_draws`` parameter vectors drawn from ``law``.

    Returns
    -------
    energies, log_densities
        (n_draws,) each: ``E(w_d; D)`` (mean loss over the rows) and ``sum_j ln p(w_dj)``.

    Notes
    -----
    MSE uses ``E(w) = mean(y^2) - 2 w'b + w'Gw`` (``G = D'D/n``, ``b = D'y/n``), exact per draw
    at ``O(q^2)``; MAE and cross entropy form the (draws x rows) products by matrix algebra in
    blocks of about 4 million floats.
    """
    D = np.asarray(design, float)
    y = np.asarray(target)
    n, p = D.shape
    m = 1 if loss is not Loss.CE else n_classes - 1  # type: ignore[operator]
    q = p * m
    energies = np.empty(n_draws)
    log_densities = np.empty(n_draws)
    if loss is Loss.MSE:
        gram, moment, mean_square = D.T @ D / n, D.T @ y / n, float(np.mean(y * y))
    per_draw = q if loss is Loss.MSE else n * (m + 1)
    size = max(1, BLOCK // per_draw)
    for start in range(0, n_draws, size):
        stop = min(n_draws, start + size)
        W = law.sample(rng, (stop - start, q))
        log_densities[start:stop] = law.logpdf(W).sum(axis=1)
        if loss is Loss.MSE:
            energies[start:stop] = mean_square - 2.0 * W @ moment + np.einsum("dj,dj->d", W @ gram, W)
        elif loss is Loss.MAE:
            energies[start:stop] = np.abs(y[None, :] - W @ D.T).mean(axis=1)
        else:
            energies[start:stop] = _cross_entropy_draws(D, y.astype(np.int64), W.reshape(-1, m, p))
    return energies, log_densities


def _cross_entropy_draws(D: np.ndarray, y: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Mean cross entropy per draw; ``B`` (draws, K-1, p) holds each draw's class-major logits."""
    draws, m, p = B.shape
    n = D.shape[0]
    eta = (B.reshape(draws * m, p) @ D.T).reshape(draws, m, n)
    # mean over rows of the chosen logit, from the class sums of the rows: no (draws, n) gather
    class_sums = np.stack([D[y == k].sum(axis=0) for k in range(1, m + 1)]) / n  # (m, p)
    chosen = np.einsum("dkj,kj->d", B, class_sums)
    if eta.max(initial=0.0) < 700.0:
        # ln(1 + sum_k e^eta_k) directly: no overflow below e^700, and half the transcendental
        # calls of the max-shifted form (this loop dominates the Monte Carlo time). ln(1 + s)
        # rather than log1p(s): three times faster, and its absolute error (1e-16) is what
        # matters in a mean loss.
        np.exp(eta, out=eta)
        total = eta.sum(axis=1)
        total += 1.0
        return np.log(total, out=total).mean(axis=1) - chosen
    top = np.maximum(eta.max(axis=1), 0.0)
    lse = top + np.log(np.exp(-top) + np.exp(eta - top[:, None, :]).sum(axis=1))
    return lse.mean(axis=1) - chosen


# ------------------------------------------------------------------------------------------
# entropies


def laplace_entropy(covariance: np.ndarray) -> float:
    """``S_B = 0.5 ln det(2 pi e C)`` of a (q, q) positive definite covariance, nats."""
    C = np.asarray(covariance, float)
    try:
        chol = linalg.cholesky(C, lower=True)
    except linalg.LinAlgError:
        raise InputError(
            "the equilibrium covariance is not positive definite, so the equilibrium entropy "
            "S_B is undefined; expected the Laplace covariance of a fitted model. Refit with a "
            "larger ridge or drop collinear features."
        ) from None
    return 0.5 * C.shape[0] * LOG_2PI_E + float(np.log(np.diag(chol)).sum())


def large_n_equilibrium_entropy(
    design: np.ndarray, loss: Loss, equilibrium_energy: float, covariance: np.ndarray,
) -> tuple[float | None, str]:
    """Large-n form of ``S_B`` expressed with the data covariance ``Sigma = D'D / n``.

    Returns
    -------
    value, note
        The entropy in nats (``None`` when undefined) and how it was formed.

    Notes
    -----
    As ``n`` grows, ``n C`` tends to a limit written with the energy at equilibrium, reading the
    loss as a negative log-likelihood whose scale the equilibrium sets:
    MSE ``C ~ E_B Sigma^-1 / n`` (residual variance = E_B: any residual law);
    MAE ``C ~ E_B^2 Sigma^-1 / n`` (Laplace residuals, ``f(0) = 1 / (2 E_B)``; another residual
    law adds the constant ``q ln(2 f(0) E_B)``); cross entropy: the Laplace covariance is the
    inverse Fisher information, already the large-n form, so it is used as it is. Then
    ``S_B = (q/2) ln(2 pi e c / n) - 0.5 ln det Sigma`` with ``c = E_B`` or ``E_B^2``.
    """
    if loss is Loss.CE:
        return laplace_entropy(covariance), "cross entropy: the inverse Fisher information is the large-n form"
    D = np.asarray(design, float)
    n, p = D.shape
    if not equilibrium_energy > 0:
        return None, "undefined: the equilibrium energy is zero, so the large-n covariance vanishes"
    scale = equilibrium_energy if loss is Loss.MSE else equilibrium_energy**2
    sign, log_det = np.linalg.slogdet(D.T @ D / n)
    if sign <= 0:
        return None, "undefined: the data covariance D'D/n is singular"
    value = 0.5 * p * (LOG_2PI_E + math.log(scale / n)) - 0.5 * log_det
    if loss is Loss.MSE:
        return float(value), "large n: C = E_B (D'D/n)^-1 / n"
    # what the given covariance says about the residual law: 2 f(0) E_B is 1 for Laplace
    # residuals, 2/pi = 0.64 for Gaussian ones; the two forms differ by q ln of it
    shape = math.exp((value - laplace_entropy(covariance)) / p)
    return float(value), (
        "large n: C = E_B^2 (D'D/n)^-1 / n (Laplace residuals, 2 f(0) E_B = 1); "
        f"the given C implies 2 f(0) E_B = {shape:.3g}"
    )


# ------------------------------------------------------------------------------------------
# the large-d limit (MSE)


@dataclass(frozen=True)
class LargeDLimit:
    """Limits of the Type I transition per parameter as ``p, n -> inf`` with ``p / n -> gamma``.

    ``delta_energy`` (squared target units), ``delta_entropy_per_param`` (nats), and
    ``temperature_per_param = q T_I`` (T_I itself vanishes like 1/q).
    """

    aspect_ratio: float
    delta_energy: float
    delta_entropy_per_param: float
    temperature_per_param: float | None


def mse_large_d_limit(
    aspect_ratio: float, noise_variance: float, signal_variance: float, *,
    scale_factor: float = 1.0, negentropy: float = 0.0,
) -> LargeDLimit:
    """Large-d limit of Type I for least squares on isotropic Gaussian features.

    Parameters
    ----------
    aspect_ratio
        ``gamma = p / n`` in (0, 1).
    noise_variance, signal_variance
        ``sigma^2`` of the noise and ``tau^2 = E (x'beta)^2`` of the signal, in squared target
        units; the target is ``y = x'beta + noise`` with standardised features.
    scale_factor
        ``c``: the initialization variance is ``c^2 / p`` (``c = 1``: LeCun).
    negentropy
        ``J`` of the law's shape (0 normal, ``ln(2 sqrt 3) - 0.5 ln(2 pi e)`` uniform), nats.

    Notes
    -----
    ``E_A -> tau^2 + sigma^2 + c^2``, ``E_B -> sigma^2 (1 - gamma)``; per parameter
    ``S_A/q = 0.5 ln(2 pi e c^2 / p) - J`` and, by the Marchenko-Pastur law for
    ``(1/p) ln det(D'D/n) -> l(gamma) = -1 - ((1 - gamma)/gamma) ln(1 - gamma)``,
    ``S_B/q -> 0.5 ln(2 pi e sigma^2 / n) - 0.5 l(gamma)``. Hence
    ``dS/q -> 0.5 ln(gamma sigma^2 / c^2) - 0.5 l(gamma) + J`` and ``q T_I -> dE / (dS/q)``.
    """
    g = float(aspect_ratio)
    if not 0.0 < g < 1.0:
        raise OptionError(f"the aspect ratio p/n must lie in (0, 1); got {g}.")
    ell = -1.0 - (1.0 - g) / g * math.log1p(-g)
    delta_energy = -(signal_variance + g * noise_variance + scale_factor**2)
    per_param = 0.5 * math.log(g * noise_variance / scale_factor**2) - 0.5 * ell + negentropy
    temperature = delta_energy / per_param if per_param != 0.0 else None
    return LargeDLimit(g, delta_energy, per_param, temperature)


# ------------------------------------------------------------------------------------------
# the transition


@dataclass(frozen=True)
class Equilibrium:
    """A fitted model's equilibrium on one dataset: what :func:`type_one` needs from it.

    ``design`` (n, p) standardised with intercept; ``target`` (n,); ``energy`` E_B, the mean
    loss; ``covariance`` (q, q) the Laplace covariance of the parameters (class-major).
    """

    loss: Loss
    design: np.ndarray
    target: np.ndarray
    energy: float
    covariance: np.ndarray
    note: str = ""

    @classmethod
    def from_model(cls, model: Any, X: np.ndarray, y: np.ndarray) -> "Equilibrium":
        """From a fitted :class:`shiftemp.models.Model` and its raw features ``X`` (n, d)."""
        D = model.design(X)
        return cls(
            loss=Loss(model.loss),
            design=D,
            target=np.asarray(y),
            energy=float(np.mean(model.loss_per_row_design(D, y))),
            covariance=model.laplace_covariance(X, y),
            note=f"{model.family.value} model, ridge {model.ridge:g}",
        )


def type_one(
    design: np.ndarray,
    target: np.ndarray,
    *,
    loss: Loss | str,
    law: Law | InitLaw | str,
    equilibrium_energy: float,
    equilibrium_covariance: np.ndarray,
    methods: Sequence[Method | str] = DEFAULT_METHODS,
    n_draws: int = DEFAULT_DRAWS,
    rng: np.random.Generator | None = None,
    max_rows: int | None = DEFAULT_MAX_ROWS,
) -> TypeOneResult:
    """The Type I temperature of training from initialization to equilibrium.

    Parameters
    ----------
    design
        The model's standardised design (n, p), intercept column included.
    target
        (n,) floats for MSE and MAE; class codes ``0..K-1`` for cross entropy.
    loss
        ``mse``, ``mae`` or ``ce``.
    law
        The initialization law (:mod:`shiftemp.laws`), or its family name for the default
        fan-in scale with ``fan_in = p``.
    equilibrium_energy
        ``E_B``, the fitted model's mean loss on these rows.
    equilibrium_covariance
        ``C`` (q, q), the Laplace covariance of the fitted parameters: ``q = p`` for linear
        models, ``p (K - 1)`` for softmax, class-major (index ``k p + j``); K is ``q / p + 1``.
    methods
        Any of ``analytic``, ``asymptotic``, ``monte-carlo``.
    n_draws
        Monte Carlo draws of the parameter vector.
    rng
        Generator for the Monte Carlo draws and any row subsample; default
        ``np.random.default_rng(0)``.
    max_rows
        Per-row computations use a random subsample of this many rows when ``n`` is larger
        (their figures then carry the subsample's standard error); ``None``: every row.

    Returns
    -------
    TypeOneResult

    Notes
    -----
    ``T_I = (E_B - E_A) / (S_B - S_A)`` in loss units per nat. Training releases energy
    (``dE < 0``); with many rows the equilibrium is much narrower than the initialization
    (``dS < 0``) and ``T_I > 0``. With few rows or a tiny initialization scale the initialization
    is the narrower state (``dS > 0``) and ``T_I < 0``. When ``dS`` is within its numerical error
    (or Monte Carlo interval) of zero, ``T_I`` is reported ``infinite`` or ``undefined``, never
    as a huge number.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> D = np.column_stack([np.ones(200), rng.normal(size=200)])
    >>> y = D @ [0.5, 1.0] + rng.normal(size=200)
    >>> w, *_ = np.linalg.lstsq(D, y, rcond=None)
    >>> r = y - D @ w
    >>> C = (r @ r / 198) * np.linalg.inv(D.T @ D)
    >>> result = type_one(D, y, loss="mse", law="normal", equilibrium_energy=float(np.mean(r * r)),
    ...                   equilibrium_covariance=C, methods=["analytic"])
    >>> result.estimate("analytic").temperature.status
    'finite'
    >>> result.estimate("analytic").temperature.value > 0
    True
    """
    loss = _as_loss(loss)
    D, y, K = _validated(design, target, loss, equilibrium_covariance)
    n, p = D.shape
    q = p * (K - 1) if loss is Loss.CE else p
    if not isinstance(law, (Normal, Uniform, Mixed)):
        law = make_law(law, fan_in=p)
    methods = _as_methods(methods)
    rng = np.random.default_rng(0) if rng is None else rng
    notes: list[str] = []
    rows = _subsample(n, max_rows, rng) if loss is not Loss.MSE else None
    if rows is not None:
        notes.append(f"per-row expectations on a seeded random subsample of {rows.size:,} of {n:,} rows")
    D_used, y_used = (D, y) if rows is None else (D[rows], y[rows])

    e_b = float(equilibrium_energy)
    s_b = laplace_entropy(equilibrium_covariance)
    s_a = q * law.entropy()
    s_a_error = q * law.entropy_error()

    estimates = []
    for method in methods:
        if method is Method.MONTE_CARLO:
            estimate = _monte_carlo_estimate(
                D_used, y_used, loss, law, K, e_b, s_b, n_draws, rng, subsampled=rows is not None,
            )
        else:
            if method is Method.ANALYTIC:
                e_a = _analytic_energy(D_used, y_used, loss, law, K, n)
                s_b_quantity = Quantity(s_b, Method.ANALYTIC, note="0.5 ln det(2 pi e C), C as given")
            else:
                e_a = _asymptotic_energy(D_used, y_used, loss, law, K, n)
                value, note = large_n_equilibrium_entropy(D, loss, e_b, equilibrium_covariance)
                status = "ok" if value is not None else "undefined"
                s_b_quantity = Quantity(value, Method.ASYMPTOTIC, status=status, note=note)
            s_a_quantity = Quantity(
                s_a, Method.ANALYTIC, error_bound=s_a_error or None,
                note=f"q h(law), q = {q}" + (" (h by quadrature)" if isinstance(law, Mixed) else ", closed form"),
            )
            estimate = _assemble(method, e_a, s_a_quantity, s_b_quantity, e_b)
        estimates.append(estimate)

    reference = estimates[0].method
    if any(e.method is Method.ANALYTIC for e in estimates):
        reference = Method.ANALYTIC
    differences, mc_scores = _compare_methods(estimates, reference)
    return TypeOneResult(
        loss=loss, law=law, n_rows=n, n_rows_used=D_used.shape[0], n_params=q,
        n_classes=K if loss is Loss.CE else None, equilibrium_energy=e_b,
        estimates=tuple(estimates), reference_method=reference,
        relative_differences=differences, standard_scores=mc_scores, notes=tuple(notes),
    )


def type_one_from_model(
    model: Any, X: np.ndarray, y: np.ndarray, *, law: Law | InitLaw | str = InitLaw.NORMAL, **options: Any,
) -> TypeOneResult:
    """:func:`type_one` for a fitted :class:`shiftemp.models.Model` on raw features ``X`` (n, d)."""
    eq = Equilibrium.from_model(model, X, y)
    result = type_one(
        eq.design, eq.target, loss=eq.loss, law=law, equilibrium_energy=eq.energy,
        equilibrium_covariance=eq.covariance, **options,
    )
    return _with_note(result, eq.note)


def type_one_table(
    equilibria: Sequence[Equilibrium],
    *,
    laws: Sequence[InitLaw | str] = tuple(InitLaw),
    scale: float | None = None,
    width: float | None = None,
    mix: float | None = None,
    methods: Sequence[Method | str] = DEFAULT_METHODS,
    n_draws: int = DEFAULT_DRAWS,
    rng: np.random.Generator | None = None,
    max_rows: int | None = DEFAULT_MAX_ROWS,
) -> tuple[TypeOneResult, ...]:
    """Every (loss, law) combination: one result per equilibrium and law, losses outermost.

    Each equilibrium carries its loss, design and target (cross entropy needs class codes, the
    others a numeric target); the law is built by :func:`shiftemp.laws.make_law` with the
    design's columns as fan-in.
    """
    rng = np.random.default_rng(0) if rng is None else rng
    results = []
    for eq in equilibria:
        for kind in laws:
            law = make_law(kind, fan_in=eq.design.shape[1], scale=scale, width=width, mix=mix)
            result = type_one(
                eq.design, eq.target, loss=eq.loss, law=law, equilibrium_energy=eq.energy,
                equilibrium_covariance=eq.covariance, methods=methods, n_draws=n_draws, rng=rng,
                max_rows=max_rows,
            )
            results.append(_with_note(result, eq.note))
    return tuple(results)


def _with_note(result: TypeOneResult, note: str) -> TypeOneResult:
    if not note:
        return result
    return dataclasses.replace(result, notes=(note, *result.notes))


# ------------------------------------------------------------------------------------------
# inside type_one


def _as_loss(loss: Loss | str) -> Loss:
    try:
        return Loss(loss)
    except ValueError:
        raise OptionError(f"unknown loss {loss!r}; use --loss mse|mae|ce.") from None


def _as_methods(methods: Sequence[Method | str]) -> tuple[Method, ...]:
    out = []
    for item in methods:
        try:
            method = Method(item)
        except ValueError:
            names = "|".join(m.value for m in Method)
            raise OptionError(f"unknown method {item!r}; use --method {names}|all.") from None
        if method not in out:
            out.append(method)
    if not out:
        raise OptionError("no method asked for; use --method analytic|asymptotic|monte-carlo|all.")
    return tuple(out)


def _validated(
    design: np.ndarray, target: np.ndarray, loss: Loss, covariance: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, int]:
    """The design, the target (floats, or int class codes) and K (1 for linear models)."""
    D = np.asarray(design, dtype=float)
    if D.ndim != 2 or D.shape[0] < 1 or not np.all(np.isfinite(D)):
        raise InputError(f"the design must be a finite (n, p) array; got shape {D.shape}.")
    n, p = D.shape
    y = np.asarray(target)
    if y.shape != (n,):
        raise InputError(f"the target must have one value per row of the design ({n}); got shape {y.shape}.")
    C = np.asarray(covariance, dtype=float)
    q = C.shape[0] if C.ndim == 2 else -1
    if C.ndim != 2 or C.shape != (q, q):
        raise InputError(f"the equilibrium covariance must be square (q, q); got shape {C.shape}.")
    if loss is not Loss.CE:
        if q != p:
            raise InputError(
                f"a linear model on {p} design columns has {p} parameters, but the equilibrium "
                f"covariance is {q} x {q}. Pass the covariance of the fitted linear model."
            )
        if not np.all(np.isfinite(y.astype(float))):
            raise InputError("the target has missing or infinite values; drop those rows.")
        return D, y.astype(float), 1
    if q % p != 0 or q < p:
        raise InputError(
            f"a softmax model on {p} design columns has p (K - 1) parameters, but the equilibrium "
            f"covariance is {q} x {q}. Pass the covariance of the fitted logistic model."
        )
    K = q // p + 1
    codes = y.astype(np.int64)
    if not np.array_equal(codes, y) or codes.min() < 0 or codes.max() >= K:
        raise InputError(
            f"cross entropy needs class codes 0..{K - 1} (K = {K} from the covariance's size); "
            f"found values from {y.min()} to {y.max()}. Encode the classes as integers."
        )
    return D, codes, K


def _subsample(n: int, max_rows: int | None, rng: np.random.Generator) -> np.ndarray | None:
    if max_rows is None or n <= max_rows:
        return None
    return np.sort(rng.choice(n, size=int(max_rows), replace=False))


def _row_mean(values: np.ndarray, n_total: int) -> tuple[float, float | None]:
    """Mean of per-row values and, for a subsample of ``n_total`` rows, its standard error."""
    m = values.size
    if m >= n_total or m < 2:
        return float(values.mean()), None
    return float(values.mean()), float(values.std(ddof=1) / math.sqrt(m) * math.sqrt(1 - m / n_total))


def _analytic_energy(D: np.ndarray, y: np.ndarray, loss: Loss, law: Law, K: int, n_total: int) -> Quantity:
    if loss is Loss.MSE:
        value, se = _row_mean(expected_mse(D, y, law), n_total)
        return Quantity(value, Method.ANALYTIC, se=se, note="exact for every zero-mean law: mean(y^2) + v mean|x|^2")
    if loss is Loss.MAE:
        if isinstance(law, Normal):
            value, se = _row_mean(expected_mae_folded_normal(y, row_spread(D, law)), n_total)
            return Quantity(value, Method.ANALYTIC, se=se, note="exact: folded-normal mean per row")
        values, bounds = expected_mae_fourier(D, y, law)
        value, se = _row_mean(values, n_total)
        return Quantity(
            value, Method.ANALYTIC, se=se, error_bound=float(bounds.mean()),
            note="numerically exact: Fourier series of |z| with the law's characteristic function",
        )
    spread = row_spread(D, law)
    if isinstance(law, Normal):
        # a function of the spread alone: Gauss-Hermite while it is exact, else the
        # characteristic function of N(0, sigma^2)
        if spread.max(initial=0.0) <= GH_MAX_SPREAD:
            values = through_spread(lambda sigma: expected_ce_gauss_hermite(sigma, K), spread)
            how = "Gauss-Hermite" if K == 2 else "Frullani reduction to 1-D, Gauss-Hermite inner integral"
        else:
            values = through_spread(lambda sigma: expected_ce_fourier(sigma[:, None], Normal(1.0), K), spread)
            how = "characteristic function of N(0, sigma^2)"
        note = f"exact Gaussian integral per row ({how})"
    else:
        values = expected_ce_fourier(D, law, K)
        how = "kernel 1/t^2 - pi/(t sinh pi t)" if K == 2 else "Frullani + Gil-Pelaez inversion"
        note = f"numerically exact through the characteristic function of the logit ({how})"
    value, se = _row_mean(values, n_total)
    return Quantity(value, Method.ANALYTIC, se=se, note=note)


def _asymptotic_energy(D: np.ndarray, y: np.ndarray, loss: Loss, law: Law, K: int, n_total: int) -> Quantity:
    if loss is Loss.MSE:
        value, se = _row_mean(expected_mse(D, y, law), n_total)
        return Quantity(value, Method.ASYMPTOTIC, se=se, note="the exact closed form (no approximation needed)")
    spread = row_spread(D, law)
    if loss is Loss.MAE:
        value, se = _row_mean(expected_mae_folded_normal(y, spread), n_total)
        exact = " (exact for the normal law)" if isinstance(law, Normal) else ""
        note = f"large d: x'w ~ N(0, v|x|^2) by the CLT, folded normal{exact}"
        return Quantity(value, Method.ASYMPTOTIC, se=se, note=note)
    small = spread <= SPREAD_CROSSOVER
    kurtosis = law.fourth_cumulant * np.einsum("ij,ij->i", D**2, D**2) / np.maximum(spread, 1e-300) ** 4
    values = np.where(small, ce_small_spread(D, law, K), ce_large_spread(spread, K, kurtosis))
    value, se = _row_mean(values, n_total)
    share = float(small.mean())
    return Quantity(
        value, Method.ASYMPTOTIC, se=se,
        note=(
            f"spread expansions: small-spread (4th order, exact moments) on {share:.0%} of rows, "
            "large-spread (2 terms, first Edgeworth correction) on the rest; "
            f"crossover at logit sd {SPREAD_CROSSOVER}"
        ),
    )


def _assemble(method: Method, e_a: Quantity, s_a: Quantity, s_b: Quantity, e_b: float) -> TypeOneEstimate:
    """dE, dS and T from exact or asymptotic figures; numerical errors act as standard errors."""
    d_e = e_b - e_a.value  # type: ignore[operator]
    se_e = math.hypot(e_a.se or 0.0, e_a.error_bound or 0.0)
    se_e = max(se_e, NUMERICAL_FLOOR * max(abs(e_b), abs(e_a.value), 1e-300))  # type: ignore[arg-type]
    delta_energy = Quantity(d_e, method, se=e_a.se, error_bound=e_a.error_bound, note="E_B - E_A")
    if s_b.value is None:
        delta_entropy = Quantity(None, method, status="undefined", note=s_b.note)
        return TypeOneEstimate(method, e_a, s_a, s_b, delta_energy, delta_entropy, Temperature(status="undefined"))
    d_s = s_b.value - s_a.value  # type: ignore[operator]
    scale = max(abs(s_a.value), abs(s_b.value), 1.0)  # type: ignore[arg-type]
    se_s = max(s_a.error_bound or 0.0, NUMERICAL_FLOOR * scale)
    delta_entropy = Quantity(d_s, method, error_bound=s_a.error_bound, note="S_B - S_A")
    temperature = _temperature(d_e, se_e, d_s, se_s, interval=e_a.se is not None)
    return TypeOneEstimate(method, e_a, s_a, s_b, delta_energy, delta_entropy, temperature)


def _temperature(
    d_e: float, se_e: float, d_s: float, se_s: float, *, interval: bool, se_t: float | None = None,
) -> Temperature:
    """``T = dE / dS`` with the status rule of :mod:`shiftemp.temperature`: a difference within
    1.96 of its standard error (or numerical error) of zero is indistinguishable from zero."""
    if abs(d_s) <= Z95 * se_s:
        if abs(d_e) > Z95 * se_e:
            return Temperature(status="infinite", sign=int(np.sign(d_e)))
        return Temperature(status="undefined")
    value = d_e / d_s
    if not interval:
        return Temperature(status="finite", value=float(value), sign=int(np.sign(value)))
    if se_t is None:
        se_t = math.hypot(se_e, value * se_s) / abs(d_s)
    return Temperature(
        status="finite", value=float(value), low=float(value - Z95 * se_t), high=float(value + Z95 * se_t),
        sign=int(np.sign(value)),
    )


def _monte_carlo_estimate(
    D: np.ndarray, y: np.ndarray, loss: Loss, law: Law, K: int, e_b: float, s_b: float,
    n_draws: int, rng: np.random.Generator, *, subsampled: bool,
) -> TypeOneEstimate:
    energies, log_densities = monte_carlo_draws(D, y, loss, law, K if loss is Loss.CE else None, n_draws, rng)
    entropies = -log_densities
    root = math.sqrt(n_draws)
    e_a, se_e = float(energies.mean()), float(energies.std(ddof=1) / root)
    s_a, se_s = float(entropies.mean()), float(entropies.std(ddof=1) / root)
    where = " on the row subsample" if subsampled else ""
    method = Method.MONTE_CARLO
    e_a_q = Quantity(e_a, method, se=se_e, note=f"mean energy of {n_draws:,} draws{where}")
    s_a_q = Quantity(s_a, method, se=se_s, note=f"-mean ln p(w) over {n_draws:,} draws")
    s_b_q = Quantity(s_b, Method.ANALYTIC, note="0.5 ln det(2 pi e C): no Monte Carlo form")
    d_e, d_s = e_b - e_a, s_b - s_a
    delta_energy = Quantity(d_e, method, se=se_e, note="E_B - E_A")
    delta_entropy = Quantity(d_s, method, se=se_s, note="S_B - S_A")
    se_t = None
    if d_s != 0.0:
        # delta method with the draws' own correlation between energy and log-density
        t = d_e / d_s
        influence = (-(energies - e_a) + t * (entropies - s_a)) / d_s
        se_t = float(influence.std(ddof=1) / root)
    floor_e = NUMERICAL_FLOOR * max(abs(e_a), abs(e_b), 1e-300)
    temperature = _temperature(d_e, max(se_e, floor_e), d_s, max(se_s, NUMERICAL_FLOOR), interval=True, se_t=se_t)
    return TypeOneEstimate(method, e_a_q, s_a_q, s_b_q, delta_energy, delta_entropy, temperature)


def _compare_methods(
    estimates: Sequence[TypeOneEstimate], reference: Method,
) -> tuple[dict[str, dict[str, float | None]], dict[str, float | None]]:
    ref = next(e for e in estimates if e.method is reference)
    ref_values = {name: q.value for name, q in ref.quantities().items()}
    ref_values["temperature"] = ref.temperature.value
    differences: dict[str, dict[str, float | None]] = {name: {} for name in ref_values}
    scores: dict[str, float | None] = {}
    for est in estimates:
        if est.method is reference:
            continue
        values = {name: q.value for name, q in est.quantities().items()}
        values["temperature"] = est.temperature.value
        for name, value in values.items():
            base = ref_values[name]
            ok = value is not None and base is not None and base != 0.0
            differences[name][est.method.value] = (value - base) / abs(base) if ok else None  # type: ignore[operator]
        if est.method is Method.MONTE_CARLO:
            for name, q in est.quantities().items():
                base = ref_values[name]
                # a figure that does not vary between draws (the uniform law's entropy) has no score
                varies = bool(q.se) and q.se > NUMERICAL_FLOOR * max(abs(base or 0.0), 1.0)  # type: ignore[operator]
                if q.method is Method.MONTE_CARLO and base is not None and varies:
                    scores[name] = (q.value - base) / q.se  # type: ignore[operator]
    return differences, scores

