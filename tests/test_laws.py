"""Initialization laws: closed forms, quadrature entropy and its bounds, sampling, the
characteristic-function pieces the exact expectations of Type I rely on."""

from __future__ import annotations

import doctest
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats

from shiftemp import laws
from shiftemp.errors import OptionError
from shiftemp.laws import LAWS, InitLaw, Mixed, Normal, Uniform, default_scale, make_law


# small matrices in loops: one BLAS thread (the conftest fixture) avoids stalls on a busy machine
pytestmark = pytest.mark.usefixtures("one_blas_thread")

ALL_LAWS = [
    Normal(0.7),
    Uniform(1.3),
    Mixed(0.5, 0.7, 1.3),
    Mixed(0.2, 0.05, 2.0),  # narrow normal bump inside a wide box
    Mixed(0.9, 3.0, 0.1),  # wide normal around a narrow box
]


def independent_entropy(law: laws.Law) -> float:
    """-int p ln p over the whole line by adaptive quadrature, split where the density is not smooth."""
    def integrand(x: float) -> float:
        p = float(law.pdf(x))
        return -p * math.log(p) if p > 0 else 0.0

    edges = [0.0]
    if isinstance(law, (Uniform, Mixed)):
        edges.append(law.half_width)
    far = 40.0 * max(getattr(law, "scale", 0.0), getattr(law, "half_width", 0.0))
    edges = sorted(set(edges + [far]))
    total = sum(
        integrate.quad(integrand, lo, hi, epsabs=1e-14, epsrel=1e-13, limit=500)[0]
        for lo, hi in zip(edges[:-1], edges[1:])
    )
    return 2.0 * total


# -- closed forms ------------------------------------------------------------------------------


@pytest.mark.parametrize("scale", [1e-3, 0.1, 1.0, 7.5])
def test_normal_entropy_matches_closed_form(scale):
    assert abs(Normal(scale).entropy() - 0.5 * math.log(2 * math.pi * math.e * scale**2)) <= 1e-12
    assert abs(Normal(scale).entropy() - float(stats.norm(scale=scale).entropy())) <= 1e-12


@pytest.mark.parametrize("half_width", [1e-3, 0.5, 1.0, 12.0])
def test_uniform_entropy_matches_closed_form(half_width):
    assert abs(Uniform(half_width).entropy() - math.log(2 * half_width)) <= 1e-12
    frozen = stats.uniform(loc=-half_width, scale=2 * half_width)
    assert abs(Uniform(half_width).entropy() - float(frozen.entropy())) <= 1e-12


def test_moments_match_closed_forms():
    s, a, pi = 0.7, 1.3, 0.3
    assert Normal(s).variance == pytest.approx(s**2, rel=1e-15)
    assert Normal(s).fourth_moment == pytest.approx(3 * s**4, rel=1e-15)
    assert Uniform(a).variance == pytest.approx(a**2 / 3, rel=1e-15)
    assert Uniform(a).fourth_moment == pytest.approx(a**4 / 5, rel=1e-15)
    mixed = Mixed(pi, s, a)
    assert mixed.variance == pytest.approx(pi * s**2 + (1 - pi) * a**2 / 3, rel=1e-15)
    assert mixed.fourth_cumulant == pytest.approx(pi * 3 * s**4 + (1 - pi) * a**4 / 5 - 3 * mixed.variance**2, rel=1e-14)
    assert Normal(s).fourth_cumulant == 0.0
    assert Uniform(a).fourth_cumulant < 0


def test_negentropy_is_shape_only():
    # uniform: 0.5 ln(2 pi e a^2/3) - ln(2a) = 0.5 ln(pi e / 6), whatever a is
    for a in (0.1, 1.0, 10.0):
        assert Uniform(a).negentropy == pytest.approx(0.5 * math.log(math.pi * math.e / 6), abs=1e-12)
    assert Normal(3.0).negentropy == pytest.approx(0.0, abs=1e-12)
    assert Mixed(0.5, 1.0, math.sqrt(3)).negentropy == pytest.approx(Mixed(0.5, 5.0, 5 * math.sqrt(3)).negentropy, abs=1e-10)


# -- the mixed law's entropy -------------------------------------------------------------------


@pytest.mark.parametrize("law", [law for law in ALL_LAWS if isinstance(law, Mixed)], ids=str)
def test_mixed_entropy_matches_independent_quadrature_and_bounds(law):
    h = law.entropy()
    assert abs(h - independent_entropy(law)) <= 1e-8
    assert law.entropy_error() <= 1e-10
    low, high = law.entropy_bounds()
    assert low <= h <= high


@settings(max_examples=60, deadline=None)
@given(
    pi=st.floats(0.0, 1.0),
    s=st.floats(1e-3, 1e3),
    ratio=st.floats(1e-2, 1e2),
)
def test_mixed_entropy_lies_within_its_bounds(pi, s, ratio):
    law = Mixed(pi, s, s * ratio)
    low, high = law.entropy_bounds()
    h = law.entropy()
    slack = 1e-9 * max(1.0, abs(h))
    assert low - slack <= h <= high + slack


def test_mixed_entropy_reduces_to_its_components():
    assert Mixed(1.0, 0.7, 1.3).entropy() == pytest.approx(Normal(0.7).entropy(), abs=1e-12)
    assert Mixed(0.0, 0.7, 1.3).entropy() == pytest.approx(Uniform(1.3).entropy(), abs=1e-12)
    # and continuously so: quadrature near the ends agrees with the limits
    assert Mixed(1 - 1e-9, 0.7, 1.3).entropy() == pytest.approx(Normal(0.7).entropy(), abs=1e-7)
    assert Mixed(1e-9, 0.7, 1.3).entropy() == pytest.approx(Uniform(1.3).entropy(), abs=1e-7)


# -- densities and sampling --------------------------------------------------------------------


@pytest.mark.parametrize("law", ALL_LAWS, ids=str)
def test_density_integrates_to_one_and_logpdf_agrees(law):
    edges = sorted({0.0, getattr(law, "half_width", 0.0), 40.0 * max(getattr(law, "scale", 0.0), getattr(law, "half_width", 0.0))})
    mass = 2 * sum(integrate.quad(lambda x: float(law.pdf(x)), lo, hi, epsabs=1e-13, limit=300)[0] for lo, hi in zip(edges[:-1], edges[1:]))
    assert mass == pytest.approx(1.0, abs=1e-10)
    x = np.linspace(-2, 2, 41)
    with np.errstate(divide="ignore"):
        assert np.allclose(np.exp(law.logpdf(x)), law.pdf(x), rtol=1e-12, atol=0)


@pytest.mark.parametrize("law", ALL_LAWS, ids=str)
def test_sampling_matches_moments(law):
    w = law.sample(np.random.default_rng(11), 400_000)
    n = w.size
    assert abs(w.mean()) <= 4 * math.sqrt(law.variance / n)
    sd_of_square = math.sqrt(law.fourth_moment - law.variance**2)
    assert abs((w * w).mean() - law.variance) <= 4 * sd_of_square / math.sqrt(n)


def test_sampling_uses_the_generator_passed_in():
    law = Mixed(0.5, 1.0, 2.0)
    a = law.sample(np.random.default_rng(5), (3, 4))
    b = law.sample(np.random.default_rng(5), (3, 4))
    assert a.shape == (3, 4) and np.array_equal(a, b)


# -- characteristic function -------------------------------------------------------------------


@pytest.mark.parametrize("law", ALL_LAWS, ids=str)
def test_characteristic_function_is_the_fourier_transform_of_the_density(law):
    for t in (0.3, 1.7, 6.0):
        edges = sorted({0.0, getattr(law, "half_width", 0.0), 40.0 * max(getattr(law, "scale", 0.0), getattr(law, "half_width", 0.0))})
        value = 2 * sum(
            integrate.quad(lambda x: math.cos(t * x) * float(law.pdf(x)), lo, hi, epsabs=1e-13, limit=500)[0]
            for lo, hi in zip(edges[:-1], edges[1:])
        )
        assert float(law.characteristic_function(t)) == pytest.approx(value, abs=1e-9)


@pytest.mark.parametrize("law", ALL_LAWS, ids=str)
def test_one_minus_characteristic_function_keeps_its_digits_near_zero(law):
    t = np.array([1e-9, 1e-6, 1e-3])
    # 1 - phi(t) = v t^2 / 2 - E w^4 t^4 / 24 + ...
    series = law.variance * t**2 / 2 - law.fourth_moment * t**4 / 24
    assert np.allclose(law.one_minus_characteristic_function(t), series, rtol=1e-6, atol=0)
    t = np.array([0.5, 2.0, 9.0])
    assert np.allclose(law.one_minus_characteristic_function(t), 1 - law.characteristic_function(t), atol=1e-15)


@pytest.mark.parametrize("law", ALL_LAWS, ids=str)
def test_majorant_bounds_and_does_not_increase(law):
    t = np.linspace(0, 60, 6001)
    majorant = law.characteristic_majorant(t)
    assert np.all(np.abs(law.characteristic_function(t)) <= majorant + 1e-15)
    assert np.all(np.diff(majorant) <= 1e-15)


@pytest.mark.parametrize("law", ALL_LAWS, ids=str)
def test_tail_bound_holds_the_linear_form(law):
    rng = np.random.default_rng(2)
    c = rng.normal(size=(3, 5))
    H = law.tail_bound(c)
    eta = law.sample(rng, (200_000, 5)) @ c.T
    assert np.all(np.abs(eta) <= H)
    if isinstance(law, Uniform):
        assert np.all(H <= law.half_width * np.abs(c).sum(axis=1) + 1e-12)


# -- construction ------------------------------------------------------------------------------


def test_registry_covers_every_law():
    assert set(LAWS) == set(InitLaw)
    for kind, cls in LAWS.items():
        assert cls.kind is kind


@pytest.mark.parametrize("kind", list(InitLaw))
def test_default_scale_is_lecun_with_matched_variance(kind):
    law = make_law(kind, fan_in=9)
    assert law.variance == pytest.approx(1 / 9, rel=1e-14)
    assert default_scale(9) == pytest.approx(1 / 3)
    if kind is InitLaw.MIXED:
        assert (law.weight, law.scale, law.half_width) == pytest.approx((0.5, 1 / 3, math.sqrt(3) / 3))


def test_explicit_options_win():
    assert make_law("normal", fan_in=4, scale=2.0) == Normal(2.0)
    assert make_law("uniform", fan_in=4, scale=1.0) == Uniform(math.sqrt(3.0))
    assert make_law("uniform", fan_in=4, width=0.2) == Uniform(0.2)
    assert make_law("mixed", fan_in=4, scale=1.0, width=5.0, mix=0.1) == Mixed(0.1, 1.0, 5.0)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: Normal(0.0), "the initialization scale must be a positive finite number; got 0.0. Pass a positive --scale."),
        (lambda: Uniform(-1.0), "the initialization width must be a positive finite number; got -1.0. Pass a positive --width."),
        (lambda: Mixed(1.5, 1.0, 1.0), "the mixing weight of a mixed initialization must lie in [0, 1]; got 1.5. Pass --mix between 0 and 1."),
        (lambda: make_law("gaussian", fan_in=3), "unknown initialization law 'gaussian'; use --init normal|uniform|mixed."),
        (lambda: make_law("normal", fan_in=3, width=1.0), "--width and --mix apply to --init uniform|mixed only; drop them for --init normal."),
        (lambda: make_law("uniform", fan_in=3, mix=0.5), "--mix applies to --init mixed only; drop it for --init uniform."),
    ],
)
def test_errors_say_what_and_how_to_fix(call, message):
    with pytest.raises(OptionError) as caught:
        call()
    assert str(caught.value) == message


def test_to_dict_is_json_safe():
    for law in ALL_LAWS:
        data = json.loads(json.dumps(law.to_dict(), allow_nan=False))
        assert data["kind"] == law.kind.value
        assert data["variance"] == pytest.approx(law.variance)


def test_docstring_examples_run():
    failures, _ = doctest.testmod(laws, optionflags=doctest.ELLIPSIS)
    assert failures == 0
