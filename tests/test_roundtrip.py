"""Property: whatever record of supported types goes in comes back with the same values and types."""

from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

import gantry_local as gantry

names = st.text(st.characters(codec="utf-8", exclude_characters="\x00."), min_size=1, max_size=12)
datetimes = st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1))
scalars: dict[str, st.SearchStrategy[Any]] = {
    "bool": st.booleans(),
    "int": st.integers(min_value=-(2**63), max_value=2**63 - 1),
    "float": st.floats(allow_nan=True, allow_infinity=True),
    "str": st.text(max_size=20),
    "datetime": datetimes,
    "date": st.dates(),
}


kinds_of = st.dictionaries(names, st.sampled_from([*scalars, "list", "nested", "none"]),
                           min_size=1, max_size=6)


@st.composite
def record_of(draw: st.DrawFn, kinds: dict[str, str]) -> dict[str, Any]:
    """A record whose fields have the given kinds (a field keeps one type across records)."""
    record: dict[str, Any] = {}
    for name, kind in kinds.items():
        if kind == "none":
            record[name] = None
        elif kind == "list":
            record[name] = draw(st.lists(st.one_of(st.none(), st.integers(-5, 5)), max_size=4))
        elif kind == "nested":
            record[name] = {"leaf": draw(st.one_of(st.none(), st.text(max_size=5)))}
        else:
            record[name] = draw(st.one_of(st.none(), scalars[kind]))
    return record


records = kinds_of.flatmap(record_of)
batches = kinds_of.flatmap(lambda kinds: st.lists(record_of(kinds), min_size=1, max_size=8))


def _check_row(record: dict[str, Any], row: dict[str, Any]) -> None:
    for name, value in record.items():
        if isinstance(value, dict):
            assert _same(value["leaf"], row[f"inputs.{name}.leaf"]), name
        else:
            assert _same(value, row[f"inputs.{name}"]), (name, value, row[f"inputs.{name}"])


def _same(expected: Any, actual: Any) -> bool:
    if isinstance(expected, float) and math.isnan(expected):
        return isinstance(actual, float) and math.isnan(actual)
    if isinstance(expected, datetime):
        return actual == expected.replace(tzinfo=timezone.utc)
    if expected is None:
        return actual is None
    if isinstance(expected, list):
        return len(expected) == len(actual) and all(map(_same, expected, actual))
    return type(actual) is type(expected) and actual == expected  # bool stays bool, date stays date


@settings(max_examples=60, deadline=None)
@given(record=records)
def test_record_round_trips(record: dict[str, Any]) -> None:
    with gantry.Workspace(db=":memory:") as ws:
        app = ws.create_application("m")
        key = app.log_record(inputs=record, outputs={"o": 1})
        row = app.query(all_time=True).to_polars().row(0, named=True)
    assert row["__join_key"] == key
    _check_row(record, row)


@settings(max_examples=30, deadline=None)
@given(batch=batches)
def test_batches_round_trip(batch: list[dict[str, Any]]) -> None:
    """log_records stores exactly the values log_record would, in order."""
    with gantry.Workspace(db=":memory:") as ws:
        app = ws.create_application("m")
        _, keys = app.log_records(inputs=batch, outputs=[{"o": i} for i in range(len(batch))])
        rows = app.query(all_time=True).to_polars().sort("outputs.o").rows(named=True)
    assert [r["__join_key"] for r in rows] == keys
    for record, row in zip(batch, rows, strict=True):
        _check_row(record, row)


flat_kinds = st.dictionaries(st.one_of(st.text("aAbBzZ", min_size=1, max_size=3), names),
                             st.sampled_from([*scalars, "none"]), min_size=1, max_size=6)


@st.composite
def cased(draw: st.DrawFn, kinds: st.SearchStrategy[dict[str, str]]) -> dict[str, str]:
    """Field kinds where some names come twice, in two cases (``Amount`` and ``amount``)."""
    drawn = draw(kinds)
    twins = {name.swapcase(): kind for name, kind in drawn.items()
             if name.swapcase() not in drawn and draw(st.booleans())}
    return {**drawn, **twins}


@settings(max_examples=60, deadline=None)
@given(record=cased(flat_kinds).flatmap(record_of),
       tags=st.dictionaries(st.sampled_from(["env", "Env", "ENV", "region"]),
                            st.text("abcXYZ", max_size=4), max_size=3))
def test_fast_path_stores_what_the_careful_path_stores(record: dict[str, Any],
                                                       tags: dict[str, str]) -> None:
    """The same record logged twice: first the careful way (the schema is new), then the
    fast way (a familiar shape); both rows are identical, case-differing names included."""
    when = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)
    with gantry.Workspace(db=":memory:") as ws:
        app = ws.create_application("m")
        app.log_record(inputs=record, outputs={"o": 1}, tags=tags or None, join_key="careful",
                       timestamp=when)
        careful = ws._logger.careful_calls
        assert careful == 1
        app.log_record(inputs=record, outputs={"o": 1}, tags=tags or None, join_key="fast",
                       timestamp=when)
        assert ws._logger.careful_calls == careful, "the second call missed the fast path"
        rows = {row.pop("__join_key"): row for row in app.query(all_time=True).to_polars().rows(named=True)}
    assert set(rows) == {"careful", "fast"}
    for name in rows["careful"]:
        assert _same(rows["careful"][name], rows["fast"][name]), name
    _check_row(record, rows["fast"])
    for name, value in tags.items():
        assert rows["fast"][f"tags.{name}"] == value
