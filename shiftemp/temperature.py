"""Temperature of a transition, ``T = dE / dS`` (theory section 3).

When ``dS`` is indistinguishable from zero (its 95% interval contains 0) the ratio is not divided
out: the temperature is ``infinite`` when ``dE`` is clear of zero (energy moved without entropy,
as in a concept shift) and ``undefined`` when neither moved.
"""

from __future__ import annotations

import numpy as np

from .report import Z95, Estimate, Temperature


def temperature(delta_energy: Estimate, delta_entropy: Estimate) -> Temperature:
    """``T = dE / dS`` in energy units per nat, with a delta-method 95% interval.

    The two estimates come from different quantities (losses, entropies) and are treated as
    independent: ``se(T) = sqrt(se_E^2 + T^2 se_S^2) / |dS|``.
    """
    if not delta_entropy.clear_of_zero:
        if delta_energy.clear_of_zero:
            return Temperature(status="infinite", sign=int(np.sign(delta_energy.value)))
        return Temperature(status="undefined")
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        value = np.float64(delta_energy.value) / np.float64(delta_entropy.value)
        se = float(np.hypot(delta_energy.se, value * delta_entropy.se) / abs(delta_entropy.value))
        bounds = (value - Z95 * se, value + Z95 * se)
    if not np.isfinite([value, se, *bounds]).all():
        # a dS that is exact but within rounding of zero: the ratio is not a number to print
        if delta_energy.clear_of_zero:
            return Temperature(status="infinite", sign=int(np.sign(delta_energy.value)))
        return Temperature(status="undefined")
    return Temperature(
        status="finite", value=float(value), low=float(bounds[0]), high=float(bounds[1]),
        sign=int(np.sign(value)),
    )
