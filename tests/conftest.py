"""Shared fixtures: a workspace on a temporary DuckDB file, a manual clock, a table counter."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest

import gantry_local as gantry

START = datetime(2024, 1, 1, tzinfo=timezone.utc)


@pytest.fixture
def clock() -> gantry.ManualClock:
    return gantry.ManualClock(START)


@pytest.fixture
def ws(tmp_path: Path, clock: gantry.ManualClock) -> Iterator[gantry.Workspace]:
    workspace = gantry.Workspace(db=tmp_path / "test.duckdb", clock=clock, flush_interval=0.01)
    yield workspace
    workspace.close()


@pytest.fixture
def app(ws: gantry.Workspace) -> gantry.Application:
    return ws.create_application("model")


def stored_counts(ws: gantry.Workspace, name: str = "model") -> tuple[int, int, dict[str, str]]:
    """Rows in the records and feedback tables, and the known columns: 'nothing changed' checks."""
    ws.flush()
    with ws.database.cursor() as con:
        records = con.execute(f'SELECT count(*) FROM "records_{name}"').fetchall()[0][0]
        feedback = con.execute(f'SELECT count(*) FROM "feedback_{name}"').fetchall()[0][0]
    state = ws._app_state(name).schema
    columns = {**state.snapshot("records"), **state.snapshot("feedback")}
    return records, feedback, columns


# -- storage backends: every dataset test runs on a folder, memory:// and S3 (moto server) --------

import socket  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from typing import Any  # noqa: E402


@dataclass
class Storage:
    """A storage root for a test: its URL and fsspec options."""

    kind: str
    url: str
    options: dict[str, Any]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A real S3 endpoint: moto in server mode, on 127.0.0.1, for the whole session."""
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p",
                               str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                raise RuntimeError("the moto S3 server did not start") from None
            time.sleep(0.1)
    yield f"http://127.0.0.1:{port}"
    server.terminate()
    server.wait(timeout=10)


S3_OPTIONS = {"key": "testing", "secret": "testing", "client_kwargs": {"region_name": "us-east-1"}}


def make_bucket(endpoint: str) -> str:
    import boto3

    bucket = f"gl-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="testing",
                 aws_secret_access_key="testing", region_name="us-east-1").create_bucket(
        Bucket=bucket)
    return bucket


@pytest.fixture(params=["local", "memory", "s3"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    if request.param == "local":
        return Storage("local", str(tmp_path / "store"), {})
    if request.param == "memory":
        return Storage("memory", f"memory://gl-{uuid.uuid4().hex[:12]}", {})
    endpoint = request.getfixturevalue("s3_endpoint")
    return Storage("s3", f"s3://{make_bucket(endpoint)}/prefix",
                   {**S3_OPTIONS, "endpoint_url": endpoint})


@pytest.fixture
def dws(storage: Storage, clock: gantry.ManualClock, tmp_path: Path) -> Iterator[gantry.Workspace]:
    """A workspace whose datasets live on the parametrized storage."""
    workspace = gantry.Workspace(db=":memory:", storage=storage.url,
                                 storage_options=storage.options, clock=clock)
    workspace.set_working_directory(tmp_path / "work")
    yield workspace
    workspace.close()


# -- a real HTTP server on 127.0.0.1, for webhook and chat-completions tests ----------------------

import threading  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer  # noqa: E402


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler that does not print every request."""

    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def http_server(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """Serve `handler` on a free port of 127.0.0.1; yields the base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
