"""SIGKILL while logging flat out: what is lost stays within the README's bound (records
logged more than one flush_interval before the kill are in the database), and what is
stored is an unbroken prefix of what was logged, without duplicates.

Each trial costs about two seconds on two idle cores (mostly starting the child)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest

FLUSH_INTERVAL = 1.0  # the default, the README's bound
TRIALS = 20

BLOCK = 1024  # the child notes the time of every BLOCK-th record, in a file the kill keeps

CHILD = textwrap.dedent("""
    import mmap, sys, time
    import gantry_local as gantry
    ws = gantry.Workspace(db=sys.argv[1])
    app = ws.create_application("k")
    app.log_record(inputs={"seq": -1, "kind": "start"}, outputs=0)
    ws.flush()
    with open(sys.argv[2], "r+b") as f:
        times = memoryview(mmap.mmap(f.fileno(), 0)).cast("d")
    print("ready", flush=True)
    log, now, seq = app.log_record, time.time, 0
    while True:
        if not seq & 1023:
            times[seq >> 10] = now()
        log(inputs={"seq": seq, "kind": "flat out"}, outputs=seq * 0.5)
        seq += 1
""")


def _trial(folder: Path, name: str, logging_for: float) -> tuple[int, int, int, float]:
    """Rows stored, highest seq, distinct seqs, and the age at the kill of the oldest record
    logged but not stored (counted from the start of its block: never less than the truth)."""
    db, clock = folder / f"{name}.duckdb", folder / f"{name}.times"
    clock.write_bytes(bytes(8 * 65_536))
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(db), str(clock)],
                             stdout=subprocess.PIPE)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == b"ready"
        time.sleep(logging_for)
        killed = time.time()
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
    with duckdb.connect(str(db)) as con:
        rows, top, distinct = con.execute(
            'SELECT count(*), max("inputs.seq"), count(DISTINCT "inputs.seq") FROM "records_k"'
        ).fetchall()[0]
    times = memoryview(clock.read_bytes()).cast("d")
    first_lost_block = times[(top + 1) // BLOCK]
    assert first_lost_block > 0, "the child logged nothing after the last stored record"
    return rows, top, distinct, killed - first_lost_block


@pytest.mark.slow
def test_sigkill_loses_at_most_one_flush_interval_and_keeps_a_prefix(tmp_path: Path) -> None:
    random.seed(11)
    lags = []
    for trial in range(TRIALS):
        rows, top, distinct, lag = _trial(tmp_path, f"k{trial}", random.uniform(0.3, 1.2))
        assert rows == distinct == top + 2, (trial, rows, top, distinct)  # seq -1 .. top
        lags.append(lag)
    assert max(lags) < FLUSH_INTERVAL, sorted(lags)
