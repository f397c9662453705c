"""``shiftemp temperature``: the Type I temperature of training from initialization, from a file.

Load and validate one dataset, fit the equilibrium of each requested loss (linear for MSE and
MAE, logistic for cross entropy, features standardised with the data's own statistics), and run
:func:`shiftemp.typeone.type_one_table` over the requested initialization laws and methods.
Also :func:`type_one_summary`, the compact Type I figures ``compare`` reports for each side.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from .dataset import check_rows_for_parameters, prepare
from .errors import OptionError, check_seed
from .laws import DEFAULT_SCALE_RULE, InitLaw
from .models import LOSSES, Family, Loss, Model, check_loss
from .report import SCHEMA_VERSION, InputSummary
from .typeone import DEFAULT_DRAWS, Equilibrium, Method, TypeOneResult, type_one_from_model, type_one_table
from .typetwo import DataLike, as_source

FAMILY_OF = {Loss.MSE: Family.LINEAR, Loss.MAE: Family.LINEAR, Loss.CE: Family.LOGISTIC}


@dataclass(frozen=True, eq=False)
class TemperatureRun:
    """The report of ``shiftemp temperature``: one Type I result per (loss, law)."""

    data: InputSummary
    target: str
    features: tuple[str, ...]
    results: tuple[TypeOneResult, ...]
    scale_rule: str
    options: dict[str, Any]
    notes: tuple[str, ...] = ()
    schema_version: str = SCHEMA_VERSION
    kind: str = "temperature"

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": self.schema_version,
            "kind": self.kind,
            "data": vars(self.data),
            "target": self.target,
            "features": list(self.features),
            "scale_rule": self.scale_rule,
            "options": self.options,
            "notes": list(self.notes),
            "results": [result.to_dict() for result in self.results],
        }


def run_temperature(
    data: DataLike,
    *,
    target: str | None = None,
    features: list[str] | None = None,
    exclude: list[str] | None = None,
    model: Family | str | None = None,
    losses: Sequence[Loss | str] | str | None = None,
    laws: Sequence[InitLaw | str] = tuple(InitLaw),
    scale: float | None = None,
    width: float | None = None,
    mix: float | None = None,
    methods: Sequence[Method | str] = tuple(Method),
    draws: int = DEFAULT_DRAWS,
    seed: int = 0,
) -> TemperatureRun:
    """The Type I transition of ``data`` for every requested loss and initialization law.

    ``model`` (linear or logistic) fixes the family, and ``losses`` must go with it; ``"all"``
    is every loss of ``model``'s family. ``losses`` defaults to the family's first (MSE, CE), or
    to the target's family: MSE for a numeric target with many values, cross entropy
    otherwise. MSE and MAE need a numeric target; cross entropy a categorical one (or a numeric
    one with few values).
    """
    check_seed(seed)
    if draws < 100:
        raise OptionError(f"--draws must be at least 100; got {draws}.")
    family = Family(model) if model is not None else None
    if family is Family.MLP:
        raise OptionError(
            "temperature fits a linear or logistic model (--model linear|logistic); a network's"
            " training is read by shiftemp engine, its refresh by compare --model mlp."
        )
    if isinstance(losses, str) and losses == "all":
        if family is None:
            raise OptionError("--loss all needs --model (linear: mse, mae; logistic: ce).")
        losses = LOSSES[family]
    losses = tuple(Loss(loss) for loss in losses) if losses else None
    if family is not None:
        for loss in losses or ():
            check_loss(family, loss)  # --loss ce with --model linear: named, not misread
        losses = losses or LOSSES[family][:1]
    source = as_source(data, "data")
    families = {FAMILY_OF[loss] for loss in losses} if losses else set()
    if len(families) > 1:
        raise OptionError(
            "--loss mixes regression (mse, mae) and classification (ce); one target is one or the"
            " other: run them separately."
        )
    pair = prepare(
        source.frame, source.frame, target=target, features=features, exclude=exclude,
        family=families.pop() if families else None, names=(source.path, source.path),
    )
    check_rows_for_parameters(pair, None)  # a fit through every row has no temperature
    losses = losses or ((Loss.MSE,) if pair.family is Family.LINEAR else (Loss.CE,))
    side = pair.reference
    n_classes = len(pair.classes) if pair.classes else None
    equilibria = []
    for loss in losses:
        model = Model(FAMILY_OF[loss], loss, n_classes=n_classes).fit(side.X, side.y)
        equilibria.append(Equilibrium.from_model(model, side.X, side.y))
    results = type_one_table(
        equilibria, laws=[InitLaw(law) for law in laws], scale=scale, width=width, mix=mix,
        methods=[Method(m) for m in methods], n_draws=draws, rng=np.random.default_rng(seed),
    )
    return TemperatureRun(
        data=InputSummary(
            path=source.path, format=source.format, sha256=source.sha256, rows=side.rows_read,
            rows_used=side.rows_used, rows_dropped=side.rows_dropped,
        ),
        target=pair.target,
        features=pair.feature_names,
        results=results,
        scale_rule=DEFAULT_SCALE_RULE if scale is None and width is None else "as given",
        options={
            "model": pair.family.value, "losses": [loss.value for loss in losses], "laws": [InitLaw(l).value for l in laws],
            "scale": scale, "width": width, "mix": mix,
            "methods": [Method(m).value for m in methods], "draws": draws, "seed": seed,
        },
        notes=tuple(dict.fromkeys(pair.notes)),
    )


def type_one_summary(model: Model, X: np.ndarray, y: np.ndarray, law: InitLaw) -> dict[str, Any]:
    """The analytic Type I figures of a fitted model on its data: E_A, E_B, S_A, S_B, dE, dS, T."""
    result = type_one_from_model(model, X, y, law=law, methods=(Method.ANALYTIC,))
    estimate = result.estimate(Method.ANALYTIC)
    return {
        "method": Method.ANALYTIC.value,
        "E_A": estimate.initial_energy.value,
        "E_B": result.equilibrium_energy,
        "S_A": estimate.initial_entropy.value,
        "S_B": estimate.equilibrium_entropy.value,
        "dE": estimate.delta_energy.value,
        "dS": estimate.delta_entropy.value,
        "temperature": estimate.to_dict()["temperature"],
    }
