"""The S3 endpoint (a real moto server) stops mid-run: a clear error, a bounded tick, and after
it comes back every failed interval is curated exactly once, with nothing half-committed."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import boto3
import pytest

import gantry_local as gantry
from gantry_local.automations.automations import Automation
from gantry_local.automations.curators import UniformCurator
from gantry_local.automations.triggers import IntervalTrigger

from .conftest import S3_OPTIONS, _free_port

S = datetime(2024, 1, 1, tzinfo=timezone.utc)
DAY = timedelta(days=1)
BUCKET = "gl-down"


class Moto:
    """A moto S3 server on a fixed port that a test can stop and start again; its objects
    are kept across a restart (copied out before it stops, put back when it starts)."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.saved: dict[str, bytes] = {}

    def _client(self) -> Any:
        return boto3.client("s3", endpoint_url=self.url, aws_access_key_id="testing",
                            aws_secret_access_key="testing", region_name="us-east-1")

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError("the moto S3 server did not start") from None
                time.sleep(0.1)
        client = self._client()
        client.create_bucket(Bucket=BUCKET)
        for key, body in self.saved.items():
            client.put_object(Bucket=BUCKET, Key=key, Body=body)

    def object_keys(self) -> list[str]:
        pages = self._client().get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
        return sorted(o["Key"] for page in pages for o in page.get("Contents", []))

    def stop(self) -> None:
        client = self._client()
        self.saved = {k: client.get_object(Bucket=BUCKET, Key=k)["Body"].read()
                      for k in self.object_keys()}
        assert self.process is not None
        self.process.terminate()
        self.process.wait(timeout=10)
        self.process = None


@pytest.fixture
def moto() -> Iterator[Moto]:
    server = Moto()
    server.start()
    yield server
    if server.process is not None:
        server.process.terminate()
        server.process.wait(timeout=10)


def test_storage_down_bounds_the_tick_and_recovers_exactly_once(moto: Moto) -> None:
    clock = gantry.ManualClock(S)
    ws = gantry.Workspace(db=":memory:", storage=f"s3://{BUCKET}/root",
                          storage_options={**S3_OPTIONS, "endpoint_url": moto.url}, clock=clock)
    try:
        app = ws.create_application("m")
        for day in range(8):
            app.log_records(inputs=[{"x": i} for i in range(24)], outputs=[0] * 24,
                            timestamps=[S + timedelta(days=day, hours=i) for i in range(24)])
        for name in ("a", "b", "c"):
            app.add_automation(Automation(name, IntervalTrigger(S, DAY),
                                          UniformCurator(f"{name}-data", "m", 5)))
        scheduler = gantry.Scheduler(ws)
        clock.set(S + 2 * DAY)
        assert [r.status for r in scheduler.run_pending()] == ["succeeded"] * 6

        moto.stop()
        started = time.monotonic()
        with pytest.raises(gantry.StorageError):
            ws.get_dataset("a-data")
        one_call = time.monotonic() - started
        clock.set(S + 7 * DAY)  # 5 intervals due for each of 3 curators: 15 runs
        started = time.monotonic()
        runs = scheduler.run_pending()
        tick = time.monotonic() - started
        print(f"storage down: one failing call {one_call:.2f} s; the tick {tick:.2f} s "
              f"(15 due intervals)")
        # the bucket is asked once, without retries: no run is started, each curator is
        # recorded as failed with the cause, and the tick costs far less than one call
        assert runs == []
        assert tick < min(2.0, one_call / 3)
        failures = {f.automation: f.error for f in scheduler.failures}
        assert set(failures) == {"a", "b", "c"}
        for error in failures.values():
            assert "skipped this tick: storage is unreachable" in error
            assert "Could not connect to the endpoint" in error
        assert set(scheduler.failed_automations()["automation"]) == {"a", "b", "c"}
        started = time.monotonic()
        assert scheduler.run_pending() == []  # still down: the next tick is as quick
        assert time.monotonic() - started < 2.0

        moto.start()
        runs = scheduler.run_pending()
        assert sorted((r.curator, r.interval_start.day, r.status) for r in runs) == sorted(
            (f"{n}-data", day, "succeeded") for n in "abc" for day in range(3, 8))
        assert scheduler.run_pending() == []  # nothing left, nothing redone
        assert scheduler.failed_automations().height == 0
        for name in ("a-data", "b-data", "c-data"):
            dataset = ws.get_dataset(name)
            versions = dataset.list_versions()
            starts = [v["lineage"]["interval_start"] for v in versions]
            assert sorted(starts) == [(S + d * DAY).isoformat() for d in range(7)]  # once each
            for version in versions:
                dataset.verify(version["version_id"])
        assert not [k for k in moto.object_keys() if "tmp" in k.rsplit("/", 1)[-1]]
    finally:
        ws.close()


def test_a_curator_whose_storage_fails_gives_up_for_the_tick(tmp_path: Any) -> None:
    """Storage answers, but one curator's dataset cannot be read: that curator tries one
    interval, gives up until the next tick; the others run all theirs."""
    clock = gantry.ManualClock(S)
    with gantry.Workspace(db=tmp_path / "g.duckdb", storage=str(tmp_path / "store"),
                          clock=clock) as ws:
        app = ws.create_application("m")
        app.log_records(inputs=[{"x": i} for i in range(48)], outputs=[0] * 48,
                        timestamps=[S + timedelta(hours=i / 2) for i in range(48)])
        for name in ("a", "b"):
            UniformCurator(name, "m", 3, start_on=S, curation_interval=timedelta(hours=6)
                           ).create(workspace=ws)
        blocker = tmp_path / "store" / "datasets" / "a"
        if blocker.is_dir():  # the curator made its (empty) dataset when it was created
            shutil.rmtree(blocker)
        blocker.parent.mkdir(parents=True, exist_ok=True)
        blocker.write_text("a file where dataset a's folder goes")
        clock.set(S + DAY)
        scheduler = gantry.Scheduler(ws)
        runs = scheduler.run_pending()
        assert [(r.curator, r.status) for r in runs] == [("a", "failed")] + [("b", "succeeded")] * 4
        assert "StorageError" in (runs[0].error or "")
        assert [f.automation for f in scheduler.failures] == ["a"]
        blocker.unlink()
        runs = scheduler.run_pending()
        assert [(r.curator, r.status) for r in runs] == [("a", "succeeded")] * 4
        versions = ws.get_dataset("a").list_versions()
        assert sorted(v["lineage"]["interval_start"] for v in versions) == [
            (S + timedelta(hours=6 * k)).isoformat() for k in range(4)]
        assert scheduler.failed_automations().height == 0
