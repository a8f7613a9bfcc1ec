"""Real model servers: gunicorn (4 sync workers) and uvicorn (2 workers) log every request
through the spool while a `gantry-local scheduler run` process curates, the CLI lists
datasets and another process queries, all at the same time on one workspace."""

from __future__ import annotations

import http.client
import os
import random
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import gantry_local as gantry
from gantry_local.automations.curators import UniformCurator

SERVERS = Path(__file__).parent / "servers"
BIN = Path(sys.executable).parent
REQUESTS = 300  # enough to reach every worker; each is checked exactly once


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_port(port: int, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not start listening on {port}")


def _get(port: int, path: str) -> str:
    for attempt in range(5):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            assert response.status == 200, (response.status, path)
            return response.read().decode()
        except (ConnectionError, http.client.RemoteDisconnected):
            if attempt == 4:
                raise
            time.sleep(0.2)
        finally:
            connection.close()
    raise AssertionError("unreachable")


class Fleet:
    """The processes of one test, stopped (and their output kept) at the end."""

    def __init__(self, folder: Path, db: Path) -> None:
        self.folder, self.db = folder, db
        self.env = {**os.environ, "GANTRY_DB": str(db), "GANTRY_LOCAL_LOCK_TIMEOUT": "60"}
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, *command: str) -> subprocess.Popen[bytes]:
        log = open(self.folder / f"{name}.log", "wb")  # noqa: SIM115 - closed by the process end
        process = subprocess.Popen(command, cwd=SERVERS, env=self.env, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        self.processes[name] = process
        return process

    def stop(self, name: str, sig: int = signal.SIGTERM) -> int:
        process = self.processes[name]
        if process.poll() is None:
            os.killpg(process.pid, sig)
        return process.wait(timeout=60)

    def output(self, name: str) -> str:
        return (self.folder / f"{name}.log").read_text(errors="replace")

    def close(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            del name


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Fleet]:
    db = tmp_path / "served.duckdb"
    start = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(seconds=2)
    with gantry.Workspace(db=db) as owner:
        owner.create_application("served")
        UniformCurator("every-2s", "served", limit=10_000, start_on=start,
                       curation_interval=timedelta(seconds=2),
                       curation_delay=timedelta(seconds=2)).create(workspace=owner)
    processes = Fleet(tmp_path, db)
    yield processes
    processes.close()


QUERY = textwrap.dedent("""
    import sys, time
    import gantry_local as gantry
    counts = []
    while len(counts) < 3:
        with gantry.Workspace(db=sys.argv[1], read_only=True) as ws:
            counts.append(ws.query("served").count())
        time.sleep(0.5)
    print("counts", counts)
""")


@pytest.mark.slow
def test_gunicorn_and_uvicorn_workers_with_a_scheduler_cli_and_reader(fleet: Fleet) -> None:
    wsgi_port, asgi_port = _free_port(), _free_port()
    gunicorn = fleet.start("gunicorn", str(BIN / "gunicorn"), "-w", "4", "-k", "sync", "-b",
                           f"127.0.0.1:{wsgi_port}", "--graceful-timeout", "20", "wsgi_app:app")
    uvicorn = fleet.start("uvicorn", str(BIN / "uvicorn"), "--workers", "2", "--host",
                          "127.0.0.1", "--port", str(asgi_port), "--log-level", "warning",
                          "asgi_app:app")
    _wait_for_port(wsgi_port, gunicorn, "gunicorn")
    _wait_for_port(asgi_port, uvicorn, "uvicorn")
    fleet.start("scheduler", str(BIN / "gantry-local"), "scheduler", "run", "--db",
                str(fleet.db), "--tick", "0.5")
    # while the servers take requests: the CLI lists datasets and curators and another
    # process queries, all at once, each waiting for the lock between the scheduler's ticks
    cli = str(BIN / "gantry-local")
    readers = [subprocess.Popen(command, env=fleet.env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
               for command in ([cli, "datasets", "list", "--db", str(fleet.db)],
                               [cli, "curators", "list", "--db", str(fleet.db)],
                               [sys.executable, "-c", QUERY, str(fleet.db)])]
    ports = [wsgi_port, asgi_port]
    rng = random.Random(5)

    def one(i: int) -> None:
        port = ports[i % 2]
        _get(port, f"/predict?x={i}&id=r{i}")
        if i % 3 == 0:  # feedback through the other server: another worker logs it
            _get(ports[(i + 1) % 2], f"/feedback?id=r{i}&label={rng.randint(0, 1)}")

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, range(REQUESTS)))
    outputs = [reader.communicate(timeout=300) for reader in readers]
    assert fleet.stop("gunicorn") == 0 and fleet.stop("uvicorn") == 0  # graceful: flushed
    time.sleep(5)  # a tick ingests the last segments and curates the last intervals
    fleet.stop("scheduler", signal.SIGINT)
    for reader, (out, err) in zip(readers, outputs, strict=True):
        assert reader.returncode == 0, out + err
    everything = "".join(fleet.output(n) for n in ("gunicorn", "uvicorn", "scheduler")) + \
        "".join((out + err).decode() for out, err in outputs)
    assert "Traceback" not in everything, everything
    # readers wait for the lock; no automation failed (and was retried)
    assert "Conflicting lock" not in everything and "retried" not in everything, everything
    assert "every-2s" in outputs[0][0].decode() and "every-2s" in outputs[1][0].decode()
    assert b"counts [" in outputs[2][0]

    with gantry.Workspace(db=fleet.db) as owner:
        owner.ingest()
        frame = owner.query("served").to_polars()
        curated = owner.get_dataset("every-2s").read() if owner.list_datasets() else None
    assert frame.height == REQUESTS and frame["__join_key"].n_unique() == REQUESTS
    assert sorted(frame["inputs.x"].to_list()) == [float(i) for i in range(REQUESTS)]
    workers = set(frame["tags.worker"].to_list())
    assert len({w for w in workers if w.startswith("wsgi-")}) >= 2
    assert len({w for w in workers if w.startswith("asgi-")}) >= 1
    labelled = frame.filter(frame["feedback.label"].is_not_null())
    assert labelled.height == len(range(0, REQUESTS, 3))
    assert (labelled["feedback.by"] != labelled["tags.worker"]).all()  # joined across workers
    assert curated is not None and curated.height > 0
    assert set(curated["tags.worker"].to_list()) == workers  # every worker's records curated
