"""``shiftemp engine``: a network's training read as a heat engine, from a data file.

Load and validate one dataset, standardise its features, train the network once per activation
(:func:`shiftemp.engine.compare_activations`), and return one frozen record for the report.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from .dataset import check_rows_for_parameters, prepare
from .engine import EngineReport, compare_activations, standardised_unit
from .errors import check_seed
from .models import Family, Loss, standardisation
from .network import Activation, InitScheme, Schedule
from .report import SCHEMA_VERSION, InputSummary
from .typetwo import DataLike, as_source


#: The target handling a loss implies: regression for MSE and MAE, classification for CE.
TASK = {Loss.MSE: Family.LINEAR, Loss.MAE: Family.LINEAR, Loss.CE: Family.LOGISTIC}


@dataclass(frozen=True, eq=False)
class EngineRun:
    """The report of ``shiftemp engine``: one :class:`EngineReport` per activation."""

    data: InputSummary
    target: str
    features: tuple[str, ...]
    reports: tuple[EngineReport, ...]
    options: dict[str, Any]
    notes: tuple[str, ...] = ()
    schema_version: str = SCHEMA_VERSION
    kind: str = "engine"

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": self.schema_version,
            "kind": self.kind,
            "data": vars(self.data) | {"unseen_categories": {}},
            "target": self.target,
            "features": list(self.features),
            "options": self.options,
            "notes": list(self.notes),
            "activations": [report.to_dict() for report in self.reports],
        }


def run_engine(
    data: DataLike,
    *,
    target: str | None = None,
    features: list[str] | None = None,
    exclude: list[str] | None = None,
    hidden: Sequence[int] = (64,),
    activations: Sequence[Activation | str] = (Activation.RELU,),
    loss: Loss | str | None = None,
    init: InitScheme = InitScheme(),
    epochs: int | None = None,
    max_rows: int = 100_000,
    seed: int = 0,
) -> EngineRun:
    """Train a network on ``data`` from its initialization, once per activation, and read each
    training as a heat engine (theory section 7).

    Features are standardised with the data's own statistics; categorical ones one-hot encoded.
    ``loss`` defaults to MSE for a numeric target with many values and cross entropy otherwise.
    """
    check_seed(seed)
    schedule = Schedule(epochs=epochs, max_rows=max_rows)  # checks them before the data is read
    loss = Loss(loss) if loss is not None else None
    source = as_source(data, "data")
    pair = prepare(
        source.frame, source.frame, target=target, features=features, exclude=exclude,
        family=TASK.get(loss), names=(source.path, source.path),
    )
    # E_linear*, the baseline of the work W, would interpolate the rows (and its solver fail)
    check_rows_for_parameters(pair, None)
    family = pair.family
    if loss is None:
        loss = Loss.MSE if family is Family.LINEAR else Loss.CE
    side = pair.reference
    centre, scale = standardisation(side.X)
    X = (side.X - centre) / scale
    y = side.y
    if family is Family.LINEAR:
        # networks train poorly on a raw target far from zero; in standard units the energies
        # read directly: E_linear* = 1 - R^2 for MSE
        spread = float(y.std()) or 1.0
        y = (y - y.mean()) / spread
    comparison = compare_activations(
        X, y, np.random.default_rng(seed), activations=[Activation(a) for a in activations],
        hidden=tuple(hidden), loss=loss, n_classes=len(pair.classes) if pair.classes else None,
        init=init, schedule=schedule,
        energy_unit=standardised_unit(loss) if family is Family.LINEAR else None,
    )
    reports = comparison.reports
    summary = InputSummary(
        path=source.path, format=source.format, sha256=source.sha256, rows=side.rows_read,
        rows_used=side.rows_used, rows_dropped=side.rows_dropped,
    )
    return EngineRun(
        data=summary,
        target=pair.target,
        features=pair.feature_names,
        reports=reports,
        options={
            "hidden": list(hidden), "activations": [Activation(a).value for a in activations],
            "loss": loss.value, "init": init.kind.value, "scale": init.scale, "mix": init.mix,
            "epochs": epochs, "max_rows": max_rows, "seed": seed,
            "target_standardised": family is Family.LINEAR,
        },
        notes=tuple(dict.fromkeys(pair.notes)),
    )
