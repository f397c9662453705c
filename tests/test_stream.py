"""The streaming engine: the same report as the in-memory engine, from bounded statistics.

Linear/MSE: every number of the JSON report (but ``run``) within 1e-9 relative, whatever the batch
size, with numeric and categorical features and missing values, on small data (the spread sample
is every row) and on data larger than the spread sample (both engines then take the same rows).
Logistic/CE: within the in-memory solver's tolerance (its Newton decrement stops at 1e-10).
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import shiftemp
from shiftemp import io, stream
from shiftemp.dataset import prepare
from shiftemp.errors import ColumnError, InputError, OptionError
from shiftemp.typetwo import frame_spread_rows

pytestmark = pytest.mark.usefixtures("one_blas_thread")


# -- helpers ------------------------------------------------------------------------------------


def flat(record, prefix=""):
    """Leaves of a report's JSON form, keyed by path; ``run`` left out (time, host)."""
    if isinstance(record, dict):
        out = {}
        for key, value in record.items():
            if key != "run":
                out.update(flat(value, f"{prefix}.{key}"))
        return out
    if isinstance(record, list):
        out = {f"{prefix}#": len(record)}
        for i, value in enumerate(record):
            out.update(flat(value, f"{prefix}[{i}]"))
        return out
    return {prefix: record}


#: Blocks only the in-memory engine reports (their authors' choice, see shiftemp/report.py).
IN_MEMORY_ONLY = (".type_one", ".calibration", ".network")


def differences(a, b, rtol, atol=1e-12, skip=()):
    """The leaves of two reports that differ: numbers by more than ``rtol`` relative plus
    ``atol`` (a figure that is a rounding error in both, such as the explanation's residual,
    has no relative precision), anything else at all."""
    skip = (*skip, *IN_MEMORY_ONLY)
    left, right = flat(a.to_dict()), flat(b.to_dict())
    found = []
    kept = lambda keys: {k for k in keys if not any(k.startswith(s) for s in skip)}  # noqa: E731
    assert kept(left) == kept(right)
    scale = abs(a.explanation.total) if a.explanation is not None else 1.0
    for key, x in left.items():
        if any(key.startswith(s) for s in skip):
            continue
        y = right[key]
        if isinstance(x, float) and isinstance(y, float):
            slack = atol * scale if key.startswith(".explanation") else atol
            if abs(x - y) > rtol * max(abs(x), abs(y)) + slack:
                found.append((key, x, y))
        elif x != y:
            found.append((key, x, y))
    return found


def largest_relative(a, b):
    left, right = flat(a.to_dict()), flat(b.to_dict())
    return max(
        (abs(x - right[k]) / max(abs(x), abs(right[k]), 1e-300), k)
        for k, x in left.items() if isinstance(x, float)
    )


def mixed_frames(rng, n_ref=900, n_new=800, slope=0.6, missing=True):
    """Numeric and categorical features (text and boolean), a regression target with a concept
    shift on feature a, and a few missing values."""

    def make(n, s):
        X = rng.normal(size=(n, 3)) * [1.0, 3.0, 0.5] + [0.0, 5.0, 100.0]
        frame = pd.DataFrame(X, columns=["a", "b", "c"])
        frame["region"] = rng.choice(["north", "south", "east", "west"], n, p=[.4, .3, .2, .1])
        frame["flag"] = rng.random(n) < 0.3
        y = X @ [1.0 + s, -0.2, 2.0] + frame["region"].map({"north": 0, "south": 1, "east": -1,
                                                           "west": 2}).to_numpy()
        frame["y"] = y + rng.normal(size=n)
        if missing:
            frame.loc[rng.random(n) < 0.02, "b"] = np.nan
            frame.loc[rng.random(n) < 0.01, "region"] = None
        return frame

    return make(n_ref, 0.0), make(n_new, slope)


def both(reference, shifted, **options):
    memory = shiftemp.compare(reference, shifted, engine="memory", **options)
    streamed = shiftemp.compare(reference, shifted, engine="stream", **options)
    return memory, streamed


# -- linear / MSE: 1e-9 on every number ---------------------------------------------------------


@pytest.mark.parametrize("batch_size", [37, 1000, 1_000_000])
def test_linear_stream_equals_memory_on_every_number(rng, batch_size):
    ref, new = mixed_frames(rng)
    memory = shiftemp.compare(ref, new, target="y", engine="memory")
    streamed = shiftemp.compare(ref, new, target="y", engine="stream", batch_size=batch_size)
    assert differences(memory, streamed, rtol=1e-9) == []
    # the data did move through the categorical columns and the rows dropped were counted
    assert streamed.reference.rows_dropped > 0 and streamed.shifted.rows_dropped > 0
    assert any(c.kind == "categorical" for c in streamed.entropy.columns)


def test_linear_parameter_entropy_streams_to_the_same_numbers(rng):
    ref, new = mixed_frames(rng)
    memory, streamed = both(ref, new, target="y", entropy="parameters")
    assert differences(memory, streamed, rtol=1e-9) == []


def test_unseen_categories_and_dropped_rows_are_reported_alike(rng):
    ref, new = mixed_frames(rng, missing=True)
    new.loc[new.index[:7], "region"] = "moon"
    memory, streamed = both(ref, new, target="y")
    assert streamed.shifted.unseen_categories == {"region": 7}
    assert streamed.notes == memory.notes
    assert differences(memory, streamed, rtol=1e-9) == []


def test_data_larger_than_the_spread_sample_gives_the_same_report(rng):
    """n > M: means stay exact, spreads come from the same M rows in both engines."""
    ref, new = mixed_frames(rng, n_ref=1500, n_new=1300)
    for batch_size in (41, 100_000):
        memory = shiftemp.compare(ref, new, target="y", engine="memory", spread_rows=300)
        streamed = shiftemp.compare(ref, new, target="y", engine="stream", spread_rows=300,
                                    batch_size=batch_size)
        assert differences(memory, streamed, rtol=1e-9) == []
    # and the standard errors really come from the sample: they differ from the full-data ones
    full = shiftemp.compare(ref, new, target="y", engine="memory")
    assert full.energy.before.value == pytest.approx(memory.energy.before.value, rel=1e-12)
    assert full.energy.before.se != memory.energy.before.se


def test_the_spread_sample_is_the_same_rows_in_both_engines(rng):
    ref, new = mixed_frames(rng, n_ref=1200, n_new=100)
    pair = prepare(ref, new, target="y")
    rows = frame_spread_rows(ref, pair, pair.reference, 250)
    expected = pair.reference.numeric[rows]
    layout = stream.resolve_layout([io.scan(ref).schema] * 2, ["r", "s"], "y", None, None)
    for batch_size in (29, 5000):
        stats = stream.LocalRunner(batch_size).run(
            io.scan(ref), stream.PassSpec(stream._SideFactory(layout, 250, None, 5, 0),
                                          layout.used, "r"))
        np.testing.assert_array_equal(stats.sample.numeric, expected)
        # the categories of the same rows, by name
        j = layout.categorical_names.index("region")
        names = np.array(stats.catalog.names[j])[stats.sample.codes[:, j]]
        kept = ref.dropna(subset=["b", "region"]).reset_index(drop=True)
        np.testing.assert_array_equal(names, kept["region"].to_numpy()[rows])


def test_a_pass_does_not_depend_on_batch_boundaries(rng):
    ref, _ = mixed_frames(rng, n_ref=300, n_new=10)
    layout = stream.resolve_layout([io.scan(ref).schema] * 2, ["r", "s"], "y", None, None)
    results = [
        stream.LocalRunner(size).run(
            io.scan(ref), stream.PassSpec(stream._SideFactory(layout, 100, None, 5, 0),
                                          layout.used, "r"))
        for size in (1, 64, 300)
    ]
    def labelled(stats):
        """The co-moments with columns in one order: indicators appear as categories do."""
        labels = list(stats.layout.numeric_names) + [
            f"{stats.layout.categorical_names[j]}={stats.catalog.names[j][code]}"
            for j, code in stats.onehot
        ]
        order = np.argsort(labels)
        return np.array(labels)[order], stats.moments.comoment[np.ix_(order, order)]

    labels, comoment = labelled(results[0])
    for other in results[1:]:
        np.testing.assert_array_equal(other.sample.keys, results[0].sample.keys)
        other_labels, other_comoment = labelled(other)
        np.testing.assert_array_equal(other_labels, labels)
        np.testing.assert_allclose(other_comoment, comoment, rtol=1e-12, atol=1e-9)
        assert other.rows_dropped == results[0].rows_dropped


def test_chan_merge_equals_the_moments_of_all_rows(rng):
    X = rng.normal(size=(5, 300)) * 10 + 1e6
    parts = [stream.Moments.of_rows(X[:, :1]), stream.Moments.of_rows(X[:, 1:120]),
             stream.Moments.of_rows(X[:, 120:])]
    merged = parts[0].merge(parts[1]).merge(parts[2])
    centred = X - X.mean(axis=1, keepdims=True)
    np.testing.assert_allclose(merged.mean, X.mean(axis=1), rtol=1e-15)
    exact = centred @ centred.T
    np.testing.assert_allclose(merged.comoment, exact, rtol=0, atol=1e-12 * exact.max())


def test_csv_and_parquet_folders_stream_like_frames(rng, tmp_path):
    ref, new = mixed_frames(rng, missing=False)
    ref.to_csv(tmp_path / "ref.csv", index=False)
    folder = tmp_path / "new"
    folder.mkdir()
    for i, part in enumerate((new.iloc[:300], new.iloc[300:500], new.iloc[500:])):
        pq.write_table(pa.Table.from_pandas(part, preserve_index=False), folder / f"p{i}.parquet")
    memory, streamed = both(tmp_path / "ref.csv", folder, target="y")
    assert streamed.shifted.format == "parquet-directory"
    assert streamed.reference.sha256 == memory.reference.sha256 != ""
    assert differences(memory, streamed, rtol=1e-9) == []


# -- logistic / CE and MAE ----------------------------------------------------------------------


@pytest.mark.parametrize("classes", [2, 3])
def test_logistic_stream_equals_memory_within_the_solver_tolerance(rng, classes):
    from conftest import classification_frame

    ref = classification_frame(rng, 900, classes=classes)
    new = classification_frame(rng, 800, classes=classes, flip=True)
    memory, streamed = both(ref, new, target="label")
    assert differences(memory, streamed, rtol=1e-6, atol=1e-8) == []
    # larger than the spread sample: chord Newton passes over the data
    memory = shiftemp.compare(ref, new, target="label", engine="memory", spread_rows=300)
    streamed = shiftemp.compare(ref, new, target="label", engine="stream", spread_rows=300,
                                batch_size=128)
    assert differences(memory, streamed, rtol=1e-5, atol=1e-6) == []


def test_logistic_stops_where_its_next_decrement_is_predicted_within_tolerance(rng, monkeypatch):
    """On data larger than the spread sample the solver may stop one pass early: where the
    contraction of the last two decrements puts the next one within 1e-10, it takes that last
    step without a pass. The report still agrees with the in-memory engine within the solver
    tolerance (parameters within sqrt(1e-10) in the Hessian's norm; what moves to first order
    with them, such as the old model's loss on the new rows, to about 1e-6)."""
    from conftest import classification_frame

    decrements = []
    propose = stream._Descent.propose
    monkeypatch.setattr(stream._Descent, "propose", lambda self, *a: decrements.append(
        (self, propose(self, *a))) or decrements[-1][1])  # the object, not its id: ids are reused
    ref = classification_frame(rng, 20_000, classes=2)
    new = classification_frame(rng, 20_000, classes=2, flip=True)
    tasks = []
    streamed = shiftemp.compare(ref, new, target="label", engine="stream", spread_rows=2000,
                                batch_size=4096, progress=lambda task, done, total: tasks.append(task))
    fitting_reference = [t for t in dict.fromkeys(tasks) if t.startswith("fitting on reference")]
    assert len(fitting_reference) == 2
    reference = [d for key, d in decrements if key is decrements[0][0]]
    assert len(reference) == 2 and reference[1] > stream.NEWTON_TOL  # predicted, not verified
    assert reference[1] ** 2 / reference[0] <= stream.NEWTON_TOL
    memory = shiftemp.compare(ref, new, target="label", engine="memory", spread_rows=2000)
    assert differences(memory, streamed, rtol=1e-5, atol=1e-6) == []
    # the losses the models minimise are extrapolated to second order: far closer
    for key in ("after_in_sample", "reference"):
        a, b = getattr(memory.energy, key).value, getattr(streamed.energy, key).value
        assert abs(a - b) <= 1e-9 * abs(a)


def test_mae_streams_to_the_same_numbers_on_small_data(rng):
    ref, new = mixed_frames(rng, missing=False)
    memory, streamed = both(ref, new, target="y", loss="mae")
    # least absolute deviations by IRLS (stopping at a 1e-10 relative change of the objective):
    # the rows' order moves the fit within that tolerance
    assert differences(memory, streamed, rtol=1e-5, atol=1e-5) == []
    assert differences(memory, streamed, rtol=1e-6, atol=1e-8, skip=(".explanation",)) == []


def test_mae_on_data_larger_than_the_sample_says_its_fits_are_sampled(rng):
    ref, new = mixed_frames(rng, missing=False)
    streamed = shiftemp.compare(ref, new, target="y", loss="mae", engine="stream", spread_rows=200)
    note = [n for n in streamed.notes if n.startswith("MAE with the stream engine")]
    assert len(note) == 1 and "spread sample of 200 of 800 rows" in note[0]
    memory = shiftemp.compare(ref, new, target="y", loss="mae", engine="memory", spread_rows=200)
    assert streamed.energy.before.value == pytest.approx(memory.energy.before.value, rel=0.02)


# -- the engine choice, progress, errors --------------------------------------------------------


def test_auto_streams_large_inputs_only(rng, tmp_path, monkeypatch):
    ref, new = mixed_frames(rng, n_ref=300, n_new=300, missing=False)
    for frame, name in ((ref, "ref"), (new, "new")):
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), tmp_path / f"{name}.parquet")
    paths = (tmp_path / "ref.parquet", tmp_path / "new.parquet")
    assert stream.choose_engine("auto", *paths) == "memory"
    monkeypatch.setattr("shiftemp.typetwo.AUTO_STREAM_ROWS", 250)
    assert stream.choose_engine("auto", *paths) == "stream"
    assert stream.choose_engine("auto", tmp_path / "ref.shiftemp", paths[1]) == "stream"
    with pytest.raises(OptionError, match="--engine memory cannot compare with a profile"):
        stream.choose_engine("memory", tmp_path / "ref.shiftemp", paths[1])


def test_progress_is_reported_per_pass(rng):
    ref, new = mixed_frames(rng, missing=False)
    calls = []
    shiftemp.compare(ref, new, target="y", engine="stream", batch_size=200,
                     progress=lambda task, done, total: calls.append((task, done, total)))
    tasks = list(dict.fromkeys(task for task, _, _ in calls))
    assert tasks == ["reading reference", "reading shifted"]
    assert calls[-1] == ("reading shifted", 800, 800)


def test_stream_errors_name_the_file_and_the_column(rng, tmp_path):
    ref, new = mixed_frames(rng, n_ref=100, n_new=100, missing=False)
    pq.write_table(pa.Table.from_pandas(ref, preserve_index=False), tmp_path / "ref.parquet")
    pq.write_table(pa.Table.from_pandas(new.drop(columns="c"), preserve_index=False),
                   tmp_path / "new.parquet")
    with pytest.raises(ColumnError, match=r"new\.parquet has no column 'c'"):
        shiftemp.compare(tmp_path / "ref.parquet", tmp_path / "new.parquet", target="y",
                         engine="stream")
    pq.write_table(pa.Table.from_pandas(new.iloc[:0], preserve_index=False), tmp_path / "empty.parquet")
    with pytest.raises(InputError, match="has a header but no data rows"):
        shiftemp.compare(tmp_path / "ref.parquet", tmp_path / "empty.parquet", target="y",
                         engine="stream")
    with pytest.raises(ColumnError, match="each cross-fitted model sees 4 of its 6 usable rows"):
        shiftemp.compare(ref, new.iloc[:6], target="y", engine="stream")


@pytest.mark.parametrize("engine", ["memory", "stream"])
def test_a_nested_column_is_refused_alike_by_both_engines(rng, tmp_path, engine):
    """A column of lists (from a parquet file, or a frame) is neither a feature nor the target;
    the streaming engine stopped with a traceback from pyarrow's dictionary encoding."""
    ref, new = mixed_frames(rng, n_ref=100, n_new=100, missing=False)
    for frame in (ref, new):
        frame["tags"] = [["a", "b"][: i % 3] for i in range(len(frame))]
    ref.to_parquet(tmp_path / "ref.parquet", index=False)
    nested = r"holds nested values \(lists, structs or maps\), which cannot be"
    with pytest.raises(ColumnError, match=f"ref.parquet: column 'tags' {nested} a feature"):
        shiftemp.compare(tmp_path / "ref.parquet", new, target="y", engine=engine)
    report = shiftemp.compare(tmp_path / "ref.parquet", new, target="y", engine=engine,
                              exclude=["tags"])  # left out, the same data compares
    assert report.reference.rows_used == 100
    new["y"] = [[value] for value in new["y"]]
    with pytest.raises(ColumnError, match=f"shifted: column 'y' {nested} the target"):
        shiftemp.compare(tmp_path / "ref.parquet", new, target="y", engine=engine,
                         exclude=["tags"])


def test_a_target_numeric_in_one_file_and_text_in_the_other_is_named(rng, tmp_path):
    """Read as text, a regression target with a few words becomes class labels, too many of
    them: the error says which file holds text, not only that there are too many classes."""
    ref, new = mixed_frames(rng, n_ref=300, n_new=300, missing=False)
    new["y"] = new["y"].astype(object)
    new.loc[[3, 17], "y"] = "n/a?"
    ref.to_csv(tmp_path / "ref.csv", index=False)
    new.to_csv(tmp_path / "new.csv", index=False)
    for first, second in (("ref.csv", "new.csv"), ("new.csv", "ref.csv")):
        with pytest.raises(ColumnError, match=(
                r"new\.csv: the target 'y' is numeric in .*ref\.csv but text here, so it reads as"
                r" class labels, more than 100 of them: too many for classification \(at most"
                r" 100\); make every value a number\.")):
            shiftemp.compare(tmp_path / first, tmp_path / second, target="y", engine="stream")


def test_the_cli_streams_on_request(run, rng, tmp_path):
    ref, new = mixed_frames(rng, n_ref=300, n_new=300, missing=False)
    for frame, name in ((ref, "ref"), (new, "new")):
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), tmp_path / f"{name}.parquet")
    args = (tmp_path / "ref.parquet", tmp_path / "new.parquet", "--target", "y", "-f", "json")
    memory = run("compare", *args, "--engine", "memory")
    streamed = run("compare", *args, "--engine", "stream", "--batch-size", "50")
    assert memory.code == streamed.code == 0
    a, b = (shiftemp.Comparison.from_json(r.stdout) for r in (memory, streamed))
    assert differences(a, b, rtol=1e-9) == []
    assert streamed.stderr == ""  # no progress bar when stderr is not a terminal


def test_importing_shiftemp_loads_no_dask():
    code = (
        "import sys, shiftemp, shiftemp.stream, shiftemp.profile\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -- the local runner's threads -----------------------------------------------------------------


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_the_report_does_not_depend_on_the_number_of_computing_threads(rng, monkeypatch, workers):
    """One worker (the prefetching path of a one-core machine) or several (batch i on worker
    i mod w, merged in worker order): the same report as in memory, with categories and
    missing values (so both the fast and the decoding path of a batch run)."""
    ref, new = mixed_frames(rng)
    monkeypatch.setattr(stream, "default_workers", lambda: workers)
    memory = shiftemp.compare(ref, new, target="y", engine="memory")
    streamed = shiftemp.compare(ref, new, target="y", engine="stream", batch_size=97)
    assert differences(memory, streamed, rtol=1e-9) == []
    again = shiftemp.compare(ref, new, target="y", engine="stream", batch_size=97)
    assert differences(streamed, again, rtol=0, atol=0) == []  # the same bits, run after run


def test_an_error_in_a_computing_thread_reaches_the_caller(rng):
    """A worker that fails stops the pass with its own exception, without a hang."""
    ref, _ = mixed_frames(rng, n_ref=3000, n_new=10)

    class Failing:
        def __init__(self):
            self.seen = 0

        def update(self, batch):
            self.seen += 1
            if self.seen == 3:
                raise ValueError("worker failed on purpose")

        def merge(self, other):
            return self

        def finish(self):
            return self

    spec = stream.PassSpec(Failing, list(ref.columns), "failing")
    with pytest.raises(ValueError, match="on purpose"):
        stream.LocalRunner(50, workers=2).run(io.scan(ref), spec)


@pytest.mark.parametrize("workers", [1, 2])
def test_a_pass_stops_at_the_batch_after_a_ctrl_c(rng, monkeypatch, workers):
    """A Ctrl-C that Python dropped (shiftemp.interrupt) ends a pass at its next batch, not at
    the end of the run."""
    from shiftemp import interrupt

    ref, _ = mixed_frames(rng, n_ref=3000, n_new=10)
    monkeypatch.setattr(interrupt, "_seen", type(interrupt._seen)())
    made = []

    class Counting:
        def __init__(self):
            self.seen = 0
            made.append(self)

        def update(self, batch):
            self.seen += 1
            if self.seen == 2:
                interrupt._seen.set()  # what the handler does when Ctrl-C lands here

        def merge(self, other):
            return self

        def finish(self):
            return self

    spec = stream.PassSpec(Counting, list(ref.columns), "counting")
    with pytest.raises(KeyboardInterrupt):
        stream.LocalRunner(50, workers=workers).run(io.scan(ref), spec)
    # 60 batches of 50 rows; the runner hands out at most a batch or two more per worker
    assert sum(a.seen for a in made) < 10


def test_fold_blocks_are_each_folds_columns_in_order_and_contiguous(rng):
    A = rng.normal(size=(4, 1000))
    fold = rng.integers(0, 5, 1000)
    blocks, members = stream.fold_blocks(A, fold, 5, np.empty(A.size))
    for f, (block, index) in enumerate(zip(blocks, members)):
        np.testing.assert_array_equal(index, np.flatnonzero(fold == f))
        np.testing.assert_array_equal(block, A[:, fold == f])
        assert block.flags.c_contiguous


def test_fold_blocks_fill_the_intercept_row_with_ones(rng):
    A = rng.normal(size=(4, 1000))
    A[0] = 1.0
    fold = rng.integers(0, 5, 1000)
    scratch = np.full(A.size, np.nan)
    blocks, _ = stream.fold_blocks(A, fold, 5, scratch, intercept=True)
    for f, block in enumerate(blocks):
        np.testing.assert_array_equal(block, A[:, fold == f])


@pytest.mark.parametrize("huge", [False, True])
def test_fold_grams_in_grid_units_are_the_plain_ones_bit_for_bit(rng, huge):
    """The shifted data's design is built in the fold grid's units and its Grams scaled back by
    powers of two: the same bits as in plain units, also where a value's square overflows in grid
    units only (that batch is done again in plain ones)."""
    from shiftemp.models import Family

    ref, new = mixed_frames(rng, missing=False)
    layout = stream.resolve_layout([io.scan(ref).schema] * 2, ["r", "s"], "y", None, None)
    stats = stream.LocalRunner(workers=1).run(
        io.scan(ref), stream.PassSpec(stream._SideFactory(layout, 100, None, 5, 0), layout.used, "r"))
    encoder = stream.make_encoder(layout, Family.LINEAR, stats)
    if huge:
        new.loc[3, "a"] = 1e150  # its square fits a double; times 2**20 first, it does not
    batch = pa.RecordBatch.from_pandas(new[layout.used], preserve_index=False)
    grams, keys = {}, {}
    for grid in (True, False):
        side = stream.SideStats(layout, 100, encoder, 5, 0)
        numeric, codes, _ = side._columns(batch)
        with np.errstate(over="ignore"):  # as in a pass: the overflow is what is tested
            assert side._add_grams(stream.Rows(numeric, codes, batch.num_rows), grid=grid)
        grams[grid], keys[grid] = side.grams, side._keys.copy()
    assert np.isfinite(grams[True]).all()
    np.testing.assert_array_equal(grams[True], grams[False])
    np.testing.assert_array_equal(keys[True], keys[False])


def test_binary_softmax_is_the_logistic_function_and_its_cross_entropy(rng):
    """The passes' two-class probabilities and cross entropies (computed in place, from one
    exponential and one logarithm per value) against their closed forms, at extreme logits
    and at both zeros too."""
    from scipy.special import expit

    logits = rng.normal(scale=5.0, size=(3, 200))
    logits[0, :8] = [-800.0, 800.0, -40.0, 40.0, 0.0, -0.0, 1e-300, -1e-300]
    y = rng.integers(0, 2, 200)
    with np.errstate(over="ignore"):  # as in a pass
        P, ce = stream.softmax_t(logits.copy(), 3, 1, y)
    assert P.shape == (3, 1, 200) and ce.shape == (3, 200)
    # sigma(L) for L < 0 is 1 - sigma(|L|): exact to the last bit of 1, not of sigma(L)
    np.testing.assert_allclose(P[:, 0], expit(logits), rtol=1e-15, atol=2.3e-16)
    assert ((P >= 0) & (P <= 1)).all()
    # ln(1 + e^-|L|) as -ln sigma(|L|): exact to the last bits of 1 too (a mean loss of
    # order 0.1 over many rows is what is used)
    np.testing.assert_allclose(ce, np.logaddexp(0.0, logits) - logits * y, rtol=1e-14, atol=1e-15)
    P_only, none = stream.softmax_t(logits.copy(), 3, 1, y, entropies=False)
    assert none is None
    np.testing.assert_array_equal(P_only, P)


def test_a_module_imported_beside_a_pass_is_imported_once_and_its_error_left_to_the_caller(
        tmp_path, monkeypatch):
    """The logistic path starts scipy.linalg's import in a thread beside a pass: an import that
    needs it meanwhile waits for that one (Python's import lock), and a failing import raises
    where the module is needed, not in the thread."""
    import importlib
    import time

    log = tmp_path / "imports.log"
    (tmp_path / "slow_module.py").write_text(
        "import threading, time\n"
        f"open({str(log)!r}, 'a').write(threading.current_thread().name + ';')\n"
        "time.sleep(0.3)\n"
        "VALUE = 42\n")
    (tmp_path / "broken_module.py").write_text("raise RuntimeError('broken on purpose')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("slow_module", "broken_module"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    stream._import_beside("slow_module")
    deadline = time.monotonic() + 30
    while not log.exists() and time.monotonic() < deadline:  # the thread is in the module's body
        time.sleep(0.01)
    assert importlib.import_module("slow_module").VALUE == 42
    imports = log.read_text().split(";")[:-1]
    assert len(imports) == 1 and imports[0] != "MainThread"  # once, by the thread
    stream._import_beside("broken_module")  # nothing raised here
    with pytest.raises(RuntimeError, match="broken on purpose"):
        importlib.import_module("broken_module")


# -- reading and types: both engines accept and refuse the same data alike ---------------------


def _csv_pair(rng, tmp_path, new_text: str | None = None):
    ref, new = mixed_frames(rng, n_ref=200, n_new=200, missing=False)
    ref.to_csv(tmp_path / "ref.csv", index=False)
    if new_text is None:
        new.to_csv(tmp_path / "new.csv", index=False)
    else:
        (tmp_path / "new.csv").write_text(new_text)
    return tmp_path / "ref.csv", tmp_path / "new.csv"


@pytest.mark.parametrize("engine", ["memory", "stream"])
def test_a_header_only_csv_is_refused_alike_by_both_engines(rng, tmp_path, engine):
    """The streaming engine read the header's empty (null-typed) columns as text, and said
    "column 'a' is text in new.csv but numeric in ref.csv"."""
    ref, new = _csv_pair(rng, tmp_path)
    header = tmp_path / "hdr.csv"
    header.write_text(ref.read_text().splitlines()[0] + "\n")
    for pair in ((header, new), (ref, header)):
        with pytest.raises(InputError,
                           match=f"^{header}: the file has a header but no data rows.$"):
            shiftemp.compare(*pair, target="y", engine=engine)


@pytest.mark.parametrize("engine", ["memory", "stream"])
@pytest.mark.parametrize("column", ["a", "region"])  # numeric, text
def test_a_csv_column_empty_in_one_file_is_refused_alike_by_both_engines(rng, tmp_path, engine,
                                                                         column):
    ref, new = _csv_pair(rng, tmp_path)
    frame = pd.read_csv(new)
    frame[column] = np.nan
    frame.to_csv(new, index=False)
    with pytest.raises(InputError, match=(
            f"^{new}: every row has a missing or infinite value in column '{column}' \\(it has no"
            f" values at all\\); fix the file or pass --exclude {column}.$")):
        shiftemp.compare(ref, new, target="y", engine=engine)


@pytest.mark.parametrize("engine", ["memory", "stream"])
def test_the_time_column_is_checked_alike_by_both_engines(rng, tmp_path, engine):
    ref, new = _csv_pair(rng, tmp_path)
    for target in ("y", None):  # given, or detected
        with pytest.raises(OptionError, match="^--time-column 'y' is the target; name the column"):
            shiftemp.compare(ref, new, target=target, time_column="y", engine=engine)
    with pytest.raises(ColumnError, match=r"ref.csv has no column 'zz' \(named in --time-column\)"
                       r".*Pass --time-column with one of them.$"):
        shiftemp.compare(ref, new, target="y", time_column="zz", engine=engine)


@pytest.mark.parametrize("engine", ["memory", "stream"])
def test_stray_words_in_a_numeric_feature_are_named_by_both_engines(rng, tmp_path, engine):
    ref, new = _csv_pair(rng, tmp_path)
    frame = pd.read_csv(new)
    frame["a"] = frame["a"].astype(object)
    frame.loc[[5, 9], "a"] = ["n/a?", "zz"]
    frame.to_csv(new, index=False)
    with pytest.raises(ColumnError, match=(
            f"^{new}: column 'a' is numeric in {ref} but holds 2 values that are not a number,"
            " first 'n/a\\?' in data row 6; fix them or pass --exclude a.$")):
        shiftemp.compare(ref, new, target="y", engine=engine)


@pytest.mark.parametrize("engine", ["memory", "stream"])
def test_a_class_target_of_zero_one_against_booleans_is_refused_by_both_engines(rng, tmp_path,
                                                                              engine):
    """Classes 0, 1, False, True matched nothing, and both engines said RETRAIN (hot)."""
    ref, new = mixed_frames(rng, n_ref=200, n_new=200, missing=False)
    ref["label"] = (ref["y"] > ref["y"].median()).astype(int)
    new["label"] = new["y"] > new["y"].median()
    for frame, name in ((ref, "ref"), (new, "new")):
        frame.drop(columns="y").to_parquet(tmp_path / f"{name}.parquet", index=False)
    with pytest.raises(ColumnError, match=(
            "^the target 'label' is numeric in .*ref.parquet but text in .*new.parquet \\(labels"
            " 'False', 'True'\\), so their classes cannot match; make its type agree in both"
            " files.$")):
        shiftemp.compare(tmp_path / "ref.parquet", tmp_path / "new.parquet", target="label",
                         engine=engine)


def test_decimals_and_differing_parts_give_the_in_memory_report(rng, tmp_path):
    """A decimal feature was a text category with thousands of levels in both engines; a
    folder whose parts differ in column order and width was refused by the streaming engine."""
    import decimal

    ref, new = mixed_frames(rng, n_ref=300, n_new=300, missing=False)
    prices = pa.array([decimal.Decimal(f"{v:.2f}") for v in ref["a"]], pa.decimal128(10, 2))
    table = pa.Table.from_pandas(ref, preserve_index=False)
    table = table.set_column(table.schema.get_field_index("a"), "a", prices)
    folder = tmp_path / "ref"
    folder.mkdir()
    pq.write_table(table.slice(0, 150), folder / "part-0.parquet")
    second = table.slice(150)
    second = second.set_column(0, second.column_names[0], second.column(0).cast(pa.float32()))
    pq.write_table(second.select(list(reversed(second.column_names))), folder / "part-1.parquet")
    memory = shiftemp.compare(folder, new, target="y", engine="memory")
    streamed = shiftemp.compare(folder, new, target="y", engine="stream")
    assert "a" in memory.model.features
    assert differences(memory, streamed, rtol=1e-9) == []


def _epoch_frame(seed: int, gain: float, n: int = 2000) -> pd.DataFrame:
    """A feature in epoch seconds (1.7e9, spread an hour): its centre's last bit is a tenth of a
    microsecond, ~1e-11 of its spread, where the fold hash's grid (2^-20) cuts some rows."""
    rng = np.random.default_rng(seed)
    t, a = rng.normal(size=n), rng.normal(size=n)
    return pd.DataFrame({"a": a, "t": 1.7e9 + 3600 * t,
                         "y": 2 * a + 3 * t * gain + rng.normal(scale=0.5, size=n)})


def test_a_feature_far_from_zero_gets_the_same_folds_in_every_engine_and_row_order():
    """The in-memory engine's centre was a plain mean, whose last bit follows the row order:
    two orders of one file moved rows between folds (E_B out of sample differed at 1e-5), and
    the streaming engine's merged means differed from both."""
    ref, new = _epoch_frame(0, 1.0), _epoch_frame(1, 1.5)
    shuffled = ref.sample(frac=1, random_state=5)
    figures = [
        shiftemp.compare(ref, new, target="y", engine="memory"),
        shiftemp.compare(shuffled, new, target="y", engine="memory"),
        shiftemp.compare(ref, new, target="y", engine="stream", batch_size=97),
        shiftemp.compare(shuffled, new, target="y", engine="stream", batch_size=131),
    ]
    values = [f.energy.after_out_of_sample.value for f in figures]
    assert max(values) - min(values) <= 1e-9 * abs(values[0])


def test_merged_moments_keep_the_correctly_rounded_mean(rng):
    """A plain Chan update rounds at the mean's last bit on every merge."""
    from fractions import Fraction

    values = 1.7e9 + 3600 * rng.normal(size=(3, 20_000))
    exact = np.array([float(sum(map(Fraction, row)) / row.size) for row in values])
    merged = stream.Moments.empty(3)
    for piece in np.array_split(values, 157, axis=1):
        merged = merged.merge(stream.Moments.of_rows(piece))
    assert np.array_equal(merged.mean, exact)
    from shiftemp.models import accurate_mean

    assert np.array_equal(accurate_mean(values, axis=1), exact)
    assert np.array_equal(accurate_mean(values[:, ::-1], axis=1), exact)


def test_the_report_says_which_engine_ran(tmp_path, monkeypatch):
    """--engine auto switched to the streaming engine without a word (and its report lacks the
    Type I rows)."""
    rng = np.random.default_rng(4)
    ref, new = tmp_path / "ref.parquet", tmp_path / "new.parquet"
    for path in (ref, new):
        pd.DataFrame({"x": rng.normal(size=400), "y": rng.normal(size=400)}).to_parquet(path)
    from shiftemp import typetwo

    in_memory = shiftemp.compare(ref, new, target="y", engine="auto")
    monkeypatch.setattr(typetwo, "AUTO_STREAM_ROWS", 300)  # these files are "big" now
    streamed = shiftemp.compare(ref, new, target="y", engine="auto")
    assert (streamed.run.engine, in_memory.run.engine) == ("stream", "memory")
    assert any(note.startswith("--engine auto chose the stream engine") for note in streamed.notes)
    assert not any("--engine auto" in note for note in in_memory.notes)
    assert shiftemp.Comparison.from_json(streamed.to_json()).run.engine == "stream"
    from shiftemp import render

    assert "; engine stream" in render.render_text(streamed, "table")


def test_a_few_words_in_a_numeric_class_target_are_named_by_both_engines(tmp_path):
    """The streaming engine called it a type that differs (labels 'oops'), the in-memory one
    named the stray word and its row."""
    rng = np.random.default_rng(0)
    a = rng.normal(size=300)
    labels = np.where(a > 0, "1", "0").astype(object)
    labels[5] = "oops"
    ref, new = tmp_path / "ref.parquet", tmp_path / "new.parquet"
    pd.DataFrame({"a": a, "y": (a > 0).astype(int)}).to_parquet(ref)
    pd.DataFrame({"a": a, "y": labels}).to_parquet(new)
    assert "first 'oops' in data row 6" in _one_error_of_both_engines(ref, new)


def _one_error_of_both_engines(ref, new) -> str:
    """The error both engines refuse ``ref`` and ``new`` with: the same line."""
    messages = []
    for engine in ("memory", "stream"):
        with pytest.raises(shiftemp.ShiftempError) as caught:
            shiftemp.compare(ref, new, target="y", engine=engine)
        messages.append(str(caught.value))
    assert messages[0] == messages[1]
    return messages[0]


def test_both_engines_count_the_same_values_as_not_numbers(tmp_path):
    """Three parsers decided what a number is: pandas refused "1_000", Python's float took it,
    and the engines counted different stray values."""
    rng = np.random.default_rng(2)
    ref, new = tmp_path / "ref.parquet", tmp_path / "new.parquet"
    a = rng.normal(size=200)
    pd.DataFrame({"a": a, "b": rng.normal(size=200), "y": a}).to_parquet(ref)
    text = rng.normal(size=200).astype(str).astype(object)
    text[9], text[11] = "1_000", "bad"
    pd.DataFrame({"a": a, "b": text, "y": a}).to_parquet(new)
    assert ("holds 2 values that are not a number, first '1_000' in data row 10"
            in _one_error_of_both_engines(ref, new))


@pytest.mark.parametrize("labels", ["numbers", "text"])
def test_a_class_rarer_than_the_folds_is_noted_by_both_engines(tmp_path, labels):
    """Three positives against one in 3,000 rows read as a hot refresh, silently: the fold that
    holds the one positive trains without any."""
    rng = np.random.default_rng(7)
    frames = []
    for positives in (30, 2):
        x = rng.normal(size=(3000, 2))
        y = np.zeros(3000, dtype=int)
        y[rng.choice(3000, positives, replace=False)] = 1
        frames.append(pd.DataFrame({"a": x[:, 0], "b": x[:, 1],
                                    "label": y if labels == "numbers" else np.where(y, "yes", "no")}))
    ref, new = tmp_path / "ref.parquet", tmp_path / "new.parquet"
    frames[0].to_parquet(ref)
    frames[1].to_parquet(new)
    reports = [shiftemp.compare(ref, new, target="label", engine=e, batch_size=700)
               for e in ("memory", "stream")]
    rare = [[n for n in r.notes if "fewer rows than the 5 folds" in n] for r in reports]
    one = "1" if labels == "numbers" else "yes"
    assert rare[0] == rare[1] == [
        f"{new}: class '{one}' (2 rows) has fewer rows than the 5 folds: some cross-fitted models"
        " never see it, so a verdict that rests on this class is weak"]
    common = shiftemp.compare(ref, ref, target="label", engine="stream")
    assert not any("fewer rows than" in n for n in common.notes)
