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

import datetime as _dt
import io as _bytes
import json
from typing import Any

import numpy as np

from . import __version__, io
from .energy import level_hashes, spread_size
from .errors import (
    InputError,
    OptionError,
    check_scheduler_engine,
    check_whole,
    column_name,
    column_names,
)
from .models import DEFAULT_RIDGE, Family, Loss, solve_least_absolute, solve_logistic
from .stream import (
    Catalog,
    LocalRunner,
    Moments,
    Reference,
    Settings,
    SideStats,
    SpreadSample,
    _fit_reference,
    _own_notes,
    _reference_rows,
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


def _array(members: dict[str, bytes], name: str, path) -> np.ndarray:
    if name not in members:
        raise InputError(f"{path}: the profile lacks {name}; it is damaged or not a profile.")
    try:
        return np.load(_bytes.BytesIO(members[name]), allow_pickle=False)
    except ValueError as exc:
        raise InputError(f"{path}: {name} in the profile cannot be read: {exc}") from exc


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
    """Read a profile written by :func:`save`."""
    members = io.read_members(path)
    if "profile.json" not in members:
        raise InputError(f"{path}: not a shiftemp profile (no profile.json inside).")
    try:
        meta = json.loads(members["profile.json"])
    except ValueError as exc:
        raise InputError(f"{path}: profile.json is not valid JSON: {exc}") from exc
    if meta.get("format") != FORMAT:
        raise InputError(f"{path}: not a shiftemp profile (format {meta.get('format')!r}).")
    if meta.get("version") != VERSION:
        raise InputError(
            f"{path}: profile format version {meta.get('version')} is not supported by shiftemp"
            f" {__version__} (it reads version {VERSION}); rebuild the profile with shiftemp profile."
        )
    layout = Layout.from_dict(meta["layout"])
    stats = SideStats(layout, int(meta["spread_rows"]))
    catalog = Catalog(len(layout.categorical_names))
    for j, names in enumerate(meta["categories"]):
        catalog.index[j] = {name: code for code, name in enumerate(names)}
        catalog.names[j] = list(names)
        catalog.hashes[j] = level_hashes(names) if names else np.zeros(0, dtype=np.uint64)
    stats.catalog = catalog
    stats.counts = [_array(members, f"counts_{j}.npy", path) for j in range(len(meta["categories"]))]
    stats.low, stats.high = _array(members, "low.npy", path), _array(members, "high.npy", path)
    source = meta["source"]
    stats.rows_read, stats.rows_dropped = int(source["rows"]), int(source["rows_dropped"])
    stats.target_null = bool(meta["target_null"])
    stats.target_values = (
        _array(members, "target_values.npy", path) if "target_values.npy" in members else None
    )
    stats.onehot = [tuple(pair) for pair in meta["indicators"]]
    a = len(layout.numeric_names)
    stats._onehot_index = {pair: a + i for i, pair in enumerate(stats.onehot)}
    stats.moments = Moments(int(meta["count"]), _array(members, "mean.npy", path),
                            _array(members, "comoment.npy", path))
    sample = SpreadSample(int(meta["spread_rows"]), a, len(layout.categorical_names))
    sample.keys = _array(members, "sample_keys.npy", path)
    sample.numeric_t = _array(members, "sample_numeric.npy", path).T.copy()
    sample.codes_t = _array(members, "sample_codes.npy", path).T.copy()
    stats.sample = sample
    stats.catalog.numeric_target = bool(meta["numeric_target"])
    stats.target_top = float(meta["target_top"])
    stats.present = np.array(meta["present"], dtype=np.int64)
    stats.infinite = np.array(meta["infinite"], dtype=bool)
    stats.name = source["path"]
    family, loss = Family(meta["model"]["family"]), Loss(meta["model"]["loss"])
    classes = tuple(meta["classes"]) if meta["classes"] else None
    reference = Reference(
        path=source["path"], format=source["format"], sha256=source["sha256"], layout=layout,
        family=family, loss=loss, stats=stats, classes=classes,
        params=_array(members, "params.npy", path),
        energy_sum=float(meta["model"]["energy"]) * stats.rows_used,
        curvature=_array(members, "curvature.npy", path) if "curvature.npy" in members else None,
        notes=tuple(meta["notes"]), options=meta["options"], columns=tuple(meta["columns"]),
    )
    reference.encoder = make_encoder(layout, family, stats, classes, source["path"])
    reference.profile_path = str(path)
    return reference


# --------------------------------------------------------------------------------------------
# merging partitions


def merge(references: list[Reference], spread_rows: int | None = None) -> Reference:
    """The profile of the union of the partitions profiled in ``references``.

    Moments merge by Chan's formulas, category counts add, the spread samples merge into the
    bottom M of their union. The old model is refitted: exactly from the merged moments for
    linear/MSE; on the merged spread sample for logistic and MAE (exact when the union has at
    most M rows; a note says so otherwise).
    """
    if len(references) < 2:
        raise OptionError("--merge needs at least two profiles.")
    first = references[0]
    for other in references[1:]:
        for what, mine, theirs in (
            ("columns", first.layout, other.layout), ("model", first.family, other.family),
            ("loss", first.loss, other.loss), ("options", first.options, other.options),
        ):
            if mine != theirs:
                raise OptionError(
                    f"{other.path} and {first.path} were profiled with different {what}"
                    f" ({theirs} vs {mine}); only profiles of the same columns and options merge."
                )
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
    reference = Reference(
        path=path, format="merged profiles", sha256="", layout=layout, family=family, loss=loss,
        stats=stats, classes=classes, notes=first.layout.notes + _own_notes(stats, path),
        options=first.options, columns=first.columns,
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
