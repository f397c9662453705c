"""One exception hierarchy for the errors a user can fix.

Anything raised from :class:`ShiftempError` is translated to a one-line message on stderr and
exit code 2 by the CLI, in one place. Any other exception is a bug and is allowed to surface.
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """The CI contract: what a pipeline can rely on."""

    OK = 0
    """The comparison ran (keep, or retrain without ``--fail-on-retrain``)."""
    RETRAIN = 1
    """Only with ``--fail-on-retrain``: the recommendation is retrain."""
    USAGE = 2
    """Any usage or input error; one line on stderr."""
    INTERRUPTED = 130
    """Ctrl-C."""
    TERMINATED = 143
    """SIGTERM (``kill``, a CI job's ``timeout``): 128 + 15, as a shell reports it."""


class ShiftempError(Exception):
    """An error the user can fix: bad input, bad option, incompatible files."""

    exit_code = ExitCode.USAGE


class InputError(ShiftempError):
    """A file cannot be read or does not hold usable data."""


class ColumnError(ShiftempError):
    """A requested or required column is missing, of the wrong type, or unusable."""


class OptionError(ShiftempError):
    """An option value, or a combination of options, is not valid."""


def check_seed(seed: int) -> None:
    """``--seed``, of every command: an integer in [0, 2^63), which every generator and hash
    that takes it accepts (numpy's generators refuse negative seeds; the fold hash needs 64
    bits)."""
    if not 0 <= seed < 2 ** 63:
        raise OptionError(f"--seed must be an integer from 0 to 2^63 - 1; got {seed}.")


def check_scheduler_engine(engine: str, scheduler) -> None:
    """Refuse a Dask scheduler address for an engine that would not use it (it would be
    ignored without a word)."""
    if scheduler is not None and engine != "dask":
        raise OptionError(
            f"--scheduler is the address of a Dask cluster, which --engine {engine} does not"
            " use; pass --engine dask with it, or drop --scheduler."
        )


def column_name(value, option: str) -> str | None:
    """A column named by a library caller, as text (a frame's column 3 is read as "3", whatever
    the engine): ``None`` passes; a list or other container is refused, naming ``option``."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (list, tuple, set, dict)):
        raise TypeError(f"{option}: expected one column name; got {type(value).__name__}.")
    return str(value)


def column_names(values, option: str) -> list[str] | None:
    """Columns named by ``--features``/``--exclude`` (or a library caller's list), as text;
    an empty list is refused: it would silently mean every column."""
    if values is None:
        return None
    if isinstance(values, str) or not hasattr(values, "__iter__"):
        values = [values]  # one name (a frame's column 2 included), not a list of them
    names = [column_name(value, option) for value in values]
    if not names:
        raise OptionError(f"--{option} names no column; name at least one, or leave it out.")
    return names


def check_whole(value, option: str, low: int) -> None:
    """Refuse ``value`` unless it is an integer >= ``low`` (not a float or a string that a
    comparison deeper down would trip on)."""
    import numbers

    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise OptionError(f"--{option} must be a whole number >= {low}; got {value!r}.")
