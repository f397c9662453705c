"""The Dask engine: the local engine's report from statistics mapped over partitions on a cluster;
a clean exit 2 when the optional dependency is missing."""

from __future__ import annotations

import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import shiftemp
from shiftemp import profile
from shiftemp.distributed import MISSING

from test_stream import differences, mixed_frames

pytestmark = pytest.mark.usefixtures("one_blas_thread")


@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(processes=False, n_workers=2, threads_per_worker=1,
                                  dashboard_address=":0") as cluster:
        with distributed.Client(cluster) as connected:
            yield connected


@pytest.fixture
def files(rng, tmp_path):
    ref, new = mixed_frames(rng, n_ref=900, n_new=700)
    paths = []
    for frame, name in ((ref, "ref"), (new, "new")):
        path = tmp_path / f"{name}.parquet"
        # several row groups: several partitions, merged on the cluster
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path, row_group_size=200)
        paths.append(path)
    return paths


def test_without_dask_the_engine_exits_2_naming_the_extra(run, files, monkeypatch):
    """First in the module: no cluster runs yet, whose threads would need the real modules."""
    for name in ("dask", "distributed"):
        monkeypatch.setitem(sys.modules, name, None)  # what an uninstalled package looks like
    result = run("compare", *files, "--target", "y", "--engine", "dask")
    assert result.code == 2
    assert result.stderr == f"shiftemp: error: {MISSING}\n"
    assert "pip install 'shiftemp[dask]'" in result.stderr


@pytest.mark.parametrize("loss", ["mse", "mae"])
def test_dask_gives_the_local_engines_report(client, files, loss):
    local = shiftemp.compare(*files, target="y", loss=loss, engine="stream")
    on_dask = shiftemp.compare(*files, target="y", loss=loss, engine="dask", scheduler=client)
    rtol, atol = (1e-9, 1e-12) if loss == "mse" else (1e-5, 1e-5)  # MAE: IRLS's tolerance
    assert differences(local, on_dask, rtol=rtol, atol=atol) == []


def test_dask_fits_a_logistic_model_like_the_local_engine(client, rng, tmp_path):
    from conftest import classification_frame

    paths = []
    for n, flip, name in ((800, False, "ref"), (600, True, "new")):
        path = tmp_path / f"{name}.parquet"
        pq.write_table(pa.Table.from_pandas(classification_frame(rng, n, flip=flip), preserve_index=False),
                       path, row_group_size=250)
        paths.append(path)
    local = shiftemp.compare(*paths, engine="stream", spread_rows=300)
    on_dask = shiftemp.compare(*paths, engine="dask", scheduler=client, spread_rows=300)
    assert differences(local, on_dask, rtol=1e-6, atol=1e-8) == []


def test_dask_builds_the_same_profile(client, files, tmp_path):
    ref, new = files
    profile.save(profile.build(ref, target="y"), tmp_path / "local.shiftemp")
    profile.save(profile.build(ref, target="y", engine="dask", scheduler=client), tmp_path / "dask.shiftemp")
    a, b = (shiftemp.compare(tmp_path / f"{name}.shiftemp", new) for name in ("local", "dask"))
    assert differences(a, b, rtol=1e-9, skip=(".notes",)) == []


def _server(reply: bytes | None):
    """A TCP server on a free local port that accepts connections and either sends ``reply``
    and hangs up (a web server on the scheduler's port) or never answers (``None``)."""
    import socket
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    held = []

    def serve():
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            if reply is None:
                held.append(connection)
            else:
                connection.sendall(reply)
                connection.close()

    threading.Thread(target=serve, daemon=True).start()
    return listener, f"tcp://127.0.0.1:{listener.getsockname()[1]}"


@pytest.mark.parametrize("reply, says", [
    (None, "nothing answered at"),
    (b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", "is not a Dask scheduler"),
])
def test_a_scheduler_address_where_no_scheduler_answers_is_refused_in_bounded_time(
        run, files, monkeypatch, reply, says):
    """A port that accepts but never answers hung the run (distributed's timeout bounds only
    the connection); a web server's reply was read as a frame length and reported as out of
    memory."""
    pytest.importorskip("distributed")
    from shiftemp import distributed as engine

    monkeypatch.setattr(engine, "ANSWER_SECONDS", 2)
    listener, address = _server(reply)
    try:
        result = run("compare", *files, "--target", "y", "--engine", "dask", "--scheduler", address)
    finally:
        listener.close()
    assert result.code == 2
    assert result.stderr.startswith("shiftemp: error: --scheduler: ")
    assert says in result.stderr and result.stderr.count("\n") == 1


@pytest.mark.parametrize("address", ["nonsense", "inproc://x"])
def test_a_malformed_scheduler_address_is_an_option_error(run, files, address):
    pytest.importorskip("distributed")
    result = run("compare", *files, "--target", "y", "--engine", "dask", "--scheduler", address)
    assert result.code == 2
    assert result.stderr == (
        f"shiftemp: error: --scheduler: {address!r} is not a scheduler address; pass the address"
        " of a running Dask scheduler (tcp://HOST:8786), or leave --scheduler out for a local"
        " cluster.\n"
    )


@pytest.mark.parametrize("engine", ["auto", "stream", "memory"])
def test_a_scheduler_without_the_dask_engine_is_refused(run, files, engine, tmp_path):
    """It was ignored without a word."""
    result = run("compare", *files, "--target", "y", "--engine", engine, "--scheduler",
                 "tcp://127.0.0.1:8786")
    assert result.code == 2
    assert "--scheduler is the address of a Dask cluster" in result.stderr
    result = run("profile", files[0], "--target", "y", "-o", tmp_path / "p.shiftemp",
                 "--scheduler", "tcp://127.0.0.1:8786")
    assert result.code == 2 and not (tmp_path / "p.shiftemp").exists()


def test_a_local_cluster_leaves_nothing_in_the_temporary_folder(files, tmp_path, monkeypatch):
    """The scheduler's and workers' dask-scratch-space (and its lock files) outlived every run."""
    pytest.importorskip("distributed")
    import tempfile

    from shiftemp.distributed import DaskRunner

    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    with DaskRunner(None, processes=False, n_workers=1) as runner:
        assert list(scratch.iterdir())  # the cluster's scratch space is there while it runs
        assert runner.client is not None
    assert list(scratch.iterdir()) == []


def test_a_scheduler_is_accepted_from_inside_a_running_event_loop(client):
    """asyncio.run() refuses to start in a running loop (a notebook's): the check called a
    working scheduler 'not a Dask scheduler' there."""
    import asyncio

    from shiftemp.distributed import check_scheduler

    async def inside():
        check_scheduler(client.scheduler.address, 10)

    asyncio.run(inside())
