"""Shared by the benchmark scripts (run as ``python benchmarks/bench_*.py``).

The machine these run on is often shared, so a single timing of each side says little: load
that hits one side and not the other shows up as a ratio. `interleaved` runs every side once
per round, in an order that alternates between rounds, so load hits both alike; `Timings`
reports each side's median and best, and ratios compare medians.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass


def best(fn: Callable[[], object], repeat: int = 3) -> float:
    """The fastest of `repeat` runs of `fn`, in seconds."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def timed(fn: Callable[[], object]) -> float:
    """Seconds one call of `fn` takes."""
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


@dataclass
class Timings:
    """Seconds per round of each side of a comparison."""

    runs: dict[str, list[float]]

    def median(self, side: str) -> float:
        return statistics.median(self.runs[side])

    def best(self, side: str) -> float:
        return min(self.runs[side])

    def ratio(self, ours: str, baseline: str) -> float:
        """Median of `ours` over the median of `baseline`."""
        return self.median(ours) / self.median(baseline)

    def paired_ratio(self, ours: str, baseline: str) -> float:
        """Median over rounds of `ours` / `baseline` in the same round: the two ran seconds
        apart, so a load that changes from one round to the next cancels out."""
        return statistics.median(o / b for o, b in zip(self.runs[ours], self.runs[baseline],
                                                       strict=True))

    def show(self, side: str, unit: str = "s") -> str:
        """``median 1.23s (best 1.10s)``, in seconds or milliseconds."""
        scale, fmt = (1000.0, "{:.1f}ms") if unit == "ms" else (1.0, "{:.3f}s")
        return (f"median {fmt.format(self.median(side) * scale)} "
                f"(best {fmt.format(self.best(side) * scale)})")


def interleaved(sides: Mapping[str, Callable[[], object]], rounds: int = 5) -> Timings:
    """Run each side once per round, forwards in even rounds and backwards in odd ones.

    A side returns the seconds it measured itself as a float (to leave out its set-up);
    anything else it returns is ignored and the side is timed whole.
    """
    runs: dict[str, list[float]] = {name: [] for name in sides}
    names = list(sides)
    for round_ in range(rounds):
        for name in names if round_ % 2 == 0 else reversed(names):
            started = time.perf_counter()
            took = sides[name]()
            runs[name].append(took if isinstance(took, float) else
                              time.perf_counter() - started)
    return Timings(runs)


def load() -> str:
    """The machine's load averages, as ``uptime`` prints them."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f} on {os.cpu_count()} cores"
