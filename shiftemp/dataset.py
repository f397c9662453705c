"""A validated pair of datasets: the reference a model was trained on and the shifted batch.

Turns two frames into numeric arrays the models and entropies use, with one encoding for both:
the target resolved (or detected), columns checked for presence and type in both files, rows with
missing values dropped and counted, categorical features one-hot encoded with the reference's
categories (a category unseen in the reference is counted and encoded as the reference's most
frequent one, the baseline).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

# pandas is imported inside the functions that take frames: the streaming engine decides the
# columns from Arrow schemas (schema_kinds) and never needs it, and its import (~0.9 s) would be
# most of a small streaming run
from .errors import ColumnError, InputError
from .io import is_number
from .models import Family

if TYPE_CHECKING:
    import pandas as pd

#: Column names taken as the target when --target is not given (case-insensitive).
TARGET_NAMES = ("target", "label", "y", "class")

#: A numeric target with at most this many distinct values defaults to classification.
MAX_CLASSES_FOR_DEFAULT = 10

#: A classification target with more classes than this is refused: it is almost surely numeric.
MAX_CLASSES = 100

#: A categorical feature with more categories than this in the reference is refused: one-hot
#: encoding adds a parameter per category, and a column with that many is almost surely an
#: identifier (docs/errors.md).
MAX_LEVELS = 1_000

#: A regression target's largest magnitude must lie in [1 / this, this]: its squared loss, summed
#: over rows, must neither overflow nor underflow. Features may be anything finite.
TARGET_MAGNITUDE = 1e100


@dataclass(frozen=True)
class Side:
    """One dataset after validation and encoding.

    Attributes
    ----------
    X : (n, d) float array of encoded features (one-hot columns for categories).
    y : (n,) float target (regression) or int class codes (classification).
    numeric : (n, m) float array of the numeric source columns, target included when numeric:
        what the Gaussian part of the data entropy is computed on.
    categorical : tuple of (n,) int arrays, codes of each categorical source column, target
        included when categorical: the Shannon part of the data entropy.
    """

    name: str
    X: np.ndarray
    y: np.ndarray
    numeric: np.ndarray
    categorical: tuple[np.ndarray, ...]
    rows_read: int
    rows_dropped: int
    unseen: dict[str, int] = field(default_factory=dict)

    @property
    def rows_used(self) -> int:
        return int(self.X.shape[0])


@dataclass(frozen=True)
class Pair:
    """A reference and a shifted dataset encoded alike."""

    reference: Side
    shifted: Side
    target: str
    family: Family
    feature_columns: tuple[str, ...]
    feature_names: tuple[str, ...]
    numeric_names: tuple[str, ...]
    categorical_names: tuple[str, ...]
    classes: tuple[str, ...] | None
    notes: tuple[str, ...]


def is_categorical(series: pd.Series) -> bool:
    """Text, categorical and boolean columns are categorical; numbers are numeric."""
    import pandas as pd

    return not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)


def schema_kinds(schema) -> dict[str, bool]:
    """The columns of the frame an Arrow ``schema`` reads into, each with whether
    :func:`is_categorical` calls it categorical there, from the schema alone (no pandas).

    As ``schema.empty_table().to_pandas()``: integers and floats (also as the storage of an
    extension type, or run-end encoded) are numbers; booleans, text, dictionaries, dates, times,
    decimals and nested types are not (the readers give decimals as floats, ``io.read_type``,
    so a scan's schema has none); the index columns pandas recorded in its metadata are not
    columns. A column of the ``null`` type (a CSV column without a value) has no kind of its
    own: see :func:`empty_in_schema`.
    """
    import pyarrow as pa

    index: set[str] = set()
    pandas_meta = (schema.metadata or {}).get(b"pandas")
    if pandas_meta:
        try:
            recorded = json.loads(pandas_meta)["index_columns"]
        except (ValueError, KeyError, TypeError):  # metadata pandas would also ignore
            recorded = []
        index = {name for name in recorded if isinstance(name, str)}
    kinds = {}
    for arrow_field in schema:
        if arrow_field.name in index:
            continue
        kind = arrow_field.type
        # pandas' own extension types (period, interval) read as pandas dtypes, not numbers;
        # without pandas imported they are not registered and arrive as plain storage
        extension = (arrow_field.metadata or {}).get(b"ARROW:extension:name", b"")
        pandas_type = extension.startswith(b"pandas.") or (
            isinstance(kind, pa.BaseExtensionType) and type(kind).__module__.startswith("pandas")
        )
        if isinstance(kind, pa.BaseExtensionType):
            kind = kind.storage_type
        if pa.types.is_run_end_encoded(kind):
            kind = kind.value_type
        numeric = pa.types.is_integer(kind) or pa.types.is_floating(kind)
        kinds[arrow_field.name] = pandas_type or not numeric
    return kinds


def empty_in_schema(schema) -> set[str]:
    """Columns of an Arrow ``schema`` of the ``null`` type: without a single value where the
    schema was inferred (a CSV column empty in its first block, a header-only CSV), so of
    either kind, numeric or text."""
    import pyarrow as pa

    return {f.name for f in schema if pa.types.is_null(f.type)}


def nested_in_schema(schema) -> set[str]:
    """Columns of an Arrow ``schema`` whose values are lists, structs, maps or unions."""
    import pyarrow as pa

    found = set()
    for arrow_field in schema:
        kind = arrow_field.type
        if isinstance(kind, pa.BaseExtensionType):
            kind = kind.storage_type
        if pa.types.is_nested(kind):
            found.add(arrow_field.name)
    return found


def nested_in_frame(frame: pd.DataFrame, columns: list[str]) -> set[str]:
    """The ``columns`` of a pandas frame whose first value is a list, tuple, set, dict or array:
    what a parquet file's nested columns read into."""
    found = set()
    for column in columns:
        values = frame[column]
        if values.dtype != object:
            continue
        present = values.first_valid_index()
        if present is not None and isinstance(values[present], (list, tuple, set, dict, np.ndarray)):
            found.add(column)
    return found


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def exclude_hint(column: str, why: str) -> str:
    """"pass --exclude COLUMN{why}.", or, for a name the option cannot carry (empty, as a CSV
    line's trailing comma makes it, blank, or holding a comma), the --features way round it."""
    if column.strip() and "," not in column and column == column.strip():
        return f"pass --exclude {column}{why}."
    return (f"its name {column!r} cannot be given to --exclude; pass --features with the"
            " columns to compare instead.")


def refuse_nested(nested: set[str], target: str, features: list[str], name: str) -> None:
    """A nested column (:func:`nested_in_schema`, :func:`nested_in_frame`) is neither a feature
    nor the target: one row's value is a whole collection, with no order or number to model."""
    for column in [target, *features]:
        if column in nested:
            role, fix = (("the target", "pass --target with another column") if column == target
                         else ("a feature", exclude_hint(column, "").rstrip(".")))
            raise ColumnError(
                f"{name}: column '{column}' holds nested values (lists, structs or maps), which"
                f" cannot be {role}; {fix}."
            )


def resolve_target(columns: list[str], target: str | None, name: str) -> tuple[str, list[str]]:
    """The target column, detected from :data:`TARGET_NAMES` when not given."""
    notes: list[str] = []
    if target is not None:
        return target, notes
    found = [c for c in columns if str(c).lower() in TARGET_NAMES]
    if len(found) != 1:
        why = "no column" if not found else f"{len(found)} columns ({', '.join(map(str, found))})"
        raise ColumnError(
            f"{name}: cannot tell the target: {why} named target, label, y or class. Its columns:"
            f" {list(map(str, columns))}. Pass --target with one of them."
        )
    notes.append(f"using column '{found[0]}' as the target (pass --target to choose another)")
    return found[0], notes


def resolve_features(
    columns: list[str], target: str, features: list[str] | None, exclude: list[str] | None,
    name: str,
) -> list[str]:
    """The feature columns: ``features`` if given, else every column but the target and
    ``exclude``; checked against ``columns``."""
    for option, wanted in (("--features", features), ("--exclude", exclude)):
        for column in wanted or []:
            if column not in columns:
                raise ColumnError(
                    f"{name} has no column '{column}' (named in {option}). Its columns:"
                    f" {list(map(str, columns))}."
                )
    # a column named twice in --features is one feature (twice, it was a collinear copy)
    chosen = list(dict.fromkeys(features)) if features else [c for c in columns if c != target]
    chosen = [c for c in chosen if c != target and c not in set(exclude or [])]
    if not chosen:
        raise ColumnError(f"{name}: no feature columns are left besides the target '{target}'.")
    return chosen


def _check_columns(frame: pd.DataFrame, name: str, needed: list[str], what: dict[str, str]) -> None:
    check_column_names(list(frame.columns), name, needed, what)


def check_column_names(columns: list, name: str, needed: list[str], what: dict[str, str]) -> None:
    """Refuse repeated column names, and a ``needed`` column missing from ``columns`` (``what``
    names a column's role for the message)."""
    seen: set = set()
    duplicated = []
    for column in columns:
        if column in seen and column not in duplicated:
            duplicated.append(column)
        seen.add(column)
    if duplicated:
        raise ColumnError(
            f"{name}: duplicate column names {duplicated}; rename them so each column is unique."
        )
    for column in needed:
        if column not in columns:
            fix = (
                "Pass --target with one of them." if what.get(column) == "the target"
                else _sentence(exclude_hint(column, " to compare without it"))
            )
            raise ColumnError(
                f"{name} has no column '{column}' ({what.get(column, 'a feature')}). Its columns:"
                f" {list(map(str, columns))}. {fix}"
            )


def _usable_rows(frame: pd.DataFrame, columns: list[str], numeric: set[str]) -> np.ndarray:
    """Rows with a value in every used column; infinities count as missing."""
    keep = ~frame[columns].isna().any(axis=1).to_numpy()
    numbers = [column for column in columns if column in numeric]
    if numbers:  # one block, not a column at a time: thousands of columns stay fast
        keep &= np.isfinite(frame[numbers].to_numpy(dtype=float, na_value=np.nan)).all(axis=1)
    return keep


def _text_columns(frame: pd.DataFrame) -> set:
    """The columns :func:`is_categorical` calls categorical, from the dtypes alone."""
    import pandas as pd

    return {
        column for column, dtype in frame.dtypes.items()
        if not pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)
    }


def _empty_columns(
    frames: tuple[pd.DataFrame, pd.DataFrame], names: tuple[str, str], target: str,
    feature_columns: list[str],
) -> tuple[list[str], list[str]]:
    """The feature columns left once those without a single usable value (a finite number, any
    text) in either file are dropped, and the notes saying so. A column (or the target) empty in
    one file only is an error: the other file has values, so a feed broke."""
    kept, notes = [], []
    columns = [*feature_columns, target]
    has_values = []
    for frame in frames:
        text = _text_columns(frame)
        numbers = [c for c in columns if c not in text]
        finite = np.isfinite(frame[numbers].to_numpy(dtype=float, na_value=np.nan)).any(axis=0)
        found = dict(zip(numbers, finite.tolist()))
        texts = [c for c in columns if c in text]
        found.update(frame[texts].notna().any(axis=0).to_dict() if texts else {})
        has_values.append(found)
    for column in columns:
        empty = [not found[column] for found in has_values]
        if not any(empty):
            if column != target:
                kept.append(column)
            continue
        name = names[empty.index(True)]
        if column == target:
            raise InputError(
                f"{name}: the target '{target}' has no values (missing in every row); check the"
                " file or pass another --target."
            )
        if not all(empty):
            raise InputError(
                f"{name}: every row has a missing or infinite value in column '{column}' (it has"
                f" no values at all); fix the file or pass --exclude {column}."
            )
        notes.append(f"column '{column}' has no values in either file; left out")
    if not kept:
        raise ColumnError(
            f"{names[0]}: every feature column is empty in both files; nothing is left to fit."
        )
    return kept, notes


def _stray_text(series: pd.Series) -> tuple[int, object, int] | None:
    """For a text column that is mostly numbers: (how many values are not, the first of them, its
    1-based data row); ``None`` when the column is not mostly numbers."""
    import pandas as pd

    if pd.api.types.is_bool_dtype(series):
        return None
    present = series.notna().to_numpy()
    text = series[present].astype(str)
    numbers = np.fromiter(map(is_number, text), dtype=bool, count=len(text))
    bad = int((~numbers).sum())
    if bad == 0 or bad * 2 > numbers.size:
        return None
    first = int(np.flatnonzero(present)[np.flatnonzero(~numbers)[0]])
    return bad, series.iloc[first], first + 1


def _most_missing(frame: pd.DataFrame, columns: list[str], numeric: set[str]) -> tuple[str, int]:
    """The used column with the most missing or infinite values, and how many."""
    counts = {
        column: int((~_usable_rows(frame, [column], numeric)).sum()) for column in columns
    }
    worst = max(columns, key=lambda c: counts[c])
    return worst, counts[worst]


def _category_order(values: pd.Series) -> list[str]:
    """Categories by frequency, most frequent first (the baseline), ties by name."""
    counts = values.astype(str).value_counts()
    return sorted(counts.index, key=lambda c: (-counts[c], c))


def _class_labels(series: pd.Series) -> pd.Series:
    """Class labels as text, numbers written alike whatever their dtype: a column read as floats
    (because a missing value was dropped, or from another file format) names class 1 ``"1"`` as
    an integer column does, not ``"1.0"``, so the two files' classes match."""
    import pandas as pd

    if is_categorical(series):
        return series.astype(str)
    values = series.to_numpy(dtype=float)
    text = values.astype(str).astype(object)
    integral = (values == np.round(values)) & (np.abs(values) < 2.0**53)  # exact as int64
    text[integral] = values[integral].astype(np.int64).astype(str)
    return pd.Series(text, index=series.index, dtype=object)


def mixed_target(target: str, text_in_reference: bool, names: tuple[str, str],
                 stray: tuple[int, object, int] | None, classes: str) -> ColumnError:
    """The error for a target that is numeric in one file and text in the other, read as class
    labels of which there are too many (``classes``: how many, in words): most often a few
    values that are not numbers (``stray``, :func:`_stray_text`) in a regression target."""
    numeric_name, text_name = (names[1], names[0]) if text_in_reference else names
    if stray is not None:
        count, value, row = stray
        return ColumnError(
            f"{text_name}: the target '{target}' is numeric in {numeric_name} but holds {count}"
            f" value{'s' if count > 1 else ''} that {'are' if count > 1 else 'is'} not a number,"
            f" first {str(value)!r} in data row {row}; fix {'them' if count > 1 else 'it'}."
        )
    return ColumnError(
        f"{text_name}: the target '{target}' is numeric in {numeric_name} but text here, so it"
        f" reads as class labels, {classes} of them: too many for classification (at most"
        f" {MAX_CLASSES}); make every value a number."
    )


def _encode_target(
    ref: pd.Series, new: pd.Series, family: Family, names: tuple[str, str], target: str,
    raw: tuple[pd.Series, pd.Series] | None = None,
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...] | None]:
    """``raw``: the target columns before rows with missing values were dropped (to name a
    value's data row in an error)."""
    if family is Family.LINEAR:
        for series, name in zip((ref, new), names):
            if is_categorical(series):
                raise ColumnError(
                    f"{name}: the target '{target}' is not numeric, so --model linear cannot fit"
                    " it; use --model logistic."
                )
        values = ref.to_numpy(dtype=float), new.to_numpy(dtype=float)
        for array, name in zip(values, names):
            if np.ptp(array) == 0:
                raise ColumnError(
                    f"{name}: the target '{target}' is constant ({array[0]:g} in every used row);"
                    " there is nothing to fit. Check the file or pass another --target."
                )
            check_target_magnitude(float(np.abs(array).max()), target, name)
        return values[0], values[1], None
    ref_text, new_text = _class_labels(ref), _class_labels(new)
    classes = sorted(set(ref_text) | set(new_text))
    if len(classes) > MAX_CLASSES:
        text = (is_categorical(ref), is_categorical(new))
        if text[0] != text[1]:
            whole = raw[0 if text[0] else 1] if raw is not None else (ref if text[0] else new)
            raise mixed_target(target, text[0], names, _stray_text(whole), str(len(classes)))
        fix = (
            "pass --target with the column to predict" if is_categorical(ref)
            or is_categorical(new) else "use --model linear"
        )
        raise ColumnError(
            f"{', '.join(dict.fromkeys(names))}: the target '{target}' has {len(classes)}"
            f" distinct values, too many for classification (at most {MAX_CLASSES}); {fix}."
        )
    for series, name in zip((ref_text, new_text), names):
        if series.nunique() < 2:
            raise ColumnError(
                f"{name}: the target '{target}' has a single class ({series.iloc[0]!r});"
                " classification needs at least two."
            )
    lookup = {c: i for i, c in enumerate(classes)}
    return (
        ref_text.map(lookup).to_numpy(dtype=np.int64),
        new_text.map(lookup).to_numpy(dtype=np.int64),
        tuple(classes),
    )


def check_rows_for_parameters(pair: "Pair", folds: int | None) -> None:
    """Refuse a design with at least as many parameters (features plus intercept) as the rows a
    fit sees: the old model's (every usable reference row) or a cross-fitted refreshed model's
    (``folds - 1`` of ``folds`` shifted rows; ``folds=None``: no cross-fitting, the reference
    alone). Such a fit interpolates, and comparing the old model's energy with the refreshed
    one's would compare sample sizes, not data: with more features than rows, an unshifted
    refresh can look hot."""
    p = len(pair.feature_names) + 1
    n_ref, n_new = pair.reference.rows_used, pair.shifted.rows_used
    if p >= n_ref:
        raise ColumnError(
            f"{pair.reference.name}: {n_ref:,} usable rows for {p:,} model parameters (features"
            " plus intercept): the model would interpolate them and its energy would mean"
            " nothing. Narrow --features or --exclude, or compare more rows."
        )
    if folds is None:
        return
    fit_rows = n_new * (folds - 1) // folds
    if p >= fit_rows:
        raise ColumnError(
            f"{pair.shifted.name}: each cross-fitted model sees {fit_rows:,} of its {n_new:,}"
            f" usable rows, no more than its {p:,} parameters (features plus intercept), so it"
            " would interpolate them. Narrow --features or --exclude, raise --folds, or compare"
            " more rows."
        )


def rare_classes_note(counts: dict[str, int], folds: int, name: str) -> str | None:
    """A note on the classes of the shifted data (``counts``: rows by label) with fewer rows
    than folds: the cross-fitted models of the folds without them never see them, so the
    out-of-sample energy of their rows is the ridge's guess, and a change of one or two rare
    events can read as a significant refresh."""
    rare = sorted((count, label) for label, count in counts.items() if 0 < count < folds)
    if not rare:
        return None
    shown = ", ".join(f"'{label}' ({count} row{'s' if count > 1 else ''})"
                      for count, label in rare[:3])
    many = len(rare) > 1
    return (
        f"{name}: class{'es' if many else ''} {shown}{', ...' if len(rare) > 3 else ''}"
        f" {'have' if many else 'has'} fewer rows than the {folds} folds: some cross-fitted"
        f" models never see {'them' if many else 'it'}, so a verdict that rests on"
        f" {'these classes' if many else 'this class'} is weak"
    )


def check_rows_for_entropy(pair: "Pair") -> None:
    """Refuse inputs with no more usable rows than the data's columns (the features' design and
    the target): the Gaussian data entropy needs their covariance, singular with so few rows
    (the linear families refuse such data sooner, by :func:`check_rows_for_parameters`)."""
    columns = len(pair.feature_names) + 1
    for side in (pair.reference, pair.shifted):
        if side.rows_used <= columns:
            raise ColumnError(
                f"{side.name}: {side.rows_used:,} usable rows for {columns:,} columns (features"
                " and target): too few to estimate the data's entropy, whose covariance needs"
                " more rows than columns. Narrow --features or --exclude, or compare more rows."
            )


def check_target_magnitude(top: float, target: str, name: str) -> None:
    """Refuse a regression target whose largest magnitude ``top`` would overflow (or underflow)
    its squared losses."""
    if not 1 / TARGET_MAGNITUDE <= top <= TARGET_MAGNITUDE:
        way, fix = ("overflow", "Divide") if top > 1 else ("underflow to zero", "Multiply")
        raise ColumnError(
            f"{name}: the target '{target}' reaches {top:.3g} in magnitude, so its losses"
            f" would {way} in double precision. {fix} it by a power of ten (the"
            " recommendation does not depend on its units) and rerun."
        )


def stray_values(column: str, numeric_name: str, text_name: str,
                 stray: tuple[int, object, int]) -> ColumnError:
    """The error for a feature numeric in one file and mostly numbers in the other, with a few
    values that are not (``stray``, :func:`_stray_text`)."""
    count, value, row = stray
    return ColumnError(
        f"{text_name}: column '{column}' is numeric in {numeric_name} but holds"
        f" {count} value{'s' if count > 1 else ''} that {'are' if count > 1 else 'is'}"
        f" not a number, first {str(value)!r} in data row {row}; fix"
        f" {'them' if count > 1 else 'it'} or pass --exclude {column}."
    )


def type_mismatch(column: str, kinds: list[bool], names) -> ColumnError:
    """The error for a column that is text (``True``) in one file and numeric in the other."""
    described = ["text" if k else "numeric" for k in kinds]
    return ColumnError(
        f"column '{column}' is {described[0]} in {names[0]} but {described[1]} in"
        f" {names[1]}; make its type agree or pass --exclude {column}."
    )


def target_type_mismatch(target: str, text_in_reference: bool, names,
                         labels: list[str]) -> ColumnError:
    """The error for a class target that is numeric in one file and text in the other whose
    text ``labels`` are not all numbers (booleans, yes/no): its classes would be the two files'
    labels side by side (0, 1, False, True), matching nothing."""
    described = ["text" if k else "numeric" for k in (text_in_reference, not text_in_reference)]
    shown = ", ".join(repr(label) for label in sorted(labels)[:3])
    return ColumnError(
        f"the target '{target}' is {described[0]} in {names[0]} but {described[1]} in"
        f" {names[1]} (labels {shown}{', ...' if len(labels) > 3 else ''}), so their classes"
        " cannot match; make its type agree in both files."
    )


def not_numbers(labels) -> list[str]:
    """The ``labels`` (text) that do not read as numbers (:func:`shiftemp.io.is_number`)."""
    return [label for label in labels if not is_number(label)]


def _check_target_kinds(reference: pd.Series, shifted: pd.Series, text: list[bool],
                        names, target: str) -> None:
    """Refuse a class target that is numeric in one file and text in the other, unless the
    text holds numbers ("0", "1": the same classes): a few stray words are named
    (:func:`mixed_target`), other text is a type that differs."""
    if text[0] == text[1]:
        return
    series = reference if text[0] else shifted
    stray = _stray_text(series)
    if stray is not None:
        raise mixed_target(target, text[0], names, stray, "")
    labels = not_numbers(series.dropna().astype(str).unique())  # booleans too: 'True'
    if labels:
        raise target_type_mismatch(target, text[0], names, labels)


def default_family(target: pd.Series, shifted: pd.Series | None = None) -> Family:
    """Linear for a numeric target with many values, logistic otherwise; with ``shifted``, the
    values of both files count (a target constant in the reference but not in the shifted data is
    a regression target, refused as constant, not a one-class classification)."""
    import pandas as pd

    if is_categorical(target) or (shifted is not None and is_categorical(shifted)):
        return Family.LOGISTIC
    values = target.dropna() if shifted is None else pd.concat([target, shifted]).dropna()
    if values.nunique() <= MAX_CLASSES_FOR_DEFAULT:
        return Family.LOGISTIC
    return Family.LINEAR


def prepare(
    reference: pd.DataFrame,
    shifted: pd.DataFrame,
    *,
    target: str | None = None,
    features: list[str] | None = None,
    exclude: list[str] | None = None,
    family: Family | None = None,
    names: tuple[str, str] = ("reference", "shifted"),
) -> Pair:
    """Validate and encode a reference/shifted pair.

    Raises
    ------
    ColumnError, InputError
        With a one-line message naming the file, the column and the fix.
    """
    import pandas as pd

    for frame, name in zip((reference, shifted), names):
        if frame.shape[0] == 0:
            raise InputError(f"{name}: the file has a header but no data rows.")
    for frame, name in zip((reference, shifted), names):
        _check_columns(frame, name, [], {})  # duplicate names first: they confuse what follows
    target, notes = resolve_target(list(reference.columns), target, names[0])
    feature_columns = resolve_features(list(reference.columns), target, features, exclude, names[0])
    what = {target: "the target"}
    for frame, name in zip((reference, shifted), names):
        _check_columns(frame, name, [target, *feature_columns], what)
        refuse_nested(nested_in_frame(frame, [target, *feature_columns]), target,
                      feature_columns, name)
    if features is None:
        known = set(reference.columns)
        extra = [str(c) for c in shifted.columns if c not in known]
        if extra:
            notes.append(f"{names[1]}: columns not in {names[0]} are ignored: {', '.join(extra)}")
    feature_columns, empty_notes = _empty_columns((reference, shifted), names, target, feature_columns)
    notes += empty_notes

    categorical_features = []
    text_columns = [_text_columns(frame) for frame in (reference, shifted)]
    for column in feature_columns:
        kinds = [column in text for text in text_columns]
        if kinds[0] != kinds[1]:
            numeric_name, text_name = (names[0], names[1]) if kinds[1] else (names[1], names[0])
            stray = _stray_text((shifted if kinds[1] else reference)[column])
            if stray is not None:
                raise stray_values(column, numeric_name, text_name, stray)
            raise type_mismatch(column, kinds, names)
        if kinds[0]:
            categorical_features.append(column)
    if family is not Family.LINEAR:  # linear refuses a text target itself
        _check_target_kinds(reference[target], shifted[target],
                            [target in text for text in text_columns], names, target)

    used = [*feature_columns, target]
    # the target's type may differ between the files (labels 0/1 in one, "0"/"1" in the other):
    # it is numeric only when it is numeric in both
    numeric_set = {
        c for c in used if c not in categorical_features
        and not any(c in text for text in text_columns)
    }
    kept = []
    for frame, name in zip((reference, shifted), names):
        keep = _usable_rows(frame, used, numeric_set)
        if not keep.any():
            worst, count = _most_missing(frame, used, numeric_set)
            raise InputError(
                f"{name}: every row has a missing or infinite value in the used columns (most"
                f" often in '{worst}': {count} of {len(keep)} rows); fill them in or pass"
                f" --exclude {worst}."
            )
        numbers = [c for c in used if c in numeric_set]
        infinite = np.isinf(frame[numbers].to_numpy(dtype=float, na_value=np.nan)).any(axis=0)
        infinite = [str(c) for c, found in zip(numbers, infinite) if found]
        if infinite:
            notes.append(
                f"{name}: infinite values in {', '.join(map(repr, infinite))} count as missing"
            )
        kept.append(frame.loc[keep, used] if not keep.all() else frame[used])
        dropped = int((~keep).sum())
        if dropped:
            notes.append(f"{name}: dropped {dropped} of {len(keep)} rows with missing values")
    ref, new = kept

    family = family or default_family(ref[target], new[target])
    y_ref, y_new, classes = _encode_target(ref[target], new[target], family, names, target,
                                           (reference[target], shifted[target]))

    # encoded features, in the order given; categories from the reference only
    blocks_ref, blocks_new, feature_names = [], [], []
    unseen: dict[str, int] = {}
    numeric_features = [c for c in feature_columns if c not in categorical_features]
    numeric_blocks = [frame[numeric_features].to_numpy(dtype=float) for frame in (ref, new)]
    position = {column: j for j, column in enumerate(numeric_features)}
    for column in feature_columns:
        if column in categorical_features:
            order = _category_order(ref[column])
            if len(order) > MAX_LEVELS:
                raise ColumnError(
                    f"{names[0]}: column '{column}' has {len(order):,} categories, more than"
                    f" {MAX_LEVELS:,}: one-hot encoding would add a parameter for each. Pass"
                    f" --exclude {column} (an identifier is no feature), or group its values"
                    " into fewer categories."
                )
            ref_text, new_text = ref[column].astype(str), new[column].astype(str)
            for level in order[1:]:
                blocks_ref.append((ref_text == level).to_numpy(dtype=float))
                blocks_new.append((new_text == level).to_numpy(dtype=float))
                feature_names.append(f"{column}={level}")
            missing = int((~new_text.isin(order)).sum())
            if missing:
                unseen[column] = missing
                notes.append(
                    f"{names[1]}: {missing} rows have a '{column}' category unseen in {names[0]};"
                    f" encoded as its most frequent category '{order[0]}'"
                )
        else:
            blocks_ref.append(numeric_blocks[0][:, position[column]])
            blocks_new.append(numeric_blocks[1][:, position[column]])
            feature_names.append(str(column))
    if not feature_names:
        raise ColumnError(
            f"{names[0]}: the categorical features have a single category each, so nothing is"
            " left to fit; add features."
        )

    numeric_names = [c for c in used if c in numeric_set]
    categorical_names = [c for c in used if c not in numeric_set]
    sides = []
    for frame, y, original, name, n_unseen in (
        (ref, y_ref, reference, names[0], {}),
        (new, y_new, shifted, names[1], unseen),
    ):
        blocks = blocks_ref if frame is ref else blocks_new
        sides.append(
            Side(
                name=name,
                X=np.column_stack(blocks),
                y=y,
                numeric=frame[numeric_names].to_numpy(dtype=float) if numeric_names
                else np.empty((len(frame), 0)),
                categorical=tuple(
                    pd.factorize(frame[c].astype(str), sort=True)[0].astype(np.int64)
                    for c in categorical_names
                ),
                rows_read=int(original.shape[0]),
                rows_dropped=int(original.shape[0] - frame.shape[0]),
                unseen=n_unseen,
            )
        )
    return Pair(
        reference=sides[0],
        shifted=sides[1],
        target=str(target),
        family=family,
        feature_columns=tuple(map(str, feature_columns)),
        feature_names=tuple(feature_names),
        numeric_names=tuple(map(str, numeric_names)),
        categorical_names=tuple(map(str, categorical_names)),
        classes=classes,
        notes=tuple(notes),
    )
