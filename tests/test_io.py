"""Reading the supported inputs, hashing them, and writing reports atomically."""

from __future__ import annotations

import gzip
import hashlib
import os
import stat
import threading
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
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


@pytest.mark.parametrize("staging", ["_temporary/0/task_1", ".spark-staging/job", "_tmp"])
def test_parquet_parts_skip_a_writers_unfinished_attempts(tmp_path, frame, staging):
    folder = write(frame, tmp_path / "d.parts")
    (folder / staging).mkdir(parents=True)
    frame.to_parquet(folder / staging / "part-00000.parquet", index=False)
    assert [p.name for p in io.parquet_parts(folder)] == [f"part-{i}.parquet" for i in range(3)]
    assert len(io.read(folder).frame) == len(frame)
    assert io.scan(folder).rows == len(frame)


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


# -- where a report goes: devices, fifos, links, permissions --------------------------------------


def test_write_text_into_a_fifo_writes_into_it_and_keeps_it(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    io.write_text(fifo, "report\n")
    reader.join(timeout=30)
    assert received == [b"report\n"]
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert [p.name for p in tmp_path.iterdir()] == ["fifo"]


def test_write_text_into_a_device_keeps_the_device(tmp_path):
    null = tmp_path / "null"
    try:
        os.mknod(null, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    except OSError:
        pytest.skip("creating a device node needs root")
    io.write_text(null, "report\n")
    io.write_bytes(null, {"a": b"x"})
    assert stat.S_ISCHR(os.lstat(null).st_mode)
    assert [p.name for p in tmp_path.iterdir()] == ["null"]


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd")
def test_write_text_to_a_descriptor_path_writes_into_the_file_it_names(tmp_path):
    """``-o /dev/stdout >> log``: the report goes to the open file, after what it held."""
    log = tmp_path / "log.txt"
    log.write_text("before\n")
    inode = log.stat().st_ino
    with open(log, "ab") as held:
        io.write_text(f"/proc/self/fd/{held.fileno()}", "report\n")
    assert log.read_text() == "before\nreport\n"
    assert log.stat().st_ino == inode


def test_write_text_through_a_link_replaces_the_file_and_keeps_the_link(tmp_path):
    real = tmp_path / "reports" / "r.json"
    real.parent.mkdir()
    real.write_text("old\n")
    real.chmod(0o640)
    link = tmp_path / "latest.json"
    link.symlink_to(real)
    io.write_text(link, "new\n")
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_text() == "new\n"
    assert stat.S_IMODE(real.stat().st_mode) == 0o640
    assert [p.name for p in real.parent.iterdir()] == ["r.json"]


def test_a_new_report_follows_the_umask_and_a_replaced_one_keeps_its_mode(tmp_path):
    previous = os.umask(0o027)
    try:
        io.write_text(tmp_path / "new.json", "x")
        io.write_bytes(tmp_path / "new.shiftemp", {"a": b"x"})
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "new.json").stat().st_mode) == 0o640
    assert stat.S_IMODE((tmp_path / "new.shiftemp").stat().st_mode) == 0o640
    old = tmp_path / "old.json"
    old.write_text("x")
    old.chmod(0o644)
    io.write_text(old, "y")
    assert old.read_text() == "y" and stat.S_IMODE(old.stat().st_mode) == 0o644


def test_write_bytes_writes_a_zip_archive(tmp_path):
    io.write_bytes(tmp_path / "p.shiftemp", {"a.json": b"{}"})
    with zipfile.ZipFile(tmp_path / "p.shiftemp") as archive:
        assert archive.read("a.json") == b"{}"
    assert [p.name for p in tmp_path.iterdir()] == ["p.shiftemp"]


def test_write_bytes_where_it_cannot_make_its_file_is_an_input_error(tmp_path, monkeypatch):
    """As in /proc, whose folders refuse new files."""
    def refused(*args, **kwargs):
        raise FileNotFoundError(2, "No such file or directory")

    monkeypatch.setattr(io.tempfile, "mkstemp", refused)
    with pytest.raises(InputError, match="p.shiftemp: cannot write the report there: No such file"):
        io.write_bytes(tmp_path / "p.shiftemp", {"a": b"x"})


@pytest.mark.parametrize("write", [lambda p: io.write_text(p, "x"),
                                   lambda p: io.write_bytes(p, {"a": b"x"})])
def test_a_name_too_long_is_an_input_error(tmp_path, write):
    with pytest.raises(InputError, match=r"a{260}\.json: cannot write the report there: File name"
                                         " too long"):
        write(tmp_path / ("a" * 260 + ".json"))
    assert list(tmp_path.iterdir()) == []


def test_a_name_that_nearly_fills_the_limit_is_written(tmp_path):
    """The temporary file beside it must not be the name too long."""
    target = tmp_path / ("a" * 250 + ".json")
    io.write_text(target, "x")
    assert target.read_text() == "x"


def test_check_destination_refuses_a_folder_that_is_not_writable(tmp_path, monkeypatch):
    real_access = os.access
    monkeypatch.setattr(io.os, "access", lambda p, mode, **kw: Path(p) != tmp_path and real_access(p, mode, **kw))
    with pytest.raises(InputError, match="r.html: cannot write the report there: the folder .* is not"
                                         " writable"):
        io.check_output(tmp_path / "r.html", (), "--html")


def test_check_destination_refuses_a_device_that_is_not_writable(tmp_path, monkeypatch):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    monkeypatch.setattr(io.os, "access", lambda p, mode, **kw: False)
    with pytest.raises(InputError, match="fifo: cannot write the report there: permission denied"):
        io.check_destination(fifo)


def test_an_uppercase_csv_gz_is_read_as_gzip_by_both_readers(tmp_path, frame):
    path = tmp_path / "REF.CSV.GZ"
    path.write_bytes(gzip.compress(frame.to_csv(index=False).encode()))
    pd.testing.assert_frame_equal(io.read(path).frame, frame, check_dtype=False)
    streamed = pa.Table.from_batches(list(io.scan(path).batches(list(frame.columns))))
    assert streamed.num_rows == len(frame)
    assert np.allclose(streamed.column("a").to_numpy(), frame["a"])


def test_binary_bytes_in_a_readers_error_are_escaped_and_cut(tmp_path, frame):
    path = tmp_path / "ref.csv"  # gzip bytes under a plain .csv name
    path.write_bytes(gzip.compress(frame.to_csv(index=False).encode() * 3))
    for reader in (io.read, io.scan):
        with pytest.raises(InputError) as caught:
            reader(path)
        text = str(caught.value)
        assert text.isprintable() and "\ufffd" not in text and len(text) < 200


def test_decimal_columns_read_as_floats_in_both_readers(tmp_path):
    import decimal

    prices = [decimal.Decimal("1.25"), None, decimal.Decimal("99.10")]
    table = pa.table({"price": pa.array(prices, pa.decimal128(10, 2)), "y": [1.0, 2.0, 3.0]})
    pq.write_table(table, tmp_path / "d.parquet")
    frame = io.read(tmp_path / "d.parquet").frame
    # 99.1, not pyarrow's cast's 99.10000000000001
    assert frame["price"].dtype == np.float64 and frame["price"].iloc[2] == 99.1
    scanned = io.scan(tmp_path / "d.parquet")
    assert scanned.schema.field("price").type == pa.float64()
    batch = next(scanned.batches(["price", "y"]))
    assert batch.schema.field("price").type == pa.float64()


def _parts(tmp_path, frame, second) -> Path:
    """A folder of two parts: ``frame``'s first half, and ``second`` of its second half."""
    folder = tmp_path / "parts"
    folder.mkdir()
    frame.iloc[:30].to_parquet(folder / "part-0.parquet", index=False)
    pq.write_table(second(pa.Table.from_pandas(frame.iloc[30:], preserve_index=False)),
                   folder / "part-1.parquet")
    return folder


@pytest.mark.parametrize("second", [
    lambda t: t.select(list(reversed(t.column_names))),  # column order
    lambda t: t.cast(pa.schema([f.with_nullable(False) if f.name == "a" else f
                                for f in t.schema])),  # nullability
    lambda t: t.set_column(0, "a", t.column("a").cast(pa.float32())),  # numeric width
    lambda t: t.set_column(t.schema.get_field_index("region"), "region",
                           t.column("region").dictionary_encode()),  # dictionary encoding
], ids=["order", "nullable", "float32", "dictionary"])
def test_parquet_parts_that_differ_in_encoding_read_alike_in_both_readers(tmp_path, frame, second):
    folder = _parts(tmp_path, frame, second)
    read = io.read(folder).frame
    assert list(read.columns) == list(frame.columns) and len(read) == len(frame)
    scanned = io.scan(folder)
    streamed = pa.Table.from_batches(
        [batch.select(frame.columns) for batch in scanned.batches(list(frame.columns))])
    assert streamed.num_rows == len(frame)
    for column in frame.columns:
        assert streamed.column(column).type.equals(scanned.schema.field(column).type)
        assert streamed.column(column).to_pylist() == pa.array(read[column]).to_pylist()


@pytest.mark.parametrize("second", [
    lambda t: t.drop_columns(["b"]),
    lambda t: t.append_column("extra", pa.array([1.0] * t.num_rows)),
    lambda t: t.set_column(0, "a", t.column("a").cast(pa.string())),
], ids=["missing", "extra", "text"])
def test_parquet_parts_with_other_columns_are_refused_by_both_readers(tmp_path, frame, second):
    folder = _parts(tmp_path, frame, second)
    message = (f"{folder / 'part-1.parquet'}: its columns or types differ from"
               f" {folder / 'part-0.parquet'}'s; the parts of a folder must share one schema.")
    for reader in (io.read, io.scan):
        with pytest.raises(InputError) as caught:
            reader(folder)
        assert str(caught.value) == message


def test_a_csv_streams_a_column_whose_decimals_come_after_its_first_block(tmp_path):
    k = np.arange(400_000) % 10  # 1.6 MB: past the 1 MB block the types are inferred from
    path = tmp_path / "late.csv"
    path.write_text("k,y\n" + "".join(f"{v},1\n" for v in k) + "7.5,1\n")
    scanned = io.scan(path)
    assert scanned.schema.field("k").type == pa.int64()  # the first block's
    values = np.concatenate([b.column(0).to_numpy() for b in scanned.batches(["k"])])
    assert values.dtype == np.float64 and values[-1] == 7.5 and values.size == 400_001


def test_text_after_a_csvs_first_block_is_named_with_its_row(tmp_path):
    path = tmp_path / "late.csv"
    path.write_text("k,y\n" + "3,1\n" * 400_000 + "oops,1\n4,1\nx,1\n")
    with pytest.raises(InputError) as caught:
        list(io.scan(path).batches(["k", "y"]))
    assert str(caught.value) == (
        f"{path}: column 'k' mixes numbers and text: its first rows hold numbers, but 2 values"
        " further on are not a number, first 'oops' in data row 400001; fix them or pass"
        " --exclude k.")


def _same_size_versions(tmp_path):
    """Two versions of one parquet file of exactly the same size (no compression, no
    dictionary, no statistics): a size check cannot tell them apart."""
    import pyarrow.parquet as pq

    paths = []
    for seed in (0, 1):
        values = np.random.default_rng(seed).normal(size=(2, 5000))
        table = pa.table({"x": values[0], "y": values[1]})
        path = tmp_path / f"v{seed}.parquet"
        pq.write_table(table, path, compression="none", use_dictionary=False,
                       write_statistics=False, row_group_size=1000)
        paths.append(path)
    assert paths[0].stat().st_size == paths[1].stat().st_size
    return paths


def test_a_file_replaced_between_passes_stops_the_stream(tmp_path):
    """Replaced by a rename with a file of the same size, it was read as the new version by the
    next pass (and hashed as either): a report of two versions, exit 0."""
    import shutil

    first, second = _same_size_versions(tmp_path)
    target = tmp_path / "data.parquet"
    shutil.copy(first, target)
    scan = io.scan(target)
    assert sum(batch.num_rows for batch in scan.batches(["x", "y"])) == 5000
    staged = tmp_path / ".staged"
    shutil.copy(second, staged)
    os.replace(staged, target)
    with pytest.raises(InputError, match="data.parquet: the file changed while it was read"):
        list(scan.batches(["x", "y"]))
    with pytest.raises(InputError, match="the file changed while it was read"):
        scan.sha256()


def test_a_file_replaced_while_the_in_memory_engine_hashes_it_is_refused(tmp_path, monkeypatch):
    import shutil

    first, second = _same_size_versions(tmp_path)
    target = tmp_path / "data.parquet"
    shutil.copy(first, target)
    hashed = io.sha256

    def hash_then_replace(path):
        digest = hashed(path)
        staged = tmp_path / ".staged"
        shutil.copy(second, staged)
        os.replace(staged, target)
        return digest

    monkeypatch.setattr(io, "sha256", hash_then_replace)
    with pytest.raises(InputError, match="data.parquet: the file changed while it was read"):
        io.read(target)


def test_a_pipe_whose_reader_went_away_ends_the_report_quietly():
    """-o /dev/stdout | head: the closed pipe was an error (exit 2), where stdout itself ends
    quietly and keeps the run's exit code."""
    from pathlib import Path

    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        io.write_into(Path(f"/dev/fd/{write_end}"), lambda out: out.write(b"x" * 100_000))
    finally:
        os.close(write_end)


@pytest.mark.parametrize("precision, scale", [(10, 2), (15, 5), (15, 0), (12, 12), (20, 3)])
def test_decimals_become_the_correctly_rounded_floats(precision, scale):
    """Up to 15 digits the unscaled integer is divided by 10^scale in numpy (20 times faster
    than through the digits as text, which every batch paid); the floats are the same, bit for
    bit, with nulls and a slice's offset."""
    import decimal
    import random

    draw = random.Random(precision * 100 + scale)
    values = [None if draw.random() < 0.05 else decimal.Decimal(
        draw.randint(-10 ** precision + 1, 10 ** precision - 1)).scaleb(-scale)
        for _ in range(5000)]
    column = pa.array(values, type=pa.decimal128(precision, scale)).slice(7)
    expected = column.cast(pa.string()).cast(pa.float64())
    assert io.decimal_floats(column).equals(expected)
    chunked = pa.chunked_array([column.slice(0, 100), column.slice(100)])
    assert io.decimal_floats(chunked).combine_chunks().equals(expected)
