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
