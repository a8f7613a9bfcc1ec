"""A workspace seeded once for a whole bad-input corpus (each case is refused and stores
nothing, as the case checks, so the next case finds it as it was)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime

import pytest

import gantry_local as gantry


def seeded_once(factory: pytest.TempPathFactory, name: str, start: datetime,
                seed: Callable[[gantry.Workspace], gantry.Application]
                ) -> Iterator[gantry.Application]:
    """`seed` run on a fresh workspace in its own folder, held open while the module runs."""
    with gantry.Workspace(db=factory.mktemp(name) / "test.duckdb",
                          clock=gantry.ManualClock(start), flush_interval=0.01) as ws:
        yield seed(ws)
