"""A record may not add more than MAX_COLUMNS columns to a table: wider tables stall the flush thread."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import polars as pl
import pytest

import gantry_local as gantry
from gantry_local.records._schema import MAX_COLUMNS

from .conftest import stored_counts

WIDE = MAX_COLUMNS + 1

CASES: list[tuple[str, Callable[[gantry.Application], Any]]] = [
    ("single record", lambda app: app.log_record(
        inputs={f"f{i}": i for i in range(WIDE)}, outputs=1)),
    ("dict batch", lambda app: app.log_records(
        inputs=[{f"f{i}": i for i in range(WIDE)}], outputs=[1])),
    ("polars batch", lambda app: app.log_records(
        inputs=pl.DataFrame({f"f{i}": [i] for i in range(WIDE)}), outputs=[1])),
    ("feedback", lambda app: app.log_record(
        inputs={"x": 1}, outputs=1, feedback={f"f{i}": i for i in range(WIDE)})),
    ("tags", lambda app: app.log_record(
        inputs={"x": 1}, outputs=1, tags={f"t{i}": "v" for i in range(WIDE)})),
]


@pytest.mark.parametrize("call", [c for _, c in CASES], ids=[n for n, _ in CASES])
def test_a_record_wider_than_the_limit_is_refused(app: gantry.Application,
                                                  call: Callable[[gantry.Application], Any]) -> None:
    before = stored_counts(app.workspace)
    with pytest.raises(gantry.ValidationError, match=f"the limit is {MAX_COLUMNS}"):
        call(app)
    assert stored_counts(app.workspace) == before


def test_the_limit_counts_columns_already_stored(app: gantry.Application, ws: gantry.Workspace) -> None:
    app.log_record(inputs={f"f{i}": i for i in range(MAX_COLUMNS - 10)}, outputs=1)
    ws.flush()
    with pytest.raises(gantry.ValidationError, match="would be column"):
        app.log_record(inputs={f"g{i}": i for i in range(20)}, outputs=1)
    app.log_record(inputs={"f0": 5}, outputs=2)  # known fields still log
    ws.flush()
    assert app.query(all_time=True).count() == 2
