"""shiftemp: the thermodynamic temperature of retraining a model on shifted data.

The public API. ``shiftemp.compare(reference, shifted, target=...)`` returns a frozen
:class:`Comparison` report; the command line is a thin shadow of it.
"""

__version__ = "0.1.0"

from .errors import ExitCode, ShiftempError  # noqa: E402
from .models import Family, Loss  # noqa: E402
from .report import (  # noqa: E402
    Comparison,
    Energy,
    Entropy,
    Estimate,
    Recommendation,
    Temperature,
)
from .typetwo import Engine, EntropyKind, compare  # noqa: E402

__all__ = [
    "Comparison", "Energy", "Engine", "Entropy", "EntropyKind", "Estimate", "ExitCode", "Family",
    "Loss", "Recommendation", "ShiftempError", "Temperature", "compare", "__version__",
]
