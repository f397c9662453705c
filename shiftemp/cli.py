"""The command line: options -> one library call -> render -> exit code. No maths here.

Errors a user can fix (:class:`ShiftempError`) and click's usage errors become one line on stderr
and exit code 2, in :func:`main` only.
"""

from __future__ import annotations

import gc
import logging
import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from typer.exceptions import Abort, Exit, TyperException

from . import interrupt, io, render
from .decision import DEFAULT_MIN_GAIN
from .defaults import DEFAULT_SPLITS, InitLaw
from .errors import ExitCode, OptionError, ShiftempError
from .models import Family, Loss
from .render import Format
from .typetwo import Engine, EntropyKind, compare as compare_datasets

if TYPE_CHECKING:
    from rich.console import Console

app = typer.Typer(
    name="shiftemp",
    help="Does a data shift matter to the model? The thermodynamic temperature of a retrain.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _columns(value: Optional[str]) -> Optional[list[str]]:
    if value is None:
        return None
    return [part.strip() for part in value.split(",") if part.strip()]


def apply_config(ctx: typer.Context, value: Optional[Path]) -> Optional[Path]:
    """``--config``'s eager callback: the settings of the configuration file (``--config FILE``,
    else ./shiftemp.toml, else ./pyproject.toml [tool.shiftemp]) become the defaults of this
    command's options, so a flag on the command line overrides them (shiftemp/config.py)."""
    from . import config as configuration

    loaded = configuration.load(value)
    ctx.default_map = {**(ctx.default_map or {}), **checked_settings(ctx, loaded)}
    return value


def checked_settings(ctx: typer.Context, loaded) -> dict:
    """The file's settings that ``ctx``'s command takes, each checked by its option, so a bad
    value is refused naming the file."""
    params = {param.name: param for param in ctx.command.params}
    out = {}
    for name, value in loaded.values.items():
        param = params.get(name)
        if param is None:
            continue
        try:
            param.process_value(ctx, value)
        except typer.BadParameter as exc:
            reason = exc.message.removeprefix("Value error, ").rstrip(".")
            raise OptionError(
                f"{loaded.source}: {name} = {value!r}: {reason}. Fix the value or remove it."
            ) from None
        out[name] = value
    return out


def stdout_console(no_color: bool = False, width: int = 110) -> Console:
    """The console for results; plain and wide when stdout is not a terminal."""
    from rich.console import Console  # here: a JSON report to a file does not pay its import

    color = not no_color and not os.environ.get("NO_COLOR")
    terminal = sys.stdout.isatty()
    return Console(
        file=sys.stdout, no_color=not color, width=None if terminal else width,
        highlight=False, soft_wrap=not terminal,
    )


@contextmanager
def writing_stdout():
    """Around a command's writing of its results to stdout. A reader that went away (``| head``)
    ends the output quietly, and the command goes on to return the code its run earned (1 for
    retrain with --fail-on-retrain: a CI gate must not read 0); a stdout that cannot be written
    (closed, a full disk) is a one-line error, exit 2. The output is flushed here, so that a
    failure is met here rather than by Python at exit."""
    if sys.stdout is None:  # started with stdout closed (>&-)
        raise ShiftempError("cannot write to standard output: it is closed.")
    try:
        yield
        sys.stdout.flush()
    except BrokenPipeError:
        discard_stdout()
    except OSError as exc:
        discard_stdout()
        raise ShiftempError(f"cannot write to standard output: {exc.strerror or exc}.") from exc


def discard_stdout() -> None:
    """Point stdout's descriptor at /dev/null: what is still buffered for a reader that is gone
    would fail again when Python flushes it at exit, and be reported."""
    try:
        descriptor = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # no descriptor (a test's capture)
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, descriptor)
    os.close(devnull)


def _choices(text: str, kind, option: str) -> tuple:
    """``"a,b"`` or ``"all"`` -> the members of the enum ``kind`` named; names the valid ones on
    error."""
    valid = [item.value for item in kind]
    names = valid if text.strip() == "all" else [p.strip() for p in text.split(",") if p.strip()]
    bad = [name for name in names if name not in valid]
    if bad or not names:
        raise OptionError(f"{option} takes {', '.join(valid)} or all (comma-separated); got {text!r}.")
    return tuple(dict.fromkeys(kind(name) for name in names))


def _sizes(text: str) -> tuple[int, ...]:
    """``"64,32"`` -> ``(64, 32)``: the --hidden layer sizes."""
    try:
        sizes = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        sizes = ()
    if not sizes or min(sizes) < 1:
        raise OptionError(f"--hidden takes positive layer sizes separated by commas, e.g. 64,32; got {text!r}.")
    return sizes


def _network_options(model, hidden: str, activation: str, epochs) -> dict:
    """The --model mlp options, parsed; empty for the linear families."""
    if model is not Family.MLP:
        return {}
    from .network import Activation

    activations = _choices(activation, Activation, "--activation")
    if len(activations) > 1:
        raise OptionError("compare --model mlp takes one --activation; `shiftemp engine` compares several.")
    return {"hidden": _sizes(hidden), "activation": activations[0].value, "epochs": epochs}


def _dash_is_stdout(value: Optional[Path]) -> Optional[Path]:
    """``-o -``: stdout, as for most command-line tools (it wrote a file named "-")."""
    return None if value is not None and str(value) == "-" else value


def _check_outputs(inputs: tuple, paths: dict[str, Path | None], to_stdout: bool) -> None:
    """Before a run: refuse an output option (name: path, None when not given) that names an
    input or a file in an input folder (:func:`io.check_output`), and two that name one file
    (the second write would replace or mangle the first: an HTML page where the JSON report was
    expected). The history file is appended to, not written: it is checked by history.check.
    ``to_stdout``: results are to be printed, so a closed stdout is refused now, not after the
    run."""
    if to_stdout and sys.stdout is None:
        raise ShiftempError("cannot write to standard output: it is closed.")
    seen: dict[Path, str] = {}
    for option, path in paths.items():
        if path is None:
            continue
        if option != "--history":
            io.check_output(path, inputs, option)
        key = Path(path).resolve()
        if key in seen:
            raise OptionError(f"{option} {path} is also the {seen[key]} file; give each its own file.")
        seen[key] = option


def note(message: str, quiet: bool) -> None:
    if not quiet:
        print(f"shiftemp: note: {message}", file=sys.stderr)


class progress_bar:
    """A rich progress bar on stderr for the passes over the data, as a context manager whose
    value is the library's ``progress`` callback; ``None`` (no bar) unless stderr is a terminal
    and not ``quiet``."""

    def __init__(self, quiet: bool, no_color: bool = False):
        self.bar = None
        if not quiet and sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(
                # markup=False: a path is not rich markup ("[/x]" in it would raise)
                TextColumn("{task.description}", markup=False), BarColumn(),
                TextColumn("{task.completed:,} rows"),
                TimeElapsedColumn(), console=Console(file=sys.stderr, no_color=no_color or None),
                transient=True,
            )
        self.tasks: dict[str, int] = {}

    def __enter__(self):
        if self.bar is None:
            return None
        self.bar.start()
        return self.update

    def update(self, task: str, done: int, total: Optional[int]) -> None:
        if task not in self.tasks:
            self.tasks[task] = self.bar.add_task(task, total=total)
        self.bar.update(self.tasks[task], completed=done)

    def __exit__(self, *exc_info) -> None:
        if self.bar is not None:
            self.bar.stop()


@app.command()
def compare(
    reference: Annotated[Path, typer.Argument(help="The data the model was trained on (.parquet, .csv, .csv.gz, or a folder of parquet parts), or its .shiftemp profile (shiftemp profile).", show_default=False)],
    shifted: Annotated[Path, typer.Argument(help="The fresh batch, in any of the same formats.", show_default=False)],
    target: Annotated[Optional[str], typer.Option(help="Target column. Default: the one column named target, label, y or class.")] = None,
    features: Annotated[Optional[str], typer.Option(help="Comma-separated feature columns. Default: every column but the target.")] = None,
    exclude: Annotated[Optional[str], typer.Option(help="Comma-separated columns to leave out.")] = None,
    model: Annotated[Optional[Family], typer.Option(help="Model family. Default: linear for a numeric target with many values, else logistic. mlp: a neural network (see --hidden, --activation).")] = None,
    loss: Annotated[Optional[Loss], typer.Option(help="Loss: mse or mae (linear), ce (logistic). Default: mse / ce.")] = None,
    folds: Annotated[int, typer.Option(help="K of the cross-fitting of the refreshed model, 2 to 1,000.")] = 5,
    entropy: Annotated[EntropyKind, typer.Option(help="Entropy of the transition: of the data, or of the fitted parameters.")] = EntropyKind.DATA,
    min_gain: Annotated[float, typer.Option(help="Fraction of the loss a refresh must remove to be recommended.")] = DEFAULT_MIN_GAIN,
    seed: Annotated[int, typer.Option(help="Seed of the fold assignment.")] = 0,
    format: Annotated[Format, typer.Option("--format", "-f", help="Report format.")] = Format.TABLE,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", callback=_dash_is_stdout, help="Write the report to FILE (atomically; a fifo or device such as /dev/stdout is written into) instead of stdout; - is stdout.")] = None,
    html: Annotated[Optional[Path], typer.Option("--html", help="Also write a self-contained HTML report (charts inline, no network) to FILE.")] = None,
    history: Annotated[Optional[Path], typer.Option("--history", help="Append this run to a history: FILE.jsonl (a JSON line) or FILE.sqlite / FILE.db (a SQLite table); see shiftemp history.")] = None,
    fail_on_retrain: Annotated[bool, typer.Option("--fail-on-retrain/--no-fail-on-retrain", help="Exit with code 1 when the recommendation is retrain (a CI gate).")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the one-line verdict; no notes.")] = False,
    no_color: Annotated[bool, typer.Option("--no-color", help="No colour (also: the NO_COLOR environment variable).")] = False,
    engine: Annotated[Engine, typer.Option(help="Where to run: memory; stream (record batches, bounded memory); dask (a Dask cluster); auto: stream inputs over 2M rows or too big for memory.")] = Engine.AUTO,
    scheduler: Annotated[Optional[str], typer.Option(help="Dask scheduler address for --engine dask. Default: a local cluster.")] = None,
    batch_size: Annotated[Optional[int], typer.Option(help="Rows per record batch of the stream and dask engines. Default: about 4 million values' worth, at most 65,536 rows (131,072 in the first pass over each input).")] = None,
    checksum: Annotated[bool, typer.Option("--checksum/--no-checksum", help="Report each input's SHA-256; --no-checksum skips reading every byte once more (large data).")] = True,
    time_column: Annotated[Optional[str], typer.Option(help="Column that orders the rows in time: never a feature; --calibrate splits the reference into consecutive windows by it.")] = None,
    calibrate: Annotated[bool, typer.Option("--calibrate/--no-calibrate", help="Measure the null spread of dE and dS on the reference alone (repeated self-splits): report the ambient temperature and widen the decision's intervals by it.")] = False,
    calibration_splits: Annotated[int, typer.Option(help="Self-splits of --calibrate, 3 to 1,000.")] = DEFAULT_SPLITS,
    init: Annotated[InitLaw, typer.Option(help="Initialization law of the Type I temperatures reported for each side.")] = InitLaw.NORMAL,
    hidden: Annotated[str, typer.Option(help="--model mlp: hidden layer sizes, comma-separated.")] = "64",
    activation: Annotated[str, typer.Option(help="--model mlp: identity, relu, tanh or logistic.")] = "relu",
    epochs: Annotated[Optional[int], typer.Option(help="--model mlp: training epochs. Default: about 10,000 Adam steps of 200 rows.")] = None,
    config: Annotated[Optional[Path], typer.Option("--config", help="Defaults for these options from a TOML file. Default: ./shiftemp.toml, else [tool.shiftemp] of ./pyproject.toml. Flags override it; see shiftemp config.", callback=apply_config, is_eager=True)] = None,
) -> int:
    """Compare REFERENCE with SHIFTED and recommend whether to retrain.

    Exit codes: 0 ran; 1 retrain recommended and --fail-on-retrain given (also when stdout's
    reader went away); 2 usage or input error, or an output that cannot be written.
    """
    _check_outputs((reference, shifted), {"--output": output, "--html": html, "--history": history},
                   quiet or output is None)
    if history is not None:
        from .history import check as check_history

        check_history(history)
    with progress_bar(quiet, no_color) as progress:
        report = compare_datasets(
            reference, shifted, target=target, features=_columns(features),
            exclude=_columns(exclude), model=model, loss=loss, folds=folds, entropy=entropy,
            min_gain=min_gain, seed=seed, engine=engine, scheduler=scheduler,
            batch_size=batch_size, progress=progress, checksum=checksum, time_column=time_column,
            calibrate=calibrate, calibration_splits=calibration_splits,
            init=init.value, **_network_options(model, hidden, activation, epochs),
        )
    interrupt.check()  # before any output: the run may have finished past a dropped Ctrl-C
    for message in report.notes:
        note(message, quiet)
    # both rendered before either is written: a page that fails to render leaves no report
    text = render.render_text(report, format) if output is not None else None
    page = None
    if html is not None:
        from .html import comparison_html

        page = comparison_html(report)
    if text is not None:
        io.write_text(output, text)
    if page is not None:
        io.write_text(html, page)
    if history is not None:
        from .history import append, record

        append(history, record(report))
    if quiet or output is None:
        with writing_stdout():
            if quiet:
                print(render.verdict_line(report))
            else:
                render.show(report, format, stdout_console(no_color))
    if fail_on_retrain and report.recommendation.retrain:
        return ExitCode.RETRAIN
    return ExitCode.OK


@app.command()
def profile(
    data: Annotated[list[Path], typer.Argument(help="The reference data (.parquet, .csv, .csv.gz, or a folder of parquet parts); with --merge, the profiles to merge.", show_default=False)],
    output: Annotated[Path, typer.Option("--output", "-o", help="The profile to write (FILE.shiftemp), atomically.", show_default=False)],
    merge: Annotated[bool, typer.Option("--merge", help="Merge the profiles of partitions DATA... into the profile of their union.")] = False,
    target: Annotated[Optional[str], typer.Option(help="Target column. Default: the one column named target, label, y or class.")] = None,
    features: Annotated[Optional[str], typer.Option(help="Comma-separated feature columns. Default: every column but the target.")] = None,
    exclude: Annotated[Optional[str], typer.Option(help="Comma-separated columns to leave out.")] = None,
    model: Annotated[Optional[Family], typer.Option(help="Model family. Default: linear for a numeric target with many values, else logistic. mlp: a neural network (see --hidden, --activation).")] = None,
    loss: Annotated[Optional[Loss], typer.Option(help="Loss: mse or mae (linear), ce (logistic). Default: mse / ce.")] = None,
    engine: Annotated[Engine, typer.Option(help="dask reads DATA on a Dask cluster; any other value streams it here.")] = Engine.STREAM,
    scheduler: Annotated[Optional[str], typer.Option(help="Dask scheduler address for --engine dask. Default: a local cluster.")] = None,
    batch_size: Annotated[Optional[int], typer.Option(help="Rows per record batch. Default: about 4 million values' worth, at most 65,536 rows (131,072 in the first pass over each input).")] = None,
    checksum: Annotated[bool, typer.Option("--checksum/--no-checksum", help="Record the data's SHA-256 in the profile (--no-checksum skips reading every byte once more).")] = True,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No notes, no progress bar, no summary line.")] = False,
    no_color: Annotated[bool, typer.Option("--no-color", help="No colour in the progress bar (also: the NO_COLOR environment variable).")] = False,
) -> int:
    """Save the reference's statistics and fitted model to a .shiftemp profile, to compare
    against later: shiftemp compare reference.shiftemp new.parquet.

    Exit codes: 0 written; 2 usage or input error (nothing is written).
    """
    from . import profile as profiles

    if not output.name.endswith(profiles.SUFFIX):
        raise OptionError(
            f"--output {output} must end with {profiles.SUFFIX}: compare recognises a profile by"
            " its name."
        )
    io.check_output(output, data)
    if merge:
        if any(option is not None for option in (target, features, exclude, model, loss)):
            raise OptionError(
                "--merge takes the options of the profiles it merges; drop --target, --features,"
                " --exclude, --model and --loss."
            )
        made = profiles.merge([profiles.load(path) for path in data], batch_size=batch_size)
    else:
        if len(data) != 1:
            raise OptionError(
                f"profile takes one DATA, got {len(data)}; to merge profiles of partitions, pass"
                " --merge."
            )
        with progress_bar(quiet, no_color) as progress:
            made = profiles.build(
                data[0], target=target, features=_columns(features), exclude=_columns(exclude),
                model=model, loss=loss, batch_size=batch_size, progress=progress,
                engine=engine.value, scheduler=scheduler, checksum=checksum,
            )
    profiles.save(made, output)
    for message in made.notes:
        note(message, quiet)
    if not quiet:
        with writing_stdout():
            print(profiles.describe(made, output))
    return ExitCode.OK


@app.command()
def engine(
    data: Annotated[Path, typer.Argument(help="The training data (.parquet, .csv, .csv.gz, or a folder of parquet parts).", show_default=False)],
    target: Annotated[Optional[str], typer.Option(help="Target column. Default: the one column named target, label, y or class.")] = None,
    features: Annotated[Optional[str], typer.Option(help="Comma-separated feature columns. Default: every column but the target.")] = None,
    exclude: Annotated[Optional[str], typer.Option(help="Comma-separated columns to leave out.")] = None,
    hidden: Annotated[str, typer.Option(help="Hidden layer sizes, comma-separated.")] = "64",
    activation: Annotated[str, typer.Option(help="identity, relu, tanh or logistic; several, comma-separated, compares them in one table.")] = "relu",
    loss: Annotated[Optional[Loss], typer.Option(help="mse or mae (regression), ce (classification). Default: from the target.")] = None,
    init: Annotated[InitLaw, typer.Option(help="Initialization law of every parameter.")] = InitLaw.NORMAL,
    scale: Annotated[Optional[float], typer.Option(help="Standard deviation of the initialization. Default: the fan-in rule (He for relu layers, LeCun otherwise).")] = None,
    mix: Annotated[float, typer.Option(help="Weight of the normal component of the mixed law.")] = 0.5,
    epochs: Annotated[Optional[int], typer.Option(help="Training epochs. Default: about 10,000 Adam steps of 200 rows.")] = None,
    max_rows: Annotated[int, typer.Option(help="Train on a seeded sample of at most this many rows.")] = 100_000,
    seed: Annotated[int, typer.Option(help="Seed of the initialization, sampling and shuffling.")] = 0,
    format: Annotated[Format, typer.Option("--format", "-f", help="Report format.")] = Format.TABLE,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", callback=_dash_is_stdout, help="Write the report to FILE (atomically; a fifo or device such as /dev/stdout is written into) instead of stdout; - is stdout.")] = None,
    html: Annotated[Optional[Path], typer.Option("--html", help="Also write a self-contained HTML report (charts inline, no network) to FILE.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only one line per activation; no notes.")] = False,
    no_color: Annotated[bool, typer.Option("--no-color", help="No colour (also: the NO_COLOR environment variable).")] = False,
) -> int:
    """Train a network on DATA and read its training as a heat engine: per-layer and global
    temperatures, work, heat, work efficiency and the engine type."""
    from .heat import run_engine
    from .network import Activation
    from .network import InitScheme

    _check_outputs((data,), {"--output": output, "--html": html}, output is None)
    run = run_engine(
        io.read(data), target=target, features=_columns(features), exclude=_columns(exclude),
        hidden=_sizes(hidden), activations=_choices(activation, Activation, "--activation"), loss=loss,
        init=InitScheme(kind=init, scale=scale, mix=mix), epochs=epochs, max_rows=max_rows,
        seed=seed,
    )
    for message in run.notes:
        note(message, quiet)
    if html is not None:
        from .html import engine_html

        io.write_text(html, engine_html(run))
    if output is not None:
        io.write_text(output, render.render_run_text(run, format))
        return ExitCode.OK
    with writing_stdout():
        if quiet:
            for report in run.reports:
                print(f"{report.activation.value}: eta {report.efficiency:.3f}, {report.engine_type.value}")
        elif format is Format.TABLE:
            stdout_console(no_color).print(render.engine_table(run))
        else:
            sys.stdout.write(render.render_run_text(run, format))
    return ExitCode.OK


@app.command("history")
def history_command(
    file: Annotated[Optional[Path], typer.Argument(help="The history compare --history wrote: FILE.jsonl, FILE.sqlite or FILE.db. Default: the history setting of the configuration file.", show_default=False)] = None,
    last: Annotated[int, typer.Option(help="Rows: the last N runs (the sparklines cover every run); 0 for all.")] = 20,
    format: Annotated[Format, typer.Option("--format", "-f", help="table; json (the records, a list); markdown.")] = Format.TABLE,
    html: Annotated[Optional[Path], typer.Option("--html", help="Also draw the trend in a self-contained HTML page, FILE.")] = None,
    no_color: Annotated[bool, typer.Option("--no-color", help="No colour (also: the NO_COLOR environment variable).")] = False,
    config: Annotated[Optional[Path], typer.Option("--config", help="The configuration file whose history setting is the default FILE.")] = None,
) -> int:
    """Show the trend of a run history: sparklines of the temperature and the energy released
    over every run, and the last runs. A line that cannot be read is reported on stderr and
    skipped."""
    from . import history as runs

    if file is None:
        from . import config as configuration

        loaded = configuration.load(config)
        if "history" not in loaded.values:
            raise OptionError(
                "history needs FILE (the file of compare --history), or a history setting in"
                " shiftemp.toml, [tool.shiftemp] of pyproject.toml or --config FILE."
            )
        file = Path(loaded.values["history"])
    found = runs.read(file)
    shown = runs.latest(found.records, last)  # a bad --last before any page is written
    for skipped in found.skipped:
        print(f"shiftemp: warning: {found.path} {skipped.where}: {skipped.reason}; skipped",
              file=sys.stderr)
    series = runs.series(found.records)
    if html is not None:
        from .html import history_html

        io.check_output(html, (file,), "--html")
        io.write_text(html, history_html(found, series))
    with writing_stdout():
        if format is Format.TABLE:
            stdout_console(no_color).print(render.history_table(found, series, last))
        elif format is Format.MARKDOWN:
            sys.stdout.write(render.history_markdown(found, series, last))
        else:
            import json

            sys.stdout.write(json.dumps(list(shown), indent=2, ensure_ascii=False) + "\n")
    return ExitCode.OK


def _setting_text(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(getattr(value, "value", value))


@app.command("config")
def config_command(
    config: Annotated[Optional[Path], typer.Option("--config", help="Read this TOML file instead of ./shiftemp.toml or [tool.shiftemp] of ./pyproject.toml.")] = None,
    no_color: Annotated[bool, typer.Option("--no-color", help="No colour (also: the NO_COLOR environment variable).")] = False,
) -> int:
    """Show the effective settings of shiftemp compare and where each came from: the
    configuration file or the built-in default. A flag on the command line overrides both."""
    from . import config as configuration

    loaded = configuration.load(config)
    command = typer.main.get_command(app).get_command(None, "compare")
    given = checked_settings(typer.Context(command), loaded)
    defaults = {param.name: param.default for param in command.params}
    rows = [
        (name, _setting_text(given[name]), loaded.source) if name in given
        else (name, _setting_text(defaults[name]), "default")
        for name in configuration.SETTINGS if name in defaults
    ]
    heading = (
        f"shiftemp compare settings from {loaded.source}" if loaded.source else
        "shiftemp compare settings: built-in defaults (no shiftemp.toml, no [tool.shiftemp] in"
        " pyproject.toml here)"
    )
    with writing_stdout():
        stdout_console(no_color).print(render.settings_table(rows, heading))
    return ExitCode.OK


@app.command("schema")
def schema_command() -> int:
    """Print the JSON Schema of every JSON document shiftemp writes: the compare and engine
    reports and the history records, told apart by their kind."""
    from importlib.resources import files

    with writing_stdout():
        sys.stdout.write(files("shiftemp").joinpath("schema.json").read_text(encoding="utf-8"))
    return ExitCode.OK


@app.command()
def temperature(
    data: Annotated[Path, typer.Argument(help="The training data (.parquet, .csv, .csv.gz, or a folder of parquet parts).", show_default=False)],
    target: Annotated[Optional[str], typer.Option(help="Target column. Default: the one column named target, label, y or class.")] = None,
    features: Annotated[Optional[str], typer.Option(help="Comma-separated feature columns. Default: every column but the target.")] = None,
    exclude: Annotated[Optional[str], typer.Option(help="Comma-separated columns to leave out.")] = None,
    model: Annotated[Optional[Family], typer.Option(help="linear (mse, mae) or logistic (ce); a --loss of the other family is refused. Default: from the target.")] = None,
    loss: Annotated[Optional[str], typer.Option(help="mse, mae (numeric target), ce (classes); comma-separated, or all of the model's. Default: mse or ce from the target.")] = None,
    init: Annotated[str, typer.Option(help="Initialization law: normal, uniform, mixed; comma-separated, or all.")] = "all",
    scale: Annotated[Optional[float], typer.Option(help="Standard deviation s of the normal law (and of the mixed law's normal part), from 1e-6 to 1e6. Default: 1/sqrt(fan_in), stated in the output.")] = None,
    width: Annotated[Optional[float], typer.Option(help="Half-width a of the uniform law (and of the mixed law's uniform part). Default: sqrt(3) s.")] = None,
    mix: Annotated[Optional[float], typer.Option(help="Weight pi of the normal part of the mixed law. Default: 0.5.")] = None,
    method: Annotated[str, typer.Option(help="analytic, asymptotic, monte-carlo; comma-separated, or all.")] = "all",
    draws: Annotated[int, typer.Option(help="Monte Carlo draws of the parameters.")] = 100_000,
    seed: Annotated[int, typer.Option(help="Seed of the Monte Carlo draws and row subsampling.")] = 0,
    format: Annotated[Format, typer.Option("--format", "-f", help="Report format.")] = Format.TABLE,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", callback=_dash_is_stdout, help="Write the report to FILE (atomically; a fifo or device such as /dev/stdout is written into) instead of stdout; - is stdout.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only T_I per combination; no notes.")] = False,
    no_color: Annotated[bool, typer.Option("--no-color", help="No colour (also: the NO_COLOR environment variable).")] = False,
) -> int:
    """The Type I temperature of training a model on DATA from its initialization: E_A, E_B,
    S_A, S_B, dE, dS and T_I for each loss and initialization law, by each method side by side."""
    from .laws import InitLaw as Law
    from .training import run_temperature
    from .typeone import Method

    losses = loss if loss in (None, "all") else _choices(loss, Loss, "--loss")
    _check_outputs((data,), {"--output": output}, output is None)
    run = run_temperature(
        io.read(data), target=target, features=_columns(features), exclude=_columns(exclude),
        model=model, losses=losses, laws=_choices(init, Law, "--init"), scale=scale, width=width, mix=mix,
        methods=_choices(method, Method, "--method"), draws=draws, seed=seed,
    )
    for message in run.notes:
        note(message, quiet)
    if output is not None:
        io.write_text(output, render.render_run_text(run, format))
        return ExitCode.OK
    with writing_stdout():
        if quiet:
            for result in run.results:
                best = result.estimates[0]
                print(f"{result.loss.value}/{result.law.to_dict()['kind']}: T_I {best.temperature.describe()} ({best.method.value})")
        elif format is Format.TABLE:
            stdout_console(no_color, width=150).print(render.temperature_table(run))
        else:
            sys.stdout.write(render.render_run_text(run, format))
    return ExitCode.OK


@app.callback()
def _root() -> None:
    """shiftemp: does a data shift matter to the model, and should you retrain?"""


def usage_error(exc: TyperException) -> int:
    """Report a usage error in one line on stderr (the CI contract); a bare command that needs
    arguments shows its help instead."""
    if type(exc).__name__ == "NoArgsIsHelpError":
        exc.show()
        return ExitCode.USAGE
    message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
    context = getattr(exc, "ctx", None)
    hint = f" (see '{context.command_path} --help')" if context is not None else ""
    print(f"shiftemp: error: {' '.join(message.split())}{hint}", file=sys.stderr)
    return ExitCode.USAGE


def _interrupted(process: bool) -> int:
    # what Ctrl-C cut short may still log on its way down (a Dask cluster half started: "Task
    # exception was never retrieved"); the one line below is all the user asked for. Only in a
    # process of its own: main(argv) called in-process leaves its caller's logging alone
    if process:
        logging.disable(logging.CRITICAL)
    if interrupt.terminated():
        print("shiftemp: terminated", file=sys.stderr)
        return ExitCode.TERMINATED
    print("shiftemp: interrupted", file=sys.stderr)
    return ExitCode.INTERRUPTED


#: What to do about running out of memory, by command: each names options it has.
OUT_OF_MEMORY = {
    "compare": "use --engine stream (bounded memory), or compare fewer rows or columns",
    "profile": "use --batch-size with fewer rows, or profile fewer columns",
    "engine": "train on fewer rows (--max-rows) or a smaller network (--hidden)",
    "temperature": "use fewer --draws, or fewer rows or columns",
}


def _out_of_memory(args: list[str]) -> str:
    command = next((arg for arg in args if not arg.startswith("-")), "")
    fix = OUT_OF_MEMORY.get(command)
    return f"out of memory; {fix}." if fix else "out of memory."


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (``python -m shiftemp`` and the script exit with it)."""
    if argv is None:  # a process of its own: what the imports made lives as long as it does;
        # out of the collector's sight, its full collections (the one at exit took 0.1 s of a
        # 10M-row compare) do not walk those objects again
        gc.freeze()
        interrupt.install()
    command = typer.main.get_command(app)
    if (getattr(sys.stdout, "encoding", None) or "utf-8").lower().replace("-", "") != "utf8":
        # a terminal that cannot show a column name (or a table's rules) gets an escape, not a
        # UnicodeEncodeError traceback; --output files are UTF-8 whatever the terminal
        try:
            sys.stdout.reconfigure(errors="backslashreplace")
        except (AttributeError, ValueError):  # not a text stream (a test's capture)
            pass
    try:
        code = command.main(args=argv, prog_name="shiftemp", standalone_mode=False)
        interrupt.check()
        if code == ExitCode.INTERRUPTED:  # typer turns Ctrl-C into a returned 130, silently
            code = _interrupted(argv is None)
    except ShiftempError as exc:
        print(f"shiftemp: error: {exc}", file=sys.stderr)
        code = exc.exit_code
    except Exit as exc:
        code = exc.exit_code
    except TyperException as exc:  # click's usage errors, vendored by typer
        code = usage_error(exc)
    except (KeyboardInterrupt, Abort):
        code = _interrupted(argv is None)
    except MemoryError:  # the pre-flight estimate (resources.py) was too low
        print(f"shiftemp: error: {_out_of_memory(sys.argv[1:] if argv is None else argv)}",
              file=sys.stderr)
        code = ExitCode.USAGE
    except (BrokenPipeError, SystemExit) as exc:
        # typer turns a broken pipe into sys.exit(1), which would read as "retrain" in a CI
        # gate. The commands' results meet a broken pipe in writing_stdout, which returns the
        # code the run earned; one that gets here broke in text no run made (--help): stop
        # quietly with 0, and keep Python from complaining when it flushes stdout at exit
        if isinstance(exc, SystemExit) and not isinstance(exc.__context__, BrokenPipeError):
            raise
        discard_stdout()
        code = ExitCode.OK
    if argv is None:
        sys.exit(int(code or 0))
    return int(code or 0)
