"""Bounded fuzzing of the file readers (hypothesis over bytes).

Random bytes, and valid files with bytes flipped, cut or inserted, under each supported
extension, go through both readers: :func:`shiftemp.io.read` (the in-memory engine) and
:func:`shiftemp.io.scan` with its record batches (the streaming engines). Each input must either
read or raise :class:`~shiftemp.errors.InputError` with a one-line message naming the file:
never another exception.

Budget: ``SHIFTEMP_FUZZ_EXAMPLES`` examples per test (default 150, a few seconds each on two
cores; CI keeps the default, a local hunt can raise it to thousands).
"""

from __future__ import annotations

import gzip
import io as _io
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from shiftemp import io
from shiftemp.errors import InputError

EXAMPLES = int(os.environ.get("SHIFTEMP_FUZZ_EXAMPLES", "150"))
FUZZ = settings(
    max_examples=EXAMPLES, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
SUFFIXES = [".csv", ".csv.gz", ".parquet"]


def seeds() -> dict[str, bytes]:
    """A small valid file of each format: what the mutations start from."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({
        "a": rng.normal(size=30), "n": rng.integers(0, 5, size=30),
        "t": rng.choice(["x", "y", "z"], size=30), "y": rng.normal(size=30),
    })
    frame.loc[3, "a"] = np.nan
    text = frame.to_csv(index=False).encode()
    buffer = _io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return {".csv": text, ".csv.gz": gzip.compress(text, mtime=0), ".parquet": buffer.getvalue()}


SEEDS = seeds()


@st.composite
def mutated(draw, suffix: str) -> bytes:
    """A valid file with a few bytes flipped, a slice cut out, or junk inserted."""
    data = bytearray(SEEDS[suffix])
    for _ in range(draw(st.integers(1, 4))):
        action = draw(st.sampled_from(["flip", "cut", "insert", "truncate"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if action == "flip" and data:
            data[at] ^= draw(st.integers(1, 255))
        elif action == "cut":
            del data[at:at + draw(st.integers(1, 64))]
        elif action == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=32))
        else:
            del data[at:]
    return bytes(data)


def text_like() -> st.SearchStrategy[bytes]:
    """CSV-ish text: separators, quotes, numbers, words, non-ASCII, odd line ends."""
    pieces = st.sampled_from(
        ["a", "b", "y", ",", ",,", "\n", "\r\n", '"', '""', "1", "-2.5", "1e308", "1e999", "nan",
         "inf", "NA", "", " ", "größe", "\x00", "\t", "true", "0x1F", "é"]
    )
    return st.lists(pieces, max_size=80).map(lambda parts: "".join(parts).encode("utf-8"))


def check_reads_or_refuses(data: bytes, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"fuzz{suffix}"
        path.write_bytes(data)
        try:
            source = io.read(path)
        except InputError as exc:
            assert str(exc).startswith(str(path)) and "\n" not in str(exc), str(exc)
        else:
            assert isinstance(source.frame, pd.DataFrame)
        try:
            scan = io.scan(path)
            for _ in scan.batches(list(scan.schema.names)):
                pass
        except InputError as exc:
            assert str(exc).startswith(str(path)) and "\n" not in str(exc), str(exc)
        assert path.read_bytes() == data, "a reader changed its input"


@pytest.mark.parametrize("suffix", SUFFIXES)
@FUZZ
@given(data=st.data())
def test_mutated_files_read_or_refuse(suffix, data):
    check_reads_or_refuses(data.draw(mutated(suffix)), suffix)


@pytest.mark.parametrize("suffix", SUFFIXES)
@FUZZ
@given(data=st.one_of(st.binary(max_size=512), text_like()))
def test_arbitrary_bytes_read_or_refuse(suffix, data):
    if suffix == ".csv.gz" and data[:1] != b"\x1f":
        data = gzip.compress(data, mtime=0)  # mostly valid gzip around fuzzed text
    check_reads_or_refuses(data, suffix)


def test_the_seeds_read():
    for suffix, data in SEEDS.items():
        check_reads_or_refuses(data, suffix)


def test_every_parquet_footer_byte_flipped_reads_or_refuses():
    """Each byte of the parquet footer (the file's metadata) with its lowest bit flipped.

    Deterministic where the hypothesis tests are not: some of these flips make pyarrow 26 abort
    the whole process (an uncaught C++ exception) when a reader builds a column chunk's metadata,
    as the streaming reader did once to size a row group; reading the group itself raises."""
    seed = SEEDS[".parquet"]
    footer = int.from_bytes(seed[-8:-4], "little")
    for at in range(len(seed) - 8 - footer, len(seed) - 8):
        data = bytearray(seed)
        data[at] ^= 1
        check_reads_or_refuses(bytes(data), ".parquet")
