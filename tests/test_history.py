"""The run history (shiftemp/history.py, compare --history, shiftemp history): one record per run,
no record lost when processes append at once, a corrupt line skipped with a warning."""

from __future__ import annotations

import json
import multiprocessing
import sqlite3
from pathlib import Path

import numpy as np
import pytest

import shiftemp
from conftest import regression_frame
from shiftemp import history
from shiftemp.history import COLUMNS, KIND, append, read, record, series, sparkline

pytestmark = pytest.mark.usefixtures("one_blas_thread")

STORES = ["runs.jsonl", "runs.sqlite", "runs.db"]


@pytest.fixture(scope="module")
def pair(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("history")
    rng = np.random.default_rng(11)
    old, new = folder / "old.csv", folder / "new.csv"
    regression_frame(rng, 300).to_csv(old, index=False)
    regression_frame(rng, 300, coef=(1.0, 1.0, 0.25)).to_csv(new, index=False)
    return old, new


@pytest.fixture(scope="module")
def report(pair) -> shiftemp.Comparison:
    return shiftemp.compare(*pair, target="y")


def test_a_record_holds_the_time_inputs_options_figures_and_recommendation(report, pair):
    item = record(report)
    assert item["kind"] == KIND and item["command"] == "compare"
    assert item["time"] == report.run.started
    assert item["reference"] == {"path": str(pair[0]), "sha256": report.reference.sha256,
                                 "rows": 300, "rows_used": 300}
    assert item["options"]["target"] == "y" and item["options"]["folds"] == 5
    f = item["figures"]
    assert f["E_A"] == report.energy.before.value
    assert f["dE"] == report.energy.delta_out_of_sample.value
    assert f["energy_released"] == pytest.approx(-f["dE"])
    assert f["dS"] == report.entropy.delta.value
    assert f["temperature"]["status"] == report.temperature.status
    assert item["recommendation"] == {"verdict": "retrain", "retrain": True, "shift_class": "hot",
                                      "reason": report.recommendation.reason}
    json.dumps(item, allow_nan=False)  # JSON-safe


@pytest.mark.parametrize("name", STORES)
def test_append_then_read_round_trips_in_order(report, tmp_path, name):
    path = tmp_path / name
    items = [dict(record(report), time=f"2026-01-0{i}T00:00:00+00:00") for i in range(1, 4)]
    for item in items:
        append(path, item)
    found = read(path)
    assert found.records == tuple(items) and found.skipped == ()


def test_the_sqlite_table_is_the_documented_one(report, tmp_path):
    path = tmp_path / "runs.db"
    append(path, record(report))
    with sqlite3.connect(path) as connection:
        columns = [row[1] for row in connection.execute("PRAGMA table_info(runs)")]
        row = connection.execute("SELECT verdict, retrain, e_a, de, temperature_status, record FROM runs").fetchone()
    assert columns == ["id", *COLUMNS]
    for column in columns:  # every column is described in the module docstring
        assert f"{column} " in history.__doc__, column
    assert row[:2] == ("retrain", 1)
    assert row[2] == report.energy.before.value and row[3] == report.energy.delta_out_of_sample.value
    assert row[4] == report.temperature.status and json.loads(row[5]) == record(report)


def _append_many(path: str, item: dict, writer: int, count: int, barrier) -> None:
    barrier.wait()  # every writer starts at once
    for i in range(count):
        append(path, dict(item, time=f"writer {writer} run {i}"))


@pytest.mark.parametrize("name", ["runs.jsonl", "runs.sqlite"])
def test_concurrent_appends_from_several_processes_lose_no_record(report, tmp_path, name):
    writers, count = 4, 25
    path = str(tmp_path / name)
    item = record(report)
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(writers)
    processes = [context.Process(target=_append_many, args=(path, item, w, count, barrier))
                 for w in range(writers)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
        assert process.exitcode == 0
    found = read(path)
    assert found.skipped == ()
    times = sorted(r["time"] for r in found.records)
    assert times == sorted(f"writer {w} run {i}" for w in range(writers) for i in range(count))
    # each writer's records keep their order
    for w in range(writers):
        mine = [r["time"] for r in found.records if r["time"].startswith(f"writer {w} ")]
        assert mine == [f"writer {w} run {i}" for i in range(count)]


def test_a_corrupt_line_is_skipped_with_a_warning(run, report, tmp_path):
    path = tmp_path / "runs.jsonl"
    append(path, dict(record(report), time="2026-01-01T00:00:00+00:00"))
    with open(path, "a", encoding="utf-8") as handle:
        handle.write('{"kind": "history-record", "time": "2026-01-02T00:0\n')  # cut short
        handle.write("[1, 2]\n")
        handle.write('{"kind": "something else"}\n')
    with open(path, "ab") as handle:
        handle.write(b"\xff\xfe not text\n")
    append(path, dict(record(report), time="2026-01-03T00:00:00+00:00"))
    found = read(path)
    assert [r["time"][:10] for r in found.records] == ["2026-01-01", "2026-01-03"]
    assert [s.where for s in found.skipped] == ["line 2", "line 3", "line 4", "line 5"]
    result = run("history", path)
    assert result.code == 0
    warnings = result.stderr.splitlines()
    assert len(warnings) == 4
    assert warnings[0].startswith(f"shiftemp: warning: {path} line 2: not JSON (")
    assert warnings[0].endswith("; skipped")
    assert "a JSON list, not an object" in warnings[1]
    assert "kind 'something else', not 'history-record'" in warnings[2]
    assert "not UTF-8 text" in warnings[3]
    assert "2 runs" in result.stdout and result.stdout.count("RETRAIN") == 2


def test_an_append_after_a_cut_short_line_starts_a_new_line(report, tmp_path):
    path = tmp_path / "runs.jsonl"
    path.write_text('{"kind": "history-record", "ti')  # a crash mid-write, no newline
    append(path, record(report))
    found = read(path)
    assert len(found.records) == 1 and [s.where for s in found.skipped] == ["line 1"]


def test_a_corrupt_sqlite_record_is_skipped(report, tmp_path):
    path = tmp_path / "runs.sqlite"
    append(path, record(report))
    append(path, record(report))
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE runs SET record = '{oops' WHERE id = 1")
    found = read(path)
    assert len(found.records) == 1 and [s.where for s in found.skipped] == ["row id 1"]


def test_sparklines():
    assert sparkline([1, 2, 3, None, 8]) == "▁▂▃·█"
    assert sparkline([5.0, 5.0]) == "▅▅"
    assert sparkline([None, 1.0, None], ["↑", None, "↓"]) == "↑▅↓"
    assert sparkline([]) == ""
    assert history.temperature_mark({"status": "infinite", "sign": -1}) == "↓"
    assert history.temperature_mark({"status": "finite", "value": 1.0}) is None


def test_compare_history_then_shiftemp_history_shows_the_trend(run, pair, tmp_path):
    path = tmp_path / "runs.jsonl"
    for args in ((), ("--min-gain", "0.99"), ()):
        result = run("compare", *pair, "--target", "y", "--history", path, "-q", *args)
        assert result.code == 0 and result.stdout.count("\n") == 1
    records = read(path).records
    assert [r["recommendation"]["verdict"] for r in records] == ["retrain", "keep", "retrain"]
    assert records[1]["options"]["min_gain"] == 0.99
    shown = run("history", path, "--no-color")
    assert shown.code == 0 and shown.stderr == ""
    lines = shown.stdout.splitlines()
    assert any(line.split()[:1] == ["verdict"] and "R.R" in line for line in lines)
    spark = next(line for line in lines if line.split()[:2] == ["energy", "released"])
    assert len([c for c in spark if c in history.SPARKS]) == 3
    assert "temperature" in shown.stdout and "old.csv -> new.csv" in shown.stdout
    markdown = run("history", path, "--format", "markdown", "--last", "2")
    assert markdown.stdout.startswith(f"### shiftemp history: `{path}`, 3 runs")
    assert markdown.stdout.count("| RETRAIN |") + markdown.stdout.count("| KEEP |") == 2
    as_json = run("history", path, "--format", "json")
    assert [r["time"] for r in json.loads(as_json.stdout)] == [r["time"] for r in records]
    page = tmp_path / "trend.html"
    drawn = run("history", path, "--html", page)
    assert drawn.code == 0
    text = page.read_text()
    assert 'data-chart="trend-temperature"' in text and 'data-chart="trend-energy"' in text


@pytest.mark.parametrize(
    "args, message",
    [
        (("compare", "A", "B", "--history", "runs.txt"), "--history runs.txt: unknown history type; expected a name ending in .jsonl"),
        (("compare", "A", "B", "--history", "nowhere/runs.jsonl"), "--history nowhere/runs.jsonl: the folder nowhere does not exist."),
        (("history", "missing.jsonl"), "missing.jsonl: no such history file; shiftemp compare ... --history missing.jsonl creates it."),
        (("history",), "history needs FILE (the file of compare --history)"),
    ],
)
def test_history_errors_are_one_line_before_any_work(run, pair, tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    args = [str(pair[0]) if a == "A" else str(pair[1]) if a == "B" else a for a in args]
    result = run(*args)
    assert result.code == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and message in result.stderr, result.stderr


@pytest.mark.parametrize("content, message", [
    ("not a database", "--history runs.db: cannot add the run to the SQLite database: file is not a"
                       " database."),
    ("foreign table", "--history runs.db: its table 'runs' is not a shiftemp history (no column"
                      " time, command, reference_path, ...); pass another file."),
])
def test_a_history_database_that_cannot_take_the_run_stops_it_before_any_output(
        run, pair, tmp_path, monkeypatch, content, message):
    """Found before the run: after it, the report would already be written and the run would
    still exit 2."""
    monkeypatch.chdir(tmp_path)
    if content == "not a database":
        Path("runs.db").write_bytes(b"not a database at all" * 10)
    else:
        connection = sqlite3.connect("runs.db")
        connection.execute("CREATE TABLE runs (a INTEGER)")
        connection.commit()
        connection.close()
    before = Path("runs.db").read_bytes()
    result = run("compare", *pair, "--target", "y", "--history", "runs.db", "-o", "report.json")
    assert result.code == 2 and result.stdout == ""
    assert result.stderr == f"shiftemp: error: {message}\n"
    assert not Path("report.json").exists()
    assert Path("runs.db").read_bytes() == before


def test_a_file_that_is_not_a_history_database_is_an_input_error(tmp_path):
    path = tmp_path / "runs.db"
    path.write_bytes(b"not a database at all" * 10)
    with pytest.raises(shiftemp.ShiftempError, match="cannot read it as a shiftemp SQLite history"):
        read(path)


def test_series_reads_the_trend(report):
    items = [record(report), record(report)]
    trend = series(items)
    assert trend["retrain"] == [True, True]
    assert trend["energy_released"] == [items[0]["figures"]["energy_released"]] * 2
    assert len(trend["temperature"]) == len(trend["temperature_marks"]) == 2


def _edited(item: dict, path: str, value) -> dict:
    """A deep copy of ``item`` with the field at dotted ``path`` set to ``value`` (a hand edit)."""
    item = json.loads(json.dumps(item))
    *parents, last = path.split(".")
    node = item
    for key in parents:
        node = node[key]
    node[last] = value
    return item


@pytest.mark.parametrize("path, value, reason", [
    ("figures", {}, "no figures.temperature (an object)"),
    ("figures.temperature", "hot", "no figures.temperature (an object)"),
    ("figures.energy_released", "a", 'figures.energy_released is "a", not a number or null'),
    ("figures.relative_gain", True, "figures.relative_gain is true, not a number or null"),
    ("figures.temperature.sign", "a", 'figures.temperature.sign is "a", not -1, 0 or 1'),
    ("figures.temperature.status", "warm", 'figures.temperature.status is "warm", not finite'),
    ("recommendation", {}, "recommendation.verdict is null, not retrain or keep"),
    ("recommendation.retrain", 1, "recommendation.retrain is 1, not true or false"),
    ("reference", "x.csv", "no reference.path (a string)"),
    ("time", 5, "time is 5, not a string"),
])
def test_a_record_whose_fields_have_the_wrong_types_is_skipped_not_a_crash(
        run, report, tmp_path, path, value, reason):
    """A hand edit that keeps the kind, time, figures and recommendation used to pass the check
    and crash every renderer with a traceback."""
    runs = tmp_path / "runs.jsonl"
    good = dict(record(report), time="2026-01-01T00:00:00+00:00")
    runs.write_text(json.dumps(_edited(good, path, value)) + "\n" + json.dumps(good) + "\n")
    page = tmp_path / "trend.html"
    for args in ((), ("-f", "markdown"), ("-f", "json"), ("--html", page)):
        result = run("history", runs, *args)
        assert result.code == 0, (args, result.stderr)
        assert result.stderr.startswith(f"shiftemp: warning: {runs} line 1: {reason}")
        assert result.stderr.endswith("; skipped\n") and result.stderr.count("\n") == 1
    assert len(read(runs).records) == 1 and page.exists()


def _strict_json(text: str):
    """Parse as JSON proper: NaN and Infinity are Python's extension, not JSON."""
    def refuse(constant: str):
        raise ValueError(f"{constant} is not JSON")
    return json.loads(text, parse_constant=refuse)


def test_a_figure_that_is_not_finite_reads_as_null(run, report, tmp_path):
    """Python's json writes NaN for a float('nan'): such a line used to crash the sparkline and
    come back out of ``history -f json`` as NaN, which no JSON parser takes."""
    runs = tmp_path / "runs.jsonl"
    good = record(report)
    lines = [json.dumps(_edited(good, "figures.energy_released", float("nan"))),
             json.dumps(_edited(good, "figures.dS", float("inf"))),
             json.dumps(good).replace('"S_A": ', '"S_A": 1e999, "_": '),
             # an integer too large for a float skipped the whole record, where 1e999 read null
             json.dumps(good).replace('"S_A": ', '"S_A": 1' + "0" * 400 + ', "_": ')]
    runs.write_text("\n".join(lines) + "\n")
    found = read(runs)
    assert found.skipped == ()
    assert [r["figures"]["energy_released"] for r in found.records] == [
        None] + [good["figures"]["energy_released"]] * 3
    assert found.records[1]["figures"]["dS"] is None and found.records[2]["figures"]["S_A"] is None
    assert found.records[3]["figures"]["S_A"] is None
    shown = run("history", runs)
    assert shown.code == 0 and shown.stderr == ""
    as_json = run("history", runs, "-f", "json")
    assert as_json.code == 0
    assert _strict_json(as_json.stdout)[0]["figures"]["energy_released"] is None
    assert sparkline([float("nan"), 1.0, float("inf"), 2.0]) == "·▁·█"


def test_a_temperature_marked_finite_without_a_value_is_skipped(report, tmp_path):
    runs = tmp_path / "runs.jsonl"
    bad = _edited(record(report), "figures.temperature", {"status": "finite", "value": float("nan")})
    runs.write_text(json.dumps(bad) + "\n")
    (skipped,) = read(runs).skipped
    assert skipped.reason == "figures.temperature is finite but its value is null or not a finite number"


def test_a_cut_short_line_says_at_column_once(tmp_path):
    runs = tmp_path / "runs.jsonl"
    runs.write_text('{"kind": "history-record", "time": "2026-01-02T00:0\n')
    (skipped,) = read(runs).skipped
    assert skipped.reason == "not JSON (Unterminated string starting at column 36)"


@pytest.mark.parametrize("last", ["-1", "-20"])
def test_a_negative_last_is_refused(run, report, tmp_path, last):
    """--last -1 used to show every run (records[-(-1):]) without a word."""
    runs = tmp_path / "runs.jsonl"
    append(runs, record(report))
    for args in ((), ("-f", "markdown")):
        result = run("history", runs, "--last", last, *args)
        assert result.code == 2 and result.stdout == ""
        assert result.stderr == (f"shiftemp: error: --last {last}: give a number of runs, 0 or more"
                                 " (0 shows every run).\n")


def test_latest_keeps_the_last_runs(report):
    items = [dict(record(report), time=str(i)) for i in range(5)]
    assert [r["time"] for r in history.latest(items, 2)] == ["3", "4"]
    assert history.latest(items, 0) == items and history.latest(items, 9) == items
    with pytest.raises(shiftemp.errors.OptionError, match="--last -1: give a number of runs"):
        history.latest(items, -1)
    with pytest.raises(TypeError):
        history.latest(items, "2")


def test_the_history_command_names_its_file_argument_not_an_option(run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run("history", "h.txt")
    assert result.code == 2
    assert result.stderr.startswith("shiftemp: error: history file h.txt: unknown history type;")
    assert "--history" not in result.stderr


@pytest.mark.parametrize("name, exists", [("runs.jsonl", False), ("runs.sqlite", False),
                                          ("runs.sqlite", True)])
def test_a_history_its_folder_cannot_take_is_refused_before_the_run(report, tmp_path, monkeypatch,
                                                                    name, exists):
    """A new file is made in the folder, and SQLite writes its journal beside the database."""
    path = tmp_path / name
    if exists:
        append(path, record(report))
    real_access = history.os.access
    monkeypatch.setattr(history.os, "access",
                        lambda p, mode, **kw: Path(p) != tmp_path and real_access(p, mode, **kw))
    with pytest.raises(shiftemp.ShiftempError, match=f"--history {path}: cannot append the run: the"
                                                     f" folder {tmp_path} is not writable"):
        history.check(path)


def test_an_existing_jsonl_history_in_a_folder_that_cannot_take_new_files_is_appended(
        report, tmp_path, monkeypatch):
    path = tmp_path / "runs.jsonl"
    append(path, record(report))
    real_access = history.os.access
    monkeypatch.setattr(history.os, "access",
                        lambda p, mode, **kw: Path(p) != tmp_path and real_access(p, mode, **kw))
    append(path, record(report))
    assert len(read(path).records) == 2


def test_a_history_name_too_long_is_an_input_error(tmp_path):
    path = tmp_path / ("a" * 260 + ".jsonl")
    with pytest.raises(shiftemp.ShiftempError, match="cannot append the run: File name too long"):
        history.check(path)


def test_last_applies_to_the_json_records_too(run, report, tmp_path):
    """--help says "the last N runs"; the JSON output printed every record."""
    runs = tmp_path / "runs.jsonl"
    for i in range(4):
        append(runs, dict(record(report), time=f"2026-01-0{i + 1}T00:00:00+00:00"))
    result = run("history", runs, "-f", "json", "--last", "2")
    assert result.code == 0
    assert [item["time"][:10] for item in json.loads(result.stdout)] == ["2026-01-03", "2026-01-04"]


def test_a_negative_last_leaves_no_page_behind(run, report, tmp_path):
    runs, page = tmp_path / "runs.jsonl", tmp_path / "trend.html"
    append(runs, record(report))
    result = run("history", runs, "--last", "-1", "--html", page)
    assert result.code == 2 and not page.exists()
