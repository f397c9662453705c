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
from .decision import DEFAULT_MIN_GAIN
from .errors import ExitCode, ShiftempError
from .models import Family, Loss
from .render import Format
from .typetwo import EntropyKind, compare as compare_datasets

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


def note(message: str, quiet: bool) -> None:
    if not quiet:
        print(f"shiftemp: note: {message}", file=sys.stderr)


@app.command()
def compare(
    reference: Annotated[Path, typer.Argument(help="The data the model was trained on (.parquet, .csv, .csv.gz, or a folder of parquet parts).", show_default=False)],
    shifted: Annotated[Path, typer.Argument(help="The fresh batch, in any of the same formats.", show_default=False)],
    target: Annotated[Optional[str], typer.Option(help="Target column. Default: the one column named target, label, y or class.")] = None,
    features: Annotated[Optional[str], typer.Option(help="Comma-separated feature columns. Default: every column but the target.")] = None,
    exclude: Annotated[Optional[str], typer.Option(help="Comma-separated columns to leave out.")] = None,
    model: Annotated[Optional[Family], typer.Option(help="Model family. Default: linear for a numeric target with many values, else logistic.")] = None,
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
) -> int:
    """Compare REFERENCE with SHIFTED and recommend whether to retrain.

    Exit codes: 0 ran; 1 retrain recommended and --fail-on-retrain given; 2 usage or input error.
    """
    if output is not None:
        io.check_output(output, (reference, shifted))
    report = compare_datasets(
        io.read(reference), io.read(shifted), target=target, features=_columns(features),
        exclude=_columns(exclude), model=model, loss=loss, folds=folds, entropy=entropy,
        min_gain=min_gain, seed=seed,
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
