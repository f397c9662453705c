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
