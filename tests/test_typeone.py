"""Type I temperature (theory section 4): every (law, loss) combination, analytic against
Monte Carlo, the asymptotic forms converging, the sign of T_I, statuses and the JSON form.

The equilibria come from small fitting helpers below (least squares, IRLS least absolute
deviations, Newton softmax), independent of shiftemp.models; one test runs the models' own fit.
"""

from __future__ import annotations

import doctest
import itertools
import json
import math
from fractions import Fraction

import numpy as np
import pytest

from shiftemp import typeone
from shiftemp.errors import InputError, OptionError
from shiftemp.laws import InitLaw, Normal, Uniform, make_law
from shiftemp.models import Loss
from shiftemp.typeone import (
    Equilibrium,
    ce_large_spread,
    expected_ce_fourier,
    expected_ce_gauss_hermite,
    expected_mae_folded_normal,
    expected_mae_fourier,
    mse_large_d_limit,
    row_spread,
    type_one,
    type_one_from_model,
    type_one_table,
)

LAWS = list(InitLaw)



# small matrices in loops: one BLAS thread (the conftest fixture) avoids stalls on a busy machine
pytestmark = pytest.mark.usefixtures("one_blas_thread")

# -- data and equilibria -------------------------------------------------------------------------


def standardised_design(X: np.ndarray) -> np.ndarray:
    """``[1, (X - mean) / sd]``, as the models build it."""
    return np.column_stack([np.ones(len(X)), (X - X.mean(axis=0)) / X.std(axis=0)])


def dataset(n: int, d: int, seed: int, noise: str = "normal") -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    D = standardised_design(rng.normal(size=(n, d)))
    beta = np.concatenate([[0.3], rng.normal(size=d) / math.sqrt(d)])
    eps = rng.normal(size=n) if noise == "normal" else rng.laplace(size=n)
    return D, D @ beta + eps


def classes(y: np.ndarray, K: int) -> np.ndarray:
    return np.digitize(y, np.quantile(y, np.arange(1, K) / K))


def least_squares(D: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """``(E_B, C)``: mean squared residual and ``sigma^2 (D'D)^-1`` with ``sigma^2 = RSS/(n-p)``."""
    w, *_ = np.linalg.lstsq(D, y, rcond=None)
    r = y - D @ w
    n, p = D.shape
    return float(np.mean(r * r)), float(r @ r / (n - p)) * np.linalg.inv(D.T @ D)


def least_absolute(D: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """``(E_B, C)`` of LAD by IRLS; ``C = (D'D)^-1 / (4 f(0)^2)``, ``f(0)`` a kernel estimate."""
    w, *_ = np.linalg.lstsq(D, y, rcond=None)
    for _ in range(300):
        r = y - D @ w
        weight = 1.0 / np.maximum(np.abs(r), 1e-9)
        w = np.linalg.solve((D.T * weight) @ D, (D.T * weight) @ y)
    r = y - D @ w
    h = 0.9 * min(r.std(), np.subtract(*np.percentile(r, [75, 25])) / 1.349) * len(r) ** -0.2
    f0 = float(np.mean(np.exp(-0.5 * (r / h) ** 2)) / (h * math.sqrt(2 * math.pi)))
    return float(np.mean(np.abs(r))), np.linalg.inv(D.T @ D) / (4 * f0 * f0)


def softmax_fit(D: np.ndarray, codes: np.ndarray, K: int) -> tuple[float, np.ndarray]:
    """``(E_B, C)`` of softmax regression by Newton; ``C = (n F)^-1``, class-major."""
    n, p = D.shape
    m = K - 1
    B = np.zeros((p, m))
    Y = np.eye(K)[codes][:, 1:]
    for _ in range(50):
        logits = np.column_stack([np.zeros(n), D @ B])
        P = np.exp(logits - logits.max(axis=1, keepdims=True))
        P /= P.sum(axis=1, keepdims=True)
        grad = (D.T @ (P[:, 1:] - Y) / n).ravel(order="F")
        F = fisher(D, P)
        step = np.linalg.solve(F, grad)
        B -= step.reshape((p, m), order="F")
        if grad @ step < 1e-14:
            break
    logits = np.column_stack([np.zeros(n), D @ B])
    lse = np.logaddexp.reduce(logits, axis=1)
    energy = float(np.mean(lse - logits[np.arange(n), codes]))
    return energy, np.linalg.inv(n * fisher(D, np.exp(logits - lse[:, None])))


def fisher(D: np.ndarray, P: np.ndarray) -> np.ndarray:
    n, p = D.shape
    m = P.shape[1] - 1
    F = np.empty((p * m, p * m))
    for k, l in itertools.product(range(m), range(m)):
        w = P[:, k + 1] * ((k == l) - P[:, l + 1])
        F[k * p:(k + 1) * p, l * p:(l + 1) * p] = (D.T * w) @ D / n
    return F


def equilibrium(loss: Loss, D: np.ndarray, y: np.ndarray, K: int = 3) -> tuple[np.ndarray, float, np.ndarray]:
    """``(target, E_B, C)`` for ``loss`` on ``(D, y)``; cross entropy on K quantile classes of y."""
    if loss is Loss.MSE:
        return (y, *least_squares(D, y))
    if loss is Loss.MAE:
        return (y, *least_absolute(D, y))
    codes = classes(y, K)
    return (codes, *softmax_fit(D, codes, K))


def run(D, y, loss, law, K=3, **options):
    target, energy, covariance = equilibrium(loss, D, y, K)
    return type_one(D, target, loss=loss, law=law, equilibrium_energy=energy, equilibrium_covariance=covariance, **options)


# -- analytic against Monte Carlo ----------------------------------------------------------------

COMBINATIONS = [(loss, law, 3) for loss in Loss for law in LAWS] + [(Loss.CE, law, 2) for law in LAWS]


@pytest.mark.parametrize(("loss", "law", "K"), COMBINATIONS, ids=lambda v: getattr(v, "value", f"K{v}"))
def test_analytic_initial_energy_within_three_monte_carlo_standard_errors(loss, law, K):
    D, y = dataset(60, 3, seed=7)
    result = run(D, y, loss, law, K, methods=["analytic", "monte-carlo"], n_draws=100_000, rng=np.random.default_rng(2024))
    analytic = result.estimate("analytic").initial_energy
    mc = result.estimate("monte-carlo").initial_energy
    assert mc.se > 0
    assert abs(analytic.value - mc.value) <= 3 * mc.se, (analytic, mc)
    assert result.standard_scores["initial_energy"] == pytest.approx((mc.value - analytic.value) / mc.se)
    # the Monte Carlo entropy of the law agrees with the exact one too
    mc_entropy = result.estimate("monte-carlo").initial_entropy
    exact = result.estimate("analytic").initial_entropy.value
    assert abs(mc_entropy.value - exact) <= 3 * mc_entropy.se + 1e-9 * abs(exact)


# -- the exact forms against independent computations ------------------------------------------


def uniform_mae_by_rational_arithmetic(y: float, c: np.ndarray) -> float:
    """``E |y - sum_j c_j U_j|``, U_j ~ U(-1, 1), exactly: ``(1 / prod 2c_j) sum_e (prod e_j)
    Phi_m(y + e.c)``, ``Phi_m(z) = z^m |z| / (m+1)!``, in exact fractions (no cancellation)."""
    cs = [Fraction(float(v)) for v in c if v != 0]
    yf, m = Fraction(float(y)), len(cs)
    total = Fraction(0)
    for signs in itertools.product((1, -1), repeat=m):
        z = yf + sum(e * ci for e, ci in zip(signs, cs))
        total += math.prod(signs) * z**m * abs(z)
    return float(total / (math.factorial(m + 1) * math.prod(2 * ci for ci in cs)))


@pytest.mark.parametrize("p", [1, 2, 3, 5])
def test_uniform_mae_series_is_exact(p):
    rng = np.random.default_rng(p)
    c = rng.normal(size=(6, p))
    y = rng.normal(size=6)
    law = Uniform(0.8)
    values, bounds = expected_mae_fourier(c, y, law)
    exact = [uniform_mae_by_rational_arithmetic(y[i], law.half_width * c[i]) for i in range(6)]
    assert np.allclose(values, exact, rtol=0, atol=1e-11)
    assert np.all(bounds <= 1e-10)


def test_mae_series_reproduces_the_folded_normal():
    D, y = dataset(50, 4, seed=3)
    law = Normal(0.6)
    values, _ = expected_mae_fourier(D, y, law)
    assert np.allclose(values, expected_mae_folded_normal(y, row_spread(D, law)), rtol=0, atol=1e-12)


@pytest.mark.parametrize("K", [2, 3, 4])
@pytest.mark.parametrize("scale", [0.05, 0.5, 0.75])
def test_cross_entropy_gauss_hermite_and_characteristic_function_agree(K, scale):
    D, _ = dataset(40, 3, seed=5)
    law = Normal(scale)
    spread = row_spread(D, law)
    assert spread.max() <= typeone.GH_MAX_SPREAD
    gh = expected_ce_gauss_hermite(spread, K)
    cf = expected_ce_fourier(D, law, K)
    assert np.allclose(gh, cf, rtol=0, atol=1e-11)


def trapezoid_density_rule(lo: float, hi: float, nodes: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights of the law of ``U1 lo' + U2 hi'`` (U ~ U(-1, 1)), whose density is a
    trapezoid: ``|x| < hi - lo`` flat, falling linearly to 0 at ``lo + hi``; Gauss-Legendre on
    each linear piece, exact for the density times a smooth function."""
    top, flat = lo + hi, hi - lo
    x, w = np.polynomial.legendre.leggauss(nodes)
    nodes_out, weights_out = [], []
    for a, b in ((-top, -flat), (-flat, flat), (flat, top)):
        t = 0.5 * (a + b) + 0.5 * (b - a) * x
        density = np.minimum(1.0, (top - np.abs(t)) / (top - flat)) / (2 * hi)
        nodes_out.append(t)
        weights_out.append(0.5 * (b - a) * w * density)
    return np.concatenate(nodes_out), np.concatenate(weights_out)


@pytest.mark.parametrize("law", [Uniform(0.9), Uniform(2.5)])
def test_uniform_cross_entropy_against_the_exact_density_of_the_logit(law):
    # two coefficients: the logit's density is a trapezoid, known exactly
    row = np.array([[1.0, -0.4]])
    lo, hi = sorted(law.half_width * np.abs(row[0]))
    x, w = trapezoid_density_rule(lo, hi)
    assert w.sum() == pytest.approx(1.0, abs=1e-14)
    binary = float(np.logaddexp(0.0, x) @ w)
    assert expected_ce_fourier(row, law, 2)[0] == pytest.approx(binary, abs=1e-12)
    softmax = float(w @ np.logaddexp(0.0, np.logaddexp(x[:, None], x[None, :])) @ w)
    assert expected_ce_fourier(row, law, 3)[0] == pytest.approx(softmax, abs=1e-12)


def test_softmax_against_a_product_gauss_hermite_rule():
    # K = 3: E ln(1 + e^{s Z1} + e^{s Z2}) as a plain 2-D Gauss-Hermite sum
    x, w = np.polynomial.hermite.hermgauss(90)
    for sigma in (0.3, 1.0, 1.8):
        z = math.sqrt(2) * sigma * x
        grid = np.logaddexp(0.0, np.logaddexp(z[:, None], z[None, :]))
        direct = float(w @ grid @ w / math.pi)
        assert expected_ce_gauss_hermite(np.array([sigma]), 3)[0] == pytest.approx(direct, abs=1e-12)
        assert expected_ce_fourier(np.array([[sigma]]), Normal(1.0), 3)[0] == pytest.approx(direct, abs=1e-12)


def test_large_spread_cross_entropy_by_characteristic_function():
    # beyond the Gauss-Hermite range, the characteristic-function route stays exact:
    # check it against 1-D adaptive quadrature of E softplus(sigma Z)
    from scipy import integrate

    for sigma in (5.0, 20.0):
        exact = integrate.quad(
            lambda z: np.logaddexp(0.0, sigma * z) * math.exp(-0.5 * z * z) / math.sqrt(2 * math.pi),
            -40, 40, points=[0.0], epsabs=1e-13, epsrel=1e-13, limit=1000,
        )[0]
        assert expected_ce_fourier(np.array([[sigma]]), Normal(1.0), 2)[0] == pytest.approx(exact, abs=1e-11)


# -- asymptotic forms converge -------------------------------------------------------------------


@pytest.mark.parametrize("law", LAWS)
def test_mse_asymptotic_is_the_exact_form(law):
    D, y = dataset(80, 3, seed=1)
    result = run(D, y, Loss.MSE, law, methods=["analytic", "asymptotic"])
    assert result.estimate("asymptotic").initial_energy.value == result.estimate("analytic").initial_energy.value


def energy_gap(D, y, loss, law, K=3) -> float:
    # E_A does not depend on the equilibrium: a stand-in covariance spares the fit
    target = classes(y, K) if loss is Loss.CE else y
    q = D.shape[1] * (K - 1 if loss is Loss.CE else 1)
    result = type_one(
        D, target, loss=loss, law=law, equilibrium_energy=0.1, equilibrium_covariance=np.eye(q),
        methods=["analytic", "asymptotic"],
    )
    return abs(result.estimate("asymptotic").initial_energy.value - result.estimate("analytic").initial_energy.value)


@pytest.mark.parametrize("law", [InitLaw.UNIFORM, InitLaw.MIXED])
def test_mae_central_limit_error_shrinks_with_d(law):
    gaps = [energy_gap(*dataset(120, d, seed=11), Loss.MAE, law) for d in (3, 15, 63)]
    assert gaps[0] > gaps[1] > gaps[2]
    assert gaps[2] < gaps[0] / 4


def test_mae_central_limit_form_is_exact_for_the_normal_law():
    assert energy_gap(*dataset(120, 5, seed=11), Loss.MAE, InitLaw.NORMAL) <= 1e-12


@pytest.mark.parametrize("K", [2, 3])
@pytest.mark.parametrize("law", LAWS)
def test_cross_entropy_large_spread_error_shrinks_with_d(law, K):
    # a fixed scale (no fan-in rule): the logit spread grows like sqrt(d), so the expansion's
    # error falls like sigma^-2 (K = 3; sigma^-5 for K = 2) and, for the uniform and mixed laws,
    # what the first Edgeworth correction leaves like sigma / d^2 ~ d^-3/2
    gaps = []
    for d in (15, 63, 255):
        D, y = dataset(24, d, seed=13)
        gaps.append(energy_gap(D, y, Loss.CE, make_law(law, fan_in=D.shape[1], scale=1.0), K))
    assert gaps[0] > gaps[1] > gaps[2]


@pytest.mark.parametrize("K", [2, 3])
@pytest.mark.parametrize("law", LAWS)
def test_cross_entropy_small_spread_error_shrinks_with_the_scale(law, K):
    D, y = dataset(60, 4, seed=17)
    gaps = [energy_gap(D, y, Loss.CE, make_law(law, fan_in=5, scale=c / math.sqrt(5)), K) for c in (0.8, 0.4, 0.2)]
    assert gaps[0] > gaps[1] > gaps[2]
    assert gaps[2] < gaps[0] / 50  # O(spread^6)


@pytest.mark.parametrize(("loss", "noise"), [(Loss.MSE, "normal"), (Loss.MAE, "laplace")])
def test_large_n_equilibrium_entropy_and_temperature_converge(loss, noise):
    entropy_gaps, temperature_gaps = [], []
    for n in (300, 3000, 30000):
        D, y = dataset(n, 3, seed=19, noise=noise)
        result = run(D, y, loss, InitLaw.NORMAL, methods=["analytic", "asymptotic"])
        exact, asymptotic = result.estimate("analytic"), result.estimate("asymptotic")
        entropy_gaps.append(abs(asymptotic.equilibrium_entropy.value - exact.equilibrium_entropy.value))
        temperature_gaps.append(abs(asymptotic.temperature.value - exact.temperature.value))
    assert entropy_gaps[0] > entropy_gaps[1] > entropy_gaps[2]
    assert temperature_gaps[0] > temperature_gaps[1] > temperature_gaps[2]


def test_mse_large_d_limit_of_the_temperature_per_parameter():
    # y = x'beta + noise, isotropic Gaussian features, p / n = 1/4, sigma^2 = tau^2 = 1
    limit = mse_large_d_limit(0.25, 1.0, 1.0)
    errors = []
    for p in (16, 64, 256):
        n = 4 * p
        gaps = []
        for seed in range(3):
            rng = np.random.default_rng(100 + seed)
            X = rng.normal(size=(n, p - 1))
            beta = np.zeros(p - 1)
            beta[0] = 1.0
            y = X @ beta + rng.normal(size=n)
            result = run(standardised_design(X), y, Loss.MSE, InitLaw.NORMAL, methods=["analytic"])
            gaps.append(p * result.estimate("analytic").temperature.value - limit.temperature_per_param)
        errors.append(abs(np.mean(gaps)))
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 0.05 * abs(limit.temperature_per_param)


def test_large_d_limit_entropy_uses_the_law_shape():
    normal = mse_large_d_limit(0.25, 1.0, 1.0)
    uniform = mse_large_d_limit(0.25, 1.0, 1.0, negentropy=Uniform(1.0).negentropy)
    # the uniform law starts with less entropy, so less entropy is released per parameter
    assert uniform.delta_entropy_per_param == pytest.approx(normal.delta_entropy_per_param + Uniform(1.0).negentropy)
    with pytest.raises(OptionError):
        mse_large_d_limit(1.5, 1.0, 1.0)


def test_large_spread_expansion_constants():
    # K = 2, three terms: the next is 6 eta(6) / (sqrt(2 pi) sigma^5) ~ 2e-8 at sigma = 40
    sigma = np.array([40.0])
    exact = expected_ce_fourier(sigma[:, None], Normal(1.0), 2)
    assert abs(ce_large_spread(sigma, 2) - exact)[0] < 5e-8
    # K = 3: E max(0, Z1, Z2) = 2 int_0^inf z phi Phi = phi(0) + 1 / (2 sqrt(pi)), and the
    # near-tie coefficient (pi^2/6) (phi(0) + int_0^inf phi^2) = (pi^2/6) (phi(0) + 1 / (4 sqrt(pi)))
    c2, a2, _ = typeone._large_spread_constants(2)
    phi0 = 1 / math.sqrt(2 * math.pi)
    assert c2 == pytest.approx(phi0 + 0.5 / math.sqrt(math.pi), abs=1e-12)
    assert a2 == pytest.approx(math.pi**2 / 6 * (phi0 + 0.25 / math.sqrt(math.pi)), abs=1e-12)


# -- the sign of T_I -----------------------------------------------------------------------------


@pytest.mark.parametrize("loss", list(Loss))
@pytest.mark.parametrize("law", LAWS)
def test_temperature_is_positive_when_training_narrows_the_state(loss, law):
    # 400 rows: the equilibrium is far narrower than the initialization, dS << 0, and
    # training releases energy, dE < 0, so T_I > 0 (docs/theory.md, section 7.7)
    D, y = dataset(400, 3, seed=23)
    estimate = run(D, y, loss, law, methods=["analytic"]).estimate("analytic")
    assert estimate.delta_entropy.value < -5.0
    assert estimate.delta_energy.value < 0
    assert estimate.temperature.status == "finite" and estimate.temperature.value > 0


def test_temperature_is_negative_when_the_initialization_is_the_narrower_state():
    D, y = dataset(60, 3, seed=29)
    estimate = run(D, y, Loss.MSE, Normal(1e-3), methods=["analytic"]).estimate("analytic")
    assert estimate.delta_entropy.value > 5.0 and estimate.delta_energy.value < 0
    assert estimate.temperature.value < 0


# -- statuses and the JSON form ------------------------------------------------------------------


def test_zero_entropy_change_gives_an_infinite_temperature_not_a_huge_number():
    D, y = dataset(50, 2, seed=31)
    law = Normal(0.4)
    # the Laplace state N(w*, s^2 I) has exactly the initialization's entropy
    C = law.variance * np.eye(D.shape[1])
    result = type_one(D, y, loss="mse", law=law, equilibrium_energy=0.5, equilibrium_covariance=C, methods=["analytic"])
    temperature = result.estimate("analytic").temperature
    assert temperature.status == "infinite" and temperature.value is None and temperature.sign == -1
    data = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert data["estimates"]["analytic"]["temperature"] == {
        "value": None, "low": None, "high": None, "status": "infinite", "sign": -1,
        "method": "analytic", "text": "-infinite",
    }


def test_no_energy_and_no_entropy_change_is_undefined():
    D, y = dataset(50, 2, seed=31)
    law = Normal(0.4)
    e_a = float(np.mean(y * y) + law.variance * np.mean(np.sum(D * D, axis=1)))
    result = type_one(
        D, y, loss="mse", law=law, equilibrium_energy=e_a,
        equilibrium_covariance=law.variance * np.eye(D.shape[1]), methods=["analytic"],
    )
    assert result.estimate("analytic").temperature.status == "undefined"


def test_json_carries_every_figure_with_its_method():
    D, y = dataset(80, 3, seed=37)
    result = run(D, y, Loss.CE, InitLaw.MIXED, K=3, n_draws=2000, rng=np.random.default_rng(1))
    data = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert set(data["estimates"]) == {"analytic", "asymptotic", "monte-carlo"}
    for method, block in data["estimates"].items():
        for name in ("initial_energy", "initial_entropy", "equilibrium_entropy", "delta_energy", "delta_entropy"):
            assert block[name]["method"] in {"analytic", "asymptotic", "monte-carlo"}
            assert isinstance(block[name]["value"], float)
        assert block["temperature"]["method"] == method
    assert data["estimates"]["monte-carlo"]["equilibrium_entropy"]["method"] == "analytic"
    assert data["estimates"]["monte-carlo"]["initial_energy"]["se"] > 0
    assert data["law"] == {"kind": "mixed", "weight": 0.5, "scale": 0.5, "half_width": math.sqrt(3) / 2, "variance": 0.25}
    assert set(data["relative_differences"]["initial_energy"]) == {"asymptotic", "monte-carlo"}
    assert data["n_classes"] == 3 and data["n_params"] == 8
    assert data["units"]["temperature"] == "nats per nat"


def test_rows_beyond_max_rows_are_subsampled_with_a_standard_error():
    D, y = dataset(400, 2, seed=41)
    result = run(D, y, Loss.MAE, InitLaw.UNIFORM, methods=["analytic", "asymptotic"], max_rows=100, rng=np.random.default_rng(3))
    assert result.n_rows == 400 and result.n_rows_used == 100
    assert result.estimate("analytic").initial_energy.se > 0
    assert "subsample of 100 of 400 rows" in result.notes[0]
    full = run(D, y, Loss.MAE, InitLaw.UNIFORM, methods=["analytic"], max_rows=None)
    sub = result.estimate("analytic").initial_energy
    assert abs(sub.value - full.estimate("analytic").initial_energy.value) <= 4 * sub.se


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda D, y: type_one(D, y, loss="mse", law="normal", equilibrium_energy=1.0, equilibrium_covariance=np.eye(2)),
            InputError,
            "a linear model on 3 design columns has 3 parameters, but the equilibrium covariance is 2 x 2. "
            "Pass the covariance of the fitted linear model.",
        ),
        (
            lambda D, y: type_one(D, y + 0.5, loss="ce", law="normal", equilibrium_energy=1.0, equilibrium_covariance=np.eye(3)),
            InputError,
            "cross entropy needs class codes 0..1 (K = 2 from the covariance's size); found values from 0.5 to 1.5. "
            "Encode the classes as integers.",
        ),
        (
            lambda D, y: type_one(D, y, loss="mse", law="normal", equilibrium_energy=1.0, equilibrium_covariance=-np.eye(3)),
            InputError,
            "the equilibrium covariance is not positive definite, so the equilibrium entropy S_B is undefined; "
            "expected the Laplace covariance of a fitted model. Refit with a larger ridge or drop collinear features.",
        ),
        (
            lambda D, y: type_one(D, y, loss="mse", law="normal", equilibrium_energy=1.0, equilibrium_covariance=np.eye(3), methods=["exact"]),
            OptionError,
            "unknown method 'exact'; use --method analytic|asymptotic|monte-carlo|all.",
        ),
    ],
)
def test_errors_say_what_and_how_to_fix(call, error, message):
    D = standardised_design(np.random.default_rng(0).normal(size=(20, 2)))
    y = np.arange(20) % 2
    with pytest.raises(error) as caught:
        call(D, y)
    assert str(caught.value) == message


# -- conveniences --------------------------------------------------------------------------------


def test_from_fitted_model_and_nine_combination_table():
    from shiftemp.models import Family, Model

    rng = np.random.default_rng(43)
    X = rng.normal(size=(150, 2))
    y = X @ [1.0, -0.5] + rng.normal(size=150)
    codes = classes(y, 3)
    fitted = {
        Loss.MSE: (Model(Family.LINEAR, Loss.MSE).fit(X, y), y),
        Loss.MAE: (Model(Family.LINEAR, Loss.MAE).fit(X, y), y),
        Loss.CE: (Model(Family.LOGISTIC, Loss.CE).fit(X, codes), codes),
    }
    single = type_one_from_model(*fitted[Loss.CE][:1], X, codes, law="uniform", methods=["analytic"])
    assert single.loss is Loss.CE and single.n_params == 6 and "ridge" in single.notes[0]
    equilibria = [Equilibrium.from_model(model, X, target) for model, target in fitted.values()]
    table = type_one_table(equilibria, methods=["analytic", "asymptotic"])
    assert [(r.loss, r.law.kind) for r in table] == [(loss, law) for loss in Loss for law in LAWS]
    for result in table:
        assert result.estimate("analytic").temperature.status == "finite"


def test_docstring_examples_run():
    failures, _ = doctest.testmod(typeone, optionflags=doctest.ELLIPSIS)
    assert failures == 0


def test_spread_interpolation_matches_direct_evaluation():
    sigma = np.random.default_rng(4).uniform(0.4, 2.6, size=200)
    direct = expected_ce_gauss_hermite(sigma, 3)
    assert np.allclose(typeone.through_spread(lambda s: expected_ce_gauss_hermite(s, 3), sigma), direct, rtol=0, atol=1e-12)
