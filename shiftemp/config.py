"""Project defaults for ``shiftemp compare``, read from a TOML file; flags override them.

Where the settings come from: the first of these that exists, one file only (never merged):

1. ``--config FILE``: its ``[tool.shiftemp]`` table when it has one, else its top level;
2. ``shiftemp.toml`` in the working directory (top level, or ``[tool.shiftemp]``);
3. ``pyproject.toml`` in the working directory: its ``[tool.shiftemp]`` table, if any.

Precedence, per setting: a flag on the command line, then the file, then the built-in default.
``shiftemp config`` shows the effective settings and where each came from.

Example ``shiftemp.toml``::

    target = "minutes"
    features = ["distance_km", "traffic"]     # or "distance_km,traffic"
    model = "linear"
    min_gain = 0.02
    format = "markdown"
    history = "runs.jsonl"                    # relative to this file's folder

Keys may be written with dashes (``min-gain``) or underscores. A relative path (``output``,
``html``, ``history``) is relative to the folder of the file that sets it.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import InputError, OptionError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

LOCAL_FILE = "shiftemp.toml"
PROJECT_FILE = "pyproject.toml"


@dataclass(frozen=True)
class Setting:
    """A setting of the file: the compare option it sets and the TOML type it takes."""

    name: str
    kind: str
    """``text``, ``choice`` (a string the option checks), ``columns`` (a list of names or one
    comma-separated string), ``integer``, ``number``, ``flag`` (true/false) or ``path``."""
    help: str


#: The settings a file may hold, in the order ``shiftemp config`` shows them.
SETTINGS: dict[str, Setting] = {
    s.name: s
    for s in (
        Setting("target", "text", "the target column"),
        Setting("features", "columns", "feature columns"),
        Setting("exclude", "columns", "columns to leave out"),
        Setting("model", "choice", "model family"),
        Setting("loss", "choice", "loss"),
        Setting("entropy", "choice", "entropy of the transition"),
        Setting("folds", "integer", "cross-fitting folds"),
        Setting("min_gain", "number", "threshold: fraction of the loss a refresh must remove"),
        Setting("seed", "integer", "seed of the fold assignment"),
        Setting("time_column", "text", "column that orders the rows in time"),
        Setting("calibrate", "flag", "measure the reference's ambient temperature"),
        Setting("calibration_splits", "integer", "self-splits of calibrate"),
        Setting("init", "choice", "initialization law of the Type I temperatures"),
        Setting("engine", "choice", "where to run"),
        Setting("format", "choice", "report format"),
        Setting("output", "path", "write the report to this file"),
        Setting("html", "path", "write the HTML report to this file"),
        Setting("history", "path", "append each run to this history (.jsonl, .sqlite, .db)"),
        Setting("fail_on_retrain", "flag", "exit 1 when the recommendation is retrain"),
    )
}


@dataclass(frozen=True)
class Config:
    """The settings of one file, as the command line would take them.

    ``values`` maps a setting's name to a value ready for its option: columns joined by commas,
    paths resolved against the file's folder. ``source`` names the file for messages and for
    ``shiftemp config``: ``shiftemp.toml``, ``pyproject.toml [tool.shiftemp]``, ... or ``""`` when
    no file was found.
    """

    path: Path | None = None
    source: str = ""
    values: dict[str, Any] = field(default_factory=dict)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except UnicodeDecodeError as exc:  # tomllib decodes the whole file first
        raise InputError(
            f"{path}: not a TOML file: its text is not UTF-8 (byte {exc.start}); save it as"
            " UTF-8."
        ) from exc
    except OSError as exc:
        raise InputError(f"{path}: cannot read the configuration: {exc.strerror or exc}.") from exc
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: not valid TOML: {exc}. Fix the file or pass --config with another.") from exc


def _table(path: Path, data: dict[str, Any], explicit: bool) -> tuple[dict[str, Any] | None, str]:
    """The shiftemp table of a parsed file and how to name it."""
    tool = data.get("tool")
    if isinstance(tool, dict) and "shiftemp" in tool:
        table = tool["shiftemp"]
        if not isinstance(table, dict):
            raise OptionError(f"{path}: [tool.shiftemp] must be a table of settings, found {type(table).__name__}.")
        return table, f"{path} [tool.shiftemp]"
    if path.name == PROJECT_FILE:
        if explicit:
            raise OptionError(
                f"--config {path}: the file has no [tool.shiftemp] table; add one with the settings"
                f" ({', '.join(SETTINGS)})."
            )
        return None, ""
    return data, str(path)


def find(explicit: str | os.PathLike | None = None, folder: str | os.PathLike | None = None) -> Path | None:
    """The configuration file to read: ``explicit``, else ``shiftemp.toml``, else
    ``pyproject.toml`` in ``folder`` (default: the working directory), else None."""
    if explicit is not None:
        path = Path(explicit)
        if not path.is_file():
            raise InputError(f"--config {path}: no such file; pass a TOML file such as {LOCAL_FILE}.")
        return path
    base = Path(folder) if folder is not None else Path()
    for name in (LOCAL_FILE, PROJECT_FILE):
        candidate = base / name
        if candidate.is_file():
            return candidate
    return None


def _range_check(name: str):
    """The command line's own check of a numeric setting's range, or None (imported here: the
    checks live with what they guard, which a file without such a setting does not load)."""
    if name == "folds":
        from .typetwo import check_folds
        return check_folds
    if name == "min_gain":
        from .typetwo import check_min_gain
        return check_min_gain
    if name == "seed":
        from .errors import check_seed
        return check_seed
    if name == "calibration_splits":
        from .defaults import check_splits
        return check_splits
    return None


def _checked(source: str, key: str, setting: Setting, value: Any) -> Any:
    """A numeric setting whose type is right but whose value its option refuses is refused
    naming the file (the option's check alone would name a flag the user never passed)."""
    check = _range_check(setting.name)
    if check is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value) if setting.kind == "number" else value
    if setting.kind == "integer" and not isinstance(value, int):
        return None  # the type check below names it
    try:
        check(number)
    except OptionError as exc:
        raise OptionError(
            f"{source}: {key} = {value!r} is out of range ({str(exc).rstrip('.')}). Fix the value or"
            " remove it."
        ) from None
    return number


def _value(path: Path, source: str, key: str, setting: Setting, value: Any) -> Any:
    """A file's value, checked against the setting's TOML type and made ready for its option."""

    def wrong(expected: str) -> OptionError:
        return OptionError(
            f"{source}: {key} = {value!r} must be {expected}, found {type(value).__name__}."
            " Fix the value or remove it."
        )

    checked = _checked(source, key, setting, value)
    if checked is not None:
        return checked
    kind = setting.kind
    if kind in ("text", "choice"):
        if not isinstance(value, str):
            raise wrong("a string")
        return value
    if kind == "columns":
        if isinstance(value, str):
            return value
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return ",".join(value)
        raise wrong('a list of column names or a comma-separated string, such as ["a", "b"]')
    if kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            raise wrong("an integer")
        return value
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise wrong("a number")
        return float(value)
    if kind == "flag":
        if not isinstance(value, bool):
            raise wrong("true or false")
        return value
    if kind == "path":
        if not isinstance(value, str) or not value:
            raise wrong("a file name")
        resolved = Path(value).expanduser()
        if not resolved.is_absolute() and str(path.parent) not in ("", "."):
            resolved = path.parent / resolved
        return str(resolved)
    raise AssertionError(kind)  # a setting of an unknown kind is a bug


def load(explicit: str | os.PathLike | None = None, folder: str | os.PathLike | None = None) -> Config:
    """Read the settings of the configuration file :func:`find` picks (an empty
    :class:`Config` when there is none)."""
    path = find(explicit, folder)
    if path is None:
        return Config()
    table, source = _table(path, _read_toml(path), explicit is not None)
    if table is None:
        return Config()
    values: dict[str, Any] = {}
    for key, value in table.items():
        name = key.replace("-", "_")
        setting = SETTINGS.get(name)
        if setting is None:
            raise OptionError(
                f"{source}: unknown setting {key!r}. Settings: {', '.join(SETTINGS)}."
                " Fix the name or remove it."
            )
        if name in values:
            raise OptionError(f"{source}: {name} is set twice (as {name} and with dashes); keep one.")
        values[name] = _value(path, source, key, setting, value)
    if explicit is not None:
        source = f"--config {source}"
    return Config(path=path, source=source, values=values)
