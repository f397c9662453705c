"""Output for people and pipelines: --format markdown (a pull-request comment, a CI job summary),
colour only where wanted (NO_COLOR, --no-color), and --quiet's one-line verdict."""

from __future__ import annotations

import io
import re
import sys
from pathlib import Path

import numpy as np
import pytest

import shiftemp
from conftest import regression_frame
from shiftemp import render

pytestmark = pytest.mark.usefixtures("one_blas_thread")

#: An SGR escape that sets a colour (30-49, 90-107: foreground, background, 256 and true colour).
COLOUR = re.compile(r"\x1b\[(?:\d+;)*(?:3\d|4\d|9\d|10\d)(?:;\d+)*m")
ANY_ESCAPE = re.compile(r"\x1b\[")


@pytest.fixture(scope="module")
def pair(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("markdown")
    rng = np.random.default_rng(23)
    old, new = folder / "old.csv", folder / "new.csv"
    regression_frame(rng, 300, region=True).to_csv(old, index=False)
    regression_frame(rng, 300, coef=(1.0, 1.0, 0.25), region=True).to_csv(new, index=False)
    return old, new


def tables(text: str) -> list[list[str]]:
    """The markdown tables of ``text``: runs of lines that start with a pipe."""
    found, current = [], []
    for line in text.splitlines() + [""]:
        if line.startswith("|"):
            current.append(line)
        elif current:
            found.append(current)
            current = []
    return found


def cells(line: str) -> int:
    return len(line.strip().strip("|").split("|"))


def check_tables(text: str) -> list[list[str]]:
    """Every table has a header, a delimiter row and rows of as many cells as the header."""
    found = tables(text)
    for table in found:
        assert len(table) >= 3, table
        assert re.fullmatch(r"\|(?:-+:?\|)+", table[1].replace("---:", "---").replace(":", "")), table[1]
        assert {cells(line) for line in table} == {cells(table[0])}, table
    return found


def test_markdown_report_for_a_pull_request(run, pair):
    result = run("compare", *pair, "--target", "y", "--format", "markdown")
    assert result.code == 0
    text = result.stdout
    lines = text.splitlines()
    assert lines[0] == "### shiftemp: **RETRAIN** (hot)"
    assert lines[2].startswith("Refreshing the model removes ")
    assert lines[4] == f"`{pair[0]}` → `{pair[1]}`"
    figures, columns, carriers = check_tables(text)[:3]
    assert figures[0] == "| quantity | value | 95% interval |"
    assert any(row.startswith("| T = dE/dS, out of sample | -infinite |") for row in figures)
    assert any(row.startswith("| T_I: training on reference") for row in figures)
    assert columns[0] == "| column | kind | entropy change (nats) |"
    assert carriers[0].startswith("| feature | coefficient change |")
    assert "- model: linear/mse" in text and "- rows used: reference 300 of 300" in text
    assert not ANY_ESCAPE.search(text) and text.endswith("\n")


def test_markdown_shows_a_network_refresh_layers():
    rng = np.random.default_rng(4)
    old = regression_frame(rng, 300)
    new = regression_frame(rng, 300, coef=(1.0, 1.0, 0.25))
    report = shiftemp.compare(old, new, target="y", model="mlp", hidden=(4,), epochs=3)
    text = render.markdown(report)
    layers = [t for t in check_tables(text) if t[0].startswith("| layer |")]
    assert len(layers) == 1 and [row.split("|")[1].strip() for row in layers[0][2:]] == ["hidden 1", "output"]
    assert report.network["summary"] in text


def test_a_ci_job_summary_appends_markdown_to_the_summary_file(run, pair, tmp_path):
    # GitHub Actions: shiftemp compare ... --format markdown >> "$GITHUB_STEP_SUMMARY"
    summary = tmp_path / "step_summary.md"
    summary.write_text("## Nightly data check\n\n")
    result = run("compare", *pair, "--target", "y", "--format", "markdown", "--fail-on-retrain")
    assert result.code == 1  # the gate fails the job, and the summary says why
    with open(summary, "a", encoding="utf-8") as handle:
        handle.write(result.stdout)
    text = summary.read_text()
    assert text.startswith("## Nightly data check\n\n### shiftemp: **RETRAIN** (hot)\n")


def test_engine_and_history_markdown(run, pair, tmp_path):
    engine = run("engine", pair[0], "--target", "y", "--hidden", "4", "--epochs", "2", "-f", "markdown")
    assert engine.code == 0 and engine.stdout.startswith("### shiftemp engine:")
    check_tables(engine.stdout)
    runs = tmp_path / "runs.jsonl"
    assert run("compare", *pair, "--target", "y", "--history", runs, "-q").code == 0
    history = run("history", runs, "-f", "markdown")
    assert history.stdout.startswith(f"### shiftemp history: `{runs}`, 1 run\n")
    (table,) = check_tables(history.stdout)
    assert "| RETRAIN | hot |" in table[2]


def named_pair(folder: Path, files: tuple[str, str], columns: list[str]) -> list[Path]:
    """A reference and a shifted CSV (a concept shift) under odd ``files`` names, with odd
    ``columns`` names (three features, then the target)."""
    rng = np.random.default_rng(29)
    paths = []
    for name, coef in zip(files, ((1.0, 1.0, 1.0), (1.0, 1.0, 0.25))):
        frame = regression_frame(rng, 300, coef=coef)
        frame.columns = columns
        frame.to_csv(folder / name, index=False)
        paths.append(folder / name)
    return paths


def test_names_that_look_like_markdown_stay_text_in_their_cells(run, tmp_path):
    """A pipe in a column's name would end its cell (a row of one cell more than its table's
    header); ``<i>`` would be HTML, ``_`` emphasis. They are escaped, in the report's tables and
    in the history's."""
    files = named_pair(tmp_path, ("old_<i>.csv", "new|b.csv"), ["a|b", "<i>c</i>", "d_e_f", "y"])
    runs = tmp_path / "runs.jsonl"
    report = run("compare", *files, "--target", "y", "-f", "markdown", "--history", runs)
    history = run("history", runs, "-f", "markdown")
    for text in (report.stdout, history.stdout):
        for table in tables(text):
            widths = {len(re.split(r"(?<!\\)\|", line.strip()[1:-1])) for line in table}
            assert len(widths) == 1, table
            assert "<i>" not in "".join(table)  # (in a `code span` it is literal already)
    assert r"| a\|b |" in report.stdout and r"| \<i\>c\</i\> |" in report.stdout
    assert r"d\_e\_f" in report.stdout
    assert r"old\_\<i\>.csv -> new\|b.csv" in history.stdout


def test_names_that_look_like_rich_markup_are_shown_as_they_are(run, tmp_path, monkeypatch):
    """Rich reads "[bold]" in a string as a style and "[/x]" as a closing tag, which raised a
    MarkupError (a traceback) from the default table; names from the data go in as text."""
    files = named_pair(tmp_path, ("[bold]old[red].csv", "new.csv"),
                       ["[/x]", "[bold]b[/bold]", "c", "y"])
    result = run("compare", *files, "--target", "y")
    assert result.code == 0, result.stderr
    assert "[/x]" in result.stdout and "[bold]b[/bold]" in result.stdout
    assert "[bold]old[red].csv" in result.stdout


def test_the_progress_bar_shows_a_path_as_it_is(monkeypatch):
    from shiftemp import cli

    terminal = io.StringIO()
    terminal.isatty = lambda: True
    monkeypatch.setattr(sys, "stderr", terminal)
    with cli.progress_bar(quiet=False, no_color=True) as progress:
        progress("reading [x]/[bold]r.csv", 10, 100)
    assert "reading [x]/[bold]r.csv" in terminal.getvalue()


# -- colour -------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["compare", "history", "config"])
def test_no_color_and_the_no_color_flag_are_respected(run, pair, tmp_path, monkeypatch, command):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FORCE_COLOR", "1")  # rich colours even when stdout is not a terminal
    monkeypatch.delenv("NO_COLOR", raising=False)
    runs = tmp_path / "runs.jsonl"
    assert run("compare", *pair, "--target", "y", "--history", runs, "-q").code == 0
    args = {"compare": ["compare", *pair, "--target", "y"], "history": ["history", runs],
            "config": ["config"]}[command]
    coloured = run(*args)
    assert coloured.code == 0
    if command != "config":  # the verdict's colour
        assert COLOUR.search(coloured.stdout), coloured.stdout[:300]
    assert not COLOUR.search(run(*args, "--no-color").stdout)
    monkeypatch.setenv("NO_COLOR", "1")
    assert not COLOUR.search(run(*args).stdout)
    monkeypatch.setenv("NO_COLOR", "")  # empty: not set (no-color.org)
    if command != "config":
        assert COLOUR.search(run(*args).stdout)


def test_output_that_is_not_a_terminal_has_no_escapes(run, pair):
    for fmt in ("table", "markdown", "json"):
        result = run("compare", *pair, "--target", "y", "--format", fmt)
        assert not ANY_ESCAPE.search(result.stdout), fmt


# -- quiet --------------------------------------------------------------------------------------


def test_quiet_prints_only_the_one_line_verdict_whatever_else_is_written(run, pair, tmp_path):
    report, page, runs = tmp_path / "r.json", tmp_path / "r.html", tmp_path / "runs.db"
    loud = run("compare", *pair, "--format", "markdown")  # notes on stderr: the target detected
    assert "shiftemp: note: using column 'y' as the target" in loud.stderr
    result = run("compare", *pair, "--quiet", "-o", report, "--html", page, "--history", runs,
                 "--format", "json")
    assert result.code == 0 and result.stderr == ""
    assert result.stdout.count("\n") == 1
    assert re.fullmatch(r"RETRAIN \(hot\): Refreshing the model removes [\d.]+% of its loss .*\n", result.stdout)
    assert report.exists() and page.exists() and runs.exists()
    assert result.stdout == render.verdict_line(shiftemp.Comparison.from_json(report.read_text())) + "\n"
    gate = run("compare", *pair, "-q", "--fail-on-retrain")
    assert gate.code == 1 and gate.stdout == result.stdout


@pytest.mark.parametrize("name", ["we`ird.csv", "``two``.csv", "`start.csv", "end`.csv", " spaced .csv"])
def test_a_backtick_in_a_path_keeps_its_code_span(name):
    """`we`ird.csv` ended the code span at the name's own backtick; the fence is now longer than
    any backtick run in the name, and spaced when the name starts or ends with one."""
    from markdown_it import MarkdownIt

    spans = re.findall(r"<code>(.*?)</code>", MarkdownIt().renderInline(render.code(name)))
    assert spans == [name]


def test_the_history_heading_shows_a_path_with_a_backtick_verbatim(run, pair, tmp_path):
    from markdown_it import MarkdownIt

    runs = tmp_path / "we`ird.jsonl"
    assert run("compare", *pair, "--target", "y", "--history", runs, "-q").code == 0
    heading = run("history", runs, "-f", "markdown").stdout.splitlines()[0]
    assert f"<code>{runs}</code>" in MarkdownIt().render(heading)
