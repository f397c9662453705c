"""The command line: exit codes (the CI contract), error lines, formats and --output."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from conftest import file_hash, regression_frame
from shiftemp import Comparison, ExitCode


@pytest.fixture(scope="module")
def pairs(tmp_path_factory) -> dict[str, tuple[Path, Path]]:
    """Small CSV pairs: a concept shift (retrain) and no shift (keep)."""
    folder = tmp_path_factory.mktemp("pairs")
    rng = np.random.default_rng(31)
    out = {}
    for name, coef in (("shift", (1.0, 1.0, 0.25)), ("same", (1.0, -0.5, 0.25))):
        old, new = folder / f"{name}_old.csv", folder / f"{name}_new.csv"
        regression_frame(rng, 300, region=True).to_csv(old, index=False)
        regression_frame(rng, 300, coef=coef, region=True).to_csv(new, index=False)
        out[name] = (old, new)
    return out


def one_error_line(stderr: str) -> str:
    """The one error line (notes about what was done may come before it)."""
    lines = [
        line for line in stderr.splitlines()
        if line.strip() and not line.startswith("shiftemp: note: ")
    ]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("shiftemp: error: ")
    assert "Traceback" not in stderr
    return lines[0]


# -- exit codes ---------------------------------------------------------------------------------


def test_exit_code_enum_is_the_documented_contract():
    assert [int(c) for c in ExitCode] == [0, 1, 2, 130, 143]


def test_retrain_without_the_gate_exits_0(run, pairs):
    result = run("compare", *pairs["shift"], "--target", "y")
    assert result.code == ExitCode.OK
    assert "RETRAIN (hot):" in result.stdout


def test_retrain_with_the_gate_exits_1(run, pairs):
    result = run("compare", *pairs["shift"], "--target", "y", "--fail-on-retrain")
    assert result.code == ExitCode.RETRAIN
    assert "RETRAIN (hot):" in result.stdout


def test_keep_with_the_gate_exits_0(run, pairs):
    result = run("compare", *pairs["same"], "--target", "y", "--fail-on-retrain")
    assert result.code == ExitCode.OK
    assert "KEEP (" in result.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["--bogus"], "shiftemp: error: No such option: --bogus"),
        (["--model", "tree"], "shiftemp: error: Invalid value for '--model'"),
        (["--loss", "ce", "--model", "linear"],
         "shiftemp: error: --loss ce does not go with --model linear; use --loss mse|mae."),
        (["--folds", "1"], "shiftemp: error: --folds must be at least 2 for cross-fitting; got 1."),
        (["--min-gain", "1.5"], "shiftemp: error: --min-gain is a fraction of the loss in [0, 1); got 1.5."),
        (["--batch-size", "-5"], "shiftemp: error: --batch-size must be a positive number of rows; got -5."),
        (["--seed", "-1"], "shiftemp: error: --seed must be an integer from 0 to 2^63 - 1; got -1."),
        (["--seed", str(2 ** 64)], "shiftemp: error: --seed must be an integer from 0 to 2^63 - 1;"),
        (["--model", "mlp", "--epochs", "0"], "shiftemp: error: --epochs must be at least 1; got 0."),
        (["--format", "xml"], "shiftemp: error: Invalid value for '--format'"),
        (["--entropy", "free"], "shiftemp: error: Invalid value for '--entropy'"),
        (["--target", "price"], "has no column 'price' (the target)."),
        (["--features", "a,zz"], "has no column 'zz' (named in --features)."),
        (["--exclude", "zz"], "has no column 'zz' (named in --exclude)."),
    ],
)
def test_usage_and_input_errors_exit_2_with_one_line(run, pairs, args, message):
    result = run("compare", *pairs["same"], "--target", "y", *args) if "--target" not in args \
        else run("compare", *pairs["same"], *args)
    assert result.code == ExitCode.USAGE
    assert message in one_error_line(result.stderr)
    assert result.stdout == ""


def test_a_missing_argument_exits_2(run, pairs):
    result = run("compare", pairs["same"][0])
    assert result.code == ExitCode.USAGE
    assert "Missing argument" in one_error_line(result.stderr)


def test_a_missing_file_exits_2_naming_it(run, pairs, tmp_path):
    missing = tmp_path / "nope.parquet"
    result = run("compare", pairs["same"][0], missing)
    assert result.code == ExitCode.USAGE
    assert one_error_line(result.stderr) == f"shiftemp: error: {missing}: no such file or directory."


def test_no_target_candidate_exits_2_listing_the_columns(run, tmp_path, rng):
    old, new = tmp_path / "old.csv", tmp_path / "new.csv"
    regression_frame(rng, 40).rename(columns={"y": "minutes"}).to_csv(old, index=False)
    regression_frame(rng, 40).rename(columns={"y": "minutes"}).to_csv(new, index=False)
    result = run("compare", old, new)
    assert result.code == ExitCode.USAGE
    assert one_error_line(result.stderr) == (
        f"shiftemp: error: {old}: cannot tell the target: no column named target, label, y or"
        " class. Its columns: ['a', 'b', 'c', 'minutes']. Pass --target with one of them."
    )


def test_an_ambiguous_target_exits_2_listing_the_columns(run, tmp_path, rng):
    old, new = tmp_path / "old.csv", tmp_path / "new.csv"
    for path in (old, new):
        regression_frame(rng, 40).assign(label=1).to_csv(path, index=False)
    result = run("compare", old, new)
    assert result.code == ExitCode.USAGE
    line = one_error_line(result.stderr)
    assert "2 columns (y, label)" in line and "['a', 'b', 'c', 'y', 'label']" in line


def test_target_detection_is_announced_on_stderr(run, pairs):
    result = run("compare", *pairs["same"], "--format", "json")
    assert result.code == 0
    assert "shiftemp: note: using column 'y' as the target (pass --target to choose another)" \
        in result.stderr
    assert json.loads(result.stdout)["target"] == "y"
    quiet = run("compare", *pairs["same"], "--quiet")
    assert quiet.stderr == ""
    assert quiet.stdout.count("\n") == 1 and quiet.stdout.startswith("KEEP (")


# -- the process level: python -m shiftemp ------------------------------------------------------


# each subprocess pays the imports (seconds on a busy machine): a few cases, run concurrently


def test_module_exit_codes_and_error_lines_at_the_process_level(pairs, tmp_path):
    corrupt = tmp_path / "corrupt.parquet"
    corrupt.write_bytes(b"PAR1 this is not parquet")
    old, new = pairs["shift"]
    cases = {
        "gate": ["compare", old, new, "--target", "y", "--fail-on-retrain", "-q"],
        "corrupt-file": ["compare", old, corrupt],
        "bad-option": ["compare", old, new, "--bogus"],
    }
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    running = {
        name: subprocess.Popen(
            [sys.executable, "-m", "shiftemp", *map(str, args)], stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, env=env,
        )
        for name, args in cases.items()
    }
    results = {name: (process.communicate(timeout=180), process.returncode)
               for name, process in running.items()}
    (stdout, stderr), code = results.pop("gate")
    assert code == 1, stderr
    assert stdout.startswith("RETRAIN (hot):") and stderr == ""
    for name, ((stdout, stderr), code) in results.items():
        assert code == 2, (name, stderr)
        one_error_line(stderr)
        assert stdout == "", name
    assert "is not a parquet file" in results["corrupt-file"][0][1] or \
        "cannot read it as parquet" in results["corrupt-file"][0][1]
    assert "No such option: --bogus" in results["bad-option"][0][1]


def test_output_onto_a_folder_exits_2(run, pairs, tmp_path):
    result = run("compare", *pairs["same"], "--target", "y", "-o", tmp_path)
    assert result.code == 2
    assert "is a folder; --output needs a file name" in one_error_line(result.stderr)
    assert list(tmp_path.iterdir()) == []


# -- output ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "markdown", "table"])
def test_output_writes_the_report_to_a_file(run, pairs, tmp_path, fmt):
    target = tmp_path / f"report.{fmt}"
    result = run("compare", *pairs["shift"], "--target", "y", "--format", fmt, "--output", target)
    assert result.code == 0
    assert result.stdout == ""
    text = target.read_text()
    if fmt == "json":
        report = Comparison.from_json(text)
        assert report.recommendation.retrain
    elif fmt == "markdown":
        assert text.startswith("### shiftemp: **RETRAIN** (hot)") and "| quantity |" in text
    else:
        assert "RETRAIN (hot):" in text and "\x1b[" not in text
    assert sorted(p.name for p in tmp_path.iterdir()) == [target.name]


def test_output_leaves_no_file_on_error(run, pairs, tmp_path):
    target = tmp_path / "report.json"
    result = run("compare", *pairs["same"], "--target", "nope", "--output", target)
    assert result.code == 2
    assert list(tmp_path.iterdir()) == []


def test_output_keeps_an_old_report_on_error(run, pairs, tmp_path):
    target = tmp_path / "report.json"
    target.write_text("previous\n")
    result = run("compare", *pairs["same"], "--folds", "1", "--output", target)
    assert result.code == 2
    assert target.read_text() == "previous\n"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


def test_inputs_are_not_modified(run, pairs, tmp_path):
    old, new = pairs["shift"]
    before = file_hash(old), file_hash(new)
    result = run("compare", old, new, "--target", "y", "--format", "json", "--output", tmp_path / "r.json")
    assert result.code == 0
    assert (file_hash(old), file_hash(new)) == before
    report = Comparison.from_json((tmp_path / "r.json").read_text())
    assert (report.reference.sha256, report.shifted.sha256) == before
    assert report.reference.path == str(old) and report.reference.format == "csv"


# -- formats ----------------------------------------------------------------------------------


def test_format_json_parses_into_the_result_object(run, pairs):
    result = run("compare", *pairs["same"], "--target", "y", "--format", "json", "--folds", "4")
    assert result.code == 0
    report = Comparison.from_json(result.stdout)
    assert report.target == "y" and report.options["folds"] == 4 and report.energy.folds == 4
    assert report.reference.rows == 300 and not report.recommendation.retrain


def test_format_markdown_renders(run, pairs):
    result = run("compare", *pairs["shift"], "--target", "y", "--format", "markdown")
    assert result.code == 0
    assert result.stdout.startswith("### shiftemp: **RETRAIN** (hot)")
    assert "| quantity | value | 95% interval |" in result.stdout
    assert "| E_A: old model on the new data |" in result.stdout


def test_table_is_plain_when_not_a_terminal(run, pairs):
    result = run("compare", *pairs["shift"], "--target", "y")
    assert "\x1b[" not in result.stdout
    assert "T = dE/dS, out of sample" in result.stdout
    assert "columns that moved the entropy most" in result.stdout


def test_help_documents_every_option_and_the_exit_codes(run):
    result = run("compare", "--help")
    assert result.code == 0
    for option in ("--target", "--features", "--exclude", "--model", "--loss", "--folds",
                   "--entropy", "--min-gain", "--seed", "--format", "--output",
                   "--fail-on-retrain", "--quiet", "--no-color"):
        assert option in result.stdout
    assert "Exit codes" in result.stdout


# -- the library does not load the CLI's dependencies -------------------------------------------


def test_import_shiftemp_loads_neither_typer_nor_rich():
    code = (
        "import sys, shiftemp\n"
        "report = shiftemp.compare\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('typer', 'rich', 'click'))\n"
        "print(loaded)\n"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "[]"


def test_an_interrupt_exits_130_quietly(run, pairs, monkeypatch):
    from shiftemp import cli

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "compare_datasets", interrupted)
    result = run("compare", *pairs["same"], "--target", "y")
    assert result.code == ExitCode.INTERRUPTED == 130
    assert "Traceback" not in result.stderr and result.stdout == ""
    import logging

    # main(argv) in-process leaves its caller's logging as it was (a process of its own
    # silences the teardown's logging after an interrupt)
    assert logging.root.manager.disable == logging.NOTSET


def test_a_bug_is_not_disguised_as_a_usage_error(run, pairs, monkeypatch):
    """Only ShiftempError becomes exit 2; anything else is a bug and surfaces."""
    from shiftemp import cli

    def broken(*args, **kwargs):
        raise ZeroDivisionError("bug")

    monkeypatch.setattr(cli, "compare_datasets", broken)
    with pytest.raises(ZeroDivisionError):
        run("compare", *pairs["same"], "--target", "y")


# -- where the results go: a fifo, a stdout that fails, folders that cannot take a file ----------


def test_output_into_a_fifo_is_written_into_it(run, pairs, tmp_path):
    fifo = tmp_path / "report.fifo"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    result = run("compare", *pairs["shift"], "--target", "y", "-f", "json", "-o", fifo)
    reader.join(timeout=30)
    assert result.code == 0 and result.stdout == ""
    assert Comparison.from_json(received[0].decode()).recommendation.retrain
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


class FailingStdout:
    """A stdout whose every write fails with ``error``."""

    def __init__(self, error: OSError):
        self.error = error

    def write(self, text):
        raise self.error

    def flush(self):
        raise self.error

    def isatty(self):
        return False


def test_a_broken_pipe_keeps_the_exit_code_the_run_earned(run, pairs, monkeypatch):
    """``compare --fail-on-retrain -q | true``: the gate still says retrain."""
    with monkeypatch.context() as patch:
        patch.setattr(sys, "stdout", FailingStdout(BrokenPipeError(32, "Broken pipe")))
        result = run("compare", *pairs["shift"], "--target", "y", "--fail-on-retrain", "-q")
    assert result.code == ExitCode.RETRAIN
    assert result.stderr == ""


@pytest.mark.parametrize("quiet", [(), ("-q",)])
def test_a_full_stdout_is_one_error_line_exit_2(run, pairs, monkeypatch, quiet):
    with monkeypatch.context() as patch:
        patch.setattr(sys, "stdout", FailingStdout(OSError(28, "No space left on device")))
        result = run("compare", *pairs["shift"], "--target", "y", *quiet)
    assert result.code == 2
    assert one_error_line(result.stderr) == (
        "shiftemp: error: cannot write to standard output: No space left on device."
    )


def test_a_closed_stdout_is_one_error_line_exit_2_when_results_go_there(run, pairs, monkeypatch,
                                                                         tmp_path):
    with monkeypatch.context() as patch:
        patch.setattr(sys, "stdout", None)  # what Python makes of a closed stdout (>&-)
        closed = run("compare", *pairs["shift"], "--target", "y")
        to_file = run("compare", *pairs["shift"], "--target", "y", "-o", tmp_path / "r.json")
    assert closed.code == 2
    assert one_error_line(closed.stderr) == "shiftemp: error: cannot write to standard output: it is closed."
    assert to_file.code == 0 and (tmp_path / "r.json").exists()


def schema_process(**streams) -> subprocess.CompletedProcess:
    """``python -m shiftemp schema``: the quickest command that writes to stdout."""
    return subprocess.run([sys.executable, "-m", "shiftemp", "schema"], stderr=subprocess.PIPE,
                          text=True, timeout=120, **streams)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_full_stdout_at_the_process_level():
    with open("/dev/full", "w") as full:
        done = schema_process(stdout=full)
    assert done.returncode == 2
    assert done.stderr == "shiftemp: error: cannot write to standard output: No space left on device.\n"


def test_a_closed_stdout_at_the_process_level():
    done = subprocess.run(["sh", "-c", 'exec "$0" -m shiftemp schema >&-', sys.executable],
                          stderr=subprocess.PIPE, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr == "shiftemp: error: cannot write to standard output: it is closed.\n"


def test_a_reader_gone_at_the_process_level_is_quiet():
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = schema_process(stdout=write_end)
    finally:
        os.close(write_end)
    assert done.returncode == 0 and done.stderr == ""


@pytest.mark.parametrize("option", [
    ("--html", "locked/r.html"), ("--history", "locked/h.jsonl"), ("--history", "locked/h.sqlite"),
    ("-o", "locked/r.json"),
])
def test_an_output_folder_that_is_not_writable_stops_the_run_before_it_starts(
        run, pairs, tmp_path, monkeypatch, option):
    """Found after the run, the report given to -o would already be written."""
    from shiftemp import cli

    monkeypatch.chdir(tmp_path)
    Path("locked").mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: Path(p).name != "locked" and real_access(p, mode, **kw))
    monkeypatch.setattr(cli, "compare_datasets", lambda *a, **k: pytest.fail("the run started"))
    report = [] if option[0] == "-o" else ["-o", "rep.json"]
    result = run("compare", *pairs["shift"], "--target", "y", "-f", "json", *report, *option)
    assert result.code == 2 and result.stdout == ""
    assert one_error_line(result.stderr).endswith("the folder locked is not writable.")
    assert [p.name for p in tmp_path.iterdir()] == ["locked"]
    assert list(Path("locked").iterdir()) == []


def test_a_profile_into_a_folder_that_is_not_writable_stops_before_it_reads(run, pairs, tmp_path,
                                                                            monkeypatch):
    from shiftemp import profile

    monkeypatch.chdir(tmp_path)
    Path("locked").mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: Path(p).name != "locked" and real_access(p, mode, **kw))
    monkeypatch.setattr(profile, "build", lambda *a, **k: pytest.fail("the data was read"))
    result = run("profile", pairs["shift"][0], "--target", "y", "-o", "locked/p.shiftemp")
    assert result.code == 2
    assert one_error_line(result.stderr) == (
        "shiftemp: error: locked/p.shiftemp: cannot write the report there: the folder locked is"
        " not writable."
    )


@pytest.mark.parametrize("command, name", [("compare", "a" * 260 + ".json"),
                                           ("profile", "a" * 260 + ".shiftemp")])
def test_an_output_name_too_long_is_one_error_line(run, pairs, tmp_path, command, name):
    data = pairs["shift"] if command == "compare" else pairs["shift"][:1]
    result = run(command, *data, "--target", "y", "-o", tmp_path / name)
    assert result.code == 2
    assert one_error_line(result.stderr).endswith(": cannot write the report there: File name too long.")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command, hint", [
    ("compare", "use --engine stream (bounded memory)"),
    ("engine", "train on fewer rows (--max-rows) or a smaller network (--hidden)"),
    ("temperature", "use fewer --draws"),
])
def test_running_out_of_memory_names_the_commands_own_options(run, monkeypatch, tmp_path, command, hint):
    """engine and temperature were told to use --engine stream, an option they do not have."""
    from shiftemp import cli

    def exhausted(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(cli.typer.main, "get_command", lambda app: type(
        "Command", (), {"main": staticmethod(exhausted)})())
    result = run(command, "data.csv")
    assert result.code == 2 and result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"shiftemp: error: out of memory; {hint}")


def test_a_closed_stdout_is_refused_before_the_run(run, pairs, monkeypatch):
    """It was met only when the finished report was printed: the whole comparison ran for
    nothing."""
    from shiftemp import cli

    def never(*args, **kwargs):
        raise AssertionError("the comparison ran")

    monkeypatch.setattr(cli, "compare_datasets", never)
    with monkeypatch.context() as patch:
        patch.setattr(sys, "stdout", None)
        closed = run("compare", *pairs["shift"], "--target", "y")
    assert closed.code == 2 and "it is closed" in closed.stderr


def test_output_dash_is_stdout(run, pairs, tmp_path, monkeypatch):
    """-o - wrote a file named "-"."""
    monkeypatch.chdir(tmp_path)
    result = run("compare", *pairs["shift"], "--target", "y", "-f", "json", "-o", "-")
    assert result.code == 0 and json.loads(result.stdout)["kind"] == "comparison"
    assert not (tmp_path / "-").exists()
