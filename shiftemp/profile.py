"""Reference profiles: a dataset's sufficient statistics, saved once and compared against many times.

``shiftemp profile DATA -o reference.shiftemp`` reads the reference once and saves what
``compare`` needs of it; ``shiftemp compare reference.shiftemp new.parquet`` then reads only the new
data and gives the report that comparing the raw files gives (the same numbers; for
linear/MSE to 1e-9 relative). Profiles of partitions merge into the profile of their union.

The format (docs/streaming.md, "Profiles") is a zip archive, never pickled and never executed:

- ``profile.json``: ``format`` ("shiftemp-profile"), ``version`` (:data:`VERSION`), the options
  and column layout, the categories of each categorical column, the classes, provenance (path,
  format, SHA-256 and row counts of the data), notes, and for reading by people the fitted
  model's energy and the data entropy;
- one ``.npy`` file per array, read with ``allow_pickle=False``: the moments (``count`` in the
  JSON, ``mean.npy``, ``comoment.npy``), the numeric ranges (``low.npy``, ``high.npy``), the
  category counts (``counts_<j>.npy``), the spread sample (``sample_keys.npy``,
  ``sample_numeric.npy``, ``sample_codes.npy``), the distinct values of a numeric target
  (``target_values.npy``), the fitted parameters (``params.npy``) and, for a logistic model, its
  curvature (``curvature.npy``).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import io as _bytes
import json
import math
from typing import Any

import numpy as np

from . import __version__, io
from .dataset import MAX_CLASSES
from .energy import level_hashes, spread_size
from .errors import (
    InputError,
    OptionError,
    check_scheduler_engine,
    check_whole,
    column_name,
    column_names,
)
from .models import DEFAULT_RIDGE, LOSSES, Family, Loss, solve_least_absolute, solve_logistic
from .stream import (
    Catalog,
    LocalRunner,
    Moments,
    Reference,
    Settings,
    SideStats,
    SpreadSample,
    _empty_note,
    _fit_reference,
    _own_notes,
    _reference_rows,
    _side_classes,
    check_batch_size,
    make_encoder,
    profile_reference,
    Layout,
)

FORMAT = "shiftemp-profile"
SUFFIX = ".shiftemp"
#: Bumped when a reader of the previous version could not read the new one.
VERSION = 1


def build(data, *, target=None, features=None, exclude=None, model=None, loss=None,
          spread_rows=None, batch_size=None, progress=None, engine: str = "stream",
          scheduler: str | None = None, checksum: bool = True) -> Reference:
    """Read ``data`` (a path or a frame) and return its :class:`Reference` (save it with
    :func:`save`)."""
    check_batch_size(batch_size)
    check_scheduler_engine(engine, scheduler)
    if spread_rows is not None:
        check_whole(spread_rows, "spread-rows", 2)
    target = column_name(target, "target")
    features, exclude = column_names(features, "features"), column_names(exclude, "exclude")
    settings = Settings(target, features, exclude, Family(model) if model else None,
                        Loss(loss) if loss else None, 5, "data", 0, spread_rows)
    if engine == "dask":
        from .distributed import DaskRunner

        with DaskRunner(scheduler, batch_size, progress) as runner:
            return profile_reference(data, settings, runner, checksum=checksum)
    return profile_reference(data, settings, LocalRunner(batch_size, progress), checksum=checksum)


def describe(reference: Reference, path) -> str:
    """One line about a profile: where it was written, of what."""
    stats = reference.stats
    return (
        f"wrote {path}: {stats.rows_used:,} of {stats.rows_read:,} rows of {reference.path},"
        f" {reference.family.value}/{reference.loss.value} on"
        f" {len(reference.encoder.feature_names)} features, target '{reference.layout.target}'"
    )


# --------------------------------------------------------------------------------------------
# writing and reading


def _npy(array: np.ndarray) -> bytes:
    buffer = _bytes.BytesIO()
    np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
    return buffer.getvalue()


#: profile.json is read whole before the layout that bounds the arrays is known: a bound of its
#: own (a million category names fit in it)
JSON_BYTES = 64 << 20
#: An array member's bytes beyond its values: the .npy header (numpy pads it to 64 bytes)
NPY_HEADER_BYTES = 4096


def _invalid(path, what: str) -> InputError:
    return InputError(f"{path}: not a valid shiftemp profile: {what}.")


def _whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


#: What a field of profile.json may hold: a test and its description for the message.
_KINDS = {
    "object": (lambda v: isinstance(v, dict), "an object"),
    "list": (lambda v: isinstance(v, list), "a list"),
    "text": (lambda v: isinstance(v, str), "text"),
    "texts": (lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
              "a list of texts"),
    "flag": (lambda v: isinstance(v, bool), "true or false"),
    "count": (lambda v: _whole(v) and v >= 0, "a whole number >= 0"),
    "number": (lambda v: _number(v) and v >= 0, "a finite number >= 0"),
}


def _field(data: dict, key: str, kind: str, path, where: str = "profile.json",
           nullable: bool = False):
    """``data[key]``, refused unless it is of ``kind`` (a key of :data:`_KINDS`)."""
    if key not in data:
        raise _invalid(path, f"{where} lacks '{key}'")
    value = data[key]
    test, described = _KINDS[kind]
    if not (test(value) or (nullable and value is None)):
        shown = repr(value)
        shown = shown if len(shown) <= 40 else shown[:37] + "..."
        raise _invalid(path, f"'{key}' in {where} is {shown}, not {described}"
                             f"{' or null' if nullable else ''}")
    return value


def _distinct(values: list, what: str, path) -> None:
    if len(set(values)) != len(values):
        raise _invalid(path, f"{what} names a column or category twice")


def _read_layout(data, path) -> Layout:
    """The layout of profile.json, refused unless its roles are consistent: the target and the
    features, split into numeric then categorical columns in the order the arrays use."""
    where = "the layout"
    fields = {f.name for f in dataclasses.fields(Layout)}
    if set(data) != fields:
        raise _invalid(path, f"{where} has the keys {sorted(data)}, not {sorted(fields)}")
    target = _field(data, "target", "text", path, where)
    values = {key: _field(data, key, "texts", path, where) for key in fields - {"target"}}
    features, numeric = values["feature_columns"], values["numeric_names"]
    used = [*features, target]
    for key in ("feature_columns", "numeric_names", "categorical_names"):
        _distinct(values[key], f"the layout's {key}", path)
    if not features or target in features:
        raise _invalid(path, "the layout has no feature columns, or the target among them")
    categorical = [c for c in used if c not in set(numeric)]
    if (numeric != [c for c in used if c in set(numeric)]
            or values["categorical_names"] != categorical
            or values["categorical_features"] != [c for c in features if c in set(categorical)]):
        raise _invalid(path, "the layout's numeric and categorical columns do not split its"
                             " target and features")
    return Layout.from_dict(data)


def _read_meta(members: dict[str, bytes], path) -> dict:
    """profile.json, checked field by field (its arrays are checked against it later)."""
    if "profile.json" not in members:
        raise InputError(f"{path}: not a shiftemp profile (no profile.json inside).")
    try:
        meta = json.loads(members["profile.json"])
    except (ValueError, RecursionError) as exc:
        raise InputError(f"{path}: profile.json is not valid JSON: {exc}") from exc
    if not isinstance(meta, dict):
        raise InputError(f"{path}: not a shiftemp profile (profile.json holds no JSON object).")
    if meta.get("format") != FORMAT:
        raise InputError(f"{path}: not a shiftemp profile (format {meta.get('format')!r}).")
    version = meta.get("version")
    if not (_whole(version) and version == VERSION):
        raise InputError(
            f"{path}: profile format version {version!r} is not supported by shiftemp"
            f" {__version__} (it reads version {VERSION}); rebuild the profile with shiftemp profile."
        )
    for key, kind in (("layout", "object"), ("source", "object"), ("options", "object"),
                      ("columns", "texts"),
                      ("model", "object"), ("categories", "list"), ("indicators", "list"),
                      ("count", "count"), ("target_null", "flag"), ("numeric_target", "flag"),
                      ("target_top", "number"), ("present", "list"), ("infinite", "list"),
                      ("spread_rows", "count"), ("notes", "texts")):
        _field(meta, key, kind, path)
    _field(meta, "classes", "texts", path, nullable=True)
    if meta.get("empty") is not None:  # absent in the first profiles written
        _field(meta, "empty", "texts", path)
    source, options, model = meta["source"], meta["options"], meta["model"]
    for key in ("path", "format", "sha256"):
        _field(source, key, "text", path, "the source")
    for key in ("rows", "rows_used", "rows_dropped"):
        _field(source, key, "count", path, "the source")
    for key in ("features", "exclude"):
        _field(options, key, "texts", path, "the options", nullable=True)
    _field(options, "target", "text", path, "the options", nullable=True)
    _field(model, "features", "texts", path, "the model")
    _field(model, "energy", "number", path, "the model")
    family = _field(model, "family", "text", path, "the model")
    loss = _field(model, "loss", "text", path, "the model")
    if family not in (Family.LINEAR.value, Family.LOGISTIC.value):
        raise _invalid(path, f"model family {family!r} (a profile holds a linear or logistic model)")
    if loss not in [item.value for item in LOSSES[Family(family)]]:
        raise _invalid(path, f"loss {loss!r} does not go with the {family} model")
    if source["rows_used"] != source["rows"] - source["rows_dropped"] or source["rows_used"] < 1:
        raise _invalid(path, "the source's rows, rows used and rows dropped do not add up")
    if meta["count"] != source["rows_used"]:
        raise _invalid(path, f"'count' is {meta['count']}, not the {source['rows_used']} rows used")
    if meta["spread_rows"] < 2:
        raise _invalid(path, "'spread_rows' is below 2")
    return meta


def _check_columns(meta: dict, layout: Layout, path) -> None:
    """The per-column lists of profile.json against the layout."""
    a, b = len(layout.numeric_names), len(layout.categorical_names)
    source = meta["source"]
    columns, empty = meta["columns"], meta.get("empty") or []
    _distinct(columns, "'columns'", path)
    if not set(layout.used) | set(empty) <= set(columns) or set(empty) & set(layout.used):
        raise _invalid(path, "'columns' lacks a column of the layout, or 'empty' names a used one")
    if meta["model"]["family"] == Family.LINEAR.value and not layout.target_numeric:
        raise _invalid(path, f"a linear model of the text target '{layout.target}'")
    categories = meta["categories"]
    if len(categories) != b or not all(_KINDS["texts"][0](names) for names in categories):
        raise _invalid(path, f"'categories' is not {b} lists of texts, one per categorical column")
    for j, names in enumerate(categories):
        _distinct(names, f"categories[{j}]", path)
    present, infinite = meta["present"], meta["infinite"]
    if len(present) != a + b or not all(
        _whole(v) and source["rows_used"] <= v <= source["rows"] for v in present
    ):
        raise _invalid(path, f"'present' is not {a + b} counts of values between the rows used"
                             " and the rows read")
    if len(infinite) != a or not all(isinstance(v, bool) for v in infinite):
        raise _invalid(path, f"'infinite' is not {a} flags, one per numeric column")
    indicators = meta["indicators"]
    expected = {
        (layout.categorical_names.index(column), code)
        for column in layout.categorical_features
        for code in range(len(categories[layout.categorical_names.index(column)]))
    }
    pairs = [tuple(pair) for pair in indicators if isinstance(pair, list)]
    if not all(len(pair) == 2 and all(_whole(v) for v in pair) for pair in pairs) or (
        len(pairs) != len(indicators) or len(set(pairs)) != len(pairs) or set(pairs) != expected
    ):
        raise _invalid(path, "'indicators' are not the categorical features' categories")


def _limits(meta: dict, layout: Layout) -> dict[str, int]:
    """The largest size in bytes of each array member the layout allows (a zip bomb stops at
    it)."""
    a, b = len(layout.numeric_names), len(layout.categorical_names)
    m = a + len(meta["indicators"])
    k = min(meta["spread_rows"], meta["count"])
    q = (len(meta["model"]["features"]) + 1) * max(len(meta["classes"] or ()) - 1, 1)
    values = {"mean": m, "comoment": m * m, "low": a, "high": a, "sample_keys": k,
              "sample_numeric": k * a, "sample_codes": k * b, "params": q, "curvature": q * q,
              "target_values": MAX_CLASSES}
    values |= {f"counts_{j}": len(names) for j, names in enumerate(meta["categories"])}
    return {f"{name}.npy": NPY_HEADER_BYTES + 8 * count for name, count in values.items()}


def _array(members: dict[str, bytes], name: str, path, kind: str = "f",
           shape: tuple = (None,), optional: bool = False) -> np.ndarray | None:
    """Array ``name`` of the profile: 8-byte values of dtype ``kind`` (f, i or u; floats
    finite), of ``shape`` (None: any length)."""
    if name not in members:
        if optional:
            return None
        raise _invalid(path, f"it lacks {name}")
    try:
        array = np.load(_bytes.BytesIO(members[name]), allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        # numpy's reason is about pickles whatever the bytes are: not repeated
        raise _invalid(path, f"{name} is not a .npy array of numbers") from exc
    if array.dtype.kind != kind or array.dtype.itemsize != 8:
        raise _invalid(path, f"{name} holds {array.dtype} values, not 8-byte"
                             f" {dict(f='floats', i='integers', u='unsigned integers')[kind]}")
    if array.ndim != len(shape) or any(
        want is not None and got != want for got, want in zip(array.shape, shape)
    ):
        wanted = tuple("any" if want is None else want for want in shape)
        raise _invalid(path, f"{name} has the shape {array.shape}, not {wanted}")
    if kind == "f" and not np.isfinite(array).all():
        raise _invalid(path, f"{name} holds a value that is not finite")
    return array.astype(array.dtype.newbyteorder("="), copy=False)


def to_members(reference: Reference) -> dict[str, bytes]:
    """The archive members (name: bytes) of a profile."""
    stats = reference.stats
    stats.sample.compact()
    meta: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "shiftemp_version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "source": {
            "path": reference.path, "format": reference.format, "sha256": reference.sha256,
            "rows": stats.rows_read, "rows_used": stats.rows_used,
            "rows_dropped": stats.rows_dropped,
        },
        "options": reference.options,
        "columns": list(reference.columns),
        "layout": reference.layout.to_dict(),
        "model": {"family": reference.family.value, "loss": reference.loss.value,
                  "ridge": DEFAULT_RIDGE[reference.family],
                  "features": list(reference.encoder.feature_names),
                  "energy": reference.energy_sum / stats.rows_used},
        "classes": list(reference.classes) if reference.classes else None,
        "categories": [list(names) for names in stats.catalog.names],
        "indicators": [list(pair) for pair in stats.onehot],
        "count": stats.moments.count,
        "target_null": bool(stats.target_null),
        "numeric_target": bool(stats.catalog.numeric_target),
        "target_top": float(stats.target_top),
        "present": [int(v) for v in stats.present],
        "infinite": [bool(v) for v in stats.infinite],
        "spread_rows": int(stats.sample.capacity),
        "notes": list(reference.notes),
        "empty": list(reference.empty),
    }
    members = {"profile.json": json.dumps(meta, indent=2, ensure_ascii=False).encode()}
    arrays = {
        "mean": stats.moments.mean, "comoment": stats.moments.comoment,
        "low": stats.low, "high": stats.high,
        "sample_keys": stats.sample.keys, "sample_numeric": stats.sample.numeric_t.T,
        "sample_codes": stats.sample.codes_t.T, "params": reference.params,
    }
    for j, counts in enumerate(stats.counts):
        arrays[f"counts_{j}"] = counts
    if stats.target_values is not None:
        arrays["target_values"] = stats.target_values
    if reference.curvature is not None:
        arrays["curvature"] = reference.curvature
    for name, array in arrays.items():
        members[f"{name}.npy"] = _npy(np.asarray(array))
    return members


def save(reference: Reference, path) -> None:
    """Write ``reference`` as a profile at ``path`` (atomically)."""
    io.write_bytes(path, to_members(reference))


def load(path) -> Reference:
    """Read a profile written by :func:`save`.

    Every field and array is checked against the layout (kinds, shapes, finite values, counts
    that add up): a damaged or edited profile is refused with an :class:`InputError` naming it,
    never read into a report.
    """
    meta = _read_meta(io.read_members(path, {"profile.json": JSON_BYTES}), path)
    layout = _read_layout(meta["layout"], path)
    _check_columns(meta, layout, path)
    members = io.read_members(path, _limits(meta, layout))
    a, b = len(layout.numeric_names), len(layout.categorical_names)
    m, rows_used = a + len(meta["indicators"]), meta["count"]
    source = meta["source"]
    stats = SideStats(layout, meta["spread_rows"])
    catalog = Catalog(b)
    for j, names in enumerate(meta["categories"]):
        catalog.index[j] = {name: code for code, name in enumerate(names)}
        catalog.names[j] = list(names)
        catalog.hashes[j] = level_hashes(names) if names else np.zeros(0, dtype=np.uint64)
    stats.catalog = catalog
    stats.counts = [
        _array(members, f"counts_{j}.npy", path, "i", (len(names),))
        for j, names in enumerate(meta["categories"])
    ]
    if any(counts.min(initial=0) < 0 or counts.sum() != rows_used for counts in stats.counts):
        raise _invalid(path, "a column's category counts do not add up to the rows used")
    stats.low = _array(members, "low.npy", path, "f", (a,))
    stats.high = _array(members, "high.npy", path, "f", (a,))
    if (stats.low > stats.high).any():
        raise _invalid(path, "a numeric column's low is above its high")
    stats.rows_read, stats.rows_dropped = source["rows"], source["rows_dropped"]
    stats.target_null = meta["target_null"]
    stats.target_values = _array(members, "target_values.npy", path, optional=True)
    if stats.target_values is not None and (
        stats.target_values.size > MAX_CLASSES or (np.diff(stats.target_values) <= 0).any()
    ):
        raise _invalid(path, f"target_values.npy is not at most {MAX_CLASSES} distinct sorted"
                             " values")
    stats.onehot = [tuple(pair) for pair in meta["indicators"]]
    stats._onehot_index = {pair: a + i for i, pair in enumerate(stats.onehot)}
    stats.moments = Moments(rows_used, _array(members, "mean.npy", path, "f", (m,)),
                            _array(members, "comoment.npy", path, "f", (m, m)))
    sample = SpreadSample(meta["spread_rows"], a, b)
    sample.keys = _array(members, "sample_keys.npy", path, "u")
    k = sample.keys.size
    unsorted = (sample.keys[1:] < sample.keys[:-1]).any()
    if unsorted or not 1 <= k <= min(meta["spread_rows"], rows_used):
        raise _invalid(path, "sample_keys.npy is not a sorted sample of the rows used")
    sample.numeric_t = _array(members, "sample_numeric.npy", path, "f", (k, a)).T.copy()
    codes = _array(members, "sample_codes.npy", path, "i", (k, b))
    if any(((codes[:, j] < 0) | (codes[:, j] >= len(names))).any()
           for j, names in enumerate(meta["categories"])):
        raise _invalid(path, "sample_codes.npy holds a code of no category")
    sample.codes_t = codes.T.copy()
    stats.sample = sample
    stats.catalog.numeric_target = meta["numeric_target"]
    stats.target_top = float(meta["target_top"])
    stats.present = np.array(meta["present"], dtype=np.int64)
    stats.infinite = np.array(meta["infinite"], dtype=bool)
    stats.name = source["path"]
    family, loss = Family(meta["model"]["family"]), Loss(meta["model"]["loss"])
    classes = tuple(meta["classes"]) if meta["classes"] else None
    _check_classes(stats, layout, family, classes, path)
    reference = Reference(
        path=source["path"], format=source["format"], sha256=source["sha256"], layout=layout,
        family=family, loss=loss, stats=stats, classes=classes,
        energy_sum=float(meta["model"]["energy"]) * rows_used,
        notes=tuple(meta["notes"]), options=dict(meta["options"]), columns=tuple(meta["columns"]),
        empty=tuple(meta.get("empty") or ()),
    )
    reference.encoder = make_encoder(layout, family, stats, classes, source["path"])
    if list(reference.encoder.feature_names) != meta["model"]["features"]:
        raise _invalid(path, "the model's features are not those its category counts give")
    p = reference.encoder.p
    shape = (p,) if family is Family.LINEAR else (p, len(classes) - 1)
    reference.params = _array(members, "params.npy", path, "f", shape)
    q = reference.params.size
    reference.curvature = _array(members, "curvature.npy", path, "f", (q, q),
                                 optional=family is Family.LINEAR)
    reference.profile_path = str(path)
    return reference


def _check_classes(stats: SideStats, layout: Layout, family: Family, classes, path) -> None:
    """A logistic profile's classes are its target's values; a linear one has none."""
    if family is Family.LINEAR:
        if classes is not None:
            raise _invalid(path, "a linear model with classes")
        return
    try:
        found = _side_classes(stats, layout)
    except ValueError:  # a numeric target's category that is no number
        found = None
    if found is None or classes is None or len(classes) < 2 or sorted(set(found)) != list(classes):
        raise _invalid(path, "the classes are not the target's values in the reference")


# --------------------------------------------------------------------------------------------
# merging partitions


def _settings(reference: Reference) -> dict[str, Any]:
    """What profiles must share to merge, each as compare would read it (the order of the
    columns named by --features or --exclude does not change a report)."""
    layout, options = reference.layout, reference.options
    as_set = lambda names: None if names is None else frozenset(names)  # noqa: E731
    return {
        "--target": layout.target,
        "feature columns": layout.feature_columns,
        "categorical features": layout.categorical_features,
        "target's kind": layout.target_numeric,
        "--model": reference.family.value,
        "--loss": reference.loss.value,
        "--features": as_set(options.get("features")),
        "--exclude": as_set(options.get("exclude")),
    }


def _check_mergeable(first: Reference, other: Reference) -> None:
    names = [getattr(r, "profile_path", r.path) for r in (other, first)]
    mine, theirs = _settings(first), _settings(other)
    for what in mine:
        if mine[what] != theirs[what]:
            shown = [sorted(v) if isinstance(v, frozenset) else list(v) if isinstance(v, tuple)
                     else v for v in (theirs[what], mine[what])]
            raise OptionError(
                f"{names[0]} and {names[1]} differ in {what} ({shown[0]} vs {shown[1]}); only"
                " profiles of the same columns and options merge: profile every partition with"
                " the same options."
            )


def merge(references: list[Reference], spread_rows: int | None = None,
          batch_size: int | None = None) -> Reference:
    """The profile of the union of the partitions profiled in ``references``.

    Moments merge by Chan's formulas, category counts add, the spread samples merge into the
    bottom M of their union. The old model is refitted: exactly from the merged moments for
    linear/MSE; on the merged spread sample for logistic and MAE (exact when the union has at
    most M rows; a note says so otherwise). ``batch_size`` is checked as ``profile`` checks it
    (the profiles are read whole).
    """
    if len(references) < 2:
        raise OptionError("--merge needs at least two profiles.")
    if batch_size is not None:
        check_batch_size(batch_size)
    first = references[0]
    for other in references[1:]:
        _check_mergeable(first, other)
    stats = first.stats
    for other in references[1:]:
        stats = stats.merge(other.stats)
    family, loss, layout = first.family, first.loss, first.layout
    classes = None
    if family is Family.LOGISTIC:
        classes = tuple(sorted(set().union(*(set(r.classes) for r in references))))
    encoder = make_encoder(layout, family, stats, classes)
    capacity = spread_size(encoder.p, spread_rows if spread_rows else stats.sample.capacity)
    stats.sample.truncate(capacity)
    stats.sample.compact()
    path = " + ".join(r.path for r in references)
    empty = tuple(dict.fromkeys(c for r in references for c in r.empty))
    # the notes on empty columns name the file they are empty in: now the union
    stale = {_empty_note(c, r.path) for r in references for c in r.empty}
    notes = (*(n for n in layout.notes if n not in stale), *(_empty_note(c, path) for c in empty))
    layout = dataclasses.replace(layout, notes=notes)
    reference = Reference(
        path=path, format="merged profiles", sha256="", layout=layout, family=family, loss=loss,
        stats=stats, classes=classes, notes=notes + _own_notes(stats, path),
        options=first.options, columns=first.columns, empty=empty,
    )
    reference.encoder = encoder
    ridge = DEFAULT_RIDGE[family]
    if family is Family.LINEAR and loss is Loss.MSE:
        _fit_reference(reference, None, None, None)  # exact, from the merged moments
        return reference
    D, y = _reference_rows(reference)
    if family is Family.LINEAR:
        reference.params = solve_least_absolute(D, y, ridge)
    else:
        reference.params = solve_logistic(D, y, len(classes), ridge)
        from .models import class_probabilities, fisher_information

        P = class_probabilities(D, reference.params)
        reference.curvature = fisher_information(D, P) + ridge * np.eye(reference.params.size)
    model = encoder.model(loss, reference.params)
    reference.energy_sum = float(model.loss_per_row_design(D, y).mean()) * stats.rows_used
    if stats.rows_used > D.shape[0]:
        reference.notes = (*reference.notes, (
            f"merged profile: the {family.value}/{loss.value} model was refitted on a spread"
            f" sample of {D.shape[0]:,} of {stats.rows_used:,} rows (a profile of the whole data"
            " fits it on every row)"
        ))
    return reference
