"""Defaults the command line shows in its options, apart from the modules that use them.

The command line imports these to build its options before any command runs; the modules they
belong to (the calibration, the initialization laws) import what a streaming comparison never
needs, so they are not loaded until a command uses them.
"""

import enum

#: Self-splits of a calibration, by default (shiftemp/calibration.py).
DEFAULT_SPLITS = 10


class InitLaw(str, enum.Enum):
    """Family of the initialization law (the ``--init`` choices; shiftemp/laws.py)."""

    NORMAL = "normal"
    UNIFORM = "uniform"
    MIXED = "mixed"
