"""`shiftemp engine` and `compare --model mlp`: the network commands end to end."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from shiftemp.cli import main


def sine_frame(rng: np.random.Generator, n: int, sign: float = 1.0) -> pd.DataFrame:
    x = rng.uniform(-2, 2, (n, 2))
    y = sign * 2 * np.sin(3 * x[:, 0]) + 0.2 * rng.normal(size=n)
    return pd.DataFrame({"x1": x[:, 0], "x2": x[:, 1], "y": y})


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("net")
    rng = np.random.default_rng(0)
    paths = {}
    for name, sign in (("reference", 1.0), ("same", 1.0), ("flipped", -1.0)):
        paths[name] = folder / f"{name}.parquet"
        sine_frame(rng, 1000, sign).to_parquet(paths[name])
    return paths


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


FAST = ("--hidden", "8", "--epochs", "60")


def test_engine_compares_activations_in_json(files, capsys):
    code, out, _ = run(
        capsys, "engine", str(files["reference"]), "--activation", "relu,identity",
        "--hidden", "16", "--epochs", "400", "--format", "json",
    )
    assert code == 0
    report = json.loads(out)
    assert report["kind"] == "engine"
    by_activation = {a["activation"]: a for a in report["activations"]}
    assert set(by_activation) == {"relu", "identity"}
    for figures in by_activation.values():
        assert 0.0 <= figures["efficiency"] <= 1.0
        assert [layer["name"] for layer in figures["layers"]] == ["hidden 1", "output"]
    assert by_activation["identity"]["engine_type"] == "non-working"
    assert by_activation["relu"]["efficiency"] > by_activation["identity"]["efficiency"]


def test_engine_table_names_the_engine_type(files, capsys):
    code, out, _ = run(capsys, "engine", str(files["reference"]), *FAST)
    assert code == 0
    assert "work efficiency eta" in out and "engine type" in out


@pytest.mark.parametrize(
    "option, value, message",
    [
        ("--activation", "softplus", "--activation takes identity, relu, tanh, logistic"),
        ("--hidden", "8,0", "--hidden takes positive layer sizes"),
        ("--epochs", "0", "--epochs must be at least 1"),
        ("--max-rows", "0", "--max-rows must be at least 1; got 0."),
        ("--seed", "-1", "--seed must be an integer from 0 to 2^63 - 1; got -1."),
        ("--scale", "1e80", "--scale 1e+80 is outside [1e-06, 1e+06]"),  # was a NaN traceback
        ("--scale", "1e-300", "--scale 1e-300 is outside"),  # was a ZeroDivisionError
    ],
)
def test_engine_bad_options_exit_2_with_one_line(files, capsys, option, value, message):
    code, out, err = run(capsys, "engine", str(files["reference"]), option, value)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and message in err


def test_mlp_concept_shift_is_retrain_with_layers(files, capsys):
    code, out, _ = run(
        capsys, "compare", str(files["reference"]), str(files["flipped"]), "--model", "mlp",
        *FAST, "--format", "json",
    )
    assert code == 0
    report = json.loads(out)
    assert report["recommendation"]["retrain"] is True
    layers = report["network"]["layers"]
    assert [layer["name"] for layer in layers] == ["hidden 1", "output"]
    shares = [layer["share"] for layer in layers]
    assert sum(shares) == pytest.approx(1.0)


def test_mlp_no_shift_is_keep(files, capsys):
    code, out, _ = run(
        capsys, "compare", str(files["reference"]), str(files["same"]), "--model", "mlp", *FAST,
        "--quiet",
    )
    assert code == 0
    assert out.startswith("KEEP")


def test_mlp_refuses_parameter_entropy(files, capsys):
    code, _, err = run(
        capsys, "compare", str(files["reference"]), str(files["same"]), "--model", "mlp",
        "--entropy", "parameters",
    )
    assert code == 2 and "--model mlp supports --entropy data only" in err


@pytest.mark.parametrize("args, message", [
    (("-o", "{data}"), "--output {data} is the input {data}; write the report elsewhere"),
    (("--html", "{data}"), "--html {data} is the input {data}; write the report elsewhere"),
    (("-o", "r.json", "--html", "r.json"), "--html r.json is also the --output file"),
])
def test_engine_never_writes_over_its_input(capsys, tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    sine_frame(np.random.default_rng(1), 300).to_csv("data.csv", index=False)
    before = (tmp_path / "data.csv").read_bytes()
    args = [a.format(data="data.csv") for a in args]
    code, out, err = run(capsys, "engine", "data.csv", *FAST, *args)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and message.format(data="data.csv") in err
    assert (tmp_path / "data.csv").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.csv"]


@pytest.mark.parametrize("args, message", [
    (("--engine", "stream"), "--model mlp trains in memory; drop --engine stream"),
    (("--engine", "dask"), "--model mlp trains in memory; drop --engine dask"),
    (("--calibrate",), "--calibrate is not available with --model mlp"),
])
def test_compare_mlp_refuses_what_it_would_ignore(files, capsys, args, message):
    """The streaming engines and the calibration have no network: the options were ignored."""
    code, out, err = run(capsys, "compare", str(files["reference"]), str(files["flipped"]),
                         "--model", "mlp", *FAST, *args)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and message in err


def test_compare_mlp_needs_the_reference_data_not_a_profile(files, capsys, tmp_path):
    profile = tmp_path / "ref.shiftemp"
    assert run(capsys, "profile", str(files["reference"]), "-o", str(profile), "-q")[0] == 0
    code, out, err = run(capsys, "compare", str(profile), str(files["flipped"]), "--model", "mlp",
                         *FAST)
    assert code == 2 and out == ""
    assert f"the profile {profile} does not hold; compare the reference's data file" in err


def test_engine_and_mlp_summaries_name_the_units_their_numbers_are_in(files, capsys):
    """The networks train on a standardised target: the tables said so, the summary sentences
    (built before the unit was corrected) said "squared target units"."""
    code, out, _ = run(capsys, "engine", str(files["reference"]), *FAST, "-f", "json")
    assert code == 0
    report = json.loads(out)["activations"][0]
    assert report["energy_unit"] == "squared standardised target units"
    assert "squared standardised target units of loss" in report["summary"]
    code, out, _ = run(capsys, "compare", str(files["reference"]), str(files["flipped"]),
                       "--model", "mlp", *FAST, "-f", "json")
    network = json.loads(out)["network"]
    assert network["energy_unit"] == "squared standardised target units"
    assert "squared standardised target units" in network["summary"]


def test_mlp_keep_gives_no_refresh_advice(files, capsys):
    """The layer summary advised refreshing the whole network under a KEEP verdict."""
    code, out, _ = run(capsys, "compare", str(files["reference"]), str(files["same"]),
                       "--model", "mlp", *FAST, "-f", "json")
    report = json.loads(out)
    assert code == 0 and report["recommendation"]["retrain"] is False
    summary = report["network"]["summary"]
    assert "refresh the whole network" not in summary and "alone is enough" not in summary
    assert "the verdict is keep" in summary


def test_tiny_data_is_refused_by_the_network_commands(capsys, tmp_path):
    """Two rows: compare --model mlp failed in the data entropy's Cholesky factor (a
    traceback); engine printed solver warnings and exited 0."""
    tiny, more = tmp_path / "tiny.csv", tmp_path / "more.csv"
    pd.DataFrame({"a": [0.1, 0.7], "b": [1.0, -2.0], "y": [0.3, 1.9]}).to_csv(tiny, index=False)
    sine_frame(np.random.default_rng(1), 40).rename(columns={"x1": "a", "x2": "b"}).to_csv(
        more, index=False)
    code, out, err = run(capsys, "compare", str(tiny), str(more), "--model", "mlp", *FAST)
    assert code == 2 and err.count("\n") == 1 and "too few to estimate the data's entropy" in err
    code, out, err = run(capsys, "engine", str(tiny), "--loss", "mae", *FAST)
    assert code == 2 and err.count("\n") == 1 and "2 usable rows for 3 model parameters" in err


def test_mlp_refuses_a_batch_size_as_every_engine_does(files, capsys):
    code, _, err = run(capsys, "compare", str(files["reference"]), str(files["same"]),
                       "--model", "mlp", "--batch-size", "0")
    assert code == 2 and "--batch-size must be a positive number of rows" in err


def test_mlp_names_a_missing_time_column_as_such(files, capsys):
    """It was blamed on --exclude, where the time column is put."""
    code, _, err = run(capsys, "compare", str(files["reference"]), str(files["same"]),
                       "--model", "mlp", "--time-column", "nope")
    assert code == 2 and "(named in --time-column)" in err
