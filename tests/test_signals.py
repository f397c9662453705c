"""Interrupts and pipes, at the process level: Ctrl-C exits 130 with one line and no partial
output; a reader that goes away (``| head -1``) ends the run quietly.

Each run is a real ``python -m shiftemp`` process. The interrupt is sent once the process has
opened the reference file (so it lands in the run, not in Python's start-up), on data big enough
that the run still has seconds to go.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import file_hash

ROWS = 400_000


@pytest.fixture(scope="module")
def big_pair(tmp_path_factory) -> tuple[Path, Path]:
    """Two parquet files of 400,000 rows x 10 features: a few seconds of work."""
    folder = tmp_path_factory.mktemp("big")
    paths = []
    for name, seed in (("ref.parquet", 1), ("new.parquet", 2)):
        rng = np.random.default_rng(seed)
        X = rng.normal(size=(ROWS, 10))
        frame = pd.DataFrame(X, columns=[f"x{j}" for j in range(10)])
        frame["y"] = X[:, :3].sum(axis=1) + rng.normal(size=ROWS)
        frame.to_parquet(folder / name, index=False)
        paths.append(folder / name)
    return paths[0], paths[1]


def environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "NO_COLOR"}


def wait_until_open(process: subprocess.Popen, path: Path, timeout: float = 60.0) -> None:
    """Wait until ``process`` holds ``path`` open (it is past start-up and reading)."""
    deadline = time.monotonic() + timeout
    target = str(path.resolve())
    while time.monotonic() < deadline:
        assert process.poll() is None, "the run ended before it opened its input"
        try:
            folder = f"/proc/{process.pid}/fd"
            if any(os.readlink(f"{folder}/{fd}") == target for fd in os.listdir(folder)):
                return
        except OSError:  # a descriptor closed while we looked
            pass
        time.sleep(0.01)
    raise AssertionError(f"the run did not open {path} within {timeout} s")


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
@pytest.mark.parametrize("engine", ["memory", "stream"])
@pytest.mark.parametrize("sent, code, line", [
    (signal.SIGINT, 130, "shiftemp: interrupted"),
    # a CI job's `timeout` or a `kill`: Python's default was to die on the spot, leaving a
    # temporary file or a Dask cluster behind, with no word
    (signal.SIGTERM, 143, "shiftemp: terminated"),
])
def test_an_interrupt_or_a_termination_leaves_no_partial_output(big_pair, tmp_path, engine, sent,
                                                                  code, line):
    ref, new = big_pair
    hashes = (file_hash(ref), file_hash(new))
    output = tmp_path / "report.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "shiftemp", "compare", str(ref), str(new), "--target", "y",
         "--engine", engine, "--format", "json", "-o", str(output)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment(),
    )
    try:
        wait_until_open(process, ref)
        time.sleep(0.2)
        process.send_signal(sent)
        stdout, stderr = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == code, stderr
    assert stderr.splitlines()[-1] == line
    assert "Traceback" not in stderr
    assert stdout == ""
    assert list(tmp_path.iterdir()) == [], "a partial or temporary report was left behind"
    assert (file_hash(ref), file_hash(new)) == hashes


def test_a_closed_pipe_ends_the_run_quietly(tmp_path):
    """``shiftemp compare ... | head -1`` when head has gone: the reader closes its end before
    shiftemp writes a byte, so the first write fails (with a real ``head -1`` the report may fit
    in the pipe's buffer and the failure never happen). Exit 0, nothing on stderr: typer's own
    handling would exit 1, which a CI gate reads as "retrain"."""
    rng = np.random.default_rng(3)
    for name in ("ref.csv", "new.csv"):
        pd.DataFrame({"a": rng.normal(size=100), "y": rng.normal(size=100)}).to_csv(
            tmp_path / name, index=False
        )
    process = subprocess.Popen(
        [sys.executable, "-m", "shiftemp", "compare", "ref.csv", "new.csv", "--target", "y"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
        env=environment(),
    )
    process.stdout.close()
    stderr = process.stderr.read()
    assert process.wait(timeout=120) == 0, stderr
    assert stderr == ""


DROPPING_RUN = """
import os, signal, sys, weakref
from shiftemp import cli

real = cli.compare_datasets

def compare_past_a_dropped_interrupt(*args, **kwargs):
    # Ctrl-C lands while a weakref callback runs, where Python drops the KeyboardInterrupt (an
    # import's module-lock callback is one such place: it happened in CI)
    class Token:
        pass
    token = Token()
    def callback(ref):
        os.kill(os.getpid(), signal.SIGINT)
        sum(range(1000))  # the handler runs here, inside the callback
    ref = weakref.ref(token, callback)
    del token
    return real(*args, **kwargs)

cli.compare_datasets = compare_past_a_dropped_interrupt
if os.environ.get("DEFAULT_HANDLER"):
    cli.interrupt.install = lambda: None
sys.argv = ["shiftemp", *sys.argv[1:]]
cli.main()
"""


@pytest.mark.parametrize("engine", ["memory", "stream"])
@pytest.mark.parametrize("handler", ["shiftemp", "python's default"])
def test_a_ctrl_c_python_drops_still_ends_the_run_with_130(tmp_path, handler, engine):
    """With Python's default handler the run would go on, write its report and exit 0 (the check
    that this test can fail); with shiftemp's it exits 130, silently, and writes nothing (the
    streaming engine stops at its next batch; the in-memory one before it writes)."""
    rng = np.random.default_rng(4)
    for name in ("ref.csv", "new.csv"):
        pd.DataFrame({"a": rng.normal(size=200), "y": rng.normal(size=200)}).to_csv(
            tmp_path / name, index=False
        )
    env = environment()
    if handler != "shiftemp":
        env["DEFAULT_HANDLER"] = "1"
    process = subprocess.run(
        [sys.executable, "-c", DROPPING_RUN, "compare", "ref.csv", "new.csv", "--target", "y",
         "--engine", engine, "--format", "json", "-o", "report.json"],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120,
    )
    if handler == "shiftemp":
        assert process.returncode == 130, process.stderr
        assert process.stderr == "shiftemp: interrupted\n"
        assert not (tmp_path / "report.json").exists()
    else:
        assert process.returncode == 0, process.stderr
        assert "Exception ignored" in process.stderr
        assert (tmp_path / "report.json").exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "report.json") == [
        "new.csv", "ref.csv"
    ], "a temporary report was left behind"


def test_an_atomic_write_after_a_ctrl_c_leaves_nothing(tmp_path, monkeypatch):
    from shiftemp import interrupt, io

    monkeypatch.setattr(interrupt, "_seen", type(interrupt._seen)())
    io.write_text(tmp_path / "before.json", "{}")
    interrupt._seen.set()
    with pytest.raises(KeyboardInterrupt):
        io.write_text(tmp_path / "after.json", "{}")
    with pytest.raises(KeyboardInterrupt):
        io.write_bytes(tmp_path / "after.shiftemp", {"a": b"1"})
    assert [p.name for p in tmp_path.iterdir()] == ["before.json"]
