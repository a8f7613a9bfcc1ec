"""A scheduler made from a function that opens the workspace holds the DuckDB file only while
it works: each tick opens, ingests, runs what is due and closes; another process gets the file
between ticks. Driven by a manual clock and `wait_for_tick`, never by sleeping."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import gantry_local as gantry
from gantry_local.automations.automations import Automation
from gantry_local.automations.curators import UniformCurator
from gantry_local.automations.scheduler import AutomationRun
from gantry_local.automations.triggers import DatasetVersionTrigger
from gantry_local.errors import StorageError, ValidationError

START = datetime(2024, 3, 1, tzinfo=timezone.utc)


def other_process_opens(db: Path) -> bool:
    """Whether a separate process can open `db` for writing right now (no waiting)."""
    done = subprocess.run(
        [sys.executable, "-c", f"import duckdb; duckdb.connect({str(db)!r}).close()"],
        capture_output=True, text=True, timeout=120)
    return done.returncode == 0


@pytest.fixture()
def db(tmp_path: Path) -> Path:
    path = tmp_path / "w.duckdb"
    with gantry.Workspace(db=path, clock=gantry.ManualClock(START)) as ws:
        app = ws.create_application("m")
        app.log_records(inputs=[{"i": i} for i in range(48)], outputs=[0] * 48,
                        timestamps=[START + timedelta(hours=i) for i in range(48)])
        UniformCurator("u", "m", 5, start_on=START).create(workspace=ws)
    return path


def test_each_tick_opens_the_file_and_lets_go_after(db: Path) -> None:
    clock = gantry.ManualClock(START + timedelta(days=1))
    opened: list[gantry.Workspace] = []

    def open_workspace() -> gantry.Workspace:
        opened.append(gantry.Workspace(db=db, clock=clock))
        return opened[-1]

    scheduler = gantry.Scheduler(open_workspace)
    during: list[bool] = []

    def on_run(run: AutomationRun) -> None:
        during.append(other_process_opens(db))

    scheduler.on_run = on_run
    assert [r.rows_selected for r in scheduler.run_pending()] == [5]
    assert during == [False]  # held while it works
    assert opened[-1].closed and other_process_opens(db)  # released after
    clock.advance(timedelta(days=1))
    assert [r.interval_start for r in scheduler.run_pending()] == [START + timedelta(days=1)]
    assert scheduler.run_pending() == []  # exactly once across reopenings
    assert all(ws.closed for ws in opened) and len(opened) == 3


def test_run_forever_releases_the_file_between_ticks(db: Path) -> None:
    clock = gantry.ManualClock(START)
    scheduler = gantry.Scheduler(lambda: gantry.Workspace(db=db, clock=clock), tick=3600)
    ticks: list[int] = []
    scheduler.on_tick = lambda: ticks.append(len(ticks))
    scheduler.start()
    try:
        assert scheduler.wait_for_tick()
        clock.advance(timedelta(days=2))
        assert scheduler.wait_for_tick()
        assert other_process_opens(db)  # the loop waits for its next tick without the file
        with gantry.Workspace(db=db, lock_timeout=0) as other:  # a writer of this process too
            assert len(other.get_dataset("u").list_versions()) == 2
            other.log_records("m", inputs=[{"i": 1}], outputs=[0], timestamps=[START])
        assert scheduler.wait_for_tick()
        assert len(ticks) >= 3 and scheduler.skipped is None
    finally:
        scheduler.stop()


def test_a_tick_that_cannot_open_is_skipped_and_the_next_runs(db: Path) -> None:
    clock = gantry.ManualClock(START + timedelta(days=1))
    busy = [True]

    def open_workspace() -> gantry.Workspace:
        if busy[0]:
            raise StorageError("cannot open the database: it is held by PID 1")
        return gantry.Workspace(db=db, clock=clock)

    scheduler = gantry.Scheduler(open_workspace, tick=3600)
    scheduler.start()
    try:
        assert scheduler.wait_for_tick()
        assert scheduler.skipped is not None and "held by PID 1" in scheduler.skipped
        busy[0] = False
        assert scheduler.wait_for_tick()
        assert scheduler.skipped is None
    finally:
        scheduler.stop()
    with gantry.Workspace(db=db, read_only=True) as ws:
        assert len(ws.get_dataset("u").list_versions()) == 1
    with pytest.raises(StorageError, match="held by PID 1"):  # one call raises it
        busy[0] = True
        scheduler.run_pending()


def test_a_first_open_that_is_a_mistake_stops_run_forever(db: Path) -> None:
    scheduler = gantry.Scheduler(lambda: gantry.Workspace(db=db, storage="/elsewhere"))
    with pytest.raises(ValidationError, match="keeps its datasets"):
        scheduler.run_forever()


def spool_third_day(db: Path) -> None:
    """A producer process's 24 records of the curator's third day, left in the spool."""
    from gantry_local._producer import ProducerWorkspace

    worker = ProducerWorkspace(db=db, producer_id="web-1", flush_interval=0.01)
    worker.log_records("m", inputs=[{"i": i} for i in range(24)], outputs=[1] * 24,
                       timestamps=[START + timedelta(days=2, hours=i) for i in range(24)])
    worker.close()


def test_it_ingests_the_spool_each_tick_and_reports_it(db: Path) -> None:
    clock = gantry.ManualClock(START + timedelta(days=3))
    spool_third_day(db)
    scheduler = gantry.Scheduler(lambda: gantry.Workspace(db=db, clock=clock))
    seen: list[tuple[int, int]] = []
    scheduler.on_ingest = lambda result: seen.append((result.segments, result.rows))
    runs = scheduler.run_pending()
    assert seen and seen[0][1] == 24
    assert [r.rows_in_interval for r in runs] == [24, 24, 24]  # day 3 holds the worker's rows


def test_suites_and_reads_open_the_workspace_for_the_call(db: Path) -> None:
    from gantry_local.evaluation.suites import Suite

    clock = gantry.ManualClock(START + timedelta(days=1))
    scheduler = gantry.Scheduler(lambda: gantry.Workspace(db=db, clock=clock))
    with pytest.raises(ValidationError, match="only while it works"):
        _ = scheduler.workspace
    assert [start for _, start in scheduler.due()] == [START]
    assert other_process_opens(db)
    suite = Suite("rows", "u", {"a": lambda inputs: 0}, ["accuracy"])
    scheduler.add_automation(Automation("suite-rows", DatasetVersionTrigger("u"), suite))
    scheduler.run_pending()
    runs = scheduler.suite_runs()  # registered again in the tick's workspace, and it ran
    assert runs.height == 1 and runs["suite"].to_list() == ["rows"]
    assert other_process_opens(db)


@pytest.mark.parametrize("opener, message", [
    (lambda: "gantry.duckdb", r"must return a gantry_local Workspace, it returned str"),
    (lambda: 1 / 0, r"function opening the scheduler's workspace raised ZeroDivisionError"),
])
def test_a_function_that_does_not_open_a_workspace_is_refused(opener: object,
                                                              message: str) -> None:
    scheduler = gantry.Scheduler(opener)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match=message):
        scheduler.run_pending()


def test_a_suite_stopped_stays_stopped_across_reopenings(db: Path) -> None:
    from gantry_local.evaluation.suites import Suite

    clock = gantry.ManualClock(START + timedelta(days=1))
    scheduler = gantry.Scheduler(lambda: gantry.Workspace(db=db, clock=clock))
    suite = Suite("rows", "u", {"a": lambda inputs: 0}, ["accuracy"])
    automation = Automation("suite-rows", DatasetVersionTrigger("u"), suite)
    scheduler.add_automation(automation)
    scheduler.run_pending()
    assert scheduler.suite_runs().height == 1
    automation.stop()
    clock.advance(timedelta(days=1))
    assert [r.interval_start for r in scheduler.run_pending()] == [START + timedelta(days=1)]
    assert automation.stopped  # the next tick's workspace did not arm it again
    assert scheduler.suite_runs().height == 1


def test_a_failing_progress_hook_never_stops_the_ingest(db: Path) -> None:
    clock = gantry.ManualClock(START + timedelta(days=3))
    spool_third_day(db)
    scheduler = gantry.Scheduler(lambda: gantry.Workspace(db=db, clock=clock))

    def broken(done: int, pending: int, rows: int) -> None:
        raise RuntimeError("the terminal went away")

    scheduler.ingest_progress = broken
    seen: list[int] = []
    scheduler.on_ingest = lambda result: seen.append(result.rows)
    runs = scheduler.run_pending()
    assert seen == [24] and not [f for f in scheduler.failures if f.kind == "ingest"]
    assert [r.rows_in_interval for r in runs] == [24, 24, 24]
