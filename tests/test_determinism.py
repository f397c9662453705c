"""Determinism: the same inputs and ``--seed`` give a byte-identical JSON report, apart from the
``run`` block (version, start time, duration, host), the only part allowed to differ.

Two runs in one process catch state left behind by a run, or a global random state (scipy's
barycentric interpolation drew one, and the Type I block changed in its last digits); a process
with another hash seed catches an order that depends on Python's string hashing (sets of column
names, dicts built from them).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import classification_frame, regression_frame

RUN_BLOCK = re.compile(r'\n  "run": \{\n(?:    .*\n)*?  \},?')


def without_run(text: str) -> str:
    """The JSON text with its ``run`` block cut out (and nothing else touched)."""
    stripped, count = RUN_BLOCK.subn("", text)
    assert count == 1, "the report has no run block, or more than one"
    return stripped


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    """Pairs with what makes ordering matter: categories (one unseen), missing values, notes."""
    folder = tmp_path_factory.mktemp("inputs")
    rng = np.random.default_rng(11)
    ref, new = regression_frame(rng, 400, region=True), regression_frame(rng, 300, region=True, shift=0.3)
    new.loc[:4, "region"] = "west"
    new.loc[7, "a"] = np.nan
    ref["flag"], new["flag"] = ref["a"] > 0, new["b"] > 0
    ref.to_csv(folder / "ref.csv", index=False)
    new.to_parquet(folder / "new.parquet", index=False)
    classification_frame(rng, 400, classes=3).to_csv(folder / "cref.csv", index=False)
    classification_frame(rng, 300, classes=3, flip=True).to_csv(folder / "cnew.csv", index=False)
    return folder


CASES = {
    "linear-mse": ("ref.csv", "new.parquet", "--target", "y"),
    "linear-mae-parameters": ("ref.csv", "new.parquet", "--target", "y", "--loss", "mae",
                              "--entropy", "parameters", "--seed", "7"),
    "logistic-3-classes": ("cref.csv", "cnew.csv", "--folds", "4"),
    "stream-engine": ("ref.csv", "new.parquet", "--target", "y", "--engine", "stream"),
}


@pytest.mark.parametrize("args", CASES.values(), ids=CASES.keys())
def test_two_runs_in_one_process_give_the_same_report(inputs, run, monkeypatch, args):
    monkeypatch.chdir(inputs)
    texts = []
    for out in ("first.json", "second.json"):
        result = run("compare", *args, "--format", "json", "-o", out)
        assert result.code == 0, result.stderr
        texts.append((inputs / out).read_text(encoding="utf-8"))
    assert without_run(texts[0]) == without_run(texts[1])
    assert json.loads(texts[0])["run"]["host"]  # the block that may differ is there, and apart


def test_another_process_with_another_hash_seed_gives_the_same_report(inputs, run, monkeypatch):
    """A subprocess with a fixed hash seed against this process (whose seed is random, or if
    PYTHONHASHSEED is set, another one)."""
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    env["PYTHONHASHSEED"] = "2" if os.environ.get("PYTHONHASHSEED") == "1" else "1"
    args = ("compare", "ref.csv", "new.parquet", "--target", "y", "--format", "json")
    completed = subprocess.run(
        [sys.executable, "-m", "shiftemp", *args], capture_output=True, text=True, cwd=inputs,
        env=env, timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    monkeypatch.chdir(inputs)
    here = run(*args)
    assert without_run(completed.stdout) == without_run(here.stdout)


def test_the_seed_matters(inputs, run, monkeypatch):
    """The fold assignment depends on --seed: otherwise the test above would prove little."""
    monkeypatch.chdir(inputs)
    reports = []
    for seed in ("0", "1"):
        result = run("compare", "ref.csv", "new.parquet", "--target", "y", "--seed", seed,
                     "--format", "json")
        reports.append(json.loads(result.stdout))
    a, b = (r["energy"]["after_out_of_sample"]["value"] for r in reports)
    assert a != b
