"""Ingest of the spool: progress from the start, leftover temp files, and the failure classes
a review found (partial writes, transient reads, raw database errors, schema before commit)."""

from __future__ import annotations

from pathlib import Path

import gantry_local as gantry

from .test_spool import _good_segment, files, owner, producer  # noqa: F401  (owner: a fixture)


def test_progress_is_reported_from_the_start_and_per_segment(
        owner: gantry.Workspace, tmp_path: Path, clock: gantry.ManualClock) -> None:
    with producer(tmp_path, clock, "web-a") as worker:
        for part in range(5):  # five segments, one batch
            worker.log_records("model", inputs=[{"x": i} for i in range(10)], outputs=[part] * 10)
            worker.flush()
    calls: list[tuple[int, int, int]] = []
    result = owner.ingest(progress=lambda done, pending, rows: calls.append((done, pending, rows)))
    assert result.segments == 5
    assert calls[0] == (0, 5, 0)  # before anything is read
    assert [c[0] for c in calls] == [0, 1, 2, 3, 4, 5]
    assert calls[-1] == (5, 5, 50)
