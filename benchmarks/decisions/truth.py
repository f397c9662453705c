"""The ground truth of a scenario, computed without shiftemp.

A model of the family a user would fit (ordinary least squares, or logistic regression) is fitted
on the reference and on the new data with scikit-learn; both are scored on the future (a fresh
sample of the new distribution, or the next time chunk). Retraining is the right call when the
retrained model's loss on the future is at least ``MIN_GAIN`` (1%) lower than the reference
model's, and the paired per-row difference is significant (one-sided test, 5%).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.linear_model import LinearRegression, LogisticRegression

#: A retrain must remove at least this fraction of the loss on the future to be worth it.
MIN_GAIN = 0.01
#: One-sided level of the paired test.
ALPHA = 0.05
#: Inverse regularisation of the logistic models: large, so they are essentially unpenalised.
LOGISTIC_C = 1e4


def is_categorical(series: pd.Series) -> bool:
    return not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)


class Encoder:
    """One-hot (reference categories, most frequent first and dropped) and standardisation (with
    the reference's statistics) of the feature columns; a category unseen in the reference maps to
    the dropped baseline."""

    def __init__(self, reference: pd.DataFrame, features: list[str]):
        self.features = list(features)
        self.numeric = [c for c in features if not is_categorical(reference[c])]
        self.levels = {}
        for c in features:
            if c not in self.numeric:
                counts = reference[c].astype(str).value_counts()
                self.levels[c] = sorted(counts.index, key=lambda v: (-counts[v], v))[1:]
        values = reference[self.numeric].to_numpy(dtype=float)
        self.centre = values.mean(axis=0)
        scale = values.std(axis=0)
        self.scale = np.where(scale > 0, scale, 1.0)

    def __call__(self, frame: pd.DataFrame) -> np.ndarray:
        blocks = [(frame[self.numeric].to_numpy(dtype=float) - self.centre) / self.scale]
        for c, levels in self.levels.items():
            text = frame[c].astype(str).to_numpy()
            blocks.append(np.column_stack([text == v for v in levels]).astype(float)
                          if levels else np.empty((len(frame), 0)))
        return np.column_stack(blocks)


@dataclass
class Fitted:
    """A fitted model with its per-row loss."""

    model: object
    family: str
    classes: np.ndarray | None = None

    def loss(self, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        if self.family == "linear":
            return (y - self.model.predict(X)) ** 2
        proba = np.full((X.shape[0], self.classes.size), 1e-12)
        proba[:, np.asarray(self.model.classes_, dtype=int)] = np.maximum(self.model.predict_proba(X), 1e-12)
        proba /= proba.sum(axis=1, keepdims=True)
        return -np.log(proba[np.arange(X.shape[0]), y])


def fit(family: str, X: np.ndarray, y: np.ndarray, classes: np.ndarray | None = None) -> Fitted:
    """OLS, or an (essentially unpenalised) logistic regression; ``y`` holds class indices into
    ``classes`` for the logistic family."""
    if family == "linear":
        return Fitted(LinearRegression().fit(X, y), family)
    if np.unique(y).size < 2:  # a single class: predict it (almost) surely
        model = _Constant(np.unique(y))
        return Fitted(model, family, classes)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = LogisticRegression(C=LOGISTIC_C, max_iter=2_000).fit(X, y)
    return Fitted(model, family, classes)


class _Constant:
    def __init__(self, classes: np.ndarray):
        self.classes_ = classes

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return np.ones((X.shape[0], 1))


@dataclass(frozen=True)
class Prepared:
    """A scenario's three frames as arrays, encoded with the reference's statistics."""

    X_ref: np.ndarray
    y_ref: np.ndarray
    X_new: np.ndarray
    y_new: np.ndarray
    X_future: np.ndarray
    y_future: np.ndarray
    classes: np.ndarray | None
    n_numeric: int = 0  # the encoded columns start with the numeric features


def class_labels(values: pd.Series) -> np.ndarray:
    """Class labels as text; whole numbers lose their ``.0`` (a file may store 1 where another
    stores 1.0)."""
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        numbers = values.to_numpy(dtype=float)
        if np.all(numbers == np.round(numbers)):
            return numbers.astype(np.int64).astype(str)
    return values.astype(str).to_numpy()


def prepare(scenario) -> Prepared:
    """Encode a scenario (rows with a missing value dropped, as shiftemp does)."""
    features, target = scenario.features, scenario.target
    frames = [f[features + [target]].dropna() for f in
              (scenario.reference, scenario.new, scenario.future)]
    encode = Encoder(frames[0], features)
    classes = None
    if scenario.family == "logistic":
        ys = [class_labels(f[target]) for f in frames]
        classes = np.unique(np.concatenate(ys))
        ys = [np.searchsorted(classes, y) for y in ys]
    else:
        ys = [f[target].to_numpy(dtype=float) for f in frames]
    Xs = [encode(f) for f in frames]
    return Prepared(Xs[0], ys[0], Xs[1], ys[1], Xs[2], ys[2], classes, len(encode.numeric))


@dataclass(frozen=True)
class Truth:
    """Whether retraining on the new data pays off on the future."""

    retrain: bool
    gain: float  # relative: (loss_old - loss_new) / loss_old on the future
    p_value: float
    loss_old: float
    loss_new: float


def truth(data: Prepared, family: str) -> Truth:
    """Fit on reference and on new, score both on the future, decide with the paired test."""
    old = fit(family, data.X_ref, data.y_ref, data.classes)
    new = fit(family, data.X_new, data.y_new, data.classes)
    before = old.loss(data.X_future, data.y_future)
    after = new.loss(data.X_future, data.y_future)
    diff = after - before
    se = diff.std(ddof=1) / np.sqrt(diff.size)
    p_value = float(stats.norm.cdf(diff.mean() / se)) if se > 0 else float(diff.mean() >= 0)
    loss_old, loss_new = float(before.mean()), float(after.mean())
    gain = (loss_old - loss_new) / loss_old if loss_old > 0 else 0.0
    return Truth(gain >= MIN_GAIN and p_value < ALPHA, float(gain), p_value, loss_old, loss_new)
