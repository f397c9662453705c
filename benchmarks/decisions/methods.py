"""The methods the benchmark compares: shiftemp, and what a user would run instead.

Each method takes a built scenario (and its arrays, encoded once by ``truth.prepare``) and returns
a :class:`Decision`. The baselines use the reference and the new data only, never the future.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from scipy import stats
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, KFold

from . import truth as truth_module

#: Family-wise level of the per-feature tests.
ALPHA = 0.05
#: The domain classifier flags a shift when its cross-validated AUC exceeds this.
AUC_THRESHOLD = 0.55
#: Rows per side the domain classifier sees at most (a user would subsample too).
DOMAIN_ROWS = 10_000
#: Performance monitoring flags a shift when the loss on new exceeds the held-out loss by this.
PERFORMANCE_TOLERANCE = 0.05


@dataclass
class Decision:
    retrain: bool | None  # None: the method could not run (skipped)
    seconds: float = 0.0
    detail: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Method:
    name: str
    run: Callable  # (scenario, prepared) -> Decision
    note: str = ""


def _timed(function: Callable) -> Callable:
    def run(scenario, prepared) -> Decision:
        started = time.perf_counter()
        decision = function(scenario, prepared)
        decision.seconds = time.perf_counter() - started
        return decision

    return run


# -- shiftemp ------------------------------------------------------------------------------------


def shiftemp_method(name: str = "shiftemp", **options) -> Method:
    """shiftemp's recommendation, through the public library call a user would make."""
    import shiftemp

    def run(scenario, prepared) -> Decision:
        extra = dict(options)
        if scenario.time_column is not None:
            extra.setdefault("time_column", scenario.time_column)
        report = shiftemp.compare(
            scenario.reference, scenario.new, target=scenario.target, model=scenario.family,
            **extra,
        )
        r = report.recommendation
        delta = report.energy.delta_out_of_sample
        detail = {
            "upper": r.delta_upper_bound, "gain": r.relative_gain,
            "significant": r.delta_upper_bound < 0, "shift_class": r.shift_class,
            "z": delta.value / delta.se if delta.se > 0 else 0.0, "inflation": r.bound_inflation,
        }
        if report.calibration is not None:
            detail["z_sd"] = report.calibration.delta_energy.z_sd
        return Decision(r.retrain, detail=detail)

    return Method(name, _timed(run))


# -- feature-drift tests -------------------------------------------------------------------------


def ks_bonferroni(scenario, prepared) -> Decision:
    """Retrain when any feature drifts: KS (numeric) or chi-square (categorical), Bonferroni."""
    features = scenario.features
    p_values = {}
    for column in features:
        a, b = scenario.reference[column].dropna(), scenario.new[column].dropna()
        if truth_module.is_categorical(a):
            a, b = a.astype(str), b.astype(str)
            levels = sorted(set(a) | set(b))
            table = np.array([a.value_counts().reindex(levels, fill_value=0).to_numpy(),
                              b.value_counts().reindex(levels, fill_value=0).to_numpy()])
            table = table[:, table.sum(axis=0) > 0]
            p_values[column] = (1.0 if table.shape[1] < 2
                                else float(stats.chi2_contingency(table)[1]))
        else:
            p_values[column] = float(stats.ks_2samp(a.to_numpy(float), b.to_numpy(float)).pvalue)
    drifted = [c for c, p in p_values.items() if p < ALPHA / len(features)]
    return Decision(bool(drifted), detail={"drifted": drifted})


def domain_classifier(scenario, prepared, seed: int = 0) -> Decision:
    """Retrain when a classifier tells reference rows from new rows: 5-fold CV AUC > 0.55.

    The classifier is a logistic regression on the encoded features and their squares, which sees
    shifts of location, spread and category mix; a boosted-tree classifier would see more
    covariate shifts still (more false alarms where the model does not care) and is as blind to a
    concept shift, at 50 times the cost.
    """
    rng = np.random.default_rng(seed)
    parts = []
    for X in (prepared.X_ref, prepared.X_new):
        take = rng.choice(X.shape[0], DOMAIN_ROWS, replace=False) if X.shape[0] > DOMAIN_ROWS \
            else np.arange(X.shape[0])
        parts.append(X[take])
    X = np.vstack(parts)
    X = np.hstack([X, X[:, : prepared.n_numeric] ** 2])
    side = np.repeat([0, 1], [parts[0].shape[0], parts[1].shape[0]])
    scores = np.empty(side.size)
    folds = StratifiedKFold(5, shuffle=True, random_state=seed)
    for train, test in folds.split(X, side):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = LogisticRegression(max_iter=1_000).fit(X[train], side[train])
        scores[test] = model.predict_proba(X[test])[:, 1]
    auc = float(roc_auc_score(side, scores))
    return Decision(auc > AUC_THRESHOLD, detail={"auc": auc})


def evidently_method() -> Method:
    """Evidently's data-drift preset ("dataset drift": a share of drifted columns), if installed."""
    try:
        from evidently import Report  # noqa: F401  (0.7 API)
        from evidently.presets import DataDriftPreset  # noqa: F401
    except Exception as exc:  # absent, or broken by pandas 3 (see docs/benchmarks.md)
        reason = f"evidently not importable here ({type(exc).__name__}); skipped"

        def skipped(scenario, prepared) -> Decision:
            return Decision(None, detail={"skipped": reason})

        return Method("Evidently data drift", skipped, note=reason)

    def run(scenario, prepared) -> Decision:
        from evidently import Report
        from evidently.presets import DataDriftPreset

        columns = scenario.features
        snapshot = Report([DataDriftPreset()]).run(scenario.new[columns], scenario.reference[columns])
        drifted = None
        for metric in snapshot.dict().get("metrics", []):
            value = metric.get("value")
            if isinstance(value, dict) and "share" in value:
                drifted = value["share"] >= 0.5  # the preset's default dataset-drift share
                break
        return Decision(drifted, detail={})

    return Method("Evidently data drift", _timed(run))


# -- model-aware baselines -----------------------------------------------------------------------


def performance_monitoring(scenario, prepared, seed: int = 0) -> Decision:
    """Retrain when the reference model's loss on new exceeds its held-out (5-fold) loss on the
    reference by more than 5%."""
    family, classes = scenario.family, prepared.classes
    X, y = prepared.X_ref, prepared.y_ref
    held_out = np.empty(y.size)
    for train, test in KFold(5, shuffle=True, random_state=seed).split(X):
        held_out[test] = truth_module.fit(family, X[train], y[train], classes).loss(X[test], y[test])
    model = truth_module.fit(family, X, y, classes)
    on_new = float(model.loss(prepared.X_new, prepared.y_new).mean())
    ratio = on_new / float(held_out.mean())
    return Decision(ratio > 1 + PERFORMANCE_TOLERANCE, detail={"ratio": ratio})


def always(scenario, prepared) -> Decision:
    return Decision(True)


def never(scenario, prepared) -> Decision:
    return Decision(False)


def methods(calibrate: bool = True) -> list[Method]:
    """Every method of a run, shiftemp's first."""
    found = [shiftemp_method("shiftemp")]
    if calibrate:
        found.append(shiftemp_method("shiftemp --calibrate", calibrate=True))
    found += [
        Method("KS / chi-square, Bonferroni", _timed(ks_bonferroni)),
        Method("domain classifier (AUC > 0.55)", _timed(domain_classifier)),
        evidently_method(),
        Method("performance monitoring (+5%)", _timed(performance_monitoring)),
        Method("always retrain", _timed(always)),
        Method("never retrain", _timed(never)),
    ]
    return found


__all__ = ["Decision", "Method", "methods"]
