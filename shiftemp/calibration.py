"""The ambient temperature of a reference: how far ``dE`` and ``dS`` move when nothing shifted.

``compare --calibrate`` splits the reference against itself, ``splits`` times, and measures each
split exactly as the comparison measures the real pair: the old model fitted on one part, the
refresh cross-fitted on the other, ``dE`` with its paired standard error, ``dS`` with its own. In
random order (the default) each split is a random partition, so both parts come from one
distribution: the null of "no shift". With a time column the reference is taken in time order and
each split is a window of consecutive rows against the window right after it: the null then also
holds the drift the reference shows in the ordinary passage of time.

Over the splits:

- the null spread of ``dE`` and of ``dS`` (mean and standard deviation), and the *ambient
  temperature* ``sd(dE) / sd(dS)``: the energy per nat that mere sampling (or ordinary drift)
  exchanges on this reference;
- the z-spread, the standard deviation of ``dE / se(dE)`` over the splits. The paired standard
  error of ``dE`` sees the row-to-row noise of the held-out losses but not the randomness of the
  fitted models themselves (nor drift within the reference); where the z-spread exceeds 1 the
  decision widens the standard error by that factor, the *inflation*, so that the one-sided test
  keeps its nominal level on data like the reference. Likewise for ``dS``.

Each split's parts have the sizes of the real comparison where the reference allows: the new part
has ``min(n_new, n_ref / 2)`` rows (``n_ref / 3`` in time order, so that the windows can slide), the
old part the rest (in time order: the window before the new part). A reference of more than
``MAX_ROWS`` rows is thinned to that many first; the report states the parts' sizes.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import numpy as np

from .dataset import Pair, Side
from .defaults import DEFAULT_SPLITS, check_splits
from .energy import cross_fitted_loss, row_folds
from .entropy import data_entropy_change, parameter_entropy_change
from .errors import ColumnError, InputError, OptionError
from .models import Family, Loss, Model, accurate_mean
from .report import Calibration, NullSpread, Temperature

if TYPE_CHECKING:
    import pandas as pd

#: A larger reference is thinned to this many rows before the self-splits (every k-th row in time
#: order, a random subset otherwise): the inflation is a ratio of spreads, about the same at any
#: size (docs/benchmarks.md), and this keeps a calibration within a few times the comparison's
#: own cost.
MAX_ROWS = 20_000


def split_plan(
    n_ref: int, n_new: int, splits: int, ordered: bool, rng: np.random.Generator
) -> list[tuple[np.ndarray, np.ndarray]]:
    """``splits`` pairs of row indices (old part, new part) of a reference of ``n_ref`` rows.

    Random order: a random partition each time, the new part ``min(n_new, n_ref // 2)`` rows.
    Time order (rows already sorted by time): the new part is a window of ``m = min(n_new,
    n_ref // 3)`` consecutive rows, the old part the ``n_ref - m - n_ref // 3`` rows right before
    it; the windows slide over the last two thirds of the reference.

    Examples
    --------
    >>> old, new = split_plan(9, 100, 3, True, np.random.default_rng(0))[0]
    >>> old.tolist(), new.tolist()
    ([0, 1, 2], [3, 4, 5])
    """
    if ordered:
        m = min(n_new, n_ref // 3)
        slide = n_ref // 3
        length = n_ref - m - slide
        starts = np.linspace(length, n_ref - m, splits).round().astype(int)
        return [(np.arange(c - length, c), np.arange(c, c + m)) for c in starts]
    m = min(n_new, n_ref // 2)
    plan = []
    for _ in range(splits):
        order = rng.permutation(n_ref)
        plan.append((np.sort(order[m:]), np.sort(order[:m])))
    return plan


def subset(side: Side, rows: np.ndarray) -> Side:
    """The rows ``rows`` of a :class:`Side`."""
    return dataclasses.replace(
        side, X=side.X[rows], y=side.y[rows], numeric=side.numeric[rows],
        categorical=tuple(codes[rows] for codes in side.categorical),
        rows_read=int(rows.size), rows_dropped=0, unseen={},
    )


def _split(pair: Pair, family: Family, loss: Loss, folds: int, seed: int, parameters: bool,
           old_rows: np.ndarray, new_rows: np.ndarray) -> tuple[float, float, float, float, float]:
    """``(dE, se(dE), relative gain, dS, se(dS))`` of one self-split."""
    old_side, new_side = subset(pair.reference, old_rows), subset(pair.reference, new_rows)
    n_classes = len(pair.classes) if pair.classes else None
    old = Model(family, loss, n_classes=n_classes).fit(old_side.X, old_side.y)
    D_old, D_new = old.design(old_side.X), old.design(new_side.X)
    y_old, y_new = old_side.y, new_side.y
    scale = None
    if family is Family.LINEAR:
        scale = (float(accurate_mean(y_old)), float(y_old.std()) or 1.0)
    fold = row_folds(D_new, y_new, pair.feature_names, scale, folds, seed)
    before = old.loss_per_row_design(D_new, y_new)
    difference = cross_fitted_loss(old, D_new, y_new, fold, folds) - before
    delta = float(difference.mean())
    se = float(difference.std(ddof=1) / np.sqrt(difference.size))
    energy_a = float(before.mean())
    gain = -delta / energy_a if energy_a > 0 else 0.0
    if parameters:
        refreshed = old.with_params(None).fit_design(D_new, y_new)
        entropy = parameter_entropy_change(old, D_old, y_old, refreshed, D_new, y_new)
    else:
        entropy = data_entropy_change(old_side, new_side, pair.numeric_names, pair.categorical_names)
    return delta, se, gain, entropy.delta.value, entropy.delta.se


def _spread(values: np.ndarray, errors: np.ndarray | None = None) -> NullSpread:
    z_sd = 1.0
    if errors is not None:
        ok = errors > 0
        z_sd = float(np.std(values[ok] / errors[ok], ddof=1)) if ok.sum() > 1 else 1.0
    return NullSpread(mean=float(values.mean()), sd=float(values.std(ddof=1)), z_sd=z_sd)


def calibrate(
    pair: Pair, family: Family, loss: Loss, folds: int, seed: int, *, parameters: bool = False,
    splits: int = DEFAULT_SPLITS, time_column: str | None = None,
    rng: np.random.Generator | None = None,
) -> Calibration:
    """The null spread of ``dE`` and ``dS`` over ``splits`` self-splits of ``pair.reference``.

    Parameters
    ----------
    pair
        The prepared pair; only its reference is split (its rows in time order when
        ``time_column`` is given), and the shifted data's size sets the new parts' size.
    family, loss, folds, seed
        As in the comparison.
    parameters
        Measure the parameter entropy instead of the data entropy.
    splits
        How many self-splits (default 10).
    time_column
        The column the reference was sorted by: split into consecutive windows.
    rng
        Draws the random partitions (unused in time order).

    Returns
    -------
    Calibration
        The null spreads, the ambient temperature and the inflation factors.
    """
    check_splits(splits)
    rng = rng if rng is not None else np.random.default_rng(seed)
    n_ref, n_new = pair.reference.rows_used, pair.shifted.rows_used
    ordered = time_column is not None
    if n_ref > MAX_ROWS:
        kept = (np.unique(np.linspace(0, n_ref - 1, MAX_ROWS).round().astype(int)) if ordered
                else np.sort(rng.choice(n_ref, MAX_ROWS, replace=False)))
        pair = dataclasses.replace(pair, reference=subset(pair.reference, kept))
        n_ref = pair.reference.rows_used
    plan = split_plan(n_ref, n_new, splits, ordered, rng)
    old_rows, new_rows = plan[0][0].size, plan[0][1].size
    if new_rows < 2 * folds or old_rows < 2 * folds:
        need = (3 if ordered else 2) * 2 * folds
        raise InputError(
            f"{pair.reference.name}: {n_ref} usable rows are too few to calibrate by self-splits"
            f" with {folds} folds; it needs at least {need} (or drop --calibrate)."
        )
    rows = np.array([
        _split(pair, family, loss, folds, seed, parameters, old, new) for old, new in plan
    ])
    delta_energy = _spread(rows[:, 0], rows[:, 1])
    delta_entropy = _spread(rows[:, 3], rows[:, 4])
    gain = _spread(rows[:, 2])
    if delta_entropy.sd > 0:
        ambient = Temperature(status="finite", value=delta_energy.sd / delta_entropy.sd, sign=1)
    elif delta_energy.sd > 0:
        ambient = Temperature(status="infinite", sign=1)
    else:
        ambient = Temperature(status="undefined")
    return Calibration(
        splits=splits, order="time" if ordered else "random", time_column=time_column,
        rows_old=int(old_rows), rows_new=int(new_rows), delta_energy=delta_energy,
        delta_entropy=delta_entropy, relative_gain=gain, temperature=ambient,
        energy_inflation=max(1.0, delta_energy.z_sd),
        entropy_inflation=max(1.0, delta_entropy.z_sd),
    )


def check_time_column(columns, time_column: str, target: str | None, name: str) -> None:
    """Refuse a ``--time-column`` the reference lacks, or that is the target."""
    if time_column not in columns:
        raise ColumnError(
            f"{name} has no column '{time_column}' (named in --time-column). Its columns:"
            f" {list(map(str, columns))}. Pass --time-column with one of them."
        )
    if target is not None and time_column == target:
        raise OptionError(
            f"--time-column '{time_column}' is the target; name the column that orders the rows."
        )


def order_by_time(frame: pd.DataFrame, time_column: str) -> pd.DataFrame:
    """The rows of ``frame`` in time order (stable: ties keep their order; missing times last)."""
    return frame.sort_values(time_column, kind="stable", na_position="last")
