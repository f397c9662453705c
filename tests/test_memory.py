"""Memory: when the in-memory engine would not fit, shiftemp streams (``--engine auto``) or stops
with one line before it starts swapping (``--engine memory``); never a MemoryError traceback.

The limit is real: each run is a subprocess that imports shiftemp, then lowers its own
address-space limit (``RLIMIT_AS``) to what it maps plus a small allowance, as ``ulimit -v``
would, and only then runs the command.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shiftemp import resources

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/status").exists(), reason="reads the address-space size from /proc"
)

#: What the limited process may map beyond what it maps after its imports.
ALLOWANCE = 800 * 2**20

LIMITED = """
import resource, sys
from shiftemp import cli, resources
resource.setrlimit(resource.RLIMIT_AS, (resources._mapped() + {allowance}, resource.RLIM_INFINITY))
sys.exit(cli.main(sys.argv[1:]))
"""


def run_limited(*args, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    # address space, not memory, is what RLIMIT_AS counts: BLAS thread buffers and glibc's
    # per-thread malloc arenas (64 MB each) reserve much that is never used
    env["OPENBLAS_NUM_THREADS"] = "1"
    env["MALLOC_ARENA_MAX"] = "2"
    return subprocess.run(
        [sys.executable, "-c", LIMITED.format(allowance=ALLOWANCE), *map(str, args)],
        capture_output=True, text=True, cwd=cwd, env=env, timeout=300,
    )


@pytest.fixture(scope="module")
def long_pair(tmp_path_factory) -> Path:
    """Two parquet files of 1.5M rows x 12 columns: about 2.1 GB in the in-memory engine by
    its own estimate (about 1 GB measured), but small files."""
    folder = tmp_path_factory.mktemp("long")
    rows, chunk = 1_500_000, 250_000
    for name, seed in (("ref.parquet", 1), ("new.parquet", 2)):
        rng = np.random.default_rng(seed)
        columns = [f"x{j}" for j in range(11)]
        with pq.ParquetWriter(folder / name, pa.schema([(c, pa.float64()) for c in [*columns, "y"]])) as writer:
            for _ in range(rows // chunk):
                X = rng.integers(0, 8, size=(chunk, 11)).astype(float)
                y = X[:, :3].sum(axis=1) + rng.integers(0, 4, size=chunk)
                writer.write_table(pa.table({**{c: X[:, j] for j, c in enumerate(columns)}, "y": y}))
    return folder


def test_the_estimate_exceeds_the_allowance(long_pair):
    """The premise of the tests below, checked rather than assumed."""
    from shiftemp.typetwo import memory_need

    need, names = memory_need(long_pair / "ref.parquet", long_pair / "new.parquet")
    assert need > 2 * ALLOWANCE
    assert len(names) == 2


def test_available_memory_sees_the_address_space_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (resources._mapped() + 100 * 2**20, hard))
    try:
        available = resources.available_memory()
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    assert 90 * 2**20 < available <= 100 * 2**20


def test_the_memory_engine_stops_before_reading(long_pair):
    result = run_limited(
        "compare", "ref.parquet", "new.parquet", "--target", "y", "--engine", "memory",
        "-o", "report.json", cwd=long_pair,
    )
    assert result.returncode == 2, result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith(
        "shiftemp: error: ref.parquet and new.parquet in memory would need about 2.1 GB, and "
    )
    assert line.endswith(
        " is available; use --engine stream (bounded memory) or auto, or compare fewer rows."
    )
    assert not (long_pair / "report.json").exists()


def test_auto_streams_what_memory_cannot_hold(long_pair, tmp_path):
    result = run_limited(
        "compare", long_pair / "ref.parquet", long_pair / "new.parquet", "--target", "y",
        "--format", "json", "-o", tmp_path / "report.json", cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["reference"]["rows_used"] == 1_500_000


def test_too_many_parameters_for_memory_stop_before_fitting(tmp_path):
    """20 classes of 300 features: 5,719 parameters whose square matrices alone would not fit
    (small files, few rows): one line, before the fit."""
    rng = np.random.default_rng(7)
    for name in ("ref.parquet", "new.parquet"):
        frame = pd.DataFrame(rng.normal(size=(400, 300)), columns=[f"x{j}" for j in range(300)])
        frame["label"] = [f"c{k}" for k in rng.integers(0, 20, 400)]
        frame.to_parquet(tmp_path / name, index=False)
    result = run_limited(
        "compare", "ref.parquet", "new.parquet", "--target", "label", "--engine", "memory",
        cwd=tmp_path,
    )
    assert result.returncode == 2, result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith("shiftemp: error: fitting 5,719 parameters would need about 1.5 GB,")
    assert line.endswith(" is available; narrow --features or --exclude.")
