"""Memory: how much this process may still use, and the pre-flight check of the in-memory engine.

The in-memory engine holds both inputs, their encoded copies, designs and per-row losses; when
that would not fit, shiftemp stops with a message before it starts swapping (or, with ``--engine
auto``, streams instead). "Available" is the tightest of the limits that apply to this process:
the kernel's estimate of memory available without swapping (``MemAvailable`` in
``/proc/meminfo``), the address-space limit (``ulimit -v``, ``RLIMIT_AS``) less what the process
already maps, and the cgroup's memory limit less its usage (containers, CI runners).
"""

from __future__ import annotations

import resource
from pathlib import Path

from .errors import InputError

#: Bytes the in-memory engine needs per input value (frame, encoded copies, designs, per-row
#: losses): measured 50 on 400,000 x 11 parquet pairs, rounded up.
BYTES_PER_VALUE = 64

#: Square matrices of the parameters the in-memory engine holds at once: for least squares the
#: Gram matrices of the folds and the total, the system being solved, the data entropy's
#: correlation and its factor (measured about 11 on 5,000 features, rounded up); for the
#: multinomial logistic model, its Fisher information, Newton system and their copies (measured
#: 5 on 2,709 parameters).
PARAMETER_MATRICES = {"linear": 16, "logistic": 6}


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text()
    except OSError:
        return None


def _meminfo(field: str) -> int | None:
    text = _read("/proc/meminfo")
    for line in (text or "").splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return None


def _mapped() -> int | None:
    """Bytes of address space this process maps now (``VmSize``)."""
    text = _read("/proc/self/status")
    for line in (text or "").splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    return None


def _cgroup_room() -> int | None:
    """The cgroup's memory limit less its usage (v2, then v1); ``None`` without a limit."""
    for limit_file, usage_file in (
        ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
        ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"),
    ):
        limit, usage = _read(limit_file), _read(usage_file)
        if limit is None or usage is None or limit.strip() == "max":
            continue
        try:
            room = int(limit) - int(usage)
        except ValueError:
            continue
        if int(limit) < 1 << 60:  # v1 writes "no limit" as a huge number
            return max(room, 0)
    return None


def available_memory() -> int | None:
    """Bytes this process can still allocate without swapping or hitting a limit; ``None`` when
    no limit can be read (not Linux)."""
    candidates = [_meminfo("MemAvailable"), _cgroup_room()]
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    mapped = _mapped()
    if soft != resource.RLIM_INFINITY and mapped is not None:
        candidates.append(max(soft - mapped, 0))
    known = [c for c in candidates if c is not None]
    return min(known) if known else None


def gigabytes(size: float) -> str:
    return f"{size / 2**30:.1f} GB"


def require(need: int, what: str, fix: str) -> None:
    """Stop with an :class:`InputError` when ``need`` bytes exceed the available memory.

    ``what`` names the inputs and the work (``"ref.parquet and new.parquet in memory"``);
    ``fix`` says what to do instead.
    """
    available = available_memory()
    if available is not None and need > available:
        raise InputError(
            f"{what} would need about {gigabytes(need)}, and {gigabytes(available)} is"
            f" available; {fix}"
        )
