"""Validation and encoding of a reference/shifted pair."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import classification_frame, regression_frame
from shiftemp.dataset import default_family, prepare, resolve_target
from shiftemp.errors import ColumnError, InputError
from shiftemp.models import Family

# -- the target ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["target", "label", "y", "class", "Target", "LABEL", "Y"])
def test_target_is_detected_by_name_and_announced(name):
    target, notes = resolve_target(["a", name, "b"], None, "old.csv")
    assert target == name
    assert notes == [f"using column '{name}' as the target (pass --target to choose another)"]


def test_an_explicit_target_is_taken_silently():
    assert resolve_target(["a", "b"], "b", "old.csv") == ("b", [])


def test_no_target_candidate_lists_the_columns():
    with pytest.raises(ColumnError) as caught:
        resolve_target(["price", "qty"], None, "old.csv")
    assert str(caught.value) == (
        "old.csv: cannot tell the target: no column named target, label, y or class. Its columns:"
        " ['price', 'qty']. Pass --target with one of them."
    )


def test_two_target_candidates_are_ambiguous():
    with pytest.raises(ColumnError, match=r"2 columns \(y, label\) named target.*Its columns: \['y', 'x', 'label'\]"):
        resolve_target(["y", "x", "label"], None, "old.csv")


def test_a_missing_target_names_the_file_and_the_fix(rng):
    a, b = regression_frame(rng, 50), regression_frame(rng, 50)
    with pytest.raises(ColumnError, match=r"new.csv has no column 'y' \(the target\)\. Its columns: \['a', 'b', 'c'\]"):
        prepare(a, b.drop(columns="y"), target="y", names=("old.csv", "new.csv"))


# -- features -----------------------------------------------------------------------------------


def test_features_default_to_every_other_column(rng):
    pair = prepare(regression_frame(rng, 50), regression_frame(rng, 50))
    assert pair.target == "y"
    assert pair.feature_columns == ("a", "b", "c")
    assert pair.reference.X.shape == (50, 3)
    assert pair.family is Family.LINEAR


def test_features_and_exclude(rng):
    a, b = regression_frame(rng, 50), regression_frame(rng, 50)
    assert prepare(a, b, features=["c", "a"]).feature_columns == ("c", "a")
    assert prepare(a, b, exclude=["b"]).feature_columns == ("a", "c")
    assert prepare(a, b, features=["a", "b"], exclude=["b"]).feature_columns == ("a",)
    # the target is never a feature
    assert prepare(a, b, features=["a", "y"]).feature_columns == ("a",)
    pair = prepare(a, b, features=["b"])
    np.testing.assert_array_equal(pair.reference.X[:, 0], a["b"].to_numpy())


@pytest.mark.parametrize("option", ["features", "exclude"])
def test_an_unknown_column_in_features_or_exclude(rng, option):
    a, b = regression_frame(rng, 50), regression_frame(rng, 50)
    with pytest.raises(ColumnError, match=f"old.csv has no column 'zz' \\(named in --{option}\\)"):
        prepare(a, b, **{option: ["zz"]}, names=("old.csv", "new.csv"))


def test_excluding_everything_leaves_no_features(rng):
    a, b = regression_frame(rng, 50), regression_frame(rng, 50)
    with pytest.raises(ColumnError, match="no feature columns are left besides the target 'y'"):
        prepare(a, b, exclude=["a", "b", "c"])


def test_a_feature_missing_from_the_shifted_file(rng):
    a, b = regression_frame(rng, 50), regression_frame(rng, 50)
    with pytest.raises(ColumnError, match=r"new.csv has no column 'b' \(a feature\)"):
        prepare(a, b.drop(columns="b"), names=("old.csv", "new.csv"))


def test_a_feature_whose_type_differs_between_files(rng):
    a, b = regression_frame(rng, 50), regression_frame(rng, 50)
    b["c"] = b["c"].astype(str)
    with pytest.raises(ColumnError, match="column 'c' is numeric in old.csv but text in new.csv;.*--exclude c"):
        prepare(a, b, names=("old.csv", "new.csv"))


def test_duplicate_column_names_are_refused(rng):
    a = regression_frame(rng, 50)
    b = pd.concat([regression_frame(rng, 50), regression_frame(rng, 50)[["a"]]], axis=1)
    with pytest.raises(ColumnError, match=r"duplicate column names \['a'\]"):
        prepare(a, b)


def test_column_order_may_differ_between_files(rng):
    a, b = regression_frame(rng, 50), regression_frame(rng, 50)
    pair = prepare(a, b[["y", "c", "a", "b"]])
    np.testing.assert_array_equal(pair.shifted.X, b[["a", "b", "c"]].to_numpy())


# -- categorical features -----------------------------------------------------------------------


def test_categorical_one_hot_with_the_reference_categories(rng):
    a = regression_frame(rng, 200, region=True)
    b = regression_frame(rng, 100, region=True)
    pair = prepare(a, b)
    # baseline: the reference's most frequent category (north, p = 0.5), then by frequency
    counts = a["region"].value_counts()
    order = sorted(counts.index, key=lambda c: (-counts[c], c))
    assert order[0] == "north"
    assert pair.feature_names == ("a", "b", "c", *(f"region={c}" for c in order[1:]))
    assert pair.categorical_names == ("region",)
    assert pair.numeric_names == ("a", "b", "c", "y")
    for j, level in enumerate(order[1:], start=3):
        np.testing.assert_array_equal(pair.shifted.X[:, j], (b["region"] == level).to_numpy(float))
    assert pair.shifted.unseen == {}


def test_a_category_unseen_in_the_reference_is_encoded_as_the_baseline_and_reported(rng):
    a = regression_frame(rng, 200, region=True)
    b = regression_frame(rng, 100, region=True)
    b.loc[:6, "region"] = "west"  # 7 rows
    pair = prepare(a, b, names=("old.csv", "new.csv"))
    assert pair.shifted.unseen == {"region": 7}
    assert pair.reference.unseen == {}
    assert "new.csv: 7 rows have a 'region' category unseen in old.csv; encoded as its most" \
        " frequent category 'north'" in pair.notes
    west = (b["region"] == "west").to_numpy()
    np.testing.assert_array_equal(pair.shifted.X[west, 3:], 0.0)  # the baseline's encoding
    assert not any("west" in name for name in pair.feature_names)


def test_boolean_columns_are_categorical(rng):
    a, b = regression_frame(rng, 60), regression_frame(rng, 60)
    a["flag"], b["flag"] = a["a"] > 0, b["a"] > 0.5
    pair = prepare(a, b)
    assert "flag" in pair.categorical_names
    assert any(name.startswith("flag=") for name in pair.feature_names)


def test_a_single_category_everywhere_leaves_nothing_to_fit(rng):
    a = pd.DataFrame({"kind": ["x"] * 20, "y": rng.normal(size=20)})
    b = pd.DataFrame({"kind": ["x"] * 20, "y": rng.normal(size=20)})
    with pytest.raises(ColumnError, match="a single category each"):
        prepare(a, b)


# -- missing values -----------------------------------------------------------------------------


def test_rows_with_missing_values_in_used_columns_are_dropped_and_counted(rng):
    a, b = regression_frame(rng, 100, region=True), regression_frame(rng, 80, region=True)
    a.loc[[3, 5], "a"] = np.nan
    a.loc[7, "y"] = np.nan
    b.loc[0, "b"] = np.inf
    b.loc[1, "region"] = None
    b["extra"] = np.nan  # missing everywhere, but only in the shifted file: not used
    a["skipped"], b["skipped"] = np.nan, np.nan  # excluded: its missing values do not count
    pair = prepare(a, b, exclude=["skipped"], names=("old.csv", "new.csv"))
    assert (pair.reference.rows_read, pair.reference.rows_used, pair.reference.rows_dropped) == (100, 97, 3)
    assert (pair.shifted.rows_read, pair.shifted.rows_used, pair.shifted.rows_dropped) == (80, 78, 2)
    assert "old.csv: dropped 3 of 100 rows with missing values" in pair.notes
    assert "new.csv: dropped 2 of 80 rows with missing values" in pair.notes
    assert np.isfinite(pair.reference.X).all() and np.isfinite(pair.shifted.y).all()


def test_every_row_missing_is_an_input_error(rng):
    a, b = regression_frame(rng, 20), regression_frame(rng, 20)
    b["a"] = np.nan
    with pytest.raises(InputError, match="new.csv: every row has a missing or infinite value"):
        prepare(a, b, names=("old.csv", "new.csv"))


def test_a_file_without_rows_is_an_input_error(rng):
    a = regression_frame(rng, 20)
    with pytest.raises(InputError, match="new.csv: the file has a header but no data rows"):
        prepare(a, a.iloc[:0], names=("old.csv", "new.csv"))


# -- the family and the target's encoding -------------------------------------------------------


@pytest.mark.parametrize(
    "values, family",
    [
        (np.linspace(0, 1, 50), Family.LINEAR),
        (np.arange(50) % 10, Family.LOGISTIC),
        (np.arange(50) % 11, Family.LINEAR),
        (np.array(["a", "b"] * 25), Family.LOGISTIC),
        (np.array([True, False] * 25), Family.LOGISTIC),
    ],
)
def test_default_family(values, family):
    assert default_family(pd.Series(values)) is family


def test_classification_targets_are_coded_over_both_files(rng):
    a = classification_frame(rng, 100, classes=2)
    b = classification_frame(rng, 100, classes=3)
    pair = prepare(a, b)
    assert pair.family is Family.LOGISTIC
    assert pair.classes == ("cat", "dog", "eel")
    assert pair.categorical_names == ("label",)
    np.testing.assert_array_equal(np.array(pair.classes)[pair.shifted.y], b["label"].to_numpy())
    assert pair.reference.y.dtype == np.int64


def test_integer_classes_match_float_classes_across_files(rng):
    """A label column read as floats (one missing value) names its classes like an int column."""
    a = pd.DataFrame({"x": rng.normal(size=60), "label": rng.integers(0, 3, 60)})
    b = pd.DataFrame({"x": rng.normal(size=60), "label": rng.integers(0, 3, 60).astype(float)})
    b.loc[0, "label"] = np.nan
    pair = prepare(a, b)
    assert pair.classes == ("0", "1", "2")
    np.testing.assert_array_equal(pair.shifted.y, b["label"].dropna().to_numpy(dtype=np.int64))


def test_text_and_numeric_labels_of_the_same_classes_agree(rng):
    a = pd.DataFrame({"x": rng.normal(size=60), "label": rng.integers(0, 2, 60)})
    b = pd.DataFrame({"x": rng.normal(size=60), "label": ["0", "1"] * 30})
    assert prepare(a, b).classes == ("0", "1")
    assert prepare(b, a).classes == ("0", "1")


def test_text_labels_against_numeric_ones_are_a_type_that_differs(rng):
    # classes 0, 1, no, yes would match nothing, and the energy would say RETRAIN confidently
    a = pd.DataFrame({"x": rng.normal(size=60), "label": rng.integers(0, 2, 60)})
    b = pd.DataFrame({"x": rng.normal(size=60), "label": ["no", "yes"] * 30})
    with pytest.raises(ColumnError, match=r"^the target 'label' is numeric in old.csv but text in"
                       r" new.csv \(labels 'no', 'yes'\), so their classes cannot match; make its"
                       r" type agree in both files.$"):
        prepare(a, b, names=("old.csv", "new.csv"))


def test_boolean_labels_against_zero_one_are_a_type_that_differs(rng):
    a = pd.DataFrame({"x": rng.normal(size=60), "label": rng.integers(0, 2, 60)})
    b = pd.DataFrame({"x": rng.normal(size=60), "label": [False, True] * 30})
    with pytest.raises(ColumnError, match=r"^the target 'label' is text in new.csv but numeric in"
                       r" old.csv \(labels 'False', 'True'\)"):
        prepare(b, a, names=("new.csv", "old.csv"))


def test_a_single_class_is_refused(rng):
    a = classification_frame(rng, 50)
    b = a.assign(label="cat")
    with pytest.raises(ColumnError, match=r"new.csv: the target 'label' has a single class \('cat'\)"):
        prepare(a, b, names=("old.csv", "new.csv"))


def test_linear_needs_a_numeric_target(rng):
    a = classification_frame(rng, 50)
    with pytest.raises(ColumnError, match="is not numeric, so --model linear cannot fit it; use --model logistic"):
        prepare(a, a, family=Family.LINEAR)


def test_a_constant_regression_target_is_refused(rng):
    a = regression_frame(rng, 50)
    with pytest.raises(ColumnError, match="the target 'y' is constant"):
        prepare(a, a.assign(y=3.0))


def test_too_many_classes_for_classification(rng):
    a = pd.DataFrame({"x": rng.normal(size=300), "label": [f"c{i}" for i in range(300)]})
    with pytest.raises(ColumnError, match="300 distinct values, too many for classification"):
        prepare(a, a)


def test_numeric_columns_feed_the_gaussian_entropy_and_text_the_shannon_part(rng):
    a, b = regression_frame(rng, 40, region=True), regression_frame(rng, 40, region=True)
    pair = prepare(a, b)
    np.testing.assert_array_equal(pair.reference.numeric, a[["a", "b", "c", "y"]].to_numpy())
    (codes,) = pair.reference.categorical
    assert codes.dtype == np.int64
    assert len(np.unique(codes)) == a["region"].nunique()


def test_null_columns_are_found_in_a_schema():
    import pyarrow as pa

    from shiftemp.dataset import empty_in_schema

    schema = pa.schema({"price": pa.float64(), "m": pa.null(), "g": pa.string()})
    assert empty_in_schema(schema) == {"m"}


def test_a_few_words_in_a_numeric_class_target_are_named(rng):
    a = pd.DataFrame({"x": rng.normal(size=60), "label": rng.integers(0, 2, 60)})
    b = pd.DataFrame({"x": rng.normal(size=60), "label": ["0", "1"] * 29 + ["?", "1"]})
    with pytest.raises(ColumnError, match=r"^new.csv: the target 'label' is numeric in old.csv but"
                       r" holds 1 value that is not a number, first '\?' in data row 59; fix it.$"):
        prepare(a, b, names=("old.csv", "new.csv"))
    b.loc[58, "label"] = "0"  # labels that are numbers are the same classes
    assert prepare(a, b).classes == ("0", "1")


@pytest.mark.parametrize("column, hint", [
    ("Tags", "Pass --exclude Tags to compare without it."),
    ("", "Its name '' cannot be given to --exclude; pass --features with the columns to compare"
         " instead."),
    ("a,b", "Its name 'a,b' cannot be given to --exclude;"),
])
def test_a_missing_features_hint_is_one_the_command_line_can_follow(tmp_path, column, hint):
    """A CSV whose lines end with a comma has a column named ''; the error told the user to
    pass "--exclude " (nothing), which --exclude refuses."""
    import shiftemp

    ref = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], column: [1.0, 0.0, 1.0, 0.0],
                        "y": [1.0, 3.0, 2.0, 5.0]})
    new = ref.drop(columns=[column])
    with pytest.raises(shiftemp.ShiftempError) as caught:
        shiftemp.compare(ref, new, target="y", engine="memory")
    assert hint in str(caught.value)
