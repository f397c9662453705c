"""Renderings of a report: a rich table for people, markdown for pull requests, JSON for pipelines.

Only this module and ``cli.py`` import rich, and only to draw a table: a JSON or markdown report
does not pay for its import (40 ms, a tenth of a small run's start-up).
"""

from __future__ import annotations

import enum
import io as _io
from typing import TYPE_CHECKING

from .report import Comparison, Estimate, FeatureEnergy, Temperature

if TYPE_CHECKING:
    from rich.console import Console, Group
    from rich.table import Table


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
        *calibration_rows(report),
        ("shift class", report.recommendation.shift_class, ""),
        *type_one_compare_rows(report),
    ]


def type_one_compare_rows(report: Comparison) -> list[tuple[str, str, str]]:
    """Type I temperature of each side (training from the same initialization), if reported."""
    t = report.type_one
    if t is None:
        return []
    rows = []
    for side in ("reference", "shifted"):
        figures = t[side]
        status = {k: figures["temperature"][k] for k in ("status", "value", "low", "high", "sign")}
        rows.append((
            f"T_I: training on {side} ({t['law']} init)", Temperature(**status).describe(),
            f"dE {_num(figures['dE'])}, dS {_num(figures['dS'])}",
        ))
    return rows


def calibration_rows(report: Comparison) -> list[tuple[str, str, str]]:
    """The ambient-temperature rows of a calibrated report (none otherwise)."""
    c = report.calibration
    if c is None:
        return []
    how = f"{c.splits} {c.order}-order self-splits of the reference, {c.rows_old:,} vs {c.rows_new:,} rows"
    return [
        ("dE null spread (sd)", _num(c.delta_energy.sd),
         f"z-spread {c.delta_energy.z_sd:.2f}: dE bound widened x{c.energy_inflation:.2f}"),
        ("dS null spread (sd)", _num(c.delta_entropy.sd),
         f"z-spread {c.delta_entropy.z_sd:.2f}: dS interval widened x{c.entropy_inflation:.2f}"),
        ("ambient temperature", c.temperature.describe(), f"sd(dE)/sd(dS) over {how}"),
    ]


def _change(row: FeatureEnergy) -> str:
    return ", ".join(f"{v:+.4g}" for v in row.coefficient_change)


def energy_rows(report: Comparison) -> list[tuple[str, str, str, str]]:
    """(feature, coefficient change, energy, share) of the features that carry the most released
    energy, at most five."""
    if report.explanation is None:
        return []
    return [
        (f.feature, _change(f), f"{f.energy:+.4g}", f"{f.share:.1%}")
        for f in report.explanation.features[:TOP_COLUMNS]
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
        f" shifted {report.shifted.rows_used:,} of {report.shifted.rows:,}"
        + (f"; engine {report.run.engine}" if report.run is not None and report.run.engine else ""),
    ]
    return lines


#: The width a numeric column keeps for its header's longest word when the terminal is narrow:
#: "energy" whole, "reference" folded; wider, the column names would vanish at 40 columns.
HEADER_WORD = 6


class keep_numbers:  # noqa: N801 - used as a function: keep_numbers(table)
    """``table`` with its right-justified (numeric) columns never cut. Too wide for the
    terminal, rich shrinks the widest columns and ellipsises their cells (``+0.…``: a number
    that reads as another). Then, and only then (a wide terminal keeps each header on one line),
    each numeric column is fixed at the width of its longest cell (or of its header's longest
    word, up to :data:`HEADER_WORD` columns), its header wraps, and the text columns shrink
    instead."""

    def __init__(self, table: Table) -> None:
        self.table = table

    def _fix_numbers(self, console, options) -> None:
        from rich.cells import cell_len
        from rich.measure import Measurement

        natural = Measurement.get(console, options.update_width(10**6), self.table).maximum
        if natural <= options.max_width:
            return
        for column in self.table.columns:
            if column.justify == "right" and column.width is None:
                words = str(getattr(column.header, "plain", column.header)).split()
                texts = [getattr(c, "plain", str(c)) for c in column.cells]
                header = min(max(map(cell_len, words), default=0), HEADER_WORD)
                column.width = max([header, *map(cell_len, texts)]) or None
                column.overflow = "fold"  # should the terminal be narrower still: wrap, not cut

    def __rich_console__(self, console, options):
        self._fix_numbers(console, options)
        yield self.table

    def __rich_measure__(self, console, options):
        from rich.measure import Measurement

        self._fix_numbers(console, options)
        return Measurement.get(console, options, self.table)


def table(report: Comparison) -> Group:
    """The rich renderable of a comparison."""
    from rich import box
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    # names from the data (paths, columns) go in as Text: rich would read "[/x]" as markup, and
    # raise, or "[bold]" as a style
    title = Text(f"shiftemp compare: {report.reference.path} -> {report.shifted.path}")
    figures = Table(title=title, box=box.SIMPLE_HEAVY, title_justify="left")
    figures.add_column("quantity")
    figures.add_column("value", justify="right")
    # intervals hold numbers: folded onto the next line, never ellipsised
    figures.add_column("95% interval", overflow="fold")
    for row in figure_rows(report):
        figures.add_row(*row)
    parts: list = [keep_numbers(figures)]
    if report.entropy.columns:
        columns = Table(
            title="columns that moved the entropy most (nats)", box=box.SIMPLE, title_justify="left"
        )
        for name in ("column", "kind", "reference", "shifted", "change"):
            columns.add_column(name, justify="left" if name in ("column", "kind") else "right")
        for c in report.entropy.columns[:TOP_COLUMNS]:
            columns.add_row(Text(c.column), c.kind, _num(c.reference), _num(c.shifted),
                            f"{c.delta:+.4g}")
        if report.entropy.dependence is not None and len(report.entropy.columns) > 1:
            columns.add_row("(dependence)", "joint", "", "", f"{report.entropy.dependence:+.4g}")
        parts.append(keep_numbers(columns))
    if energy_rows(report):
        carriers = Table(
            title="features that carry the released energy", box=box.SIMPLE, title_justify="left",
        )
        for name in ("feature", "coefficient change", "energy (in sample)", "share"):
            carriers.add_column(name, justify="left" if name == "feature" else "right")
        for feature, *figures_of in energy_rows(report):
            carriers.add_row(Text(feature), *figures_of)
        parts.append(keep_numbers(carriers))
    if report.network is not None:
        parts.append(network_table(report.network))
    verdict = report.recommendation
    style = "bold red" if verdict.retrain else "bold green"
    line = Text()
    line.append(verdict.verdict.upper(), style=style)
    line.append(f" ({verdict.shift_class}): {verdict.reason}")
    parts.append(line)
    parts.append(Text("\n".join(_footer(report)), style="dim"))
    return Group(*parts)


#: Characters of a name that markdown would read as syntax in a table cell: a ``|`` ends the
#: cell, ``<b>`` is HTML, ``_`` and ``*`` emphasis, `` ` `` code, ``[`` a link.
_MARKDOWN_SYNTAX = str.maketrans({c: "\\" + c for c in "\\|<>`*_[]"})


def cell(text: str) -> str:
    """``text`` (a column's or an input's name) as literal text in a markdown table cell."""
    return str(text).translate(_MARKDOWN_SYNTAX)


def code(text: str) -> str:
    """``text`` (a file or column name) as a markdown code span that shows it verbatim: fenced by
    a backtick run longer than any inside it, and spaced when it starts or ends with a backtick
    or a space, since CommonMark strips one space from each end of a span that has both."""
    import re

    text = str(text)
    fence = "`" * (max(map(len, re.findall("`+", text)), default=0) + 1)
    if text.strip(" ") and (text[:1] in "` " or text[-1:] in "` "):
        text = f" {text} "
    return f"{fence}{text}{fence}"


def markdown(report: Comparison) -> str:
    """A GitHub-flavoured markdown rendering, for a pull-request comment or a job summary."""
    r = report.recommendation
    lines = [
        f"### shiftemp: **{r.verdict.upper()}** ({r.shift_class})",
        "",
        r.reason,
        "",
        f"{code(report.reference.path)} → {code(report.shifted.path)}",
        "",
        "| quantity | value | 95% interval |",
        "|---|---:|---|",
    ]
    lines += [f"| {q} | {v} | {i} |" for q, v, i in figure_rows(report)]
    if report.entropy.columns:
        lines += ["", "| column | kind | entropy change (nats) |", "|---|---|---:|"]
        lines += [
            f"| {cell(c.column)} | {c.kind} | {c.delta:+.4g} |"
            for c in report.entropy.columns[:TOP_COLUMNS]
        ]
    if energy_rows(report):
        lines += ["", "| feature | coefficient change | energy released (in sample) | share |",
                  "|---|---:|---:|---:|"]
        lines += [f"| {cell(a)} | {b} | {c} | {d} |" for a, b, c, d in energy_rows(report)]
    if report.network is not None:
        lines += ["", f"{report.network['summary']}", "",
                  "| " + " | ".join(LAYER_HEADERS) + " |", "|---|" + "---:|" * (len(LAYER_HEADERS) - 1)]
        lines += ["| " + " | ".join(row) + " |" for row in network_layer_rows(report.network)]
    lines += [""] + [f"- {line}" for line in (*_footer(report), *report.notes)]
    return "\n".join(lines) + "\n"


def plain(renderable, width: int) -> str:
    """``renderable`` as plain text for a file or a pipe: tables laid out ``width`` columns
    wide, a sentence or a title on one line however long (soft wrap: a grep or a diff sees it
    whole), no colour and no trailing spaces (rich pads every table row to its full width)."""
    from rich.console import Console

    buffer = _io.StringIO()
    Console(file=buffer, width=width, color_system=None, force_terminal=False,
            soft_wrap=True).print(renderable)
    return "".join(line.rstrip() + "\n" for line in buffer.getvalue().splitlines())


def render_text(report: Comparison, fmt: Format, width: int = 110) -> str:
    """The report as plain text in ``fmt`` (no colour), e.g. for ``--output``: the text a
    pipe gets (:func:`show`)."""
    if fmt is Format.JSON:
        return report.to_json() + "\n"
    if fmt is Format.MARKDOWN:
        return markdown(report)
    return plain(table(report), width)


def show(report: Comparison, fmt: Format, console: Console) -> None:
    """Print the report on ``console`` (stdout); to a pipe or a file, the text of ``--output``."""
    if fmt is Format.TABLE and console.is_terminal:
        console.print(table(report))
    else:
        console.file.write(render_text(report, fmt, console.width))


# --------------------------------------------------------------------------------------------
# shiftemp engine


def layer_rows(layers, transition) -> list[tuple[str, ...]]:
    """(layer, parameters, dE_l, share, dS_l, T_l) rows and a total row with the residual."""
    rows = [
        (
            layer.name, f"{layer.n_parameters:,}", _num(layer.energy_change),
            "-" if layer.share is None else f"{layer.share:.1%}", _num(layer.entropy_change),
            layer.temperature.describe(),
        )
        for layer in layers
    ]
    rows.append((
        "total", f"{sum(layer.n_parameters for layer in layers):,}", _num(transition.energy_change),
        f"residual {_num(transition.residual)}", _num(transition.entropy_change),
        transition.temperature.describe(),
    ))
    return rows


LAYER_HEADERS = ("layer", "parameters", "dE_l", "share", "dS_l (nats)", "T_l")


def engine_rows(report) -> list[tuple[str, str]]:
    """(quantity, value) rows of the heat-engine figures of one trained network."""
    carnot = "-" if report.carnot_bound is None else f"{report.carnot_bound:.3f}"
    under = {True: "yes", False: "no", None: "-"}[report.under_carnot]
    return [
        ("E_A: expected energy at initialization",
         f"{_num(report.initial_energy)} ± {_num(report.initial_energy_se)}"),
        ("E_net*: trained network", _num(report.trained_energy)),
        ("E_linear*: best linear model", _num(report.linear_energy)),
        ("heat Q = E_A - E_net*", _num(report.heat)),
        ("work W = E_linear* - E_net*", _num(report.work)),
        ("work efficiency eta", f"{report.efficiency:.3f}"),
        ("Carnot bound over the layers", f"{carnot} (eta under it: {under})"),
        ("Type I temperature T_I", report.temperature.describe()),
        ("engine type", report.engine_type.value),
    ]


def engine_table(run) -> Group:
    """The rich renderable of ``shiftemp engine``."""
    from rich import box
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    parts: list = []
    for report in run.reports:
        title = Text(
            f"{report.activation.value} network {list(report.hidden)} on {run.data.path}:"
            f" per-layer transition ({report.energy_unit})"
        )
        layers = Table(title=title, box=box.SIMPLE_HEAVY, title_justify="left")
        for name in LAYER_HEADERS:
            layers.add_column(name, justify="left" if name == "layer" else "right")
        for row in layer_rows(report.layers, report.transition):
            layers.add_row(*row)
        figures = Table(box=box.SIMPLE, show_header=False)
        figures.add_column("quantity")
        figures.add_column("value", justify="right")
        for row in engine_rows(report):
            figures.add_row(*row)
        parts += [keep_numbers(layers), keep_numbers(figures), Text(report.summary), Text("")]
    if len(run.reports) > 1:
        summary = Table(title="activations compared", box=box.SIMPLE_HEAVY, title_justify="left")
        for name in ("activation", "E_A", "E_net*", "E_linear*", "W", "Q", "eta", "Carnot", "type"):
            summary.add_column(name, justify="left" if name in ("activation", "type") else "right")
        for r in run.reports:
            summary.add_row(
                r.activation.value, _num(r.initial_energy), _num(r.trained_energy),
                _num(r.linear_energy), _num(r.work), _num(r.heat), f"{r.efficiency:.3f}",
                "-" if r.carnot_bound is None else f"{r.carnot_bound:.3f}", r.engine_type.value,
            )
        parts.append(keep_numbers(summary))
    t = run.reports[0]
    parts.append(Text(
        f"training: {t.training.optimizer}, {t.training.epochs} epochs, {t.training.steps:,} steps;"
        f" rows {t.training.rows_used:,} of {t.training.rows_total:,}"
        + (" (sampled)" if t.training.sampled else ""), style="dim",
    ))
    return Group(*parts)


def engine_markdown(run) -> str:
    """Markdown rendering of ``shiftemp engine``."""
    lines = [f"### shiftemp engine: {code(run.data.path)}, target {code(run.target)}", ""]
    for report in run.reports:
        lines += [
            f"#### {report.activation.value} network {list(report.hidden)}", "",
            report.summary, "",
            "| " + " | ".join(LAYER_HEADERS) + " |", "|---|" + "---:|" * (len(LAYER_HEADERS) - 1),
        ]
        lines += ["| " + " | ".join(row) + " |" for row in layer_rows(report.layers, report.transition)]
        lines += ["", "| quantity | value |", "|---|---:|"]
        lines += [f"| {q} | {v} |" for q, v in engine_rows(report)]
        lines.append("")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------
# shiftemp temperature

TEMPERATURE_HEADERS = ("loss", "law", "method", "E_A", "S_A", "S_B", "dE", "dS", "T_I", "T_I vs analytic")


def _quantity(q) -> str:
    if q.value is None:
        return q.status
    text = _num(q.value)
    return f"{text} ({q.se:.1g})" if q.se else text


def temperature_rows(run) -> list[tuple[str, ...]]:
    """One row per (loss, law, method) of a ``shiftemp temperature`` run."""
    rows = []
    for result in run.results:
        for estimate in result.estimates:
            diff = result.relative_differences.get("temperature", {}).get(estimate.method.value)
            rows.append((
                result.loss.value, result.law.to_dict()["kind"], estimate.method.value,
                _quantity(estimate.initial_energy), _quantity(estimate.initial_entropy),
                _quantity(estimate.equilibrium_entropy), _quantity(estimate.delta_energy),
                _quantity(estimate.delta_entropy), estimate.temperature.describe(),
                "-" if diff is None else f"{diff:+.2e}",
            ))
    return rows


def temperature_table(run) -> Group:
    """The rich renderable of ``shiftemp temperature``."""
    from rich import box
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    figures = Table(
        title=Text(f"Type I temperature of training on {run.data.path} (target '{run.target}')"),
        box=box.SIMPLE_HEAVY, title_justify="left",
    )
    for name in TEMPERATURE_HEADERS:
        figures.add_column(name, justify="left" if name in ("loss", "law", "method") else "right")
    for row in temperature_rows(run):
        figures.add_row(*row)
    notes = [f"initialization scale: {run.scale_rule}"]
    notes += [f"{r.loss.value}/{r.law.to_dict()['kind']}: {n}" for r in run.results for n in r.notes]
    return Group(keep_numbers(figures), Text("\n".join(notes), style="dim"))


def temperature_markdown(run) -> str:
    """Markdown rendering of ``shiftemp temperature``."""
    lines = [
        f"### shiftemp temperature: {code(run.data.path)}, target {code(run.target)}", "",
        "| " + " | ".join(TEMPERATURE_HEADERS) + " |", "|---|---|---|" + "---:|" * 7,
    ]
    lines += ["| " + " | ".join(row) + " |" for row in temperature_rows(run)]
    lines += ["", f"- initialization scale: {run.scale_rule}"]
    return "\n".join(lines) + "\n"


def render_run_text(run, fmt: Format, width: int = 140) -> str:
    """A ``temperature`` or ``engine`` run as plain text in ``fmt``."""
    import json

    if fmt is Format.JSON:
        return json.dumps(run.to_dict(), indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    kind = run.kind
    if fmt is Format.MARKDOWN:
        return temperature_markdown(run) if kind == "temperature" else engine_markdown(run)
    return plain(temperature_table(run) if kind == "temperature" else engine_table(run), width)


def network_table(network: dict) -> Table:
    """Per-layer table of a network refresh (``report.network``, a JSON-safe dict)."""
    from rich import box
    from rich.table import Table

    title = f"layers of the refresh ({network['energy_unit']}): {network['summary']}"
    layers = Table(title=title, box=box.SIMPLE, title_justify="left")
    for name in LAYER_HEADERS:
        layers.add_column(name, justify="left" if name == "layer" else "right")
    for row in network_layer_rows(network):
        layers.add_row(*row)
    return keep_numbers(layers)


def network_layer_rows(network: dict) -> list[tuple[str, ...]]:
    """(layer, parameters, dE_l, share, dS_l, T_l) rows of a network refresh's JSON-safe dict."""
    return [
        (
            layer["name"], f"{layer['n_parameters']:,}", _num(layer["energy_change"]),
            "-" if layer["share"] is None else f"{layer['share']:.1%}",
            _num(layer["entropy_change"]), _temperature_words(layer["temperature"]),
        )
        for layer in network["layers"]
    ]


def _temperature_words(t: dict | None) -> str:
    """A temperature of a JSON-safe dict (status, value, sign, perhaps more) in words."""
    if not t:
        return "-"
    return Temperature(status=t.get("status", "undefined"), value=t.get("value"),
                       sign=int(t.get("sign") or 0)).describe()


# --------------------------------------------------------------------------------------------
# shiftemp history and shiftemp config

HISTORY_HEADERS = ("time", "inputs", "verdict", "class", "T", "energy released", "of E_A", "dS")


def history_rows(records, name=str) -> list[tuple[str, ...]]:
    """One row per run of a history (``history-record`` dicts), oldest first; ``name`` renders
    the inputs' file names (:func:`cell` for markdown)."""
    from pathlib import PurePath

    rows = []
    for item in records:
        f, r = item["figures"], item["recommendation"]
        gain = f.get("relative_gain")
        rows.append((
            str(item["time"])[:19].replace("T", " "),
            f"{name(PurePath(item['reference']['path']).name)} ->"
            f" {name(PurePath(item['shifted']['path']).name)}",
            r["verdict"].upper(), r["shift_class"], _temperature_words(f.get("temperature")),
            _num(f.get("energy_released")), "-" if gain is None else f"{gain:.1%}", _num(f.get("dS")),
        ))
    return rows


def history_trend(series: dict) -> list[tuple[str, str, str]]:
    """(what, sparkline, legend) of a history's trend (shiftemp.history.series)."""
    from .history import sparkline

    energy = [v for v in series["energy_released"] if v is not None]
    finite = [v for v in series["temperature"] if v is not None]

    def span(values: list) -> str:
        return f"{_num(min(values))} to {_num(max(values))}" if values else "no finite value"

    return [
        ("temperature", sparkline(series["temperature"], series["temperature_marks"]),
         f"{span(finite)}; ↑ +infinite, ↓ -infinite, · undefined"),
        ("energy released", sparkline(series["energy_released"]), span(energy)),
        ("verdict", "".join("R" if r else "." for r in series["retrain"]), "R retrain, . keep"),
    ]


def _runs(n: int) -> str:
    return f"{n} run" if n == 1 else f"{n} runs"


def history_table(history, series: dict, last: int = 20) -> Group:
    """``shiftemp history``: the trend's sparklines over every run, then the last runs."""
    from rich import box
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    from .history import latest

    records = history.records
    shown = latest(records, last)
    title = f"shiftemp history: {history.path}, {_runs(len(records))}"
    if len(shown) < len(records):
        title += f" (the last {len(shown)} below)"
    trend = Table(title=Text(title), box=box.SIMPLE, show_header=False, title_justify="left")
    for _ in range(3):
        trend.add_column()
    for what, line, legend in history_trend(series):
        trend.add_row(what, line, Text(legend, style="dim"))
    runs = Table(box=box.SIMPLE_HEAVY)
    for name in HISTORY_HEADERS:
        # a time is a number too: folded onto two lines, never cut to "202…"
        runs.add_column(name, justify="right" if name in ("T", "energy released", "of E_A", "dS") else "left",
                        overflow="fold" if name == "time" else "ellipsis")
    for item, row in zip(shown, history_rows(shown)):
        style = "bold red" if item["recommendation"]["retrain"] else "bold green"
        runs.add_row(*map(Text, row[:2]), Text(row[2], style=style), *map(Text, row[3:]))
    return Group(trend, keep_numbers(runs))


def history_markdown(history, series: dict, last: int = 20) -> str:
    """``shiftemp history --format markdown``: the trend and the last runs."""
    from .history import latest

    records = history.records
    shown = latest(records, last)
    lines = [f"### shiftemp history: {code(history.path)}, {_runs(len(records))}", ""]
    lines += [f"- {what}: `{line}` ({legend})" for what, line, legend in history_trend(series)]
    lines += ["", "| " + " | ".join(HISTORY_HEADERS) + " |", "|---|---|---|---|---:|---:|---:|---:|"]
    lines += ["| " + " | ".join(row) + " |" for row in history_rows(shown, cell)]
    return "\n".join(lines) + "\n"


def settings_table(rows, heading: str) -> Table:
    """``shiftemp config``: (setting, value, where it came from) rows."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    table = Table(title=Text(heading), box=box.SIMPLE_HEAVY, title_justify="left")
    for name in ("setting", "value", "from"):
        table.add_column(name)
    for row in rows:
        table.add_row(*map(Text, row))  # a value or a file name may hold [brackets]
    return table
