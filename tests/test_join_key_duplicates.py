"""A join key repeated inside one `log_records` call means what it means across calls.

Gantry 0.6 accepts repeated join keys (its SDK sends them as given), and so do we: every
prediction is stored, feedback joins each prediction with its key, and of several feedbacks
for one key the one logged last wins, in the order the call stores them (its order, or time
order with `sort_on_timestamp` and timestamps given).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
import pytest

import gantry_local as gantry


def _frame_or_rows(kind: str, rows: list[dict[str, Any]]) -> Any:
    return pl.DataFrame(rows) if kind == "frame" else rows


@pytest.mark.parametrize("kind", ["rows", "frame"])
def test_repeated_prediction_keys_store_every_prediction(app: gantry.Application,
                                                         kind: str) -> None:
    inputs = _frame_or_rows(kind, [{"x": 1}, {"x": 2}, {"x": 3}])
    outputs = _frame_or_rows(kind, [{"y": 10}, {"y": 20}, {"y": 30}])
    _, keys = app.log_records(inputs=inputs, outputs=outputs, join_keys=["a", "b", "a"])
    assert keys == ["a", "b", "a"]
    app.log_records(feedbacks=[{"label": 1}], join_keys=["a"])
    rows = app.query(all_time=True).to_polars().sort("inputs.x")
    assert rows["__join_key"].to_list() == ["a", "b", "a"]
    assert rows["feedback.label"].to_list() == [1, None, 1]


@pytest.mark.parametrize("kind", ["rows", "frame"])
def test_repeated_feedback_keys_in_one_call_the_last_wins(app: gantry.Application,
                                                          kind: str) -> None:
    app.log_records(inputs=[{"x": 1}, {"x": 2}], outputs=[{"y": 0}, {"y": 0}],
                    join_keys=["a", "b"])
    feedbacks = _frame_or_rows(kind, [{"label": "first"}, {"label": "b"}, {"label": "last"}])
    app.log_records(feedbacks=feedbacks, join_keys=["a", "b", "a"])
    rows = app.query(all_time=True).to_polars().sort("inputs.x")
    assert rows["feedback.label"].to_list() == ["last", "b"]


def test_with_timestamps_sorted_the_latest_time_wins(app: gantry.Application) -> None:
    app.log_records(inputs=[{"x": 1}], outputs=[{"y": 0}], join_keys=["a"])
    noon = datetime(2024, 5, 1, 12, tzinfo=UTC)
    app.log_records(feedbacks=[{"label": "later"}, {"label": "earlier"}], join_keys=["a", "a"],
                    timestamps=[noon + timedelta(hours=1), noon])  # sort_on_timestamp=True
    assert app.query(all_time=True).to_polars()["feedback.label"].to_list() == ["later"]
    app.log_records(feedbacks=[{"label": "given first"}, {"label": "given last"}],
                    join_keys=["a", "a"], timestamps=[noon + timedelta(hours=2), noon],
                    sort_on_timestamp=False)  # stored as given: the last given wins
    assert app.query(all_time=True).to_polars()["feedback.label"].to_list() == ["given last"]


def test_a_repeated_key_with_its_feedback_in_the_same_call(app: gantry.Application) -> None:
    app.log_records(inputs=[{"x": 1}, {"x": 2}], outputs=[{"y": 0}, {"y": 0}],
                    feedbacks=[{"label": "one"}, {"label": "two"}], join_keys=["k", "k"])
    rows = app.query(all_time=True).to_polars()
    assert rows.height == 2
    assert rows["feedback.label"].to_list() == ["two", "two"]
