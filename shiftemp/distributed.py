"""The Dask engine: the streaming engine's statistics, computed over a Dask cluster.

Each pass of :mod:`shiftemp.stream` is a map over partitions (one per parquet row group; a CSV
file or an in-memory frame is one partition) of the same accumulators the local engine feeds
batch by batch, followed by a tree of ``merge`` calls, so the report is the local engine's up to
rounding (1e-9 relative for linear/MSE). Dask is an optional dependency
(``pip install 'shiftemp[dask]'``), imported only when this engine runs.
"""

from __future__ import annotations

import shutil
import tempfile
from typing import Any

from . import io
from .errors import OptionError

#: Seconds a scheduler has to answer (connection, handshake and an ``identity`` reply) before
#: ``--scheduler`` is refused: distributed's own timeout bounds only the connection, and a port
#: that accepts but never answers would hang the run.
ANSWER_SECONDS = 10

MISSING = (
    "--engine dask needs the optional Dask dependencies, which are not installed; install them"
    " with: pip install 'shiftemp[dask]'"
)


def _dask():
    """``(dask.delayed, distributed)``, or an :class:`OptionError` naming the extra."""
    try:
        import distributed
        from dask import delayed
    except ImportError as exc:
        raise OptionError(MISSING) from exc
    return delayed, distributed


async def _identity(address: str, timeout: float) -> dict:
    """The ``identity`` of the server at ``address``: a dict with ``type`` "Scheduler" for a
    Dask scheduler."""
    from distributed.comm import connect
    from distributed.security import Security

    comm = await connect(address, timeout=timeout,
                         **Security().get_connection_args("client"))
    try:
        await comm.write({"op": "identity", "reply": True})
        return await comm.read()
    finally:
        comm.abort()


def _run_apart(coroutine):
    """Run ``coroutine`` to its end on an event loop of a thread of its own: asyncio.run()
    refuses to start inside a running loop (a notebook's, an async caller's)."""
    import asyncio
    import threading

    outcome: dict = {}

    def run():
        try:
            outcome["value"] = asyncio.run(coroutine)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            outcome["error"] = exc

    thread = threading.Thread(target=run, name="shiftemp-scheduler-check", daemon=True)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def check_scheduler(address: str, timeout: float | None = None) -> None:
    """Refuse ``address`` (an :class:`OptionError` naming ``--scheduler``) unless a Dask
    scheduler answers there within ``timeout`` seconds (default :data:`ANSWER_SECONDS`)."""
    import asyncio

    timeout = ANSWER_SECONDS if timeout is None else timeout
    def refused(why: str) -> OptionError:
        return OptionError(f"--scheduler: {why}; pass the address of a running Dask scheduler"
                           " (tcp://HOST:8786), or leave --scheduler out for a local cluster.")

    try:
        answer = _run_apart(asyncio.wait_for(_identity(address, timeout), timeout))
    except (TimeoutError, asyncio.TimeoutError) as exc:
        raise refused(f"nothing answered at {address} within {timeout:g} s") from exc
    except ValueError as exc:  # distributed's address parsing
        raise refused(f"{address!r} is not a scheduler address") from exc
    except OSError as exc:
        raise refused(f"cannot connect to {address}: {exc}") from exc
    except Exception as exc:  # noqa: BLE001 - e.g. a web server's reply read as a frame length
        raise refused(f"what answers at {address} is not a Dask scheduler") from exc
    if not (isinstance(answer, dict) and answer.get("type") == "Scheduler"):
        raise refused(f"what answers at {address} is not a Dask scheduler")


def _partition_pass(factory, partition: io.Partition, columns: list[str], batch_size):
    """One partition's accumulator (runs on a worker)."""
    accumulator = factory()
    for batch in partition.batches(columns, batch_size):
        accumulator.update(batch)
    return accumulator


def _merge(a, b):
    return a.merge(b)


class DaskRunner:
    """Runs the passes of :mod:`shiftemp.stream` on a Dask cluster.

    Parameters
    ----------
    scheduler
        Address of a running scheduler (``tcp://host:8786``) or a ``distributed.Client`` (left
        open); ``None`` starts a local cluster for the duration of the ``with`` block.
    batch_size
        Rows per record batch within a partition (default: ``io.batch_rows``).
    progress
        ``progress(task, rows_done, rows_total)``, called as partitions finish.
    cluster_options
        Keyword arguments of ``distributed.LocalCluster`` when no scheduler is given (the tests
        use ``processes=False``).
    """

    name = "dask"

    def __init__(self, scheduler: str | None = None, batch_size: int | None = None,
                 progress=None, **cluster_options: Any):
        self.delayed, self.distributed = _dask()
        self.scheduler, self.batch_size, self.progress = scheduler, batch_size, progress
        self.cluster_options = cluster_options
        self.client = self.cluster = self._scratch = None

    def __enter__(self) -> "DaskRunner":
        distributed = self.distributed
        if isinstance(self.scheduler, distributed.Client):
            self.client, self._own = self.scheduler, False
            return self
        self._own = True
        try:
            if self.scheduler:
                check_scheduler(self.scheduler)
                self.client = distributed.Client(self.scheduler, timeout=f"{ANSWER_SECONDS}s")
            else:
                self._start_local(distributed)
        except (OSError, TimeoutError) as exc:
            self.__exit__()
            where = self.scheduler or "a local cluster"
            raise OptionError(f"--scheduler: cannot connect to {where}: {exc}") from exc
        except BaseException:  # Ctrl-C while the cluster starts: nothing of it outlives the run
            self.__exit__()
            raise
        return self

    def _start_local(self, distributed) -> None:
        import dask

        # the scheduler's and the workers' scratch space and lock files, removed on exit (in
        # $TMPDIR they would outlive the run)
        self._scratch = tempfile.mkdtemp(prefix="shiftemp-dask-")
        options = {"dashboard_address": ":0", "threads_per_worker": 1,
                   "local_directory": self._scratch}
        options.update(self.cluster_options)
        with dask.config.set({"temporary-directory": self._scratch}):
            self.cluster = distributed.LocalCluster(**options)
        self.client = distributed.Client(self.cluster)

    def __exit__(self, *exc_info) -> None:
        try:
            if self.client is not None and self._own:
                self.client.close()
            if self.cluster is not None:
                self.cluster.close()
        finally:
            if self._scratch is not None:
                shutil.rmtree(self._scratch, ignore_errors=True)

    def run(self, scan: io.Scan, spec):
        """Map ``spec``'s accumulator over the partitions of ``scan`` and merge the results."""
        parts = scan.split()
        futures = [
            self.client.submit(_partition_pass, spec.factory, part, spec.columns,
                               self.batch_size or spec.batch_rows, pure=False)
            for part in parts
        ]
        if self.progress is not None:
            done = 0
            for future in self.distributed.as_completed(futures):
                done += 1
                self.progress(spec.label, done, len(futures))
        while len(futures) > 1:  # a balanced tree of merges, on the cluster
            pairs = [
                self.client.submit(_merge, futures[i], futures[i + 1], pure=False)
                for i in range(0, len(futures) - 1, 2)
            ]
            futures = pairs + (futures[-1:] if len(futures) % 2 else [])
        from .stream import checked

        return checked(futures[0].result().finish(), scan)
