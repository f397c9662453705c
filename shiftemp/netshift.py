"""``compare --model mlp``: the Type II refresh of a neural network (theory sections 5 and 7).

A base network is trained on all of the reference. The refresh is warm-started from it on the
shifted data; the old network is the same refresh from the same start on the reference itself,
so that both get the same training budget (a network is rarely at equilibrium, and extra
training alone would otherwise look like energy released by the shift) (:func:`shiftemp.engine.refresh`). Energies are those of the linear
families' report, with one difference, for cost: the out-of-sample refresh is trained on the
rows outside one held-out fold, and every energy is measured on that fold's rows (a cross-fit
would train K networks).
Per-layer energies and temperatures of the full refresh say which layers absorb the shift;
when the output layer takes at least 90% of the released energy, refreshing it alone is enough.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Sequence

import numpy as np

from .dataset import check_rows_for_entropy, prepare
from .energy import mean_estimate, row_folds
from .engine import _architecture, refresh, standardised_unit
from .entropy import data_entropy_change
from .errors import InputError, OptionError
from .models import Family, Loss, standardisation
from .network import Activation, InitScheme, Schedule, train
from .report import Energy, ModelSummary

#: The target handling a loss implies: regression for MSE and MAE, classification for CE.
TASK = {Loss.MSE: Family.LINEAR, Loss.MAE: Family.LINEAR, Loss.CE: Family.LOGISTIC}

#: The held-out fold of the out-of-sample refresh.
HELD_OUT_FOLD = 0


def network_parts(
    ref_source, new_source, *, target, features, exclude, loss: Loss | None, folds: int,
    seed: int, hidden: Sequence[int], activation: Activation, epochs: int | None,
    entropy: str, summary,
) -> tuple[dict, dict]:
    """The parts of a :class:`shiftemp.report.Comparison` for a network, and its refresh report
    as a JSON-safe dict."""
    if entropy != "data":
        raise OptionError(
            "--model mlp supports --entropy data only: the per-layer parameter entropies are in"
            " the report's network block."
        )
    schedule = Schedule(epochs=epochs)  # checks --epochs before the data is read
    pair = prepare(
        ref_source.frame, new_source.frame, target=target, features=features, exclude=exclude,
        family=TASK.get(loss), names=(ref_source.path, new_source.path),
    )
    check_rows_for_entropy(pair)
    task = pair.family
    loss = loss or (Loss.MSE if task is Family.LINEAR else Loss.CE)
    centre, scale = standardisation(pair.reference.X)
    X_ref = (pair.reference.X - centre) / scale
    X_new = (pair.shifted.X - centre) / scale
    y_ref, y_new = pair.reference.y, pair.shifted.y
    unit = 1.0
    target_scale = None
    if task is Family.LINEAR:
        # train in standard units (networks need it), report energies in target units
        mean, spread = float(y_ref.mean()), float(y_ref.std()) or 1.0
        y_ref, y_new = (y_ref - mean) / spread, (y_new - mean) / spread
        unit = spread * spread if loss is Loss.MSE else spread
        target_scale = (0.0, 1.0)
    n_classes = len(pair.classes) if pair.classes else None
    architecture = _architecture(X_ref, y_ref, hidden, activation, loss, n_classes)
    rng = np.random.default_rng(seed)
    base = train(X_ref, y_ref, architecture, rng, schedule=schedule, init=InitScheme()).network
    # A network is rarely at equilibrium after one schedule, and a warm-started refresh would
    # credit the shift with the extra training. So the old network is the same refresh from the
    # same start on its own data: old and refreshed networks get equal training budgets, and
    # under no shift the refresh has nothing to release.
    old = refresh(base, X_ref, y_ref, np.random.default_rng([seed, 3]), schedule=schedule).network

    fold = row_folds(np.column_stack([np.ones(len(X_new)), X_new]), y_new, pair.feature_names,
                     target_scale, folds, seed)
    held = fold == HELD_OUT_FOLD
    if held.sum() < 2 or (~held).sum() < 2:
        raise InputError(
            f"{new_source.path}: too few usable rows ({len(y_new)}) for a held-out fold of 1/{folds}."
        )
    full = refresh(base, X_new, y_new, np.random.default_rng([seed, 1]), schedule=schedule,
                   energy_unit=standardised_unit(loss) if task is Family.LINEAR else None)
    partial = refresh(base, X_new[~held], y_new[~held], np.random.default_rng([seed, 2]),
                      schedule=schedule).network
    # every figure on the held-out fold's rows, so that E_A, E_B and dE share their rows
    before = old.loss_per_row(X_new[held], y_new[held]) * unit
    in_sample = full.network.loss_per_row(X_new[held], y_new[held]) * unit
    held_out = partial.loss_per_row(X_new[held], y_new[held]) * unit
    energy = Energy(
        before=mean_estimate(before),
        after_in_sample=mean_estimate(in_sample),
        after_out_of_sample=mean_estimate(held_out),
        delta_in_sample=mean_estimate(in_sample - before),
        delta_out_of_sample=mean_estimate(held_out - before),
        reference=mean_estimate(old.loss_per_row(X_ref, y_ref) * unit),
        folds=folds,
    )
    parts = {
        "reference": summary(ref_source, pair.reference),
        "shifted": summary(new_source, pair.shifted),
        "target": pair.target,
        "model": ModelSummary(
            family=Family.MLP.value, loss=loss.value, ridge=0.0, features=pair.feature_names,
            n_params=architecture.n_parameters, classes=pair.classes,
        ),
        "energy": energy,
        "entropy": data_entropy_change(
            pair.reference, pair.shifted, pair.numeric_names, pair.categorical_names
        ),
        "notes": [*pair.notes, (
            f"mlp: energies on one held-out fold of {int(held.sum())} rows; the out-of-sample"
            f" refresh trained on the other {int((~held).sum())}, the in-sample one on all"
        )],
    }
    return parts, full.to_dict() | {"energy_scale": unit}


def with_output_layer_advice(report, network: dict):
    """Add the network block to a report; when the output layer absorbed the shift and the
    verdict is retrain, say that refreshing the output layer alone is enough. When the verdict
    is keep, the block's summary says where the refresh's energy went but advises nothing (its
    advice, written before the verdict, would contradict it)."""
    share = network.get("output_share")
    if not report.recommendation.retrain and share is not None:
        released = -network["transition"]["energy_change"]
        network = network | {"summary": (
            f"Refreshing released {released:.3g} {network['energy_unit']}, {share:.0%} of it in"
            " the output layer; the verdict is keep: no layer needs refreshing."
        )}
    report = replace(report, network=network)
    if report.recommendation.retrain and network.get("output_layer_suffices"):
        reason = (
            report.recommendation.reason
            + f" The output layer absorbs {share:.0%} of the released energy: refreshing it alone is enough."
        )
        report = replace(report, recommendation=replace(report.recommendation, reason=reason))
    return report
