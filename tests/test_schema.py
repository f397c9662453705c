"""The JSON Schema shipped with the package (shiftemp/schema.json, `shiftemp schema`): every kind
of report shiftemp writes validates against it, and it documents every field."""

from __future__ import annotations

import copy
import dataclasses
import json
from importlib.resources import files

import jsonschema
import numpy as np
import pytest

import shiftemp
from conftest import classification_frame, regression_frame
from shiftemp.report import SCHEMA_VERSION, Comparison

pytestmark = pytest.mark.usefixtures("one_blas_thread")


@pytest.fixture(scope="module")
def schema() -> dict:
    return json.loads(files("shiftemp").joinpath("schema.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def validators(schema) -> dict[str, jsonschema.protocols.Validator]:
    """One validator for the whole schema and one per kind (clearer messages)."""
    checker = jsonschema.Draft202012Validator.FORMAT_CHECKER
    out = {"all": jsonschema.Draft202012Validator(schema, format_checker=checker)}
    for kind in ("comparison", "engine", "temperature_run", "history_record"):
        out[kind] = jsonschema.Draft202012Validator(
            {**schema, "oneOf": [{"$ref": f"#/$defs/{kind}"}]}, format_checker=checker,
        )
    return out


def check(validators, kind: str, document: dict) -> None:
    errors = sorted(validators[kind].iter_errors(document), key=lambda e: list(e.path))
    assert not errors, (
        "the report does not match shiftemp/schema.json (document a new field there and bump the"
        " minor of SCHEMA_VERSION): "
        + "; ".join(f"{'/'.join(map(str, e.path)) or '(top)'}: {e.message}" for e in errors[:5])
    )
    assert validators["all"].is_valid(document)


@pytest.fixture(scope="module")
def frames():
    rng = np.random.default_rng(17)
    return {
        "old": regression_frame(rng, 300, region=True),
        "new": regression_frame(rng, 300, coef=(1.0, 1.0, 0.25), region=True),
        "cls_old": classification_frame(rng, 300, classes=3),
        "cls_new": classification_frame(rng, 300, classes=3, flip=True),
    }


@pytest.fixture(scope="module")
def comparisons(frames, tmp_path_factory) -> dict[str, Comparison]:
    old, new = frames["old"], frames["new"]
    folder = tmp_path_factory.mktemp("schema")
    old.to_parquet(folder / "old.parquet")
    new.to_parquet(folder / "new.parquet")
    return {
        "linear": shiftemp.compare(old, new, target="y"),
        "files": shiftemp.compare(folder / "old.parquet", folder / "new.parquet", target="y"),
        "logistic": shiftemp.compare(frames["cls_old"], frames["cls_new"]),
        "parameters": shiftemp.compare(old, new, target="y", entropy="parameters"),
        "calibrated": shiftemp.compare(old, new, target="y", calibrate=True, calibration_splits=3),
        "stream": shiftemp.compare(folder / "old.parquet", folder / "new.parquet", target="y", engine="stream"),
        "mlp": shiftemp.compare(old, new, target="y", model="mlp", hidden=(4,), epochs=3),
    }


def test_the_schema_is_valid_and_versioned_with_the_reports(schema):
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["x-schema-version"] == SCHEMA_VERSION
    assert {d["$ref"] for d in schema["oneOf"]} == {
        "#/$defs/comparison", "#/$defs/engine", "#/$defs/temperature_run", "#/$defs/history_record"}


@pytest.mark.parametrize("name", ["linear", "files", "logistic", "parameters", "calibrated", "stream", "mlp"])
def test_every_comparison_validates(validators, comparisons, name):
    document = json.loads(comparisons[name].to_json())
    check(validators, "comparison", document)


def test_the_optional_blocks_were_exercised(comparisons):
    # the parametrized reports between them fill every optional block of the schema
    assert comparisons["calibrated"].calibration is not None
    assert comparisons["mlp"].network is not None
    assert comparisons["linear"].explanation is not None
    assert comparisons["linear"].type_one is not None
    assert comparisons["parameters"].entropy.kind == "parameters"


def test_the_schema_documents_every_field_of_a_comparison(schema):
    fields = {f.name for f in dataclasses.fields(Comparison)}
    assert set(schema["$defs"]["comparison"]["properties"]) == fields


def test_an_engine_run_validates(validators, frames):
    from shiftemp.heat import run_engine

    run = run_engine(frames["old"], target="y", hidden=(4,), epochs=2,
                     activations=("relu", "identity"))
    check(validators, "engine", json.loads(json.dumps(run.to_dict())))


def test_a_temperature_run_validates(validators, frames):
    from shiftemp.training import run_temperature

    run = run_temperature(frames["old"], target="y", losses=("mse", "mae"), draws=200)
    check(validators, "temperature_run", json.loads(json.dumps(run.to_dict())))


def test_a_history_record_validates(validators, comparisons):
    from shiftemp.history import record

    for report in comparisons.values():
        check(validators, "history_record", record(report))


@pytest.mark.parametrize(
    "damage",
    [
        lambda d: d.pop("recommendation"),
        lambda d: d.update(kind="comparisons"),
        lambda d: d["temperature"].update(status="hot"),
        lambda d: d["energy"]["before"].update(value="66"),
        lambda d: d.update(schema_version="2.0"),
        lambda d: d.update(surprise=1),
        lambda d: d["reference"].update(sha256="not a hash"),
    ],
    ids=["missing", "kind", "status", "type", "major", "undocumented", "sha256"],
)
def test_the_schema_catches_a_damaged_report(validators, comparisons, damage):
    document = copy.deepcopy(json.loads(comparisons["linear"].to_json()))
    damage(document)
    assert not validators["all"].is_valid(document)


def test_shiftemp_schema_prints_the_shipped_schema(run, schema):
    result = run("schema")
    assert result.code == 0 and result.stderr == ""
    assert json.loads(result.stdout) == schema


def test_the_schema_ships_as_package_data():
    # pyproject: [tool.setuptools.package-data] shiftemp = ["*.json"]
    from pathlib import Path

    from shiftemp.config import tomllib  # the standard library's, or tomli before Python 3.11

    pyproject = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())
    assert "*.json" in pyproject["tool"]["setuptools"]["package-data"]["shiftemp"]
    assert files("shiftemp").joinpath("schema.json").is_file()
