"""Initialization laws of a model's parameters: state A of the Type I transition (theory 2, 4).

Every parameter is drawn independently from one zero-mean, symmetric law:

- :class:`Normal` ``N(0, s^2)``;
- :class:`Uniform` ``U(-a, a)``;
- :class:`Mixed` ``pi N(0, s^2) + (1 - pi) U(-a, a)``, a per-parameter mixture.

Each law gives what the Type I computations need: its variance and fourth moment (the
asymptotic forms), its differential entropy in nats (``S_A``), its density, sampling with a
passed-in generator (Monte Carlo), and its characteristic function with a monotone majorant and a
sub-Gaussian tail scale (the numerically exact expectations of :mod:`shiftemp.typeone`, which
work through the characteristic function of the linear form ``x'w``).

Default scale (:func:`make_law`), the usual fan-in rule of a linear or logistic layer with
``fan_in`` inputs (the design's columns, intercept included): ``s = 1 / sqrt(fan_in)`` (LeCun);
``a = sqrt(3) s``, so that the uniform law has the same variance; the mixture takes weight
``pi = 0.5`` and both components at those values, so all three defaults share the variance
``1 / fan_in`` and differ only in shape (and so in entropy).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

import numpy as np
from scipy import integrate, special

from .defaults import InitLaw  # defined apart so the command line need not import this module
from .errors import OptionError

__all__ = [
    "DEFAULT_MIX",
    "DEFAULT_SCALE_RULE",
    "EntropyBounds",
    "InitLaw",
    "LAWS",
    "Law",
    "Mixed",
    "Normal",
    "Uniform",
    "default_scale",
    "make_law",
]

LOG_2PI_E = math.log(2.0 * math.pi * math.e)

#: Weight of the normal component of the default mixed law.
DEFAULT_MIX = 0.5

#: The default-scale rule, in words, for reports.
DEFAULT_SCALE_RULE = (
    "s = 1/sqrt(fan_in) (LeCun; fan_in = design columns, intercept included); "
    "uniform a = sqrt(3) s (same variance); mixed: weight 0.5 on N(0, s^2), 0.5 on U(-a, a)"
)

#: ``P(|eta| > TAIL_Z * r |c|) <= 2 exp(-TAIL_Z^2 / 2) ~ 1.7e-16`` for a linear form ``eta = c'w``
#: whose terms are sub-Gaussian with scale ``r`` (Chernoff): the window the exact expectations
#: integrate over.
TAIL_Z = 8.6


class EntropyBounds(NamedTuple):
    """Closed-form bounds on a law's differential entropy, nats."""

    lower: float
    upper: float


#: The initialization scales accepted, as a law's standard deviation (parameters in
#: standardised units; a uniform half-width is sqrt(3) times as large): far
#: beyond the fan-in rule's 1/sqrt(fan_in) either way, and inside the range where a network's
#: energies and a law's variance (scale^2, its inverse the ridge) stay finite floats.
SCALE_RANGE = (1e-6, 1e6)


def _check_positive(name: str, value: float) -> float:
    value = float(value)
    if not (math.isfinite(value) and value > 0.0):
        raise OptionError(
            f"the initialization {name} must be a positive finite number; got {value}. "
            f"Pass a positive --{name}."
        )
    low, high = SCALE_RANGE
    if name == "width":  # a half-width: the standard deviation is width / sqrt(3)
        low, high = low * math.sqrt(3.0), high * math.sqrt(3.0)
    if not low <= value <= high:
        raise OptionError(
            f"--{name} {value:g} is outside [{low:g}, {high:g}], where the energies of the"
            f" initialization stay finite numbers (the fan-in rule gives 1/sqrt(fan_in))."
        )
    return value


#: Where the uniform law's majorant switches from exp(-z^2/6) to min(1/pi, 1/z): both are 1/pi.
_SINC_SWITCH = math.sqrt(6.0 * math.log(math.pi))


def _sinc(z: np.ndarray) -> np.ndarray:
    """``sin(z) / z`` with the limit 1 at 0."""
    return np.sinc(np.asarray(z, dtype=float) / np.pi)


def _one_minus_sinc(z: np.ndarray) -> np.ndarray:
    """``1 - sin(z)/z`` without cancellation near 0 (series below |z| = 1e-2)."""
    z = np.abs(np.asarray(z, dtype=float))
    z2 = z * z
    series = z2 / 6.0 * (1.0 - z2 / 20.0 * (1.0 - z2 / 42.0))
    return np.where(z < 1e-2, series, 1.0 - _sinc(z))


def _log_sinhc(z: np.ndarray) -> np.ndarray:
    """``ln(sinh(z) / z)`` for real z, without overflow (cumulant function of U(-1, 1))."""
    z = np.abs(np.asarray(z, dtype=float))
    safe = np.where(z < 1e-3, 1.0, z)
    large = safe + np.log1p(-np.exp(-2.0 * safe)) - np.log(2.0 * safe)
    z2 = z * z
    return np.where(z < 1e-3, z2 / 6.0 - z2 * z2 / 180.0, large)


class _LawBase:
    """Shared derived quantities. Subclasses define the primitive ones."""

    kind: ClassVar[InitLaw]

    @property
    def fourth_cumulant(self) -> float:
        """``kappa_4 = E w^4 - 3 v^2`` (0 for the normal law, negative for platykurtic ones)."""
        return self.fourth_moment - 3.0 * self.variance**2  # type: ignore[attr-defined]

    @property
    def negentropy(self) -> float:
        """``0.5 ln(2 pi e v) - h`` >= 0, nats: how far the law's entropy falls short of the
        normal law's at the same variance. Scale-free: it depends on the shape only."""
        return 0.5 * math.log(2.0 * math.pi * math.e * self.variance) - self.entropy()  # type: ignore[attr-defined]

    def entropy_error(self) -> float:
        """Absolute error bound of :meth:`entropy`, nats (0 for closed forms)."""
        return 0.0

    def tail_bound(self, coefficients: np.ndarray) -> np.ndarray:
        """Half-width ``H`` (n,) of a window holding the linear form ``eta = c'w`` of each row.

        Parameters
        ----------
        coefficients
            (n, p) rows ``c``; the parameters ``w`` (p,) are independent draws of this law.

        Returns
        -------
        ndarray
            (n,) with ``P(|eta| > H) <= 1.7e-16`` (Chernoff, from the sub-Gaussian scale ``r``:
            ``H = 8.6 r |c|``); for a bounded law also ``H <= a sum |c_j|``, the exact support.
        """
        c = np.atleast_2d(np.asarray(coefficients, dtype=float))
        bound = TAIL_Z * self.subgaussian_scale * np.sqrt(np.einsum("ij,ij->i", c, c))  # type: ignore[attr-defined]
        support = self.support_half_width  # type: ignore[attr-defined]
        if math.isfinite(support):
            bound = np.minimum(bound, support * np.abs(c).sum(axis=1))
        return bound

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe description: the kind, the parameters and the variance."""
        out: dict[str, Any] = {"kind": self.kind.value}
        out.update({f.name: float(getattr(self, f.name)) for f in dataclasses.fields(self)})  # type: ignore[arg-type]
        out["variance"] = float(self.variance)  # type: ignore[attr-defined]
        return out


@dataclass(frozen=True)
class Normal(_LawBase):
    """``N(0, scale^2)`` for each parameter.

    Parameters
    ----------
    scale
        Standard deviation ``s`` > 0, in parameter units.

    Examples
    --------
    >>> law = Normal(1.0)
    >>> round(law.entropy(), 6)  # 0.5 ln(2 pi e)
    1.418939
    >>> law.fourth_cumulant
    0.0
    """

    scale: float
    kind: ClassVar[InitLaw] = InitLaw.NORMAL

    def __post_init__(self) -> None:
        object.__setattr__(self, "scale", _check_positive("scale", self.scale))

    @property
    def variance(self) -> float:
        """``s^2``."""
        return self.scale**2

    @property
    def fourth_moment(self) -> float:
        """``E w^4 = 3 s^4``."""
        return 3.0 * self.scale**4

    @property
    def fourth_cumulant(self) -> float:
        """0: every cumulant above the second vanishes."""
        return 0.0

    @property
    def subgaussian_scale(self) -> float:
        """``r`` with ``E exp(l w) <= exp(l^2 r^2 / 2)``: ``s``."""
        return self.scale

    @property
    def support_half_width(self) -> float:
        """Unbounded: ``inf``."""
        return math.inf

    def entropy(self) -> float:
        """Differential entropy of one parameter, ``0.5 ln(2 pi e s^2)`` nats."""
        return 0.5 * (LOG_2PI_E + 2.0 * math.log(self.scale))

    def entropy_bounds(self) -> EntropyBounds:
        """The entropy itself, twice (closed form)."""
        h = self.entropy()
        return EntropyBounds(h, h)

    def logpdf(self, x: np.ndarray) -> np.ndarray:
        """Log density at ``x`` (any shape), in ln(1/parameter units)."""
        x = np.asarray(x, dtype=float)
        return -0.5 * (x / self.scale) ** 2 - math.log(self.scale) - 0.5 * math.log(2 * math.pi)

    def pdf(self, x: np.ndarray) -> np.ndarray:
        """Density at ``x`` (any shape)."""
        return np.exp(self.logpdf(x))

    def sample(self, rng: np.random.Generator, size: int | tuple[int, ...]) -> np.ndarray:
        """Independent draws of shape ``size``."""
        return rng.normal(0.0, self.scale, size=size)

    def characteristic_function(self, t: np.ndarray) -> np.ndarray:
        """``E cos(t w) = exp(-s^2 t^2 / 2)`` (real: the law is symmetric)."""
        t = np.asarray(t, dtype=float)
        return np.exp(-0.5 * (self.scale * t) ** 2)

    def one_minus_characteristic_function(self, t: np.ndarray) -> np.ndarray:
        """``1 - phi(t)`` without cancellation near ``t = 0``."""
        t = np.asarray(t, dtype=float)
        return -np.expm1(-0.5 * (self.scale * t) ** 2)

    def characteristic_majorant(self, t: np.ndarray) -> np.ndarray:
        """A bound on ``|phi(t)|`` that does not increase with ``|t|``: ``phi`` itself."""
        return self.characteristic_function(t)


@dataclass(frozen=True)
class Uniform(_LawBase):
    """``U(-half_width, half_width)`` for each parameter.

    Parameters
    ----------
    half_width
        ``a`` > 0, in parameter units.

    Examples
    --------
    >>> round(Uniform(0.5).entropy(), 12)  # ln(2a)
    0.0
    >>> Uniform(3.0).variance
    3.0
    """

    half_width: float
    kind: ClassVar[InitLaw] = InitLaw.UNIFORM

    def __post_init__(self) -> None:
        object.__setattr__(self, "half_width", _check_positive("width", self.half_width))

    @property
    def variance(self) -> float:
        """``a^2 / 3``."""
        return self.half_width**2 / 3.0

    @property
    def fourth_moment(self) -> float:
        """``E w^4 = a^4 / 5``."""
        return self.half_width**4 / 5.0

    @property
    def subgaussian_scale(self) -> float:
        """``a / sqrt(3)``: ``sinh(z)/z <= exp(z^2/6)`` term by term."""
        return self.half_width / math.sqrt(3.0)

    @property
    def support_half_width(self) -> float:
        """``a``."""
        return self.half_width

    def entropy(self) -> float:
        """Differential entropy of one parameter, ``ln(2a)`` nats."""
        return math.log(2.0 * self.half_width)

    def entropy_bounds(self) -> EntropyBounds:
        """The entropy itself, twice (closed form)."""
        h = self.entropy()
        return EntropyBounds(h, h)

    def logpdf(self, x: np.ndarray) -> np.ndarray:
        """Log density at ``x``: ``-ln(2a)`` inside, ``-inf`` outside."""
        x = np.asarray(x, dtype=float)
        return np.where(np.abs(x) <= self.half_width, -math.log(2.0 * self.half_width), -np.inf)

    def pdf(self, x: np.ndarray) -> np.ndarray:
        """Density at ``x``."""
        return np.exp(self.logpdf(x))

    def sample(self, rng: np.random.Generator, size: int | tuple[int, ...]) -> np.ndarray:
        """Independent draws of shape ``size``."""
        return rng.uniform(-self.half_width, self.half_width, size=size)

    def characteristic_function(self, t: np.ndarray) -> np.ndarray:
        """``sin(a t) / (a t)``."""
        return _sinc(self.half_width * np.asarray(t, dtype=float))

    def one_minus_characteristic_function(self, t: np.ndarray) -> np.ndarray:
        """``1 - phi(t)`` without cancellation near ``t = 0``."""
        return _one_minus_sinc(self.half_width * np.asarray(t, dtype=float))

    def characteristic_majorant(self, t: np.ndarray) -> np.ndarray:
        """A non-increasing bound on ``|sin(z) / z|``, ``z = a t``.

        ``exp(-z^2 / 6)`` up to ``z_1 = sqrt(6 ln pi)`` (from ``sin z / z = prod_k (1 - z^2 /
        (k pi)^2)`` and ``1 - u <= e^-u`` while ``z < pi``), then ``min(1 / pi, 1 / z)``: the
        Gaussian part makes a product over many coefficients decay as fast as ``psi`` does.
        """
        z = self.half_width * np.abs(np.asarray(t, dtype=float))
        near = z <= _SINC_SWITCH
        return np.where(near, np.exp(-z * z / 6.0), 1.0 / np.maximum(z, math.pi))


@dataclass(frozen=True)
class Mixed(_LawBase):
    """The per-parameter mixture ``weight N(0, scale^2) + (1 - weight) U(-half_width, half_width)``.

    Parameters
    ----------
    weight
        ``pi`` in [0, 1], the probability of the normal component.
    scale
        ``s`` > 0 of the normal component.
    half_width
        ``a`` > 0 of the uniform component.

    Notes
    -----
    The entropy has no closed form; :meth:`entropy` integrates ``-p ln p`` (see there) and
    :meth:`entropy_bounds` gives the closed-form bounds

        sum_k pi_k h_k  <=  h  <=  min(sum_k pi_k h_k + H(pi), 0.5 ln(2 pi e v))

    the first by concavity of entropy, the second because mixing adds at most the entropy of the
    label ``H(pi) = -pi ln pi - (1 - pi) ln(1 - pi)`` and no law beats the normal law of the same
    variance ``v``.

    Examples
    --------
    >>> law = Mixed(0.5, 1.0, 3.0 ** 0.5)
    >>> low, high = law.entropy_bounds()
    >>> bool(low <= law.entropy() <= high)
    True
    """

    weight: float
    scale: float
    half_width: float
    kind: ClassVar[InitLaw] = InitLaw.MIXED

    def __post_init__(self) -> None:
        weight = float(self.weight)
        if not 0.0 <= weight <= 1.0:
            raise OptionError(
                f"the mixing weight of a mixed initialization must lie in [0, 1]; got {weight}. "
                f"Pass --mix between 0 and 1."
            )
        object.__setattr__(self, "weight", weight)
        object.__setattr__(self, "scale", _check_positive("scale", self.scale))
        object.__setattr__(self, "half_width", _check_positive("width", self.half_width))

    @property
    def _normal(self) -> Normal:
        return Normal(self.scale)

    @property
    def _uniform(self) -> Uniform:
        return Uniform(self.half_width)

    def _mix(self, normal: Any, uniform: Any) -> Any:
        return self.weight * normal + (1.0 - self.weight) * uniform

    @property
    def variance(self) -> float:
        """``pi s^2 + (1 - pi) a^2 / 3``."""
        return self._mix(self._normal.variance, self._uniform.variance)

    @property
    def fourth_moment(self) -> float:
        """``pi 3 s^4 + (1 - pi) a^4 / 5``."""
        return self._mix(self._normal.fourth_moment, self._uniform.fourth_moment)

    @property
    def subgaussian_scale(self) -> float:
        """``max(s, a / sqrt(3))``: a mixture of mgfs each below ``exp(l^2 r^2 / 2)``."""
        return max(self.scale, self.half_width / math.sqrt(3.0))

    @property
    def support_half_width(self) -> float:
        """Unbounded unless the normal component is absent."""
        return self.half_width if self.weight == 0.0 else math.inf

    def entropy(self) -> float:
        """Differential entropy of one parameter by 1-D quadrature, nats.

        Notes
        -----
        With ``p(x) = pi phi_s(x) + (1 - pi) 1{|x| < a} / (2a)``, symmetric,
        ``h = -2 [int_0^a p ln p dx + int_a^inf pi phi_s ln(pi phi_s) dx]``. The first integrand
        is smooth on [0, a]: adaptive Gauss-Kronrod quadrature (``scipy.integrate.quad``) reaches
        about 1e-13, well inside the 1e-8 the theory asks for, and :meth:`entropy_error` reports
        its estimate. The tail is closed form, with ``alpha = a / s`` and ``Q`` the normal upper
        tail: ``int_a^inf pi phi_s ln(pi phi_s) = pi Q(alpha) ln(pi / sqrt(2 pi s^2))
        - (pi / 2) (alpha phi(alpha) + Q(alpha))``.
        """
        return _mixed_entropy(self.weight, self.scale, self.half_width)[0]

    def entropy_error(self) -> float:
        """Absolute error estimate of :meth:`entropy` from the quadrature, nats."""
        return _mixed_entropy(self.weight, self.scale, self.half_width)[1]

    def entropy_bounds(self) -> EntropyBounds:
        """Closed-form ``(lower, upper)`` bounds on :meth:`entropy` (see the class notes)."""
        pi = self.weight
        base = self._mix(self._normal.entropy(), self._uniform.entropy())
        label = float(-special.xlogy(pi, pi) - special.xlogy(1.0 - pi, 1.0 - pi))
        gaussian = 0.5 * math.log(2.0 * math.pi * math.e * self.variance)
        return EntropyBounds(base, min(base + label, gaussian))

    def pdf(self, x: np.ndarray) -> np.ndarray:
        """Density at ``x`` (any shape)."""
        return self._mix(self._normal.pdf(x), self._uniform.pdf(x))

    def logpdf(self, x: np.ndarray) -> np.ndarray:
        """Log density at ``x``, stable in the normal tail."""
        with np.errstate(divide="ignore"):
            return np.logaddexp(
                np.log(self.weight) + self._normal.logpdf(x),
                np.log1p(-self.weight) + self._uniform.logpdf(x),
            )

    def sample(self, rng: np.random.Generator, size: int | tuple[int, ...]) -> np.ndarray:
        """Independent draws: each entry picks its component with probability ``weight``."""
        from_normal = rng.random(size=size) < self.weight
        normal = rng.normal(0.0, self.scale, size=size)
        uniform = rng.uniform(-self.half_width, self.half_width, size=size)
        return np.where(from_normal, normal, uniform)

    def characteristic_function(self, t: np.ndarray) -> np.ndarray:
        """``pi exp(-s^2 t^2 / 2) + (1 - pi) sin(a t) / (a t)``."""
        return self._mix(self._normal.characteristic_function(t), self._uniform.characteristic_function(t))

    def one_minus_characteristic_function(self, t: np.ndarray) -> np.ndarray:
        """``1 - phi(t)`` without cancellation near ``t = 0``."""
        return self._mix(
            self._normal.one_minus_characteristic_function(t),
            self._uniform.one_minus_characteristic_function(t),
        )

    def characteristic_majorant(self, t: np.ndarray) -> np.ndarray:
        """The mixture of the components' majorants (each non-increasing in ``|t|``)."""
        return self._mix(self._normal.characteristic_majorant(t), self._uniform.characteristic_majorant(t))


@functools.lru_cache(maxsize=256)
def _mixed_entropy(pi: float, s: float, a: float) -> tuple[float, float]:
    """``(h, abserr)`` of the mixed law, nats (see :meth:`Mixed.entropy`)."""
    if pi == 0.0:
        return Uniform(a).entropy(), 0.0
    if pi == 1.0:
        return Normal(s).entropy(), 0.0
    log_norm = -math.log(s) - 0.5 * math.log(2.0 * math.pi)
    flat = (1.0 - pi) / (2.0 * a)

    def p_log_p(x: float) -> float:
        p = pi * math.exp(log_norm - 0.5 * (x / s) ** 2) + flat
        return p * math.log(p)

    # breakpoints where the normal bump bends, so a narrow bump inside a wide box is resolved
    points = [k * s for k in (0.5, 1.0, 2.0, 4.0, 8.0) if k * s < a]
    body, err = integrate.quad(p_log_p, 0.0, a, epsabs=1e-14, epsrel=1e-13, limit=400, points=points or None)
    alpha = a / s
    upper = float(special.ndtr(-alpha))
    phi = math.exp(-0.5 * alpha * alpha) / math.sqrt(2.0 * math.pi)
    tail = pi * upper * (math.log(pi) + log_norm) - 0.5 * pi * (alpha * phi + upper)
    return -2.0 * (body + tail), 2.0 * err


Law = Normal | Uniform | Mixed

#: The law classes, keyed by family.
LAWS: dict[InitLaw, type] = {InitLaw.NORMAL: Normal, InitLaw.UNIFORM: Uniform, InitLaw.MIXED: Mixed}


def default_scale(fan_in: int) -> float:
    """LeCun's fan-in scale ``1 / sqrt(fan_in)``: the standard deviation that keeps the
    variance of ``x'w`` equal to the mean square of one input."""
    if int(fan_in) < 1:
        raise OptionError(f"fan_in must be a positive number of inputs; got {fan_in}.")
    return 1.0 / math.sqrt(int(fan_in))


def make_law(
    law: InitLaw | str,
    *,
    fan_in: int,
    scale: float | None = None,
    width: float | None = None,
    mix: float | None = None,
) -> Law:
    """The initialization law from the command-line choices, defaults by the fan-in rule.

    Parameters
    ----------
    law
        ``normal``, ``uniform`` or ``mixed``.
    fan_in
        Inputs of the layer: the design's columns, intercept included.
    scale
        Standard deviation ``s`` of a normal law or component; default ``1 / sqrt(fan_in)``.
        For a uniform law without ``width``, the standard deviation to match: ``a = sqrt(3) s``.
    width
        Half-width ``a`` of a uniform law or component; default ``sqrt(3) s``.
    mix
        Weight ``pi`` of the normal component of the mixed law; default 0.5.

    Examples
    --------
    >>> make_law("uniform", fan_in=3)
    Uniform(half_width=1.0)
    >>> make_law(InitLaw.MIXED, fan_in=4).variance
    0.25
    """
    kind = _law_kind(law)
    if kind is InitLaw.NORMAL and (width is not None or mix is not None):
        raise OptionError("--width and --mix apply to --init uniform|mixed only; drop them for --init normal.")
    if kind is InitLaw.UNIFORM and mix is not None:
        raise OptionError("--mix applies to --init mixed only; drop it for --init uniform.")
    s = default_scale(fan_in) if scale is None else float(scale)
    a = math.sqrt(3.0) * s if width is None else float(width)
    if kind is InitLaw.NORMAL:
        return Normal(s)
    if kind is InitLaw.UNIFORM:
        return Uniform(a)
    return Mixed(DEFAULT_MIX if mix is None else float(mix), s, a)


def _law_kind(law: InitLaw | str) -> InitLaw:
    try:
        return InitLaw(law)
    except ValueError:
        names = "|".join(item.value for item in InitLaw)
        raise OptionError(f"unknown initialization law {law!r}; use --init {names}.") from None
