"""The frozen result records, their JSON form, and their renderings."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

import shiftemp
from conftest import classification_frame, regression_frame
from shiftemp import render
from shiftemp.render import Format
from shiftemp.report import SCHEMA_VERSION, Comparison, Estimate, Temperature, to_dict


def _reports():
    rng = np.random.default_rng(7)
    old = regression_frame(rng, 400, region=True)
    new = regression_frame(rng, 400, coef=(1.0, 0.5, 0.25), region=True)  # concept shift
    wide = regression_frame(rng, 400, shift=1.0, region=True)
    wide[["a", "b"]] *= 3  # moves the data entropy
    new.loc[:4, "region"] = "west"  # unseen
    cls_old, cls_new = classification_frame(rng, 300, classes=3), classification_frame(rng, 300, classes=3)
    return {
        "concept": shiftemp.compare(old, new, target="y"),
        "covariate": shiftemp.compare(old, wide, target="y"),
        "parameters": shiftemp.compare(old, new, target="y", entropy="parameters"),
        "classes": shiftemp.compare(cls_old, cls_new, min_gain=0.05, folds=3),
    }


@pytest.fixture(scope="module")
def reports():
    return _reports()


KINDS = ["concept", "covariate", "parameters", "classes"]


@pytest.mark.parametrize("kind", KINDS)
def test_json_round_trips_into_the_result_object(reports, kind):
    report = reports[kind]
    assert isinstance(report, Comparison)
    again = Comparison.from_json(report.to_json())
    assert again == report
    assert Comparison.from_dict(json.loads(report.to_json(indent=None))) == report
    assert again.to_json() == report.to_json()


def test_the_reports_exercise_every_temperature_status(reports):
    assert reports["concept"].temperature.status == "infinite"
    assert reports["covariate"].temperature.status == "finite"
    assert reports["classes"].model.classes == ("cat", "dog", "eel")
    assert reports["concept"].shifted.unseen_categories == {"region": 5}


@pytest.mark.parametrize("kind", KINDS)
def test_json_has_no_nan_or_infinity(reports, kind):
    text = reports[kind].to_json()
    json.loads(text, parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}"))
    assert "NaN" not in text and "Infinity" not in text


def test_json_fields(reports):
    data = json.loads(reports["concept"].to_json())
    assert data["schema_version"] == SCHEMA_VERSION == "1.1"
    assert data["kind"] == "comparison"
    assert set(data) >= {
        "reference", "shifted", "target", "model", "energy", "entropy", "temperature",
        "temperature_in_sample", "recommendation", "options", "notes", "run",
    }
    assert set(data["energy"]) == {
        "before", "after_in_sample", "after_out_of_sample", "delta_in_sample",
        "delta_out_of_sample", "reference", "folds",
    }
    assert set(data["energy"]["before"]) == {"value", "se", "low", "high"}
    assert data["temperature"] == {"status": "infinite", "value": None, "low": None, "high": None, "sign": -1}
    assert data["options"] == {
        "target": "y", "features": None, "exclude": None, "model": "linear", "loss": "mse",
        "folds": 5, "entropy": "data", "min_gain": 0.01, "seed": 0, "time_column": None,
        "calibrate": False, "calibration_splits": None, "init": "normal",
    }
    assert data["reference"]["format"] == "dataframe" and data["reference"]["rows"] == 400
    assert data["recommendation"]["retrain"] is True
    assert set(data["run"]) == {"shiftemp_version", "started", "seconds", "host", "engine"}
    assert data["run"]["shiftemp_version"] == shiftemp.__version__


def test_non_finite_numbers_become_null_beside_a_status():
    t = Temperature(status="infinite", sign=1)
    assert to_dict(t) == {"status": "infinite", "value": None, "low": None, "high": None, "sign": 1}
    assert to_dict(Estimate(math.nan, math.inf, -math.inf, 1.0)) == {
        "value": None, "se": None, "low": None, "high": 1.0,
    }
    assert to_dict(np.float64(2.5)) == 2.5 and isinstance(to_dict(np.int64(3)), int)


def test_records_are_frozen(reports):
    with pytest.raises(dataclasses.FrozenInstanceError):
        reports["concept"].target = "z"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        reports["concept"].energy.before.value = 0.0  # type: ignore[misc]


def test_estimate_normal_interval():
    e = Estimate.normal(1.0, 0.5)
    assert (e.low, e.high) == pytest.approx((1.0 - 1.959964 * 0.5, 1.0 + 1.959964 * 0.5))
    assert e.clear_of_zero
    assert not Estimate.normal(0.5, 0.5).clear_of_zero


# -- renderings ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_markdown_has_the_verdict_and_a_table(reports, kind):
    report = reports[kind]
    text = render.render_text(report, Format.MARKDOWN)
    verdict = report.recommendation.verdict.upper()
    assert text.startswith(f"### shiftemp: **{verdict}** ({report.recommendation.shift_class})")
    assert report.recommendation.reason in text
    assert "| quantity | value | 95% interval |" in text and "|---|---:|---|" in text
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    assert len(rows) >= 13
    assert all(line.count("|") == 4 for line in rows[:13])
    assert "| dS (nats) |" in text
    for note in report.notes:
        assert f"- {note}" in text


def test_markdown_says_infinite_in_words(reports):
    text = render.markdown(reports["concept"])
    assert "| T = dE/dS, out of sample | -infinite | dS indistinguishable from 0, dE is not |" in text
    assert "| region | categorical |" in text or "region" in text


@pytest.mark.parametrize("kind", KINDS)
def test_table_rendering_has_the_figures_and_the_verdict(reports, kind):
    report = reports[kind]
    text = render.render_text(report, Format.TABLE)
    assert f"{report.recommendation.verdict.upper()} ({report.recommendation.shift_class}):" in text
    for quantity in ("E_A: old model on the new data", "dE out of sample (", "dS (nats)",
                     "T = dE/dS, out of sample", "shift class"):
        assert quantity in text
    assert "\x1b[" not in text  # no colour codes in a file
    if report.entropy.kind == "data":
        assert "columns that moved the entropy most" in text
    assert f"target '{report.target}'" in text


def test_json_rendering_parses_back(reports):
    text = render.render_text(reports["classes"], Format.JSON)
    assert text.endswith("}\n")
    assert Comparison.from_json(text) == reports["classes"]


def test_verdict_line(reports):
    report = reports["concept"]
    assert render.verdict_line(report) == f"RETRAIN (hot): {report.recommendation.reason}"


def test_the_output_file_is_the_text_a_pipe_gets(reports):
    """-o FILE used to hard-wrap the title and the verdict at 110 columns and pad every line
    with spaces, where a pipe kept each on one line."""
    import io

    from rich.console import Console

    report = reports["concept"]
    text = render.render_text(report, Format.TABLE)
    pipe = io.StringIO()
    render.show(report, Format.TABLE, Console(file=pipe, width=110, force_terminal=False))
    assert text == pipe.getvalue()
    lines = text.splitlines()
    assert render.verdict_line(report) in lines  # the verdict sentence whole, on one line
    assert f"shiftemp compare: {report.reference.path} -> {report.shifted.path}" in lines
    assert not [line for line in lines if line != line.rstrip()]


@pytest.mark.parametrize("width", [40, 50, 60])
def test_a_narrow_terminal_never_cuts_a_number(reports, width):
    """rich shrank the numeric columns first and cut them to "+0.…"; the text columns shrink."""
    import io

    from rich.console import Console

    report = reports["concept"]
    buffer = io.StringIO()
    Console(file=buffer, width=width, force_terminal=True, color_system=None).print(render.table(report))
    words = set(buffer.getvalue().split())
    numbers = [render._num(c.shifted) for c in report.entropy.columns[:render.TOP_COLUMNS]]
    numbers += [f"{c.delta:+.4g}" for c in report.entropy.columns[:render.TOP_COLUMNS]]
    numbers += [cell for row in render.energy_rows(report) for cell in row[1:]]
    assert numbers and all(number in words for number in numbers), (numbers, buffer.getvalue())
    assert not any(word.endswith("…") and word[:1] in "+-0123456789" for word in words)
    assert max(map(len, buffer.getvalue().splitlines())) <= width
    wide = io.StringIO()
    Console(file=wide, width=110, force_terminal=True, color_system=None).print(render.table(report))
    assert "coefficient change" in wide.getvalue()  # wide enough: the headers stay on one line
