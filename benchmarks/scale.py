"""Scale benchmark: shiftemp compare against a plain pyarrow scan of the same two files.

    python benchmarks/scale.py                      # 1M and 10M rows, then deletes the data
    python benchmarks/scale.py --rows 1000000       # one size
    python benchmarks/scale.py --write-docs         # also replace the table in docs/benchmarks.md

For each size N it writes two parquet files of N rows (20 float features and a float target;
snappy, one row group per million rows) into benchmarks/_data/ (gitignored), and measures, each
in a fresh subprocess (whole-process wall time, imports included; peak RSS of that process):

- the floor: a pyarrow scan of both files, ``ParquetFile(pre_buffer=False).iter_batches``;
- ``shiftemp compare --engine stream`` (linear/MSE; what ``auto`` does above 2M rows), the same
  with ``--no-checksum`` (no SHA-256 of the inputs), and at 1M rows ``--engine memory`` too;
- the same with 5 categorical columns added (8 categories each);
- logistic/CE on files with a binary target;
- 1,000 float features at 100,000 rows (the d^2 statistics);
- where ``evidently`` is importable, its data-drift preset on the 1M files, as a ratio to
  shiftemp (it does not import under pandas 3: run this script in an environment with
  ``pandas<3`` and ``evidently`` to get that row).

Ratios are times divided by the scan of the same files. Targets (issue 5): linear/MSE at 10M rows
per file <= 2x the scan with peak RSS <= 1 GiB; logistic/CE <= 8x.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "_data"
DOCS = HERE.parent / "docs" / "benchmarks.md"
PYTHON = sys.executable
CHUNK = 1_000_000

SCAN = textwrap.dedent("""
    import sys
    import pyarrow.parquet as pq
    for path in sys.argv[1:]:
        for batch in pq.ParquetFile(path, pre_buffer=False).iter_batches(batch_size=65536):
            pass
""")

EVIDENTLY = textwrap.dedent("""
    import sys
    import pandas as pd
    from evidently import Report
    from evidently.presets import DataDriftPreset
    ref, new = pd.read_parquet(sys.argv[1]), pd.read_parquet(sys.argv[2])
    Report([DataDriftPreset()]).run(reference_data=ref, current_data=new)
""")

# the child runs the measured command and reports its own wall time and peak RSS
MEASURE = textwrap.dedent("""
    import json, resource, subprocess, sys, time
    start = time.perf_counter()
    done = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    seconds = time.perf_counter() - start
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    print(json.dumps({"seconds": seconds, "rss": rss, "code": done.returncode,
                      "stderr": done.stderr.decode()[-2000:]}))
""")


def generate(n: int, kind: str, seed: int, shift: float, features: int = 20) -> Path:
    """Write N rows of ``kind`` (linear, categorical, logistic, wide) to a parquet file."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = DATA / f"{kind}_{n}_{seed}.parquet"
    if path.exists():
        return path
    rng = np.random.default_rng(seed)
    coef = np.linspace(-1.0, 1.0, features) * (1.0 + shift)
    names = [f"x{i}" for i in range(features)]
    levels = np.array([f"level_{k}" for k in range(8)])
    temporary = path.with_suffix(".tmp")
    writer = None
    try:
        for start in range(0, n, CHUNK):
            m = min(CHUNK, n - start)
            X = rng.normal(size=(m, features))
            columns = {name: X[:, j] for j, name in enumerate(names)}
            signal = X @ coef
            if kind == "categorical":
                for c in range(5):
                    codes = rng.integers(0, 8, m)
                    columns[f"c{c}"] = pa.array(levels[codes])
                    signal = signal + 0.3 * (codes - 3.5) * (1.0 + shift)
            if kind == "logistic":
                columns["y"] = (rng.random(m) < 1.0 / (1.0 + np.exp(-signal))).astype(np.int64)
            else:
                columns["y"] = signal + rng.normal(size=m)
            table = pa.table(columns)
            if writer is None:
                writer = pq.ParquetWriter(temporary, table.schema, compression="snappy")
            writer.write_table(table, row_group_size=CHUNK)
    finally:
        if writer is not None:
            writer.close()
    temporary.rename(path)
    return path


def measure(command: list[str], repeats: int) -> dict:
    """Median wall time and the largest peak RSS over ``repeats`` runs, each in a fresh process."""
    runs = []
    for _ in range(repeats):
        # from benchmarks/: `python -m shiftemp` then runs the installed package, the one that
        # compiled() compiled, not a checkout in the working directory
        out = subprocess.run([PYTHON, "-c", MEASURE, *command], capture_output=True, text=True,
                             check=True, cwd=HERE)
        result = json.loads(out.stdout)
        if result["code"] != 0:
            raise SystemExit(f"failed: {' '.join(command)}\n{result['stderr']}")
        runs.append(result)
    return {"seconds": statistics.median(r["seconds"] for r in runs),
            "rss": max(r["rss"] for r in runs), "runs": [round(r["seconds"], 2) for r in runs]}


def shiftemp_command(*args: str) -> list[str]:
    return [PYTHON, "-m", "shiftemp", "compare", *args, "--target", "y", "--quiet"]


def evidently_available() -> bool:
    probe = subprocess.run([PYTHON, "-c", "import evidently.presets"], capture_output=True)
    return probe.returncode == 0


def run(sizes: list[int], repeats: int, wide_rows: int, keep: bool = False) -> list[dict]:
    DATA.mkdir(exist_ok=True)
    rows = []

    def case(name: str, n: int, files: tuple[Path, Path], command: list[str], target: str,
             runs: int | None = None) -> dict:
        # the scan and the command alternate, so that a machine that slows down or speeds up
        # during the run moves both alike; medians of each
        scans, results = [], []
        for _ in range(max(3, runs or repeats)):
            scans.append(measure([PYTHON, "-c", SCAN, *map(str, files)], 1))
            if len(results) < (runs or repeats):
                results.append(measure(command, 1))
        scan = {"seconds": statistics.median(r["seconds"] for r in scans),
                "rss": max(r["rss"] for r in scans), "runs": [r["runs"][0] for r in scans]}
        result = {"seconds": statistics.median(r["seconds"] for r in results),
                  "rss": max(r["rss"] for r in results), "runs": [r["runs"][0] for r in results]}
        row = {"case": name, "rows": n, "scan_s": scan["seconds"], "scan_rss": scan["rss"],
               "seconds": result["seconds"], "rss": result["rss"],
               "ratio": result["seconds"] / scan["seconds"], "target": target,
               "runs": result["runs"], "scan_runs": scan["runs"]}
        rows.append(row)
        print(f"{name:34s} N={n:>11,}  {row['seconds']:7.2f} s  {row['ratio']:5.2f}x scan"
              f" ({row['scan_s']:.2f} s)  peak RSS {row['rss'] / 2**20:7.0f} MiB", flush=True)
        return scan

    for n in sizes:
        big = n >= 10**7
        runs = repeats
        ref, new = generate(n, "linear", 1, 0.0), generate(n, "linear", 2, 0.3)
        scan = case("linear/MSE, --engine stream", n, (ref, new),
                    shiftemp_command(str(ref), str(new), "--engine", "stream"),
                    "<= 2x, <= 1 GiB" if big else "", runs=runs)
        stream_s = rows[-1]["seconds"]  # Evidently's comparison: the same files, checksums on
        case("linear/MSE, --engine stream --no-checksum", n, (ref, new),
             shiftemp_command(str(ref), str(new), "--engine", "stream", "--no-checksum"),
             "<= 2x, <= 1 GiB" if big else "", runs=runs)
        if not big:
            case("linear/MSE, --engine memory", n, (ref, new),
                 shiftemp_command(str(ref), str(new), "--engine", "memory"), "", runs=1)
        if evidently_available() and n == 1_000_000:
            result = measure([PYTHON, "-c", EVIDENTLY, str(ref), str(new)], 1)
            rows.append({"case": "Evidently data-drift preset", "rows": n, "seconds": result["seconds"],
                         "rss": result["rss"], "ratio": result["seconds"] / scan["seconds"],
                         "vs_shiftemp": result["seconds"] / stream_s, "scan_s": scan["seconds"],
                         "target": "", "runs": result["runs"]})
            print(f"Evidently: {result['seconds']:.1f} s, {result['seconds'] / stream_s:.0f}x shiftemp"
                  " --engine stream")
        cref, cnew = generate(n, "categorical", 1, 0.0), generate(n, "categorical", 2, 0.3)
        case("linear/MSE + 5 categorical columns, stream", n, (cref, cnew),
             shiftemp_command(str(cref), str(cnew), "--engine", "stream"), "", runs=runs)
        lref, lnew = generate(n, "logistic", 1, 0.0), generate(n, "logistic", 2, 0.3)
        case("logistic/CE, --engine stream", n, (lref, lnew),
             shiftemp_command(str(lref), str(lnew), "--engine", "stream"),
             "<= 8x" if big else "", runs=runs)
        case("logistic/CE, --engine stream --no-checksum", n, (lref, lnew),
             shiftemp_command(str(lref), str(lnew), "--engine", "stream", "--no-checksum"),
             "<= 8x" if big else "", runs=runs)
        if n >= 10**7 and not keep:  # data of this size is deleted as soon as it is measured
            for path in (ref, new, cref, cnew, lref, lnew):
                path.unlink(missing_ok=True)
    wref = generate(wide_rows, "wide", 1, 0.0, features=1000)
    wnew = generate(wide_rows, "wide", 2, 0.3, features=1000)
    case("1,000 features, --engine stream", wide_rows, (wref, wnew),
         shiftemp_command(str(wref), str(wnew), "--engine", "stream"), "works", runs=1)
    return rows


def table(rows: list[dict]) -> str:
    lines = [
        "| case | rows per file | pyarrow scan | shiftemp | ratio to the scan | peak RSS"
        " (scan's) | target |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        extra = f" ({r['vs_shiftemp']:.0f}x shiftemp --engine stream)" if "vs_shiftemp" in r else ""
        lines.append(
            f"| {r['case']}{extra} | {r['rows']:,} | {r['scan_s']:.2f} s | {r['seconds']:.2f} s |"
            f" {r['ratio']:.2f}x | {r['rss'] / 2**20:,.0f} MiB"
            f"{' (%.0f)' % (r['scan_rss'] / 2**20) if r.get('scan_rss') else ''} | {r['target']} |"
        )
    return "\n".join(lines)


def machine() -> str:
    from importlib.metadata import PackageNotFoundError, version

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    packages = []
    for name in ("numpy", "pyarrow", "pandas", "evidently"):
        try:
            packages.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            pass
    return (f"{os.cpu_count()} cores ({platform.processor() or platform.machine()}), Python"
            f" {platform.python_version()} ({', '.join(packages)}), load average {load:.1f} at"
            " the start")


def write_docs(text: str) -> None:
    """Replace the generated part of the "## Scale" section of docs/benchmarks.md."""
    begin, end = "<!-- scale:begin -->", "<!-- scale:end -->"
    content = DOCS.read_text() if DOCS.exists() else "# Benchmarks\n"
    block = f"{begin}\n{text}\n{end}"
    if begin in content:
        head, rest = content.split(begin, 1)
        content = head + block + rest.split(end, 1)[1]
    else:
        content = content.rstrip() + "\n\n## Scale\n\n" + block + "\n"
    DOCS.write_text(content)


def compiled() -> None:
    """Write shiftemp's bytecode, as ``pip install`` does: an editable install (or
    PYTHONDONTWRITEBYTECODE) would otherwise compile its modules in every measured run."""
    import compileall

    import shiftemp

    compileall.compile_dir(str(Path(shiftemp.__file__).parent), quiet=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="*", default=[1_000_000, 10_000_000])
    parser.add_argument("--wide-rows", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3, help="runs per measurement (median)")
    parser.add_argument("--keep", action="store_true", help="keep benchmarks/_data afterwards")
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    started = time.strftime("%Y-%m-%d %H:%M")
    compiled()
    conditions = machine()
    print(conditions, flush=True)
    try:
        rows = run(args.rows, args.repeats, args.wide_rows, args.keep)
    finally:
        if not args.keep:
            shutil.rmtree(DATA, ignore_errors=True)
    note = "" if evidently_available() else (
        "\nEvidently was not importable here (it needs pandas < 3: install `.[bench]` in an"
        " environment of its own), so its row is missing from this run.")
    text = (f"Measured {started} on {conditions}; whole-process wall time, the median of"
            f" {args.repeats} runs (the scans: of at least 3), each run right after a scan of the"
            f" same files."
            f"{note}\n\n{table(rows)}\n\nReproduce: `python benchmarks/scale.py"
            f" --rows {' '.join(map(str, args.rows))} --repeats {args.repeats} --write-docs`")
    print("\n" + text)
    if args.write_docs:
        write_docs(text)


if __name__ == "__main__":
    main()
