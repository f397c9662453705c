"""The frozen result records of shiftemp and their JSON form.

Every record is a frozen dataclass; :func:`to_dict` turns one into JSON-safe values (no NaN or
infinity: an undefined number is ``null`` beside a status word) and :func:`from_dict` rebuilds it,
so a JSON report round-trips into the result object.
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from dataclasses import dataclass, field
from typing import Any

#: Bumped on any change a consumer could notice: major for removed or renamed fields or changed
#: meanings, minor for added fields. See README, "JSON report".
SCHEMA_VERSION = "1.1"

#: Two-sided 95% normal quantile.
Z95 = 1.959963984540054
#: One-sided 95% normal quantile.
Z95_ONE_SIDED = 1.6448536269514722


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its standard error and 95% interval, in the quantity's units."""

    value: float
    se: float
    low: float
    high: float

    @classmethod
    def normal(cls, value: float, se: float) -> "Estimate":
        """The estimate with a normal-theory 95% interval ``value +- 1.96 se``."""
        return cls(float(value), float(se), float(value - Z95 * se), float(value + Z95 * se))

    @property
    def clear_of_zero(self) -> bool:
        """True when the 95% interval excludes zero."""
        return self.low > 0 or self.high < 0


@dataclass(frozen=True)
class Temperature:
    """``T = dE / dS`` with its status.

    ``status`` is ``finite`` (``value`` and the interval are numbers), ``infinite`` (``dS`` is
    indistinguishable from zero while ``dE`` is not; ``sign`` says which infinity) or
    ``undefined`` (both are indistinguishable from zero). Units: energy units per nat.
    """

    status: str
    value: float | None = None
    low: float | None = None
    high: float | None = None
    sign: int = 0

    def describe(self, digits: int = 4) -> str:
        """A plain-words or numeric rendering: ``0.0123``, ``+infinite``, ``undefined``."""
        if self.status == "finite":
            return f"{self.value:.{digits}g}"
        if self.status == "infinite":
            return ("+" if self.sign > 0 else "-") + "infinite"
        return "undefined"


@dataclass(frozen=True)
class InputSummary:
    """Where a dataset came from and how many of its rows were used."""

    path: str
    format: str
    sha256: str
    rows: int
    rows_used: int
    rows_dropped: int
    unseen_categories: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelSummary:
    """The model family fitted on both datasets."""

    family: str
    loss: str
    ridge: float
    features: tuple[str, ...]
    n_params: int
    classes: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Energy:
    """Energies (mean losses, in the loss's units) of the Type II transition (theory section 5).

    ``before`` is E_A, the old model on the shifted data. ``after_*`` is E_B, the refreshed
    model: in sample (fitted on all of the shifted data) and out of sample (cross-fitted).
    ``delta_*`` is ``E_B - E_A`` from the paired per-row differences (negative: energy released).
    ``reference`` is the old model's in-sample energy on its own data.
    """

    before: Estimate
    after_in_sample: Estimate
    after_out_of_sample: Estimate
    delta_in_sample: Estimate
    delta_out_of_sample: Estimate
    reference: Estimate
    folds: int

    @property
    def released(self) -> float:
        """Energy released out of sample, ``-dE`` (positive when refreshing helps)."""
        return -self.delta_out_of_sample.value

    @property
    def relative_gain(self) -> float:
        """``-dE / E_A`` out of sample: the fraction of the loss a refresh removes."""
        return self.released / self.before.value if self.before.value > 0 else 0.0


@dataclass(frozen=True)
class ColumnEntropy:
    """One column's share of the entropy change, in nats per row."""

    column: str
    kind: str
    reference: float
    shifted: float
    delta: float


@dataclass(frozen=True)
class Entropy:
    """Entropies of the two states, in nats, with the change ``dS = S_B - S_A``.

    ``kind`` is ``data`` (per-row entropy of the joint distribution of the columns) or
    ``parameters`` (per-row-normalised Laplace entropy of the fitted parameters). ``columns``
    lists each column's marginal change, largest first (data entropy only); ``dependence`` is
    the part of ``dS`` the marginals do not carry (the change in the numeric columns' mutual
    dependence).
    """

    kind: str
    reference: Estimate
    shifted: Estimate
    delta: Estimate
    columns: tuple[ColumnEntropy, ...] = ()
    dependence: float | None = None
    excluded: tuple[str, ...] = ()


@dataclass(frozen=True)
class Recommendation:
    """Retrain or keep, the shift class, and why, in one sentence (theory section 6)."""

    retrain: bool
    shift_class: str
    reason: str
    delta_upper_bound: float
    relative_gain: float
    min_gain: float
    calibrated: bool = False
    bound_inflation: float = 1.0

    @property
    def verdict(self) -> str:
        return "retrain" if self.retrain else "keep"


@dataclass(frozen=True)
class FeatureEnergy:
    """One parameter group's share of the energy a refresh releases (shiftemp/explain.py).

    ``coefficient_change`` is ``w_new - w_old`` per non-reference class (one value for a linear
    model), per standard deviation of the feature; ``energy`` the share of the in-sample released
    energy (the loss's units), ``share`` its fraction of the total.
    """

    feature: str
    coefficient_change: tuple[float, ...]
    energy: float
    share: float


@dataclass(frozen=True)
class Explanation:
    """Which features carry the energy a refresh releases on the new data, largest first.

    ``total`` is ``E(w_old) - E(w_new)`` in sample; the shares of ``features`` add up to it, up to
    ``residual``; ``method`` says how the path integral was computed.
    """

    total: float
    residual: float
    method: str
    features: tuple[FeatureEnergy, ...] = ()


@dataclass(frozen=True)
class NullSpread:
    """A statistic over the self-splits of the reference: its mean and standard deviation, and the
    standard deviation of its z-score (statistic / its standard error; 1 when the standard error
    is right)."""

    mean: float
    sd: float
    z_sd: float


@dataclass(frozen=True)
class Calibration:
    """The ambient temperature of the reference: the null spread of ``dE`` and ``dS`` over
    repeated self-splits (shiftemp/calibration.py).

    ``order`` is ``random`` or ``time`` (consecutive windows of ``time_column``); ``rows_old`` and
    ``rows_new`` the sizes of each split's two parts. ``temperature`` is the ambient temperature,
    ``sd(dE) / sd(dS)`` over the splits (energy units per nat). ``energy_inflation`` and
    ``entropy_inflation`` (at least 1) are the factors the decision widens the standard errors of
    ``dE`` and ``dS`` by.
    """

    splits: int
    order: str
    time_column: str | None
    rows_old: int
    rows_new: int
    delta_energy: NullSpread
    delta_entropy: NullSpread
    relative_gain: NullSpread
    temperature: Temperature
    energy_inflation: float
    entropy_inflation: float


@dataclass(frozen=True)
class Run:
    """Run metadata: the only part of a report that differs between identical runs."""

    shiftemp_version: str
    started: str
    seconds: float
    host: str
    #: the engine that ran (memory, stream or dask): what --engine auto chose; "" in reports
    #: of versions that did not record it
    engine: str = ""


@dataclass(frozen=True)
class Comparison:
    """The report of ``shiftemp compare``: the Type II transition of a data refresh."""

    reference: InputSummary
    shifted: InputSummary
    target: str
    model: ModelSummary
    energy: Energy
    entropy: Entropy
    temperature: Temperature
    temperature_in_sample: Temperature
    recommendation: Recommendation
    options: dict[str, Any]
    notes: tuple[str, ...] = ()
    schema_version: str = SCHEMA_VERSION
    kind: str = "comparison"
    run: Run | None = None
    explanation: Explanation | None = None
    calibration: Calibration | None = None
    type_one: dict[str, Any] | None = None
    """The Type I transition of the same model from the same initialization on each side:
    ``{law, loss, scale_rule, reference: {E_A, E_B, S_A, S_B, dE, dS, temperature, method},
    shifted: {...}}`` (shiftemp.training.type_one_summary); in-memory engine only."""
    network: dict[str, Any] | None = None
    """``compare --model mlp`` only: the refresh's per-layer energies, entropies and
    temperatures (shiftemp.engine.RefreshReport.to_dict), energies in standardised units times
    ``energy_scale``."""

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Comparison":
        return from_dict(cls, data)

    @classmethod
    def from_json(cls, text: str) -> "Comparison":
        return cls.from_dict(json.loads(text))


def _clean(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return value


def to_dict(record: Any) -> Any:
    """JSON-safe nested dict of a record: tuples to lists, non-finite floats to ``None``."""
    if dataclasses.is_dataclass(record):
        return {f.name: to_dict(getattr(record, f.name)) for f in dataclasses.fields(record)}
    if isinstance(record, dict):
        return {str(k): to_dict(v) for k, v in record.items()}
    if isinstance(record, (list, tuple)):
        return [to_dict(v) for v in record]
    if hasattr(record, "item") and not isinstance(record, (str, bytes)):
        record = record.item()  # numpy scalars
    return _clean(record)


def from_dict(kind: Any, data: Any) -> Any:
    """Rebuild a record of type ``kind`` from :func:`to_dict`'s output."""
    if data is None:
        return None
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(kind) if a is not type(None)]
        return from_dict(options[0], data)
    if dataclasses.is_dataclass(kind):
        hints = typing.get_type_hints(kind)
        return kind(**{
            f.name: from_dict(hints[f.name], data[f.name])
            for f in dataclasses.fields(kind) if f.name in data
        })
    if origin is tuple:
        inner = typing.get_args(kind)[0]
        return tuple(from_dict(inner, v) for v in data)
    if origin is dict:
        _, inner = typing.get_args(kind)
        return {k: from_dict(inner, v) for k, v in data.items()}
    if kind is float:
        return float(data)
    return data
