"""``compare``: the Type II transition of a data refresh, end to end (theory sections 5 and 6).

Load and validate, fit, measure (energy, entropy), decide, report: data flows one way.
"""

from __future__ import annotations

import datetime as _dt
import enum
import numbers
import os
import platform
import time
from typing import TYPE_CHECKING, Callable, Optional, Sequence, Union

import numpy as np
import pyarrow as pa

# pandas, the calibration and the network are imported where the in-memory engine, --calibrate
# and --model mlp use them: the streaming engine needs none of them, and their imports would be
# most of the wall time of a small streaming run
from . import __version__, io, resources
from .dataset import Pair, _usable_rows, check_rows_for_parameters, prepare, rare_classes_note
from .decision import DEFAULT_MIN_GAIN, recommend
from .defaults import DEFAULT_SPLITS, check_splits
from .energy import level_hashes, row_folds, smallest_keys, spread_keys, spread_size, type_two_energy
from .entropy import data_entropy_change, parameter_entropy_change
from .errors import (
    InputError,
    OptionError,
    check_scheduler_engine,
    check_seed,
    check_whole,
    column_name,
    column_names,
)
from .explain import explain_energy
from .models import Family, Loss, Model, accurate_mean, check_loss
from .report import Comparison, InputSummary, ModelSummary, Run
from .temperature import temperature

if TYPE_CHECKING:
    import pandas as pd


class EntropyKind(str, enum.Enum):
    """Which entropy the temperature divides by (theory section 5)."""

    DATA = "data"
    PARAMETERS = "parameters"


class Engine(str, enum.Enum):
    """Where ``compare`` runs (docs/streaming.md)."""

    AUTO = "auto"
    MEMORY = "memory"
    STREAM = "stream"
    DASK = "dask"


#: The note of a report made with ``checksum=False``.
NO_CHECKSUM = "the inputs' SHA-256 checksums were not computed (--no-checksum)"

#: ``auto`` streams inputs with more rows than this (or that would not fit in memory).
AUTO_STREAM_ROWS = 2_000_000
#: Bytes the in-memory engine needs per value (frame, encoded copies, designs, per-row losses).
MEMORY_BYTES_PER_VALUE = 64

DataLike = Union[io.Source, "pd.DataFrame", "pa.Table", str, os.PathLike]


def as_source(data: DataLike, name: str, checksum: bool = True) -> io.Source:
    """Read a path; wrap a frame or an Arrow table (named ``name``, no file hash); pass a Source
    through."""
    io.check_data(data, name)
    if isinstance(data, io.Source):
        return data
    if isinstance(data, pa.Table):
        io.check_unique_names(data.schema.names, name)
        data = data.to_pandas()
    if io.is_frame(data):
        return io.Source(frame=io.text_names(data, name), path=name, format="dataframe", sha256="")
    return io.read(data, checksum=checksum)


def _summary(source: io.Source, side) -> InputSummary:
    return InputSummary(
        path=source.path, format=source.format, sha256=source.sha256, rows=side.rows_read,
        rows_used=side.rows_used, rows_dropped=side.rows_dropped,
        unseen_categories=dict(side.unseen),
    )


#: Bytes of CSV text per value, to estimate a CSV's values from its size (a float written with
#: full precision takes about 19; 12 errs toward more values); a .csv.gz holds about 3x its size.
CSV_BYTES_PER_VALUE = 12


def memory_need(reference, shifted) -> tuple[int, list[str]]:
    """Bytes the in-memory engine would need for the inputs given as paths (from parquet
    metadata, or a CSV's size), and their names; inputs already in memory count 0."""
    values, names = 0, []
    for data in (reference, shifted):
        if not isinstance(data, (str, os.PathLike)):
            continue
        try:
            scan = io.scan(data)
        except InputError:  # reading it will say what is wrong
            continue
        if scan.rows is not None:
            values += scan.rows * len(scan.schema)
        else:
            text = scan.size_bytes * (3 if scan.format == "csv.gz" else 1)
            values += text // CSV_BYTES_PER_VALUE
        names.append(scan.path)
    return values * resources.BYTES_PER_VALUE, names


#: More folds than this would only refit the model more often for the same estimate (and a
#: count near 2^64 overflowed the fold hash's arithmetic).
MAX_FOLDS = 1000


def check_folds(folds: int) -> None:
    """``--folds``: a whole number from 2 to :data:`MAX_FOLDS`."""
    if isinstance(folds, bool) or not isinstance(folds, numbers.Integral):
        raise OptionError(f"--folds must be a whole number; got {folds!r}.")
    if folds < 2:
        raise OptionError(f"--folds must be at least 2 for cross-fitting; got {folds}.")
    if folds > MAX_FOLDS:
        raise OptionError(f"--folds must be at most {MAX_FOLDS:,}; got {folds:,}.")


def check_min_gain(min_gain: float) -> None:
    """``--min-gain``: a fraction of the loss in [0, 1)."""
    if isinstance(min_gain, bool) or not isinstance(min_gain, numbers.Real):
        raise OptionError(f"--min-gain is a fraction of the loss in [0, 1); got {min_gain!r}.")
    if not 0 <= min_gain < 1:
        raise OptionError(f"--min-gain is a fraction of the loss in [0, 1); got {min_gain}.")


def _check_options(folds: int, min_gain: float, seed: int) -> None:
    check_seed(seed)
    check_folds(folds)
    check_min_gain(min_gain)


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
    engine: Engine | str = Engine.AUTO,
    scheduler: str | None = None,
    batch_size: int | None = None,
    progress: Optional[Callable[[str, int, Optional[int]], None]] = None,
    spread_rows: int | None = None,
    checksum: bool = True,
    time_column: str | None = None,
    calibrate: bool = False,
    calibration_splits: int = DEFAULT_SPLITS,
    init: str = "normal",
    hidden: Sequence[int] = (64,),
    activation: str = "relu",
    epochs: int | None = None,
) -> Comparison:
    """Compare a reference dataset with a shifted one and recommend whether to retrain.

    Parameters
    ----------
    reference, shifted
        Paths (``.parquet``, ``.csv``, ``.csv.gz`` or a directory of parquet parts), pandas
        frames, Arrow tables, or :class:`shiftemp.io.Source` objects.
    target
        The target column; detected from the names target, label, y, class when omitted.
    features, exclude
        Columns to use, or to leave out; by default every column but the target.
    model, loss
        Model family (``linear``, ``logistic``, ``mlp``) and loss (``mse``, ``mae``, ``ce``); by default
        chosen from the target (numeric with many values: linear/mse; otherwise logistic/ce).
    folds
        K of the cross-fitting of the refreshed model on the shifted data.
    entropy
        ``data`` (default) or ``parameters``.
    min_gain
        The fraction of the loss a refresh must remove to be recommended.
    seed
        Keys the fold assignment.
    engine
        ``memory`` (read both inputs whole), ``stream`` (bounded memory: record batches, one pass
        for linear/MSE), ``dask`` (the streaming statistics over a Dask cluster) or ``auto``
        (stream inputs of more than 2M rows or that would not fit in memory). A ``.shiftemp``
        profile as ``reference`` always streams the shifted data. The report is the same.
    scheduler
        Address of a Dask scheduler (``--engine dask``); none starts a local cluster.
    batch_size
        Rows per record batch of the streaming engines.
    progress
        ``progress(task, rows_done, rows_total)``, called after each batch of a pass.
    spread_rows
        Rows M of the spread sample behind every standard error (default: 100,000, fewer for
        wide designs); the tests lower it to exercise the sampled path.
    checksum
        Report each input file's SHA-256 (``False``: an empty string and a note; hashing reads
        every byte of the files once more, about a scan's worth of work on large data).
    time_column
        A column that orders the rows in time: never a feature; with ``calibrate``, the
        reference's self-splits are consecutive windows in its order.
    calibrate
        Measure the null spread of ``dE`` and ``dS`` on the reference alone (repeated
        self-splits, shiftemp/calibration.py), report it as ``calibration`` and widen the
        decision's intervals by it. In-memory engine only.
    calibration_splits
        How many self-splits the calibration makes (default 10).
    init
        Initialization law (normal, uniform, mixed) of the Type I temperatures of each side
        (``report.type_one``), at the default fan-in scale.
    hidden, activation, epochs
        ``--model mlp`` only: hidden layer sizes, activation (identity, relu, tanh, logistic)
        and training epochs (default: about 10,000 Adam steps).

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
    _check_options(folds, min_gain, seed)
    if calibrate:
        check_splits(calibration_splits)  # before the data is read
    if spread_rows is not None:
        check_whole(spread_rows, "spread-rows", 2)
    io.check_data(reference, "reference")
    io.check_data(shifted, "shifted")
    target, time_column = column_name(target, "target"), column_name(time_column, "time-column")
    features, exclude = column_names(features, "features"), column_names(exclude, "exclude")
    family = Family(model) if model is not None else None
    loss = Loss(loss) if loss is not None else None
    entropy = EntropyKind(entropy)
    engine = Engine(engine)
    check_scheduler_engine(engine.value, scheduler)
    options = {
        "target": target, "features": features, "exclude": exclude, "model": None,
        "loss": None, "folds": folds, "entropy": entropy.value, "min_gain": min_gain,
        "seed": seed, "time_column": time_column, "calibrate": calibrate,
        "calibration_splits": calibration_splits if calibrate else None,
        "init": init,
    }
    if time_column is not None:  # orders the rows, never a feature (both engines check it first)
        exclude = [*(exclude or []), time_column]
    from . import stream

    stream.check_batch_size(batch_size)  # every engine's, even where --model mlp ignores it
    if family is Family.MLP:
        from .netshift import network_parts, with_output_layer_advice
        from .network import Activation

        if calibrate:
            raise OptionError("--calibrate is not available with --model mlp; drop one of them.")
        if engine in (Engine.STREAM, Engine.DASK):
            raise OptionError(
                f"--model mlp trains in memory; drop --engine {engine.value} (or pass --engine"
                " memory)."
            )
        if stream.is_profile(reference):
            raise OptionError(
                f"--model mlp trains the old network on the reference data, which the profile"
                f" {reference} does not hold; compare the reference's data file instead."
            )
        ref_source, new_source = as_source(reference, "reference"), as_source(shifted, "shifted")
        if time_column is not None:  # else a missing one would be blamed on --exclude
            _check_time_column(ref_source, time_column, target)
        parts, network = network_parts(
            ref_source, new_source, target=target, features=features, exclude=exclude,
            loss=loss, folds=folds, seed=seed, hidden=hidden, activation=Activation(activation),
            epochs=epochs, entropy=entropy.value, summary=_summary,
        )
        options |= {"hidden": list(hidden), "activation": Activation(activation).value,
                    "epochs": epochs}
        return with_output_layer_advice(
            _report(parts, options, min_gain, started, stamp, Engine.MEMORY.value), network)
    if engine is not Engine.MEMORY or stream.is_profile(reference):
        chosen = stream.choose_engine(engine.value, reference, shifted)
        if chosen == Engine.MEMORY.value and engine is Engine.AUTO:
            # resources.py also sees ulimit -v and cgroup limits, and counts columns
            available = resources.available_memory()
            if available is not None and memory_need(reference, shifted)[0] > available / 2:
                chosen = Engine.STREAM.value
        if calibrate and stream.is_profile(reference):
            raise OptionError(
                f"--calibrate splits the reference's own rows, which the profile {reference}"
                " does not hold; compare the reference's data file with --engine memory, or"
                " drop --calibrate."
            )
        if chosen != Engine.MEMORY.value and calibrate:
            raise OptionError(
                f"--calibrate runs on the in-memory engine, and these inputs would use --engine"
                f" {chosen}; pass --engine memory (if they fit in memory) or drop --calibrate."
            )
        if chosen != Engine.MEMORY.value:
            if stream.is_profile(reference):
                if not isinstance(reference, stream.Reference):
                    from .profile import load

                    reference = load(reference)
                # the columns are the profile's, whatever equivalent options chose them
                options |= {key: reference.options.get(key)
                            for key in ("target", "features", "exclude")}
            settings = stream.Settings(target, features, exclude, family, loss, folds,
                                       entropy.value, seed, spread_rows, time_column)
            parts = stream.run_compare(
                reference, shifted, settings, chosen, scheduler=scheduler, batch_size=batch_size,
                progress=progress, checksum=checksum,
            )
            if not checksum:
                parts["notes"].append(NO_CHECKSUM)
            if engine is Engine.AUTO and not stream.is_profile(reference):
                parts["notes"].append(
                    f"--engine auto chose the {chosen} engine (inputs of more than 2M rows, or"
                    " too big for half the free memory): its figures are the in-memory engine's"
                    " up to rounding, without the Type I rows (T_I)"
                )
            return _report(parts, options, min_gain, started, stamp, chosen)
    from . import calibration as _calibration

    need, names = memory_need(reference, shifted)
    resources.require(
        need, f"{' and '.join(names)} in memory",
        "use --engine stream (bounded memory) or auto, or compare fewer rows.",
    )
    ref_source = as_source(reference, "reference", checksum)
    new_source = as_source(shifted, "shifted", checksum)
    if time_column is not None:
        _check_time_column(ref_source, time_column, target)
        if calibrate:
            ref_source = io.Source(
                frame=_calibration.order_by_time(ref_source.frame, time_column),
                path=ref_source.path, format=ref_source.format, sha256=ref_source.sha256,
            )
    pair = prepare(
        ref_source.frame, new_source.frame, target=target, features=features, exclude=exclude,
        family=family, names=(ref_source.path, new_source.path),
    )
    family = pair.family
    loss = check_loss(family, loss)
    check_rows_for_parameters(pair, folds)
    q = (len(pair.feature_names) + 1) * max(len(pair.classes or ()) - 1, 1)
    resources.require(
        resources.PARAMETER_MATRICES[family.value] * 8 * q * q, f"fitting {q:,} parameters",
        "narrow --features or --exclude.",
    )

    old, refreshed = fit_pair(pair, family, loss)
    D_ref, D_new = old.design(pair.reference.X), old.design(pair.shifted.X)
    y_ref, y_new = pair.reference.y, pair.shifted.y
    target_scale = None
    if family is Family.LINEAR:
        target_scale = (float(accurate_mean(y_ref)), float(y_ref.std()) or 1.0)
    fold = row_folds(D_new, y_new, pair.feature_names, target_scale, folds, seed)
    m = spread_size(D_new.shape[1], spread_rows)
    spread = (
        frame_spread_rows(ref_source.frame, pair, pair.reference, m),
        frame_spread_rows(new_source.frame, pair, pair.shifted, m),
    )
    energy = type_two_energy(
        old, refreshed, D_ref, y_ref, D_new, y_new, fold, folds, shifted_name=new_source.path,
        spread=spread,
    )
    if entropy is EntropyKind.DATA:
        entropy_change = data_entropy_change(
            pair.reference, pair.shifted, pair.numeric_names, pair.categorical_names, spread
        )
    else:
        entropy_change = parameter_entropy_change(
            old, D_ref, y_ref, refreshed, D_new, y_new, spread
        )
    parts = {
        "reference": _summary(ref_source, pair.reference),
        "shifted": _summary(new_source, pair.shifted),
        "target": pair.target,
        "model": ModelSummary(
            family=family.value, loss=loss.value, ridge=float(old.ridge),
            features=pair.feature_names, n_params=old.n_params, classes=pair.classes,
        ),
        "energy": energy, "entropy": entropy_change,
        "notes": list(pair.notes) + _rare_classes(pair, family, folds, new_source.path)
                 + ([] if checksum else [NO_CHECKSUM]),
        "explanation": explain_energy(old, refreshed, D_new, y_new, pair.feature_names),
        "type_one": type_one_pair(old, refreshed, pair, init),
    }
    if calibrate:
        parts["calibration"] = _calibration.calibrate(
            pair, family, loss, folds, seed, parameters=entropy is EntropyKind.PARAMETERS,
            splits=calibration_splits, time_column=time_column,
            rng=np.random.default_rng([seed, 0xCA1]),
        )
    return _report(parts, options, min_gain, started, stamp, Engine.MEMORY.value)


def _rare_classes(pair: Pair, family: Family, folds: int, name: str) -> list[str]:
    """:func:`dataset.rare_classes_note` of the shifted data's classes, as a list of notes."""
    if family is not Family.LOGISTIC or not pair.classes:
        return []
    counts = np.bincount(pair.shifted.y, minlength=len(pair.classes))
    note = rare_classes_note(dict(zip(pair.classes, map(int, counts))), folds, name)
    return [note] if note else []


def _check_time_column(ref_source: io.Source, time_column: str, target: str | None) -> None:
    """The in-memory engines' check of ``--time-column`` against the reference's columns and
    its target, given or detected (a detected target is no time column either)."""
    from .calibration import check_time_column
    from .dataset import resolve_target

    columns = list(ref_source.frame.columns)
    check_time_column(columns, time_column, resolve_target(columns, target, ref_source.path)[0],
                      ref_source.path)


def _report(parts: dict, options: dict, min_gain: float, started: float, stamp: str,
            engine: str) -> Comparison:
    """The :class:`Comparison` of an engine's ``parts``: summaries, model, energy, entropy,
    notes; the temperature and the recommendation follow from them."""
    energy, entropy_change = parts["energy"], parts["entropy"]
    notes = list(parts["notes"])
    if entropy_change.excluded:
        notes.append(
            "constant columns left out of the data entropy: " + ", ".join(entropy_change.excluded)
        )
    options = {**options, "model": parts["model"].family, "loss": parts["model"].loss}
    return Comparison(
        reference=parts["reference"],
        shifted=parts["shifted"],
        target=parts["target"],
        model=parts["model"],
        energy=energy,
        entropy=entropy_change,
        temperature=temperature(energy.delta_out_of_sample, entropy_change.delta),
        temperature_in_sample=temperature(energy.delta_in_sample, entropy_change.delta),
        recommendation=recommend(energy, entropy_change, min_gain, parts.get("calibration")),
        options=options,
        notes=tuple(notes),
        run=Run(
            shiftemp_version=__version__, started=stamp,
            seconds=round(time.perf_counter() - started, 3), host=platform.node(), engine=engine,
        ),
        explanation=parts.get("explanation"),
        calibration=parts.get("calibration"),
        type_one=parts.get("type_one"),
    )


def type_one_pair(old: Model, refreshed: Model, pair: Pair, init: str) -> dict:
    """The Type I transitions of the old model on the reference and the refreshed one on the
    shifted data, from the same initialization law: how the training complexity changed."""
    from .laws import DEFAULT_SCALE_RULE, InitLaw
    from .training import type_one_summary

    law = InitLaw(init)
    return {
        "law": law.value,
        "loss": old.loss.value,
        "scale_rule": DEFAULT_SCALE_RULE,
        "reference": type_one_summary(old, pair.reference.X, pair.reference.y, law),
        "shifted": type_one_summary(refreshed, pair.shifted.X, pair.shifted.y, law),
    }


def frame_spread_rows(frame: pd.DataFrame, pair: Pair, side, m: int) -> np.ndarray | None:
    """Row indices (into ``side``'s used rows) of its spread sample of ``m`` rows: the rows with
    the smallest :func:`shiftemp.energy.spread_keys` of their raw values; ``None`` when the side
    has at most ``m`` rows (the sample is every row)."""
    import pandas as pd

    if side.rows_used <= m:
        return None
    used = [*pair.feature_columns, pair.target]
    keep = _usable_rows(frame, used, set(pair.numeric_names))
    kept = frame.loc[keep] if not keep.all() else frame
    hashes = []
    for column in pair.categorical_names:
        codes, levels = pd.factorize(kept[column].astype(str))
        hashes.append(level_hashes(levels)[codes])
    numeric_t = np.ascontiguousarray(side.numeric.T)
    keys = spread_keys(numeric_t, pair.numeric_names, hashes, pair.categorical_names)
    return smallest_keys(keys, m)
