"""Configuration (shiftemp/config.py): defaults from shiftemp.toml, [tool.shiftemp] of
pyproject.toml or --config FILE; for every setting a flag beats the file, which beats the default;
shiftemp config says where each setting came from."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

import shiftemp
from conftest import regression_frame
from shiftemp import cli
from shiftemp.config import SETTINGS, load
from shiftemp.history import read as read_history

pytestmark = pytest.mark.usefixtures("one_blas_thread")


@pytest.fixture(scope="module")
def canned() -> shiftemp.Comparison:
    """A retrain report: what the stand-in for the library returns."""
    rng = np.random.default_rng(2)
    old = regression_frame(rng, 200)
    return shiftemp.compare(old, regression_frame(rng, 200, coef=(1.0, 1.0, 0.25)), target="y")


@pytest.fixture
def calls(monkeypatch, canned) -> list[dict]:
    """The keyword arguments of every library call the CLI makes (no comparison is run)."""
    made: list[dict] = []

    def compare(reference, shifted, **options):
        made.append(options)
        return canned

    monkeypatch.setattr(cli, "compare_datasets", compare)
    return made


@dataclass
class Case:
    """One setting: its value in the file, a flag that overrides it, and how to read the effect."""

    setting: str
    in_file: str
    flag: tuple[str, ...]
    effect: Callable[[dict, Any, Path], Any]
    default: Any
    from_file: Any
    from_flag: Any


def option(name: str) -> Callable:
    def read(call, result, folder):
        value = call[name]
        return getattr(value, "value", value)
    return read


def written(suffix: str) -> Callable:
    def read(call, result, folder):
        return sorted(p.name for p in folder.iterdir() if p.suffix == suffix)
    return read


def report_kind(call, result, folder) -> str:
    """What the report came out as: on stdout, or in the --output file when there is one."""
    outputs = [p for p in folder.iterdir() if p.suffix == ".json"]
    text = outputs[0].read_text() if outputs else result.stdout
    if text.startswith("### shiftemp"):
        return "markdown"
    if text.startswith("{"):
        return json.loads(text)["kind"]
    return "table" if "T = dE/dS, out of sample" in text else "nothing"


CASES = [
    Case("target", '"t1"', ("--target", "t2"), option("target"), None, "t1", "t2"),
    Case("features", '["a", "b"]', ("--features", "c"), option("features"), None, ["a", "b"], ["c"]),
    Case("exclude", '"a,b"', ("--exclude", "c"), option("exclude"), None, ["a", "b"], ["c"]),
    Case("model", '"logistic"', ("--model", "linear"), option("model"), None, "logistic", "linear"),
    Case("loss", '"mae"', ("--loss", "mse"), option("loss"), None, "mae", "mse"),
    Case("entropy", '"parameters"', ("--entropy", "data"), option("entropy"), "data", "parameters", "data"),
    Case("folds", "3", ("--folds", "4"), option("folds"), 5, 3, 4),
    Case("min_gain", "0.2", ("--min-gain", "0.3"), option("min_gain"), 0.01, 0.2, 0.3),
    Case("seed", "7", ("--seed", "8"), option("seed"), 0, 7, 8),
    Case("time_column", '"t"', ("--time-column", "u"), option("time_column"), None, "t", "u"),
    Case("calibrate", "true", ("--no-calibrate",), option("calibrate"), False, True, False),
    Case("calibration_splits", "3", ("--calibration-splits", "4"), option("calibration_splits"), 10, 3, 4),
    Case("init", '"uniform"', ("--init", "mixed"), option("init"), "normal", "uniform", "mixed"),
    Case("engine", '"memory"', ("--engine", "stream"), option("engine"), "auto", "memory", "stream"),
    Case("format", '"json"', ("--format", "markdown"), report_kind, "table", "comparison", "markdown"),
    Case("output", '"file.json"', ("--output", "flag.json"), written(".json"), [], ["file.json"], ["flag.json"]),
    Case("html", '"file.html"', ("--html", "flag.html"), written(".html"), [], ["file.html"], ["flag.html"]),
    Case("history", '"file.jsonl"', ("--history", "flag.jsonl"), written(".jsonl"), [], ["file.jsonl"], ["flag.jsonl"]),
    Case("fail_on_retrain", "true", ("--no-fail-on-retrain",), lambda c, r, f: r.code, 0, 1, 0),
]


def test_every_setting_has_a_precedence_case():
    assert [case.setting for case in CASES] == list(SETTINGS)


def write_settings(folder: Path, where: str, cases: list[Case]) -> list[str]:
    """Every case's file value in the file ``where`` names; the arguments that pick it."""
    lines = "".join(f"{case.setting} = {case.in_file}\n" for case in cases)
    if where == "pyproject.toml":
        (folder / "pyproject.toml").write_text(f"[project]\nname = 'x'\n\n[tool.shiftemp]\n{lines}")
    elif where == "shiftemp.toml":
        (folder / "shiftemp.toml").write_text(lines)
    else:
        (folder / "team.toml").write_text(lines)
        return ["--config=team.toml"]
    return []


@pytest.mark.parametrize("where", ["shiftemp.toml", "pyproject.toml", "--config"])
def test_a_flag_beats_the_file_which_beats_the_default(run, calls, tmp_path, monkeypatch, where):
    """For each setting at once: the default without a file, the file's value with one, and each
    flag's value over the file's."""
    monkeypatch.chdir(tmp_path)

    def effects(*args: str) -> dict[str, Any]:
        for stale in tmp_path.iterdir():
            if stale.suffix in (".json", ".html", ".jsonl"):
                stale.unlink()
        result = run("compare", "old.csv", "new.csv", *args)
        assert result.code in (0, 1), result.stderr
        return {case.setting: case.effect(calls[-1], result, tmp_path) for case in CASES}

    assert effects() == {case.setting: case.default for case in CASES}
    picked = write_settings(tmp_path, where, CASES)
    assert effects(*picked) == {case.setting: case.from_file for case in CASES}
    flags = [flag for case in CASES for flag in case.flag]
    assert effects(*picked, *flags) == {case.setting: case.from_flag for case in CASES}
    # each setting follows its own source: flags for every other one, the file for the rest
    some = CASES[::2]
    mixed = effects(*picked, *(flag for case in some for flag in case.flag))
    assert mixed == {case.setting: case.from_flag if case in some else case.from_file for case in CASES}


def test_shiftemp_toml_wins_over_pyproject_and_config_over_both(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pyproject.toml").write_text("[tool.shiftemp]\nfolds = 3\n")
    assert load().values == {"folds": 3} and load().source == "pyproject.toml [tool.shiftemp]"
    (tmp_path / "shiftemp.toml").write_text("folds = 4\n")
    assert load().values == {"folds": 4} and load().source == "shiftemp.toml"
    (tmp_path / "other.toml").write_text("[tool.shiftemp]\nfolds = 6\n")
    assert load("other.toml").values == {"folds": 6}
    assert load("other.toml").source == "--config other.toml [tool.shiftemp]"


def test_a_pyproject_without_a_shiftemp_table_is_no_configuration(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    assert load().values == {} and load().path is None


def test_paths_are_relative_to_the_file_that_sets_them(tmp_path, monkeypatch):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "shiftemp.toml").write_text(
        'history = "runs.jsonl"\nhtml = "/srv/report.html"\nmin-gain = 0.05\nfeatures = ["a", "b"]\n'
    )
    loaded = load(tmp_path / "etc" / "shiftemp.toml")
    assert loaded.values == {"history": str(tmp_path / "etc" / "runs.jsonl"),
                             "html": "/srv/report.html", "min_gain": 0.05, "features": "a,b"}
    monkeypatch.chdir(tmp_path / "etc")
    assert load().values["history"] == "runs.jsonl"


def test_a_history_setting_is_the_default_file_of_shiftemp_history(run, calls, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "shiftemp.toml").write_text('history = "runs.jsonl"\n')
    assert run("compare", "old.csv", "new.csv", "-q").code == 0
    assert len(read_history(tmp_path / "runs.jsonl").records) == 1
    shown = run("history")
    assert shown.code == 0 and "runs.jsonl, 1 run" in shown.stdout


def test_shiftemp_config_shows_every_setting_and_where_it_came_from(run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    bare = run("config")
    assert bare.code == 0
    assert "built-in defaults (no shiftemp.toml, no [tool.shiftemp] in pyproject.toml here)" in bare.stdout
    (tmp_path / "pyproject.toml").write_text('[tool.shiftemp]\ntarget = "minutes"\nmin-gain = 0.05\n')
    result = run("config", "--no-color")
    assert result.code == 0
    rows = {line.split()[0]: line.split()[1:] for line in result.stdout.splitlines()
            if line.split() and line.split()[0] in SETTINGS}
    assert list(rows) == list(SETTINGS)
    assert rows["target"] == ["minutes", "pyproject.toml", "[tool.shiftemp]"]
    assert rows["min_gain"] == ["0.05", "pyproject.toml", "[tool.shiftemp]"]
    assert rows["folds"] == ["5", "default"] and rows["format"] == ["table", "default"]
    assert rows["fail_on_retrain"] == ["false", "default"] and rows["features"] == ["-", "default"]


@pytest.mark.parametrize(
    "text, message",
    [
        ('modle = "linear"\n', "shiftemp.toml: unknown setting 'modle'. Settings: target, features,"),
        ('folds = "five"\n', "shiftemp.toml: folds = 'five' must be an integer, found str. Fix the value or remove it."),
        ("fail_on_retrain = 1\n", "shiftemp.toml: fail_on_retrain = 1 must be true or false, found int."),
        ("features = [1, 2]\n", "must be a list of column names or a comma-separated string"),
        ('model = "forest"\n', "shiftemp.toml: model = 'forest': 'forest' is not one of 'linear', 'logistic', 'mlp'. Fix the value or remove it."),
        ('min_gain = 0.1\nmin-gain = 0.2\n', "min_gain is set twice"),
        ("folds = \n", "shiftemp.toml: not valid TOML: "),
        # values of the right type out of their option's range: `config` showed them, and
        # compare's error named a flag the user never passed
        ("folds = 1\n", "shiftemp.toml: folds = 1 is out of range (--folds must be at least 2"),
        ("min_gain = 1.5\n", "shiftemp.toml: min_gain = 1.5 is out of range"),
        ("min_gain = nan\n", "shiftemp.toml: min_gain = nan is out of range"),
        ("seed = -1\n", "shiftemp.toml: seed = -1 is out of range"),
        ("calibration_splits = 0\n", "shiftemp.toml: calibration_splits = 0 is out of range"),
        # tomllib's UnicodeDecodeError was a traceback
        (b'target = "y"\n# caf\xe9\n', "shiftemp.toml: not a TOML file: its text is not UTF-8"),
    ],
)
def test_a_bad_file_is_one_error_line_naming_the_file(run, calls, tmp_path, monkeypatch, text, message):
    monkeypatch.chdir(tmp_path)
    if isinstance(text, bytes):
        (tmp_path / "shiftemp.toml").write_bytes(text)
    else:
        (tmp_path / "shiftemp.toml").write_text(text)
    for args in (("compare", "old.csv", "new.csv"), ("config",)):
        result = run(*args)
        assert result.code == 2 and result.stdout == "", args
        assert result.stderr.count("\n") == 1 and message in result.stderr, result.stderr
    assert calls == []


def test_an_explicit_config_must_exist_and_an_explicit_pyproject_needs_the_table(run, calls, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    missing = run("compare", "old.csv", "new.csv", "--config", "nope.toml")
    assert missing.code == 2 and "--config nope.toml: no such file" in missing.stderr
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    bare = run("config", "--config", "pyproject.toml")
    assert bare.code == 2 and "has no [tool.shiftemp] table" in bare.stderr
