"""The ambient temperature: null spreads from self-splits of the reference (shiftemp/calibration.py)."""

from __future__ import annotations

import dataclasses
import doctest
import json

import numpy as np
import pandas as pd
import pytest

import shiftemp
from shiftemp import calibration
from shiftemp.calibration import calibrate, split_plan
from shiftemp.dataset import prepare
from shiftemp.decision import recommend
from shiftemp.errors import ColumnError, InputError, OptionError
from shiftemp.models import Family, Loss
from shiftemp.report import (
    Z95_ONE_SIDED, Calibration, Comparison, Energy, Entropy, Estimate, NullSpread, Temperature,
)

from conftest import classification_frame, regression_frame


def _timed(frame: pd.DataFrame, start: str = "2024-01-01") -> pd.DataFrame:
    return frame.assign(when=pd.date_range(start, periods=len(frame), freq="h"))


# -- the split plan ------------------------------------------------------------------------------


def test_random_splits_partition_the_reference():
    plan = split_plan(100, 30, 4, False, np.random.default_rng(0))
    assert len(plan) == 4
    for old, new in plan:
        assert new.size == 30 and old.size == 70
        assert np.array_equal(np.sort(np.concatenate([old, new])), np.arange(100))
    assert not np.array_equal(plan[0][1], plan[1][1])


def test_random_splits_give_the_new_part_at_most_half():
    (old, new), = split_plan(100, 1_000, 1, False, np.random.default_rng(0))
    assert (old.size, new.size) == (50, 50)


def test_time_splits_are_consecutive_windows_sliding_forward():
    plan = split_plan(90, 1_000, 4, True, np.random.default_rng(0))
    starts = [new[0] for _, new in plan]
    assert starts == sorted(starts) and starts[0] == 30 and starts[-1] == 60
    for old, new in plan:
        assert new.size == 30 and old.size == 30
        assert np.array_equal(new, np.arange(new[0], new[0] + 30))
        assert np.array_equal(old, np.arange(new[0] - 30, new[0]))  # right before the new part


# -- the null spreads ----------------------------------------------------------------------------


def test_on_unshifted_data_the_z_spread_is_near_one_and_the_temperature_finite(rng):
    frame = regression_frame(rng, 4_000)
    pair = prepare(frame, frame.iloc[:500], target="y")
    found = calibrate(pair, Family.LINEAR, Loss.MSE, 5, 0, splits=12, rng=np.random.default_rng(1))
    assert found.order == "random" and found.time_column is None
    assert (found.rows_old, found.rows_new) == (3_500, 500)
    assert 0.4 < found.delta_energy.z_sd < 2.5
    assert found.energy_inflation == max(1.0, found.delta_energy.z_sd)
    assert found.entropy_inflation >= 1.0
    assert abs(found.relative_gain.mean) < 0.02
    assert found.temperature.status == "finite"
    assert found.temperature.value == pytest.approx(found.delta_energy.sd / found.delta_entropy.sd)


def test_time_order_sees_the_drift_that_random_order_averages_away(rng):
    """A reference whose law drifts with time: consecutive windows disagree more than random
    halves, so the time-ordered null spread of dE is the wider one."""
    n = 3_000
    x = rng.normal(size=n)
    slope = np.linspace(-1.0, 1.0, n)  # the coefficient drifts over the reference period
    frame = _timed(pd.DataFrame({"x": x, "y": slope * x + 0.3 * rng.normal(size=n)}))
    pair = prepare(frame, frame.iloc[:600], target="y", exclude=["when"])
    random = calibrate(pair, Family.LINEAR, Loss.MSE, 5, 0, splits=8, rng=np.random.default_rng(2))
    ordered = calibrate(pair, Family.LINEAR, Loss.MSE, 5, 0, splits=8, time_column="when")
    assert ordered.order == "time"
    assert ordered.relative_gain.mean > 0.2 > abs(random.relative_gain.mean)
    assert -ordered.delta_energy.mean > 10 * abs(random.delta_energy.mean)


def test_parameter_entropy_calibrates_too(rng):
    frame = classification_frame(rng, 1_500)
    pair = prepare(frame, frame.iloc[:300], target="label")
    found = calibrate(pair, Family.LOGISTIC, Loss.CE, 5, 0, parameters=True, splits=4)
    assert np.isfinite(found.delta_entropy.sd) and found.delta_entropy.sd > 0


def test_a_large_reference_is_thinned(rng, monkeypatch):
    monkeypatch.setattr(calibration, "MAX_ROWS", 1_000)
    frame = regression_frame(rng, 3_000)
    pair = prepare(frame, frame.iloc[:200], target="y")
    found = calibrate(pair, Family.LINEAR, Loss.MSE, 5, 0, splits=3)
    assert (found.rows_old, found.rows_new) == (800, 200)


def test_too_few_rows_and_too_few_splits_are_refused(rng):
    frame = regression_frame(rng, 19)
    pair = prepare(frame, frame, target="y")
    with pytest.raises(InputError, match="19 usable rows are too few to calibrate by self-splits"
                                         " with 5 folds; it needs at least 20"):
        calibrate(pair, Family.LINEAR, Loss.MSE, 5, 0, splits=3)
    with pytest.raises(OptionError, match="--calibration-splits must be a whole number from 3 to 1,000; got 2"):
        calibrate(pair, Family.LINEAR, Loss.MSE, 5, 0, splits=2)


# -- the decision --------------------------------------------------------------------------------


def _energy(before: float, delta: float, se: float) -> Energy:
    e = Estimate.normal(before, 0.1)
    return Energy(e, e, e, Estimate.normal(delta, se), Estimate.normal(delta, se), e, 5)


def _calibration(energy_inflation: float, entropy_inflation: float = 1.0) -> Calibration:
    spread = NullSpread(0.0, 1.0, energy_inflation)
    return Calibration(10, "random", None, 100, 100, spread, spread, spread,
                       Temperature("finite", 1.0, sign=1), energy_inflation, entropy_inflation)


STILL = Entropy("data", Estimate.normal(1, 0.1), Estimate.normal(1, 0.1), Estimate.normal(0.25, 0.1))


def test_the_calibrated_bound_is_widened_by_the_inflation():
    energy = _energy(10.0, -1.0, 0.5)  # z = -2: significant at the nominal level
    plain = recommend(energy, STILL)
    widened = recommend(energy, STILL, calibration=_calibration(1.5))
    assert plain.retrain and not plain.calibrated and plain.bound_inflation == 1.0
    assert not widened.retrain and widened.calibrated and widened.bound_inflation == 1.5
    assert widened.delta_upper_bound == pytest.approx(-1.0 + Z95_ONE_SIDED * 0.5 * 1.5)
    assert recommend(energy, STILL, calibration=_calibration(1.0)).retrain


def test_the_calibrated_entropy_interval_decides_cold_or_none():
    energy = _energy(10.0, 0.0, 0.5)
    assert recommend(energy, STILL).shift_class == "cold"  # dS = 0.25 +- 0.196
    assert recommend(energy, STILL, calibration=_calibration(1.0, 1.5)).shift_class == "none"


# -- compare --calibrate ---------------------------------------------------------------------------


def test_compare_calibrate_reports_and_round_trips(rng):
    reference, shifted = regression_frame(rng, 1_500), regression_frame(rng, 400)
    report = shiftemp.compare(reference, shifted, target="y", calibrate=True, calibration_splits=5)
    c = report.calibration
    assert c is not None and c.splits == 5 and c.order == "random"
    r = report.recommendation
    assert r.calibrated and r.bound_inflation == c.energy_inflation
    d = report.energy.delta_out_of_sample
    assert r.delta_upper_bound == pytest.approx(d.value + Z95_ONE_SIDED * d.se * c.energy_inflation)
    assert report.options["calibrate"] is True and report.options["calibration_splits"] == 5
    data = json.loads(report.to_json())
    assert data["schema_version"] == "1.1"
    assert set(data["calibration"]) == {f.name for f in dataclasses.fields(Calibration)}
    assert Comparison.from_json(report.to_json()) == dataclasses.replace(report)
    assert shiftemp.compare(reference, shifted, target="y").calibration is None


def test_time_column_is_never_a_feature_and_orders_the_splits(rng):
    reference = _timed(regression_frame(rng, 1_200)).sample(frac=1.0, random_state=3)
    shifted = _timed(regression_frame(rng, 300), "2025-01-01")
    report = shiftemp.compare(reference, shifted, target="y", time_column="when")
    assert "when" not in report.model.features and report.calibration is None
    calibrated = shiftemp.compare(reference, shifted, target="y", time_column="when",
                                  calibrate=True, calibration_splits=3)
    assert calibrated.calibration.order == "time"
    assert calibrated.calibration.time_column == "when"
    # sorting the reference for the self-splits does not change the comparison itself
    assert calibrated.energy.delta_out_of_sample.value == pytest.approx(
        report.energy.delta_out_of_sample.value, rel=1e-9)


def test_time_column_errors_name_the_fix(rng):
    reference, shifted = regression_frame(rng, 300), regression_frame(rng, 300)
    with pytest.raises(ColumnError) as caught:
        shiftemp.compare(reference, shifted, target="y", time_column="when")
    assert str(caught.value) == (
        "reference has no column 'when' (named in --time-column). Its columns: ['a', 'b', 'c',"
        " 'y']. Pass --time-column with one of them."
    )
    with pytest.raises(OptionError, match="--time-column 'y' is the target"):
        shiftemp.compare(reference, shifted, target="y", time_column="y")


def test_cli_calibrate_shows_the_ambient_temperature(run, tmp_path, rng):
    reference, shifted = tmp_path / "old.parquet", tmp_path / "new.parquet"
    _timed(regression_frame(rng, 1_000)).to_parquet(reference)
    _timed(regression_frame(rng, 300), "2025-01-01").to_parquet(shifted)
    result = run("compare", reference, shifted, "--target", "y", "--time-column", "when",
                 "--calibrate", "--calibration-splits", "4")
    assert result.code == 0, result.stderr
    assert "ambient temperature" in result.stdout
    assert "4 time-order self-splits of the reference" in " ".join(result.stdout.split())
    result = run("compare", reference, shifted, "--target", "y", "--time-column", "when",
                 "--calibrate", "--calibration-splits", "4", "--format", "json")
    data = json.loads(result.stdout)
    assert data["calibration"]["order"] == "time" and data["recommendation"]["calibrated"]


def test_docstring_examples_run():
    assert doctest.testmod(calibration).failed == 0
