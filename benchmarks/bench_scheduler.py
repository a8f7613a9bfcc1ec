"""A scheduler tick's cost against the length of the curated history (issue 15, point 5).

For a curator with H succeeded hourly runs (written straight into ``_gl_curator_runs``), time
planning one tick with nothing new due: ours (`Scheduler.due`: two aggregate queries, then
the due intervals only) and, as the baseline measured in the same run, the plan before this
change (load every succeeded interval start, then walk every interval since the curator's
start). Prints both and the ratio for each H; ours should stay flat as H grows.

    python benchmarks/bench_scheduler.py [--quick]
"""

from __future__ import annotations

import sys
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import best

import gantry_local as gantry
from gantry_local.automations.curators import UniformCurator

START = datetime(2020, 1, 1, tzinfo=timezone.utc)
HOUR = timedelta(hours=1)


def _history(ws: gantry.Workspace, name: str, runs: int) -> None:
    """`runs` succeeded hourly runs of curator `name`, inserted in one statement."""
    with ws.database.cursor() as con:
        con.execute(
            "INSERT INTO _gl_curator_runs SELECT ?, ts, ts + INTERVAL 1 HOUR, 'succeeded', 10, 1, "
            "NULL, ts, ts, NULL FROM (SELECT unnest(generate_series(?::TIMESTAMPTZ, "
            "?::TIMESTAMPTZ, INTERVAL 1 HOUR)) AS ts)",
            [name, START, START + (runs - 1) * HOUR])


def _old_plan(scheduler: gantry.Scheduler) -> int:
    """The plan before: every succeeded start, then a walk from the first interval."""
    registry = scheduler._registry
    succeeded = registry.succeeded()
    now = scheduler.workspace.clock.now()
    due = 0
    for curator in registry.list():
        done = succeeded.get(curator.name, set())
        start = curator.first_interval_start
        assert start is not None
        while start + curator.curation_interval + curator.curation_delay <= now:
            if start not in done:
                due += 1
            start += curator.curation_interval
    return due


def main() -> None:
    sizes = (100, 2_000) if "--quick" in sys.argv else (100, 10_000, 100_000)
    print(f"{'history (runs)':>15} {'ours (ms)':>10} {'baseline: before (ms)':>22}  ratio")
    for runs in sizes:
        with tempfile.TemporaryDirectory() as folder:
            clock = gantry.ManualClock(START + runs * HOUR)
            with gantry.Workspace(db=Path(folder) / "b.duckdb", clock=clock,
                                  background_scheduler=False) as ws:
                ws.create_application("m")
                UniformCurator("c", "m", 5, start_on=START,
                               curation_interval=HOUR).create(workspace=ws)
                _history(ws, "c", runs)
                scheduler = gantry.Scheduler(ws)
                assert scheduler.due() == [] and _old_plan(scheduler) == 0
                ours = best(scheduler.due, repeat=5)
                before = best(lambda s=scheduler: _old_plan(s), repeat=5)  # type: ignore[misc]
                print(f"{runs:>15,} {ours * 1e3:>10.2f} {before * 1e3:>22.2f}  "
                      f"{ours / before:.3f}x of the baseline")


if __name__ == "__main__":
    main()
