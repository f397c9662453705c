"""``shiftemp.compare`` end to end: the sample pairs, calibration without a shift, invariances,
input formats, and the model families."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import shiftemp
from conftest import classification_frame, regression_frame

pytestmark = pytest.mark.usefixtures("one_blas_thread")


def figures(report) -> dict[str, float]:
    """The numbers that must not move under an invariance, by name."""
    e, s = report.energy, report.entropy
    out = {
        "E_A": e.before.value, "E_B_in": e.after_in_sample.value,
        "E_B_out": e.after_out_of_sample.value, "dE_in": e.delta_in_sample.value,
        "dE_out": e.delta_out_of_sample.value, "dE_out_se": e.delta_out_of_sample.se,
        "dE_in_se": e.delta_in_sample.se, "dS": s.delta.value, "dS_se": s.delta.se,
    }
    for name, t in (("T", report.temperature), ("T_in", report.temperature_in_sample)):
        if t.status == "finite":
            out.update({name: t.value, f"{name}_low": t.low, f"{name}_high": t.high})
    return out


def assert_same_figures(a, b, rel=1e-9, keys=None):
    fa, fb = figures(a), figures(b)
    assert fa.keys() == fb.keys()
    for key in keys or fa:
        assert fb[key] == pytest.approx(fa[key], rel=rel, abs=1e-12), key
    assert a.temperature.status == b.temperature.status
    assert a.recommendation.verdict == b.recommendation.verdict
    assert a.recommendation.shift_class == b.recommendation.shift_class


# -- the sample pairs ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def covariate(sample_data):
    return (pd.read_parquet(sample_data / "covariate_reference.parquet"),
            pd.read_parquet(sample_data / "covariate_shifted.parquet"))


@pytest.fixture(scope="module")
def covariate_report(covariate):
    return shiftemp.compare(*covariate, target="target")


def test_sample_concept_shift_recommends_retrain(sample_data):
    report = shiftemp.compare(sample_data / "reference.parquet", sample_data / "shifted.parquet")
    assert report.recommendation.retrain
    assert report.recommendation.shift_class == "hot"
    assert report.target == "target"
    assert "using column 'target' as the target (pass --target to choose another)" in report.notes
    assert report.model.family == "linear" and report.model.loss == "mse"
    assert report.energy.delta_out_of_sample.high < 0
    assert report.recommendation.relative_gain > 0.5
    # a concept shift: the features keep their distribution
    assert not report.entropy.delta.clear_of_zero
    assert report.temperature.status == "infinite" and report.temperature.sign == -1
    assert report.reference.format == "parquet" and len(report.reference.sha256) == 64


def test_sample_covariate_shift_recommends_keep(covariate_report):
    report = covariate_report
    assert not report.recommendation.retrain
    assert report.recommendation.shift_class == "cold"
    assert report.entropy.delta.clear_of_zero and report.entropy.delta.value > 0
    assert report.energy.delta_out_of_sample.low < 0 < report.energy.delta_out_of_sample.high
    # the columns that moved are the ones the sample script moved
    assert report.entropy.columns[0].column == "distance_km"
    assert report.temperature.status == "finite"


# -- no shift: keep, at every size --------------------------------------------------------------


@pytest.mark.parametrize("n", [1_000, 1_000_000])
def test_two_samples_of_one_distribution_give_keep(n):
    rng = np.random.default_rng(1000 + n)
    old = regression_frame(rng, n)
    new = regression_frame(rng, n)
    report = shiftemp.compare(old, new, target="y")
    assert not report.recommendation.retrain
    assert report.recommendation.shift_class in ("none", "cold")
    assert report.energy.delta_out_of_sample.high > 0 or report.recommendation.relative_gain < 0.01
    assert report.reference.rows_used == n


def test_false_alarm_rate_without_a_shift_is_low():
    """Over replicates of small unshifted pairs the one-sided 5% test rarely fires."""
    rng = np.random.default_rng(77)
    significant = 0
    for _ in range(40):
        report = shiftemp.compare(regression_frame(rng, 300), regression_frame(rng, 300), target="y",
                                  min_gain=0.0)
        significant += report.recommendation.retrain
    assert significant <= 6  # 5% nominal: 2 expected, 6 has probability < 1%


# -- invariances (linear/mse, data entropy) -----------------------------------------------------


def test_row_order_does_not_matter(covariate, covariate_report):
    old, new = covariate
    shuffled = shiftemp.compare(old.sample(frac=1.0, random_state=1),
                                new.sample(frac=1.0, random_state=2), target="target")
    assert_same_figures(covariate_report, shuffled)


def test_column_order_does_not_matter(covariate, covariate_report):
    old, new = covariate
    reordered = shiftemp.compare(old[old.columns[::-1]], new[["region", "target", *new.columns[:4]]],
                                 target="target")
    assert_same_figures(covariate_report, reordered)


@pytest.mark.parametrize("factor", [1000.0, 1 / 3, 1e-3])
def test_rescaling_a_feature_in_both_files_does_not_matter(covariate, covariate_report, factor):
    old, new = (frame.assign(distance_km=frame["distance_km"] * factor) for frame in covariate)
    rescaled = shiftemp.compare(old, new, target="target")
    assert_same_figures(covariate_report, rescaled)
    assert covariate_report.temperature.status == "finite"  # T is compared as a number


def test_changing_a_features_units_and_origin_does_not_matter(covariate, covariate_report):
    old, new = (frame.assign(traffic=frame["traffic"] * 60.0 + 100.0) for frame in covariate)
    assert_same_figures(covariate_report, shiftemp.compare(old, new, target="target"), rel=1e-7)


def test_duplicating_every_row_leaves_the_energies_unchanged(covariate, covariate_report):
    doubled = shiftemp.compare(*(pd.concat([f, f], ignore_index=True) for f in covariate),
                               target="target")
    assert doubled.reference.rows == 8000
    for key in ("E_A", "E_B_in", "E_B_out", "dE_in", "dE_out"):
        assert figures(doubled)[key] == pytest.approx(figures(covariate_report)[key], rel=1e-9), key


def test_the_seed_moves_the_folds_but_not_the_in_sample_figures(covariate, covariate_report):
    other = shiftemp.compare(*covariate, target="target", seed=1)
    assert other.energy.delta_in_sample == covariate_report.energy.delta_in_sample
    assert other.energy.after_out_of_sample.value != covariate_report.energy.after_out_of_sample.value
    assert other.recommendation.verdict == "keep"


# -- input formats ------------------------------------------------------------------------------


def test_every_input_format_gives_the_same_figures(sample_data, tmp_path):
    reference = pd.read_parquet(sample_data / "reference.parquet")
    shifted = sample_data / "shifted.parquet"
    reference.to_csv(tmp_path / "ref.csv", index=False)
    reference.to_csv(tmp_path / "ref.csv.gz", index=False, compression="gzip")
    parts = tmp_path / "ref_parts"
    parts.mkdir()
    for i, rows in enumerate(np.array_split(np.arange(len(reference)), 4)):
        reference.iloc[rows].to_parquet(parts / f"part-{i:03d}.parquet", index=False)
    shifted_csv = tmp_path / "new.csv"
    pd.read_parquet(shifted).to_csv(shifted_csv, index=False)

    base = shiftemp.compare(sample_data / "reference.parquet", shifted, target="target")
    for ref, new, kind in (
        (tmp_path / "ref.csv", shifted, "csv"),
        (tmp_path / "ref.csv.gz", shifted, "csv.gz"),
        (parts, shifted, "parquet-directory"),
        (sample_data / "reference.parquet", shifted_csv, "parquet"),
    ):
        report = shiftemp.compare(ref, new, target="target")
        assert report.reference.format == kind
        assert_same_figures(base, report, rel=1e-12)
        assert report.model == base.model


@pytest.mark.parametrize("engine", ["memory", "stream"])
def test_frames_and_arrow_tables_give_the_file_figures(sample_data, engine):
    files = [sample_data / "reference.parquet", sample_data / "shifted.parquet"]
    base = shiftemp.compare(*files, target="target", engine=engine)
    frames = [pd.read_parquet(path) for path in files]
    tables = [pa.Table.from_pandas(frame, preserve_index=False) for frame in frames]
    for pair in (frames, tables, [frames[0], tables[1]]):
        report = shiftemp.compare(*pair, target="target", engine=engine)
        assert report.reference.format == "dataframe"
        assert_same_figures(base, report, rel=1e-12)


@pytest.mark.parametrize("bad", [None, np.zeros((3, 2)), {"a": [1.0]}])
def test_an_input_of_another_type_is_a_type_error_naming_it(sample_data, bad):
    with pytest.raises(TypeError, match=f"shifted: expected a path .* got {type(bad).__name__}"):
        shiftemp.compare(sample_data / "reference.parquet", bad, target="target")


# -- columns: unseen categories, missing values, selection --------------------------------------


def test_an_unseen_category_is_reported(rng):
    old = regression_frame(rng, 400, region=True)
    new = regression_frame(rng, 400, region=True)
    new.loc[:9, "region"] = "west"
    report = shiftemp.compare(old, new, target="y")
    assert report.shifted.unseen_categories == {"region": 10}
    assert report.reference.unseen_categories == {}
    assert any("10 rows have a 'region' category unseen in reference" in note for note in report.notes)


def test_rows_with_missing_values_are_dropped_and_counted(rng):
    old = regression_frame(rng, 300, region=True)
    new = regression_frame(rng, 300, region=True)
    old.loc[[1, 2], "a"] = np.nan
    new.loc[[5], "y"] = np.nan
    new.loc[[6], "region"] = None
    report = shiftemp.compare(old, new, target="y")
    assert (report.reference.rows, report.reference.rows_used, report.reference.rows_dropped) == (300, 298, 2)
    assert (report.shifted.rows, report.shifted.rows_used, report.shifted.rows_dropped) == (300, 298, 2)
    assert "reference: dropped 2 of 300 rows with missing values" in report.notes


def test_features_and_exclude_choose_the_model(rng):
    old, new = regression_frame(rng, 200), regression_frame(rng, 200)
    assert shiftemp.compare(old, new, target="y", features=["a", "c"]).model.features == ("a", "c")
    report = shiftemp.compare(old, new, target="y", exclude=["b"])
    assert report.model.features == ("a", "c") and report.model.n_params == 3
    assert {c.column for c in report.entropy.columns} == {"a", "c", "y"}
    assert report.options["exclude"] == ["b"]
    for engine in ("memory", "stream"):  # a feature named twice is one feature
        twice = shiftemp.compare(old, new, target="y", features=["a", "c", "a"], engine=engine)
        assert twice.model.features == ("a", "c") and twice.model.n_params == 3


# -- model families -----------------------------------------------------------------------------


@pytest.mark.parametrize("classes", [2, 3])
def test_classification_with_a_concept_shift_recommends_retrain(classes):
    rng = np.random.default_rng(40 + classes)
    old = classification_frame(rng, 1500, classes=classes)
    new = classification_frame(rng, 1500, classes=classes, flip=True)
    report = shiftemp.compare(old, new)
    assert report.target == "label"
    assert report.model.family == "logistic" and report.model.loss == "ce"
    assert report.model.n_params == 3 * (classes - 1)
    assert report.recommendation.retrain and report.recommendation.shift_class == "hot"


@pytest.mark.parametrize("classes", [2, 3])
def test_classification_without_a_shift_recommends_keep(classes):
    rng = np.random.default_rng(50 + classes)
    old = classification_frame(rng, 1500, classes=classes)
    new = classification_frame(rng, 1500, classes=classes)
    report = shiftemp.compare(old, new, target="label")
    assert not report.recommendation.retrain
    assert report.recommendation.shift_class in ("none", "cold")
    assert report.model.classes == tuple(["cat", "dog", "eel"][:classes])


def test_numeric_labels_default_to_classification():
    rng = np.random.default_rng(60)
    old = classification_frame(rng, 500).assign(label=lambda f: (f["label"] == "dog").astype(int))
    new = classification_frame(rng, 500).assign(label=lambda f: (f["label"] == "dog").astype(float))
    report = shiftemp.compare(old, new)
    assert report.model.family == "logistic" and report.model.classes == ("0", "1")
    assert not report.recommendation.retrain


@pytest.mark.parametrize("kind", ["regression", "classification"])
def test_parameter_entropy_gives_a_finite_change_with_a_standard_error(kind):
    rng = np.random.default_rng(70)
    if kind == "regression":
        old, new = regression_frame(rng, 800), regression_frame(rng, 800, noise=2.0)
    else:
        old, new = classification_frame(rng, 800), classification_frame(rng, 800, flip=True)
    report = shiftemp.compare(old, new, entropy="parameters")
    s = report.entropy
    assert s.kind == "parameters" and report.options["entropy"] == "parameters"
    assert np.isfinite([s.reference.value, s.shifted.value, s.delta.value]).all()
    assert np.isfinite(s.delta.se) and s.delta.se > 0
    assert s.delta.low < s.delta.value < s.delta.high
    assert s.columns == ()
    if kind == "regression":
        # the noise variance quadrupled: 4 parameters (3 slopes, the intercept) gain 0.5 ln 4 each
        assert report.model.n_params == 4
        assert s.delta.value == pytest.approx(2 * np.log(4), abs=5 * s.delta.se)
        assert report.temperature.status == "finite"


def test_least_absolute_deviations(sample_data):
    report = shiftemp.compare(sample_data / "reference.parquet", sample_data / "shifted.parquet",
                              loss="mae", target="target")
    assert report.model.loss == "mae" and report.options["loss"] == "mae"
    assert report.recommendation.retrain
    mse = shiftemp.compare(sample_data / "reference.parquet", sample_data / "shifted.parquet",
                           target="target")
    # MAE is in target units: roughly the square root of the MSE's squared units
    assert report.energy.before.value < mse.energy.before.value
    assert report.energy.after_in_sample.value <= report.energy.before.value


def test_least_absolute_deviations_without_a_shift_keeps():
    rng = np.random.default_rng(80)
    old, new = regression_frame(rng, 600), regression_frame(rng, 600)
    report = shiftemp.compare(old, new, loss="mae")
    assert report.model.loss == "mae" and not report.recommendation.retrain


def test_min_gain_gates_a_small_real_shift():
    rng = np.random.default_rng(90)
    old = regression_frame(rng, 20_000, coef=(1.0, -0.5, 0.25))
    new = regression_frame(rng, 20_000, coef=(1.0, -0.5, 0.45))  # ~4% of the loss
    assert shiftemp.compare(old, new, target="y").recommendation.retrain
    gated = shiftemp.compare(old, new, target="y", min_gain=0.2)
    assert not gated.recommendation.retrain and gated.recommendation.shift_class == "warm"


def _numbered(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with integer column names (a frame built from a numpy array has them)."""
    return frame.set_axis(range(frame.shape[1]), axis=1)


@pytest.mark.parametrize("engine", ["memory", "stream"])
@pytest.mark.parametrize("target", [3, "3"])
def test_integer_column_names_are_found_by_number_or_text_on_both_engines(rng, engine, target):
    """The in-memory engine found column 3 only as 3, the streaming one only as "3" (Arrow
    names are text), and the error listed '3' among the columns it said were missing."""
    ref, new = regression_frame(rng, 500), regression_frame(rng, 400, shift=1.0)
    names = list(ref.columns)
    ref_n, new_n = _numbered(ref), _numbered(new)
    # the folds are keyed by the column names: the same frames named "0", "1", ...
    expected = shiftemp.compare(ref_n.rename(columns=str), new_n.rename(columns=str),
                                target=str(names.index("y")), engine="memory")
    got = shiftemp.compare(ref_n, new_n, target=names.index("y") if target == 3 else
                           str(names.index("y")), engine=engine)
    assert got.energy.delta_out_of_sample.value == pytest.approx(
        expected.energy.delta_out_of_sample.value, rel=1e-9)
    assert list(ref_n.columns) == list(range(len(names)))  # the caller's frame keeps its names


@pytest.mark.parametrize("engine", ["memory", "stream"])
def test_duplicate_names_in_a_frame_or_table_are_refused_by_both_engines(rng, engine):
    frame = regression_frame(rng, 300)
    columns = list(frame.columns)
    columns[1] = columns[0]
    twice = frame.set_axis(columns, axis=1)
    with pytest.raises(shiftemp.ShiftempError, match="duplicate column names"):
        shiftemp.compare(twice, twice, target="y", engine=engine)
    table = pa.Table.from_arrays([pa.array(twice.iloc[:, i]) for i in range(len(columns))],
                                 names=columns)
    with pytest.raises(shiftemp.ShiftempError, match="duplicate column names"):
        shiftemp.compare(table, table, target="y", engine=engine)


@pytest.mark.parametrize("options, error, says", [
    ({"folds": 2.5}, shiftemp.ShiftempError, "--folds must be a whole number"),
    ({"folds": "5"}, shiftemp.ShiftempError, "--folds must be a whole number"),
    ({"min_gain": "0.1"}, shiftemp.ShiftempError, "--min-gain is a fraction"),
    ({"target": ["y"]}, TypeError, "target: expected one column name"),
    ({"spread_rows": 0}, shiftemp.ShiftempError, "--spread-rows must be a whole number >= 2"),
    ({"features": []}, shiftemp.ShiftempError, "--features names no column"),
    # 2^64 folds overflowed the fold hash (a traceback); a count of splits far beyond any use
    # ran for ever or overflowed numpy
    ({"folds": 2 ** 64}, shiftemp.ShiftempError, "--folds must be at most 1,000"),
    ({"calibrate": True, "calibration_splits": 10 ** 12}, shiftemp.ShiftempError,
     "--calibration-splits must be a whole number from 3 to 1,000"),
])
def test_library_arguments_of_the_wrong_kind_are_refused_by_name(rng, options, error, says):
    """They failed deep inside (a TypeError from a comparison, a KeyError), or, for an empty
    feature list, silently meant every feature."""
    ref, new = regression_frame(rng, 300), regression_frame(rng, 300)
    with pytest.raises(error, match=says):
        shiftemp.compare(ref, new, **({"target": "y"} | options))


def test_one_column_named_by_a_number_is_taken_for_exclude_too(rng):
    """exclude=2 (a frame's column 2) was a bare "'int' object is not iterable"."""
    ref, new = regression_frame(rng, 300), regression_frame(rng, 300)
    names = list(ref.columns)
    ref_n, new_n = _numbered(ref), _numbered(new)
    report = shiftemp.compare(ref_n, new_n, target=names.index("y"), exclude=0)
    assert "0" not in report.model.features
