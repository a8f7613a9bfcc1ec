"""SIGKILL trials shared by tests/test_crash_loss.py and tests/test_spool_crash.py.

A `Zygote` imports gantry_local once and forks a child per trial, so a trial costs no Python
start-up (the SIGKILL tests of datasets and the scheduler use it too). A logging child logs
flat out and notes the time of every `BLOCK`-th record in a memory-mapped file that the kill
leaves intact; `kill_while_logging` kills it and says how old the oldest lost record was, and
how long the child's threads waited for a CPU meanwhile.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

FLUSH_INTERVAL = 1.0  # the default, the README's bound
BLOCK = 1024  # a logging child notes the time of every BLOCK-th record

# The functions a zygote's children run: log flat out (as the database's owner or a spool
# producer) or ingest a spool. A test may give its own (Zygote(functions=...)).
LOGGING = textwrap.dedent("""
    def log_flat_out(db, times_path, producer):
        if producer == "producer":
            ws = gantry.init(db=db, producer=True, producer_id="victim")
        else:
            ws = gantry.Workspace(db=db)
        app = ws.create_application("k")
        app.log_record(inputs={"seq": -1, "kind": "start"}, outputs=0)
        ws.flush()
        with open(times_path, "r+b") as f:
            times = memoryview(mmap.mmap(f.fileno(), 0)).cast("d")
        print("ready", os.getpid(), flush=True)
        log, now, seq = app.log_record, time.time, 0
        while True:
            if not seq & 1023:
                times[seq >> 10] = now()
            log(inputs={"seq": seq, "kind": "flat out"}, outputs=seq * 0.5)
            seq += 1

    def ingest(db, spool):
        from gantry_local.records import _ingest
        _ingest._BATCH_SEGMENTS = 7  # many transactions, each followed by its moves
        ws = gantry.Workspace(db=db, spool=spool)
        print("ready", os.getpid(), flush=True)
        ws.ingest()
        print("done", os.getpid(), flush=True)
""")

# Forks one child per line of stdin ("<function> <arguments...>"); the zygote itself never
# opens DuckDB or starts a flush thread, so a child inherits nothing half-done.
FORKS = textwrap.dedent("""
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped as they end
    print("zygote", flush=True)
    for line in sys.stdin:
        function, *arguments = line.split()
        if os.fork() == 0:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            try:
                globals()[function](*arguments)
            except BaseException:
                import traceback
                traceback.print_exc()
                print("failed", os.getpid(), flush=True)
            finally:
                os._exit(0)
""")


class Zygote:
    """A Python process with gantry_local imported that forks the trials' children, each
    running one of `functions` (Python source; a child says ``ready <pid>`` when the parent
    may start counting, and may say ``done <pid>`` when it ends by itself)."""

    def __init__(self, functions: str = LOGGING) -> None:
        code = "import mmap, os, signal, sys, time\nimport gantry_local as gantry\n" + \
            functions + FORKS
        self.process = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True)
        assert self.readline() == "zygote"

    def readline(self) -> str:
        assert self.process.stdout is not None
        return self.process.stdout.readline().strip()

    def start(self, function: str, *arguments: object) -> int:
        """Fork a child running `function(*arguments)`; its pid once it says it is ready."""
        assert self.process.stdin is not None
        self.process.stdin.write(" ".join([function, *map(str, arguments)]) + "\n")
        self.process.stdin.flush()
        while True:
            line = self.readline()
            assert line, "the zygote ended"
            word, pid = line.split()
            assert word != "failed", f"the child running {function} failed (its traceback above)"
            if word == "ready":  # "done" of an earlier child that finished before its kill
                return int(pid)

    def close(self) -> None:
        self.process.kill()
        self.process.wait()


def kill(pid: int) -> None:
    """SIGKILL `pid` (it may have ended already) and wait until it is gone (its zygote reaps
    it), so the files it held are released."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.01)
    raise AssertionError(f"process {pid} outlived its SIGKILL by 10 s")


def run_queue_wait(pid: int) -> dict[str, float]:
    """Seconds each thread of `pid` has waited for a CPU while runnable (Linux schedstat);
    empty where the kernel does not say."""
    waits = {}
    with contextlib.suppress(OSError):
        for tid in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError, ValueError, IndexError), \
                    open(f"/proc/{pid}/task/{tid}/schedstat") as stats:
                waits[tid] = int(stats.read().split()[1]) / 1e9
    return waits


@dataclass(frozen=True)
class Killed:
    """What a kill of a logging child left: the block times it noted, when it was killed and
    how long its threads waited for a CPU between its first record and the kill."""

    times: memoryview
    killed_at: float
    starved: float

    def lag(self, top: int) -> float:
        """Age at the kill of the oldest record logged but not stored, when `top` is the highest
        seq stored (counted from the start of its block: never less than the truth)."""
        first_lost_block = self.times[(top + 1) // BLOCK]
        assert first_lost_block > 0, "the child logged nothing after the last stored record"
        return self.killed_at - first_lost_block


def kill_while_logging(zygote: Zygote, db: Path, logging_for: float, producer: bool) -> Killed:
    """Fork a child logging flat out to `db` (as a spool producer or as the database's owner),
    kill it after `logging_for` seconds of logging."""
    clock = db.with_suffix(".times")
    clock.write_bytes(bytes(8 * 65_536))
    pid = zygote.start("log_flat_out", db, clock, "producer" if producer else "owner")
    waited = run_queue_wait(pid)
    time.sleep(logging_for)
    waits = run_queue_wait(pid)
    killed_at = time.time()
    kill(pid)
    starved = sum(wait - waited.get(tid, 0.0) for tid, wait in waits.items())
    return Killed(memoryview(clock.read_bytes()).cast("d"), killed_at, starved)
