"""A streaming linear/MSE comparison of parquet files imports only what it uses.

Imports were most of the wall time of a small streaming run (pandas ~0.9 s, scipy.linalg and
scipy.special ~0.7 s, pyarrow.dataset ~0.8 s, against ~0.4 s for numpy and pyarrow.parquet). The
command path reads schemas with Arrow (``dataset.schema_kinds``), batches through their buffers
(``io.buffer_values``) and solves with numpy (``shiftemp.numerics``); these tests hold it there
and check that each replacement answers as the pandas route it replaced.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shiftemp import io
from shiftemp.dataset import is_categorical, schema_kinds

ROOT = Path(__file__).resolve().parents[1]

#: Modules the streaming linear/MSE path must not load (nor any of their submodules).
HEAVY = ("pandas", "scipy", "sklearn", "matplotlib", "pyarrow.dataset")


def _clean_run(script: str, cwd: Path) -> dict:
    """Run ``script`` in a fresh interpreter that imports the package of this checkout; it
    prints one JSON line, returned."""
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=cwd, env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


LOADED = f"""
heavy = {HEAVY!r}
loaded = sorted(m for m in sys.modules if any(m == h or m.startswith(h + ".") for h in heavy))
"""


def _linear_pair(folder: Path, rows: int = 2_000) -> tuple[Path, Path]:
    rng = np.random.default_rng(7)
    paths = []
    for name, shift in (("ref", 0.0), ("new", 0.5)):
        X = rng.normal(size=(rows, 3)) + shift
        y = X @ np.array([1.0, -0.5, 0.25]) + rng.normal(size=rows) + shift * X[:, 0]
        table = pa.table({"a": X[:, 0], "b": X[:, 1], "c": X[:, 2], "y": y})
        path = folder / f"{name}.parquet"
        pq.write_table(table, path)
        paths.append(path)
    return paths[0], paths[1]


def test_stream_compare_loads_no_heavy_module(tmp_path):
    ref, new = _linear_pair(tmp_path)
    script = f"""
import json, sys
import shiftemp.cli
try:
    code = shiftemp.cli.main(["compare", {str(ref)!r}, {str(new)!r}, "--target", "y",
                              "--engine", "stream", "--quiet"])
except SystemExit as exc:
    code = exc.code
{LOADED}
print(json.dumps({{"code": code, "loaded": loaded}}))
"""
    result = _clean_run(script, tmp_path)
    assert result["code"] == 0
    assert result["loaded"] == []


def test_a_json_report_to_a_file_does_not_load_rich(tmp_path):
    """rich draws tables; a pipeline's JSON report does not pay for its import (40 ms)."""
    ref, new = _linear_pair(tmp_path)
    out = tmp_path / "report.json"
    script = f"""
import json, sys
import shiftemp.cli
code = shiftemp.cli.main(["compare", {str(ref)!r}, {str(new)!r}, "--target", "y", "--quiet",
                          "--format", "json", "--output", {str(out)!r}])
print(json.dumps({{"code": code, "rich": sorted(m for m in sys.modules if m.split(".")[0] == "rich")}}))
"""
    result = _clean_run(script, tmp_path)
    assert result["code"] in (0, 1)  # keep or retrain: a report was written
    assert result["rich"] == []
    assert json.loads(out.read_text())["recommendation"]


def test_importing_the_package_loads_no_heavy_module(tmp_path):
    script = f"""
import json, sys
import shiftemp, shiftemp.cli, shiftemp.stream
{LOADED}
print(json.dumps({{"loaded": loaded}}))
"""
    assert _clean_run(script, tmp_path)["loaded"] == []


# -- schema_kinds: the columns and kinds the pandas route reads from a schema ---------------------

ARROW_TYPES = {
    "int8": pa.int8(), "int32": pa.int32(), "int64": pa.int64(), "uint8": pa.uint8(),
    "uint64": pa.uint64(), "float16": pa.float16(), "float32": pa.float32(),
    "float64": pa.float64(), "bool": pa.bool_(), "string": pa.string(),
    "large_string": pa.large_string(), "string_view": pa.string_view(), "binary": pa.binary(),
    "large_binary": pa.large_binary(), "fixed_binary": pa.binary(4),
    "dict_string": pa.dictionary(pa.int32(), pa.string()),
    "dict_int": pa.dictionary(pa.int8(), pa.int64()),
    "dict_float": pa.dictionary(pa.int16(), pa.float64()),
    "date32": pa.date32(), "date64": pa.date64(), "timestamp": pa.timestamp("us"),
    "timestamp_tz": pa.timestamp("ns", tz="UTC"), "time64": pa.time64("us"),
    "duration": pa.duration("ms"), "interval": pa.month_day_nano_interval(),
    "decimal128": pa.decimal128(10, 2), "decimal256": pa.decimal256(40, 3), "null": pa.null(),
    "list": pa.list_(pa.float64()), "struct": pa.struct([("x", pa.int64())]),
    "map": pa.map_(pa.string(), pa.int64()),
    "run_end_float": pa.run_end_encoded(pa.int32(), pa.float64()),
    "uuid": pa.uuid(), "json": pa.json_(), "bool8": pa.bool8(),
    "opaque_int": pa.opaque(pa.int64(), "t", "v"),
}


def _pandas_route(schema: pa.Schema) -> dict:
    """What stream.py decided with before: the kinds of the schema's empty frame."""
    frame = schema.empty_table().to_pandas()
    return {column: is_categorical(frame[column]) for column in frame.columns}


@pytest.mark.parametrize("name", sorted(ARROW_TYPES))
def test_schema_kinds_agree_with_pandas(name):
    schema = pa.schema([pa.field("y", pa.float64()), pa.field(name, ARROW_TYPES[name])])
    assert schema_kinds(schema) == _pandas_route(schema)


def test_schema_kinds_of_pandas_files(tmp_path):
    """Frames written by pandas: their dtypes, and index columns that are not columns."""
    frame = pd.DataFrame({
        "f": [1.0, 2.0, 3.0], "i": [1, 2, 3], "I64": pd.array([1, None, 3], dtype="Int64"),
        "F64": pd.array([1.0, None, 3.0], dtype="Float64"),
        "B": pd.array([True, None, False], dtype="boolean"), "s": ["a", "b", "c"],
        "S": pd.array(["a", None, "c"], dtype="string"), "cat": pd.Categorical([1, 2, 1]),
        "when": pd.date_range("2024-01-01", periods=3, tz="UTC"),
        "span": pd.to_timedelta([1, 2, 3], unit="D"),
        "period": pd.period_range("2024-01", periods=3, freq="M"),
        "money": [Decimal("1.5"), Decimal("2.5"), None],
    })
    variants = {
        "plain": frame,
        "named_index": frame.set_index("s"),
        "unnamed_index": frame.set_index(pd.Index(["p", "q", "r"])),
        "multi_index": frame.set_index(["s", "i"]),
        "sliced": frame.iloc[1:],
    }
    for label, data in variants.items():
        path = tmp_path / f"{label}.parquet"
        data.to_parquet(path)
        schema = pq.read_schema(path)
        assert schema_kinds(schema) == _pandas_route(schema), label


def test_schema_kinds_without_pandas_loaded(tmp_path):
    """pandas' own extension types (a period column) are not registered with Arrow until pandas
    is imported; read without it they still count as categorical, as pandas reads them."""
    path = tmp_path / "period.parquet"
    pd.DataFrame({"x": [1.0, 2.0], "p": pd.period_range("2024-01", periods=2, freq="M")}).to_parquet(path)
    script = f"""
import json, sys
import pyarrow.parquet as pq
from shiftemp.dataset import schema_kinds
kinds = schema_kinds(pq.read_schema({str(path)!r}))
print(json.dumps({{"kinds": kinds, "pandas": "pandas" in sys.modules}}))
"""
    result = _clean_run(script, tmp_path)
    assert result == {"kinds": {"x": False, "p": True}, "pandas": False}


# -- io.buffer_values / float_values: to_numpy's answer without pandas ---------------------------

ARRAYS = [
    pa.array(np.arange(10.0)),
    pa.array([1.5, None, 3.0, None] * 5),
    pa.array(list(range(20)), pa.int8()),
    pa.array([1, None, 3] * 7, pa.uint32()),
    pa.array([1.0, None] * 9, pa.float32()),
    pa.array(np.arange(40, dtype=np.int64)).slice(3, 17),
    pa.array([None, 2.0, None, 4.0] * 10).slice(5, 20),
    pa.array([1, None] * 10, pa.int16()).slice(1, 13),
    pa.array([], pa.float64()),
    pa.array([None, None], pa.float64()),
    pa.array(np.array([1, 2, 3], np.float16)),
    pa.array([2**62 + 1, None], pa.int64()),
    pa.array([2**64 - 1, 5], pa.uint64()),
    pa.array(["a", None, "b", "a"] * 3).dictionary_encode().indices.slice(2, 7),
    pa.ExtensionArray.from_storage(pa.opaque(pa.int64(), "t", "v"), pa.array([1, None, 3])),
]


@pytest.mark.parametrize("array", ARRAYS, ids=range(len(ARRAYS)))
def test_float_values_as_to_numpy(array):
    expected = np.asarray(array.to_numpy(zero_copy_only=False), dtype=np.float64)
    got = io.float_values(array)
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, expected)


def test_float_values_views_float64_without_nulls():
    array = pa.array(np.arange(5.0))
    values = io.float_values(array)
    assert np.shares_memory(values, np.frombuffer(array.buffers()[1], dtype=np.float64))
    assert not values.flags.writeable
