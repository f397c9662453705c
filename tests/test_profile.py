"""Reference profiles: compare from a profile gives the raw files' report; partition profiles merge
into the profile of the whole; the format is a documented zip of JSON and .npy arrays."""

from __future__ import annotations

import io as _bytes
import json
import zipfile

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import shiftemp
from shiftemp import profile
from shiftemp.errors import InputError, OptionError

from test_stream import differences, mixed_frames

pytestmark = pytest.mark.usefixtures("one_blas_thread")

#: Provenance differs by design between a profile and the raw file it was built from.
PROVENANCE = (".notes", ".reference.path", ".reference.format", ".reference.sha256")


def write(frame, path):
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path)
    return path


@pytest.fixture
def files(rng, tmp_path):
    ref, new = mixed_frames(rng, n_ref=800, n_new=600)
    return (write(ref, tmp_path / "ref.parquet"), write(ref.iloc[:350], tmp_path / "ref_a.parquet"),
            write(ref.iloc[350:], tmp_path / "ref_b.parquet"), write(new, tmp_path / "new.parquet"))


def test_compare_from_a_profile_gives_the_raw_report(files, tmp_path):
    ref, _, _, new = files
    made = profile.build(ref, target="y")
    profile.save(made, tmp_path / "ref.shiftemp")
    raw = shiftemp.compare(ref, new, target="y", engine="memory")
    from_profile = shiftemp.compare(tmp_path / "ref.shiftemp", new, target="y")
    assert differences(raw, from_profile, rtol=1e-9, skip=(".notes",)) == []
    assert from_profile.reference.sha256 == raw.reference.sha256
    assert from_profile.notes == (
        f"reference statistics from the profile {tmp_path / 'ref.shiftemp'}", *raw.notes
    )


def test_merged_partition_profiles_equal_the_profile_of_the_whole(files, tmp_path):
    ref, part_a, part_b, new = files
    whole = profile.build(ref, target="y")
    parts = [profile.build(part, target="y") for part in (part_a, part_b)]
    for made, name in ((whole, "whole"), (parts[0], "a"), (parts[1], "b")):
        profile.save(made, tmp_path / f"{name}.shiftemp")
    merged = profile.merge([profile.load(tmp_path / f"{name}.shiftemp") for name in "ab"])
    profile.save(merged, tmp_path / "merged.shiftemp")
    a = shiftemp.compare(tmp_path / "whole.shiftemp", new)
    b = shiftemp.compare(tmp_path / "merged.shiftemp", new)
    assert differences(a, b, rtol=1e-9, skip=PROVENANCE) == []
    assert merged.stats.rows_read == whole.stats.rows_read
    np.testing.assert_array_equal(merged.stats.sample.keys, whole.stats.sample.keys)


def test_a_logistic_profile_round_trips_and_merges(rng, tmp_path):
    from conftest import classification_frame

    ref, new = classification_frame(rng, 700, classes=3), classification_frame(rng, 500, classes=3, flip=True)
    paths = [write(ref, tmp_path / "ref.parquet"), write(ref.iloc[:300], tmp_path / "a.parquet"),
             write(ref.iloc[300:], tmp_path / "b.parquet"), write(new, tmp_path / "new.parquet")]
    raw = shiftemp.compare(paths[0], paths[3], target="label", engine="memory")
    profile.save(profile.build(paths[0], target="label"), tmp_path / "ref.shiftemp")
    from_profile = shiftemp.compare(tmp_path / "ref.shiftemp", paths[3], target="label")
    assert differences(raw, from_profile, rtol=1e-6, atol=1e-8, skip=(".notes",)) == []
    merged = profile.merge([profile.build(p, target="label") for p in paths[1:3]])
    profile.save(merged, tmp_path / "merged.shiftemp")
    from_merged = shiftemp.compare(tmp_path / "merged.shiftemp", paths[3], target="label")
    assert differences(from_profile, from_merged, rtol=1e-6, atol=1e-8, skip=PROVENANCE) == []


def test_the_format_is_a_zip_of_json_and_plain_arrays(files, tmp_path):
    ref, *_ = files
    profile.save(profile.build(ref, target="y"), tmp_path / "ref.shiftemp")
    with zipfile.ZipFile(tmp_path / "ref.shiftemp") as archive:
        names = set(archive.namelist())
        meta = json.loads(archive.read("profile.json"))
        arrays = {
            name: np.load(_bytes.BytesIO(archive.read(name)), allow_pickle=False)
            for name in names if name.endswith(".npy")
        }
    assert meta["format"] == "shiftemp-profile" and meta["version"] == profile.VERSION
    assert meta["layout"]["target"] == "y" and meta["model"]["family"] == "linear"
    assert {"mean.npy", "comoment.npy", "sample_keys.npy", "params.npy"} <= names
    assert all(array.dtype != object for array in arrays.values())
    assert meta["source"]["rows"] == 800


def test_unreadable_or_foreign_profiles_are_refused(files, tmp_path):
    ref, *_ = files
    (tmp_path / "junk.shiftemp").write_text("not a zip")
    with pytest.raises(InputError, match="not a shiftemp profile"):
        profile.load(tmp_path / "junk.shiftemp")
    profile.save(profile.build(ref, target="y"), tmp_path / "ref.shiftemp")
    with zipfile.ZipFile(tmp_path / "ref.shiftemp") as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    meta = json.loads(members["profile.json"])
    meta["version"] = 99
    members["profile.json"] = json.dumps(meta).encode()
    with zipfile.ZipFile(tmp_path / "future.shiftemp", "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    with pytest.raises(InputError, match="profile format version 99 is not supported"):
        profile.load(tmp_path / "future.shiftemp")


def test_a_profile_fixes_its_options(files, tmp_path):
    ref, _, _, new = files
    profile.save(profile.build(ref, target="y"), tmp_path / "ref.shiftemp")
    with pytest.raises(OptionError, match="--loss mae differs from the profile's"):
        shiftemp.compare(tmp_path / "ref.shiftemp", new, loss="mae")
    with pytest.raises(OptionError, match="--engine memory cannot compare with a profile"):
        shiftemp.compare(tmp_path / "ref.shiftemp", new, engine="memory")


def test_the_cli_profiles_merges_and_compares(run, files, tmp_path):
    ref, part_a, part_b, new = files
    made = run("profile", ref, "--target", "y", "-o", tmp_path / "ref.shiftemp")
    assert made.code == 0
    assert made.stdout.startswith(f"wrote {tmp_path / 'ref.shiftemp'}: 778 of 800 rows of")
    for part, name in ((part_a, "a"), (part_b, "b")):
        assert run("profile", part, "--target", "y", "-o", tmp_path / f"{name}.shiftemp").code == 0
    merged = run("profile", "--merge", tmp_path / "a.shiftemp", tmp_path / "b.shiftemp",
                 "-o", tmp_path / "m.shiftemp")
    assert merged.code == 0
    outputs = [run("compare", tmp_path / f"{name}.shiftemp", new, "-f", "json") for name in ("ref", "m")]
    assert [o.code for o in outputs] == [0, 0]
    a, b = (shiftemp.Comparison.from_json(o.stdout) for o in outputs)
    assert differences(a, b, rtol=1e-9, skip=PROVENANCE) == []


@pytest.mark.parametrize("args, message", [
    (("-o", "out.zip"), "--output out.zip must end with .shiftemp"),
    (("extra.parquet", "-o", "out.shiftemp"), "profile takes one DATA, got 2"),
    (("--merge", "-o", "out.shiftemp"), "--merge needs at least two profiles"),
    (("--batch-size", "0", "-o", "out.shiftemp"), "--batch-size must be a positive number of rows"),
])
def test_cli_profile_errors_are_one_line(run, files, tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    ref, *_ = files
    first = () if args[0] == "--merge" else (ref,)
    if args[0] == "--merge":
        profile.save(profile.build(ref, target="y"), tmp_path / "only.shiftemp")
        first = ("--merge", tmp_path / "only.shiftemp")
        args = args[1:]
    result = run("profile", *first, *args)
    assert result.code == 2
    assert result.stderr.startswith("shiftemp: error: ") and message in result.stderr
    assert result.stderr.count("\n") == 1


# --------------------------------------------------------------------------------------------
# damaged, edited and hostile profiles; options compared as compare reads them


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A linear profile of mixed_frames' reference, its members, and the shifted file."""
    folder = tmp_path_factory.mktemp("saved")
    ref, new = mixed_frames(np.random.default_rng(7), n_ref=400, n_new=300)
    path = folder / "ref.shiftemp"
    profile.save(profile.build(write(ref, folder / "ref.parquet"), target="y"), path)
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    return path, members, write(new, folder / "new.parquet")


def rewrite(members, path, meta=None, arrays=None, extra=None):
    """A copy of a profile's ``members`` with fields of profile.json (key: value, or a function
    of the old JSON) and arrays replaced, and ``extra`` members added; written to ``path``."""
    members = dict(members)
    document = json.loads(members["profile.json"])
    if callable(meta):
        meta(document)
    else:
        document.update(meta or {})
    members["profile.json"] = json.dumps(document).encode()
    for name, array in (arrays or {}).items():
        buffer = _bytes.BytesIO()
        np.save(buffer, array)
        members[name] = buffer.getvalue()
    members.update(extra or {})
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def loaded(members, name):
    return np.load(_bytes.BytesIO(members[name]))


@pytest.mark.parametrize("edit, message", [
    ({"layout": None}, "'layout' in profile.json is None, not an object"),
    (lambda m: m.pop("count"), "profile.json lacks 'count'"),
    ({"categories": "x"}, "'categories' in profile.json is 'x', not a list"),
    (lambda m: m["model"].update(family="quadratic"), "model family 'quadratic'"),
    (lambda m: m["model"].update(family="mlp"), "model family 'mlp'"),
    (lambda m: m["model"].update(loss="ce"), "loss 'ce' does not go with the linear model"),
    (lambda m: m["layout"].update(target="nope"), "do not split its target and features"),
    ({"count": 0}, "'count' is 0, not the"),
    ({"count": -5}, "'count' in profile.json is -5, not a whole number >= 0"),
    ({"present": [1]}, "'present' is not"),
    ({"indicators": []}, "'indicators' are not the categorical features' categories"),
    (lambda m: m["source"].update(rows="many"), "'rows' in the source is 'many'"),
    ({"classes": ["a", "b"]}, "a linear model with classes"),
    ({"target_top": float("nan")}, "'target_top' in profile.json is nan, not a finite number"),
])
def test_a_damaged_profile_json_is_refused_in_one_line(saved, tmp_path, edit, message):
    _, members, _ = saved
    path = rewrite(members, tmp_path / "bad.shiftemp", meta=edit)
    with pytest.raises(InputError, match="bad.shiftemp: not a valid shiftemp profile: ") as caught:
        profile.load(path)
    assert message in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize("name, change, message", [
    ("params.npy", lambda a: np.full_like(a, np.nan), "params.npy holds a value that is not finite"),
    ("mean.npy", lambda a: np.full_like(a, np.nan), "mean.npy holds a value that is not finite"),
    ("comoment.npy", lambda a: a.ravel()[:1], "comoment.npy has the shape (1,), not"),
    ("low.npy", lambda a: a.astype(str), "low.npy holds <U32 values, not 8-byte floats"),
    ("sample_codes.npy", lambda a: a + 100, "sample_codes.npy holds a code of no category"),
    ("sample_keys.npy", lambda a: a[::-1], "sample_keys.npy is not a sorted sample"),
    ("counts_0.npy", lambda a: a * 2, "category counts do not add up to the rows used"),
    ("params.npy", lambda a: a[:-1], "params.npy has the shape"),
])
def test_a_damaged_profile_array_is_refused_naming_the_profile(saved, tmp_path, name, change,
                                                               message):
    _, members, _ = saved
    array = change(loaded(members, name))
    path = rewrite(members, tmp_path / "bad.shiftemp", arrays={name: array})
    with pytest.raises(InputError, match="bad.shiftemp: not a valid shiftemp profile: ") as caught:
        profile.load(path)
    assert message in str(caught.value)


def test_nan_parameters_in_a_profile_do_not_give_a_report(run, saved, tmp_path):
    """They gave KEEP with exit 0 and null energies (a fail-open CI gate)."""
    _, members, new = saved
    path = rewrite(members, tmp_path / "nan.shiftemp",
                   arrays={"params.npy": np.full_like(loaded(members, "params.npy"), np.nan)})
    result = run("compare", path, new, "-f", "json")
    assert result.code == 2 and result.stdout == ""
    assert result.stderr == (f"shiftemp: error: {path}: not a valid shiftemp profile: params.npy"
                             " holds a value that is not finite.\n")


@pytest.mark.parametrize("version, shown", [("1", "'1'"), (True, "True"), (1.0, "1.0")])
def test_only_the_integer_version_is_read(saved, tmp_path, version, shown):
    _, members, _ = saved
    path = rewrite(members, tmp_path / "v.shiftemp", meta={"version": version})
    with pytest.raises(InputError, match=f"profile format version {shown} is not supported"):
        profile.load(path)


def test_unknown_members_are_not_inflated_and_known_ones_are_bounded(saved, tmp_path):
    path, members, new = saved
    junk = rewrite(members, tmp_path / "junk.shiftemp", extra={"junk.bin": bytes(16 << 20)})
    limits = {"profile.json": profile.JSON_BYTES}
    assert set(shiftemp.io.read_members(junk, limits)) == {"profile.json"}
    a = shiftemp.compare(path, new)
    b = shiftemp.compare(junk, new)
    assert differences(a, b, rtol=0, skip=PROVENANCE) == []
    # a mean.npy far beyond its layout's few values: refused before it is inflated whole
    bomb = rewrite(members, tmp_path / "bomb.shiftemp", extra={"mean.npy": bytes(16 << 20)})
    with pytest.raises(InputError, match="mean.npy holds more than the 4,.* bytes its layout allows"):
        profile.load(bomb)


def test_merge_refuses_a_damaged_profile_in_one_line(run, saved, tmp_path):
    path, members, _ = saved
    bad = rewrite(members, tmp_path / "bad.shiftemp", meta={"notes": "x"})
    result = run("profile", "--merge", path, bad, "-o", tmp_path / "m.shiftemp")
    assert result.code == 2 and result.stderr.count("\n") == 1
    assert "bad.shiftemp: not a valid shiftemp profile: 'notes'" in result.stderr
    assert not (tmp_path / "m.shiftemp").exists()


def test_a_network_is_not_profiled(files, tmp_path, run):
    ref, *_ = files
    with pytest.raises(OptionError, match="--model mlp cannot be profiled"):
        profile.build(ref, target="y", model="mlp")
    result = run("profile", ref, "--target", "y", "--model", "mlp", "-o", tmp_path / "m.shiftemp")
    assert result.code == 2 and result.stderr.count("\n") == 1
    assert not (tmp_path / "m.shiftemp").exists()


@pytest.fixture
def empty_x(rng, tmp_path):
    """A reference whose feature c has no values; shifted files with and without values in c."""
    ref, new = mixed_frames(rng, n_ref=500, n_new=400)
    ref["c"] = np.nan
    return (write(ref, tmp_path / "ref.parquet"), write(new, tmp_path / "new.parquet"),
            write(new.assign(c=np.nan), tmp_path / "new_nan.parquet"))


def test_a_profile_keeps_a_column_without_values_as_the_raw_compare_does(empty_x, tmp_path):
    ref, new, new_nan = empty_x
    made = profile.build(ref, target="y")
    assert f"{ref}: column 'c' has no values; left out" in made.notes
    assert not any("either file" in note for note in made.notes)
    profile.save(made, tmp_path / "ref.shiftemp")
    with pytest.raises(InputError) as raw:
        shiftemp.compare(ref, new, target="y", engine="stream")
    with pytest.raises(InputError) as from_profile:
        shiftemp.compare(tmp_path / "ref.shiftemp", new)
    assert str(from_profile.value) == str(raw.value)
    assert "every row has a missing or infinite value in column 'c'" in str(raw.value)
    a = shiftemp.compare(ref, new_nan, target="y", engine="stream")
    b = shiftemp.compare(tmp_path / "ref.shiftemp", new_nan)
    assert differences(a, b, rtol=1e-9, skip=(".notes", ".options")) == []
    assert b.notes == (f"reference statistics from the profile {tmp_path / 'ref.shiftemp'}", *a.notes)


def test_the_profile_options_compare_as_sets(files, tmp_path, run):
    ref, part_a, part_b, new = files
    profile.save(profile.build(ref, target="y", exclude=["c", "flag"]), tmp_path / "ref.shiftemp")
    base = shiftemp.compare(tmp_path / "ref.shiftemp", new)
    again = shiftemp.compare(tmp_path / "ref.shiftemp", new, exclude=["flag", "c"])
    named = shiftemp.compare(tmp_path / "ref.shiftemp", new, features=["region", "b", "a"])
    assert differences(base, again, rtol=0) == [] and differences(base, named, rtol=0) == []
    with pytest.raises(OptionError, match=r"they leave out its features \['b'\]"):
        shiftemp.compare(tmp_path / "ref.shiftemp", new, exclude=["c", "flag", "b"])
    with pytest.raises(OptionError, match=r"they add the features \['flag'\]"):
        shiftemp.compare(tmp_path / "ref.shiftemp", new, exclude=["c"])
    for part, name, exclude in ((part_a, "a", "c,flag"), (part_b, "b", "flag,c")):
        assert run("profile", part, "--target", "y", "--exclude", exclude,
                   "-o", tmp_path / f"{name}.shiftemp").code == 0
    merged = run("profile", "--merge", tmp_path / "a.shiftemp", tmp_path / "b.shiftemp",
                 "-o", tmp_path / "m.shiftemp")
    assert merged.code == 0, merged.stderr


def test_merge_names_the_profiles_and_the_setting_that_differs(files, tmp_path):
    _, part_a, part_b, _ = files
    a = profile.build(part_a, target="y", exclude=["c"])
    profile.save(profile.build(part_b, target="y", exclude=["c"], loss="mae"), tmp_path / "b.shiftemp")
    with pytest.raises(OptionError) as caught:
        profile.merge([a, profile.load(tmp_path / "b.shiftemp")])
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / 'b.shiftemp'} and {part_a} differ in --loss (mae vs mse)")
    assert "Layout(" not in message
    with pytest.raises(OptionError, match="--batch-size must be a positive number of rows"):
        profile.merge([a, a], batch_size=0)


def test_the_report_shows_the_options_the_profile_fixed(files, tmp_path):
    ref, _, _, new = files
    profile.save(profile.build(ref, target="y", exclude=["c", "flag"]), tmp_path / "ref.shiftemp")
    raw = shiftemp.compare(ref, new, target="y", exclude=["c", "flag"], engine="stream")
    from_profile = shiftemp.compare(tmp_path / "ref.shiftemp", new)
    assert from_profile.options == raw.options
    assert from_profile.options["target"] == "y" and from_profile.options["exclude"] == ["c", "flag"]


def test_hints_with_a_profile_are_ones_that_work(files, tmp_path):
    ref, _, _, new = files
    profile.save(profile.build(ref, target="y"), tmp_path / "ref.shiftemp")
    with pytest.raises(OptionError, match="--time-column a is a feature of the profile .* rebuild"
                                          " the profile with --exclude a"):
        shiftemp.compare(tmp_path / "ref.shiftemp", new, time_column="a")
    import pandas as pd

    without = write(pd.read_parquet(new).drop(columns="region"), tmp_path / "without.parquet")
    with pytest.raises(shiftemp.errors.ColumnError,
                       match="has no column 'region' .*Rebuild the profile with --exclude region"):
        shiftemp.compare(tmp_path / "ref.shiftemp", without)


def _profiled_pair(run, tmp_path, seed: int):
    """Two regression files in ``tmp_path``, the first profiled as p.shiftemp; the second's
    path."""
    from conftest import regression_frame

    rng = np.random.default_rng(seed)
    ref, new = tmp_path / "ref.parquet", tmp_path / "new.parquet"
    regression_frame(rng, 300).to_parquet(ref)
    regression_frame(rng, 300).to_parquet(new)
    assert run("profile", ref, "--target", "y", "-o", tmp_path / "p.shiftemp", "-q").code == 0
    return new


def test_calibrate_against_a_profile_says_what_works(run, tmp_path):
    """It said "pass --engine memory", which a profile refuses."""
    new = _profiled_pair(run, tmp_path, 3)
    result = run("compare", tmp_path / "p.shiftemp", new, "--calibrate")
    assert result.code == 2
    assert "compare the reference's data file with --engine memory" in result.stderr
    merged = run("profile", "--merge", tmp_path / "p.shiftemp", tmp_path / "p.shiftemp", "-o",
                 tmp_path / "m.shiftemp", "--batch-size", "0")
    assert merged.code == 2 and "--batch-size must be a positive number" in merged.stderr
    assert not (tmp_path / "m.shiftemp").exists()


def test_a_time_column_is_checked_against_a_profile_too(run, tmp_path):
    """A missing --time-column, or the target as one, ran without a word against a profile."""
    new = _profiled_pair(run, tmp_path, 5)
    missing = run("compare", tmp_path / "p.shiftemp", new, "--time-column", "nosuch")
    assert missing.code == 2 and "has no column 'nosuch' (named in --time-column)" in missing.stderr
    target = run("compare", tmp_path / "p.shiftemp", new, "--time-column", "y")
    assert target.code == 2 and "--time-column 'y' is the target" in target.stderr
