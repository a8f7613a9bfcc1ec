"""`drift_over_time(tests=False)` counts bins in DuckDB; it must agree with the fetched path.

The fast path bins numbers with DuckDB's `histogram` over the reference's edges. These cases
put values where binning goes wrong first: NaN, both infinities, NULLs, an interval whose
field is all NULL, edges at the largest double, categories with NULL, booleans and ints.
"""

from __future__ import annotations

import math
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import gantry_local as gantry

S = datetime(2024, 3, 1, tzinfo=UTC)
BIG = sys.float_info.max


def _day(values: list[Any], kinds: list[Any], flags: list[Any]) -> list[dict[str, Any]]:
    return [{"x": v, "kind": k, "flag": f, "n": i % 4}
            for i, (v, k, f) in enumerate(zip(values, kinds, flags, strict=True))]


DAYS: dict[str, list[list[dict[str, Any]]]] = {
    "specials": [
        _day([*range(40), math.nan, -math.inf, math.inf, None] * 3,
             ["a", "b", None, "c"] * 33, [True, False, None] * 44),
        _day([*range(20, 60), math.nan, math.inf, math.inf, -math.inf] * 3,
             ["a", None, None, "d"] * 33, [True, True, False] * 44),
        _day([None] * 132, ["b"] * 132, [None] * 132),  # x is all NULL this day
        _day([-math.inf] * 66 + [math.nan] * 66, ["a"] * 132, [False] * 132),
    ],
    "largest_double": [
        _day([0.0, 1.0, BIG, BIG, -BIG] * 20, ["a"] * 100, [True] * 100),
        _day([BIG, math.inf, 2.0, -math.inf, 0.5] * 20, ["b"] * 100, [False] * 100),
    ],
}


@pytest.mark.parametrize("case", sorted(DAYS))
def test_the_fast_path_agrees_with_the_fetched_one(ws: gantry.Workspace, case: str) -> None:
    app = ws.create_application(f"binned-{case}".replace("_", "-"))
    for day, rows in enumerate(DAYS[case]):
        app.log_records(inputs=rows, outputs=[{"y": 1}] * len(rows),
                        timestamps=[S + timedelta(days=day, minutes=i) for i in range(len(rows))])
    reference = (S, S + timedelta(days=1))
    full = app.drift_over_time(reference)
    fast = app.drift_over_time(reference, tests=False)
    key = ["interval_start", "field", "against"]
    assert fast.select(key).sort(key).equals(full.select(key).sort(key))
    joined = full.join(fast, on=key, suffix="_fast")
    for column in ("psi", "js", "l1", "linf", "kl", "n_reference", "n_current"):
        for slow, quick in zip(joined[column].to_list(), joined[f"{column}_fast"].to_list(),
                               strict=True):
            assert (slow is None and quick is None) or slow == pytest.approx(quick, abs=1e-12), \
                column
    assert joined["drift"].to_list() == joined["drift_fast"].to_list()
