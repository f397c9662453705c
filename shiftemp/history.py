"""The run history of ``shiftemp compare --history FILE``: one record per run, for cron jobs.

Two stores, chosen by the file's suffix:

``FILE.jsonl``
    One JSON object a line (a :func:`record`). Each run takes an exclusive ``flock`` on the file,
    appends its line, fsyncs it and unlocks, so two cron jobs that finish at
    once never interleave or lose a line. A line left incomplete by a crash is reported and
    skipped by :func:`read`, never fatal for the rest; the next append starts on a new line.

``FILE.sqlite``, ``FILE.sqlite3`` or ``FILE.db``
    A SQLite database (the standard library's ``sqlite3``) with one table, ``runs``, so that
    pipelines and dashboards can query the history with SQL. One row a run, written in one
    ``BEGIN IMMEDIATE`` transaction (SQLite's own file lock serialises concurrent writers)::

        CREATE TABLE runs (
            id                 INTEGER PRIMARY KEY AUTOINCREMENT,
            time               TEXT NOT NULL,  -- ISO 8601, UTC: when the run started
            command            TEXT NOT NULL,  -- 'compare'
            reference_path     TEXT, reference_sha256 TEXT, reference_rows INTEGER,
            shifted_path       TEXT, shifted_sha256   TEXT, shifted_rows   INTEGER,
            target             TEXT, model TEXT, loss TEXT,
            options            TEXT,           -- JSON object: the options of the run
            e_a REAL, e_b REAL,                -- E_A, E_B (out of sample), the loss's units
            de REAL, de_low REAL, de_high REAL,-- dE = E_B - E_A and its 95% interval
            energy_released    REAL,           -- -dE
            relative_gain      REAL,           -- -dE / E_A
            s_a REAL, s_b REAL,                -- entropies, nats
            ds REAL, ds_low REAL, ds_high REAL,-- dS = S_B - S_A and its 95% interval
            temperature        REAL,           -- T = dE/dS; NULL unless finite
            temperature_status TEXT,           -- finite, infinite or undefined
            temperature_sign   INTEGER,        -- which infinity: -1, 0, +1
            verdict            TEXT,           -- retrain or keep
            retrain            INTEGER,        -- 1 or 0
            shift_class        TEXT,           -- hot, warm, cold, none
            reason             TEXT,
            shiftemp_version   TEXT, host TEXT, seconds REAL,
            record             TEXT NOT NULL   -- the whole record, as in FILE.jsonl
        );

A record is a ``history-record`` of ``shiftemp/schema.json``: the time, the inputs and their
sha256, the options, the key figures (``E_A``, ``E_B``, ``dE``, ``S_A``, ``S_B``, ``dS``, the
temperature, the energy released) and the recommendation.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

from .errors import InputError, OptionError
from .report import SCHEMA_VERSION, Comparison, to_dict

KIND = "history-record"
JSONL_SUFFIXES = (".jsonl",)
SQLITE_SUFFIXES = (".sqlite", ".sqlite3", ".db")
#: Seconds a writer waits for another one's SQLite lock before giving up.
SQLITE_TIMEOUT = 60.0

#: The table of a SQLite history, one column per key figure (see the module docstring).
COLUMNS = (
    "time", "command", "reference_path", "reference_sha256", "reference_rows", "shifted_path",
    "shifted_sha256", "shifted_rows", "target", "model", "loss", "options", "e_a", "e_b", "de",
    "de_low", "de_high", "energy_released", "relative_gain", "s_a", "s_b", "ds", "ds_low",
    "ds_high", "temperature", "temperature_status", "temperature_sign", "verdict", "retrain",
    "shift_class", "reason", "shiftemp_version", "host", "seconds", "record",
)
_TEXT = {"time", "command", "reference_path", "reference_sha256", "shifted_path",
         "shifted_sha256", "target", "model", "loss", "options", "temperature_status", "verdict",
         "shift_class", "reason", "shiftemp_version", "host", "record"}
_INTEGER = {"reference_rows", "shifted_rows", "temperature_sign", "retrain"}
CREATE_TABLE = (
    "CREATE TABLE IF NOT EXISTS runs (\n    id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
    + ",\n".join(
        f"    {name} {'TEXT' if name in _TEXT else 'INTEGER' if name in _INTEGER else 'REAL'}"
        + (" NOT NULL" if name in ("time", "command", "record") else "")
        for name in COLUMNS
    )
    + "\n)"
)


@dataclass(frozen=True)
class Skipped:
    """A line (JSONL) or row (SQLite) of a history that could not be read, and why."""

    where: str
    """``line 3`` (JSONL, counting from 1) or ``row id 3`` (SQLite)."""
    reason: str


@dataclass(frozen=True)
class History:
    """The readable records of a history file, oldest first, and the ones skipped."""

    path: str
    records: tuple[dict[str, Any], ...]
    skipped: tuple[Skipped, ...] = ()


def storage(path: str | os.PathLike, what: str = "--history") -> str:
    """``jsonl`` or ``sqlite`` from the file's suffix; refuses anything else, naming the file as
    ``what`` (the option or argument that gave it)."""
    name = Path(path).name.lower()
    if name.endswith(JSONL_SUFFIXES):
        return "jsonl"
    if name.endswith(SQLITE_SUFFIXES):
        return "sqlite"
    raise OptionError(
        f"{what} {path}: unknown history type; expected a name ending in .jsonl (one JSON"
        " object a line) or .sqlite, .sqlite3, .db (a SQLite database), e.g. runs.jsonl."
    )


def check(path: str | os.PathLike) -> None:
    """Refuse, before a run, a history file that :func:`append` could not write: its folder must
    exist, and the file be writable, or be creatable in its folder when it does not exist yet."""
    path = Path(path)
    kind = storage(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not os.path.isdir(folder):
        raise InputError(f"--history {path}: the folder {folder} does not exist.")
    try:
        size = os.stat(path).st_size
    except FileNotFoundError:
        size = None
    except OSError as exc:  # a name too long
        raise InputError(f"--history {path}: cannot append the run: {exc.strerror}.") from exc
    if os.path.isdir(path):
        raise InputError(f"--history {path}: is a folder; pass a file name such as {path / 'runs.jsonl'}.")
    if size is not None and not os.access(path, os.W_OK):
        raise InputError(f"--history {path}: cannot append the run: the file is not writable.")
    # SQLite writes its journal beside the database, so it needs the folder even for a file
    # that exists
    if (size is None or kind == "sqlite") and not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(f"--history {path}: cannot append the run: the folder {folder} is not"
                         " writable.")
    if kind == "sqlite" and size:
        _check_sqlite(path)


def _check_sqlite(path: Path) -> None:
    """An existing SQLite history must be a database whose table ``runs``, if it has one, has
    every column a run fills: found before the run, not after its report is written."""
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=SQLITE_TIMEOUT)
        try:
            found = {row[1] for row in connection.execute("PRAGMA table_info(runs)")}
        finally:
            connection.close()
    except sqlite3.DatabaseError as exc:
        raise InputError(f"--history {path}: cannot add the run to the SQLite database: {exc}.") from exc
    missing = [name for name in COLUMNS if name not in found]
    if found and missing:
        raise InputError(
            f"--history {path}: its table 'runs' is not a shiftemp history (no column"
            f" {', '.join(missing[:3])}{', ...' if len(missing) > 3 else ''}); pass another file."
        )


def _finite(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def record(report: Comparison, *, command: str = "compare") -> dict[str, Any]:
    """The history record of one comparison: a JSON-safe dict (a ``history-record``)."""
    e, s, r = report.energy, report.entropy, report.recommendation
    t = report.temperature
    started = report.run.started if report.run is not None else (
        _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    )

    def side(summary) -> dict[str, Any]:
        return {"path": summary.path, "sha256": summary.sha256, "rows": summary.rows,
                "rows_used": summary.rows_used}

    return {
        "schema_version": SCHEMA_VERSION,
        "kind": KIND,
        "time": started,
        "command": command,
        "reference": side(report.reference),
        "shifted": side(report.shifted),
        "target": report.target,
        "model": report.model.family,
        "loss": report.model.loss,
        "options": to_dict(report.options),
        "figures": {
            "E_A": _finite(e.before.value),
            "E_B": _finite(e.after_out_of_sample.value),
            "dE": _finite(e.delta_out_of_sample.value),
            "dE_low": _finite(e.delta_out_of_sample.low),
            "dE_high": _finite(e.delta_out_of_sample.high),
            "energy_released": _finite(e.released),
            "relative_gain": _finite(r.relative_gain),
            "S_A": _finite(s.reference.value),
            "S_B": _finite(s.shifted.value),
            "dS": _finite(s.delta.value),
            "dS_low": _finite(s.delta.low),
            "dS_high": _finite(s.delta.high),
            "temperature": {"status": t.status, "value": _finite(t.value), "low": _finite(t.low),
                            "high": _finite(t.high), "sign": int(t.sign)},
        },
        "recommendation": {"verdict": r.verdict, "retrain": bool(r.retrain),
                           "shift_class": r.shift_class, "reason": r.reason},
        "shiftemp_version": report.run.shiftemp_version if report.run else "",
        "host": report.run.host if report.run else "",
        "seconds": report.run.seconds if report.run else None,
    }


def _row(item: dict[str, Any]) -> tuple:
    f, rec = item["figures"], item["recommendation"]
    t = f["temperature"]
    values = {
        "time": item["time"], "command": item["command"],
        "reference_path": item["reference"]["path"], "reference_sha256": item["reference"]["sha256"],
        "reference_rows": item["reference"]["rows"], "shifted_path": item["shifted"]["path"],
        "shifted_sha256": item["shifted"]["sha256"], "shifted_rows": item["shifted"]["rows"],
        "target": item["target"], "model": item["model"], "loss": item["loss"],
        "options": json.dumps(item["options"], ensure_ascii=False),
        "e_a": f["E_A"], "e_b": f["E_B"], "de": f["dE"], "de_low": f["dE_low"],
        "de_high": f["dE_high"], "energy_released": f["energy_released"],
        "relative_gain": f["relative_gain"], "s_a": f["S_A"], "s_b": f["S_B"], "ds": f["dS"],
        "ds_low": f["dS_low"], "ds_high": f["dS_high"], "temperature": t["value"],
        "temperature_status": t["status"], "temperature_sign": t["sign"],
        "verdict": rec["verdict"], "retrain": int(rec["retrain"]),
        "shift_class": rec["shift_class"], "reason": rec["reason"],
        "shiftemp_version": item["shiftemp_version"], "host": item["host"],
        "seconds": item["seconds"],
        "record": json.dumps(item, ensure_ascii=False, allow_nan=False),
    }
    return tuple(values[name] for name in COLUMNS)


def append(path: str | os.PathLike, item: dict[str, Any]) -> None:
    """Append one record to the history at ``path``, safely against concurrent writers."""
    path = Path(path)
    check(path)
    try:
        if storage(path) == "jsonl":
            _append_jsonl(path, item)
        else:
            _append_sqlite(path, item)
    except sqlite3.DatabaseError as exc:
        raise InputError(f"--history {path}: cannot add the run to the SQLite database: {exc}.") from exc
    except OSError as exc:
        raise InputError(f"--history {path}: cannot append the run: {exc.strerror or exc}.") from exc


def _append_jsonl(path: Path, item: dict[str, Any]) -> None:
    import fcntl

    line = (json.dumps(item, ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                # the last line was cut short (a crash mid-write): keep ours whole on its own line
                line = b"\n" + line
            written = 0
            while written < len(line):
                written += os.write(fd, line[written:])
            os.fsync(fd)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _append_sqlite(path: Path, item: dict[str, Any]) -> None:
    connection = sqlite3.connect(path, timeout=SQLITE_TIMEOUT, isolation_level=None)
    try:
        connection.execute("BEGIN IMMEDIATE")
        try:
            connection.execute(CREATE_TABLE)
            connection.execute(
                f"INSERT INTO runs ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
                _row(item),
            )
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
    finally:
        connection.close()


#: The figures of a record, each a number or null (``history-record`` of shiftemp/schema.json).
FIGURES = ("E_A", "E_B", "dE", "dE_low", "dE_high", "energy_released", "relative_gain", "S_A",
           "S_B", "dS", "dS_low", "dS_high")


def _is_number(value: Any) -> bool:
    # bool is an int to Python but not a number to JSON Schema; an int too large for a float
    # would overflow the renderers' float formatting
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def _shown(value: Any, limit: int = 40) -> str:
    """A parsed value as JSON for a skip reason, cut to ``limit`` characters: one line."""
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _field_problem(item: dict[str, Any]) -> str | None:
    """Why a record's fields that the renderers read (history_rows, series, history_html) do not
    have the types of the ``history-record`` schema, or None. Structural, not the whole schema:
    a field no renderer reads may be anything."""
    if not isinstance(item["time"], str):
        return f"time is {_shown(item['time'])}, not a string"
    for side in ("reference", "shifted"):
        if not isinstance(item.get(side), dict) or not isinstance(item[side].get("path"), str):
            return f"no {side}.path (a string)"
    figures = item["figures"]
    for key in FIGURES:
        if figures.get(key) is not None and not _is_number(figures[key]):
            return f"figures.{key} is {_shown(figures[key])}, not a number or null"
    t = figures.get("temperature")
    if not isinstance(t, dict):
        return "no figures.temperature (an object)"
    if t.get("status") not in ("finite", "infinite", "undefined"):
        return f"figures.temperature.status is {_shown(t.get('status'))}, not finite, infinite or undefined"
    for key in ("value", "low", "high"):
        if t.get(key) is not None and not _is_number(t[key]):
            return f"figures.temperature.{key} is {_shown(t[key])}, not a number or null"
    if t["status"] == "finite" and t.get("value") is None:
        return "figures.temperature is finite but its value is null or not a finite number"
    if "sign" in t and (isinstance(t["sign"], bool) or t["sign"] not in (-1, 0, 1)):
        return f"figures.temperature.sign is {_shown(t['sign'])}, not -1, 0 or 1"
    rec = item["recommendation"]
    if rec.get("verdict") not in ("retrain", "keep"):
        return f"recommendation.verdict is {_shown(rec.get('verdict'))}, not retrain or keep"
    if not isinstance(rec.get("retrain"), bool):
        return f"recommendation.retrain is {_shown(rec.get('retrain'))}, not true or false"
    for key in ("shift_class", "reason"):
        if not isinstance(rec.get(key), str):
            return f"recommendation.{key} is {_shown(rec.get(key))}, not a string"
    return None


def _problem(item: Any) -> str | None:
    """Why a parsed line is not a history record, or None."""
    if not isinstance(item, dict):
        return f"a JSON {type(item).__name__}, not an object"
    if item.get("kind") != KIND:
        return f"kind {item.get('kind')!r}, not {KIND!r}"
    missing = [key for key in ("time", "figures", "recommendation") if key not in item]
    if missing:
        return f"no {', '.join(missing)}"
    if not isinstance(item["figures"], dict) or not isinstance(item["recommendation"], dict):
        return "figures or recommendation is not an object"
    return _field_problem(item)


def _not_finite(constant: str) -> None:
    """``NaN``, ``Infinity``, ``-Infinity`` (not JSON, but Python's json writes them) read as null,
    as :func:`record` writes a figure that is not finite: no renderer or ``history -f json``
    meets one."""
    return None


def _float(text: str) -> float | None:
    """A JSON number as a float; one too large for a float (``1e999``) is null, like NaN."""
    return _finite(float(text))


def _int(text: str) -> int | None:
    """A JSON integer; one too large for a float (``10**400``) is null, as ``1e999`` is."""
    value = int(text)
    try:
        float(value)
    except OverflowError:
        return None
    return value


def _parse(text: str) -> tuple[dict[str, Any] | None, str | None]:
    try:
        item = json.loads(text, parse_constant=_not_finite, parse_float=_float, parse_int=_int)
    except json.JSONDecodeError as exc:
        # json's messages may end in "at" ("Unterminated string starting at"): say it once
        return None, f"not JSON ({exc.msg.removesuffix(' at')} at column {exc.colno})"
    problem = _problem(item)
    return (None, problem) if problem else (item, None)


def read(path: str | os.PathLike) -> History:
    """Every readable record of a history, oldest first; unreadable lines are listed in
    ``skipped``, never fatal for the rest."""
    path = Path(path)
    # shiftemp history FILE takes it as an argument, not as --history
    kind = storage(path, "history file")
    if not path.is_file():
        raise InputError(
            f"{path}: no such history file; shiftemp compare ... --history {path} creates it."
        )
    if kind == "jsonl":
        return _read_jsonl(path)
    return _read_sqlite(path)


def _read_jsonl(path: Path) -> History:
    records, skipped = [], []
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                text = raw.decode("utf-8").strip()
            except UnicodeDecodeError:
                skipped.append(Skipped(f"line {number}", "not UTF-8 text"))
                continue
            if not text:
                continue
            item, problem = _parse(text)
            if problem:
                skipped.append(Skipped(f"line {number}", problem))
            else:
                records.append(item)
    return History(str(path), tuple(records), tuple(skipped))


def _read_sqlite(path: Path) -> History:
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=SQLITE_TIMEOUT)
        try:
            rows = connection.execute("SELECT id, record FROM runs ORDER BY id").fetchall()
        finally:
            connection.close()
    except sqlite3.DatabaseError as exc:
        raise InputError(
            f"{path}: cannot read it as a shiftemp SQLite history (a table 'runs'): {exc}."
        ) from exc
    records, skipped = [], []
    for row_id, text in rows:
        item, problem = _parse(text) if isinstance(text, str) else (None, "no record text")
        if problem:
            skipped.append(Skipped(f"row id {row_id}", problem))
        else:
            records.append(item)
    return History(str(path), tuple(records), tuple(skipped))


# --------------------------------------------------------------------------------------------
# the trend

SPARKS = "▁▂▃▄▅▆▇█"


def sparkline(values: Sequence[float | None], marks: Sequence[str | None] | None = None) -> str:
    """One character per value, ``▁`` (lowest) to ``█`` (highest) on a linear scale; a value of
    ``None`` (or NaN, +-inf) prints ``marks[i]`` (e.g. ``↑`` for +infinite) or ``·``.

    >>> sparkline([1, 2, 3, None, 8])
    '▁▂▃·█'
    """
    values = [v if v is not None and math.isfinite(v) else None for v in values]
    finite = [v for v in values if v is not None]
    low, high = (min(finite), max(finite)) if finite else (0.0, 0.0)
    out = []
    for i, value in enumerate(values):
        if value is None:
            out.append((marks[i] if marks is not None and marks[i] else None) or "·")
        elif high == low:
            out.append(SPARKS[len(SPARKS) // 2])
        else:
            out.append(SPARKS[round((value - low) / (high - low) * (len(SPARKS) - 1))])
    return "".join(out)


def temperature_mark(t: dict[str, Any]) -> str | None:
    """``↑`` / ``↓`` for a +/- infinite temperature, ``·`` for an undefined one, else None."""
    if t.get("status") == "infinite":
        return "↑" if t.get("sign", 0) > 0 else "↓"
    if t.get("status") == "undefined":
        return "·"
    return None


def latest(records: Sequence[dict[str, Any]], last: int) -> Sequence[dict[str, Any]]:
    """The last ``last`` records (``shiftemp history --last N``), oldest first; 0 for all.
    A negative count is refused: ``records[-(-1):]`` would silently show every run."""
    if isinstance(last, bool) or not isinstance(last, int):
        raise TypeError(f"last must be an int, not {type(last).__name__}")
    if last < 0:
        raise OptionError(f"--last {last}: give a number of runs, 0 or more (0 shows every run).")
    return records[-last:] if last else records


def series(records: Iterable[dict[str, Any]]) -> dict[str, list]:
    """The trend of a history: ``temperature`` (finite values, else None), ``temperature_marks``
    (:func:`temperature_mark`), ``energy_released``, ``relative_gain``, ``retrain``, ``time``;
    a figure that is not a finite number is None."""

    def number(value: Any) -> float | None:
        return float(value) if _is_number(value) else None

    out: dict[str, list] = {"time": [], "temperature": [], "temperature_marks": [],
                            "energy_released": [], "relative_gain": [], "retrain": []}
    for item in records:
        f, t = item["figures"], item["figures"].get("temperature") or {}
        out["time"].append(item.get("time"))
        out["temperature"].append(number(t.get("value")) if t.get("status") == "finite" else None)
        out["temperature_marks"].append(temperature_mark(t))
        out["energy_released"].append(number(f.get("energy_released")))
        out["relative_gain"].append(number(f.get("relative_gain")))
        out["retrain"].append(bool(item["recommendation"].get("retrain")))
    return out
