"""The streaming engine: ``compare`` in bounded memory, one pass over each input for linear/MSE.

Each input is read in Arrow record batches. What a pass keeps is a set of sufficient statistics
whose size depends on the number of columns, never on the number of rows, and which *merge*
(two partitions' statistics combine into those of their union), so that the Dask engine
(:mod:`shiftemp.distributed`) maps the same accumulators over partitions and reduces them:

- the reference: its row counts, per-column category counts, numeric ranges, and the means and
  co-moments (centred cross products) of its numeric columns and of one indicator column per
  category, merged batch to batch with Chan's parallel formulas;
- the shifted data (linear family): per-fold augmented Gram matrices ``[1 Z y]'[1 Z y]`` in the
  reference's standardisation, the folds being a hash of each row's content
  (:func:`shiftemp.energy.fold_ids`), hence independent of batch boundaries;
- both: the *spread sample*, the ``M`` rows with the smallest content hash
  (:func:`shiftemp.energy.spread_keys`), kept as a bottom-M buffer.

Means come from the exact statistics: every energy of a linear/MSE model is ``b~' G b~ / n``,
the fold models come from ``G - G_fold``, the data entropy from the co-moments. Spreads (standard
errors, influence values, the shrinkage's fourth moment) come from the spread sample, exactly as
in the in-memory engine, which uses the same sample; on data with at most ``M`` rows the sample
is every row. Logistic/CE needs passes: a warm start fitted on the spread sample, then chord
Newton passes over the data with a fixed Hessian, all K + 1 models of the shifted data advanced
in the same pass. MAE: the models are fitted on the spread sample and their energies measured
exactly in one more pass. docs/streaming.md has the details and the convergence criterion.
"""

from __future__ import annotations

import dataclasses
import os
import queue
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Optional

import numpy as np
import pyarrow as pa

# scipy is imported where the logistic path uses it, pandas only to name non-text categories
# (pyarrow's own conversions to numpy import it; see io.float_values): a linear/MSE pass over
# numeric columns needs neither, and their imports would be most of the wall time of a small run
from . import interrupt, io
from .dataset import (
    MAX_CLASSES,
    MAX_CLASSES_FOR_DEFAULT,
    MAX_LEVELS,
    check_column_names,
    check_target_magnitude,
    empty_in_schema,
    mixed_target,
    nested_in_schema,
    not_numbers,
    rare_classes_note,
    refuse_nested,
    resolve_features,
    resolve_target,
    schema_kinds,
    stray_values,
    target_type_mismatch,
    type_mismatch,
)
from .energy import (
    QUANTUM,
    RowHash,
    estimate_from_sample,
    finish_folds,
    finish_spread,
    fold_hash,
    fold_ids_t,
    level_hashes,
    spread_hash,
    spread_size,
)
from .entropy import (
    DataSummary,
    data_entropy_change_of,
    laplace_entropy,
    parameter_entropy,
    parameter_entropy_change_of,
)
from .errors import ColumnError, InputError, OptionError
from .models import (
    DEFAULT_RIDGE,
    Family,
    Loss,
    Model,
    _penalty,
    check_loss,
    fisher_information,
    kernel_bandwidth,
    solve_least_absolute,
    solve_least_squares,
    solve_logistic,
)
from .report import Energy

#: ``progress(task, rows_done, rows_total_or_None)``, called after every batch of a pass.
Progress = Callable[[str, int, Optional[int]], None]

#: Convergence of the streaming logistic solver: the (chord) Newton decrement
#: ``g' H^-1 g`` at which the in-memory solver stops too.
NEWTON_TOL = 1e-10
#: Passes after which the streaming logistic solver gives up (and says so in a note).
MAX_PASSES = 60
#: A fold model's mean held-out loss is not the loss it minimises: it moves to first order with
#: the parameters, by at most ``sqrt(h' H^-1 h d)`` for a decrement d (h its gradient). The
#: fold models also stop only when that bound is at most this.
HELD_TOL = 1e-8


# --------------------------------------------------------------------------------------------
# statistics that merge


def two_sum(a, b):
    """``(s, e)``: ``s = fl(a + b)`` and the rounding error, ``s + e = a + b`` exactly (Knuth's
    TwoSum; element-wise on arrays)."""
    s = a + b
    b_part = s - a
    return s, (a - (s - b_part)) + (b - b_part)


@dataclass
class Moments:
    """Count, means (m,) and co-moment (m, m), ``sum (x - mean)(x - mean)'``, of m columns.

    ``low`` (m,) is what rounding left out of ``mean`` (None: nothing), carried through merges:
    the mean of many batches stays the correctly rounded mean of their rows, whatever the
    batches, as the in-memory engine's (:func:`shiftemp.models.accurate_mean`). The reference's
    means centre the fold hash's grid, so on a column far from zero (epoch seconds: 1.7e9, spread
    an hour) a last-bit difference between the engines, or between two row orders, would move
    rows to other folds.
    """

    count: int
    mean: np.ndarray
    comoment: np.ndarray
    low: np.ndarray | None = None

    @classmethod
    def empty(cls, m: int) -> "Moments":
        return cls(0, np.zeros(m), np.zeros((m, m)))

    @classmethod
    def of_rows(cls, values_t: np.ndarray, mean: np.ndarray | None = None) -> "Moments":
        """Moments of the n columns of ``values_t`` (m, n)."""
        n = values_t.shape[1]
        low = None
        if mean is None:
            rough = values_t.mean(axis=1)
            mean, low = two_sum(rough, (values_t - rough[:, None]).mean(axis=1))
        centred = values_t - mean[:, None]
        return cls(n, mean, centred @ centred.T, low)

    def _low(self) -> np.ndarray:
        return np.zeros_like(self.mean) if self.low is None else self.low

    def widen(self, m: int) -> "Moments":
        """Pad to m columns with zero columns (indicators of categories not seen so far)."""
        k = self.mean.shape[0]
        if k == m:
            return self
        mean, low = np.zeros(m), np.zeros(m)
        mean[:k], low[:k] = self.mean, self._low()
        comoment = np.zeros((m, m))
        comoment[:k, :k] = self.comoment
        return Moments(self.count, mean, comoment, low)

    def take(self, index: np.ndarray) -> "Moments":
        """The moments of columns ``index`` (-1: a column of zeros)."""
        widened = self.widen(self.mean.shape[0] + 1)
        return Moments(self.count, widened.mean[index], widened.comoment[np.ix_(index, index)],
                       widened._low()[index])

    def merge(self, other: "Moments") -> "Moments":
        """Chan, Golub and LeVeque's parallel update: the moments of both sets of rows."""
        if other.count == 0:
            return self
        if self.count == 0:
            return other
        a, b = self.count, other.count
        n = a + b
        # the means' difference and the new mean in twice the precision: a plain update rounds
        # at the mean's last bit on every merge
        gap, gap_low = two_sum(other.mean, -self.mean)
        delta = gap + (gap_low + (other._low() - self._low()))
        mean, rounding = two_sum(self.mean, delta * (b / n))
        mean, low = two_sum(mean, self._low() + rounding)
        return Moments(
            n, mean, self.comoment + other.comoment + np.outer(delta, delta) * (a * b / n), low,
        )


class SpreadSample:
    """The ``capacity`` rows with the smallest spread keys seen so far, sorted by key.

    Rows are raw numeric values and category codes, stored column-major: ``numeric_t`` (a, k),
    ``codes_t`` (b, k). New rows wait in a list until they outnumber the buffer, then the union
    is cut back to the bottom ``capacity``: amortised constant work per row, and a result that
    depends neither on row order nor on batches. Rows whose key is above the buffer's largest
    (once it is full) cannot enter it and are not copied.
    """

    def __init__(self, capacity: int, a: int, b: int, rows: int | None = None):
        self.capacity = capacity
        #: With the number of rows known in advance, rows whose key is far above the expected
        #: M-th smallest are not even kept as candidates (the first M rows of a file would be,
        #: otherwise). ``skipped`` counts them: a result short of ``capacity`` rows after
        #: skipping some is not the bottom M, and the pass is run again without the cut.
        self.cut: np.uint64 | None = None
        if rows is not None and rows > 4 * capacity:
            expected = 2 * capacity + 10 * np.sqrt(capacity) + 1000
            self.cut = np.uint64(min(2.0 ** 64 * expected / rows, 2.0 ** 63))
        self.skipped = 0
        self.keys = np.zeros(0, dtype=np.uint64)
        self.numeric_t = np.zeros((a, 0))
        self.codes_t = np.zeros((b, 0), dtype=np.int64)
        self._pending: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self._waiting = 0
        self._threshold: np.uint64 | None = None
        self._sorted = True

    @property
    def numeric(self) -> np.ndarray:
        """(k, a) raw numeric values of the sample's rows."""
        self.compact()
        return self.numeric_t.T

    @property
    def codes(self) -> np.ndarray:
        """(k, b) category codes of the sample's rows."""
        self.compact()
        return self.codes_t.T

    def offer(self, keys: np.ndarray, rows: "Rows") -> None:
        chosen = None
        threshold = self._threshold
        cut = self.cut is not None and (threshold is None or self.cut < threshold)
        if cut:
            threshold = self.cut
        if threshold is not None:
            chosen = np.flatnonzero(keys < threshold)
            if cut:
                self.skipped += keys.size - chosen.size
            if chosen.size == 0:
                return
            keys = keys[chosen]
        else:
            keys = keys.copy()  # the pass reuses its buffer for the next batch's keys
        numeric_t = rows.numeric_block(chosen)
        codes_t = rows.codes if chosen is None else np.take(rows.codes, chosen, axis=1)
        self._pending.append((keys, numeric_t, codes_t))
        self._waiting += keys.size
        if self._waiting >= max(2 * self.capacity, 8192):
            self.compact(final=False)

    def compact(self, final: bool = True) -> "SpreadSample":
        """Cut the buffer and the waiting rows back to the bottom ``capacity`` (``final``: and
        sort it by key)."""
        if self._pending:
            pieces = [(self.keys, self.numeric_t, self.codes_t), *self._pending]
            self._pending, self._waiting = [], 0
            keys = np.concatenate([piece[0] for piece in pieces])
            if keys.size > self.capacity:
                chosen = np.argpartition(keys, self.capacity - 1)[: self.capacity]
                chosen.sort()  # positions in piece order: each piece is one contiguous gather
            else:
                chosen = np.arange(keys.size)
            starts = np.cumsum([0] + [piece[0].size for piece in pieces])
            bounds = np.searchsorted(chosen, starts)
            numeric, codes = [], []
            for i, piece in enumerate(pieces):
                local = chosen[bounds[i]:bounds[i + 1]] - starts[i]
                if local.size == piece[0].size:
                    numeric.append(piece[1])
                    codes.append(piece[2])
                elif local.size:
                    numeric.append(np.take(piece[1], local, axis=1))
                    codes.append(np.take(piece[2], local, axis=1))
            self.keys = keys[chosen]
            self.numeric_t = np.concatenate(numeric, axis=1)
            self.codes_t = np.concatenate(codes, axis=1)
            self._sorted = False
            if self.keys.size >= self.capacity:
                self._threshold = self.keys.max()
        if not self._sorted and final:
            order = np.argsort(self.keys, kind="stable")
            self.keys = self.keys[order]
            self.numeric_t = np.take(self.numeric_t, order, axis=1)
            self.codes_t = np.take(self.codes_t, order, axis=1)
            self._sorted = True
        return self

    @property
    def short(self) -> bool:
        """Whether the cut may have left out rows of the bottom M."""
        self.compact(final=False)
        return self.skipped > 0 and self.keys.size < self.capacity

    def merge(self, other: "SpreadSample", code_maps: list[np.ndarray]) -> "SpreadSample":
        """Absorb ``other``, whose codes map to this sample's through ``code_maps``."""
        other.compact(final=False)  # no need to sort what is cut again here
        self.skipped += other.skipped
        codes_t = other.codes_t.copy()
        for j, mapping in enumerate(code_maps):
            codes_t[j] = mapping[codes_t[j]]
        self._pending.append((other.keys, other.numeric_t, codes_t))
        self._waiting += other.keys.size
        return self.compact(final=False)

    def truncate(self, capacity: int) -> "SpreadSample":
        """Keep the ``capacity`` smallest keys: the bottom-M' of a bottom-M set, M' <= M."""
        self.compact()
        self.capacity = min(self.capacity, capacity)
        self.keys = self.keys[: self.capacity]
        self.numeric_t = self.numeric_t[:, : self.capacity]
        self.codes_t = self.codes_t[:, : self.capacity]
        if self.keys.size >= self.capacity:
            self._threshold = self.keys[-1]
        return self

    def __getstate__(self):
        self.compact()
        return self.__dict__.copy()


class Catalog:
    """The categories of one side's categorical columns, coded in order of appearance."""

    #: whether this side's target column holds numbers (its class labels are then written as
    #: ``dataset._class_labels`` writes them: 1.0 and 1 both as "1")
    numeric_target = False

    def __init__(self, m: int):
        self.index: list[dict[str, int]] = [{} for _ in range(m)]
        self.names: list[list[str]] = [[] for _ in range(m)]
        self.hashes: list[np.ndarray] = [np.zeros(0, dtype=np.uint64) for _ in range(m)]

    def _add(self, j: int, texts: list[str]) -> np.ndarray:
        index, names = self.index[j], self.names[j]
        lookup = np.empty(len(texts) + 1, dtype=np.int64)
        lookup[-1] = -1  # a missing value's index, -1, maps to code -1
        new = []
        for i, text in enumerate(texts):
            code = index.get(text)
            if code is None:
                code = index[text] = len(names)
                names.append(text)
                new.append(text)
            lookup[i] = code
        if new:
            self.hashes[j] = np.concatenate([self.hashes[j], level_hashes(new)])
        return lookup

    def encode(self, j: int, array: pa.Array) -> np.ndarray:
        """Codes (n,) of an Arrow column, -1 where it is missing. Values are named as pandas'
        ``astype(str)`` names them, so that both engines see the same categories."""
        encoded = array if pa.types.is_dictionary(array.type) else array.dictionary_encode()
        dictionary = encoded.dictionary
        if dictionary.null_count == 0 and (
            pa.types.is_string(dictionary.type) or pa.types.is_large_string(dictionary.type)
            or pa.types.is_string_view(dictionary.type)
        ):  # text is named as astype(str) names it, without importing pandas (~0.9 s)
            texts = dictionary.to_pylist()
        else:
            texts = dictionary.to_pandas().astype(str).tolist()
        lookup = self._add(j, texts)
        values, valid = io.buffer_values(encoded.indices)  # pc.fill_null would import pandas
        indices = values.astype(np.int64)
        if valid is not None:
            indices[~valid] = -1
        return lookup[indices]

    def absorb(self, other: "Catalog") -> list[np.ndarray]:
        """Add ``other``'s categories; returns, per column, the map of its codes to ours (with
        -1 mapping to -1 at the end)."""
        maps = []
        for j, names in enumerate(other.names):
            maps.append(self._add(j, names))
        return maps


# --------------------------------------------------------------------------------------------
# the columns: what `dataset.prepare` decides, from the schemas alone


@dataclass(frozen=True)
class Layout:
    """The roles of the columns, decided from the two inputs' schemas as ``prepare`` decides them
    from the frames."""

    target: str
    feature_columns: tuple[str, ...]
    categorical_features: tuple[str, ...]
    numeric_names: tuple[str, ...]
    categorical_names: tuple[str, ...]
    notes: tuple[str, ...]

    @property
    def used(self) -> list[str]:
        return [*self.feature_columns, self.target]

    @property
    def target_numeric(self) -> bool:
        return self.target in self.numeric_names

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict) -> "Layout":
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


def resolve_layout(
    schemas: list[pa.Schema], names: list[str], target: str | None, features: list[str] | None,
    exclude: list[str] | None, time_column: str | None = None,
    scans: list[io.Scan] | None = None,
) -> Layout:
    """The :class:`Layout` of the inputs with ``schemas`` (the first is the reference).
    ``time_column`` orders the rows: checked as the in-memory engine checks it, never a
    feature. ``scans``: the inputs, to name the stray words of a feature that is numeric in one
    and mostly numbers in the other (that column is read)."""
    # column -> categorical, as the frames of the schemas would have them, without pandas
    frames = [schema_kinds(schema) for schema in schemas]
    # a column without a value where its type was inferred (null) takes the other file's kind;
    # whether it is empty is decided once its rows are read, as prepare decides it
    empty = [empty_in_schema(schema) for schema in schemas]
    target, notes = resolve_target(list(frames[0]), target, names[0])
    if time_column is not None:
        from .calibration import check_time_column

        check_time_column(list(frames[0]), time_column, target, names[0])
        exclude = [*(exclude or []), time_column]
    feature_columns = resolve_features(list(frames[0]), target, features, exclude, names[0])
    for frame, schema, name in zip(frames, schemas, names):
        check_column_names(list(frame), name, [target, *feature_columns], {target: "the target"})
        refuse_nested(nested_in_schema(schema), target, feature_columns, name)
    if features is None and len(frames) > 1:
        known = set(frames[0])
        extra = [str(c) for c in frames[1] if c not in known]
        if extra:
            notes.append(f"{names[1]}: columns not in {names[0]} are ignored: {', '.join(extra)}")
    categorical_features = []
    for column in feature_columns:
        kinds = [frame[column] for frame, none in zip(frames, empty) if column not in none]
        if len(set(kinds)) > 1:
            kinds = [frame[column] for frame in frames]
            stray = _stray_in_scan(scans[kinds.index(True)], column) if scans else None
            if stray is not None:
                text = kinds.index(True)
                raise stray_values(column, names[1 - text], names[text], stray)
            raise type_mismatch(column, kinds, names)
        if any(kinds):
            categorical_features.append(column)
    used = [*feature_columns, target]
    # the target is numeric only when it is numeric in both files (dataset.prepare)
    numeric = [
        c for c in used if c not in categorical_features
        and not any(frame[c] for frame, none in zip(frames, empty) if c not in none)
    ]
    return Layout(
        target=str(target),
        feature_columns=tuple(map(str, feature_columns)),
        categorical_features=tuple(map(str, categorical_features)),
        numeric_names=tuple(map(str, numeric)),
        categorical_names=tuple(str(c) for c in used if c not in numeric),
        notes=tuple(notes),
    )


def _stray_in_scan(scan: io.Scan, column: str) -> tuple[int, object, int] | None:
    """``dataset._stray_text`` of a text ``column`` of ``scan``, read batch by batch: how many
    of its values are not numbers, the first of them and its data row (from 1), when most of
    them are numbers; ``None`` otherwise."""
    if pa.types.is_boolean(scan.schema.field(column).type):
        return None
    bad, present, first, row = io.stray_numbers(
        batch.column(0).cast(pa.string()) for batch in scan.batches([column]))
    if bad == 0 or bad * 2 > present:
        return None
    return bad, first, row


# --------------------------------------------------------------------------------------------
# pass 1 of a side: counts, ranges, moments (or fold Grams), and the spread sample


@dataclass
class Rows:
    """Decoded rows of a batch: raw numeric values, one (n,) array per column (an (a, n) array,
    or a list of read-only views of the Arrow buffers: a batch without missing values is never
    copied whole), and category codes (b, n)."""

    numeric: Any
    codes: np.ndarray
    count: int = -1

    @property
    def n(self) -> int:
        if self.count >= 0:
            return self.count
        return len(self.numeric[0]) if len(self.numeric) else self.codes.shape[1]

    def numeric_block(self, index=None) -> np.ndarray:
        """The numeric values as one (a, n) array (of the rows ``index``)."""
        if isinstance(self.numeric, np.ndarray):
            return self.numeric if index is None else np.take(self.numeric, index, axis=1)
        block = np.empty((len(self.numeric), self.n if index is None else len(index)))
        for j, column in enumerate(self.numeric):
            if index is None:
                block[j] = column
            else:  # np.take into place: indexing would build a temporary, at twice the cost
                np.take(column, index, out=block[j], mode="clip")  # in range by construction
        return block


def fold_blocks(A: np.ndarray, fold: np.ndarray, k: int, scratch: np.ndarray,
                intercept: bool = False):
    """The columns of ``A`` (r, n) fold by fold: ``(blocks, members)``, ``blocks[f]`` a contiguous
    (r, n_f) array in ``scratch`` (r n values at least) and ``members[f]`` the columns' indices.
    ``intercept``: row 0 of ``A`` is all ones, and is filled rather than gathered.

    Contiguous because np.dot releases the GIL only on contiguous operands (np.matmul never
    does); gathered column by column, so that all the folds' gathers read a column from the
    cache.
    """
    if k < 128 and fold.dtype.itemsize > 1:
        fold = fold.astype(np.int8)  # a stable sort of bytes is a radix sort
    order = np.argsort(fold, kind="stable")
    if order.size < 2 ** 31:
        order = order.astype(np.int32)  # measured: np.take gathers 9% faster
    bounds = np.concatenate([[0], np.cumsum(np.bincount(fold, minlength=k))])
    width = A.shape[0]
    blocks = [scratch[width * bounds[f]:width * bounds[f + 1]].reshape(width, -1) for f in range(k)]
    members = [order[bounds[f]:bounds[f + 1]] for f in range(k)]
    if intercept:
        for block in blocks:
            block[0] = 1.0
    for j in range(1 if intercept else 0, width):
        for block, index in zip(blocks, members):
            np.take(A[j], index, out=block[j], mode="clip")  # in range by construction
    return blocks, members


class SideStats:
    """What one pass over one input keeps (the reference's, or the shifted data's first pass).

    Without an ``encoder``: moments of the numeric columns and of one indicator per category of
    each categorical feature (the reference: its standardisation is not known until the end).
    With one (the shifted data, linear family): per-fold augmented Gram matrices in the
    encoder's (the reference's) coordinates.
    """

    def __init__(self, layout: Layout, capacity: int, encoder: "Encoder | None" = None,
                 folds: int = 5, seed: int = 0, rows: int | None = None):
        a, b = len(layout.numeric_names), len(layout.categorical_names)
        self.layout, self.encoder, self.folds, self.seed = layout, encoder, folds, seed
        self.catalog = Catalog(b)
        self.counts = [np.zeros(0, dtype=np.int64) for _ in range(b)]
        self.low = np.full(a, np.inf)
        self.high = np.full(a, -np.inf)
        self.rows_read = 0
        self.rows_dropped = 0
        self.target_null = False
        self.target_top = 0.0  # the target's largest magnitude (linear: losses must not overflow)
        self.present = np.zeros(a + b, dtype=np.int64)  # values per column, numeric ones first
        self.infinite = np.zeros(a, dtype=bool)
        self.target_values: np.ndarray | None = np.zeros(0)
        #: rows of each of ``target_values`` (None where they are not known: a profile's)
        self.target_counts: np.ndarray | None = np.zeros(0, dtype=np.int64)
        self.sample = SpreadSample(capacity, a, b, rows)
        self._features = [layout.categorical_names.index(c) for c in layout.categorical_features]
        self.onehot: list[tuple[int, int]] = []  # (categorical column, code) of each indicator
        self._onehot_index: dict[tuple[int, int], int] = {}
        self.moments = Moments.empty(a)
        self.grams = None
        self._scratch: dict[str, np.ndarray] = {}
        self._ones: dict[str, int] = {}
        self._batch_names: list[str] | None = None
        if encoder is not None:
            p = encoder.p
            self.grams = np.zeros((folds, p + 1, p + 1))

    # -- decoding -------------------------------------------------------------------------
    def _positions(self, batch: pa.RecordBatch) -> tuple[list[int], list[int], int]:
        """Positions in ``batch`` of the numeric and categorical columns and of the target
        (a lookup by name costs more than the column's conversion: done once per schema)."""
        names = batch.schema.names
        if names != self._batch_names:
            where = {name: i for i, name in enumerate(names)}
            layout = self.layout
            self._batch_names = names
            self._batch_positions = ([where[c] for c in layout.numeric_names],
                                     [where[c] for c in layout.categorical_names],
                                     where[layout.target])
        return self._batch_positions

    def _columns(self, batch: pa.RecordBatch) -> tuple[list[np.ndarray], np.ndarray, bool]:
        """The numeric columns (read-only views of the Arrow buffers where they have no missing
        values; NaN where they do) and the category codes (b, n) of a batch, and whether any of
        them misses a value."""
        numeric_at, categorical_at, _ = self._positions(batch)
        numeric, missing = [], False
        for i in numeric_at:
            array = batch.column(i)
            missing = missing or array.null_count > 0
            numeric.append(io.float_values(array))  # to_numpy imports pandas
        codes = np.empty((len(categorical_at), batch.num_rows), dtype=np.int64)
        for j, i in enumerate(categorical_at):
            array = batch.column(i)
            missing = missing or array.null_count > 0
            codes[j] = self.catalog.encode(j, array)
        return numeric, codes, missing

    def decode(self, batch: pa.RecordBatch, columns=None) -> Rows | None:
        """The batch's usable rows; counts what is read and dropped, and the ranges.
        ``columns``: what :meth:`_columns` gave for this batch, if it was called."""
        n = batch.num_rows
        self.rows_read += n
        if n == 0:
            return None
        if batch.column(self._positions(batch)[2]).null_count:
            self.target_null = True
        numeric, codes, _ = columns or self._columns(batch)
        # a NaN or an infinity makes its column's sum non-finite: one pass finds them all
        sums = np.array([column.sum() for column in numeric])
        finite = bool(np.isfinite(sums).all())
        complete = not codes.size or codes.min() >= 0
        if not (finite and complete):
            numeric = Rows(numeric, codes, n).numeric_block()
            good = np.isfinite(numeric)
            self.infinite |= np.isinf(numeric).any(axis=1)
            self.present[: good.shape[0]] += good.sum(axis=1)
            self.present[good.shape[0]:] += (codes >= 0).sum(axis=1)
            keep = good.all(axis=0) & (codes >= 0).all(axis=0)
            self.rows_dropped += int(n - keep.sum())
            numeric, codes = numeric[:, keep], codes[:, keep]
            if not keep.any():
                return None
            sums = numeric.sum(axis=1)
        else:
            self.present += n
        rows = Rows(numeric, codes, codes.shape[1])
        rows.sums = sums
        self._tally(rows)
        return rows

    def _tally(self, rows: Rows) -> None:
        """Count what usable rows show: the target's magnitude and values, ranges, categories."""
        layout, numeric, codes = self.layout, rows.numeric, rows.codes
        if layout.target_numeric:
            target = numeric[layout.numeric_names.index(layout.target)]
            self.target_top = max(self.target_top, float(target.max()), -float(target.min()))
        # ranges only of the columns that have not varied yet: a column is constant or not,
        # and `low < high` once it has varied (the values themselves are not needed)
        todo = np.flatnonzero(self.low >= self.high)
        if todo.size and len(numeric):
            self.low[todo] = np.minimum(self.low[todo], [numeric[j].min() for j in todo])
            self.high[todo] = np.maximum(self.high[todo], [numeric[j].max() for j in todo])
        for j in range(codes.shape[0]):
            counts = np.bincount(codes[j], minlength=len(self.catalog.names[j]))
            if counts.size > self.counts[j].size:
                counts[: self.counts[j].size] += self.counts[j]
                self.counts[j] = counts
            else:
                self.counts[j] += counts
        if layout.target_numeric and self.target_values is not None:
            values, counts = np.unique(numeric[layout.numeric_names.index(layout.target)],
                                       return_counts=True)
            self._add_target_values(values, counts)

    def _add_target_values(self, values: np.ndarray, counts: np.ndarray | None) -> None:
        """Count the distinct target ``values`` (sorted) ``counts`` times more; too many of
        them to be classes forget them all."""
        merged = np.union1d(self.target_values, values)
        if merged.size > MAX_CLASSES:
            self.target_values = self.target_counts = None
            return
        if self.target_counts is not None and counts is not None:
            total = np.zeros(merged.size, dtype=np.int64)
            total[np.searchsorted(merged, self.target_values)] += self.target_counts
            total[np.searchsorted(merged, values)] += counts
            self.target_counts = total
        else:
            self.target_counts = None
        self.target_values = merged

    # -- accumulating ---------------------------------------------------------------------
    def update(self, batch: pa.RecordBatch) -> None:
        n = batch.num_rows
        columns = self._columns(batch) if n else None
        if n and not columns[2]:
            # the common case, a batch without missing values: its statistics first, and only
            # if they are finite (no NaN or infinity in the batch) its rows are counted;
            # otherwise the batch is decoded again below, dropping the rows that are not
            rows = Rows(columns[0], columns[1], n)
            if self._accumulate(rows):
                self.rows_read += n
                self.present += n
                self._tally(rows)
                self.sample.offer(self._keys, rows)
                return
        rows = self.decode(batch, columns)
        if rows is None:
            return
        if not self._accumulate(rows):  # values whose squares overflow: refused by `checked`
            self._accumulate(rows, force=True)
        self.sample.offer(self._keys, rows)

    def _accumulate(self, rows: Rows, force: bool = False) -> bool:
        """Add the batch's moments or fold Grams, unless they are not finite (``force``: even
        then); returns whether they were added. Leaves the rows' spread keys in ``_keys``."""
        if self.encoder is None:
            return self._add_moments(rows, force)
        return self._add_grams(rows, force)

    def _buffer(self, name: str, shape: tuple[int, int]) -> np.ndarray:
        """A scratch array reused from batch to batch: fresh pages for every batch would cost
        more than the arithmetic on them."""
        size = shape[0] * shape[1]
        found = self._scratch.get(name)
        if found is None or found.size < size:
            found = self._scratch[name] = np.empty(size)  # a pass's batches shrink at most
            self._ones.pop(name, None)
        # contiguous, whatever the batch's length: np.dot releases the GIL only then
        return found[:size].reshape(shape)

    def _ones_row(self, name: str, block: np.ndarray) -> None:
        """Set ``block[0]``, the first row of buffer ``name``, to ones, unless it already is:
        row 0 is the buffer's first n values, which no other row of a batch of n rows or more
        overwrites (batches of a pass are all as long but the last)."""
        n = block.shape[1]
        if self._ones.get(name, -1) < n:
            block[0] = 1.0
        self._ones[name] = n  # the next rows overwrote what lies beyond

    def _add_moments(self, rows: Rows, force: bool = False) -> bool:
        a = len(self.layout.numeric_names)
        for j in self._features:
            for code in range(len(self.catalog.names[j])):
                if (j, code) not in self._onehot_index:
                    self._onehot_index[(j, code)] = a + len(self.onehot)
                    self.onehot.append((j, code))
        n, m = rows.n, a + len(self.onehot)
        moments = self.moments.widen(m)
        # [1, values - shift] and its Gram: the shift is the mean so far (the first batch's own
        # mean), close enough to every batch's mean that subtracting the outer product of the
        # batch's mean offset loses no precision, and no pass is spent on each batch's mean
        if moments.count:
            shift = moments.mean
        else:
            shift = np.zeros(m)
            shift[:a] = [column.mean() for column in rows.numeric]
            if not np.isfinite(shift).all():
                shift[:a] = 0.0
        block = self._buffer("moments", (m + 1, n))
        self._ones_row("moments", block)
        spread = self._hashes(n)[1]
        for j, column in enumerate(self.layout.numeric_names):
            np.subtract(rows.numeric[j], shift[j], out=block[1 + j])
            spread.add(rows.numeric[j], column)
        for j, column in enumerate(self.layout.categorical_names):
            spread.add_keys(self.catalog.hashes[j][rows.codes[j]], column)
        if m > a:
            indicators = block[1 + a:]
            indicators[:] = -shift[a:, None]
            columns = np.arange(n)
            for j in self._features:
                where = np.array(
                    [self._onehot_index[(j, c)] for c in range(len(self.catalog.names[j]))],
                    dtype=np.int64,
                )
                indicators[where[rows.codes[j]] - a, columns] += 1.0
        G = np.dot(block, block.T)
        if not (force or np.isfinite(np.diagonal(G)).all()):
            return False
        offset = G[0, 1:] / n
        comoment = G[1:, 1:] - n * np.outer(offset, offset)
        mean, low = two_sum(shift, offset)  # the batch's mean to twice the precision
        self.moments = moments.merge(Moments(n, mean, comoment, low))
        self._keys = finish_spread(spread.total, self._hash_scratch(n))
        return True

    def _hashes(self, n: int) -> tuple[RowHash, RowHash]:
        """The fold and the spread hash of a batch of n rows, on reused buffers."""
        buffers = self._buffer("hashes", (3, n))
        folds = fold_hash(n, out=buffers[0].view(np.uint64), scratch=buffers[1])
        spread = spread_hash(n, out=buffers[2].view(np.uint64), scratch=buffers[1])
        return folds, spread

    def _hash_scratch(self, n: int) -> np.ndarray:
        """The hashes' scratch row (uint64 (n,)), free once every column is added: where the
        hashes are finished in place."""
        return self._buffer("hashes", (3, n))[1].view(np.uint64)

    def _add_grams(self, rows: Rows, force: bool = False, grid: bool = True) -> bool:
        """``grid``: build the design in the fold grid's units (one multiplication less per
        value, :meth:`Encoder.design_into`) and scale the Gram matrices back, exactly; a batch
        whose Grams overflow in those units (values beyond 1e148 standard deviations) is done
        again in plain ones."""
        encoder, n = self.encoder, rows.n
        # row 0 of A, the intercept, is left unset: fold_blocks fills it in each fold's block
        A = self._buffer("design", (encoder.p + 1, n))
        folds, spread = self._hashes(n)
        encoder.augmented_into(A, rows, self.catalog, folds, spread, grid)
        fold = finish_folds(folds.total, self.folds, self.seed, self._hash_scratch(n),
                            np.int8 if self.folds < 128 else np.int64)
        blocks, _ = fold_blocks(A, fold, self.folds, self._buffer("sorted", (1, A.size)).reshape(-1),
                                intercept=True)
        grams = np.zeros_like(self.grams)
        for f, block in enumerate(blocks):
            if block.shape[1]:
                grams[f] = np.dot(block, block.T)
        finite = np.isfinite(np.diagonal(grams, axis1=1, axis2=2)).all()
        if grid and not finite:
            return self._add_grams(rows, force, grid=False)
        if not (force or finite):
            return False
        if grid:  # back from grid units: powers of two, exact
            unit = np.full(encoder.p + 1, QUANTUM)
            unit[0] = 1.0
            grams *= np.outer(unit, unit)
        self.grams += grams
        self._keys = finish_spread(spread.total, self._hash_scratch(n))
        return True

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_scratch"] = {}
        state["_ones"] = {}
        return state

    # -- merging --------------------------------------------------------------------------
    def merge(self, other: "SideStats") -> "SideStats":
        """Absorb the statistics of other rows (another batch range or partition)."""
        maps = self.catalog.absorb(other.catalog)
        for j, mapping in enumerate(maps):
            counts = np.zeros(len(self.catalog.names[j]), dtype=np.int64)
            counts[: self.counts[j].size] += self.counts[j]
            np.add.at(counts, mapping[: other.counts[j].size], other.counts[j])
            self.counts[j] = counts
        np.minimum(self.low, other.low, out=self.low)
        np.maximum(self.high, other.high, out=self.high)
        self.rows_read += other.rows_read
        self.rows_dropped += other.rows_dropped
        self.target_null |= other.target_null
        self.target_top = max(self.target_top, other.target_top)
        self.present += other.present
        self.infinite |= other.infinite
        if self.target_values is None or other.target_values is None:
            self.target_values = self.target_counts = None
        else:
            self._add_target_values(other.target_values, other.target_counts)
        self.sample.merge(other.sample, maps)
        if self.grams is not None:
            self.grams += other.grams
        else:
            a = len(self.layout.numeric_names)
            for j in self._features:
                for code in range(len(self.catalog.names[j])):
                    if (j, code) not in self._onehot_index:
                        self._onehot_index[(j, code)] = a + len(self.onehot)
                        self.onehot.append((j, code))
            index = np.arange(a + len(other.onehot))
            for position, (j, code) in enumerate(other.onehot):
                index[a + position] = self._onehot_index[(j, int(maps[j][code]))]
            # other's moments in our column order: scatter through the inverse of `index`
            total = a + len(self.onehot)
            inverse = np.full(total, -1, dtype=np.int64)
            inverse[index] = np.arange(index.size)
            self.moments = self.moments.widen(total).merge(other.moments.take(inverse))
        return self

    def settle(self) -> None:
        """Cut the spread sample's waiting rows back and free the batch buffers: what a
        computing thread does once its batches are done, beside the others, before the merge."""
        self.sample.compact()
        self._scratch, self._ones = {}, {}

    def finish(self) -> "SideStats":
        self.sample.compact()
        return self

    # -- what follows from them -----------------------------------------------------------
    @property
    def rows_used(self) -> int:
        return self.rows_read - self.rows_dropped

    def numeric_moments(self) -> Moments:
        """Moments of the numeric columns (target included when numeric)."""
        a = len(self.layout.numeric_names)
        if self.grams is None:
            return Moments(self.moments.count, self.moments.mean[:a], self.moments.comoment[:a, :a])
        return self.encoder.numeric_moments(self.grams.sum(axis=0))

    def sample_rows(self) -> Rows:
        self.sample.compact()
        return Rows(self.sample.numeric_t.copy(), self.sample.codes_t.copy())

    def summary(self) -> DataSummary:
        """What the data entropy needs (codes in this side's catalog order)."""
        moments = self.numeric_moments()
        return DataSummary(
            rows=self.rows_used, mean=moments.mean, comoment=moments.comoment,
            constant=self.high <= self.low, counts=tuple(self.counts),
            sample_numeric=self.sample.numeric, sample_codes=tuple(self.sample.codes_t),
        )


# --------------------------------------------------------------------------------------------
# the encoding: the reference's categories, standardisation and classes


def _category_order(names: list[str], counts: np.ndarray) -> list[str]:
    """Most frequent first (the baseline), ties by name: ``dataset._category_order``."""
    count = {name: int(c) for name, c in zip(names, counts) if c > 0}
    return sorted(count, key=lambda name: (-count[name], name))


@dataclass
class Encoder:
    """Turns decoded rows into the model's standardised design, in the reference's coordinates.

    ``levels``: per categorical feature, its categories in the reference's order (the first is
    the baseline, encoded as all zeros, as is an unseen category).
    """

    layout: Layout
    family: Family
    levels: dict[str, list[str]]
    feature_names: tuple[str, ...]
    centre: np.ndarray
    scale: np.ndarray
    target_centre: float = 0.0
    target_scale: float = 1.0
    classes: tuple[str, ...] | None = None
    _lookups: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def p(self) -> int:
        """Columns of ``[1 Z y]`` minus one: the design's width (intercept included)."""
        return len(self.feature_names) + 1

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_lookups"] = {}
        state.pop("_slot_cache", None)
        state.pop("_class_values", None)
        return state

    def _lookup(self, kind: str, j: int, catalog: Catalog) -> np.ndarray:
        """Map of a side's codes of categorical column j to design offsets (or class codes)."""
        names = catalog.names[j]
        key = (kind, j, id(catalog), len(names))
        found = self._lookups.get(key)
        if found is None:
            if kind == "feature":
                column = self.layout.categorical_names[j]
                offsets = {level: i for i, level in enumerate(self.levels[column][1:])}
                default = -1
            else:
                offsets = {c: i for i, c in enumerate(self.classes)}
                default = -2
                names = _labels_of_texts(names, catalog.numeric_target)
            found = np.array([offsets.get(name, default) for name in names] + [default], dtype=np.int64)
            self._lookups = {k: v for k, v in self._lookups.items() if k[:3] != key[:3]}
            self._lookups[key] = found
        return found

    def _slots(self) -> list[tuple[bool, int, str]]:
        """Per feature column: categorical?, its row in the decoded rows, its name."""
        slots = self.__dict__.get("_slot_cache")
        if slots is None:
            layout = self.layout
            numeric = {name: j for j, name in enumerate(layout.numeric_names)}
            categorical = {name: j for j, name in enumerate(layout.categorical_names)}
            slots = [
                (column in categorical, categorical.get(column, numeric.get(column)), column)
                for column in layout.feature_columns
            ]
            self.__dict__["_slot_cache"] = slots
        return slots

    def design_into(self, out: np.ndarray, rows: Rows, catalog: Catalog,
                    folds: RowHash | None = None, spread: RowHash | None = None,
                    grid: bool = False) -> None:
        """Write the standardised features ``Z`` (d, n) into ``out``; add each design row to
        the ``folds`` hash and each raw numeric feature to the ``spread`` hash while they are in
        the CPU's cache.

        ``grid``: write ``Z / QUANTUM`` instead, in the fold grid's units, which the fold hash
        rounds as they are. Dividing by ``scale * QUANTUM`` (a power of two times the scale)
        gives exactly ``Z`` times ``2**20``, bit for bit, so the hash is the same and a Gram
        matrix of these rows is the Gram matrix of ``Z`` times a power of two."""
        position = 0
        names = self.feature_names
        unit = QUANTUM if grid else 1.0
        add = None if folds is None else (folds.add_grid if grid else folds.add)
        for is_categorical, j, column in self._slots():
            if is_categorical:
                width = len(self.levels[column]) - 1
                block = out[position:position + width]
                c = self.centre[position:position + width]
                s = self.scale[position:position + width] * unit
                block[:] = (np.subtract(0.0, c) / s)[:, None]
                offsets = self._lookup("feature", j, catalog)[rows.codes[j]]
                hit = np.flatnonzero(offsets >= 0)
                block[offsets[hit], hit] = (np.subtract(1.0, c) / s)[offsets[hit]]
                if add is not None:
                    for i in range(width):
                        add(block[i], names[position + i])
                position += width
            else:
                row = out[position]
                np.subtract(rows.numeric[j], self.centre[position], out=row)
                row /= self.scale[position] * unit
                if add is not None:
                    add(row, names[position])
                if spread is not None:
                    spread.add(rows.numeric[j], column)
                position += 1

    def design(self, rows: Rows, catalog: Catalog) -> np.ndarray:
        """The model's design ``D = [1 Z]`` (n, p)."""
        Dt = np.empty((self.p, rows.n))
        Dt[0] = 1.0
        self.design_into(Dt[1:], rows, catalog)
        return Dt.T

    def target(self, rows: Rows, catalog: Catalog) -> np.ndarray:
        """The target (n,): raw floats (linear), or class codes (logistic)."""
        layout = self.layout
        if layout.target_numeric:
            values = rows.numeric[layout.numeric_names.index(layout.target)]
            if self.classes is None:
                return values
            # the class of each value seen so far, sorted by value: a binary search per row,
            # not a sort of every batch
            seen, codes = self.__dict__.get("_class_values", (np.zeros(0), np.zeros(0, np.int64)))
            at = np.minimum(np.searchsorted(seen, values), max(seen.size - 1, 0))
            if seen.size and np.array_equal(seen[at], values):
                return codes[at]
            uniques = np.union1d(seen, values)
            texts = class_labels(uniques)
            codes = np.array([self.classes.index(t) for t in texts], dtype=np.int64)
            self.__dict__["_class_values"] = (uniques, codes)
            return codes[np.searchsorted(uniques, values)]
        j = layout.categorical_names.index(layout.target)
        return self._lookup("class", j, catalog)[rows.codes[j]]

    def hashed_target(self, y: np.ndarray, out: np.ndarray | None = None,
                      grid: bool = False) -> np.ndarray:
        """What the fold hash sees of the target: standardised (linear), codes (logistic);
        written into ``out`` (n,) when given; ``grid``: in the grid's units (linear, see
        :meth:`design_into`)."""
        if self.classes is None:
            out = np.subtract(y, self.target_centre, out=out)
            return np.divide(out, self.target_scale * (QUANTUM if grid else 1.0), out=out)
        if grid:
            raise ValueError("the class codes of a target are hashed as they are")
        if out is None:
            return y.astype(float)
        out[:] = y
        return out

    def augmented_into(self, A: np.ndarray, rows: Rows, catalog: Catalog, folds: RowHash,
                       spread: RowHash | None = None, grid: bool = False) -> None:
        """Write ``[Z t]`` into rows 1 to p of ``A`` (p + 1, n), t the hashed target (row 0,
        the intercept, is left as it is: :func:`fold_blocks` fills it), adding its rows to the
        ``folds`` hash, and every raw column to the ``spread`` hash (the spread sample's keys);
        ``grid``: in the fold grid's units (:meth:`design_into`)."""
        self.design_into(A[1:self.p], rows, catalog, folds, spread, grid)
        self.hashed_target(self.target(rows, catalog), out=A[self.p], grid=grid)
        (folds.add_grid if grid else folds.add)(A[self.p], "\0target")
        if spread is not None:
            layout = self.layout
            for j, column in enumerate(layout.numeric_names):
                if column not in layout.feature_columns:
                    spread.add(rows.numeric[j], column)
            for j, column in enumerate(layout.categorical_names):
                spread.add_keys(catalog.hashes[j][rows.codes[j]], column)

    def folds_of(self, D: np.ndarray, y: np.ndarray, folds: int, seed: int) -> np.ndarray:
        rows_t = np.vstack([D[:, 1:].T, self.hashed_target(y)[None, :]])
        return fold_ids_t(rows_t, (*self.feature_names, "\0target"), folds, seed)

    def numeric_moments(self, G: np.ndarray) -> Moments:
        """Moments of the raw numeric columns from the Gram ``[1 Z t]'[1 Z t]`` (linear)."""
        n = G[0, 0]
        mean_u = G[0, 1:] / n
        C_u = G[1:, 1:] - n * np.outer(mean_u, mean_u)
        scale = np.append(self.scale, self.target_scale)
        centre = np.append(self.centre, self.target_centre)
        index, where = [], {name: i for i, name in enumerate(self.feature_names)}
        for name in self.layout.numeric_names:
            index.append(self.p - 1 if name == self.layout.target else where[name])
        index = np.array(index, dtype=np.int64)
        s = scale[index]
        return Moments(int(round(n)), centre[index] + s * mean_u[index],
                       C_u[np.ix_(index, index)] * np.outer(s, s))

    def model(self, loss: Loss, params: np.ndarray | None = None) -> Model:
        """A :class:`Model` in this encoder's coordinates (``params`` in raw target units)."""
        n_classes = len(self.classes) if self.classes else None
        model = Model(self.family, loss, centre=self.centre, scale=self.scale, n_classes=n_classes)
        model.centre_, model.scale_ = self.centre, self.scale
        if self.family is Family.LOGISTIC:
            model.n_classes_ = max(n_classes, 2)
        model.params_ = params
        return model


def class_labels(values: np.ndarray) -> list[str]:
    """Class labels of numeric target values as ``dataset._class_labels`` writes them: whole
    numbers as integers, whatever the column's dtype."""
    values = np.asarray(values, dtype=float)
    text = values.astype(str).astype(object)
    integral = values == np.round(values)
    text[integral] = values[integral].astype(np.int64).astype(str)
    return list(text)


def _labels_of_texts(texts: list[str], numeric: bool) -> list[str]:
    """Class labels of a categorical target's category names (numbers written alike)."""
    if not numeric:
        return list(texts)
    return class_labels(np.array([float(t) for t in texts]))


def make_encoder(layout: Layout, family: Family, ref: SideStats, classes=None,
                 name: str = "the reference") -> Encoder:
    """The encoder of the reference's statistics: category order, standardisation of the
    encoded features (means and population standard deviations), target scale."""
    levels, feature_names, index = {}, [], []
    for column in layout.feature_columns:
        if column in layout.categorical_features:
            j = layout.categorical_names.index(column)
            order = _category_order(ref.catalog.names[j], ref.counts[j])
            if len(order) > MAX_LEVELS:
                raise ColumnError(
                    f"{name}: column '{column}' has {len(order):,} categories, more than"
                    f" {MAX_LEVELS:,}: one-hot encoding would add a parameter for each. Pass"
                    f" --exclude {column} (an identifier is no feature), or group its values"
                    " into fewer categories."
                )
            levels[column] = order
            for level in order[1:]:
                feature_names.append(f"{column}={level}")
                index.append(ref._onehot_index[(j, ref.catalog.index[j][level])])
        else:
            feature_names.append(column)
            index.append(layout.numeric_names.index(column))
    if not feature_names:
        raise ColumnError(
            f"{name}: the categorical features have a single category each, so"
            " nothing is left to fit; add features."
        )
    moments = ref.moments.take(np.array(index, dtype=np.int64))
    n = moments.count
    centre = moments.mean
    scale = np.sqrt(np.maximum(np.diag(moments.comoment), 0.0) / n)
    scale = np.where(scale > 0, scale, 1.0)
    encoder = Encoder(layout, family, levels, tuple(feature_names), centre, scale, classes=classes)
    if family is Family.LINEAR:
        t = layout.numeric_names.index(layout.target)
        encoder.target_centre = float(ref.moments.mean[t])
        encoder.target_scale = float(np.sqrt(ref.moments.comoment[t, t] / n)) or 1.0
    encoder._index = np.array(index, dtype=np.int64)
    return encoder


def reference_gram(ref: SideStats, encoder: Encoder) -> np.ndarray:
    """The reference's ``[1 Z t]'[1 Z t]`` from its moments (t: the standardised target)."""
    index = list(encoder._index)
    t = ref.layout.numeric_names.index(ref.layout.target)
    moments = ref.moments.take(np.array(index + [t], dtype=np.int64))
    scale = np.append(encoder.scale, encoder.target_scale)
    G = np.zeros((encoder.p + 1, encoder.p + 1))
    G[0, 0] = moments.count
    # the centres are the means, so the centred columns sum to zero
    G[1:, 1:] = moments.comoment / np.outer(scale, scale)
    return G


# --------------------------------------------------------------------------------------------
# passes with fixed models: losses, gradients, curvature (logistic and MAE)


@dataclass
class ModelRole:
    """How a model relates to the rows of a pass: trained on all of them (``fold`` -1), on all
    but one fold (``fold`` f, held out on it), or only evaluated (``evaluate``)."""

    fold: int = -1
    evaluate: bool = False


def softmax_t(logits: np.ndarray, J: int, m: int, y: np.ndarray, entropies: bool = True):
    """Probabilities (J, m, n) of classes 1..m and cross entropies (J, n) of J softmax models
    with logits (J m, n) for classes 1..m (class 0's logit is 0), computed stably (no cross
    entropies, ``None``, unless ``entropies``)."""
    n = logits.shape[1]
    L = logits.reshape(J, m, n)
    if m == 1:  # binary: one exponential and one logarithm per value (both ~5 ns)
        # in place, on one array: a temporary as large as the logits is memory to fault in,
        # which can cost as much as the exponential (alone: 22 against 30 ms, 7 x 65,536)
        r = np.abs(L)
        np.negative(r, out=r)
        np.exp(r, out=r)
        np.add(r, 1.0, out=r)
        np.reciprocal(r, out=r)  # r = sigma(|L|) = 1 / (1 + e^-|L|)
        ce = None
        if entropies:
            logit = L[:, 0]
            # softplus(L) = max(L, 0) + ln(1 + e^-|L|) = max(L, 0) - ln sigma(|L|)
            ce = np.log(r[:, 0])
            np.subtract(np.maximum(logit, 0.0), ce, out=ce)
            ce -= logit * (y > 0)
        # sigma(L) = 1 - sigma(|L|) where L < 0: r - 1/2 is exact (r is in [1/2, 1]), and
        # so is 1/2 minus it, which is 1 - r
        np.subtract(r, 0.5, out=r)
        np.copysign(r, L, out=r)
        np.add(r, 0.5, out=r)
        return r, ce
    top = np.maximum(L.max(axis=1), 0.0)  # (J, n)
    E = np.exp(L - top[:, None, :])
    Z = np.exp(-top) + E.sum(axis=1)
    E /= Z[:, None, :]
    ce = top + np.log(Z)
    hit = np.flatnonzero(y > 0)
    ce[:, hit] -= L[:, y[hit] - 1, hit]
    return E, ce


class LossPass:
    """Per-model sums over one pass at fixed parameters: loss, gradient, Fisher information.

    ``per_fold``: the index of a model trained on every row whose sums are also kept fold by
    fold (``fold_rows`` (K,), ``fold_loss`` (K,), ``fold_gradient`` (K, p, m) and
    ``fold_fisher`` (K, p m, p m)): what the cross-fitted models' Newton steps are built from.
    """

    def __init__(self, layout: Layout, encoder: Encoder, loss: Loss, params: list[np.ndarray],
                 roles: list[ModelRole], folds: int, seed: int, hessians: list[bool],
                 catalog: Catalog, path: tuple[np.ndarray, int] | None = None,
                 per_fold: int | None = None):
        self.layout, self.encoder, self.loss = layout, encoder, loss
        #: (old parameters, index of the new model): also sum the explanation's path gradient
        self.path = path
        self.path_total = None
        #: two classes: the path total's derivative in the new model's parameters (p, p)
        self.path_jacobian = None
        if path is not None:
            from .explain import QUADRATURE_NODES

            nodes, weights = np.polynomial.legendre.leggauss(QUADRATURE_NODES)
            self._nodes = (0.5 * (nodes + 1.0), 0.5 * weights)
            self.path_total = np.zeros_like(params[path[1]])
            if params[path[1]].shape[1] == 1:
                self.path_jacobian = np.zeros((encoder.p, encoder.p))
        self.params, self.roles, self.folds, self.seed = params, roles, folds, seed
        self.hessians = hessians
        self.catalog = catalog  # the side's categories (from its first pass), to decode codes
        J = len(params)
        self.train_loss = np.zeros(J)
        self.train_rows = np.zeros(J)
        self.held_loss = np.zeros(J)
        self.held_rows = np.zeros(J)
        self.gradient = [np.zeros_like(B) for B in params]
        #: the gradient of a cross-fitted model's loss on its held-out fold
        self.held_gradient = [np.zeros_like(B) for B in params]
        self.fisher = [None] * J
        self.per_fold = per_fold
        if per_fold is not None:
            p, m = params[per_fold].shape
            self.fold_rows = np.zeros(folds)
            self.fold_loss = np.zeros(folds)
            self.fold_gradient = np.zeros((folds, p, m))
            self.fold_fisher = np.zeros((folds, p * m, p * m))
        self._stats = _decoder(layout, catalog)
        self._scratch = None

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_scratch"] = None
        return state

    def update(self, batch: pa.RecordBatch) -> None:
        rows = self._stats.decode(batch)
        if rows is None:
            return
        encoder = self.encoder
        y = encoder.target(rows, self.catalog)
        Dt = np.empty((encoder.p, rows.n))
        Dt[0] = 1.0
        fold = None
        if self.per_fold is not None or any(r.fold >= 0 for r in self.roles):
            hashed = fold_hash(rows.n)  # the folds' hash, row by row of the design
            encoder.design_into(Dt[1:], rows, self.catalog, hashed)
            hashed.add(encoder.hashed_target(y), "\0target")
            fold = finish_folds(hashed.total, self.folds, self.seed)
        else:
            encoder.design_into(Dt[1:], rows, self.catalog)
        D = Dt.T
        if self.loss is Loss.CE:
            self._update_ce(D, y, fold)
        else:
            for j, (B, role) in enumerate(zip(self.params, self.roles)):
                r = np.abs(y - np.dot(D, B)) if self.loss is Loss.MAE else (y - np.dot(D, B)) ** 2
                self._add(j, role, r, fold)

    def _add(self, j: int, role: ModelRole, per_row: np.ndarray, fold) -> np.ndarray:
        if role.fold < 0:
            self.train_loss[j] += per_row.sum()
            self.train_rows[j] += per_row.size
            return np.ones(per_row.size, dtype=bool)
        held = fold == role.fold
        self.held_loss[j] += per_row[held].sum()
        self.held_rows[j] += held.sum()
        self.train_loss[j] += per_row[~held].sum()
        self.train_rows[j] += (~held).sum()
        return ~held

    def _update_ce(self, D: np.ndarray, y: np.ndarray, fold) -> None:
        """All models at once, laid out (model, class, row) so that every reduction runs over
        whole rows of memory (a reduction over a 2-wide axis costs a call per row). A model
        held out on a fold is summed over all rows, less that fold's rows (gathered once for
        all the models): no mask over all the rows per model."""
        n, p = D.shape
        J, m = len(self.params), self.params[0].shape[1]
        # np.dot, not @: np.matmul holds the GIL, and the computing threads would take turns
        logits = np.dot(np.ascontiguousarray(np.hstack(self.params).T), D.T)
        probabilities, ce = softmax_t(logits, J, m, y)  # (J, m, n), (J, n)
        if m == 1:  # (J, 1, n): P - Y
            residual = probabilities - (y > 0)
        else:
            hit = np.flatnonzero(y > 0)
            residual = probabilities.copy()
            residual[:, y[hit] - 1, hit] -= 1.0  # (J, m, n): P - Y
        blocks = members = None
        if fold is not None:
            if self._scratch is None or self._scratch.size < p * n:
                self._scratch = np.empty(p * n)
            blocks, members = fold_blocks(D.T, fold, self.folds, self._scratch, intercept=True)
        if self.per_fold is not None:
            j = self.per_fold
            self._add_per_fold(blocks, members, probabilities[j], residual[j], ce[j])
        held = {}  # model -> the gradient of its loss on its held-out fold, in this batch
        for j, role in enumerate(self.roles):
            total = float(ce[j].sum())
            if role.fold < 0:
                self.train_loss[j] += total
                self.train_rows[j] += n
            else:
                index = members[role.fold]
                loss = float(ce[j, index].sum())
                self.held_loss[j] += loss
                self.held_rows[j] += index.size
                self.train_loss[j] += total - loss
                self.train_rows[j] += n - index.size
                if not role.evaluate:
                    held[j] = np.dot(blocks[role.fold], np.take(residual[j], index, axis=1).T)  # (p, m)
                    self.held_gradient[j] += held[j]
            if role.evaluate:
                residual[j] = 0.0
                continue
            if not self.hessians[j]:
                continue
            weight = None
            if role.fold >= 0:
                weight = (fold != role.fold).astype(float)
            if m == 1:  # D' diag(p (1 - p)) D as one symmetric product
                w = probabilities[j, 0] * (1.0 - probabilities[j, 0])
                root = D.T * np.sqrt(w if weight is None else w * weight)  # (p, n)
                F = np.dot(root, root.T)
            else:
                P = np.empty((n, m + 1))
                P[:, 1:] = probabilities[j].T
                P[:, 0] = 1.0 - P[:, 1:].sum(axis=1)
                F = fisher_information(D, P, weight) * n
            self.fisher[j] = F if self.fisher[j] is None else self.fisher[j] + F
        gradient = np.dot(D.T, residual.reshape(J * m, n).T)  # (p, J m), over all rows
        for j in range(J):
            self.gradient[j] += gradient[:, j * m:(j + 1) * m]
            if j in held:  # trained without its fold
                self.gradient[j] -= held[j]
        if self.path is not None:
            old, new = self.path
            if m == 1:  # softplus(logit) is the row's cross entropy plus y logit
                self._add_binary_path(D, y, logits[new], probabilities[new, 0],
                                      old - self.params[new], ce[new] + logits[new] * (y > 0))
            else:
                self.path_total += path_gradient_sum(D, y, self.params[new], old, *self._nodes)

    def _add_binary_path(self, D, y, logit, probability, delta, softplus) -> None:
        """The explanation's path gradient in closed form (two classes), and its derivative in
        the new model's parameters, for a last Newton step taken without another pass."""
        from .explain import binary_path_sum, segment_start_slope

        slope = np.dot(D, delta[:, 0])
        total, mean = binary_path_sum(D, y, logit, slope, softplus)
        self.path_total += total
        root = D.T * np.sqrt(segment_start_slope(mean, probability, slope))
        self.path_jacobian += np.dot(root, root.T)

    def _add_per_fold(self, blocks: list[np.ndarray], members: list[np.ndarray], P: np.ndarray,
                      R: np.ndarray, ce: np.ndarray) -> None:
        """Fold by fold: rows, loss, gradient and Fisher information of one model, from the
        design's fold blocks (p, n_f), its probabilities ``P`` (m, n), residuals ``R = P - Y``
        (m, n) and losses ``ce`` (n,)."""
        m = P.shape[0]
        for f, (block, index) in enumerate(zip(blocks, members)):
            if not index.size:
                continue
            self.fold_rows[f] += index.size
            self.fold_loss[f] += float(ce[index].sum())
            # np.take: an indexed gather of a 2-d array's columns holds the GIL, and is slower
            self.fold_gradient[f] += np.dot(block, np.take(R, index, axis=1).T)
            if m == 1:
                p1 = P[0, index]
                root = block * np.sqrt(p1 * (1.0 - p1))
                self.fold_fisher[f] += np.dot(root, root.T)
            else:
                Pf = np.empty((index.size, m + 1))
                Pf[:, 1:] = np.take(P, index, axis=1).T
                Pf[:, 0] = 1.0 - Pf[:, 1:].sum(axis=1)
                self.fold_fisher[f] += fisher_information(block.T, Pf) * index.size

    def merge(self, other: "LossPass") -> "LossPass":
        self.train_loss += other.train_loss
        self.train_rows += other.train_rows
        self.held_loss += other.held_loss
        self.held_rows += other.held_rows
        if self.path_total is not None:
            self.path_total += other.path_total
        if self.path_jacobian is not None:
            self.path_jacobian += other.path_jacobian
        for j in range(len(self.params)):
            self.gradient[j] += other.gradient[j]
            self.held_gradient[j] += other.held_gradient[j]
            if other.fisher[j] is not None:
                self.fisher[j] = other.fisher[j] if self.fisher[j] is None else self.fisher[j] + other.fisher[j]
        if self.per_fold is not None:
            self.fold_rows += other.fold_rows
            self.fold_loss += other.fold_loss
            self.fold_gradient += other.fold_gradient
            self.fold_fisher += other.fold_fisher
        return self

    def finish(self) -> "LossPass":
        return self


def path_gradient_sum(D, y, new, old, t, w) -> np.ndarray:
    """``sum_i integral_0^1 grad CE_i(new + s (old - new)) ds``: in closed form for two classes,
    by the quadrature (t, w) for more."""
    n, m = D.shape[0], new.shape[1]
    if m == 1:
        from .explain import binary_path_sum

        return binary_path_sum(D, y, np.dot(D, new[:, 0]), np.dot(D, (old - new)[:, 0]))[0]
    Y = np.zeros((m, n))
    hit = np.flatnonzero(y > 0)
    Y[y[hit] - 1, hit] = 1.0
    # the logits along the path are affine in s: two products, not one per node
    start, slope = np.dot(D, new).T, np.dot(D, old - new).T  # (m, n)
    mean = np.zeros((m, n))
    for part in np.array_split(np.arange(t.size), 4):  # nodes in groups: bounded memory
        logits = start[None] + t[part, None, None] * slope[None]  # (nodes, m, n)
        P, _ = softmax_t(logits.reshape(part.size * m, n), part.size, m, y, entropies=False)
        mean += np.tensordot(w[part], P, axes=1)
    return np.dot(D.T, (mean - w.sum() * Y).T)


class PathPass:
    """Sums of the energy's gradient along the path from the refreshed to the old parameters, on
    every row (``shiftemp.explain``): MAE exactly (each residual changes sign at most once), CE
    in closed form for two classes and at the Gauss-Legendre nodes for more."""

    def __init__(self, layout: Layout, encoder: Encoder, loss: Loss, old: np.ndarray,
                 new: np.ndarray, catalog: Catalog):
        from .explain import QUADRATURE_NODES

        self.layout, self.encoder, self.loss, self.catalog = layout, encoder, loss, catalog
        self.old, self.new = old, new
        nodes, weights = np.polynomial.legendre.leggauss(QUADRATURE_NODES)
        self.t, self.w = 0.5 * (nodes + 1.0), 0.5 * weights
        self.total = np.zeros_like(new, dtype=float)
        self.rows = 0
        self._stats = _decoder(layout, catalog)

    def update(self, batch: pa.RecordBatch) -> None:
        rows = self._stats.decode(batch)
        if rows is None:
            return
        D = self.encoder.design(rows, self.catalog)
        y = self.encoder.target(rows, self.catalog)
        delta = self.old - self.new
        self.rows += D.shape[0]
        if self.loss is Loss.MAE:
            a = y - np.dot(D, self.new)
            b = np.dot(D, delta)
            with np.errstate(divide="ignore", invalid="ignore"):
                crossing = np.where(b != 0, a / b, np.inf)
            inside = (crossing > 0) & (crossing < 1)
            mean_sign = np.where(inside, np.sign(a) * (2 * crossing - 1), np.sign(a - 0.5 * b))
            self.total -= np.dot(D.T, mean_sign)
            return
        self.total += path_gradient_sum(D, y, self.new, self.old, self.t, self.w)

    def merge(self, other: "PathPass") -> "PathPass":
        self.total += other.total
        self.rows += other.rows
        return self

    def finish(self) -> "PathPass":
        return self


@dataclass
class _PathFactory:
    layout: Layout
    encoder: Encoder
    loss: Loss
    old: np.ndarray
    new: np.ndarray
    catalog: Catalog

    def __call__(self) -> PathPass:
        return PathPass(self.layout, self.encoder, self.loss, self.old, self.new, self.catalog)


def explanation_of(old: Model, refreshed: Model, path: np.ndarray, total: float, method: str,
                   feature_names: tuple[str, ...]):
    """The :class:`shiftemp.report.Explanation` of a path-integrated gradient (as
    :func:`shiftemp.explain.explain_energy` assembles it from per-row data)."""
    from .explain import INTERCEPT
    from .report import Explanation, FeatureEnergy

    w_new, w_old = refreshed.params_, old.params_
    delta = w_old - w_new
    terms = (delta * path).reshape(delta.shape[0], -1).sum(axis=1)
    change = (w_new - w_old).reshape(delta.shape[0], -1)
    rows = [
        FeatureEnergy(
            feature=name, coefficient_change=tuple(float(v) for v in change[j]),
            energy=float(terms[j]), share=float(terms[j] / total) if total != 0 else 0.0,
        )
        for j, name in enumerate((INTERCEPT, *feature_names))
    ]
    rows.sort(key=lambda row: -abs(row.energy))
    return Explanation(
        total=total, residual=float(total - terms.sum()), method=method, features=tuple(rows)
    )


def _decoder(layout: Layout, catalog: Catalog) -> SideStats:
    """What a later pass decodes its batches with: the side's categories from its first pass,
    read-only (every category is known by then)."""
    stats = SideStats(layout, 2, None)
    stats.catalog = _FrozenCatalog(catalog)
    return stats


class _FrozenCatalog(Catalog):
    """A side's catalog from its first pass, shared read-only by later passes (every category
    is known by then)."""

    def __init__(self, catalog: Catalog):
        self.index, self.names, self.hashes = catalog.index, catalog.names, catalog.hashes
        self.numeric_target = catalog.numeric_target

    def _add(self, j: int, texts: list[str]) -> np.ndarray:
        lookup = np.array([self.index[j].get(t, -1) for t in texts] + [-1], dtype=np.int64)
        return lookup


# --------------------------------------------------------------------------------------------
# running passes: locally (this thread decodes, worker threads compute) or on Dask (distributed.py)


@dataclass
class PassSpec:
    """How to start the accumulator of a pass; picklable, for Dask workers. ``batch_rows``:
    the pass's own batch size (``None``: :func:`shiftemp.io.batch_rows`), unless the runner was
    given one."""

    factory: Callable[[], Any]
    columns: list[str]
    label: str
    batch_rows: int | None = None


def default_workers() -> int:
    """Threads that compute on decoded batches: one per core this process may use, at most
    four (one decoding thread feeds them; more would wait for it)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        cores = os.cpu_count() or 1
    return max(1, min(4, cores))


def check_batch_size(batch_size: int | None) -> None:
    """``--batch-size``: a positive number of rows, or ``None`` for the default."""
    if batch_size is not None and batch_size < 1:
        raise OptionError(f"--batch-size must be a positive number of rows; got {batch_size}.")


class LocalRunner:
    """Runs passes in this process. This thread decodes the batches; ``workers`` threads compute
    on them, batch i on thread i mod workers, each into its own accumulator, merged in thread
    order at the end (a deterministic result); numpy and BLAS release the GIL while they work.
    BLAS is held to one thread per caller (small matrices; see docs/streaming.md)."""

    name = "stream"

    def __init__(self, batch_size: int | None = None, progress: Progress | None = None,
                 workers: int | None = None):
        self.batch_size = batch_size
        self.progress = progress
        self.workers = workers or default_workers()

    def run(self, scan: io.Scan, spec: PassSpec):
        batch_size = self.batch_size or spec.batch_rows
        if self.workers < 2:
            accumulator = spec.factory()
            done = 0
            with np.errstate(over="ignore", invalid="ignore"):  # overflow is checked once, below
                for batch in _prefetch(scan.batches(spec.columns, batch_size)):
                    interrupt.check()
                    accumulator.update(batch)
                    done += batch.num_rows
                    if self.progress is not None:
                        self.progress(spec.label, done, scan.rows)
            return checked(accumulator.finish(), scan)
        workers = [_Worker(spec.factory()) for _ in range(self.workers)]
        for worker in workers:
            worker.start()
        done = 0
        try:
            for i, batch in enumerate(scan.batches(spec.columns, batch_size)):
                interrupt.check()  # a Ctrl-C that Python dropped stops the pass here
                if not workers[i % len(workers)].give(batch):
                    break  # that worker failed: its error is raised below
                done += batch.num_rows
                if self.progress is not None:
                    self.progress(spec.label, done, scan.rows)
        finally:
            for worker in workers:
                worker.give(_Worker.END)
            for worker in workers:
                worker.join()
        for worker in workers:
            if worker.error is not None:
                raise worker.error
        result = workers[0].accumulator
        for worker in workers[1:]:
            result = result.merge(worker.accumulator)
        return checked(result.finish(), scan)


class _Worker(threading.Thread):
    """A thread that feeds the batches it is given to its accumulator."""

    END = object()

    def __init__(self, accumulator):
        super().__init__(daemon=True)
        self.accumulator = accumulator
        self.error: BaseException | None = None
        self._box: queue.Queue = queue.Queue(maxsize=1)

    def give(self, item) -> bool:
        """Queue ``item``; False once this worker has failed (the item is dropped)."""
        while self.error is None and self.is_alive():
            try:
                self._box.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def run(self):
        # numpy's error state is per thread: overflow is checked once, by `checked`
        with np.errstate(over="ignore", invalid="ignore"):
            while True:
                item = self._box.get()
                try:
                    if item is _Worker.END:
                        settle = getattr(self.accumulator, "settle", None)
                        if settle is not None:  # in parallel: the merge that follows is serial
                            settle()
                        return
                    self.accumulator.update(item)
                except BaseException as exc:  # raised by the runner, in the caller's thread
                    self.error = exc
                    return


def checked(result, scan: io.Scan):
    """``result`` of a pass, refused with one line when its statistics overflowed: values near
    the float limits square to infinity in a Gram matrix, where the in-memory engine rescales."""
    stats = [getattr(result, "grams", None)]
    moments = getattr(result, "moments", None)
    if moments is not None:
        stats.append(moments.comoment)
    if any(s is not None and not np.isfinite(s).all() for s in stats):
        raise InputError(
            f"{scan.path}: some values are too large for the streaming engine (their squares"
            " overflow double precision); divide the largest columns by a power of ten, or pass"
            " --engine memory."
        )
    return result


def _prefetch(batches: Iterator, depth: int = 2) -> Iterator:
    """Iterate ``batches`` in a background thread, ``depth`` batches ahead."""
    box: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    end = object()

    def produce():
        try:
            for batch in batches:
                while not stop.is_set():
                    try:
                        box.put(batch, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            box.put(end)
        except BaseException as exc:  # handed to the consumer, raised there
            box.put(exc)

    thread = threading.Thread(target=produce, daemon=True)
    thread.start()
    try:
        while True:
            item = box.get()
            if item is end:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join(timeout=5)


class _Hash(threading.Thread):
    """The input's SHA-256, computed beside the passes."""

    def __init__(self, scan: io.Scan, checksum: bool = True):
        super().__init__(daemon=True)
        self.scan, self.value, self.error = scan, "", None
        if checksum:
            self.start()

    def run(self):
        try:
            self.value = self.scan.sha256()
        except BaseException as exc:  # surfaced in result()
            self.error = exc

    def result(self) -> str:
        if self.ident is not None:
            self.join()
        if self.error is not None:
            raise self.error
        return self.value


def _import_beside(module: str) -> None:
    """Start importing ``module`` in a thread, beside a pass: scipy.linalg takes 0.3 s of one
    core to import, which between two passes would run alone. Python's import lock makes a
    later ``import`` in any thread wait for this one, never import twice; a failure here is
    left for that import to raise."""
    import importlib
    import sys

    if module in sys.modules:
        return

    def load():
        try:
            importlib.import_module(module)
        except BaseException:  # noqa: BLE001 - raised again by the import that needs it
            pass

    threading.Thread(target=load, daemon=True).start()


def _limit_blas():
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - scikit-learn brings it
        import contextlib
        return contextlib.nullcontext()
    return threadpool_limits(1, user_api="blas")


# --------------------------------------------------------------------------------------------
# the reference, as a reusable record (a profile is this, saved)


@dataclass
class Reference:
    """Everything compare needs of the reference, after its passes: what a profile stores."""

    path: str
    format: str
    sha256: str
    layout: Layout
    family: Family
    loss: Loss
    stats: SideStats
    classes: tuple[str, ...] | None = None
    params: np.ndarray | None = None
    energy_sum: float | None = None
    curvature: np.ndarray | None = None
    notes: tuple[str, ...] = ()
    options: dict = field(default_factory=dict)
    columns: tuple[str, ...] = ()
    """Every column of the reference file (a profile notes the shifted data's extra ones)."""
    empty: tuple[str, ...] = ()
    """Columns the options chose that have no value in the reference: left out of a profile,
    which refuses a shifted file with values in them (as comparing the raw files does)."""

    @property
    def location(self) -> str:
        """Where the reference came from, for messages: its profile's path (set when one is
        loaded), else its data's."""
        return getattr(self, "profile_path", self.path)


# --------------------------------------------------------------------------------------------
# the engine


@dataclass
class Settings:
    target: str | None
    features: list[str] | None
    exclude: list[str] | None
    model: Family | None
    loss: Loss | None
    folds: int
    entropy: str
    seed: int
    spread_rows: int | None = None
    time_column: str | None = None


def _default_family(layout: Layout, ref: SideStats, new: SideStats | None) -> Family | None:
    """``dataset.default_family`` from the sides' statistics: logistic for a text target or for
    a numeric one with at most 10 distinct values in the two files together, linear otherwise;
    ``None`` when the shifted data's values are needed and not read yet."""
    if not layout.target_numeric:
        return Family.LOGISTIC
    if ref.target_values is None or ref.target_values.size > MAX_CLASSES_FOR_DEFAULT:
        return Family.LINEAR
    if new is None:
        return None
    if new.target_values is None:
        return Family.LINEAR
    union = np.union1d(ref.target_values, new.target_values)
    return Family.LOGISTIC if union.size <= MAX_CLASSES_FOR_DEFAULT else Family.LINEAR


def _check_side(stats: SideStats, name: str) -> None:
    """The errors ``prepare`` raises about one file's rows."""
    layout = stats.layout
    if stats.rows_read == 0:
        raise InputError(f"{name}: the file has a header but no data rows.")
    if stats.rows_used == 0:
        missing = {c: stats.rows_read - stats.present[_position(layout, c)] for c in layout.used}
        worst = max(layout.used, key=lambda c: missing[c])
        raise InputError(
            f"{name}: every row has a missing or infinite value in the used columns (most"
            f" often in '{worst}': {missing[worst]} of {stats.rows_read} rows); fill them in or"
            f" pass --exclude {worst}."
        )


def _position(layout: Layout, column: str) -> int:
    """A used column's index in the per-column counts (numeric columns first)."""
    if column in layout.numeric_names:
        return layout.numeric_names.index(column)
    return len(layout.numeric_names) + layout.categorical_names.index(column)


def _empty(stats: SideStats) -> list[str]:
    """Used columns without a single value in this side."""
    return [c for c in stats.layout.used if stats.present[_position(stats.layout, c)] == 0]


def _check_linear_target(stats: SideStats, layout: Layout, name: str) -> None:
    if not layout.target_numeric:
        raise ColumnError(
            f"{name}: the target '{layout.target}' is not numeric, so --model linear cannot fit"
            " it; use --model logistic."
        )
    t = layout.numeric_names.index(layout.target)
    if stats.high[t] <= stats.low[t]:
        raise ColumnError(
            f"{name}: the target '{layout.target}' is constant ({stats.low[t]:g} in every used"
            " row); there is nothing to fit. Check the file or pass another --target."
        )
    check_target_magnitude(stats.target_top, layout.target, name)


def _check_rows_for_parameters(p: int, n_ref: int, n_new: int, folds: int, names) -> None:
    """``dataset.check_rows_for_parameters``: no fit may interpolate its rows."""
    fit_rows = n_new * (folds - 1) // folds
    if p >= n_ref:
        raise ColumnError(
            f"{names[0]}: {n_ref:,} usable rows for {p:,} model parameters (features"
            " plus intercept): the model would interpolate them and its energy would mean"
            " nothing. Narrow --features or --exclude, or compare more rows."
        )
    if p >= fit_rows:
        raise ColumnError(
            f"{names[1]}: each cross-fitted model sees {fit_rows:,} of its {n_new:,}"
            f" usable rows, no more than its {p:,} parameters (features plus intercept), so it"
            " would interpolate them. Narrow --features or --exclude, raise --folds, or compare"
            " more rows."
        )


def _class_counts(stats: SideStats, layout: Layout) -> dict[str, int] | None:
    """Rows of each class of one side's target, by label (None where not counted)."""
    if layout.target_numeric:
        if stats.target_values is None or stats.target_counts is None:
            return None
        return dict(zip(class_labels(stats.target_values), map(int, stats.target_counts)))
    j = layout.categorical_names.index(layout.target)
    names = _labels_of_texts(list(stats.catalog.names[j]), stats.catalog.numeric_target)
    return dict(zip(names, map(int, stats.counts[j])))


def _side_classes(stats: SideStats, layout: Layout) -> list[str] | None:
    """The class names of one side's target (None: too many to be classes)."""
    if layout.target_numeric:
        if stats.target_values is None:
            return None
        return class_labels(stats.target_values)
    j = layout.categorical_names.index(layout.target)
    names = [name for name, count in zip(stats.catalog.names[j], stats.counts[j]) if count > 0]
    return _labels_of_texts(names, stats.catalog.numeric_target)


def _classes(ref: SideStats, new: SideStats | None, layout: Layout, names,
             scans=None) -> tuple[str, ...]:
    """The classes of a class target in both files. ``scans`` (reference, shifted; None where
    there is no file to read again, a profile) let a target that is numeric but for a few stray
    words in one file be refused naming the first of them, as the in-memory engine does."""
    sides = [(ref, names[0])] + ([(new, names[1])] if new is not None else [])
    found = []
    for stats, name in sides:
        texts = _side_classes(stats, layout)
        if texts is None:
            texts = [""] * (MAX_CLASSES + 1)  # too many to list: refused just below
        found.append((texts, name))
    classes = sorted(set().union(*(set(t) for t, _ in found)))
    if len(classes) > MAX_CLASSES or any(len(t) > MAX_CLASSES for t, _ in found):
        count = "more than" if any(len(t) > MAX_CLASSES for t, _ in found) else ""
        if new is not None and ref.catalog.numeric_target != new.catalog.numeric_target:
            raise mixed_target(layout.target, not ref.catalog.numeric_target, names, None,
                               f"more than {MAX_CLASSES}" if count else str(len(classes)))
        fix = "use --model linear" if layout.target_numeric else "pass --target with the column to predict"
        raise ColumnError(
            f"{', '.join(names)}: the target '{layout.target}' has {count or ''}"
            f"{' ' if count else ''}{max(len(classes), MAX_CLASSES + 1) if count else len(classes)}"
            f" distinct values, too many for classification (at most {MAX_CLASSES}); {fix}."
        )
    if new is not None and ref.catalog.numeric_target != new.catalog.numeric_target:
        # text labels that are numbers ("0", "1") are the numeric file's classes; others are not
        labels = not_numbers(found[0 if new.catalog.numeric_target else 1][0])
        text_side = 0 if new.catalog.numeric_target else 1
        if labels and scans is not None and scans[text_side] is not None:
            stray = _stray_in_scan(scans[text_side], layout.target)
            if stray is not None:
                raise mixed_target(layout.target, not ref.catalog.numeric_target, names, stray, "")
        if labels:
            raise target_type_mismatch(layout.target, not ref.catalog.numeric_target, names,
                                       labels)
    for texts, name in found:
        if len(set(texts)) < 2:
            raise ColumnError(
                f"{name}: the target '{layout.target}' has a single class ({texts[0]!r});"
                " classification needs at least two."
            )
    return tuple(classes)


def profile_reference(reference, settings: Settings, runner=None, name: str | None = None,
                      checksum: bool = True) -> Reference:
    """Read the reference alone: its statistics, encoder and old model (``shiftemp profile``).

    The family is decided from the reference alone (a raw comparison also looks at the shifted
    data's target values when the reference has at most 10).
    """
    if settings.model is Family.MLP:
        raise OptionError(
            "--model mlp cannot be profiled: the network is trained on the reference data, which"
            " a profile does not keep; compare the reference's data file with --model mlp instead."
        )
    runner = runner or LocalRunner()
    scan = _scan(reference, name or "reference")
    hashing = _Hash(scan, checksum)
    with _limit_blas():
        chosen = resolve_layout([scan.schema], [scan.path], settings.target, settings.features,
                                settings.exclude)
        layout, ref = _read_reference(scan, None, chosen, settings, runner)
        family = settings.model or _default_family(layout, ref, None) or Family.LOGISTIC
        loss = check_loss(family, settings.loss)
        if family is Family.LINEAR:
            _check_linear_target(ref, layout, scan.path)
        classes = _classes(ref, None, layout, [scan.path]) if family is Family.LOGISTIC else None
        encoder = make_encoder(layout, family, ref, classes, scan.path)
        ref.sample.truncate(spread_size(encoder.p, settings.spread_rows))
        reference = Reference(
            path=scan.path, format=scan.format, sha256="", layout=layout, family=family,
            loss=loss, stats=ref, classes=classes, notes=layout.notes + _own_notes(ref, scan.path),
            options={"target": settings.target, "features": settings.features,
                     "exclude": settings.exclude},
            columns=tuple(map(str, scan.schema.names)),
            empty=tuple(c for c in chosen.feature_columns if c not in layout.feature_columns),
        )
        reference.encoder = encoder
        _fit_reference(reference, scan, runner, settings)
    reference.sha256 = hashing.result()
    return reference


def _own_notes(stats: SideStats, name: str) -> tuple[str, ...]:
    """What ``prepare`` notes about one file: infinite values, dropped rows."""
    layout, notes = stats.layout, []
    infinite = [c for j, c in enumerate(layout.numeric_names) if stats.infinite[j]]
    infinite = [c for c in layout.used if c in infinite]
    if infinite:
        notes.append(f"{name}: infinite values in {', '.join(map(repr, infinite))} count as missing")
    if stats.rows_dropped:
        notes.append(f"{name}: dropped {stats.rows_dropped} of {stats.rows_read} rows with"
                     " missing values")
    return tuple(notes)


def _column_has_values(scan: io.Scan, column: str, numeric: bool) -> bool:
    """Whether ``column`` of ``scan`` holds a usable value (reads that column only)."""
    for batch in scan.batches([column]):
        array = batch.column(0)
        if numeric:
            if np.isfinite(array.to_numpy(zero_copy_only=False).astype(float)).any():
                return True
        elif array.null_count < len(array):
            return True
    return False


def _empty_note(column: str, name: str | None = None) -> str:
    """The note on a feature without values, in the reference file ``name`` alone (a profile)
    or in both files."""
    if name is not None:
        return f"{name}: column '{column}' has no values; left out"
    return f"column '{column}' has no values in either file; left out"


def _empty_error(column: str, name: str) -> str:
    """The error on a feature without values in reference ``name`` but with some in the
    shifted file."""
    return (f"{name}: every row has a missing or infinite value in column '{column}' (it has no"
            f" values at all); fix the file or pass --exclude {column}.")


def _read_reference(scan, new_scan, layout: Layout, settings: Settings, runner):
    """The reference's first pass. Columns without a single value in either file are left out
    (with a note) and the pass is run again without them, as ``prepare`` leaves them out."""
    notes = []
    while True:
        capacity = _initial_capacity(layout, settings.spread_rows)
        ref = _first_pass(scan, layout, runner, capacity, f"reading {scan.path}")
        if ref.rows_read == 0:
            raise InputError(f"{scan.path}: the file has a header but no data rows.")
        empty = _empty(ref)
        if not empty:
            break
        if layout.target in empty:
            raise InputError(
                f"{scan.path}: the target '{layout.target}' has no values (missing in every row);"
                " check the file or pass another --target."
            )
        for column in empty:
            if new_scan is not None and _column_has_values(
                new_scan, column, column in layout.numeric_names
            ):
                raise InputError(_empty_error(column, scan.path))
            # a profile: the shifted file is checked at compare time (_check_profile_empty)
            notes.append(_empty_note(column, None if new_scan is not None else scan.path))
        if len(empty) == len(layout.feature_columns):
            raise ColumnError(
                f"{scan.path}: every feature column is empty{' in both files' if new_scan else ''};"
                " nothing is left to fit."
            )
        schemas = [scan.schema] + ([new_scan.schema] if new_scan is not None else [])
        names = [scan.path] + ([new_scan.path] if new_scan is not None else [])
        excluded = [*(settings.exclude or []), *empty]
        layout = resolve_layout(schemas, names, settings.target, settings.features, excluded,
                                settings.time_column)
        layout = dataclasses.replace(layout, notes=layout.notes + tuple(notes))
    _check_side(ref, scan.path)
    return layout, ref


def _first_pass(scan: io.Scan, layout: Layout, runner, capacity: int, label: str,
                encoder: Encoder | None = None, folds: int = 5, seed: int = 0) -> SideStats:
    rows = io.batch_rows(len(layout.used), io.STATS_BATCH_ROWS)
    spec = PassSpec(_SideFactory(layout, capacity, encoder, folds, seed, scan.rows),
                    layout.used, label, rows)
    stats = runner.run(scan, spec)
    if stats.sample.short:  # the cut was too tight (many duplicated rows): once more, exactly
        spec = PassSpec(_SideFactory(layout, capacity, encoder, folds, seed), layout.used, label,
                        rows)
        stats = runner.run(scan, spec)
    stats.name = scan.path
    field = scan.schema.field(layout.target).type
    stats.catalog.numeric_target = bool(pa.types.is_integer(field) or pa.types.is_floating(field))
    return stats


@dataclass
class _SideFactory:
    layout: Layout
    capacity: int
    encoder: Encoder | None
    folds: int
    seed: int
    rows: int | None = None

    def __call__(self) -> SideStats:
        return SideStats(self.layout, self.capacity, self.encoder, self.folds, self.seed,
                         self.rows)


@dataclass
class _LossFactory:
    layout: Layout
    encoder: Encoder
    loss: Loss
    params: list
    roles: list
    folds: int
    seed: int
    hessians: list
    catalog: Catalog
    path: tuple | None = None
    per_fold: int | None = None

    def __call__(self) -> LossPass:
        return LossPass(self.layout, self.encoder, self.loss, self.params, self.roles,
                        self.folds, self.seed, self.hessians, self.catalog, self.path,
                        self.per_fold)


def _initial_capacity(layout: Layout, rows: int | None) -> int:
    """The spread sample's capacity while an input is read before the design's width ``p`` is
    known (the categories are not counted yet): that of the narrowest design the numeric
    columns allow, cut to ``spread_size(p)`` afterwards (the bottom M' of a bottom M, M' <= M)."""
    numeric_features = sum(1 for c in layout.numeric_names if c != layout.target)
    return spread_size(numeric_features + 1, rows)


def _reference_rows(reference: Reference):
    ref, encoder = reference.stats, reference.encoder
    rows = ref.sample_rows()
    return encoder.design(rows, ref.catalog), encoder.target(rows, ref.catalog)


def _fit_reference(reference: Reference, scan, runner, settings: Settings | None,
                   curvature: bool = True) -> None:
    """The old model: exact from the moments (linear/MSE), or fitted by passes (logistic), or
    on the spread sample (MAE); with its energy on the reference (a sum over its rows).
    ``curvature``: the logistic model's Fisher information at its final parameters is needed
    (the parameter entropy; a profile keeps it), not only where it steers the steps."""
    ref, encoder = reference.stats, reference.encoder
    ridge = DEFAULT_RIDGE[reference.family]
    if reference.family is Family.LINEAR and reference.loss is Loss.MSE:
        G = reference_gram(ref, encoder)
        b = solve_least_squares(G, G[0, 0], ridge)
        reference.params = encoder.target_scale * b
        reference.params[0] += encoder.target_centre
        reference.energy_sum = _quadratic(G, b) * encoder.target_scale ** 2 * G[0, 0]
        return
    D_s, y_s = _reference_rows(reference)
    if reference.family is Family.LINEAR:  # MAE: fitted on the spread sample
        reference.params = solve_least_absolute(D_s, y_s, ridge)
        sums = runner.run(scan, PassSpec(
            _LossFactory(reference.layout, encoder, Loss.MAE, [reference.params], [ModelRole()],
                         settings.folds, settings.seed, [False], ref.catalog),
            reference.layout.used, f"measuring {scan.path}"))
        reference.energy_sum = float(sums.train_loss[0])
        return
    if reference.family is not Family.LOGISTIC:  # a network is fitted by netshift, in memory
        raise OptionError(f"--model {reference.family.value} has no streamed fit of the reference.")
    K = len(reference.classes)
    B0 = solve_logistic(D_s, y_s, K, ridge)  # warm start: the spread sample
    params, loss, curvature_, notes = _newton_passes(
        scan, runner, reference.layout, encoder, B0, settings, ref.catalog, ridge, scan.path,
        curvature)
    reference.params = params
    reference.energy_sum = loss
    reference.curvature = curvature_
    reference.notes = (*reference.notes, *notes)


def _quadratic(G: np.ndarray, b: np.ndarray) -> float:
    """``b~' G b~ / n`` with ``b~ = [-b, 1]``: the mean squared residual of b."""
    v = np.append(-b, 1.0)
    return float(v @ G @ v) / G[0, 0]


def _newton_passes(scan, runner, layout, encoder, start: np.ndarray, settings, catalog,
                   ridge: float, label: str, curvature: bool = True):
    """One logistic model fitted by Newton's method, a pass over the data per step (loss,
    gradient and Fisher information at the current parameters), until it converges
    (:class:`_Descent`: verified or predicted). Returns the parameters after the last step
    (taken without a pass, as the in-memory solver takes it), the summed loss there
    (:func:`_stepped`), the mean Fisher information plus the ridge at the last parameters a
    pass evaluated, and notes. ``curvature``: that Fisher information is wanted, so the stop
    must be a verified one."""
    descent = _Descent(start.copy())
    eye = np.eye(start.size)
    for passes in range(1, MAX_PASSES + 1):
        B = descent.params
        sums = runner.run(scan, PassSpec(
            _LossFactory(layout, encoder, Loss.CE, [B], [ModelRole()], settings.folds,
                         settings.seed, [True], catalog),
            layout.used, f"fitting on {label} (pass {passes})"))
        n = sums.train_rows[0]
        hessian = sums.fisher[0] / n + ridge * eye
        objective = sums.train_loss[0] / n + 0.5 * ridge * float(np.sum(B * B))
        descent.propose(objective, sums.gradient[0] / n + ridge * B, hessian)
        if descent.converged or (descent.predicted and not curvature):
            params, loss = _stepped(descent, sums.train_loss[0], sums.gradient[0], sums.fisher[0])
            return params, loss, hessian, []
        descent.move()
    return B, float(sums.train_loss[0]), hessian, [
        f"{label}: the logistic solver stopped after {MAX_PASSES} passes before its Newton"
        " decrement reached 1e-10"]


def _stepped(descent: "_Descent", loss: float, gradient: np.ndarray, fisher: np.ndarray):
    """A model's parameters after its last Newton step, taken without a pass, and its summed
    loss there: to second order from the sums at the point the pass evaluated (loss, gradient
    and Fisher information of the loss; the error is of the third order in the step, whose
    size is the square root of the decrement)."""
    s = descent.step
    v = s.ravel(order="F")
    return descent.params - s, float(loss) - float(np.sum(gradient * s)) + 0.5 * float(v @ fisher @ v)


@dataclass
class CrossFitted:
    """The shifted side's logistic fits (:func:`_cross_fitted_newton`): the refreshed model
    (p, m), the K fold models, and sums over the rows at those parameters."""

    params: np.ndarray
    fold_params: list[np.ndarray]
    before: float  # the old model's loss, summed over the rows
    inside: float  # the refreshed model's
    outside: float  # each fold model's on its held-out fold, summed over the folds
    curvature: np.ndarray  # the refreshed model's mean Fisher information plus the ridge
    path_total: np.ndarray | None
    notes: list[str]


def _newton_step(hessian: np.ndarray, gradient: np.ndarray) -> tuple[np.ndarray, float]:
    """The Newton step ``H^-1 g`` and the decrement ``g' H^-1 g``."""
    from scipy import linalg

    step = linalg.solve(hessian, gradient, assume_a="pos")
    return step, float(gradient @ step)


class _Descent:
    """One model's Newton iterations: the step from the sums at its current parameters
    (:meth:`propose`), then taken (:meth:`move`), or halved back from the previous point when
    the objective went up.

    Convergence: *verified* (:attr:`converged`) when the decrement at the parameters a pass
    evaluated is within the tolerances; *predicted* (:attr:`predicted`) when the decrement after
    the step, from the contraction of the last two, is. Either way the last step is then taken
    without a pass, and the sums there extrapolated from the last pass's (:func:`_stepped`).
    """

    def __init__(self, params: np.ndarray):
        self.params = params
        #: the Newton step from the sums at ``params`` and its decrement
        self.step = np.zeros_like(params)
        self.decrement = np.inf
        self.stuck = False  # the objective rose for steps too small to matter: rounding rules
        self.previous = None  # the decrement where the last full step started
        #: ``h' H^-1 h`` of the gradient ``h`` of another quantity the model is reported by
        #: (a fold model's mean held-out loss): it moves by up to ``sqrt(sensitivity d)`` with
        #: the parameters, against ``d`` for the objective
        self.sensitivity = 0.0
        self._objective = np.inf
        self._last = None  # (objective, parameters, step) of the previous step taken

    def _within(self, decrement: float) -> bool:
        return decrement <= NEWTON_TOL and self.sensitivity * decrement <= HELD_TOL ** 2

    @property
    def converged(self) -> bool:
        return self._within(self.decrement) or self.stuck

    @property
    def predicted(self) -> bool:
        """Whether the decrement after :attr:`step` is predicted to be within the tolerances:
        the last two decrements ``d_prev, d`` contract by ``d / d_prev``; a contraction that
        does not grow (a linear rate that holds, or Newton's quadratic rate, which shrinks it)
        puts the next decrement at most at ``d^2 / d_prev``."""
        return self.previous is not None and self._within(self.decrement ** 2 / self.previous)

    def propose(self, objective: float, gradient: np.ndarray, hessian: np.ndarray) -> float:
        """The Newton step from the sums at :attr:`params`; returns its decrement."""
        s, self.decrement = _newton_step(hessian, gradient.ravel(order="F"))
        self.step = s.reshape(self.params.shape, order="F")
        self._objective = objective
        return self.decrement

    def move(self) -> None:
        last = self._last
        if last is not None and self._objective > last[0]:
            value, start, step = last
            self._last = (value, start, 0.5 * step)
            self.params = start - 0.5 * step
            self.previous = None  # no rate to measure across a halved step
            self.stuck = bool(np.max(np.abs(step)) < 1e-14)
            if self.stuck:
                self.params = start
        else:
            self._last = (self._objective, self.params, self.step)
            self.params = self.params - self.step
            self.previous = self.decrement


def _cross_fitted_newton(scan, runner, layout, encoder, old: np.ndarray, start: np.ndarray,
                         settings, catalog, ridge: float, label: str, path: bool,
                         curvature: bool = True) -> CrossFitted:
    """The refreshed logistic model and its K fold models (each trained without one fold),
    fitted together by passes over the shifted data until, in one pass, every model has
    converged (:class:`_Descent`: verified or predicted).

    Every pass keeps the refreshed model's sums fold by fold (loss, gradient, Fisher
    information). Its own Newton step uses their totals; fold model k's Hessian is the total
    without fold k. So after the first pass each fold model is one exact Newton step from the
    refreshed model (no fit of its own on a sample); its later steps use the refreshed model's
    curvature, which differs from its own by their distance, about ``sqrt(p / n)``: the
    decrement contracts by about ``p / n`` a pass on top of Newton's. Until the last pass every
    model takes its step, converged or not: the passes happen anyway. The old model is
    evaluated in the first pass. ``path``: the explanation's path gradient is summed in the
    passes that may be the last (the refreshed model's decrement was below 1e-3), with its
    derivative, which carries it through the last step; two classes only (for more, that
    derivative has no closed form here, and the explanation gets a pass of its own), and
    ``path_total`` is ``None`` when the last pass did not sum it. Predicted stops are not used
    where ``curvature`` (the refreshed model's Fisher information at its final parameters) is
    wanted.
    """
    K = settings.folds
    p, m = start.shape
    eye = np.eye(p * m)
    full = _Descent(start.copy())
    folds: list[_Descent] | None = None
    before = None
    predict = not curvature
    for passes in range(1, MAX_PASSES + 1):
        if folds is None:  # the first pass: the old model, then the refreshed one
            params, roles, at = [old, full.params], [ModelRole(evaluate=True), ModelRole()], 1
        else:
            params = [full.params, *(d.params for d in folds)]
            roles, at = [ModelRole(), *(ModelRole(fold=f) for f in range(K))], 0
        near = path and m == 1 and full.decrement <= 1e-3
        sums = runner.run(scan, PassSpec(
            _LossFactory(layout, encoder, Loss.CE, params, roles, K, settings.seed,
                         [False] * len(params), catalog, (old, at) if near else None, at),
            layout.used, f"fitting on {label} (pass {passes})"))
        if before is None:
            before = float(sums.train_loss[0])
        n = float(sums.fold_rows.sum())
        H, G = sums.fold_fisher.sum(axis=0), sums.fold_gradient.sum(axis=0)
        L = float(sums.fold_loss.sum())
        B = full.params
        full.propose(L / n + 0.5 * ridge * float(np.sum(B * B)), G / n + ridge * B, H / n + ridge * eye)
        first = folds is None
        if first:  # fold f's sums are the refreshed model's without fold f
            folds = [_Descent(B) for _ in range(K)]
        for f, descent in enumerate(folds):
            rows = max(n - float(sums.fold_rows[f]), 1.0)
            if first:
                loss, gradient = L - sums.fold_loss[f], G - sums.fold_gradient[f]
            else:
                loss, gradient = sums.train_loss[1 + f], sums.gradient[1 + f]
            b = descent.params
            hessian = (H - sums.fold_fisher[f]) / rows + ridge * eye
            descent.propose(float(loss) / rows + 0.5 * ridge * float(np.sum(b * b)),
                            gradient / rows + ridge * b, hessian)
            if not first:
                held = sums.held_gradient[1 + f].ravel(order="F") / n
                descent.sensitivity = float(held @ _newton_step(hessian, held)[0])
        models = (full, *folds)
        verified = all(d.converged for d in models)
        predicted = predict and all(d.converged or d.predicted for d in models)
        if not first and (verified or predicted):
            return _cross_fitted(full, folds, sums, before, n, ridge, eye, [])
        if passes == MAX_PASSES:
            return _cross_fitted(full, folds, sums, before, n, ridge, eye, [
                f"{label}: the logistic solver stopped after {MAX_PASSES} passes before its"
                " Newton decrement reached 1e-10"])
        for descent in models:
            descent.move()
    raise AssertionError("unreachable")  # pragma: no cover


def _cross_fitted(full: _Descent, folds: list[_Descent], sums: LossPass, before: float,
                  n: float, ridge: float, eye: np.ndarray, notes: list[str]) -> CrossFitted:
    """The fits and their sums after the last pass. Every model takes its last Newton step
    without a pass, as the in-memory solver takes it (what is not the loss a model minimises,
    a held-out loss, moves to first order with its parameters: the step is worth taking); the
    losses are extrapolated to second order (:func:`_stepped`), the explanation's path
    gradient (two classes) to first order."""
    H, G = sums.fold_fisher.sum(axis=0), sums.fold_gradient.sum(axis=0)
    L = float(sums.fold_loss.sum())
    params, inside = _stepped(full, L, G, H)
    path_total = sums.path_total
    if path_total is not None:
        path_total = path_total - (sums.path_jacobian @ full.step[:, 0])[:, None]
    outside = 0.0
    fold_params = []
    for f, descent in enumerate(folds):
        b, held = _stepped(descent, sums.held_loss[1 + f], sums.held_gradient[1 + f],
                           sums.fold_fisher[f])
        fold_params.append(b)
        outside += held
    return CrossFitted(
        params=params, fold_params=fold_params, before=before, inside=inside,
        outside=outside, curvature=H / n + ridge * eye, path_total=path_total, notes=notes,
    )


def compare_stream(
    reference, shifted, settings: Settings, runner=None, names: tuple[str, str] | None = None,
    checksum: bool = True,
) -> dict:
    """The comparison by streaming: the parts of a :class:`shiftemp.report.Comparison`.

    ``reference``: a path, frame, :class:`io.Scan` or a :class:`Reference` (from a profile).
    """
    runner = runner or LocalRunner()
    names = names or ("reference", "shifted")
    new_scan = _scan(shifted, names[1])
    new_hash = _Hash(new_scan, checksum)
    with _limit_blas():
        if isinstance(reference, Reference):
            _check_profile_layout(reference, settings, new_scan)
            check_schema(reference.layout, new_scan.schema, new_scan.path, reference.path)
            if settings.spread_rows is not None:
                reference.stats.sample.truncate(
                    spread_size(reference.encoder.p, settings.spread_rows))
            return _compare_with(reference, new_scan, settings, runner, None, new_hash, None)
        ref_scan = _scan(reference, names[0])
        ref_hash = _Hash(ref_scan, checksum)
        layout = resolve_layout([ref_scan.schema, new_scan.schema], [ref_scan.path, new_scan.path],
                                settings.target, settings.features, settings.exclude,
                                settings.time_column, [ref_scan, new_scan])
        layout, ref = _read_reference(ref_scan, new_scan, layout, settings, runner)
        family, new = settings.model, None
        if family is None:
            family = _default_family(layout, ref, None)
            if family is None:  # the shifted data's target values decide
                new = _first_pass(new_scan, layout, runner, _initial_capacity(
                    layout, settings.spread_rows), f"reading {new_scan.path}")
                _check_side(new, new_scan.path)
                family = _default_family(layout, ref, new)
                if family is Family.LINEAR:
                    new = None  # read again, with the fold statistics of the linear family
        loss = check_loss(family, settings.loss)
        reference = Reference(
            path=ref_scan.path, format=ref_scan.format, sha256="", layout=layout,
            family=family, loss=loss, stats=ref, notes=layout.notes,
        )
        reference._scan = ref_scan
        return _compare_with(reference, new_scan, settings, runner, ref_hash, new_hash, new)


def check_schema(layout: Layout, schema: pa.Schema, name: str, reference_name: str) -> None:
    """Check that an input with ``schema`` has the columns of ``layout``, of the same kinds."""
    frame = schema_kinds(schema)
    check_column_names(list(frame), name, layout.used, {layout.target: "the target"})
    for column in layout.used:
        was = column in layout.categorical_names
        now = frame[column]
        if was != now:
            described = ["text" if k else "numeric" for k in (was, now)]
            raise ColumnError(
                f"column '{column}' is {described[0]} in {reference_name} but {described[1]} in"
                f" {name}; make its type agree, or profile the reference without it."
            )


def _check_profile_layout(reference: Reference, settings: Settings, new_scan=None) -> None:
    """Refuse options that would give another comparison than the profile's: another target,
    model or loss, or ``--features``/``--exclude`` (and ``--time-column``) choosing other
    features than the profile's, in whatever order they name them; and a shifted file with
    values in a column the profile left out for having none (as the raw comparison does)."""
    layout = reference.layout
    where = reference.location
    if settings.target is not None and settings.target != layout.target:
        raise OptionError(
            f"--target {settings.target} differs from the profile's ({layout.target}); a profile"
            " fixes the columns: build another profile, or omit --target."
        )
    chosen = _profile_features(reference, settings)
    missing = [c for c in layout.feature_columns if c not in chosen]
    extra = sorted(chosen - set(layout.feature_columns) - set(reference.empty))
    time = settings.time_column
    if time is not None and time == layout.target:
        raise OptionError(
            f"--time-column '{time}' is the target; name the column that orders the rows."
        )
    if time is not None and new_scan is not None and time not in new_scan.schema.names:
        # the profile knows only the columns it used: the shifted file must hold it
        raise ColumnError(
            f"{new_scan.path} has no column '{time}' (named in --time-column). Its columns:"
            f" {list(new_scan.schema.names)}. Pass --time-column with one of them."
        )
    if time is not None and time in missing:
        raise OptionError(
            f"--time-column {time} is a feature of the profile {where}, and a time column is never"
            f" a feature: rebuild the profile with --exclude {time}, or compare the raw reference"
            " file."
        )
    if missing or extra:
        what = (f"leave out its features {missing}" if missing
                else f"add the features {extra}, which it left out")
        raise OptionError(
            f"--features/--exclude differ from the profile's: they {what}; a profile fixes its"
            f" columns: rebuild {where} with these options, compare the raw reference file, or"
            " omit them."
        )
    if new_scan is not None:
        _check_profile_columns(reference, new_scan)
        _check_profile_empty(reference, chosen, new_scan)
    if settings.model is not None and settings.model is not reference.family:
        raise OptionError(
            f"--model {settings.model.value} differs from the profile's ({reference.family.value});"
            " build the profile with that model, or omit --model."
        )
    if settings.loss is not None and settings.loss is not reference.loss:
        raise OptionError(
            f"--loss {settings.loss.value} differs from the profile's ({reference.loss.value});"
            " build the profile with that loss, or omit --loss."
        )


def _profile_features(reference: Reference, settings: Settings) -> set[str]:
    """The reference's columns that ``--features``/``--exclude``/``--time-column`` make features
    (the profile's features and empty columns when they are not given)."""
    layout, time = reference.layout, settings.time_column
    # the time column is excluded by its own option, which checks it; here it only leaves out
    exclude = [c for c in settings.exclude or [] if c != time] or None
    if settings.features is None and exclude is None:
        chosen = {*layout.feature_columns, *reference.empty}
    else:
        chosen = set(resolve_features(list(reference.columns), layout.target, settings.features,
                                      exclude, reference.path))
    return chosen - {time}


def _check_profile_columns(reference: Reference, new_scan) -> None:
    """A shifted file lacking a column the profile uses: --exclude at compare time cannot
    leave it out (a profile fixes its columns), so the message says what can."""
    layout, names = reference.layout, list(map(str, new_scan.schema.names))
    where = reference.location
    for column in layout.used:
        if column not in names:
            fix = "another --target" if column == layout.target else f"--exclude {column}"
            raise ColumnError(
                f"{new_scan.path} has no column '{column}' (used by the profile {where}). Its"
                f" columns: {names}. Rebuild the profile with {fix} (a profile fixes its"
                " columns)."
            )


def _check_profile_empty(reference: Reference, chosen: set[str], new_scan) -> None:
    """The raw comparison's handling of the columns the profile left out for having no values:
    refused when the shifted file has values in one, noted when it has none either, and
    nothing when the options leave the column out. Sets ``reference.notes`` accordingly."""
    kinds = schema_kinds(new_scan.schema)
    notes = list(reference.notes)
    for column in reference.empty:
        if column not in chosen:
            text = None
        elif column not in kinds:
            text = _empty_note(column, reference.path)
        elif _column_has_values(new_scan, column, not kinds[column]):
            raise InputError(_empty_error(column, reference.path))
        else:
            text = _empty_note(column)
        # a Reference compared twice holds the note of the first comparison
        at = [i for i, n in enumerate(notes)
              if n in (_empty_note(column), _empty_note(column, reference.path))]
        if at:
            notes[at[0]: at[0] + 1] = [text] if text else []
        elif text:
            notes.append(text)
    reference.notes = tuple(notes)


def _compare_with(reference: Reference, new_scan, settings, runner, ref_hash, new_hash,
                  new: SideStats | None) -> dict:
    layout, family, loss = reference.layout, reference.family, reference.loss
    ref = reference.stats
    names = (reference.path, new_scan.path)
    from_profile = getattr(reference, "_scan", None) is None
    if family is Family.LINEAR:
        _check_linear_target(ref, layout, reference.path)
        if reference.params is None:
            reference.encoder = make_encoder(layout, family, ref, None, reference.path)
            ref.sample.truncate(spread_size(reference.encoder.p, settings.spread_rows))
        encoder = reference.encoder
        capacity = spread_size(encoder.p, settings.spread_rows)
        new = _first_pass(new_scan, layout, runner, capacity, f"reading {new_scan.path}",
                          encoder, settings.folds, settings.seed)
        _check_shifted(new, ref, new_scan.path)
        _check_linear_target(new, layout, new_scan.path)
        _check_rows_for_parameters(encoder.p, ref.rows_used, new.rows_used, settings.folds, names)
        if reference.params is None:
            _fit_reference(reference, reference._scan, runner, settings,
                           settings.entropy == "parameters")
    else:
        _import_beside("scipy.linalg")  # the logistic fits' solver, needed after this pass
        if new is None:
            capacity = _initial_capacity(layout, settings.spread_rows)
            new = _first_pass(new_scan, layout, runner, capacity, f"reading {new_scan.path}")
        _check_shifted(new, ref, new_scan.path)
        classes = _classes(ref, new, layout, names,
                           (getattr(reference, "_scan", None), new_scan))
        if reference.params is None:
            reference.classes = classes
            reference.encoder = make_encoder(layout, family, ref, classes, reference.path)
            ref.sample.truncate(spread_size(reference.encoder.p, settings.spread_rows))
        elif tuple(classes) != tuple(reference.classes):
            extra = sorted(set(classes) - set(reference.classes))
            raise InputError(
                f"{new_scan.path} has classes of '{layout.target}' that the profile's reference"
                f" lacks: {extra}; the old model cannot be refitted from a profile. Compare the"
                " raw reference file instead."
            )
        encoder = reference.encoder
        new.sample.truncate(spread_size(encoder.p, settings.spread_rows))
        _check_rows_for_parameters(encoder.p, ref.rows_used, new.rows_used, settings.folds, names)
        if reference.params is None:
            _fit_reference(reference, reference._scan, runner, settings,
                           settings.entropy == "parameters")
    n_new = new.rows_used
    if n_new < 2 * settings.folds:
        raise InputError(
            f"{new_scan.path}: {n_new} usable rows are too few for {settings.folds}-fold"
            f" cross-fitting; it needs at least {2 * settings.folds} (or lower --folds)."
        )
    result = _transition(reference, new, new_scan, settings, runner)
    notes = list(reference.notes)
    if from_profile:
        where = reference.location
        extra = [c for c in new_scan.schema.names if c not in set(reference.columns)]
        if extra and reference.options.get("features") is None:
            at = 1 if notes and notes[0].startswith("using column") else 0
            notes.insert(at, f"{names[1]}: columns not in {names[0]} are ignored: {', '.join(extra)}")
        notes.insert(0, f"reference statistics from the profile {where}")
    else:
        notes += _own_notes(ref, names[0])
    notes += _own_notes(new, names[1])
    for column, count in _unseen(reference, new).items():
        notes.append(
            f"{names[1]}: {count} rows have a '{column}' category unseen in {names[0]};"
            f" encoded as its most frequent category '{reference.encoder.levels[column][0]}'"
        )
    notes += result.pop("notes")
    if family is Family.LOGISTIC:
        rare = rare_classes_note(_class_counts(new, layout) or {}, settings.folds, names[1])
        notes += [rare] if rare else []
    reference.sha256 = reference.sha256 if ref_hash is None else ref_hash.result()
    result.update(
        layout=layout, family=family, loss=loss, encoder=encoder, reference=reference, new=new,
        new_scan=new_scan, new_sha256=new_hash.result(), notes=notes, from_profile=from_profile,
    )
    return result


def _check_shifted(new: SideStats, ref: SideStats, name: str) -> None:
    if new.rows_read == 0:
        raise InputError(f"{name}: the file has a header but no data rows.")
    for column in _empty(new):
        if column == new.layout.target:
            raise InputError(
                f"{name}: the target '{column}' has no values (missing in every row); check the"
                " file or pass another --target."
            )
        raise InputError(
            f"{name}: every row has a missing or infinite value in column '{column}' (it has"
            f" no values at all); fix the file or pass --exclude {column}."
        )
    _check_side(new, name)


def _unseen(reference: Reference, new: SideStats) -> dict[str, int]:
    found = {}
    layout = reference.layout
    for column in layout.categorical_features:
        j = layout.categorical_names.index(column)
        known = set(reference.encoder.levels[column])
        missing = int(sum(c for name, c in zip(new.catalog.names[j], new.counts[j]) if name not in known))
        if missing:
            found[column] = missing
    return found


def _transition(reference: Reference, new: SideStats, new_scan, settings: Settings, runner) -> dict:
    """Energies and entropies from the statistics."""
    encoder, family, loss = reference.encoder, reference.family, reference.loss
    ridge = DEFAULT_RIDGE[family]
    K = settings.folds
    ref = reference.stats
    rows = new.sample_rows()
    D_s = encoder.design(rows, new.catalog)
    y_s = encoder.target(rows, new.catalog)
    fold_s = encoder.folds_of(D_s, y_s, K, settings.seed)
    D_r, y_r = _reference_rows(reference)
    n, n_ref = new.rows_used, ref.rows_used
    old = encoder.model(loss, reference.params)
    notes: list[str] = []
    curvature_new = None
    sigma = {}
    if family is Family.LINEAR and loss is Loss.MSE:
        G_f = new.grams
        G = G_f.sum(axis=0)
        s2 = encoder.target_scale ** 2
        scaled = lambda b: _scaled(b, encoder)  # noqa: E731
        b_new = solve_least_squares(G, G[0, 0], ridge)
        fold_params = []
        held = 0.0
        for f in range(K):
            if G_f[f, 0, 0] == 0:
                fold_params.append(None)
                continue
            rest = G - G_f[f]
            b_f = solve_least_squares(rest, rest[0, 0], ridge)
            fold_params.append(_unscaled(b_f, encoder))
            v = np.append(-b_f, 1.0)
            held += float(v @ G_f[f] @ v)
        means = {
            "before": _quadratic(G, scaled(reference.params)) * s2,
            "in": _quadratic(G, b_new) * s2,
            "out": held / G[0, 0] * s2,
            "ref": reference.energy_sum / n_ref,
        }
        refreshed = encoder.model(loss, _unscaled(b_new, encoder))
        sigma["new"] = means["in"] * n / max(n - encoder.p, 1)
        sigma["ref"] = reference.energy_sum / max(n_ref - encoder.p, 1)
        curvature_new = G[:encoder.p, :encoder.p] / n
    elif family is Family.LINEAR:  # MAE: fits on the spread samples, energies measured exactly
        b_new = solve_least_absolute(D_s, y_s, ridge)
        fold_params = []
        for f in range(K):
            train = fold_s != f
            fold_params.append(solve_least_absolute(D_s[train], y_s[train], ridge) if train.any() else b_new)
        params = [reference.params, b_new, *fold_params]
        roles = [ModelRole(evaluate=True), ModelRole(), *(ModelRole(fold=f) for f in range(K))]
        sums = runner.run(new_scan, PassSpec(
            _LossFactory(reference.layout, encoder, Loss.MAE, params, roles, K, settings.seed,
                         [False] * len(params), new.catalog),
            reference.layout.used, f"measuring {new_scan.path}"))
        means = {
            "before": sums.train_loss[0] / n, "in": sums.train_loss[1] / n,
            "out": sums.held_loss[2:].sum() / n, "ref": reference.energy_sum / n_ref,
        }
        refreshed = encoder.model(loss, b_new)
        if n > rows.n or n_ref > ref.sample.keys.size:
            notes.append(_mae_note(refreshed, D_s, y_s, n))
    else:  # logistic: the refreshed model and its fold models in the same passes
        # the warm start: the fit on the sample, itself started from the old model (the shifted
        # optimum is usually nearer to it than to the class frequencies)
        start = solve_logistic(D_s, y_s, len(encoder.classes), ridge, start=reference.params)
        sampled_all = n == D_s.shape[0]  # then the explanation needs no pass
        fit = _cross_fitted_newton(new_scan, runner, reference.layout, encoder, reference.params,
                                   start, settings, new.catalog, ridge, new_scan.path,
                                   path=not sampled_all,
                                   curvature=settings.entropy == "parameters")
        notes += fit.notes
        path_total = fit.path_total
        b_new, fold_params = fit.params, fit.fold_params
        means = {
            "before": fit.before / n, "in": fit.inside / n, "out": fit.outside / n,
            "ref": reference.energy_sum / n_ref,
        }
        refreshed = encoder.model(loss, b_new)
        curvature_new = fit.curvature
    # per-row losses of the spread samples, for the standard errors
    before_s = old.loss_per_row_design(D_s, y_s)
    in_s = refreshed.loss_per_row_design(D_s, y_s)
    out_s = np.empty_like(in_s)
    for f in range(K):
        mask = fold_s == f
        if mask.any():
            out_s[mask] = encoder.model(loss, fold_params[f]).loss_per_row_design(D_s[mask], y_s[mask])
    ref_s = old.loss_per_row_design(D_r, y_r)
    energy = Energy(
        before=estimate_from_sample(means["before"], before_s, n),
        after_in_sample=estimate_from_sample(means["in"], in_s, n),
        after_out_of_sample=estimate_from_sample(means["out"], out_s, n),
        delta_in_sample=estimate_from_sample(means["in"] - means["before"], in_s - before_s, n),
        delta_out_of_sample=estimate_from_sample(means["out"] - means["before"], out_s - before_s, n),
        reference=estimate_from_sample(means["ref"], ref_s, n_ref),
        folds=K,
    )
    explanation = _explanation(reference, new, new_scan, runner, old, refreshed, means, D_s, y_s,
                               locals().get("G"), locals().get("path_total"))
    if settings.entropy == "data":
        layout = reference.layout
        a, b = _summaries(ref, new, layout)
        entropy = data_entropy_change_of(a, b, layout.numeric_names, layout.categorical_names)
    else:
        entropy = _parameter_entropy(reference, old, refreshed, D_r, y_r, D_s, y_s, n, n_ref,
                                     curvature_new, sigma, ridge)
    return {"energy": energy, "entropy": entropy, "old": old, "notes": notes,
            "explanation": explanation}


def _explanation(reference, new, new_scan, runner, old, refreshed, means, D_s, y_s, G,
                 path_total=None):
    """Which features carry the released energy: exact from the Gram matrix (MSE), on the spread
    sample when it is every row, by a pass over the shifted data otherwise."""
    from .explain import explain_energy

    encoder, loss = reference.encoder, reference.loss
    total = float(means["before"] - means["in"])
    names = encoder.feature_names
    if loss is Loss.MSE:
        p, n = encoder.p, G[0, 0]
        w_new, w_old = _scaled(refreshed.params_, encoder), _scaled(old.params_, encoder)
        gradient = -2.0 * (G[:p, p] - G[:p, :p] @ w_new) / n
        path = (gradient + G[:p, :p] @ (w_old - w_new) / n) * encoder.target_scale
        return explanation_of(old, refreshed, path, total,
                              "exact (the MSE gradient is linear along the path)", names)
    if new.rows_used == D_s.shape[0]:  # the spread sample is every row
        found = explain_energy(old, refreshed, D_s, y_s, names)
        return dataclasses.replace(found, total=total, residual=found.residual + total - found.total)
    from .explain import BINARY_METHOD, QUADRATURE_NODES

    if loss is Loss.MAE:
        method = "exact (each residual changes sign at most once)"
    elif refreshed.params_.shape[1] == 1:
        method = BINARY_METHOD
    else:
        method = f"Gauss-Legendre quadrature along the path, {QUADRATURE_NODES} nodes"
    if path_total is not None:  # summed in the final Newton pass
        return explanation_of(old, refreshed, path_total / new.rows_used, total, method, names)
    sums = runner.run(new_scan, PassSpec(
        _PathFactory(reference.layout, encoder, loss, old.params_, refreshed.params_, new.catalog),
        reference.layout.used, f"explaining {new_scan.path}"))
    return explanation_of(old, refreshed, sums.total / sums.rows, total, method, names)


def _summaries(ref: SideStats, new: SideStats, layout: Layout) -> tuple[DataSummary, DataSummary]:
    return ref.summary(), new.summary()


def _scaled(b: np.ndarray, encoder: Encoder) -> np.ndarray:
    """Raw-target parameters in standardised-target units."""
    out = np.asarray(b, dtype=float).copy()
    out[0] -= encoder.target_centre
    return out / encoder.target_scale


def _unscaled(b: np.ndarray, encoder: Encoder) -> np.ndarray:
    out = np.asarray(b, dtype=float) * encoder.target_scale
    out[0] += encoder.target_centre
    return out


def _mae_note(model: Model, D: np.ndarray, y: np.ndarray, n: int) -> str:
    r = y - D @ model.params_
    h = kernel_bandwidth(r)
    f0 = float(np.mean(np.exp(-0.5 * (r / h) ** 2)) / (h * np.sqrt(2 * np.pi)))
    excess = model.n_params / (4 * f0 * D.shape[0])
    energy = float(np.mean(np.abs(r)))
    return (
        f"MAE with the stream engine: the models are fitted on a spread sample of {D.shape[0]:,}"
        f" of {n:,} rows and their energies measured on every row; the sample fit adds about"
        f" {excess:.3g} ({excess / energy:.2%} of E_B) to the refreshed model's energy"
    )


def _parameter_entropy(reference, old, refreshed, D_r, y_r, D_s, y_s, n, n_ref, curvature_new,
                       sigma, ridge):
    family, loss = reference.family, reference.loss
    encoder = reference.encoder
    if family is Family.LINEAR and loss is Loss.MSE:
        G_ref = reference_gram(reference.stats, encoder)
        p = encoder.p
        pen = np.diag(0.5 * _penalty(p, ridge, intercept=False))
        A_ref = (G_ref[:p, :p] / n_ref + pen) / sigma["ref"]
        A_new = (curvature_new + pen) / sigma["new"]
        a = laplace_entropy(old, A_ref, n_ref, D_r, y_r, sigma2=sigma["ref"])
        b = laplace_entropy(refreshed, A_new, n, D_s, y_s, sigma2=sigma["new"])
    elif family is Family.LINEAR:  # MAE: from the spread samples
        a = dataclasses.replace(parameter_entropy(old, D_r, y_r), rows=n_ref)
        b = dataclasses.replace(parameter_entropy(refreshed, D_s, y_s), rows=n)
    else:
        a = laplace_entropy(old, reference.curvature, n_ref, D_r, y_r)
        b = laplace_entropy(refreshed, curvature_new, n, D_s, y_s)
    return parameter_entropy_change_of(a, b)


# --------------------------------------------------------------------------------------------
# the entry point of typetwo.compare


PROFILE_SUFFIX = ".shiftemp"


def is_profile(data) -> bool:
    """A :class:`Reference` or the path of a ``.shiftemp`` profile."""
    if isinstance(data, Reference):
        return True
    return isinstance(data, (str, os.PathLike)) and str(data).lower().endswith(PROFILE_SUFFIX)


def _rows_and_bytes(data) -> tuple[int | None, int]:
    if io.is_frame(data):
        return len(data), 0
    if isinstance(data, io.Source):
        return len(data.frame), 0
    try:
        scan = data if isinstance(data, io.Scan) else io.scan(data)
    except InputError:
        return None, 0  # the engine that reads it will say what is wrong
    return scan.rows, scan.size_bytes if scan.file is not None else 0


def _available_memory() -> int | None:
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not Linux
        return None


def choose_engine(engine: str, reference, shifted) -> str:
    """The engine ``auto`` resolves to: ``stream`` for a profile, for inputs of more than
    :data:`shiftemp.typetwo.AUTO_STREAM_ROWS` rows, or when the in-memory engine would need more
    than half the available memory; ``memory`` otherwise."""
    from .typetwo import AUTO_STREAM_ROWS, MEMORY_BYTES_PER_VALUE

    if is_profile(reference):
        if engine == "memory":
            raise OptionError(
                "--engine memory cannot compare with a profile; use --engine stream (or auto)."
            )
        return "stream" if engine == "auto" else engine
    if engine != "auto":
        return engine
    need = 0
    for data in (reference, shifted):
        rows, size = _rows_and_bytes(data)
        if rows is not None and rows > AUTO_STREAM_ROWS:
            return "stream"
        if rows is None:  # CSV: guess from the file size (about 20 bytes per value)
            rows_estimate = size // 20
            need += rows_estimate * MEMORY_BYTES_PER_VALUE
            if rows_estimate > AUTO_STREAM_ROWS * 10:
                return "stream"
        elif size:
            need += size * 4
    available = _available_memory()
    if available is not None and need > available / 2:
        return "stream"
    return "memory"


def _scan(data, name: str) -> io.Scan:
    return data if isinstance(data, io.Scan) else io.scan(data, name)


def run_compare(reference, shifted, settings: Settings, engine: str, scheduler: str | None = None,
                batch_size: int | None = None, progress: Progress | None = None,
                checksum: bool = True) -> dict:
    """The parts of the comparison report by the ``stream`` or ``dask`` engine."""
    from .report import InputSummary, ModelSummary

    if is_profile(reference) and not isinstance(reference, Reference):
        from .profile import load

        reference = load(reference)
    if engine == "dask":
        from .distributed import DaskRunner

        with DaskRunner(scheduler, batch_size, progress) as runner:
            result = compare_stream(reference, shifted, settings, runner, checksum=checksum)
    else:
        result = compare_stream(reference, shifted, settings, LocalRunner(batch_size, progress),
                                checksum=checksum)
    ref_info, new = result["reference"], result["new"]
    ref = ref_info.stats
    return {
        "reference": InputSummary(
            path=ref_info.path, format=ref_info.format, sha256=ref_info.sha256,
            rows=ref.rows_read, rows_used=ref.rows_used, rows_dropped=ref.rows_dropped,
        ),
        "shifted": InputSummary(
            path=result["new_scan"].path, format=result["new_scan"].format,
            sha256=result["new_sha256"], rows=new.rows_read, rows_used=new.rows_used,
            rows_dropped=new.rows_dropped, unseen_categories=_unseen(ref_info, new),
        ),
        "target": result["layout"].target,
        "model": ModelSummary(
            family=ref_info.family.value, loss=ref_info.loss.value,
            ridge=float(DEFAULT_RIDGE[ref_info.family]),
            features=result["encoder"].feature_names, n_params=result["old"].n_params,
            classes=result["encoder"].classes,
        ),
        "energy": result["energy"], "entropy": result["entropy"], "notes": result["notes"],
        "explanation": result["explanation"],
    }
