"""Reading the supported inputs, hashing them, and writing reports atomically."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import regression_frame
from shiftemp import io
from shiftemp.errors import InputError


@pytest.fixture
def frame(rng) -> pd.DataFrame:
    return regression_frame(rng, 60, region=True)


def write(frame: pd.DataFrame, path: Path) -> Path:
    """Write ``frame`` in the format its suffix names (a folder: three parquet parts)."""
    if path.suffix == "" or path.name.endswith(".parts"):
        path.mkdir()
        for i, part in enumerate(np.array_split(np.arange(len(frame)), 3)):
            frame.iloc[part].to_parquet(path / f"part-{i}.parquet", index=False)
        (path / "_SUCCESS").write_text("")
        return path
    if path.name.lower().endswith(".csv.gz"):
        frame.to_csv(path, index=False, compression="gzip")
    elif path.suffix.lower() == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False)
    return path


@pytest.mark.parametrize(
    "name, kind",
    [("d.parquet", "parquet"), ("d.pq", "parquet"), ("d.csv", "csv"), ("d.csv.gz", "csv.gz"),
     ("D.CSV", "csv"), ("d.parts", "parquet-directory")],
)
def test_every_format_reads_back_the_same_frame(tmp_path, frame, name, kind):
    path = write(frame, tmp_path / name)
    source = io.read(path)
    assert source.format == kind
    assert source.path == str(path)
    pd.testing.assert_frame_equal(
        source.frame.reset_index(drop=True), frame, check_dtype=False, check_exact=True
    )


def test_sha256_of_a_file_is_of_its_bytes(tmp_path, frame):
    path = write(frame, tmp_path / "d.csv")
    assert io.read(path).sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("window", [4096, 3 * 4096, 2 ** 24])
def test_sha256_maps_the_file_window_by_window(tmp_path, monkeypatch, window):
    path = tmp_path / "bytes.bin"
    data = np.random.default_rng(0).bytes(5 * 4096 + 123)  # windows and a partial last one
    path.write_bytes(data)
    monkeypatch.setattr(io, "HASH_WINDOW", window)
    assert io.sha256(path) == hashlib.sha256(data).hexdigest()


def test_sha256_reads_what_cannot_be_mapped(tmp_path, monkeypatch):
    path = tmp_path / "bytes.bin"
    data = b"shiftemp" * 1000
    path.write_bytes(data)

    def refuse(*args, **kwargs):
        raise OSError("no mapping here")

    monkeypatch.setattr(io.mmap, "mmap", refuse)
    assert io.sha256(path) == hashlib.sha256(data).hexdigest()


def test_sha256_of_a_folder_covers_its_parts_names_and_bytes(tmp_path, frame):
    folder = write(frame, tmp_path / "d.parts")
    digest = io.sha256(folder)
    assert len(digest) == 64
    (folder / "_SUCCESS").write_text("markers do not count")
    assert io.sha256(folder) == digest
    (folder / "part-0.parquet").rename(folder / "part-9.parquet")
    assert io.sha256(folder) != digest


def test_parquet_parts_skip_hidden_and_marker_files(tmp_path, frame):
    folder = write(frame, tmp_path / "d.parts")
    (folder / ".hidden.parquet").write_bytes(b"junk")
    (folder / "_metadata.parquet").write_bytes(b"junk")
    nested = folder / "year=2026"
    nested.mkdir()
    frame.iloc[:5].to_parquet(nested / "part-3.parquet", index=False)
    parts = io.parquet_parts(folder)
    assert [p.name for p in parts] == ["part-0.parquet", "part-1.parquet", "part-2.parquet", "part-3.parquet"]
    assert len(io.read(folder).frame) == len(frame) + 5


@pytest.mark.parametrize(
    "setup, message",
    [
        (lambda p: p / "missing.parquet", "missing.parquet: no such file or directory."),
        (lambda p: (p / "d.txt").write_text("a,b\n1,2\n") and p / "d.txt",
         "d.txt: unknown file type; expected .parquet, .csv, .csv.gz or a directory of parquet parts."),
        (lambda p: (p / "d.shiftemp").write_bytes(b"PK") and p / "d.shiftemp",
         "d.shiftemp: is a shiftemp profile, which stands only for compare's REFERENCE"),
        (lambda p: (p / "d.csv").write_text("") == 0 and p / "d.csv",
         "d.csv: the file is empty; expected a header and data rows."),
        (lambda p: (p / "d.parquet").write_bytes(b"not parquet at all") and p / "d.parquet",
         "d.parquet: cannot read it as parquet: "),
        (lambda p: (p / "d.csv.gz").write_bytes(b"not gzip") and p / "d.csv.gz",
         "d.csv.gz: cannot read it as csv.gz: "),
        (lambda p: (p / "empty").mkdir() or p / "empty",
         "empty: the directory holds no .parquet files; point at a file or at a folder of parquet parts."),
    ],
    ids=["missing", "suffix", "profile", "empty", "corrupt-parquet", "corrupt-gzip", "empty-folder"],
)
def test_unreadable_inputs_are_one_line_input_errors(tmp_path, setup, message):
    path = setup(tmp_path)
    with pytest.raises(InputError) as caught:
        io.read(path)
    text = str(caught.value)
    assert text.startswith(f"{path}: ") and message.split(": ", 1)[1] in text
    assert "\n" not in text


def test_a_ragged_csv_is_an_input_error(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("a,b\n1,2\n3,4,5\n")
    with pytest.raises(InputError, match="d.csv: cannot read it as csv: "):
        io.read(path)


def test_reading_does_not_modify_the_input(tmp_path, frame):
    path = write(frame, tmp_path / "d.csv.gz")
    before, stamp = path.read_bytes(), path.stat().st_mtime_ns
    io.read(path)
    assert path.read_bytes() == before and path.stat().st_mtime_ns == stamp
    with gzip.open(path, "rt") as handle:
        assert handle.readline().strip() == "a,b,c,region,y"


# -- writing ------------------------------------------------------------------------------------


def test_write_text_writes_and_replaces(tmp_path):
    target = tmp_path / "report.json"
    io.write_text(target, "first\n")
    io.write_text(target, "second\n")
    assert target.read_text() == "second\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]


def test_write_text_in_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    io.write_text("report.md", "# hi\n")
    assert (tmp_path / "report.md").read_text() == "# hi\n"


def test_write_text_leaves_no_file_when_the_write_fails(tmp_path, monkeypatch):
    target = tmp_path / "report.json"
    target.write_text("old report\n")

    def broken_replace(src, dst):
        raise KeyboardInterrupt  # interrupted between the write and the rename

    monkeypatch.setattr(io.os, "replace", broken_replace)
    with pytest.raises(KeyboardInterrupt):
        io.write_text(target, "new report\n")
    # the old file is intact and no temporary file is left behind
    assert target.read_text() == "old report\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]


def test_write_text_into_a_missing_folder(tmp_path):
    with pytest.raises(InputError, match="the folder .*nowhere does not exist"):
        io.write_text(tmp_path / "nowhere" / "r.json", "x")


def test_write_text_onto_a_folder_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="is a folder; --output needs a file name"):
        io.write_text(tmp_path, "x")
    assert list(tmp_path.iterdir()) == []


def test_write_text_where_it_may_not_is_an_input_error(tmp_path, monkeypatch):
    def refused(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(io.tempfile, "mkstemp", refused)
    with pytest.raises(InputError, match="r.json: cannot write the report there: Permission denied"):
        io.write_text(tmp_path / "r.json", "x")


@pytest.mark.parametrize("whole_groups", [True, False])
def test_parquet_batches_are_the_rows_in_order_whatever_the_reading(tmp_path, monkeypatch, whole_groups):
    # small row groups are read whole and cut into batches; big ones are read batch by batch
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(3)
    table = pa.table({"a": rng.normal(size=2500), "b": rng.integers(0, 9, 2500), "c": ["x"] * 2500})
    path = tmp_path / "groups.parquet"
    pq.write_table(table, path, row_group_size=700)
    monkeypatch.setattr(io, "WHOLE_GROUP_BYTES", 2 ** 40 if whole_groups else 0)
    scan = io.scan(path)
    batches = list(scan.batches(["b", "a"], batch_size=300))
    assert max(b.num_rows for b in batches) <= 300
    read = pa.Table.from_batches(batches)
    assert read.column_names == ["b", "a"]
    assert read.equals(table.select(["b", "a"]))
    part = io.Partition(str(path), "parquet", row_groups=(2, 1))
    assert pa.Table.from_batches(list(part.batches(["a"], 256))).equals(
        pa.concat_tables([table.slice(1400, 700), table.slice(700, 700)]).select(["a"]))


def test_parquet_groups_are_read_where_files_cannot_be_mapped(tmp_path, monkeypatch):
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"a": np.arange(3000.0), "b": np.arange(3000) % 7})
    path = tmp_path / "unmappable.parquet"
    pq.write_table(table, path, row_group_size=1000)

    def refuse(*args, **kwargs):
        raise OSError("mmap: operation not supported")

    monkeypatch.setattr(io.pa, "memory_map", refuse)
    assert pa.Table.from_batches(list(io.scan(path).batches(["a", "b"], 400))).equals(table)


def test_a_parquet_file_that_changes_while_it_is_read_is_refused(tmp_path):
    # a memory-mapped file that shrinks would end the process (SIGBUS): its size is checked
    # before each row group is mapped
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "growing.parquet"
    pq.write_table(pa.table({"a": np.arange(3000.0)}), path, row_group_size=1000)
    batches = io.scan(path).batches(["a"], batch_size=500)
    next(batches)
    with open(path, "ab") as handle:
        handle.write(b"appended by a writer")
    with pytest.raises(InputError, match="changed while it was read") as raised:
        list(batches)
    assert str(raised.value).startswith(str(path))
