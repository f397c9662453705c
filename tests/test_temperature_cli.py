"""`shiftemp temperature` and the Type I figures `compare` reports for each side."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shiftemp.cli import main

SAMPLE = "sample_data/reference.parquet"
SHIFTED = "sample_data/shifted.parquet"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_all_laws_and_methods_for_both_regression_losses(capsys):
    code, out, _ = run(
        capsys, "temperature", SAMPLE, "--model", "linear", "--loss", "all", "--draws", "2000",
        "--format", "json",
    )
    assert code == 0
    report = json.loads(out)
    assert report["kind"] == "temperature"
    combos = {(r["loss"], r["law"]["kind"]) for r in report["results"]}
    assert combos == {(l, k) for l in ("mse", "mae") for k in ("normal", "uniform", "mixed")}
    for result in report["results"]:
        assert set(result["estimates"]) == {"analytic", "asymptotic", "monte-carlo"}
        for method, estimate in result["estimates"].items():
            assert estimate["initial_energy"]["method"] == method
            assert estimate["temperature"]["status"] in ("finite", "infinite", "undefined")
    assert "1/sqrt(fan_in)" in report["scale_rule"]


def test_mse_analytic_initial_energy_is_the_closed_form(capsys):
    frame = pd.read_parquet(SAMPLE)
    code, out, _ = run(
        capsys, "temperature", SAMPLE, "--loss", "mse", "--init", "normal", "--method",
        "analytic", "--scale", "0.5", "--format", "json",
    )
    assert code == 0
    result = json.loads(out)["results"][0]
    # E_A = mean(y^2) + v mean|x|^2 over the standardised design [1, Z]: |x|^2 = 1 + d on average
    y = frame["target"].to_numpy()
    d = len(json.loads(out)["features"])
    expected = np.mean(y**2) + 0.25 * (1 + d)
    assert result["estimates"]["analytic"]["initial_energy"]["value"] == pytest.approx(expected, rel=1e-9)


def test_cross_entropy_on_a_class_target(tmp_path, capsys):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(600, 2))
    label = np.where(x[:, 0] + 0.5 * rng.normal(size=600) > 0, "yes", "no")
    path = tmp_path / "classes.csv"
    pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "label": label}).to_csv(path, index=False)
    code, out, _ = run(capsys, "temperature", str(path), "--draws", "2000", "-f", "json")
    assert code == 0
    results = json.loads(out)["results"]
    assert [r["loss"] for r in results] == ["ce"] * 3


@pytest.mark.parametrize(
    "argv, message",
    [
        (("--init", "gamma"), "--init takes normal, uniform, mixed or all"),
        (("--method", "exact"), "--method takes analytic, asymptotic, monte-carlo or all"),
        (("--loss", "mse,ce"), "--loss mixes regression"),
        (("--loss", "all"), "--loss all needs --model"),
        (("--draws", "5"), "--draws must be at least 100"),
        (("--seed", "-1"), "--seed must be an integer from 0 to 2^63 - 1; got -1."),
        (("--loss", "ce"), f"error: {SAMPLE}: the target 'target' has"),  # the file named once
        # --model was ignored: a logistic model with mse ran a linear fit, mlp ran linear MSE
        (("--model", "logistic", "--loss", "mse"), "--loss mse does not go with --model logistic"),
        (("--model", "linear", "--loss", "ce"), "--loss ce does not go with --model linear"),
        (("--model", "mlp"), "temperature fits a linear or logistic model"),
        (("--model", "mlp", "--loss", "all"), "temperature fits a linear or logistic model"),
        # beyond these the initialization's energies overflowed (tracebacks)
        (("--scale", "1e300"), "--scale 1e+300 is outside [1e-06, 1e+06]"),
        (("--init", "uniform", "--width", "1e300"), "--width 1e+300 is outside"),
    ],
)
def test_bad_options_exit_2_with_one_line(capsys, argv, message):
    code, out, err = run(capsys, "temperature", SAMPLE, *argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and message in err


def test_compare_reports_type_one_of_both_sides(capsys):
    figures = {}
    for law in ("normal", "uniform"):
        code, out, _ = run(capsys, "compare", SAMPLE, SHIFTED, "--init", law, "-f", "json")
        assert code == 0
        figures[law] = json.loads(out)["type_one"]
    for law, t in figures.items():
        assert t["law"] == law
        for side in ("reference", "shifted"):
            assert t[side]["dE"] == pytest.approx(t[side]["E_B"] - t[side]["E_A"])
            assert t[side]["temperature"]["status"] == "finite"
    # same variance, lower entropy: a uniform start has less entropy than a normal one
    assert figures["uniform"]["reference"]["S_A"] < figures["normal"]["reference"]["S_A"]
    # the concept shift makes the old standardised design's initial energy larger on new data
    assert figures["normal"]["shifted"]["E_A"] != figures["normal"]["reference"]["E_A"]


def test_temperature_never_writes_over_its_input(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    pd.read_parquet(Path(__file__).parents[1] / SAMPLE).to_csv("data.csv", index=False)
    before = (tmp_path / "data.csv").read_bytes()
    code, out, err = run(capsys, "temperature", "data.csv", "-o", "data.csv")
    assert code == 2 and out == ""
    assert err == ("shiftemp: error: --output data.csv is the input data.csv; write the report"
                   " elsewhere, so the data stays as it was.\n")
    assert (tmp_path / "data.csv").read_bytes() == before


def test_the_model_option_chooses_the_family_and_is_reported(capsys, tmp_path):
    code, out, _ = run(capsys, "temperature", SAMPLE, "--model", "linear", "--loss", "all",
                       "--init", "normal", "--draws", "1000", "-f", "json")
    assert code == 0
    run_json = json.loads(out)
    assert run_json["options"]["model"] == "linear"
    assert [r["loss"] for r in run_json["results"]] == ["mse", "mae"]


def test_a_fit_through_every_row_is_refused(capsys, tmp_path):
    """Two rows, three parameters: MAE's solver failed on the singular system (a traceback), MSE
    reported a temperature set by the ridge alone."""
    path = tmp_path / "tiny.csv"
    pd.DataFrame({"a": [0.1, 0.7], "b": [1.0, -2.0], "y": [0.3, 1.9]}).to_csv(path, index=False)
    for loss in ("mse", "mae"):
        code, out, err = run(capsys, "temperature", str(path), "--loss", loss, "--draws", "500")
        assert code == 2 and out == ""
        assert err.count("\n") == 1 and "2 usable rows for 3 model parameters" in err
