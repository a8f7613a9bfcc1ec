"""Calls models (or judges) on many rows: a bounded thread pool, timeouts, retries, progress.

Each of `workers` threads takes the next row from shared work, so a fast model costs a
lock and a deque pop per row. An exception on a row is that row's error, never the
run's. A call that outruns its timeout is abandoned (Python cannot stop a thread: it
finishes in the background and its result is dropped), a fresh thread takes over, and
the row is retried like a failure. A call that returns after its timeout, before the
supervisor noticed, counts as timed out all the same, so the outcome never depends on
how busy the machine is.
"""

from __future__ import annotations

import heapq
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from tqdm import tqdm

from .._limits import shown
from ..errors import ValidationError

__all__ = ["CallOutcome", "RunSettings", "run_calls"]

_BATCH = 32  # rows a worker takes at once when there are many left
MAX_WORKERS = 256
MAX_RETRIES = 100
_DAY = 86_400.0


@dataclass(frozen=True)
class RunSettings:
    """How candidates and judges are called.

    Args:
        workers: calls in flight at once (models are often remote: threads wait on I/O).
        timeout: seconds one call may take before it counts as failed (None: no limit).
        retries: further attempts after a failure or timeout.
        backoff: seconds before the first retry; doubled for each further one.
        progress: show a progress bar (None: when stderr is a terminal).
    """

    workers: int = 8
    timeout: float | None = 60.0
    retries: int = 2
    backoff: float = 0.5
    progress: bool | None = None

    def __post_init__(self) -> None:
        if not _integer(self.workers, 1, MAX_WORKERS):
            raise ValidationError(f"workers must be an integer from 1 to {MAX_WORKERS}, got "
                                  f"{shown(self.workers)}")
        if self.timeout is not None and not _seconds(self.timeout, positive=True):
            raise ValidationError(f"timeout must be positive seconds (at most a day) or None, "
                                  f"got {shown(self.timeout)}")
        if not _integer(self.retries, 0, MAX_RETRIES):
            raise ValidationError(f"retries must be an integer from 0 to {MAX_RETRIES}, got "
                                  f"{shown(self.retries)}")
        if not _seconds(self.backoff, positive=False):
            raise ValidationError(f"backoff must be seconds from 0 to a day, got {shown(self.backoff)}")
        if self.progress is not None and not isinstance(self.progress, bool):
            raise ValidationError(f"progress must be True, False or None, got {self.progress!r}")


def _integer(value: Any, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _seconds(value: Any, positive: bool) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return (value > 0 if positive else value >= 0) and value <= _DAY


@dataclass(frozen=True)
class CallOutcome:
    """What one row's call gave: an output, or the last error; and how many attempts."""

    output: Any
    error: str | None
    attempts: int
    timed_out: bool


class _Worker:
    """One thread taking rows from the shared work until none are left."""

    def __init__(self, pool: _Calls) -> None:
        self.pool = pool
        self.current: tuple[int, int, float] | None = None  # (row, attempt, started)
        self.abandoned = False  # set by the supervisor, under the pool's lock
        self.dropped: int | None = None  # the row the supervisor timed out
        self.thread = threading.Thread(target=self.run, name="gantry-eval", daemon=True)
        self.thread.start()

    def run(self) -> None:
        pool = self.pool
        while True:
            batch = pool.next_batch(self)
            if not batch:
                return
            results: list[tuple[int, int, Any, str | None, bool]] = []
            timeout = pool.settings.timeout
            for index, number in batch:
                started = time.monotonic()
                self.current = (index, number, started)
                try:
                    output, error = pool.fn(pool.args[index]), None
                except KeyboardInterrupt as exc:  # stops the run, raised in the caller
                    pool.interrupt(exc)
                    return
                except BaseException as exc:  # SystemExit too: the row's error, not the run's
                    output, error = None, f"{type(exc).__name__}: {exc}"
                late = timeout is not None and time.monotonic() - started > timeout
                if late:  # over its time, whether or not the supervisor saw it yet
                    output, error = None, f"timed out after {timeout:g}s"
                results.append((index, number, output, error, late))
                if self.abandoned:  # a quick look; the locked accounting below decides
                    break
            with pool.cond:
                self.current = None
                for index, number, output, error, late in results:
                    if index != self.dropped:  # the row the supervisor timed out is its own
                        pool.finish(index, number, output, error, timed_out=late)
                if self.abandoned:  # rows of the batch never started go back to the queue
                    pool.todo.extendleft(reversed(batch[len(results):]))
                    pool.cond.notify_all()
                    return


class _Calls:
    """Shared state of one `run_calls`: the rows to do, retries due later, the outcomes."""

    def __init__(self, fn: Callable[[Any], Any], args: Sequence[Any], settings: RunSettings
                 ) -> None:
        self.fn, self.args, self.settings = fn, args, settings
        self.cond = threading.Condition()
        self.todo: deque[tuple[int, int]] = deque((i, 0) for i in range(len(args)))
        self.later: list[tuple[float, int, int]] = []  # (ready time, row, attempt) heap
        self.outcomes: list[CallOutcome | None] = [None] * len(args)
        self.remaining = len(args)
        self.interrupted: KeyboardInterrupt | None = None

    def interrupt(self, exc: KeyboardInterrupt) -> None:
        """A call raised KeyboardInterrupt: stop every worker and re-raise it in the caller."""
        with self.cond:
            self.interrupted = exc
            self.remaining = 0
            self.cond.notify_all()

    def next_batch(self, worker: _Worker) -> list[tuple[int, int]]:
        """A few rows to do (many workers, few rows: one each), or none when all are done."""
        with self.cond:
            while True:
                if worker.abandoned or self.remaining <= 0:
                    return []
                if self.todo:
                    size = max(1, min(_BATCH, len(self.todo) // (4 * self.settings.workers)))
                    return [self.todo.popleft() for _ in range(size)]
                now = time.monotonic()
                if self.later and self.later[0][0] <= now:
                    _, index, number = heapq.heappop(self.later)
                    return [(index, number)]
                self.cond.wait(self.later[0][0] - now if self.later else None)

    def finish(self, index: int, number: int, output: Any, error: str | None,
               timed_out: bool) -> None:
        """Record an attempt's result (the condition's lock held)."""
        if error is not None and number < self.settings.retries:
            delay = self.settings.backoff * (2 ** number)
            heapq.heappush(self.later, (time.monotonic() + delay, index, number + 1))
        else:
            self.outcomes[index] = CallOutcome(output, error, number + 1, timed_out)
            self.remaining -= 1
        if error is not None or self.remaining == 0:
            self.cond.notify_all()


def run_calls(fn: Callable[[Any], Any], args: Sequence[Any], settings: RunSettings,
              label: str = "calls") -> list[CallOutcome]:
    """``fn(arg)`` for every arg, on `settings.workers` threads; outcomes in the order of args."""
    if not args:
        return []
    calls = _Calls(fn, args, settings)
    show = sys.stderr.isatty() if settings.progress is None else settings.progress
    timeout = settings.timeout
    tick = 0.2 if timeout is None else min(0.2, timeout / 4)
    most_hung = settings.workers * 4  # abandoned threads still running, at most
    hung: list[_Worker] = []
    with tqdm(total=len(args), desc=label, disable=not show, file=sys.stderr,
              leave=False) as bar, calls.cond:
        workers = [_Worker(calls) for _ in range(min(settings.workers, len(args)))]
        shown = 0
        while calls.remaining > 0:
            calls.cond.wait(tick)
            now = time.monotonic()
            for worker in list(workers):
                current = worker.current
                if timeout is None or current is None or now - current[2] <= timeout:
                    continue
                worker.abandoned = True  # Python cannot stop it; its result is dropped
                worker.dropped = current[0]
                workers.remove(worker)
                hung.append(worker)
                calls.finish(current[0], current[1], None, f"timed out after {timeout:g}s",
                             timed_out=True)
            hung = [w for w in hung if w.thread.is_alive()]
            while len(workers) < settings.workers and len(hung) < most_hung:
                workers.append(_Worker(calls))  # a fresh thread takes over
            if not workers and calls.remaining:  # every thread hung: give up on the rest
                for index, outcome in enumerate(calls.outcomes):
                    if outcome is None:
                        calls.outcomes[index] = CallOutcome(
                            None, "not run: the workers are stuck in calls that timed out", 0,
                            True)
                calls.remaining = 0
            done = len(args) - calls.remaining
            bar.update(done - shown)
            shown = done
        calls.cond.notify_all()
    if calls.interrupted is not None:
        raise calls.interrupted
    return [o if o is not None else CallOutcome(None, "not run", 0, False)
            for o in calls.outcomes]
