"""Neural networks as heat engines: per-layer temperatures, work, heat and efficiency.

Theory section 7, a reconstruction of "On the Temperature of Machine Learning Systems" (Dong
Zhang, arXiv 2404.13218), derived in ``docs/theory.md`` (section 8). Training moves a network from state A
to state B. Each layer ``l`` releases the energy ``dE_l`` (the path integral of its gradient,
recorded by :func:`shiftemp.network.train`) and changes its entropy by ``dS_l``, from its
initialization entropy (Type I) or its Laplace entropy before a refresh (Type II) to its diagonal
Laplace entropy at the end. Its temperature is ``T_l = dE_l / dS_l``.

The engine reading of a Type I transition: the heat a network takes in is the energy it releases,
``Q = E_A - E_net*``; the work it does is what it releases beyond the best linear model on the
same data and loss, ``W = E_linear* - E_net*``; its work efficiency is ``eta = max(0, W) / Q``.

Energies are in the loss's units (squared target units for MSE, target units for MAE, nats for
cross entropy); entropies in nats; temperatures in energy units per nat. Inputs ``features``
(n, d) must be standardised by the caller; ``target`` (n,) holds floats or class codes 0..K-1.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from dataclasses import dataclass, replace
from typing import Any, Sequence

import numpy as np

from .errors import OptionError
from .models import Family, Loss, Model
from .network import (
    Activation,
    Architecture,
    InitScheme,
    Network,
    Schedule,
    TrainingResult,
    blas_threads,
    fisher_diagonal,
    initial_laws,
    sample_rows,
    train,
)
from .report import Temperature

__all__ = [
    "ActivationComparison",
    "EngineReport",
    "EngineType",
    "LayerTransition",
    "RefreshPath",
    "RefreshReport",
    "Training",
    "Transition",
    "carnot_bound",
    "compare_activations",
    "engine",
    "expected_initial_energy",
    "laplace_entropies",
    "linear_energy",
    "point_temperature",
    "refresh",
]

#: Below this measured efficiency a nonlinear network is typed non-working.
WORK_THRESHOLD = 0.01

#: Share of the released energy at or above which the output layer alone is said to absorb a shift.
OUTPUT_SHARE_THRESHOLD = 0.9

#: An entropy change smaller than this many nats per parameter counts as zero.
ENTROPY_TOLERANCE = 1e-9

#: An energy change smaller than this fraction of the energy at the start counts as zero.
ENERGY_TOLERANCE = 1e-12

_UNITS = {Loss.MSE: "squared target units", Loss.MAE: "target units", Loss.CE: "nats"}


def standardised_unit(loss: Loss) -> str:
    """The energy unit of ``loss`` on a target in standard units (networks train on one)."""
    return _UNITS[Loss(loss)].replace("target units", "standardised target units")


# ------------------------------------------------------------------------------------------
# temperature with explicit infinite and undefined cases


def point_temperature(
    delta_energy: float, delta_entropy: float, *, energy_scale: float, n_parameters: int
) -> Temperature:
    """``T = dE / dS`` of point estimates, never a huge float from a near-zero division.

    The network figures have no standard errors (:func:`shiftemp.temperature.temperature`
    handles those), so "indistinguishable from zero" means below a numerical tolerance here.

    Parameters
    ----------
    delta_energy
        ``E_B - E_A`` (energy units).
    delta_entropy
        ``S_B - S_A`` (nats).
    energy_scale
        A typical energy of the system (e.g. ``E_A``): ``|dE|`` below ``ENERGY_TOLERANCE`` times
        it counts as zero.
    n_parameters
        Parameters the entropy sums over: ``|dS|`` below ``ENTROPY_TOLERANCE`` nats each counts
        as zero.

    Examples
    --------
    >>> point_temperature(-0.5, -2.0, energy_scale=1.0, n_parameters=10).value
    0.25
    >>> point_temperature(-0.5, 0.0, energy_scale=1.0, n_parameters=10).describe()
    '-infinite'
    """
    no_entropy = abs(delta_entropy) <= ENTROPY_TOLERANCE * max(n_parameters, 1)
    no_energy = abs(delta_energy) <= ENERGY_TOLERANCE * max(abs(energy_scale), 1e-300)
    if no_entropy and no_energy:
        return Temperature(status="undefined")
    if no_entropy:
        return Temperature(status="infinite", sign=int(np.sign(delta_energy)))
    value = float(delta_energy / delta_entropy)
    return Temperature(status="finite", value=value, sign=int(np.sign(value)))


# ------------------------------------------------------------------------------------------
# result records


class RefreshPath(str, enum.Enum):
    """The trajectory of a Type II refresh, along which the layers' energies are integrated.

    The split of the released energy between layers is a path integral, so it depends on the
    path. The two paths answer different questions.
    """

    OUTPUT_FIRST = "output-first"
    """Train the output layer alone from the reference weights, then every layer: the output
    layer is credited with all the energy a refresh of it alone can release, the other layers
    with what only they can add. Its output share answers "is refreshing the output layer
    enough?" (the default)."""
    JOINT = "joint"
    """Train every layer from the start: the split of a plain warm-started refresh. With Adam
    it spreads the energy roughly in proportion to the layers' parameter counts."""


class EngineType(str, enum.Enum):
    """The two kinds of heat engine a network can be."""

    WORKING = "working"
    """A nonlinear network that releases energy beyond the best linear model."""
    NON_WORKING = "non-working"
    """An affine network (identity activation), or one that did no measurable work."""


@dataclass(frozen=True)
class LayerTransition:
    """One layer's part in a transition.

    Attributes
    ----------
    name : "hidden 1", ..., "output".
    n_parameters : weights and biases of the layer.
    energy_change : dE_l, the path integral of the layer's gradient (negative: released).
    share : dE_l / sum_l dE_l, the layer's share of the released energy (None when the layers
        released nothing).
    entropy_start, entropy_end, entropy_change : S_A,l, S_B,l and dS_l, nats.
    temperature : T_l = dE_l / dS_l (:class:`shiftemp.report.Temperature`: a status word and
        ``None`` instead of an infinite or undefined value).
    ridge : prior precision added to n F_jj in the Laplace entropy, 1 / parameter^2.
    """

    name: str
    n_parameters: int
    energy_change: float
    share: float | None
    entropy_start: float
    entropy_end: float
    entropy_change: float
    temperature: Temperature
    ridge: float

    def to_dict(self) -> dict[str, Any]:
        return _to_dict(self)


@dataclass(frozen=True)
class Transition:
    """The whole network's transition from state A to state B.

    ``energy_change`` is ``E_B - E_A`` measured directly; ``layer_energy_sum`` is the sum of the
    layers' path integrals; ``residual`` is their difference (the quadrature error) and
    ``relative_residual`` that over ``|energy_change|``.
    """

    energy_start: float
    energy_end: float
    energy_change: float
    layer_energy_sum: float
    residual: float
    relative_residual: float | None
    entropy_start: float
    entropy_end: float
    entropy_change: float
    temperature: Temperature

    def to_dict(self) -> dict[str, Any]:
        return _to_dict(self)


@dataclass(frozen=True)
class Training:
    """How the network was trained, for the report."""

    optimizer: str
    learning_rate: float
    batch_size: int | None
    epochs: int
    steps: int
    checkpoints: int
    energy_passes: int
    energy_rows: int
    rows_used: int
    rows_total: int
    sampled: bool
    max_rows: int

    @classmethod
    def of(cls, result: TrainingResult) -> "Training":
        schedule = result.schedule
        full_batch = schedule.optimizer == "gd"
        return cls(
            optimizer=str(getattr(schedule.optimizer, "value", schedule.optimizer)),
            learning_rate=result.learning_rate,
            batch_size=None if full_batch else min(schedule.batch_size, result.rows_used),
            epochs=result.epochs,
            steps=result.steps,
            checkpoints=int(len(result.checkpoint_steps)),
            energy_passes=result.energy_passes,
            energy_rows=result.energy_rows,
            rows_used=result.rows_used,
            rows_total=result.rows_total,
            sampled=result.sampled,
            max_rows=schedule.max_rows,
        )

    def to_dict(self) -> dict[str, Any]:
        return _to_dict(self)


@dataclass(frozen=True, eq=False)
class EngineReport:
    """A Type I training transition of a network, read as a heat engine.

    Attributes
    ----------
    activation, hidden, loss, init, energy_unit
        What was trained and the unit of every energy.
    layers : tuple of LayerTransition, input side first, along the path actually trained.
    transition : the path's global dE, dS, T and residual, from the drawn initialization.
    initial_energy, initial_energy_se, init_draws : E_A = E_{w ~ p}[E(w; D)], the expected
        energy of state A over the initialization law, a Monte Carlo mean over ``init_draws``
        draws, and its standard error.
    temperature : the Type I temperature ``T_I = (E_net* - E_A) / (S_B - S_A)`` (theory 4).
    trained_energy : E_net*, the trained network's energy on all training rows (the path's
        energies may be on a sample of them: see ``training.energy_rows``).
    linear_energy : E_linear*, the energy of the best linear model on the same rows and loss.
    work : W = E_linear* - E_net*.
    heat : Q = E_A - E_net*.
    efficiency : eta = max(0, W) / Q, clipped to [0, 1] (0 when Q <= 0).
    carnot_bound : 1 - T_cold / T_hot over the layers with a finite positive temperature, or
        None when no layer has one (``carnot_status`` says so).
    under_carnot : eta <= carnot_bound, or None without a bound.
    engine_type, engine_reason : working or non-working, and why.
    summary : one plain sentence.
    training : the schedule as run and the rows used.
    network : the trained network (not part of :meth:`to_dict`).
    """

    activation: Activation
    hidden: tuple[int, ...]
    loss: Loss
    init: str
    energy_unit: str
    layers: tuple[LayerTransition, ...]
    transition: Transition
    initial_energy: float
    initial_energy_se: float
    init_draws: int
    temperature: Temperature
    trained_energy: float
    linear_energy: float
    work: float
    heat: float
    efficiency: float
    carnot_bound: float | None
    carnot_status: str
    under_carnot: bool | None
    engine_type: EngineType
    engine_reason: str
    summary: str
    training: Training
    network: Network

    def to_dict(self) -> dict[str, Any]:
        return _to_dict(self, skip=("network",))


@dataclass(frozen=True, eq=False)
class RefreshReport:
    """A Type II refresh of a network, warm-started from the reference network.

    Attributes
    ----------
    layers, transition : per-layer and global energies, entropies and temperatures; state A is
        the reference network placed in the shifted data, state B the refreshed network.
    output_share : the output layer's share of the released energy (None if none was released).
    output_layer_suffices : the output layer absorbed at least ``OUTPUT_SHARE_THRESHOLD`` of the
        released energy, so refreshing that layer alone is enough.
    summary : one plain sentence.
    network : the refreshed network (not part of :meth:`to_dict`).
    """

    activation: Activation
    hidden: tuple[int, ...]
    loss: Loss
    path: RefreshPath
    energy_unit: str
    layers: tuple[LayerTransition, ...]
    transition: Transition
    output_share: float | None
    output_layer_suffices: bool
    summary: str
    training: Training
    network: Network

    def to_dict(self) -> dict[str, Any]:
        return _to_dict(self, skip=("network",))


@dataclass(frozen=True, eq=False)
class ActivationComparison:
    """One engine report per activation, trained on the same rows with the same seed."""

    reports: tuple[EngineReport, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"activations": [report.to_dict() for report in self.reports]}

    def efficiency(self) -> dict[str, float]:
        """``{activation: eta}``."""
        return {report.activation.value: report.efficiency for report in self.reports}


# ------------------------------------------------------------------------------------------
# public functions


def engine(
    features: np.ndarray,
    target: np.ndarray,
    rng: np.random.Generator,
    *,
    hidden: Sequence[int] = (64,),
    activation: Activation = Activation.RELU,
    loss: Loss = Loss.MSE,
    n_classes: int | None = None,
    init: InitScheme = InitScheme(),
    schedule: Schedule = Schedule(),
    init_draws: int = 256,
    energy_unit: str | None = None,
) -> EngineReport:
    """Train a network from its initialization and read the transition as a heat engine.

    Parameters
    ----------
    features
        (n, d) standardised features.
    target
        (n,) floats for MSE and MAE, class codes 0..K-1 for cross entropy.
    rng
        The only source of randomness (row sampling, initialization, shuffling).
    hidden, activation, loss, n_classes
        The network; ``n_classes`` defaults to ``max(target) + 1`` for cross entropy.
    init, schedule
        Initialization scheme and training schedule (see :mod:`shiftemp.network`).
    init_draws
        Draws from the initialization law for the Monte Carlo estimate of ``E_A``.
    energy_unit
        What the energies are measured in, for the report and its summary; default the loss's
        unit of the target as given ("squared target units" for MSE). A caller that
        standardised the target says so.

    Returns
    -------
    EngineReport

    Notes
    -----
    State A is the initialization law: ``E_A = E_{w ~ p}[E(w; D)]`` (estimated by Monte Carlo),
    ``S_A,l = m_l h(p_l)`` for the ``m_l`` parameters of layer l drawn from law ``p_l``. State B
    is the trained network: ``E_B = E_net*`` and ``S_B,l = sum_j 0.5 ln(2 pi e / (n F_jj +
    1 / v_l))``, with the empirical Fisher information ``F`` and the law's variance ``v_l`` as
    the ridge (the initialization law read as a prior). The layers' energies are path integrals
    from the one draw that was trained.

    Because the output layer's parameters are drawn with mean zero, independently of the layers
    below, ``E_w[f_w(x)] = 0``, and Jensen's inequality (every loss is convex in the output)
    gives ``E_A >= E(constant model) >= E_linear*``: ``W <= Q``, so ``eta <= 1`` up to the Monte
    Carlo error; the clip only guards against that error.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 1)); y = X[:, 0] + 0.1 * rng.normal(size=300)
    >>> short = Schedule(learning_rate=0.01, epochs=50)
    >>> report = engine(X, y, rng, hidden=(4,), activation=Activation.IDENTITY, schedule=short)
    >>> report.engine_type.value, report.efficiency
    ('non-working', 0.0)
    """
    X, y = _arrays(features, target)
    architecture = _architecture(X, y, hidden, activation, loss, n_classes)
    with blas_threads(schedule.blas_threads):
        result = train(X, y, architecture, rng, schedule=schedule, init=init)
        if result.rows is not None:
            X, y = X[result.rows], y[result.rows]
        laws = result.laws
        ridges = np.array([1.0 / law.variance for law in laws])
        entropy_start = np.array(
            [size * law.entropy() for size, law in zip(architecture.layer_sizes, laws)]
        )
        entropy_end = laplace_entropies(result.network, X, y, ridges)
        e_linear = linear_energy(X, y, architecture.loss, architecture.n_classes)
        e_initial, e_initial_se = expected_initial_energy(architecture, init, X, y, rng, draws=init_draws)
        e_net = result.network.energy(X, y)
    layers, transition = _transition(result, entropy_start, entropy_end, ridges)

    work = e_linear - e_net
    heat = e_initial - e_net
    type_one = point_temperature(
        e_net - e_initial, transition.entropy_change, energy_scale=e_initial,
        n_parameters=architecture.n_parameters,
    )
    efficiency = float(min(max(work, 0.0) / heat, 1.0)) if heat > 0 else 0.0
    carnot, carnot_status = carnot_bound(layers)
    under = None if carnot is None else bool(efficiency <= carnot)
    kind, reason = _engine_type(architecture, efficiency)
    unit = energy_unit or _UNITS[architecture.loss]
    summary = _engine_summary(architecture, heat, efficiency, kind, layers, unit)
    return EngineReport(
        activation=architecture.activation,
        hidden=architecture.hidden,
        loss=architecture.loss,
        init=init.kind.value,
        energy_unit=unit,
        layers=layers,
        transition=transition,
        initial_energy=e_initial,
        initial_energy_se=e_initial_se,
        init_draws=int(init_draws),
        temperature=type_one,
        trained_energy=e_net,
        linear_energy=e_linear,
        work=work,
        heat=heat,
        efficiency=efficiency,
        carnot_bound=carnot,
        carnot_status=carnot_status,
        under_carnot=under,
        engine_type=kind,
        engine_reason=reason,
        summary=summary,
        training=Training.of(result),
        network=result.network,
    )


def compare_activations(
    features: np.ndarray,
    target: np.ndarray,
    rng: np.random.Generator,
    *,
    activations: Sequence[Activation] = tuple(Activation),
    **options: Any,
) -> ActivationComparison:
    """:func:`engine` once per activation, on the same rows with the same random stream.

    One seed is drawn from ``rng`` and every activation trains from a generator seeded with it,
    so the row sample and the shuffling are the same for all: only the activation (and the
    initialization scale it implies) differs. ``options`` are passed to :func:`engine`.
    """
    seed = int(rng.integers(2**63))
    reports = tuple(
        engine(features, target, np.random.default_rng(seed), activation=Activation(a), **options)
        for a in activations
    )
    return ActivationComparison(reports)


def refresh(
    reference: Network,
    features: np.ndarray,
    target: np.ndarray,
    rng: np.random.Generator,
    *,
    schedule: Schedule = Schedule(),
    path: RefreshPath = RefreshPath.OUTPUT_FIRST,
    ridge: Sequence[float] | None = None,
    energy_unit: str | None = None,
) -> RefreshReport:
    """Type II: warm-start from ``reference``, train on the shifted data, say which layers moved.

    Parameters
    ----------
    reference
        The network at equilibrium on the reference data.
    features, target
        The shifted data, standardised with the reference's statistics.
    rng
        Row sampling and shuffling.
    schedule
        Training schedule of the refresh (of each stage, for ``OUTPUT_FIRST``).
    path
        The trajectory the layers' energies are integrated along; see :class:`RefreshPath`.
    ridge
        Per-layer prior precision of the Laplace entropies; ``None`` takes ``1 / v_l`` with the
        default initialization law's variance ``v_l`` (the fan-in rule).
    energy_unit
        As :func:`engine`'s.

    Returns
    -------
    RefreshReport

    Notes
    -----
    State A is the reference network placed in the shifted data: ``E_A = E(w_old; D_new)`` and
    ``S_A,l`` its diagonal Laplace entropy with the Fisher information of the shifted rows.
    State B is the refreshed network on the same rows. Both entropies use the same rows, so no
    per-row normalisation is needed.
    """
    architecture = reference.architecture
    X, y = _arrays(features, target)
    rows_total = len(X)
    # sample once, so that both stages of an output-first refresh train on the same rows,
    rows = sample_rows(rows_total, schedule.max_rows, rng)
    if rows is not None:
        X, y = X[rows], y[rows]
    # and one energy sample, so that the second stage's path starts where the first one ended
    energy_sample = sample_rows(len(X), schedule.energy_rows or len(X), rng)
    with blas_threads(schedule.blas_threads):
        if RefreshPath(path) is RefreshPath.JOINT:
            result = train(X, y, architecture, rng, schedule=schedule, start=reference,
                           energy_sample=energy_sample)
        else:
            first = train(X, y, architecture, rng, schedule=schedule, start=reference, layers=[-1],
                          energy_sample=energy_sample)
            second = train(X, y, architecture, rng, schedule=schedule, start=first.network,
                           energy_sample=energy_sample)
            result = _chain(first, second)
    result = replace(result, rows=rows, rows_total=rows_total)
    if ridge is None:
        ridges = np.array([1.0 / law.variance for law in initial_laws(architecture, InitScheme())])
    else:
        ridges = np.asarray(ridge, dtype=float)
        if ridges.shape != (architecture.n_layers,) or np.any(ridges <= 0):
            raise OptionError(
                f"ridge needs one positive value per layer ({architecture.n_layers}); got {ridge}."
            )
    with blas_threads(schedule.blas_threads):
        entropy_start = laplace_entropies(reference, X, y, ridges)
        entropy_end = laplace_entropies(result.network, X, y, ridges)
    layers, transition = _transition(result, entropy_start, entropy_end, ridges)
    output_share = layers[-1].share if transition.layer_energy_sum < 0 else None
    suffices = output_share is not None and output_share >= OUTPUT_SHARE_THRESHOLD
    unit = energy_unit or _UNITS[architecture.loss]
    return RefreshReport(
        activation=architecture.activation,
        hidden=architecture.hidden,
        loss=architecture.loss,
        path=RefreshPath(path),
        energy_unit=unit,
        layers=layers,
        transition=transition,
        output_share=output_share,
        output_layer_suffices=suffices,
        summary=_refresh_summary(transition, layers, output_share, suffices, unit),
        training=Training.of(result),
        network=result.network,
    )


def _chain(first: TrainingResult, second: TrainingResult) -> TrainingResult:
    """One training result for two stages run back to back on the same rows."""
    return TrainingResult(
        network=second.network,
        start=first.start,
        laws=None,
        layer_energy=first.layer_energy + second.layer_energy,
        energy_start=first.energy_start,
        energy_end=second.energy_end,
        checkpoint_steps=np.concatenate([first.checkpoint_steps, first.steps + second.checkpoint_steps[1:]]),
        energy_path=np.concatenate([first.energy_path, second.energy_path[1:]]),
        rows=first.rows,
        rows_total=first.rows_total,
        schedule=first.schedule,
        epochs=first.epochs + second.epochs,
        steps=first.steps + second.steps,
        learning_rate=first.learning_rate,
        energy_passes=first.energy_passes + second.energy_passes,
        energy_rows=first.energy_rows,
    )


def expected_initial_energy(
    architecture: Architecture,
    init: InitScheme,
    features: np.ndarray,
    target: np.ndarray,
    rng: np.random.Generator,
    *,
    draws: int = 256,
    rows_per_draw: int = 512,
) -> tuple[float, float]:
    """``E_A = E_{w ~ p}[E(w; D)]`` by Monte Carlo, and its standard error (energy units).

    Each draw of the parameters is scored on its own random ``rows_per_draw`` rows (all rows
    when there are fewer): the mean of the draws' energies is unbiased for ``E_A``, and the
    draw-to-draw spread, which dominates, is what the standard error measures. A single draw's
    energy varies a lot (a relu network's initial output scale is heavy-tailed), which is why
    the engine does not take the trained draw's energy as ``E_A``.
    """
    X, y = _arrays(features, target)
    n = len(X)
    m = min(n, rows_per_draw)
    energies = np.empty(max(int(draws), 1))
    for k in range(len(energies)):
        net = Network.initial(architecture, init, rng)
        rows = slice(None) if m == n else rng.choice(n, size=m, replace=False)
        energies[k] = float(np.mean(net.loss_per_row(X[rows], y[rows])))
    se = float(energies.std(ddof=1) / math.sqrt(len(energies))) if len(energies) > 1 else math.nan
    return float(energies.mean()), se


def laplace_entropies(network: Network, features: np.ndarray, target: np.ndarray, ridge: Sequence[float]) -> np.ndarray:
    """Diagonal Laplace entropy of each layer, (L,) nats.

    ``S_l = sum_j 0.5 ln(2 pi e / (n F_jj + ridge_l))`` over the layer's parameters, with ``F``
    the empirical Fisher information on the given rows (see
    :func:`shiftemp.network.fisher_diagonal`).
    """
    arch = network.architecture
    precision = fisher_diagonal(network, features, target)
    precision += np.repeat(np.asarray(ridge, dtype=float), arch.layer_sizes)
    per_parameter = 0.5 * np.log(2.0 * math.pi * math.e / precision)
    return np.add.reduceat(per_parameter, arch.layer_starts)


def linear_energy(features: np.ndarray, target: np.ndarray, loss: Loss, n_classes: int | None = None) -> float:
    """``E_linear*``: the energy of the best affine model on the same rows and loss.

    Least squares (MSE), least absolute deviations (MAE) or multinomial logistic regression
    (cross entropy), each with the small ridge :mod:`shiftemp.models` declares.
    """
    X, y = _arrays(features, target)
    d = X.shape[1]
    family = Family.LOGISTIC if Loss(loss) is Loss.CE else Family.LINEAR
    # the features are already standardised: fit in their own coordinates
    model = Model(family, Loss(loss), centre=np.zeros(d), scale=np.ones(d), n_classes=n_classes)
    if family is Family.LOGISTIC:
        y = y.astype(np.intp)
    model.fit(X, y)
    return float(np.mean(model.loss_per_row(X, y)))


def carnot_bound(layers: Sequence[LayerTransition]) -> tuple[float | None, str]:
    """``1 - T_cold / T_hot`` over the layers with a finite positive temperature, and a status."""
    hot = [layer.temperature.value for layer in layers
           if layer.temperature.status == "finite" and layer.temperature.value > 0]
    if not hot:
        return None, "no layer has a finite positive temperature"
    if len(hot) == 1:
        return 0.0, "only one layer has a finite positive temperature"
    return float(1.0 - min(hot) / max(hot)), "finite"


# ------------------------------------------------------------------------------------------
# helpers


def _arrays(features: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    X = np.ascontiguousarray(features, dtype=np.float64)
    if X.ndim == 1:
        X = X[:, None]
    return X, np.ascontiguousarray(target, dtype=np.float64).ravel()


def _architecture(
    X: np.ndarray, y: np.ndarray, hidden: Sequence[int], activation: Activation, loss: Loss,
    n_classes: int | None,
) -> Architecture:
    loss = Loss(loss)
    if loss is Loss.CE and n_classes is None:
        n_classes = max(int(np.max(y)) + 1, 2) if len(y) else 2
    return Architecture(X.shape[1], tuple(hidden), Activation(activation), loss,
                        n_classes if loss is Loss.CE else None)


def _transition(
    result: TrainingResult, entropy_start: np.ndarray, entropy_end: np.ndarray, ridges: np.ndarray
) -> tuple[tuple[LayerTransition, ...], Transition]:
    """Per-layer and global records of a transition."""
    arch = result.network.architecture
    layer_energy = result.layer_energy
    total = float(layer_energy.sum())
    scale = max(abs(result.energy_start), abs(result.energy_end))
    released = abs(total) > ENERGY_TOLERANCE * max(scale, 1e-300)
    layers = []
    for i, name in enumerate(arch.layer_names):
        d_entropy = float(entropy_end[i] - entropy_start[i])
        layers.append(LayerTransition(
            name=name,
            n_parameters=arch.layer_sizes[i],
            energy_change=float(layer_energy[i]),
            share=float(layer_energy[i] / total) if released else None,
            entropy_start=float(entropy_start[i]),
            entropy_end=float(entropy_end[i]),
            entropy_change=d_entropy,
            temperature=point_temperature(float(layer_energy[i]), d_entropy, energy_scale=scale,
                                          n_parameters=arch.layer_sizes[i]),
            ridge=float(ridges[i]),
        ))
    d_energy = result.energy_end - result.energy_start
    s_start, s_end = float(entropy_start.sum()), float(entropy_end.sum())
    transition = Transition(
        energy_start=result.energy_start,
        energy_end=result.energy_end,
        energy_change=d_energy,
        layer_energy_sum=total,
        residual=result.residual,
        relative_residual=result.residual / abs(d_energy) if d_energy != 0 else None,
        entropy_start=s_start,
        entropy_end=s_end,
        entropy_change=s_end - s_start,
        temperature=point_temperature(d_energy, s_end - s_start, energy_scale=scale,
                                n_parameters=arch.n_parameters),
    )
    return tuple(layers), transition


def _engine_type(architecture: Architecture, efficiency: float) -> tuple[EngineType, str]:
    if architecture.activation is Activation.IDENTITY or not architecture.hidden:
        return EngineType.NON_WORKING, (
            "an identity-activation network is an affine map: it cannot beat the best linear model"
        )
    if efficiency < WORK_THRESHOLD:
        return EngineType.NON_WORKING, (
            f"the network did no measurable work beyond the best linear model (eta < {WORK_THRESHOLD})"
        )
    return EngineType.WORKING, "the network released energy beyond the best linear model"


def _engine_summary(
    architecture: Architecture, heat: float, efficiency: float, kind: EngineType,
    layers: Sequence[LayerTransition], unit: str,
) -> str:
    shares = [(layer.share, layer.name) for layer in layers if layer.share is not None]
    where = ""
    if shares:
        share, name = max(shares)
        where = f"; the {name} layer released the largest share ({share:.0%})"
    return (
        f"Training released {heat:.3g} {unit} of loss, {efficiency:.0%} of it as work beyond the "
        f"best linear model: this {architecture.activation.value} network is a {kind.value} "
        f"engine{where}."
    )


def _refresh_summary(
    transition: Transition, layers: Sequence[LayerTransition], output_share: float | None,
    suffices: bool, unit: str,
) -> str:
    released = -transition.energy_change
    if output_share is None:
        return f"Refreshing released no energy ({released:.3g} {unit}): the network still fits the new data."
    if suffices:
        return (
            f"Refreshing released {released:.3g} {unit}, {output_share:.0%} of it in the output "
            f"layer: refreshing the output layer alone is enough."
        )
    return (
        f"Refreshing released {released:.3g} {unit}, only {output_share:.0%} of it in the output "
        f"layer: the shift reaches the hidden layers, refresh the whole network."
    )


def _json_float(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return float(value)


def _json(value: Any) -> Any:
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if dataclasses.is_dataclass(value):
        return _to_dict(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return _json_float(float(value))
    if isinstance(value, (tuple, list)):
        return [_json(item) for item in value]
    return value


def _to_dict(record: Any, skip: Sequence[str] = ()) -> dict[str, Any]:
    return {f.name: _json(getattr(record, f.name)) for f in dataclasses.fields(record) if f.name not in skip}
