"""Bad-input and faithful-round-trip corpus for the logging core (buffer, sink, naming).

Three tables of cases:
- round trips: fields whose names differ only in case, through every log path and value
  kind, come back under their own names with their own values, and filters find each;
- refusals: names that differ in case from every stored field are unknown (never matched
  case-insensitively), bad flush settings; each raises a clear error and stores nothing;
- faults: the sink refuses one batch or one schema change (injected at the `Sink` seam);
  only the records that caused it are left out, reported once, and every other lands.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

import gantry_local as gantry
from gantry_local.automations.curators import AscendedSortCurator, EqualityCurator
from gantry_local.records._batches import TableWrite

from .conftest import stored_counts

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
TIMES = [T0 + timedelta(minutes=i) for i in range(3)]
Log = Callable[[gantry.Application], Any]

# -- round trips --------------------------------------------------------------------------


@dataclass
class Trip:
    id: str
    log: Log
    expect: dict[str, list[Any]]  # column -> values, in time order
    first: Log | None = None  # logged and flushed before (the first case's column exists)


def _records(n: int = 2, **extra: Any) -> dict[str, Any]:
    return {"timestamps": TIMES[:n], "join_keys": [f"k{i}" for i in range(n)], **extra}


TRIPS = [
    Trip("log_record-same-call", lambda a: a.log_record(inputs={"A": 1, "a": 2}, outputs=0,
                                                        timestamp=T0),
         {"inputs.A": [1], "inputs.a": [2]}),
    Trip("log_record-across-calls", lambda a: a.log_record(inputs={"amount": 2.5}, outputs=0,
                                                           timestamp=TIMES[1]),
         {"inputs.Amount": [1.5, None], "inputs.amount": [None, 2.5]},
         first=lambda a: a.log_record(inputs={"Amount": 1.5}, outputs=0, timestamp=T0)),
    Trip("log_record-fast-path", lambda a: [a.log_record(inputs={"Q": i, "q": -i}, outputs=i,
                                                         timestamp=TIMES[i]) for i in range(3)],
         {"inputs.Q": [0, 1, 2], "inputs.q": [0, -1, -2]}),
    Trip("outputs", lambda a: a.log_record(inputs={"x": 1}, outputs={"Score": 0.1, "score": 0.9},
                                           timestamp=T0),
         {"outputs.Score": [0.1], "outputs.score": [0.9]}),
    Trip("output-value-and-Value", lambda a: a.log_record(inputs={"x": 1},
                                                          outputs={"Value": "b", "value": "a"},
                                                          timestamp=T0),
         {"outputs.Value": ["b"], "outputs.value": ["a"]}),
    Trip("tags", lambda a: a.log_record(inputs={"x": 1}, outputs=0, tags={"Env": "p", "env": "d"},
                                        timestamp=T0),
         {"tags.Env": ["p"], "tags.env": ["d"]}),
    Trip("feedback-with-prediction", lambda a: a.log_record(
        inputs={"x": 1}, outputs=0, feedback={"LABEL": 1, "label": 0}, timestamp=T0),
         {"feedback.LABEL": [1], "feedback.label": [0]}),
    Trip("feedback-later", lambda a: a.log_record(feedback={"label": True}, join_key="k"),
         {"feedback.LABEL": [None], "feedback.label": [True]},
         first=lambda a: (a.log_record(inputs={"x": 1}, outputs=0, join_key="k", timestamp=T0),
                          a.log_record(feedback={"LABEL": False}, join_key="other"))),
    Trip("nested-dicts", lambda a: a.log_record(inputs={"U": {"id": 1}, "u": {"ID": 2}},
                                                outputs=0, timestamp=T0),
         {"inputs.U.id": [1], "inputs.u.ID": [2]}),
    Trip("three-cases", lambda a: a.log_record(inputs={"ab": 1, "Ab": 2, "AB": 3}, outputs=0,
                                               timestamp=T0),
         {"inputs.ab": [1], "inputs.Ab": [2], "inputs.AB": [3]}),
    Trip("suffix-lookalike", lambda a: a.log_record(inputs={"a~2": "real", "A": "x", "a": "y"},
                                                    outputs=0, timestamp=T0),
         {"inputs.a~2": ["real"], "inputs.A": ["x"], "inputs.a": ["y"]}),
    Trip("non-ascii-cases-are-distinct-anyway", lambda a: a.log_record(
        inputs={"Ä": 1, "ä": 2, "ß": 3, "SS": 4}, outputs=0, timestamp=T0),
         {"inputs.Ä": [1], "inputs.ä": [2], "inputs.ß": [3], "inputs.SS": [4]}),
    Trip("log_records-dicts-same-shape", lambda a: a.log_records(
        inputs=[{"K": i, "k": str(i)} for i in range(2)], outputs=[0, 1], **_records()),
         {"inputs.K": [0, 1], "inputs.k": ["0", "1"]}),
    Trip("log_records-dicts-mixed-shape", lambda a: a.log_records(
        inputs=[{"K": 1}, {"k": 2.5}], outputs=[0, 1], **_records()),
         {"inputs.K": [1, None], "inputs.k": [None, 2.5]}),
    Trip("log_records-tags-per-record", lambda a: a.log_records(
        inputs=[{"x": 1}, {"x": 2}], outputs=[0, 1], tags=[{"T": "a"}, {"t": "b"}], **_records()),
         {"tags.T": ["a", None], "tags.t": [None, "b"]}),
    Trip("log_records-feedbacks", lambda a: a.log_records(
        inputs=[{"x": 1}, {"x": 2}], outputs=[0, 1], feedbacks=[{"Ok": True}, {"ok": False}],
        **_records()),
         {"feedback.Ok": [True, None], "feedback.ok": [None, False]}),
    Trip("polars-frame", lambda a: a.log_records(
        inputs=pl.DataFrame({"Q": [1, 2], "q": ["x", "y"]}), outputs=[0, 1], **_records()),
         {"inputs.Q": [1, 2], "inputs.q": ["x", "y"]}),
    Trip("pandas-frame", lambda a: a.log_records(
        inputs=pd.DataFrame({"Q": [1.5, 2.5], "q": [True, False]}), outputs=[0, 1], **_records()),
         {"inputs.Q": [1.5, 2.5], "inputs.q": [True, False]}),
    Trip("arrow-table", lambda a: a.log_records(
        inputs=pa.table({"Day": [date(2024, 1, 1), None], "day": [None, date(2024, 1, 2)]}),
        outputs=[0, 1], **_records()),
         {"inputs.Day": [date(2024, 1, 1), None], "inputs.day": [None, date(2024, 1, 2)]}),
    Trip("arrow-record-batch-outputs", lambda a: a.log_records(
        inputs=[{"x": 1}, {"x": 2}], outputs=pa.record_batch({"P": [0.5, 0.25], "p": [1, 0]}),
        **_records()),
         {"outputs.P": [0.5, 0.25], "outputs.p": [1, 0]}),
    Trip("frame-structs", lambda a: a.log_records(
        inputs=pl.DataFrame({"S": [{"v": 1}, {"v": 2}], "s": [{"V": 3}, {"V": 4}]}),
        outputs=[0, 1], **_records()),
         {"inputs.S.v": [1, 2], "inputs.s.V": [3, 4]}),
    Trip("frame-feedbacks", lambda a: a.log_records(
        inputs=[{"x": 1}, {"x": 2}], outputs=[0, 1],
        feedbacks=pl.DataFrame({"Grade": ["a", "b"], "grade": [1, 2]}), **_records()),
         {"feedback.Grade": ["a", "b"], "feedback.grade": [1, 2]}),
    Trip("lists-and-datetimes", lambda a: a.log_record(
        inputs={"L": [1, 2], "l": ["a"], "When": T0, "when": None}, outputs=0, timestamp=T0),
         {"inputs.L": [[1, 2]], "inputs.l": [["a"]], "inputs.When": [T0], "inputs.when": [None]}),
    Trip("widened-after-collision", lambda a: a.log_record(inputs={"n": 2.5}, outputs=0,
                                                           timestamp=TIMES[1]),
         {"inputs.N": [7, None], "inputs.n": [1.0, 2.5]},
         first=lambda a: a.log_record(inputs={"N": 7, "n": 1}, outputs=0, timestamp=T0)),
]


def _values(frame: pl.DataFrame, column: str) -> list[Any]:
    return frame[column].to_list()


@pytest.mark.parametrize("trip", TRIPS, ids=[t.id for t in TRIPS])
def test_case_differing_names_round_trip(ws: gantry.Workspace, trip: Trip) -> None:
    app = ws.create_application("m")
    if trip.first is not None:
        trip.first(app)
        ws.flush()
    trip.log(app)
    frame = app.query(all_time=True).to_polars()
    for column, values in trip.expect.items():
        assert _values(frame, column) == values, column
        present = sum(v is not None for v in values)
        found = app.query(all_time=True, filters=[{"feature_name": column, "null_value": False}]).count()
        assert found == present, column
    assert sorted(app.query(all_time=True).to_arrow().column_names) == sorted(frame.columns)
    ws.close()  # the mapping is stored with the columns: the same after reopening
    with gantry.Workspace(db=ws.db) as again:
        assert again.query("m").to_polars().equals(frame)


# -- refusals -----------------------------------------------------------------------------


@dataclass
class Refusal:
    id: str
    call: Callable[[gantry.Workspace, gantry.Application], Any]
    error: type[Exception]
    match: str


def _seed(app: gantry.Application) -> None:
    app.log_record(inputs={"Amount": 1.0, "kind": "a"}, outputs=0, tags={"Env": "p"},
                   feedback={"Label": 1}, timestamp=T0)


REFUSALS = [
    Refusal("filter-wrong-case", lambda ws, a: a.query(all_time=True,
        filters=[{"feature_name": "inputs.amount", "lower_bound": 0}]).count(),
            gantry.ValidationError, r"unknown field 'inputs.amount'.*inputs.Amount"),
    Refusal("filter-upper-case", lambda ws, a: a.query(all_time=True,
        filters=[{"feature_name": "inputs.KIND", "category_query": ["a"]}]).count(),
            gantry.ValidationError, r"unknown field 'inputs.KIND'"),
    Refusal("feedback-filter-wrong-case", lambda ws, a: a.query(all_time=True,
        filters=[{"feature_name": "feedback.label", "null_value": False}]).count(),
            gantry.ValidationError, r"unknown field 'feedback.label'"),
    Refusal("tag-wrong-case", lambda ws, a: a.query(all_time=True, tags={"env": "p"}).count(),
            gantry.ValidationError, r"unknown field 'tags.env'"),
    Refusal("section-wrong-case", lambda ws, a: a.query(all_time=True,
        filters=[{"feature_name": "Inputs.Amount", "lower_bound": 0}]).count(),
            gantry.ValidationError, r"unknown field 'Inputs.Amount'"),
    Refusal("physical-name-is-not-a-field", lambda ws, a: a.query(all_time=True,
        filters=[{"feature_name": "inputs.amount~2", "lower_bound": 0}]).count(),
            gantry.ValidationError, r"unknown field 'inputs.amount~2'"),
    Refusal("curator-wrong-case", lambda ws, a: AscendedSortCurator(
        "c", "m", 5, sort_field="inputs.amount").select(ws, T0, T0 + timedelta(days=1)),
            gantry.ValidationError, r"unknown field.*inputs.amount"),
    Refusal("curator-equality-wrong-case", lambda ws, a: EqualityCurator(
        "c", "m", 5, field="inputs.Kind", equals="a").select(ws, T0, T0 + timedelta(days=1)),
            gantry.ValidationError, r"unknown field.*inputs.Kind"),
    Refusal("summarize-wrong-case", lambda ws, a: a.summarize(fields=["inputs.amount"]),
            gantry.ValidationError, r"unknown field 'inputs.amount'"),
    Refusal("drift-wrong-case", lambda ws, a: a.drift(
        (T0, T0 + timedelta(hours=1)), (T0, T0 + timedelta(hours=2)), fields=["inputs.AMOUNT"]),
            gantry.ValidationError, r"unknown field 'inputs.AMOUNT'"),
    Refusal("case-clash-keeps-type-rule", lambda ws, a: a.log_record(
        inputs={"Amount": "text"}, outputs=0),
            gantry.ValidationError, r"'inputs.Amount' was logged as float"),
    Refusal("twin-keeps-its-own-type", lambda ws, a: (a.log_record(inputs={"amount": "x"},
                                                                    outputs=0),
                                                       a.log_record(inputs={"amount": 1.0},
                                                                    outputs=0)),
            gantry.ValidationError, r"'inputs.amount' was logged as str"),
]


@pytest.mark.parametrize("case", REFUSALS, ids=[c.id for c in REFUSALS])
def test_names_in_another_case_are_other_fields(ws: gantry.Workspace, case: Refusal) -> None:
    app = ws.create_application("m")
    _seed(app)
    before = stored_counts(ws, "m")
    with pytest.raises(case.error, match=case.match):
        case.call(ws, app)
    after = stored_counts(ws, "m")
    if case.id == "twin-keeps-its-own-type":  # the first call was valid and is kept
        assert after[0] == before[0] + 1 and "inputs.amount" in after[2]
    else:
        assert after == before


@pytest.mark.parametrize("setting,value", [
    ("flush_interval", math.inf), ("flush_interval", 1e300), ("flush_interval", -math.inf),
    ("flush_interval", math.nan), ("flush_interval", 0), ("flush_interval", 1e-9),
    ("flush_interval", 7200), ("flush_interval", "1"), ("flush_interval", None),
    ("buffer_timeout", math.inf), ("buffer_timeout", math.nan), ("buffer_timeout", 0),
    ("buffer_timeout", 10**9),
])
def test_flush_settings_out_of_range(tmp_path: Path, setting: str, value: object) -> None:
    with pytest.raises(gantry.ValidationError, match=f"{setting} must be a number of seconds"):
        gantry.Workspace(db=tmp_path / "w.duckdb", **{setting: value})  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


# -- faults -------------------------------------------------------------------------------


@dataclass
class Fault:
    id: str
    log: Log  # logs some records, among them the culprits
    refuse: Callable[[TableWrite], bool]  # the sink refuses a write for which this is true
    lost: set[str]  # join keys of the records left out
    kept: set[str]  # join keys that must land
    extra: dict[str, Any] = field(default_factory=dict)


class RefusingSink:
    """The real sink behind the `Sink` seam, refusing writes `refuse` picks."""

    def __init__(self, inner: Any, refuse: Callable[[TableWrite], bool]) -> None:
        self.inner, self.refuse = inner, refuse

    def write(self, writes: Sequence[TableWrite]) -> None:
        if any(self.refuse(w) for w in writes):
            raise duckdb.ConversionException("refused by the test sink")
        self.inner.write(writes)


def _has_key(key: str) -> Callable[[TableWrite], bool]:
    return lambda w: key in w.table.column("__join_key").to_pylist()


def _has_column(name: str) -> Callable[[TableWrite], bool]:
    return lambda w: name in w.table.column_names


def _keys(prefix: str, n: int) -> list[str]:
    return [f"{prefix}{i}" for i in range(n)]


FAULTS = [
    Fault("one-record-by-key", lambda a: [a.log_record(inputs={"i": i}, outputs=i, join_key=k)
                                          for i, k in enumerate(_keys("r", 40))],
          _has_key("r13"), {"r13"}, set(_keys("r", 40)) - {"r13"}),
    Fault("one-row-of-a-batch", lambda a: a.log_records(
        inputs=[{"i": i} for i in range(40)], outputs=list(range(40)), join_keys=_keys("b", 40)),
          _has_key("b39"), {"b39"}, set(_keys("b", 39))),
    Fault("one-row-of-a-frame", lambda a: a.log_records(
        inputs=pl.DataFrame({"i": range(40)}), outputs=list(range(40)), join_keys=_keys("f", 40)),
          _has_key("f0"), {"f0"}, set(_keys("f", 40)) - {"f0"}),
    Fault("new-input-column", lambda a: [a.log_record(
        inputs={"i": i, **({"bad": "x"} if i in (3, 30) else {})}, outputs=i, join_key=k)
        for i, k in enumerate(_keys("c", 40))],
          _has_column("inputs.bad"), {"c3", "c30"}, set(_keys("c", 40)) - {"c3", "c30"}),
    Fault("new-tag-column", lambda a: a.log_records(
        inputs=[{"i": i} for i in range(20)], outputs=list(range(20)), join_keys=_keys("t", 20),
        tags=[{"Bad": "x"} if i == 5 else {"good": "y"} for i in range(20)]),
          _has_column("tags.Bad"), {"t5"}, set(_keys("t", 20)) - {"t5"}),
    Fault("new-case-twin-column", lambda a: [a.log_record(
        inputs={"v": 1, **({"V": 2} if i == 8 else {})}, outputs=i, join_key=k)
        for i, k in enumerate(_keys("v", 20))],
          _has_column("inputs.V"), {"v8"}, set(_keys("v", 20)) - {"v8"}),
    Fault("feedback-column", lambda a: [a.log_record(
        inputs={"i": i}, outputs=i, join_key=k,
        feedback={"Grade": "bad"} if i == 2 else {"grade": 1}) for i, k in enumerate(_keys("g", 10))],
          _has_column("feedback.Grade"), set(), set(_keys("g", 10)),
          {"feedback_lost": {"g2"}}),
    Fault("other-application-untouched", lambda a: [
        (a.log_record(inputs={"i": i}, outputs=i, join_key=k),
         a.workspace.log_record("other", inputs={"i": i}, outputs=i, join_key=f"o{i}"))
        for i, k in enumerate(_keys("p", 30))],
          _has_key("p7"), {"p7"}, set(_keys("p", 30)) - {"p7"}, {"other": set(_keys("o", 30))}),
]


@pytest.mark.parametrize("fault", FAULTS, ids=[f.id for f in FAULTS])
def test_a_refused_write_loses_only_its_culprits(ws: gantry.Workspace, fault: Fault) -> None:
    app = ws.create_application("m")
    ws.create_application("other")
    app.log_record(inputs={"i": -1}, outputs=-1, join_key="before")
    ws.flush()
    ws._buffer._sink = RefusingSink(ws._buffer._sink, fault.refuse)
    fault.log(app)
    culprits = len(fault.lost) + len(fault.extra.get("feedback_lost", ()))
    with pytest.raises(gantry.StorageError, match=f"{culprits} logged rows were refused"):
        ws.flush()
    ws.flush()  # said once
    app.log_record(inputs={"i": 99}, outputs=99, join_key="after")  # the buffer keeps flowing
    frame = app.query(all_time=True).to_polars()
    stored = set(frame["__join_key"])
    assert stored == fault.kept | {"before", "after"} and not stored & fault.lost
    for key in fault.extra.get("feedback_lost", ()):
        row = frame.filter(pl.col("__join_key") == key).row(0, named=True)
        assert row["__feedback_time"] is None  # only the refused feedback is missing
    if "other" in fault.extra:
        assert set(ws.query("other").to_polars()["__join_key"]) == fault.extra["other"]


@pytest.mark.parametrize("name", ["APP", "App", "aPp"])
def test_application_names_differing_only_in_case_are_refused(ws: gantry.Workspace,
                                                              name: str) -> None:
    ws.create_application("app").log_record(inputs={"x": 1}, outputs=0)
    before = stored_counts(ws, "app")
    with pytest.raises(gantry.AlreadyExistsError, match=f"{name!r} differs from 'app' only in "
                                                        "case"):
        ws.create_application(name)
    assert ws.list_applications() == ["app"]
    assert stored_counts(ws, "app") == before
