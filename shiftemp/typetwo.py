"""``compare``: the Type II transition of a data refresh, end to end (theory sections 5 and 6).

Load and validate, fit, measure (energy, entropy), decide, report: data flows one way.
"""

from __future__ import annotations

import datetime as _dt
import enum
import os
import platform
import time
from typing import Union

import numpy as np
import pandas as pd

from . import __version__, io
from .dataset import Pair, prepare
from .decision import DEFAULT_MIN_GAIN, recommend
from .energy import row_folds, type_two_energy
from .entropy import data_entropy_change, parameter_entropy_change
from .errors import OptionError
from .models import Family, Loss, Model, check_loss
from .report import Comparison, InputSummary, ModelSummary, Run
from .temperature import temperature


class EntropyKind(str, enum.Enum):
    """Which entropy the temperature divides by (theory section 5)."""

    DATA = "data"
    PARAMETERS = "parameters"


DataLike = Union[io.Source, pd.DataFrame, str, os.PathLike]


def as_source(data: DataLike, name: str) -> io.Source:
    """Read a path; wrap a frame (named ``name``, no file hash); pass a Source through."""
    if isinstance(data, io.Source):
        return data
    if isinstance(data, pd.DataFrame):
        return io.Source(frame=data, path=name, format="dataframe", sha256="")
    return io.read(data)


def _summary(source: io.Source, side) -> InputSummary:
    return InputSummary(
        path=source.path, format=source.format, sha256=source.sha256, rows=side.rows_read,
        rows_used=side.rows_used, rows_dropped=side.rows_dropped,
        unseen_categories=dict(side.unseen),
    )


def _check_options(folds: int, min_gain: float) -> None:
    if folds < 2:
        raise OptionError(f"--folds must be at least 2 for cross-fitting; got {folds}.")
    if not 0 <= min_gain < 1:
        raise OptionError(f"--min-gain is a fraction of the loss in [0, 1); got {min_gain}.")


def fit_pair(pair: Pair, family: Family, loss: Loss) -> tuple[Model, Model]:
    """The old model (fitted on all of the reference) and the refreshed one (all of the shifted
    data, in the reference's standardisation)."""
    n_classes = len(pair.classes) if pair.classes else None
    old = Model(family, loss, n_classes=n_classes).fit(pair.reference.X, pair.reference.y)
    refreshed = old.with_params(None).fit_design(old.design(pair.shifted.X), pair.shifted.y)
    return old, refreshed


def compare(
    reference: DataLike,
    shifted: DataLike,
    *,
    target: str | None = None,
    features: list[str] | None = None,
    exclude: list[str] | None = None,
    model: Family | str | None = None,
    loss: Loss | str | None = None,
    folds: int = 5,
    entropy: EntropyKind | str = EntropyKind.DATA,
    min_gain: float = DEFAULT_MIN_GAIN,
    seed: int = 0,
) -> Comparison:
    """Compare a reference dataset with a shifted one and recommend whether to retrain.

    Parameters
    ----------
    reference, shifted
        Paths (``.parquet``, ``.csv``, ``.csv.gz`` or a directory of parquet parts), frames, or
        :class:`shiftemp.io.Source` objects.
    target
        The target column; detected from the names target, label, y, class when omitted.
    features, exclude
        Columns to use, or to leave out; by default every column but the target.
    model, loss
        Model family (``linear``, ``logistic``) and loss (``mse``, ``mae``, ``ce``); by default
        chosen from the target (numeric with many values: linear/mse; otherwise logistic/ce).
    folds
        K of the cross-fitting of the refreshed model on the shifted data.
    entropy
        ``data`` (default) or ``parameters``.
    min_gain
        The fraction of the loss a refresh must remove to be recommended.
    seed
        Keys the fold assignment.

    Returns
    -------
    Comparison
        The frozen report; ``report.recommendation.retrain`` is the decision.

    Examples
    --------
    >>> import numpy as np, pandas as pd, shiftemp
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(2, 500))
    >>> old = pd.DataFrame({"x": x[0], "y": 2 * x[0] + rng.normal(size=500)})
    >>> new = pd.DataFrame({"x": x[1], "y": -2 * x[1] + rng.normal(size=500)})
    >>> shiftemp.compare(old, new, target="y").recommendation.verdict
    'retrain'
    """
    started = time.perf_counter()
    stamp = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    _check_options(folds, min_gain)
    family = Family(model) if model is not None else None
    loss = Loss(loss) if loss is not None else None
    entropy = EntropyKind(entropy)
    ref_source, new_source = as_source(reference, "reference"), as_source(shifted, "shifted")
    pair = prepare(
        ref_source.frame, new_source.frame, target=target, features=features, exclude=exclude,
        family=family, names=(ref_source.path, new_source.path),
    )
    family = pair.family
    loss = check_loss(family, loss)

    old, refreshed = fit_pair(pair, family, loss)
    D_ref, D_new = old.design(pair.reference.X), old.design(pair.shifted.X)
    y_ref, y_new = pair.reference.y, pair.shifted.y
    target_scale = None
    if family is Family.LINEAR:
        target_scale = (float(y_ref.mean()), float(y_ref.std()) or 1.0)
    fold = row_folds(D_new, y_new, pair.feature_names, target_scale, folds, seed)
    energy = type_two_energy(
        old, refreshed, D_ref, y_ref, D_new, y_new, fold, folds, shifted_name=new_source.path
    )
    if entropy is EntropyKind.DATA:
        entropy_change = data_entropy_change(
            pair.reference, pair.shifted, pair.numeric_names, pair.categorical_names
        )
    else:
        entropy_change = parameter_entropy_change(old, D_ref, y_ref, refreshed, D_new, y_new)

    notes = list(pair.notes)
    if entropy_change.excluded:
        notes.append(
            "constant columns left out of the data entropy: " + ", ".join(entropy_change.excluded)
        )
    return Comparison(
        reference=_summary(ref_source, pair.reference),
        shifted=_summary(new_source, pair.shifted),
        target=pair.target,
        model=ModelSummary(
            family=family.value, loss=loss.value, ridge=float(old.ridge),
            features=pair.feature_names, n_params=old.n_params, classes=pair.classes,
        ),
        energy=energy,
        entropy=entropy_change,
        temperature=temperature(energy.delta_out_of_sample, entropy_change.delta),
        temperature_in_sample=temperature(energy.delta_in_sample, entropy_change.delta),
        recommendation=recommend(energy, entropy_change, min_gain),
        options={
            "target": target, "features": features, "exclude": exclude, "model": family.value,
            "loss": loss.value, "folds": folds, "entropy": entropy.value, "min_gain": min_gain,
            "seed": seed,
        },
        notes=tuple(notes),
        run=Run(
            shiftemp_version=__version__, started=stamp,
            seconds=round(time.perf_counter() - started, 3), host=platform.node(),
        ),
    )
