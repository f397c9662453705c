"""The command line: options -> one library call -> render -> exit code. No maths here.

Errors a user can fix (:class:`ShiftempError`) and click's usage errors become one line on stderr
and exit code 2, in :func:`main` only.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from typer.exceptions import Abort, Exit, TyperException
from rich.console import Console

from . import io, render
from .calibration import DEFAULT_SPLITS
from .decision import DEFAULT_MIN_GAIN
from .errors import ExitCode, OptionError, ShiftempError
from .laws import InitLaw
from .models import Family, Loss
from .render import Format
from .typetwo import Engine, EntropyKind, compare as compare_datasets

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


def stdout_console(no_color: bool = False) -> Console:
    """The console for results; plain and wide when stdout is not a terminal."""
    color = not no_color and "NO_COLOR" not in os.environ
    terminal = sys.stdout.isatty()
    return Console(
        file=sys.stdout, no_color=not color, width=None if terminal else 110,
        highlight=False, soft_wrap=not terminal,
    )


def _network_options(model, hidden: str, activation: str, epochs) -> dict:
    """The --model mlp options, parsed; empty for the linear families."""
    if model is not Family.MLP:
        return {}
    from .heat import parse_activations, parse_hidden

    activations = parse_activations(activation)
    if len(activations) > 1:
        raise OptionError("compare --model mlp takes one --activation; `shiftemp engine` compares several.")
    return {"hidden": parse_hidden(hidden), "activation": activations[0].value, "epochs": epochs}


def note(message: str, quiet: bool) -> None:
    if not quiet:
        print(f"shiftemp: note: {message}", file=sys.stderr)


class progress_bar:
    """A rich progress bar on stderr for the passes over the data, as a context manager whose
    value is the library's ``progress`` callback; ``None`` (no bar) unless stderr is a terminal
    and not ``quiet``."""

    def __init__(self, quiet: bool):
        self.bar = None
        if not quiet and sys.stderr.isatty():
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(
                TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed:,} rows"),
                TimeElapsedColumn(), console=Console(file=sys.stderr), transient=True,
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
    folds: Annotated[int, typer.Option(help="K of the cross-fitting of the refreshed model.")] = 5,
    entropy: Annotated[EntropyKind, typer.Option(help="Entropy of the transition: of the data, or of the fitted parameters.")] = EntropyKind.DATA,
    min_gain: Annotated[float, typer.Option(help="Fraction of the loss a refresh must remove to be recommended.")] = DEFAULT_MIN_GAIN,
    seed: Annotated[int, typer.Option(help="Seed of the fold assignment.")] = 0,
    format: Annotated[Format, typer.Option("--format", "-f", help="Report format.")] = Format.TABLE,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write the report to FILE (atomically) instead of stdout.")] = None,
    fail_on_retrain: Annotated[bool, typer.Option("--fail-on-retrain", help="Exit with code 1 when the recommendation is retrain (a CI gate).")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the one-line verdict; no notes.")] = False,
    no_color: Annotated[bool, typer.Option("--no-color", help="No colour (also: the NO_COLOR environment variable).")] = False,
    engine: Annotated[Engine, typer.Option(help="Where to run: memory; stream (record batches, bounded memory); dask (a Dask cluster); auto: stream inputs over 2M rows or too big for memory.")] = Engine.AUTO,
    scheduler: Annotated[Optional[str], typer.Option(help="Dask scheduler address for --engine dask. Default: a local cluster.")] = None,
    batch_size: Annotated[int, typer.Option(help="Rows per record batch of the stream and dask engines.")] = io.BATCH_ROWS,
    time_column: Annotated[Optional[str], typer.Option(help="Column that orders the rows in time: never a feature; --calibrate splits the reference into consecutive windows by it.")] = None,
    calibrate: Annotated[bool, typer.Option("--calibrate", help="Measure the null spread of dE and dS on the reference alone (repeated self-splits): report the ambient temperature and widen the decision's intervals by it.")] = False,
    calibration_splits: Annotated[int, typer.Option(help="Self-splits of --calibrate.")] = DEFAULT_SPLITS,
    hidden: Annotated[str, typer.Option(help="--model mlp: hidden layer sizes, comma-separated.")] = "64",
    activation: Annotated[str, typer.Option(help="--model mlp: identity, relu, tanh or logistic.")] = "relu",
    epochs: Annotated[Optional[int], typer.Option(help="--model mlp: training epochs. Default: about 10,000 Adam steps of 200 rows.")] = None,
) -> int:
    """Compare REFERENCE with SHIFTED and recommend whether to retrain.

    Exit codes: 0 ran; 1 retrain recommended and --fail-on-retrain given; 2 usage or input error.
    """
    if output is not None:
        io.check_output(output, (reference, shifted))
    with progress_bar(quiet) as progress:
        report = compare_datasets(
            reference, shifted, target=target, features=_columns(features),
            exclude=_columns(exclude), model=model, loss=loss, folds=folds, entropy=entropy,
            min_gain=min_gain, seed=seed, engine=engine, scheduler=scheduler,
            batch_size=batch_size, progress=progress, time_column=time_column,
            calibrate=calibrate, calibration_splits=calibration_splits,
            **_network_options(model, hidden, activation, epochs),
        )
    for message in report.notes:
        note(message, quiet)
    if output is not None:
        io.write_text(output, render.render_text(report, format))
    elif quiet:
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
    batch_size: Annotated[int, typer.Option(help="Rows per record batch.")] = io.BATCH_ROWS,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No notes, no progress bar, no summary line.")] = False,
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
        made = profiles.merge([profiles.load(path) for path in data])
    else:
        if len(data) != 1:
            raise OptionError(
                f"profile takes one DATA, got {len(data)}; to merge profiles of partitions, pass"
                " --merge."
            )
        with progress_bar(quiet) as progress:
            made = profiles.build(
                data[0], target=target, features=_columns(features), exclude=_columns(exclude),
                model=model, loss=loss, batch_size=batch_size, progress=progress,
                engine=engine.value, scheduler=scheduler,
            )
    profiles.save(made, output)
    for message in made.notes:
        note(message, quiet)
    if not quiet:
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
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write the report to FILE (atomically) instead of stdout.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only one line per activation; no notes.")] = False,
    no_color: Annotated[bool, typer.Option("--no-color", help="No colour (also: the NO_COLOR environment variable).")] = False,
) -> int:
    """Train a network on DATA and read its training as a heat engine: per-layer and global
    temperatures, work, heat, work efficiency and the engine type."""
    from .heat import parse_activations, parse_hidden, run_engine
    from .network import InitScheme

    run = run_engine(
        io.read(data), target=target, features=_columns(features), exclude=_columns(exclude),
        hidden=parse_hidden(hidden), activations=parse_activations(activation), loss=loss,
        init=InitScheme(kind=init, scale=scale, mix=mix), epochs=epochs, max_rows=max_rows,
        seed=seed,
    )
    for message in run.notes:
        note(message, quiet)
    if output is not None:
        io.write_text(output, render.render_engine_text(run, format))
    elif quiet:
        for report in run.reports:
            print(f"{report.activation.value}: eta {report.efficiency:.3f}, {report.engine_type.value}")
    elif format is Format.TABLE:
        stdout_console(no_color).print(render.engine_table(run))
    else:
        sys.stdout.write(render.render_engine_text(run, format))
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


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (``python -m shiftemp`` and the script exit with it)."""
    command = typer.main.get_command(app)
    try:
        code = command.main(args=argv, prog_name="shiftemp", standalone_mode=False)
    except ShiftempError as exc:
        print(f"shiftemp: error: {exc}", file=sys.stderr)
        code = exc.exit_code
    except Exit as exc:
        code = exc.exit_code
    except TyperException as exc:  # click's usage errors, vendored by typer
        code = usage_error(exc)
    except (KeyboardInterrupt, Abort):
        print("shiftemp: interrupted", file=sys.stderr)
        code = ExitCode.INTERRUPTED
    except BrokenPipeError:
        # the reader went away (| head): stop quietly, and keep Python from complaining at exit
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        code = ExitCode.OK
    if argv is None:
        sys.exit(int(code or 0))
    return int(code or 0)
