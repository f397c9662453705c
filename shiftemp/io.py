"""The only module that reads or writes files.

Inputs: ``.parquet``, ``.csv``, ``.csv.gz`` and directories of parquet parts; the two inputs of a
comparison may differ in format. Outputs are written atomically (a temporary file in the target's
folder, then a rename), so a failed or interrupted run never leaves a partial file.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from .errors import InputError

PARQUET_SUFFIXES = (".parquet", ".pq")
CSV_SUFFIXES = (".csv", ".csv.gz")


@dataclass(frozen=True)
class Source:
    """A dataset as read from disk: its frame and where it came from."""

    frame: pd.DataFrame
    path: str
    format: str
    sha256: str


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
    raise InputError(
        f"{path}: unknown file type; expected .parquet, .csv, .csv.gz or a directory of parquet"
        " parts."
    )


def parquet_parts(directory: Path) -> list[Path]:
    """The parquet files below ``directory``, sorted, skipping hidden and ``_`` marker files."""
    parts = sorted(
        p for p in directory.rglob("*")
        if p.is_file() and p.name.lower().endswith(PARQUET_SUFFIXES)
        and not p.name.startswith((".", "_"))
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
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    return digest.hexdigest()


def read_table(path: Path) -> pa.Table:
    """Read a supported input into an Arrow table, translating reader errors to InputError."""
    if not path.exists():
        raise InputError(f"{path}: no such file or directory.")
    kind = data_format(path)
    if not path.is_dir() and path.stat().st_size == 0:
        raise InputError(f"{path}: the file is empty; expected a header and data rows.")
    try:
        if kind == "parquet-directory":
            return pads.dataset(parquet_parts(path), format="parquet").to_table()
        if kind == "parquet":
            return pq.read_table(path)
        return pacsv.read_csv(path)
    except InputError:
        raise
    except (pa.ArrowException, OSError, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"{path}: cannot read it as {kind}: {reason}") from exc


def read(path: str | os.PathLike) -> Source:
    """Read one input into a pandas frame, with its format and SHA-256."""
    path = Path(path)
    table = read_table(path)
    frame = table.to_pandas()
    return Source(frame=frame, path=str(path), format=data_format(path), sha256=sha256(path))


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` atomically: a temporary file beside it, fsync, rename."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise InputError(f"{path}: the folder {folder} does not exist.")
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
