"""Defaults the command line shows in its options, apart from the modules that use them.

The command line imports these to build its options before any command runs; the modules they
belong to (the calibration, the initialization laws) import what a streaming comparison never
needs, so they are not loaded until a command uses them.
"""

import enum

#: Self-splits of a calibration, by default (shiftemp/calibration.py).
DEFAULT_SPLITS = 10
#: Fewest splits that give a standard deviation.
MIN_SPLITS = 3
#: Most splits: each is a comparison of its own, and a thousand pin a standard deviation down
#: to about 2%; a count far beyond ran for ever or overflowed numpy.
MAX_SPLITS = 1000


def check_splits(splits: int) -> None:
    """``--calibration-splits``: a whole number from :data:`MIN_SPLITS` to :data:`MAX_SPLITS`."""
    from .errors import OptionError

    if isinstance(splits, bool) or not isinstance(splits, int) or not (
        MIN_SPLITS <= splits <= MAX_SPLITS
    ):
        raise OptionError(
            f"--calibration-splits must be a whole number from {MIN_SPLITS} to {MAX_SPLITS:,};"
            f" got {splits!r}."
        )


class InitLaw(str, enum.Enum):
    """Family of the initialization law (the ``--init`` choices; shiftemp/laws.py)."""

    NORMAL = "normal"
    UNIFORM = "uniform"
    MIXED = "mixed"
