"""Shared fixtures for the issue-2 tests: the sample data, seeded frames, and CLI runners.

Every random frame comes from a seeded ``np.random.Generator`` built in the test, never from a
global seed, so each test is reproducible on its own.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from shiftemp import cli

SAMPLE_DATA = Path(__file__).resolve().parents[1] / "sample_data"


@pytest.fixture(scope="session")
def sample_data() -> Path:
    """The folder of the bundled sample pairs."""
    return SAMPLE_DATA


def regression_frame(
    rng: np.random.Generator, n: int, *, coef=(1.0, -0.5, 0.25), noise: float = 1.0,
    shift: float = 0.0, region: bool = False,
) -> pd.DataFrame:
    """``y = X coef + noise`` with standard normal features ``a, b, c...``; ``shift`` moves the
    features' means (a covariate shift under a well-specified model). ``region`` adds a text
    column with an additive effect."""
    coef = np.asarray(coef, dtype=float)
    X = rng.normal(size=(n, coef.size)) + shift
    y = X @ coef + noise * rng.normal(size=n)
    frame = pd.DataFrame({name: X[:, j] for j, name in enumerate("abcdefgh"[: coef.size])})
    if region:
        levels = np.array(["north", "south", "east"])
        codes = rng.choice(3, size=n, p=[0.5, 0.3, 0.2])
        frame["region"] = levels[codes]
        y = y + np.array([0.0, 1.0, -1.0])[codes]
    frame["y"] = y
    return frame


def classification_frame(
    rng: np.random.Generator, n: int, *, classes: int = 2, flip: bool = False
) -> pd.DataFrame:
    """A softmax model of two features; ``flip`` reverses the sign of the logits (a concept
    shift that leaves the features' distribution alone)."""
    X = rng.normal(size=(n, 2))
    W = np.array([[0.0, 2.0, -1.5, 1.0][:classes], [0.0, -1.0, 1.5, 2.0][:classes]])
    logits = X @ W * (-1.0 if flip else 1.0)
    logits -= logits.max(axis=1, keepdims=True)
    P = np.exp(logits)
    P /= P.sum(axis=1, keepdims=True)
    u = rng.random(n)[:, None]
    y = (u > np.cumsum(P, axis=1)).sum(axis=1)
    names = np.array(["cat", "dog", "eel", "fox"])[:classes]
    return pd.DataFrame({"u": X[:, 0], "v": X[:, 1], "label": names[y]})


@pytest.fixture(scope="module")
def one_blas_thread():
    """Small linear algebra in a loop runs ~10x slower on a busy 2-core machine when BLAS spins
    up threads for every call; the issue-2 test modules use one thread (``pytestmark``)."""
    with threadpool_limits(limits=1):
        yield


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261127)


def file_hash(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str


@pytest.fixture
def run(capsys):
    """Run the CLI in process: ``run("compare", a, b, "--format", "json")`` -> Result."""

    def invoke(*args) -> Result:
        capsys.readouterr()
        code = cli.main([str(a) for a in args])
        out, err = capsys.readouterr()
        return Result(code, out, err)

    return invoke


def run_module(*args, cwd: Path | None = None) -> Result:
    """Run ``python -m shiftemp`` in a subprocess (proves exit codes and the absence of a
    traceback at the process level)."""
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    completed = subprocess.run(
        [sys.executable, "-m", "shiftemp", *map(str, args)], capture_output=True, text=True,
        cwd=cwd, env=env, timeout=120,
    )
    return Result(completed.returncode, completed.stdout, completed.stderr)
