"""The only module that reads or writes files.

Inputs: ``.parquet``, ``.csv``, ``.csv.gz`` and directories of parquet parts; the two inputs of a
comparison may differ in format. Outputs are written atomically (a temporary file in the target's
folder, then a rename), so a failed or interrupted run never leaves a partial file; a device, a
fifo or a descriptor path (``/dev/stdout``) is written into instead, never replaced.
"""

from __future__ import annotations

import hashlib
import mmap
import os
import re
import stat
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

# pandas, pyarrow.csv and pyarrow.dataset are imported where a frame, a CSV or a folder of parquet
# parts is read: a streaming run over parquet files needs none of them, and their imports
# (~0.9 s, ~0.1 s, ~0.8 s) would be most of its wall time
from . import interrupt
from .errors import InputError, OptionError

if TYPE_CHECKING:
    import pandas as pd

PARQUET_SUFFIXES = (".parquet", ".pq")
CSV_SUFFIXES = (".csv", ".csv.gz")


@dataclass(frozen=True)
class Source:
    """A dataset as read from disk: its frame and where it came from."""

    frame: pd.DataFrame
    path: str
    format: str
    sha256: str


def is_frame(data) -> bool:
    """Whether ``data`` is a pandas DataFrame, without importing pandas: when pandas was never
    imported, nothing can be one."""
    pandas = sys.modules.get("pandas")
    return pandas is not None and isinstance(data, pandas.DataFrame)


def data_format(path: Path) -> str:
    """``parquet``, ``csv``, ``csv.gz`` or ``parquet-directory``; refuses anything else."""
    name = path.name.lower()
    if path.is_dir():
        return "parquet-directory"
    if name.endswith(".csv.gz"):
        return "csv.gz"
    if name.endswith(".csv"):
        return "csv"
    if name.endswith(PARQUET_SUFFIXES):
        return "parquet"
    if name.endswith(".shiftemp"):  # a profile where data must be read
        raise InputError(
            f"{path}: is a shiftemp profile, which stands only for compare's REFERENCE (its first"
            " input; profile --merge merges profiles); this input must be the data itself."
        )
    raise InputError(
        f"{path}: unknown file type; expected .parquet, .csv, .csv.gz or a directory of parquet"
        " parts."
    )


def parquet_parts(directory: Path) -> list[Path]:
    """The parquet files below ``directory``, sorted, skipping any whose path below it has a
    component starting with ``.`` or ``_`` (pyarrow's discovery rule): marker files, and the
    ``_temporary/`` or ``.spark-staging/`` folders of a writer's unfinished attempts, whose rows
    would otherwise be read twice."""
    parts = sorted(
        p for p in directory.rglob("*")
        if p.is_file() and p.name.lower().endswith(PARQUET_SUFFIXES)
        and not any(c.startswith((".", "_")) for c in p.relative_to(directory).parts)
    )
    if not parts:
        raise InputError(
            f"{directory}: the directory holds no .parquet files; point at a file or at a folder"
            " of parquet parts."
        )
    return parts


def sha256(path: Path) -> str:
    """Hex SHA-256 of a file, or of a directory's parquet parts (names and bytes, in order)."""
    digest = hashlib.sha256()
    files = parquet_parts(path) if path.is_dir() else [path]
    for file in files:
        if path.is_dir():
            digest.update(str(file.relative_to(path)).encode())
        with open(file, "rb") as handle:
            _hash_file(handle, digest)
    return digest.hexdigest()


#: Bytes of a file mapped at a time to hash it (a multiple of mmap.ALLOCATIONGRANULARITY): the
#: window's pages stay resident only while it is hashed, so memory does not grow with the file.
HASH_WINDOW = 16 * 2 ** 20


def _hash_file(handle, digest) -> None:
    """Feed an open file's bytes to ``digest``, from memory maps of :data:`HASH_WINDOW` bytes:
    a read() would copy every byte from the page cache first (measured on a 1.7 GB file: 0.2 to
    0.4 CPU-seconds of system time read, 0.1 to 0.2 mapped; hashing it costs 1.2). A file that
    cannot be mapped (a pipe, some network file systems) is read."""
    size = os.fstat(handle.fileno()).st_size
    offset = 0
    while offset < size:
        length = min(HASH_WINDOW, size - offset)
        try:
            view = mmap.mmap(handle.fileno(), length, offset=offset, access=mmap.ACCESS_READ)
        except (OSError, ValueError):
            if offset:  # the file changed while it was hashed
                raise
            break
        with view:
            if hasattr(mmap, "MADV_SEQUENTIAL"):
                view.madvise(mmap.MADV_SEQUENTIAL)
            digest.update(view)
        offset += length
    else:
        return
    while chunk := handle.read(1 << 20):
        digest.update(chunk)


def checked_format(path: Path) -> str:
    """:func:`data_format` of an input that exists and is not an empty file."""
    if not path.exists():
        raise InputError(f"{path}: no such file or directory.")
    kind = data_format(path)
    if not path.is_dir() and path.stat().st_size == 0:
        raise InputError(f"{path}: the file is empty; expected a header and data rows.")
    return kind


def reason_of(exc: BaseException) -> str:
    """The first line of a reader's error, fit for a one-line message: characters a terminal
    cannot show (the raw bytes of a binary file that was read as text) are escaped, and such a
    line is cut short, so no binary garbage reaches the user's terminal."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    # U+FFFD is printable, but stands for bytes that were not text
    pieces = [
        c if c.isprintable() and c != "\ufffd" else c.encode("unicode_escape").decode("ascii")
        for c in text
    ]
    shown = "".join(pieces)
    if shown != text and len(shown) > 80:
        kept = 0
        while kept < len(pieces) and len("".join(pieces[:kept + 1])) <= 80:
            kept += 1
        shown = "".join(pieces[:kept]) + "..."
    return shown


def read_type(kind: pa.DataType) -> pa.DataType:
    """The type shiftemp reads a column of type ``kind`` as: decimals as float64 (they are
    numbers to the model, and pandas would make Python objects, so text categories, of them);
    anything else as it is."""
    return pa.float64() if pa.types.is_decimal(kind) else kind


def read_schema(schema: pa.Schema) -> pa.Schema:
    """``schema`` with each field in its :func:`read_type`."""
    fields = [f.with_type(read_type(f.type)) for f in schema]
    return pa.schema(fields, metadata=schema.metadata)


def _values_type(kind: pa.DataType) -> pa.DataType:
    return kind.value_type if pa.types.is_dictionary(kind) else kind


def _common_type(a: pa.DataType, b: pa.DataType) -> pa.DataType | None:
    """The type two parts' columns of types ``a`` and ``b`` are read as (the wider number; text
    whatever its encoding), or ``None`` when they hold different kinds of values."""
    if a.equals(b):
        return a
    a, b = _values_type(a), _values_type(b)
    if a.equals(b):
        return a
    integer, floating = pa.types.is_integer, pa.types.is_floating
    if integer(a) and integer(b):
        if pa.types.is_signed_integer(a) == pa.types.is_signed_integer(b):
            return a if a.bit_width >= b.bit_width else b
        return pa.int64()
    if floating(a) and floating(b):
        return a if a.bit_width >= b.bit_width else b
    if (integer(a) or floating(a)) and (integer(b) or floating(b)):
        return pa.float64()
    text = (pa.types.is_string, pa.types.is_large_string, pa.types.is_string_view)
    if any(t(a) for t in text) and any(t(b) for t in text):
        return pa.large_string()
    return None


def common_schema(files: list[Path], schemas: list[pa.Schema]) -> pa.Schema:
    """The one schema the parts ``files`` of a folder (with ``schemas``, already in
    :func:`read_schema`) are read in: parts may order their columns differently, differ in
    nullability and dictionary encoding, and store numbers in different widths (read as the
    wider); a column missing from a part, or text in one part and numbers in another, is
    refused. Both engines read a folder in this schema."""
    first = schemas[0]
    fields = {f.name: f for f in first}
    for file, schema in zip(files[1:], schemas[1:]):
        same = sorted(schema.names) == sorted(first.names)
        for field in schema if same else ():
            kind = _common_type(fields[field.name].type, field.type)
            if kind is None:
                same = False
                break
            fields[field.name] = fields[field.name].with_type(kind).with_nullable(
                fields[field.name].nullable or field.nullable)
        if not same:
            raise InputError(
                f"{file}: its columns or types differ from {files[0]}'s; the parts of a"
                " folder must share one schema."
            )
    return pa.schema([fields[name] for name in first.names], metadata=first.metadata)


def decimal_floats(column):
    """A decimal Arrow array (or chunked array) as float64, each value correctly rounded.

    pyarrow's own cast divides by the scale in floating point (1.10 became 1.1000000000000001).
    Up to 15 digits, the unscaled integer and 10^scale are exact doubles, so one division is
    the correctly rounded value, taken from the low 64-bit word of each little-endian 128-bit
    value; wider decimals go through their digits as text (20 times slower)."""
    kind = column.type
    chunked = isinstance(column, pa.ChunkedArray)
    if not (pa.types.is_decimal128(kind) and kind.precision <= 15 and 0 <= kind.scale
            and sys.byteorder == "little"):
        return column.cast(pa.string()).cast(pa.float64())
    unit = float(10 ** kind.scale)
    out = []
    for chunk in column.chunks if chunked else [column]:
        words = np.frombuffer(chunk.buffers()[1], dtype=np.int64)
        low = words[2 * chunk.offset:2 * (chunk.offset + len(chunk)):2]
        mask = None if chunk.null_count == 0 else np.asarray(chunk.is_null())
        out.append(pa.array(low / unit, type=pa.float64(), mask=mask))
    return pa.chunked_array(out, type=pa.float64()) if chunked else out[0]


def conform(data, schema: pa.Schema):
    """A table or record batch with each of its columns cast to its type in ``schema``
    (its columns and their order kept)."""
    columns = []
    for name, column in zip(data.column_names, data.columns):
        kind = schema.field(name).type
        if not column.type.equals(kind):
            if pa.types.is_decimal(column.type):
                column = decimal_floats(column)
            column = column.cast(kind)
        columns.append(column)
    return type(data).from_arrays(columns, names=data.column_names)


def csv_input(path: str | os.PathLike, kind: str):
    """An input stream of a CSV's text: gunzipped for a ``csv.gz`` whatever the case of its
    suffix (pyarrow's own choice of decompression reads ``REF.CSV.GZ`` as plain text)."""
    return pa.input_stream(str(path), compression="gzip" if kind == "csv.gz" else None)


def read_table(path: Path) -> pa.Table:
    """Read a supported input into an Arrow table, translating reader errors to InputError."""
    kind = checked_format(path)
    try:
        if kind == "parquet-directory":
            parts = parquet_parts(path)
            schemas = []
            for part in parts:  # pyarrow's own message for a repeated name is obscure
                try:
                    schema = pq.read_schema(part)
                except (pa.ArrowException, OSError, ValueError) as exc:
                    raise InputError(
                        f"{part}: cannot read it as parquet: {reason_of(exc)}") from exc
                check_unique_names(schema.names, part)
                schemas.append(read_schema(schema))
            schema = common_schema(parts, schemas)
            tables = []
            for part in parts:
                try:
                    tables.append(conform(pq.read_table(part), schema).select(schema.names))
                except (pa.ArrowException, OSError, ValueError) as exc:
                    raise InputError(
                        f"{part}: cannot read it as parquet: {reason_of(exc)}") from exc
            return pa.concat_tables(tables).replace_schema_metadata(schema.metadata)
        if kind == "parquet":
            check_unique_names(pq.read_schema(path).names, path)
            table = pq.read_table(path)
            return conform(table, read_schema(table.schema))
        import pyarrow.csv as pacsv

        with csv_input(path, kind) as source:
            table = pacsv.read_csv(source)
        check_unique_names(table.column_names, path)
        check_text(table.schema, path)
        return table
    except InputError:
        raise
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot read it as {kind}: {reason_of(exc)}") from exc


def check_unique_names(names: list[str], path: Path) -> None:
    """Refuse repeated column names (a CSV header naming a column twice, a parquet schema)."""
    seen: set[str] = set()
    repeated = [name for name in names if name in seen or seen.add(name)]
    if repeated:
        raise InputError(
            f"{path}: duplicate column names {sorted(set(repeated))}; rename them so each column"
            " is unique."
        )


def check_text(schema: pa.Schema, path: Path) -> None:
    """Refuse a CSV column pyarrow could only read as bytes: text that is not UTF-8 (a file saved
    as Latin-1 or Windows-1252), which would otherwise become "b'\\xe9'" categories."""
    for field in schema:
        if pa.types.is_binary(field.type) or pa.types.is_large_binary(field.type):
            raise InputError(
                f"{path}: column '{field.name}' holds text that is not UTF-8; re-save the file"
                " as UTF-8."
            )


def check_destination(path: str | os.PathLike, option: str = "--output") -> Path:
    """``path`` as a Path, refused when a report could not be written there: its folder is
    missing or not writable, it is itself a folder, it is a device or fifo that may not be
    written, or its name cannot be a file's (too long). ``option``: the option that named it,
    for the message."""
    path = Path(path)
    try:
        found = os.stat(path)  # follows a link: what it points to is what is written
    except FileNotFoundError:
        found = None
    except OSError as exc:  # a name too long, a "folder" that is a file
        raise InputError(f"{path}: cannot write the report there: {exc.strerror}.") from exc
    if found is not None and stat.S_ISDIR(found.st_mode):
        example = path / ("report.html" if option == "--html" else "report.json")
        raise InputError(f"{path}: is a folder; {option} needs a file name, such as {example}.")
    if found is not None and writes_in_place(path):
        if not os.access(path, os.W_OK):
            raise InputError(f"{path}: cannot write the report there: permission denied.")
        return path
    folder = replaced_file(path).parent
    if not os.path.isdir(folder):
        raise InputError(f"{path}: the folder {folder} does not exist.")
    if not os.access(folder, os.W_OK | os.X_OK):  # the temporary file is made there
        raise InputError(f"{path}: cannot write the report there: the folder {folder} is not"
                         " writable.")
    return path


#: A path that names an open file descriptor: what it stands for is the descriptor its caller
#: holds (a pipe, a terminal, the file a shell opened), so a report is written into it.
DESCRIPTOR_PATH = re.compile(r"/dev/(?:stdout|stderr|fd/\d+)|/proc/[^/]+/fd/\d+")


def names_descriptor(path: Path) -> bool:
    """Whether ``path``, or a symbolic link on the way from it, is a :data:`DESCRIPTOR_PATH`."""
    name = os.path.abspath(path)
    for _ in range(40):  # the kernel's limit on a chain of links
        if DESCRIPTOR_PATH.fullmatch(name):
            return True
        try:
            link = os.readlink(name)
        except OSError:  # not a link: the end of the chain
            return False
        name = os.path.abspath(os.path.join(os.path.dirname(name), link))
    return False


def writes_in_place(path: Path) -> bool:
    """Whether a report to ``path`` is written into what is there rather than replacing it: an
    existing device, fifo or socket, or a descriptor path (``/dev/stdout`` redirected to a file).
    Replacing one would destroy it (as root: ``/dev/null`` itself) or cut it from its reader; a
    rename's atomicity means nothing there."""
    try:
        found = os.stat(path)
    except OSError:
        return False
    return not stat.S_ISREG(found.st_mode) or names_descriptor(path)


def replaced_file(path: Path) -> Path:
    """The file a report to ``path`` replaces: ``path``, or what it links to (the link is kept;
    replacing it with a file would cut the user's link)."""
    return Path(os.path.realpath(path)) if os.path.islink(path) else path


def report_mode(target: Path) -> int:
    """The permission bits (0o777) of a report written to ``target``: those of the file it
    replaces, else 0o666 less the umask, as ``open()`` would create it (a temporary file is made
    0o600, which would hide the report from the group that reads it)."""
    try:
        return os.stat(target).st_mode & 0o777
    except OSError:
        return 0o666 & ~umask()


def umask() -> int:
    """The process's umask: Linux shows it in /proc/self/status; elsewhere it can only be read
    by setting it, and it is set back at once."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def check_output(path: str | os.PathLike, inputs, option: str = "--output") -> None:
    """Refuse an output path that is one of the ``inputs`` or lies inside an input folder: the
    report would overwrite the data it describes; and one :func:`write_text` would refuse, before
    the run rather than after it. ``option``: the option that named it, for the message."""
    path = check_destination(path, option)
    target = path.resolve()
    for data in inputs:
        if not isinstance(data, (str, os.PathLike)):
            continue
        source = Path(data).resolve()
        if target == source or source in target.parents:
            where = "is the input" if target == source else "lies inside the input folder"
            raise OptionError(
                f"{option} {path} {where} {data}; write the report elsewhere, so the data stays"
                " as it was."
            )


def read(path: str | os.PathLike, checksum: bool = True) -> Source:
    """Read one input into a pandas frame, with its format and SHA-256 (empty without
    ``checksum``: hashing reads every byte once more)."""
    path = Path(path)
    try:
        before = identities(path)
    except OSError:  # read_table names what is wrong with it
        before = None
    try:
        table = read_table(path)
    except InputError:
        _changed_since(path, before)  # a file replaced while it was read is not corrupt
        raise
    try:
        try:
            frame = table.to_pandas()
        except (KeyError, TypeError, AttributeError, IndexError):
            # the pandas metadata a writer stored beside the columns is damaged (a key or a type
            # missing from its JSON): the columns themselves read as the streaming engine reads
            # them, which never looks at that metadata
            frame = table.to_pandas(ignore_metadata=True)
    except (pa.ArrowException, ValueError, OverflowError) as exc:
        raise InputError(
            f"{path}: cannot convert its columns to a table: {reason_of(exc)}") from exc
    digest = sha256(path) if checksum else ""
    _changed_since(path, before)  # the frame and the checksum would be of different versions
    return Source(frame=frame, path=str(path), format=data_format(path), sha256=digest)


def _changed_since(path: Path, before) -> None:
    """Refuse an input whose files are no longer those of :func:`identities` ``before``
    (``None``: not known, nothing to compare)."""
    if before is None:
        return
    try:
        same = before == identities(path)
    except OSError:  # removed (or moved away) since
        same = False
    if not same:
        raise changed(path)


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` as UTF-8 (:func:`write_output`)."""
    write_output(check_destination(path), lambda out: out.write(text.encode("utf-8")))


def write_output(path: Path, fill) -> None:
    """Write a report to ``path`` (checked by :func:`check_destination`); ``fill(out)`` writes
    its bytes to a binary file. A file is replaced atomically: a temporary file beside it (beside
    the file a link points to), fsync, rename; the new file keeps the permission bits of the one
    it replaces (:func:`report_mode`). A device, fifo or descriptor path is written into
    (:func:`writes_in_place`). Errors become :class:`InputError` naming ``path``."""
    if writes_in_place(path):
        write_into(path, fill)
        return
    target = replaced_file(path)
    mode = report_mode(target)
    # the temporary name must fit the file system's limit (255 bytes) when the report's own
    # name nearly fills it
    prefix = f".{target.name[:64]}."
    try:
        handle, temporary = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise InputError(f"{path}: cannot write the report there: {exc.strerror}.") from exc
    try:
        with os.fdopen(handle, "wb") as out:
            os.fchmod(out.fileno(), mode)
            fill(out)
            out.flush()
            os.fsync(out.fileno())
        interrupt.check()  # a Ctrl-C that Python dropped must not leave a report behind
        os.replace(temporary, target)
    except BaseException as exc:
        Path(temporary).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise InputError(f"{path}: cannot write the report: {exc.strerror or exc}.") from exc
        raise


def write_into(path: Path, fill) -> None:
    """Write a report into the device, fifo or descriptor at ``path`` (opening a fifo waits for
    its reader); appended, so that ``-o /dev/stdout >> log`` keeps what the log held."""
    interrupt.check()
    try:
        with open(os.open(path, os.O_WRONLY | os.O_APPEND), "ab") as out:
            fill(out)
    except BrokenPipeError:
        # a pipe's reader that went away (-o /dev/stdout | head): the output ends quietly, as
        # on stdout itself, and the run keeps the exit code it earned
        return
    except OSError as exc:
        raise InputError(f"{path}: cannot write the report: {exc.strerror or exc}.") from exc


# --------------------------------------------------------------------------------------------
# batches: what the streaming and Dask engines read (docs/streaming.md)

#: Values per record batch of the streaming engine (about 32 MiB of floats), and rows at most:
#: big enough that Python's per-batch and per-column costs vanish beside the arithmetic (the
#: computing threads reuse their buffers from batch to batch, so a batch maps no fresh pages),
#: small enough that a batch's per-model arrays stay in the cache. Measured on the 10M-row
#: benchmark, two computing threads: with 65,536-row batches of 22 columns rather than
#: 131,072-row ones the logistic kernels ran 9 to 25% faster (the whole compare 3%), the
#: linear compare used 8% less CPU, and peak RSS fell by 40 to 150 MiB; 16,384-row batches
#: were slower than both.
BATCH_VALUES = 2 ** 22
BATCH_ROWS = 65_536
#: Rows at most per batch of a statistics pass (the first pass over each input: moments or fold
#: Gram matrices, hashes, the spread sample), which keeps no per-model arrays. Measured on the
#: same benchmark after this kernel's per-batch costs were cut: the linear compare ran 6 to 8%
#: faster with 131,072-row batches than with 65,536 (paired rounds, faster in 14 of 16), and
#: slower with 32,768 (13%), 49,152 or 196,608; peak RSS rose from about 790 to 850 MiB.
STATS_BATCH_ROWS = 131_072


def batch_rows(columns: int, most: int = BATCH_ROWS) -> int:
    """Rows per batch for ``columns`` columns: :data:`BATCH_VALUES` values, 4,096 to ``most``
    rows (fewer rows would spend more time per column than per value on wide data)."""
    return int(min(most, max(4096, BATCH_VALUES // max(columns, 1))))


def buffer_values(array: pa.Array) -> tuple[np.ndarray, np.ndarray | None] | None:
    """The values (n,) of an integer or float Arrow array, a read-only view of its data buffer
    (anything where a value is missing), and its validity mask (``None`` without nulls);
    ``None`` for any other type (extension types included).

    pyarrow's ``to_numpy``, ``fill_null`` and ``scalar`` go through its pandas layer, which
    imports pandas (~0.9 s, most of a small streaming run); reading the buffers does not.
    """
    kind = array.type
    if not (pa.types.is_integer(kind) or pa.types.is_floating(kind)) or isinstance(
        kind, pa.BaseExtensionType
    ):
        return None
    n, offset = len(array), array.offset
    dtype = np.dtype(kind.to_pandas_dtype())
    if n == 0:
        return np.empty(0, dtype=dtype), None
    validity, data = array.buffers()[:2]
    values = np.frombuffer(data, dtype=dtype, count=offset + n)[offset:]
    values.flags.writeable = False  # a view of the Arrow data, as to_numpy gives it
    if not array.null_count:
        return values, None
    bits = np.frombuffer(validity, dtype=np.uint8)
    return values, np.unpackbits(bits, count=offset + n, bitorder="little")[offset:].view(bool)


def float_values(array: pa.Array) -> np.ndarray:
    """The values of a numeric Arrow array as float64, NaN where missing: what
    ``np.asarray(array.to_numpy(zero_copy_only=False), dtype=np.float64)`` gives (a view of the
    Arrow data for float64 without nulls), without importing pandas (:func:`buffer_values`)."""
    if pa.types.is_null(array.type):  # a column without a value (all empty in a CSV's first rows)
        return np.full(len(array), np.nan)
    read = buffer_values(array)
    if read is None:  # an extension or run-end encoded type: rare enough to take pyarrow's path
        return np.asarray(array.to_numpy(zero_copy_only=False), dtype=np.float64)
    values, valid = read
    values = values.astype(np.float64, copy=False)
    return values if valid is None else np.where(valid, values, np.nan)


#: A parquet row group whose selected columns take at most this many bytes decoded (estimated as
#: the group's decoded size times the share of its columns selected) is read whole
#: (pyarrow decodes its columns in parallel, and a whole group costs less to decode than the same
#: rows in batches: measured 1.0 against 1.2-1.4 CPU-seconds for 10M rows of 22 float columns),
#: then cut into batches that share its memory; bigger groups are read batch by batch, so memory
#: stays bounded by the batch whatever the writer chose for its row groups.
WHOLE_GROUP_BYTES = 256 * 2 ** 20


def file_identity(path: str | os.PathLike) -> tuple[int, int, int]:
    """What tells one version of a file from another: inode, size, modification time (ns). A
    writer that replaces the file by a rename changes the inode; one that rewrites it in place,
    the time."""
    found = os.stat(path)
    return found.st_ino, found.st_size, found.st_mtime_ns


def identities(path: Path) -> tuple:
    """:func:`file_identity` of an input: of each parquet part of a folder."""
    files = parquet_parts(path) if path.is_dir() else [path]
    return tuple((str(f), file_identity(f)) for f in files)


def check_unchanged(path: str | os.PathLike, identity) -> None:
    """Refuse a file that is no longer the version first opened (``identity``): the passes over
    it, and its checksum, would describe different data in one report."""
    try:
        same = identity is None or file_identity(path) == identity
    except OSError:  # removed (or moved away) since
        same = False
    if not same:
        raise changed(path)


def changed(path: str | os.PathLike) -> InputError:
    """The error for an input replaced or rewritten while it was read."""
    return InputError(f"{path}: the file changed while it was read; read it again once it is"
                      " written.")


def _mapped_group(path: str, meta, group: int, columns: list[str], identity) -> pa.Table:
    """Row group ``group`` of a parquet file, decoded from a memory map of the file that lives
    as long as the group's pages are read.

    A read() copies every page from the page cache into the process first (1.3-1.6 CPU-seconds
    of system time for two files of 10M rows x 22 floats; 0.6-0.9 mapped); mapping the file once
    per group, not once per file, keeps the pages read resident only while their group is
    decoded (a whole file's mapping would count them all in the peak RSS).

    ``identity``: the file's :func:`file_identity` when it was opened. A file that shrinks
    while it is mapped would end the process (SIGBUS) where a read() fails, and one replaced
    between groups would mix two versions in one report: either is refused before the group is
    mapped."""
    check_unchanged(path, identity)
    try:
        mapped = pa.memory_map(path)
    except OSError:  # a file system that cannot map files: the group is read
        mapped = None
    try:
        return pq.ParquetFile(path if mapped is None else mapped, metadata=meta,
                              pre_buffer=False).read_row_group(group, columns=columns,
                                                               use_threads=True)
    finally:
        if mapped is not None:
            mapped.close()


def _parquet_batches(path: str, columns: list[str], batch_size: int,
                     row_groups: tuple[int, ...] | None, identity=None):
    """``identity``: the file's :func:`file_identity` when the input was opened (default: now),
    checked before each row group."""
    if identity is None:
        identity = file_identity(path)
    check_unchanged(path, identity)  # the footer below must be that version's
    # pre_buffer=True (pyarrow's default) holds the whole file in memory
    reader = pq.ParquetFile(path, pre_buffer=False)
    meta = reader.metadata
    share = min(len(columns), meta.num_columns) / max(meta.num_columns, 1)
    for g in range(meta.num_row_groups) if row_groups is None else row_groups:
        # the group's own decoded size, not its column chunks': pyarrow 26 aborts the process
        # (an uncaught C++ exception) when it builds a corrupt column chunk's metadata, where
        # reading the group raises an OSError we can report
        decoded = meta.row_group(g).total_byte_size * share
        if decoded <= WHOLE_GROUP_BYTES:
            yield from _mapped_group(path, meta, g, columns, identity).to_batches(
                max_chunksize=batch_size)
        else:
            check_unchanged(path, identity)
            # one decoding thread: the other cores compute on the batches already decoded
            yield from reader.iter_batches(batch_size=batch_size, columns=columns,
                                           row_groups=[g], use_threads=False)


@dataclass(frozen=True)
class Partition:
    """A piece of an input that can be read on its own: a parquet file (all its row groups, or
    some), a CSV file, or an in-memory Arrow table. Picklable, so a Dask worker can read it."""

    path: str
    kind: str
    row_groups: tuple[int, ...] | None = None
    table: pa.Table | None = None
    schema: pa.Schema | None = None
    #: the file's :func:`file_identity` when the input was opened: every pass reads that
    #: version or stops
    identity: tuple[int, int, int] | None = None

    def batches(self, columns: list[str], batch_size: int | None = None):
        """Record batches of ``columns``, ``batch_size`` rows at most (default
        :func:`batch_rows`), in the types of :attr:`schema` where it is given (a CSV's types
        from its first block; a folder's :func:`common_schema`); read errors become
        :class:`InputError` naming the file."""
        batch_size = batch_size or batch_rows(len(columns))
        try:
            if self.kind == "table":
                batches = self.table.select(columns).to_batches(max_chunksize=batch_size)
            elif self.kind == "parquet":
                # pre_buffer=True (pyarrow's default) holds the whole file in memory; one
                # decoding thread: the other core computes on the batches already decoded, and
                # pyarrow's pool would compete with it (measured: 20% slower passes)
                batches = _parquet_batches(self.path, columns, batch_size, self.row_groups,
                                           self.identity)
            else:
                yield from self._csv_batches(columns, batch_size)
                return
            if self.schema is None:
                yield from batches
            else:
                for batch in batches:
                    yield conform(batch, self.schema)
        except InputError:
            raise
        except (pa.ArrowException, OSError, ValueError) as exc:
            if self.kind != "table":  # a file replaced while it was read is not corrupt
                check_unchanged(self.path, self.identity)
            raise InputError(
                f"{self.path}: cannot read it as {self.kind}: {reason_of(exc)}") from exc

    def _csv_batches(self, columns: list[str], batch_size: int):
        import pyarrow.csv as pacsv

        options = pacsv.ConvertOptions(column_types=self.schema, include_columns=columns)
        block = pacsv.ReadOptions(block_size=max(1 << 20, batch_size * 64))
        try:
            check_unchanged(self.path, self.identity)
            with csv_input(self.path, self.kind) as source, pacsv.open_csv(
                source, read_options=block, convert_options=options
            ) as reader:
                yield from reader
            check_unchanged(self.path, self.identity)  # the open file may have been the next one
        except pa.ArrowInvalid as exc:
            # the types come from the file's first block: text further down a numeric column
            found = re.match(r"In CSV column #(\d+): CSV conversion error to \w+: ", str(exc))
            if found is None or int(found[1]) >= len(self.schema):
                raise
            raise InputError(late_text(self.path, self.kind, self.schema.names[int(found[1])])
                             ) from exc


def late_text(path: str, kind: str, column: str) -> str:
    """The error for a CSV ``column`` whose first block holds numbers (or nothing) and whose
    later rows hold text, which a stream read in the first block's types cannot convert: how many
    values are not a number, the first of them and its data row (from 1), as the in-memory
    engine names them. Reads that column once more, as text."""
    import pyarrow.csv as pacsv

    options = pacsv.ConvertOptions(column_types={column: pa.string()}, include_columns=[column],
                                   strings_can_be_null=True)
    with csv_input(path, kind) as source, pacsv.open_csv(source, convert_options=options) as r:
        count, _, first, row = stray_numbers(batch.column(0) for batch in r)
    if first is None:  # pragma: no cover - the reader refused a value the cast takes
        return f"{path}: column '{column}' holds a value that is not a number in a numeric column."
    many = count > 1
    return (
        f"{path}: column '{column}' mixes numbers and text: its first rows hold numbers, but"
        f" {count} value{'s' if many else ''} further on {'are' if many else 'is'} not a"
        f" number, first {reason_of(first)!r} in data row {row}; fix"
        f" {'them' if many else 'it'} or pass --exclude {column}."
    )


def is_number(text) -> bool:
    """Whether a text value reads as a number: what ``float`` takes ("1e3", " 2.5", "nan"), but
    not digits grouped by underscores ("1_000": a Python literal, which no data file means as a
    number). The one test of every "is this column numbers" message, so that both engines count
    the same values."""
    if not isinstance(text, str) or "_" in text:
        return False
    try:
        float(text)
    except ValueError:
        return False
    return True


def stray_numbers(arrays) -> tuple[int, int, object, int]:
    """Over the Arrow text ``arrays`` of one column (batches, in order): how many values are not
    numbers (:func:`is_number`), how many values there are, the first that is not and its data
    row (from 1; ``None, 0`` when all are numbers)."""
    bad, present, first, row, seen = 0, 0, None, 0, 0
    for values in arrays:
        present += len(values) - values.null_count
        for i, value in enumerate(values.to_pylist()):
            if value is not None and not is_number(value):
                bad += 1
                if first is None:
                    first, row = value, seen + i + 1
        seen += len(values)
    return bad, present, first, row


@dataclass(frozen=True)
class Scan:
    """An input opened for streaming: its schema and row count (from metadata where the format
    has them), and its partitions; nothing is read until :meth:`batches` is iterated."""

    path: str
    format: str
    schema: pa.Schema
    rows: int | None
    partitions: tuple[Partition, ...]
    file: Path | None = None
    digest: str | None = None

    def batches(self, columns: list[str], batch_size: int | None = None):
        for part in self.partitions:
            yield from part.batches(columns, batch_size)

    def split(self) -> tuple[Partition, ...]:
        """One partition per parquet row group (what the Dask engine maps over)."""
        parts = []
        for part in self.partitions:
            if part.kind == "parquet":
                groups = pq.ParquetFile(part.path).metadata.num_row_groups
                parts += [Partition(part.path, "parquet", (g,), schema=part.schema,
                                    identity=part.identity) for g in range(groups)]
            else:
                parts.append(part)
        return tuple(parts)

    def sha256(self) -> str:
        """The input's SHA-256 (as in :func:`read`); empty for an in-memory table. The files
        hashed must be the versions the passes read."""
        if self.digest is not None:
            return self.digest
        if self.file is None:
            return ""
        self.check_unchanged()
        digest = sha256(self.file)
        self.check_unchanged()
        return digest

    def check_unchanged(self) -> None:
        """Refuse an input whose files are no longer the versions first opened."""
        for part in self.partitions:
            if part.kind != "table":
                check_unchanged(part.path, part.identity)

    @property
    def size_bytes(self) -> int:
        if self.file is None:
            return int(sum(p.table.nbytes for p in self.partitions))
        files = parquet_parts(self.file) if self.file.is_dir() else [self.file]
        return int(sum(f.stat().st_size for f in files))


def check_data(data, name: str) -> None:
    """Refuse, as a ``TypeError``, an input that is none of the things shiftemp reads (a library
    caller's slip; the command line passes paths): named, rather than failing deep inside."""
    if not (isinstance(data, (str, os.PathLike, Source, pa.Table)) or is_frame(data)):
        raise TypeError(
            f"{name}: expected a path (str or os.PathLike), a pandas DataFrame or an Arrow Table;"
            f" got {type(data).__name__}."
        )


def text_names(frame, name: str):
    """``frame`` (pandas) with its column names as text, as an Arrow table would have them, so
    that both engines find a column named 3 as "3"; names that repeat (then) are refused. The
    caller's frame keeps its names."""
    names = [str(column) for column in frame.columns]
    check_unique_names(names, name)
    if all(isinstance(column, str) for column in frame.columns):
        return frame
    return frame.set_axis(names, axis=1)


def scan(data, name: str = "data") -> Scan:
    """Open a path (``.parquet``, ``.csv``, ``.csv.gz``, a folder of parquet parts) or wrap a
    pandas frame or Arrow table (named ``name``) for streaming."""
    check_data(data, name)
    if isinstance(data, Source):
        wrapped = scan(data.frame, data.path)
        return Scan(data.path, data.format, wrapped.schema, wrapped.rows, wrapped.partitions,
                    None, data.sha256)
    if isinstance(data, pa.Table) or is_frame(data):
        if isinstance(data, pa.Table):
            check_unique_names(data.schema.names, name)
            table = data
        else:
            table = pa.Table.from_pandas(text_names(data, name), preserve_index=False)
        schema = read_schema(table.schema)
        part = Partition(name, "table", table=table,
                         schema=None if schema.equals(table.schema) else schema)
        return Scan(name, "dataframe", schema, table.num_rows, (part,))
    path = Path(data)
    kind = checked_format(path)
    try:
        if kind in ("parquet", "parquet-directory"):
            files = parquet_parts(path) if kind == "parquet-directory" else [path]
            found = [file_identity(f) for f in files]  # before the footers are read
            metas, schemas = [], []
            for f in files:
                try:
                    metas.append(pq.ParquetFile(f))
                except (pa.ArrowException, OSError, ValueError) as exc:
                    raise InputError(f"{f}: cannot read it as parquet: {reason_of(exc)}") from exc
                # decodes the names too: not UTF-8 is refused
                check_unique_names(metas[-1].schema_arrow.names, f if len(files) > 1 else path)
                schemas.append(read_schema(metas[-1].schema_arrow))
            schema = common_schema(files, schemas)
            rows = sum(meta.metadata.num_rows for meta in metas)
            # each part read in the common schema where its own differs from it
            parts = tuple(
                Partition(str(f), "parquet", schema=None if own.equals(schema) else schema,
                          identity=identity)
                for f, own, identity in zip(files, (meta.schema_arrow for meta in metas), found)
            )
            for part in parts:
                check_unchanged(part.path, part.identity)
            return Scan(str(path), kind, schema, rows, parts, path)
        import pyarrow.csv as pacsv

        identity = file_identity(path)
        with csv_input(path, kind) as source, pacsv.open_csv(source) as reader:
            schema = reader.schema
        check_unique_names(schema.names, path)
        check_text(schema, path)
        return Scan(str(path), kind, schema, None, (Partition(
            str(path), kind, schema=csv_read_schema(schema), identity=identity),), path)
    except InputError:
        raise
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot read it as {kind}: {reason_of(exc)}") from exc


def csv_read_schema(schema: pa.Schema) -> pa.Schema:
    """The types a CSV with ``schema`` (inferred from its first block) is streamed in: integer
    columns, and columns without a value in that block, as float64, so that a decimal or a
    number further down still reads (the model takes numbers as floats anyway)."""
    return pa.schema([
        f.with_type(pa.float64()) if pa.types.is_integer(f.type) or pa.types.is_null(f.type)
        else f for f in schema
    ], metadata=schema.metadata)


def write_bytes(path: str | os.PathLike, members: dict[str, bytes]) -> None:
    """Write a zip archive of ``members`` (name: bytes) to ``path`` (:func:`write_output`)."""
    import zipfile

    def fill(out) -> None:
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name, data in members.items():
                archive.writestr(name, data)

    write_output(check_destination(path), fill)


def read_members(path: str | os.PathLike, limits: dict[str, int]) -> dict[str, bytes]:
    """The members of a zip archive named in ``limits`` (name: bytes), each at most its limit
    in bytes; members it does not name are neither read nor decompressed, and members it names
    may be absent. Errors become :class:`InputError`."""
    import zipfile
    import zlib

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file.")
    found = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                limit = limits.get(info.filename)
                if limit is None:
                    continue
                too_large = InputError(
                    f"{path}: not a valid shiftemp profile: {info.filename} holds more than the"
                    f" {limit:,} bytes its layout allows."
                )
                if info.file_size > limit:
                    raise too_large
                # the declared size may lie: inflate one byte past the limit, never more (a few
                # kilobytes of a zip bomb inflate to gigabytes)
                with archive.open(info) as member:
                    data = member.read(limit + 1)
                if len(data) > limit:
                    raise too_large
                found[info.filename] = data
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error, RuntimeError,
            NotImplementedError) as exc:
        # RuntimeError: an encrypted member; NotImplementedError: an unknown compression
        raise InputError(f"{path}: not a shiftemp profile (not a zip archive: {exc}).") from exc
    return found
