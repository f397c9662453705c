"""The recommendation: retrain or keep, from energies and entropies (theory section 6).

Retrain when refreshing the model releases energy that is both significant (the one-sided 95%
upper bound of the out-of-sample ``dE`` is below zero) and material (``-dE / E_A >= min_gain``).
The shift class names what happened:

- ``hot``: material, significant energy released: the old model is no longer at equilibrium.
- ``warm``: significant energy released, but less than ``min_gain``: not worth a refresh.
- ``cold``: the data entropy moved, but no significant energy is released: keep the model.
- ``none``: neither moved.

With a calibration (``compare --calibrate``, shiftemp/calibration.py), the standard errors of
``dE`` and ``dS`` are widened by the inflation factors the reference's self-splits measured (at
least 1), so that the test holds its nominal level on data like the reference.
"""

from __future__ import annotations

import enum

from .report import Z95, Z95_ONE_SIDED, Calibration, Energy, Entropy, Recommendation


class ShiftClass(str, enum.Enum):
    NONE = "none"
    COLD = "cold"
    WARM = "warm"
    HOT = "hot"


#: The default materiality threshold: a refresh must remove at least 1% of the loss.
DEFAULT_MIN_GAIN = 0.01


def recommend(
    energy: Energy, entropy: Entropy, min_gain: float = DEFAULT_MIN_GAIN,
    calibration: Calibration | None = None,
) -> Recommendation:
    """Decide from the out-of-sample energy change and the entropy change (and, when given, the
    reference's null spread)."""
    delta = energy.delta_out_of_sample
    inflation = calibration.energy_inflation if calibration is not None else 1.0
    upper = delta.value + Z95_ONE_SIDED * delta.se * inflation
    gain = energy.relative_gain
    significant = upper < 0
    material = gain >= min_gain
    moved = entropy.delta.clear_of_zero
    if calibration is not None:
        moved = abs(entropy.delta.value) > Z95 * entropy.delta.se * calibration.entropy_inflation
    what = "data" if entropy.kind == "data" else "parameter"
    if significant and material:
        shift = ShiftClass.HOT
        if moved:
            reason = (
                f"Refreshing the model removes {gain:.1%} of its loss on the new data, and the"
                f" {what} entropy moved: the old model is no longer at equilibrium."
            )
        else:
            reason = (
                f"Refreshing the model removes {gain:.1%} of its loss on the new data although"
                f" the {what} entropy did not move: a concept shift that feature-drift checks miss."
            )
    elif significant:
        shift = ShiftClass.WARM
        reason = (
            f"Refreshing would remove only {gain:.2%} of the loss, below the minimum gain of"
            f" {min_gain:.1%}: not worth a retrain."
        )
    elif moved:
        shift = ShiftClass.COLD
        reason = (
            f"The {what} entropy moved but refreshing releases no significant energy: the model"
            " is still at equilibrium on the new data."
        )
    else:
        shift = ShiftClass.NONE
        reason = "Neither the data nor the model's loss moved significantly: nothing to do."
    return Recommendation(
        retrain=shift is ShiftClass.HOT,
        shift_class=shift.value,
        reason=reason,
        delta_upper_bound=float(upper),
        relative_gain=float(gain),
        min_gain=float(min_gain),
        calibrated=calibration is not None,
        bound_inflation=float(inflation),
    )
