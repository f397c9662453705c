"""Properties of ``compare`` that must hold for every input (hypothesis).

- Row shuffling and column reordering leave the report unchanged (the ``run`` block aside): the
  folds are a hash of each row's content, so even the cross-fitted figures agree to ~1e-9.
- Rescaling a numeric feature in both files leaves dE, dS and T unchanged (linear/MSE, data
  entropy): features are standardised with the reference's statistics.
- Duplicating every row of both files leaves the energies unchanged: losses are means, and a
  duplicated row shares its original's fold.
- Any pair of frames the generators produce yields a report or a :class:`ShiftempError`, never
  another exception and never a RuntimeWarning (overflow, invalid value) on stderr.

Budgets: ``SHIFTEMP_HYPOTHESIS_EXAMPLES`` scales every property's number of examples (default
1: about 20 s in all on two cores); raise it for a longer local run, e.g. 10.
"""

from __future__ import annotations

import math
import os
import warnings

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings, strategies as st

import shiftemp
from shiftemp import ShiftempError

SCALE = float(os.environ.get("SHIFTEMP_HYPOTHESIS_EXAMPLES", "1"))


def budget(examples: int):
    return settings(
        max_examples=max(1, int(examples * SCALE)), deadline=None, derandomize=False,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# -- generators of well-formed pairs ------------------------------------------------------------


@st.composite
def pairs(draw, *, family: str | None = None, categorical: bool | None = None):
    """A reference and a shifted frame of one schema: 1-4 numeric features (varied units), maybe
    a categorical one, a numeric or class target; the shifted data may have a moved law."""
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    d = draw(st.integers(1, 4))
    family = family or draw(st.sampled_from(["linear", "logistic"]))
    with_category = draw(st.booleans()) if categorical is None else categorical
    rows = draw(st.integers(40, 160)), draw(st.integers(40, 160))
    units = 10.0 ** rng.integers(-3, 4, size=d)
    coef = rng.normal(size=d)
    shift = draw(st.sampled_from([0.0, 0.5, 2.0]))
    frames = []
    for side, n in enumerate(rows):
        X = rng.normal(size=(n, d)) + (shift if side else 0.0)
        frame = pd.DataFrame({f"x{j}": X[:, j] * units[j] for j in range(d)})
        signal = X @ (coef if side == 0 else coef + shift)
        if with_category:
            levels = np.array(["red", "green", "blue"])
            codes = rng.integers(0, 3, size=n)
            frame["colour"] = levels[codes]
            signal = signal + np.array([0.0, 1.0, -1.0])[codes]
        if family == "linear":
            frame["y"] = signal + rng.normal(size=n)
        else:
            noisy = signal + rng.logistic(size=n)
            frame["y"] = np.where(noisy > np.median(noisy), "yes", "no")  # both classes
        frames.append(frame)
    return frames[0], frames[1], family


def figures(report: shiftemp.Comparison) -> dict:
    """The report as a flat {path: value} dict without its run block, lists keyed by their
    column or feature name where they have one (their order follows the columns' order)."""
    out: dict = {}

    def walk(value, path):
        if isinstance(value, dict):
            for key, item in value.items():
                walk(item, f"{path}.{key}")
        elif isinstance(value, list):
            named = all(isinstance(v, dict) and ("column" in v or "feature" in v) for v in value)
            if named and value:
                for item in value:
                    walk(item, f"{path}[{item.get('column', item.get('feature'))}]")
            else:
                walk_list = sorted(value, key=repr) if path.endswith(("features", "notes")) else value
                for i, item in enumerate(walk_list):
                    walk(item, f"{path}[{i}]")
        else:
            out[path] = value

    data = report.to_dict()
    data.pop("run")
    walk(data, "")
    return out


def assert_same_figures(a: dict, b: dict, rel: float = 1e-9, abs_: float = 1e-9) -> None:
    assert a.keys() == b.keys()
    for key in a:
        x, y = a[key], b[key]
        if isinstance(x, float) and isinstance(y, float):
            assert math.isclose(x, y, rel_tol=rel, abs_tol=abs_), (key, x, y)
        else:
            assert x == y, (key, x, y)


def run(reference, shifted, **options) -> shiftemp.Comparison:
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        return shiftemp.compare(reference, shifted, target="y", **options)


# -- invariances --------------------------------------------------------------------------------


@budget(8)
@given(pairs(), st.integers(0, 2**32 - 1), st.sampled_from(["data", "parameters"]))
def test_shuffling_rows_and_reordering_columns_leave_the_report_unchanged(pair, seed, entropy):
    ref, new, _ = pair
    rng = np.random.default_rng(seed)
    shuffled = [
        frame.sample(frac=1.0, random_state=rng).reset_index(drop=True)[
            list(rng.permutation(frame.columns))
        ]
        for frame in (ref, new)
    ]
    a = figures(run(ref, new, entropy=entropy))
    b = figures(run(*shuffled, entropy=entropy))
    assert_same_figures(a, b)


@budget(8)
@given(pairs(family="linear"), st.data())
def test_rescaling_a_feature_leaves_de_ds_and_t_unchanged(pair, data):
    ref, new, _ = pair
    column = data.draw(st.sampled_from([c for c in ref.columns if c.startswith("x")]))
    factor = data.draw(st.sampled_from([1e-6, 0.37, 3.0, 1e3, 2.0**40]))
    scaled = [frame.assign(**{column: frame[column] * factor}) for frame in (ref, new)]
    a, b = run(ref, new, model="linear", loss="mse"), run(*scaled, model="linear", loss="mse")
    for get in (
        lambda r: r.energy.delta_out_of_sample, lambda r: r.energy.delta_in_sample,
        lambda r: r.entropy.delta,
    ):
        assert math.isclose(get(a).value, get(b).value, rel_tol=1e-7, abs_tol=1e-9)
        assert math.isclose(get(a).se, get(b).se, rel_tol=1e-7, abs_tol=1e-9)
    assert a.temperature.status == b.temperature.status
    if a.temperature.status == "finite":
        assert math.isclose(a.temperature.value, b.temperature.value, rel_tol=1e-6)


@budget(8)
@given(pairs(), st.sampled_from([None, "mae"]))
def test_duplicating_every_row_leaves_the_energies_unchanged(pair, loss):
    ref, new, family = pair
    if loss == "mae" and family != "linear":
        loss = None
    twice = [pd.concat([frame, frame], ignore_index=True) for frame in (ref, new)]
    a, b = run(ref, new, loss=loss), run(*twice, loss=loss)
    for name in ("before", "after_in_sample", "after_out_of_sample", "delta_in_sample",
                 "delta_out_of_sample", "reference"):
        x, y = getattr(a.energy, name).value, getattr(b.energy, name).value
        # logistic and LAD fits are iterative: their stopping rules see twice the rows, so they
        # agree to the solvers' tolerance; least squares is exact
        tolerance = 1e-9 if family == "linear" and loss is None else 1e-6
        assert math.isclose(x, y, rel_tol=tolerance, abs_tol=tolerance), (name, x, y)


# -- robustness: a report or a clean error ------------------------------------------------------

NAMES = ["a", "b", "y", "target", "größe", "温度", "x 1", "label", "0"]
KINDS = [
    "normal", "integer", "constant", "all-missing", "some-missing", "infinite", "huge", "tiny",
    "two-words", "many-words", "boolean", "numbers-as-text", "mixed", "empty-strings",
]


def column(kind: str, n: int, rng: np.random.Generator):
    if kind == "normal":
        return rng.normal(size=n)
    if kind == "integer":
        return rng.integers(0, 4, size=n)
    if kind == "constant":
        return np.full(n, 2.5)
    if kind == "all-missing":
        return np.full(n, np.nan)
    if kind == "some-missing":
        values = rng.normal(size=n)
        values[rng.random(n) < 0.3] = np.nan
        return values
    if kind == "infinite":
        values = rng.normal(size=n)
        values[rng.random(n) < 0.2] = np.inf
        return values
    if kind == "huge":
        return rng.normal(size=n) * 1e300
    if kind == "tiny":
        return rng.normal(size=n) * 1e-300
    if kind == "two-words":
        return rng.choice(["on", "off"], size=n)
    if kind == "many-words":
        return np.array([f"w{i}" for i in rng.integers(0, 50, size=n)], dtype=object)
    if kind == "boolean":
        return rng.random(n) < 0.5
    if kind == "numbers-as-text":
        return np.array([f"{v:.3f}" for v in rng.normal(size=n)], dtype=object)
    if kind == "mixed":
        values = rng.normal(size=n).astype(object)
        values[rng.random(n) < 0.1] = "oops"
        return values
    return np.array(["" if rng.random() < 0.5 else "z" for _ in range(n)], dtype=object)


@st.composite
def messy_frames(draw):
    """Two frames from one messy schema; the shifted one may lose a column or change a kind."""
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    names = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=5))
    kinds = [draw(st.sampled_from(KINDS)) for _ in names]
    frames = []
    for side in range(2):
        n = draw(st.integers(0, 60))
        columns = {}
        for j, (name, kind) in enumerate(zip(names, kinds)):
            if side and draw(st.integers(0, 9)) == 0:
                kind = draw(st.sampled_from(KINDS))
            columns[j] = column(kind, n, rng)
        frame = pd.DataFrame(columns)
        frame.columns = names  # may repeat a name
        if side and len(names) > 1 and draw(st.integers(0, 9)) == 0:
            frame = frame.iloc[:, 1:]
        frames.append(frame)
    options = draw(st.fixed_dictionaries({
        "target": st.sampled_from([None, "y", "a", "nope"]),
        "model": st.sampled_from([None, "linear", "logistic"]),
        "folds": st.sampled_from([2, 5]),
        "entropy": st.sampled_from(["data", "parameters"]),
    }))
    return frames[0], frames[1], options


@budget(60)
@given(messy_frames())
def test_any_frames_give_a_report_or_a_clean_error(case):
    ref, new, options = case
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            report = shiftemp.compare(ref, new, **options)
    except ShiftempError as exc:
        assert exc.exit_code == 2
        message = str(exc)
        assert message and "\n" not in message, message
        return
    text = report.to_json()
    assert "NaN" not in text and "Infinity" not in text
