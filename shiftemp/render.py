"""Renderings of a report: a rich table for people, markdown for pull requests, JSON for pipelines.

Only this module and ``cli.py`` import rich.
"""

from __future__ import annotations

import enum
import io as _io

from rich import box
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from .report import Comparison, Estimate, Temperature

TOP_COLUMNS = 5


class Format(str, enum.Enum):
    TABLE = "table"
    JSON = "json"
    MARKDOWN = "markdown"


def _num(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.4g}"


def _interval(e: Estimate) -> str:
    return f"[{_num(e.low)}, {_num(e.high)}]"


def _temperature(t: Temperature) -> tuple[str, str]:
    if t.status == "finite":
        return t.describe(), f"[{_num(t.low)}, {_num(t.high)}]"
    if t.status == "infinite":
        return t.describe(), "dS indistinguishable from 0, dE is not"
    return "undefined", "neither dE nor dS is distinguishable from 0"


def figure_rows(report: Comparison) -> list[tuple[str, str, str]]:
    """(quantity, value, 95% interval or note) rows shared by the table and markdown forms."""
    e, s = report.energy, report.entropy
    unit = {"mse": "squared target units", "mae": "target units", "ce": "nats"}[report.model.loss]
    t_oos, t_in = _temperature(report.temperature), _temperature(report.temperature_in_sample)
    label = "data entropy" if s.kind == "data" else "parameter entropy"
    return [
        ("E_A: old model on the new data", _num(e.before.value), _interval(e.before)),
        ("E_B: refreshed, out of sample", _num(e.after_out_of_sample.value),
         _interval(e.after_out_of_sample)),
        ("E_B: refreshed, in sample", _num(e.after_in_sample.value), _interval(e.after_in_sample)),
        (f"dE out of sample ({e.folds}-fold)", _num(e.delta_out_of_sample.value),
         _interval(e.delta_out_of_sample)),
        ("dE in sample", _num(e.delta_in_sample.value), _interval(e.delta_in_sample)),
        ("energy released", f"{report.recommendation.relative_gain:.2%}", f"of E_A ({unit})"),
        (f"S_A: {label}, reference", _num(s.reference.value), _interval(s.reference)),
        (f"S_B: {label}, shifted", _num(s.shifted.value), _interval(s.shifted)),
        ("dS (nats)", _num(s.delta.value), _interval(s.delta)),
        ("T = dE/dS, out of sample", *t_oos),
        ("T = dE/dS, in sample", *t_in),
        ("shift class", report.recommendation.shift_class, ""),
    ]


def verdict_line(report: Comparison) -> str:
    """The one-line verdict: ``RETRAIN (hot): <reason>``."""
    r = report.recommendation
    return f"{r.verdict.upper()} ({r.shift_class}): {r.reason}"


def _footer(report: Comparison) -> list[str]:
    m = report.model
    lines = [
        f"model: {m.family}/{m.loss}, {m.n_params} parameters, ridge {m.ridge:g};"
        f" target '{report.target}'",
        f"rows used: reference {report.reference.rows_used:,} of {report.reference.rows:,},"
        f" shifted {report.shifted.rows_used:,} of {report.shifted.rows:,}",
    ]
    return lines


def table(report: Comparison) -> Group:
    """The rich renderable of a comparison."""
    title = f"shiftemp compare: {report.reference.path} -> {report.shifted.path}"
    figures = Table(title=title, box=box.SIMPLE_HEAVY, title_justify="left")
    figures.add_column("quantity")
    figures.add_column("value", justify="right")
    figures.add_column("95% interval")
    for row in figure_rows(report):
        figures.add_row(*row)
    parts: list = [figures]
    if report.entropy.columns:
        columns = Table(
            title="columns that moved the entropy most (nats)", box=box.SIMPLE, title_justify="left"
        )
        for name in ("column", "kind", "reference", "shifted", "change"):
            columns.add_column(name, justify="left" if name in ("column", "kind") else "right")
        for c in report.entropy.columns[:TOP_COLUMNS]:
            columns.add_row(c.column, c.kind, _num(c.reference), _num(c.shifted), f"{c.delta:+.4g}")
        if report.entropy.dependence is not None and len(report.entropy.columns) > 1:
            columns.add_row("(dependence)", "joint", "", "", f"{report.entropy.dependence:+.4g}")
        parts.append(columns)
    verdict = report.recommendation
    style = "bold red" if verdict.retrain else "bold green"
    line = Text()
    line.append(verdict.verdict.upper(), style=style)
    line.append(f" ({verdict.shift_class}): {verdict.reason}")
    parts.append(line)
    parts.append(Text("\n".join(_footer(report)), style="dim"))
    return Group(*parts)


def markdown(report: Comparison) -> str:
    """A GitHub-flavoured markdown rendering, for a pull-request comment or a job summary."""
    r = report.recommendation
    lines = [
        f"### shiftemp: **{r.verdict.upper()}** ({r.shift_class})",
        "",
        r.reason,
        "",
        f"`{report.reference.path}` → `{report.shifted.path}`",
        "",
        "| quantity | value | 95% interval |",
        "|---|---:|---|",
    ]
    lines += [f"| {q} | {v} | {i} |" for q, v, i in figure_rows(report)]
    if report.entropy.columns:
        lines += ["", "| column | kind | entropy change (nats) |", "|---|---|---:|"]
        lines += [
            f"| {c.column} | {c.kind} | {c.delta:+.4g} |"
            for c in report.entropy.columns[:TOP_COLUMNS]
        ]
    lines += [""] + [f"- {line}" for line in (*_footer(report), *report.notes)]
    return "\n".join(lines) + "\n"


def render_text(report: Comparison, fmt: Format, width: int = 110) -> str:
    """The report as plain text in ``fmt`` (no colour), e.g. for ``--output``."""
    if fmt is Format.JSON:
        return report.to_json() + "\n"
    if fmt is Format.MARKDOWN:
        return markdown(report)
    buffer = _io.StringIO()
    Console(file=buffer, width=width, color_system=None, force_terminal=False).print(table(report))
    return buffer.getvalue()


def show(report: Comparison, fmt: Format, console: Console) -> None:
    """Print the report on ``console`` (stdout)."""
    if fmt is Format.TABLE:
        console.print(table(report))
    else:
        console.file.write(render_text(report, fmt))
