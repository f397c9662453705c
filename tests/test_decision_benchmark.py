"""A small, fast run of the decision benchmark's machinery (benchmarks/decisions/)."""

from __future__ import annotations

import math
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.decisions import methods, run, scenarios, truth  # noqa: E402

N = 400


def _tiny() -> list[scenarios.Spec]:
    """Three tiny scenarios whose truth is not in doubt."""
    reg = scenarios.REGRESSION
    flipped = replace(reg, coef=(-1.0, -0.5, 0.25, 0.1, -0.75))
    moved = replace(reg, mean=(1.5, -1.0, 0.5, 0.0, 1.0))
    return [
        scenarios._synthetic("none/tiny", "none", "no shift", reg, reg, N, (7, 0), n_future=4_000),
        scenarios._synthetic("covariate/tiny", "covariate", "mean shift", reg, moved, N, (7, 1),
                             n_future=4_000),
        scenarios._synthetic("concept/tiny", "concept", "sign flip", reg, flipped, N, (7, 2),
                             n_future=4_000),
    ]


@pytest.fixture(scope="module")
def rows():
    chosen = [m for m in methods.methods(calibrate=False)]
    return run.evaluate(_tiny(), chosen, log=lambda line: None), chosen


def test_truth_comes_from_the_future(rows):
    found, _ = rows
    truth_of = {r.scenario: (r.truth, r.gain) for r in found if r.method == "never retrain"}
    assert truth_of["concept/tiny"][0] and truth_of["concept/tiny"][1] > 0.3
    assert not truth_of["none/tiny"][0] and not truth_of["covariate/tiny"][0]


def test_every_method_decides_every_scenario(rows):
    found, chosen = rows
    assert len(found) == 3 * len(chosen)
    by = {(r.scenario, r.method): r.retrain for r in found}
    assert by[("concept/tiny", "shiftemp")] is True
    assert by[("none/tiny", "shiftemp")] is False and by[("covariate/tiny", "shiftemp")] is False
    assert by[("covariate/tiny", "KS / chi-square, Bonferroni")] is True
    assert by[("covariate/tiny", "domain classifier (AUC > 0.55)")] is True
    assert all(by[(s, "always retrain")] for s in ("none/tiny", "concept/tiny"))
    assert by[("concept/tiny", "performance monitoring (+5%)")] is True
    assert all(r.seconds >= 0 for r in found)


def test_summary_and_markdown_have_every_method(rows):
    found, chosen = rows
    s = run.summary(found, "shiftemp")
    assert s["accuracy"] == (1.0, 3) and s["false_alarm_none"] == (0.0, 1)
    assert s["regret_0.03"] == 0.0
    never = run.summary(found, "never retrain")
    assert never["miss_concept"] == (1.0, 1)
    assert never["regret_0.03"] == pytest.approx(
        next(r.gain for r in found if r.scenario == "concept/tiny") / 3)
    block = run.markdown(found, chosen, 1.0, True, ["a note"])
    assert block.startswith(run.BEGIN) and block.endswith(run.END)
    for m in chosen:
        assert f"| {m.name} |" in block
    assert "| shiftemp: the significance test alone (min gain 0) |" in block
    assert "- a note" in block


@pytest.mark.parametrize(
    "retrain, needed, gain, expected",
    [
        (False, True, 0.05, 0.05),  # a needed retrain skipped: the gain forgone
        (False, False, 0.005, 0.0),
        (True, True, 0.05, 0.0),
        (True, False, 0.002, 0.03),  # an unneeded retrain: its cost
        (True, False, -0.02, 0.05),  # ...plus the loss it added
        (None, True, 0.05, math.nan),  # a skipped method
    ],
)
def test_regret(retrain, needed, gain, expected):
    row = run.Row("s", "g", "k", 1, "m", retrain, needed, gain, 0.0)
    value = row.regret(0.03)
    assert (math.isnan(value) and math.isnan(expected)) or value == pytest.approx(expected)


def test_docs_block_is_replaced_and_other_sections_kept(tmp_path):
    docs = tmp_path / "benchmarks.md"
    run.write_docs(f"{run.BEGIN}\nfirst\n{run.END}", docs)
    assert docs.read_text().startswith("# Benchmarks\n\n## Decisions\n\n")
    docs.write_text(docs.read_text() + "\n## Scale\n\nother developer's table\n")
    text = docs.read_text().replace("## Decisions\n\n", "## Decisions\n\nprose we keep\n\n")
    docs.write_text(text)
    run.write_docs(f"{run.BEGIN}\nsecond\n{run.END}", docs)
    text = docs.read_text()
    assert "second" in text and "first" not in text
    assert "prose we keep" in text and "## Scale\n\nother developer's table" in text
    fresh = tmp_path / "other.md"
    fresh.write_text("# Benchmarks\n\n## Scale\n\nx\n\n## Decisions\n\nwhy\n")
    run.write_docs(f"{run.BEGIN}\nthird\n{run.END}", fresh)
    assert fresh.read_text().endswith(f"## Decisions\n\nwhy\n\n{run.BEGIN}\nthird\n{run.END}\n")


def test_catalogue_is_seeded_and_quick_is_small():
    quick = scenarios.catalogue(quick=True, real=False)
    assert len(quick) < 60
    assert {s.group for s in quick} >= {"none", "covariate", "concept", "label", "noise",
                                         "misspecified", "mixture"}
    a, b = quick[0].build(), quick[0].build()
    assert a.reference.equals(b.reference) and a.future.equals(b.future)
    full = scenarios.catalogue(real=False)
    sizes = {s.n for s in full if s.group == "none"}
    assert sizes == {500, 5_000, 50_000, 2_000_000}


def test_selection_keeps_rows_above_the_quantile():
    world = replace(scenarios.REGRESSION, select=(0, 0.7))
    frame = world.sample(500, np.random.default_rng(0))
    assert len(frame) == 500 and frame["x1"].min() > 0.5


def test_nannyml_is_skipped_gracefully_when_absent(tmp_path, monkeypatch):
    monkeypatch.setenv("SHIFTEMP_NANNYML", str(tmp_path))
    assert scenarios.nannyml_root() is None
    assert scenarios.nannyml_specs() == []


@pytest.mark.skipif(scenarios.nannyml_root() is None, reason="the NannyML sets are absent")
def test_nannyml_chunks_are_consecutive_in_time():
    spec = next(s for s in scenarios.nannyml_specs(quick=True) if "car_price" in s.name)
    built = spec.build()
    assert built.time_column == "timestamp" and "timestamp" not in built.features
    assert built.new["timestamp"].max() <= built.future["timestamp"].min()
    assert built.reference["timestamp"].max() <= built.new["timestamp"].min()


def test_evidently_is_skipped_with_a_note_when_absent():
    method = methods.evidently_method()
    if method.note:  # not importable here: every decision is a skip, and the table says so
        assert "skipped" in method.note and method.run(None, None).retrain is None


def test_class_labels_agree_across_int_and_float_files():
    import pandas as pd

    assert list(truth.class_labels(pd.Series([0, 1]))) == ["0", "1"]
    assert list(truth.class_labels(pd.Series([0.0, 1.0]))) == ["0", "1"]
    assert list(truth.class_labels(pd.Series(["a", "b"]))) == ["a", "b"]
