"""Every bad input of docs/errors.md, end to end through the command line.

One case per row of the table in docs/errors.md: the files it builds, the arguments, the exit code
and the exact stderr line (an error line, or the note that says what was done). Every case also
checks the CI contract around it: no traceback, the inputs unchanged, and no report file (nor a
temporary one) left behind by a run that stops. A last test checks that docs/errors.md lists
exactly these cases with exactly these messages, so the documentation cannot drift.
"""

from __future__ import annotations

import gzip
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import file_hash

DOC = Path(__file__).resolve().parents[1] / "docs" / "errors.md"

# a RuntimeWarning (overflow, invalid value) would reach the user's stderr: it fails the case
pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")


# -- data ---------------------------------------------------------------------------------------


def regression(seed: int, n: int = 200, **columns) -> pd.DataFrame:
    """``y = a - b + noise``, standard normal a and b, plus ``columns``."""
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=n), rng.normal(size=n)
    frame = pd.DataFrame({"a": a, "b": b, "y": a - b + rng.normal(size=n)})
    for name, values in columns.items():
        frame[name] = values
    return frame


def classification(seed: int, n: int = 200, labels=("cat", "dog")) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    u = rng.normal(size=n)
    return pd.DataFrame({"u": u, "v": rng.normal(size=n), "label": rng.choice(labels, n)})


def write(frame: pd.DataFrame, path: str) -> None:
    if path.endswith(".parquet"):
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)


def pair(ref: pd.DataFrame, new: pd.DataFrame, ref_name="ref.csv", new_name="new.csv"):
    def build() -> None:
        write(ref, ref_name)
        write(new, new_name)
    return build


def files(**contents: bytes | str):
    """Files with literal contents; keys are file names with ``__`` for ``.`` (``ref__csv``)."""
    def build() -> None:
        for name, content in contents.items():
            data = content.encode() if isinstance(content, str) else content
            Path(name.replace("__", ".")).write_bytes(data)
    return build


def both(*builders):
    def build() -> None:
        for builder in builders:
            builder()
    return build


def plain_new() -> None:
    write(regression(2), "new.csv")


def truncated_parquet() -> None:
    write(regression(1), "ref.parquet")
    data = Path("ref.parquet").read_bytes()
    Path("ref.parquet").write_bytes(data[: len(data) // 2])


def corrupt_part() -> None:
    Path("ref").mkdir()
    write(regression(1), "ref/part-0.parquet")
    Path("ref/part-1.parquet").write_bytes(b"junk")


def corrupt_gzip() -> None:
    Path("ref.csv.gz").write_bytes(b"\x1f\x8bnot really gzip")


def duplicate_parquet() -> None:
    rng = np.random.default_rng(5)
    table = pa.table([pa.array(rng.normal(size=50)) for _ in range(3)], names=["a", "a", "y"])
    pq.write_table(table, "ref.parquet")


def nested_parquet() -> None:
    """A parquet reference with a list column (tags), as an event log might have."""
    frame = regression(1)
    frame["tags"] = [["a", "b"][: i % 3] for i in range(len(frame))]
    frame.to_parquet("ref.parquet", index=False)


def gzipped_pair() -> None:
    with gzip.open("ref.csv.gz", "wt") as handle:
        handle.write(regression(1).to_csv(index=False))


def stray_word() -> pd.DataFrame:
    new = regression(2).astype({"b": object})
    new.loc[5, "b"] = "n/a?"
    return new


def stray_target() -> pd.DataFrame:
    """A regression target with two words among its numbers: read as text, so as class labels."""
    frame = regression(2)
    frame["y"] = frame["y"].astype(object)
    frame.loc[[3, 17], "y"] = "n/a?"
    return frame


def with_infinities() -> pd.DataFrame:
    new = regression(2)
    new.loc[3, "a"], new.loc[4, "b"] = np.inf, -np.inf
    return new


def with_missing() -> pd.DataFrame:
    new = regression(2)
    new.loc[[3, 7, 11], "a"] = np.nan
    return new


def scattered_missing(seed: int) -> pd.DataFrame:
    frame = regression(seed, n=20)
    frame.loc[:9, "a"] = np.nan
    frame.loc[10:, "b"] = np.nan
    frame.loc[:2, "b"] = np.nan
    return frame


def categories(seed: int, levels, n: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return regression(seed, n, g=rng.choice(levels, n))


def identifiers(seed: int, n: int = 12_000) -> pd.DataFrame:
    return regression(seed, n, id=[f"u{i}" for i in range(n)])


def wide(seed: int, n: int, d: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(n, d)), columns=[f"x{j}" for j in range(d)])
    frame["y"] = frame["x0"] + rng.normal(size=n)
    return frame


def collinear(seed: int) -> pd.DataFrame:
    frame = regression(seed)
    frame["a2"] = 2 * frame["a"]
    return frame


def scaled(seed: int, factor: float, columns=("a", "b")) -> pd.DataFrame:
    frame = regression(seed)
    frame[list(columns)] *= factor
    return frame


def non_ascii(seed: int) -> pd.DataFrame:
    return regression(seed).rename(columns={"a": "größe", "b": "温度"})


def output_folder() -> None:
    pair(regression(1), regression(2))()
    Path("reports").mkdir()


def input_folder() -> None:
    Path("ref").mkdir()
    write(regression(1), "ref/part-0.parquet")
    plain_new()


# -- the cases ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One row of docs/errors.md."""

    id: str
    build: Callable[[], None]
    args: tuple[str, ...]
    code: int
    line: str
    extra: tuple[str, ...] = field(default=())

    @property
    def kind(self) -> str:
        return "error" if self.code else "note"


REF, NEW = "ref.csv", "new.csv"
ONE = regression(1)
TWO = regression(2)

CASES = [
    # -- files ----------------------------------------------------------------------------------
    Case("missing-path", plain_new, ("nope.csv", NEW), 2,
         "nope.csv: no such file or directory."),
    Case("empty-directory", both(lambda: Path("ref").mkdir(), plain_new), ("ref", NEW), 2,
         "ref: the directory holds no .parquet files; point at a file or at a folder of parquet"
         " parts."),
    Case("empty-file", both(files(ref__csv=""), plain_new), (REF, NEW), 2,
         "ref.csv: the file is empty; expected a header and data rows."),
    Case("header-only-csv", both(files(ref__csv="a,b,y\n"), plain_new), (REF, NEW), 2,
         "ref.csv: the file has a header but no data rows."),
    Case("truncated-parquet", both(truncated_parquet, plain_new), ("ref.parquet", NEW), 2,
         "ref.parquet: cannot read it as parquet: Parquet magic bytes not found in footer. Either the file is corrupted"
         " or this is not a parquet file."),
    Case("corrupt-parquet",
         both(files(ref__parquet=b"PAR1" + b"garbage" * 100 + b"PAR1"), plain_new),
         ("ref.parquet", NEW), 2,
         "ref.parquet: cannot read it as parquet: Parquet file size is 708 bytes, smaller than"
         " the size reported by footer's (1701273954bytes)"),
    Case("corrupt-parquet-part", both(corrupt_part, plain_new), ("ref", NEW), 2,
         "ref/part-1.parquet: cannot read it as parquet: Parquet file size is 4 bytes, smaller"
         " than the minimum file footer (8 bytes)"),
    Case("unknown-extension", both(files(ref__xlsx="a,b,y\n1,2,3\n"), plain_new),
         ("ref.xlsx", NEW), 2,
         "ref.xlsx: unknown file type; expected .parquet, .csv, .csv.gz or a directory of"
         " parquet parts."),
    Case("ragged-csv", both(files(ref__csv="a,b,y\n1,2,3\n4,5,6,7\n"), plain_new), (REF, NEW), 2,
         "ref.csv: cannot read it as csv: CSV parse error: Expected 3 columns, got 4: 4,5,6,7"),
    Case("corrupt-gzip", both(corrupt_gzip, plain_new), ("ref.csv.gz", NEW), 2,
         "ref.csv.gz: cannot read it as csv.gz: zlib inflate failed: unknown compression method"),
    Case("not-utf8-csv", both(files(ref__csv="a,b,y\n".encode() + "é,1,2\n".encode("latin-1") * 5),
                              plain_new), (REF, NEW), 2,
         "ref.csv: column 'a' holds text that is not UTF-8; re-save the file as UTF-8."),
    Case("mixed-formats", both(gzipped_pair, lambda: write(TWO, "new.parquet")),
         ("ref.csv.gz", "new.parquet", "--target", "y"), 0, ""),
    # -- the target -----------------------------------------------------------------------------
    Case("target-not-detected", pair(ONE.rename(columns={"y": "price"}), TWO), (REF, NEW), 2,
         "ref.csv: cannot tell the target: no column named target, label, y or class. Its"
         " columns: ['a', 'b', 'price']. Pass --target with one of them."),
    Case("target-missing-from-reference", pair(ONE, TWO), (REF, NEW, "--target", "price"), 2,
         "ref.csv has no column 'price' (the target). Its columns: ['a', 'b', 'y']. Pass"
         " --target with one of them."),
    Case("target-missing-from-shifted", pair(ONE, TWO.drop(columns="y")), (REF, NEW), 2,
         "new.csv has no column 'y' (the target). Its columns: ['a', 'b']. Pass --target with"
         " one of them."),
    Case("constant-target-shifted", pair(ONE, TWO.assign(y=1.0)), (REF, NEW), 2,
         "new.csv: the target 'y' is constant (1 in every used row); there is nothing to fit."
         " Check the file or pass another --target."),
    Case("constant-target-reference", pair(ONE.assign(y=1.0), TWO), (REF, NEW), 2,
         "ref.csv: the target 'y' is constant (1 in every used row); there is nothing to fit."
         " Check the file or pass another --target."),
    Case("single-class-reference", pair(classification(1, labels=("cat",)), classification(2)),
         (REF, NEW), 2,
         "ref.csv: the target 'label' has a single class ('cat'); classification needs at least"
         " two."),
    Case("single-class-shifted", pair(classification(1), classification(2, labels=("dog",))),
         (REF, NEW), 2,
         "new.csv: the target 'label' has a single class ('dog'); classification needs at least"
         " two."),
    Case("too-many-classes",
         pair(classification(1, 300).assign(label=[f"c{i}" for i in range(300)]),
              classification(2)),
         (REF, NEW), 2,
         "ref.csv, new.csv: the target 'label' has 302 distinct values, too many for"
         " classification (at most 100); pass --target with the column to predict."),
    Case("text-target-linear", pair(classification(1), classification(2)),
         (REF, NEW, "--model", "linear"), 2,
         "ref.csv: the target 'label' is not numeric, so --model linear cannot fit it; use"
         " --model logistic."),
    Case("all-missing-target", pair(ONE, TWO.assign(y=np.nan)), (REF, NEW), 2,
         "new.csv: the target 'y' has no values (missing in every row); check the file or pass"
         " another --target."),
    Case("huge-target", pair(scaled(1, 1e300, ("y",)), scaled(2, 1e300, ("y",))), (REF, NEW), 2,
         "ref.csv: the target 'y' reaches 5.06e+300 in magnitude, so its losses would overflow"
         " in double precision. Divide it by a power of ten (the recommendation does not depend"
         " on its units) and rerun."),
    Case("tiny-target", pair(scaled(1, 1e-300, ("y",)), scaled(2, 1e-300, ("y",))), (REF, NEW),
         2,
         "ref.csv: the target 'y' reaches 5.06e-300 in magnitude, so its losses would underflow"
         " to zero in double precision. Multiply it by a power of ten (the recommendation does"
         " not depend on its units) and rerun."),
    # -- columns --------------------------------------------------------------------------------
    Case("column-missing-from-shifted", pair(ONE, TWO.drop(columns="b")), (REF, NEW), 2,
         "new.csv has no column 'b' (a feature). Its columns: ['a', 'y']. Pass --exclude b to"
         " compare without it."),
    Case("column-only-in-shifted", pair(ONE, TWO.assign(m=1.5)), (REF, NEW, "--target", "y"), 0,
         "new.csv: columns not in ref.csv are ignored: m"),
    Case("column-type-differs",
         pair(ONE, TWO.assign(b=np.where(np.arange(200) < 100, "low", "high"))), (REF, NEW), 2,
         "column 'b' is numeric in ref.csv but text in new.csv; make its type agree or pass"
         " --exclude b."),
    Case("text-in-numeric-column", pair(ONE, stray_word()), (REF, NEW), 2,
         "new.csv: column 'b' is numeric in ref.csv but holds 1 value that is not a number,"
         " first 'n/a?' in data row 6; fix it or pass --exclude b."),
    Case("text-in-numeric-target", pair(ONE, stray_target()), (REF, NEW), 2,
         "new.csv: the target 'y' is numeric in ref.csv but holds 2 values that are not a number,"
         " first 'n/a?' in data row 4; fix them."),
    Case("duplicate-columns-csv",
         both(files(ref__csv="a,a,y\n1,2,3\n4,5,6\n"), plain_new), (REF, NEW), 2,
         "ref.csv: duplicate column names ['a']; rename them so each column is unique."),
    Case("duplicate-columns-parquet", both(duplicate_parquet, plain_new), ("ref.parquet", NEW), 2,
         "ref.parquet: duplicate column names ['a']; rename them so each column is unique."),
    Case("non-ascii-names", pair(non_ascii(1), non_ascii(2)), (REF, NEW, "--target", "y"), 0, ""),
    Case("no-features-left", pair(ONE, TWO), (REF, NEW, "--exclude", "a,b"), 2,
         "ref.csv: no feature columns are left besides the target 'y'."),
    Case("unknown-column-option", pair(ONE, TWO), (REF, NEW, "--exclude", "c"), 2,
         "ref.csv has no column 'c' (named in --exclude). Its columns: ['a', 'b', 'y']."),
    Case("nested-column", both(nested_parquet, plain_new), ("ref.parquet", NEW, "--target", "y"),
         2, "ref.parquet: column 'tags' holds nested values (lists, structs or maps), which cannot"
         " be a feature; pass --exclude tags."),
    # -- values ---------------------------------------------------------------------------------
    Case("missing-values", pair(ONE, with_missing()), (REF, NEW, "--target", "y"), 0,
         "new.csv: dropped 3 of 200 rows with missing values"),
    Case("infinities", pair(ONE, with_infinities()), (REF, NEW, "--target", "y"), 0,
         "new.csv: infinite values in 'a', 'b' count as missing",
         ("new.csv: dropped 2 of 200 rows with missing values",)),
    Case("all-missing-column-both", pair(ONE.assign(m=np.nan), TWO.assign(m=np.nan)),
         (REF, NEW, "--target", "y"), 0, "column 'm' has no values in either file; left out"),
    Case("all-missing-column-one", pair(ONE.assign(m=0.5 + ONE["a"]), TWO.assign(m=np.nan)),
         (REF, NEW), 2,
         "new.csv: every row has a missing or infinite value in column 'm' (it has no values at"
         " all); fix the file or pass --exclude m."),
    Case("all-rows-dropped", pair(ONE, scattered_missing(2)), (REF, NEW), 2,
         "new.csv: every row has a missing or infinite value in the used columns (most often in"
         " 'b': 13 of 20 rows); fill them in or pass --exclude b."),
    Case("constant-feature", pair(ONE.assign(m=3.0), TWO.assign(m=3.0)),
         (REF, NEW, "--target", "y"), 0, "constant columns left out of the data entropy: m"),
    Case("high-cardinality", pair(identifiers(1), identifiers(2)), (REF, NEW), 2,
         "ref.csv: column 'id' has 12,000 categories, more than 1,000: one-hot encoding would add"
         " a parameter for each. Pass --exclude id (an identifier is no feature), or group its"
         " values into fewer categories."),
    Case("unseen-categories", pair(categories(1, ["p", "q"]), categories(2, ["p", "q", "r"])),
         (REF, NEW, "--target", "y"), 0,
         "new.csv: 63 rows have a 'g' category unseen in ref.csv; encoded as its most frequent"
         " category 'q'"),
    Case("more-features-than-rows", pair(wide(1, 50, 100), wide(2, 400, 100)), (REF, NEW), 2,
         "ref.csv: 50 usable rows for 101 model parameters (features plus intercept): the model"
         " would interpolate them and its energy would mean nothing. Narrow --features or"
         " --exclude, or compare more rows."),
    Case("more-features-than-fold-rows", pair(wide(1, 400, 100), wide(2, 120, 100)), (REF, NEW), 2,
         "new.csv: each cross-fitted model sees 96 of its 120 usable rows, no more than its 101"
         " parameters (features plus intercept), so it would interpolate them. Narrow --features"
         " or --exclude, raise --folds, or compare more rows."),
    Case("5000-columns", pair(wide(1, 300, 5000), wide(2, 300, 5000), "ref.parquet", "new.parquet"),
         ("ref.parquet", "new.parquet"), 2,
         "ref.parquet: 300 usable rows for 5,001 model parameters (features plus intercept): the"
         " model would interpolate them and its energy would mean nothing. Narrow --features or"
         " --exclude, or compare more rows."),
    Case("collinear-features", pair(collinear(1), collinear(2)), (REF, NEW, "--target", "y"), 0,
         ""),
    Case("huge-features", pair(scaled(1, 1e300), scaled(2, 1e300)), (REF, NEW, "--target", "y"),
         0, ""),
    Case("tiny-features", pair(scaled(1, 1e-300), scaled(2, 1e-300)),
         (REF, NEW, "--target", "y"), 0, ""),
    Case("huge-features-stream", pair(scaled(1, 1e300), scaled(2, 1e300)),
         (REF, NEW, "--target", "y", "--engine", "stream"), 2,
         "ref.csv: some values are too large for the streaming engine (their squares overflow"
         " double precision); divide the largest columns by a power of ten, or pass --engine"
         " memory."),
    Case("too-few-rows", pair(ONE, regression(2, n=9)), (REF, NEW), 2,
         "new.csv: 9 usable rows are too few for 5-fold cross-fitting; it needs at least 10 (or"
         " lower --folds)."),
    # -- options and output ---------------------------------------------------------------------
    Case("output-is-an-input", pair(ONE, TWO), (REF, NEW, "-o", REF), 2,
         "--output ref.csv is the input ref.csv; write the report elsewhere, so the data stays as"
         " it was."),
    Case("output-inside-input-folder", input_folder, ("ref", NEW, "-o", "ref/report.parquet"), 2,
         "--output ref/report.parquet lies inside the input folder ref; write the report"
         " elsewhere, so the data stays as it was."),
    Case("output-folder-missing", pair(ONE, TWO), (REF, NEW, "-o", "nowhere/report.json"), 2,
         "nowhere/report.json: the folder nowhere does not exist."),
    Case("two-outputs-one-file", pair(ONE, TWO), (REF, NEW, "-o", "r.json", "--html", "r.json"),
         2, "--html r.json is also the --output file; give each its own file."),
    Case("output-is-a-folder", output_folder, (REF, NEW, "-o", "reports"), 2,
         "reports: is a folder; --output needs a file name, such as reports/report.json."),
    Case("folds-below-two", pair(ONE, TWO), (REF, NEW, "--folds", "1"), 2,
         "--folds must be at least 2 for cross-fitting; got 1."),
    Case("folds-above-limit", pair(ONE, TWO), (REF, NEW, "--folds", "1001"), 2,
         "--folds must be at most 1,000; got 1,001."),
    Case("calibration-splits-out-of-range", pair(ONE, TWO),
         (REF, NEW, "--calibrate", "--calibration-splits", "2"), 2,
         "--calibration-splits must be a whole number from 3 to 1,000; got 2."),
    Case("features-empty", pair(ONE, TWO), (REF, NEW, "--features", ","), 2,
         "--features names no column; name at least one, or leave it out."),
    Case("scheduler-without-dask", pair(ONE, TWO), (REF, NEW, "--scheduler", "tcp://h:8786"), 2,
         "--scheduler is the address of a Dask cluster, which --engine auto does not use; pass"
         " --engine dask with it, or drop --scheduler."),
    Case("min-gain-out-of-range", pair(ONE, TWO), (REF, NEW, "--min-gain", "1.5"), 2,
         "--min-gain is a fraction of the loss in [0, 1); got 1.5."),
    Case("seed-out-of-range", pair(ONE, TWO), (REF, NEW, "--seed", "-1"), 2,
         "--seed must be an integer from 0 to 2^63 - 1; got -1."),
    Case("batch-size-not-positive", pair(ONE, TWO),
         (REF, NEW, "--engine", "stream", "--batch-size", "0"), 2,
         "--batch-size must be a positive number of rows; got 0."),
    Case("loss-family-mismatch", pair(ONE, TWO), (REF, NEW, "--model", "linear", "--loss", "ce"),
         2, "--loss ce does not go with --model linear; use --loss mse|mae."),
]


def snapshot(folder: Path) -> dict[str, str]:
    """Every file below ``folder`` and its hash."""
    return {
        str(path.relative_to(folder)): file_hash(path)
        for path in sorted(folder.rglob("*")) if path.is_file()
    }


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input(case: Case, run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    case.build()
    before = snapshot(tmp_path)
    output = [] if "-o" in case.args else ["-o", "report.json"]
    result = run("compare", *case.args, "--format", "json", *output)

    assert "Traceback" not in result.stderr
    assert result.code == case.code, result.stderr
    lines = result.stderr.splitlines()
    if case.code:
        assert lines == [f"shiftemp: error: {case.line}"]
        assert snapshot(tmp_path) == before, "a stopped run left a file behind or changed one"
    else:
        notes = [f"shiftemp: note: {line}" for line in (case.line, *case.extra) if line]
        assert lines == notes
        after = snapshot(tmp_path)
        assert after.pop("report.json")
        assert after == before, "the inputs changed"
    assert result.stdout == ""


# -- the other commands -------------------------------------------------------------------------

#: Rows that profile, temperature and engine meet alike: they read their one data file with the
#: same readers and validate it with the same checks.
SHARED = [
    "missing-path", "empty-file", "header-only-csv", "truncated-parquet", "unknown-extension",
    "not-utf8-csv", "duplicate-columns-parquet", "target-not-detected",
]
COMMANDS = {
    "profile": ("-o", "ref.shiftemp"),
    "temperature": (),
    "engine": ("--epochs", "2"),
}


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("case", [c for c in CASES if c.id in SHARED], ids=SHARED)
def test_other_commands_meet_bad_files_alike(command, case: Case, run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    case.build()
    before = snapshot(tmp_path)
    result = run(command, case.args[0], *COMMANDS[command])
    assert result.code == 2, result.stderr
    assert result.stderr.splitlines() == [f"shiftemp: error: {case.line}"]
    assert snapshot(tmp_path) == before


# -- the documentation --------------------------------------------------------------------------


def documented_rows() -> dict[str, tuple[str, str]]:
    """{case id: (exit code, message)} from the table of docs/errors.md."""
    rows = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^\| `([a-z0-9-]+)` \|.*\| (\d+) \| (.*) \|$", line)
        if match:
            message = match.group(3)
            quoted = re.fullmatch(r"(?:error|note): `(.*)`", message)
            rows[match.group(1)] = (match.group(2), quoted.group(1) if quoted else message)
    return rows


def test_every_case_is_documented_with_its_exact_message():
    text = DOC.read_text(encoding="utf-8")
    shared = re.search(r"Shared by profile, temperature and engine: (.*?)\.\s", text, re.S)
    assert shared and re.findall(r"`([a-z0-9-]+)`", shared.group(1)) == SHARED
    rows = documented_rows()
    assert list(rows) == [case.id for case in CASES]
    for case in CASES:
        code, message = rows[case.id]
        assert int(code) == case.code, case.id
        if case.line:
            assert message == case.line.replace("|", "\\|"), case.id


def test_non_ascii_names_on_a_terminal_that_cannot_show_them(tmp_path):
    """stdout in ASCII (a legacy console, ``PYTHONIOENCODING=ascii``): escapes, not a
    UnicodeEncodeError traceback."""
    write(non_ascii(1), str(tmp_path / REF))
    write(non_ascii(2), str(tmp_path / NEW))
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    env["PYTHONIOENCODING"] = "ascii"
    completed = subprocess.run(
        [sys.executable, "-m", "shiftemp", "compare", REF, NEW, "--target", "y"],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stderr == ""
    assert "gr\\xf6\\xdfe" in completed.stdout
