"""Bad-input corpus for logging, workspaces, applications and queries (issue 11, sections 1 and 5).

Each refused case asserts the exception class, a message that says what was wrong, and that
nothing was stored (rows and known columns before and after). Each legal case asserts a
faithful round trip. Single-record cases run through every entry point (Application,
Workspace, module function) on the careful path (a new shape) and, where the shape can be
familiar, on the fast path (the same shape logged before).
"""

from __future__ import annotations

import enum
import itertools
from collections.abc import Callable, Iterator, Mapping
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

import gantry_local as gantry
from gantry_local.query.time_window import RelativeTimeWindow

from .conftest import START, stored_counts

PLUS5 = timezone(timedelta(hours=5))
MINUS5 = timezone(timedelta(hours=-5))
EARLIEST = datetime.min.replace(tzinfo=PLUS5)  # before year 1 in UTC
LATEST = datetime.max.replace(tzinfo=MINUS5)  # after year 9999 in UTC


class Big(enum.IntEnum):
    HUGE = 2**70
    SMALL = 5


class Color(str, enum.Enum):
    RED = "red"


def _deep(levels: int) -> dict[str, Any]:
    root: dict[str, Any] = {}
    node = root
    for _ in range(levels):
        node["a"] = {}
        node = node["a"]
    node["v"] = 1
    return root


def _cycle() -> dict[str, Any]:
    node: dict[str, Any] = {"x": 1}
    node["self"] = node
    return node


def _nested_cycle() -> dict[str, Any]:
    inner: dict[str, Any] = {"x": 1}
    outer = {"inner": inner}
    inner["back"] = outer
    return outer


def _self_list() -> list[Any]:
    items: list[Any] = [1]
    items.append(items)
    return items


class BrokenMapping(Mapping[str, Any]):
    """A Mapping whose values cannot be read."""

    def __getitem__(self, key: str) -> Any:
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(["a"])

    def __len__(self) -> int:
        return 1


OK = {"inputs": {"a": 1}, "outputs": 1}


_app_numbers = itertools.count(1)


@pytest.fixture(scope="module")
def shared_ws() -> Iterator[gantry.Workspace]:
    """One in-memory workspace for the module (the corpus is large); each test has its own app."""
    workspace = gantry.Workspace(db=":memory:", clock=gantry.ManualClock(START),
                                 flush_interval=0.01)
    yield workspace
    workspace.close()
    default = gantry._default._default
    if default is not None:
        default.close()


@pytest.fixture
def ws(shared_ws: gantry.Workspace) -> gantry.Workspace:
    return shared_ws


@pytest.fixture
def app(ws: gantry.Workspace) -> gantry.Application:
    return ws.create_application(f"model-{next(_app_numbers)}")


def _default_workspace() -> gantry.Workspace:
    """The module functions' workspace, opened again if a test closed it."""
    default = gantry._default._default
    if default is None or default.closed:
        default = gantry.init(db=":memory:", clock=gantry.ManualClock(START), flush_interval=0.01)
    return default

NAME = r"field name .* must be 1 to 255 characters of valid Unicode"

# (id, kwargs for log_record, error class, message regex)
BAD_SINGLE: list[tuple[str, dict[str, Any], type[Exception], str]] = [
    # names
    ("surrogate-input-name", {"inputs": {"\ud800": 1}, "outputs": 1}, gantry.ValidationError, NAME),
    ("surrogate-nested-name", {"inputs": {"a": {"\udfff": 1}}, "outputs": 1},
     gantry.ValidationError, NAME),
    ("surrogate-output-name", {"inputs": {"a": 1}, "outputs": {"\ud800": 1}},
     gantry.ValidationError, NAME),
    ("surrogate-feedback-name", {"feedback": {"\ud800": 1}, "join_key": "k"},
     gantry.ValidationError, NAME),
    ("surrogate-tag-name", {**OK, "tags": {"\ud800": "x"}}, gantry.ValidationError, NAME),
    ("empty-name", {"inputs": {"": 1}, "outputs": 1}, gantry.ValidationError, NAME),
    ("nul-name", {"inputs": {"a\x00b": 1}, "outputs": 1}, gantry.ValidationError, NAME),
    ("long-name", {"inputs": {"x" * 256: 1}, "outputs": 1}, gantry.ValidationError, NAME),
    ("int-name", {"inputs": {1: 1}, "outputs": 1}, gantry.ValidationError,
     "field names must be strings"),
    ("none-name", {"inputs": {None: 1}, "outputs": 1}, gantry.ValidationError,
     "field names must be strings"),
    ("dotted-and-nested", {"inputs": {"z.b": 1, "z": {"b": 2}}, "outputs": 1},
     gantry.ValidationError, r"'z\.b' is given twice"),
    ("nested-and-dotted", {"inputs": {"z": {"b": 2}, "z.b": 1}, "outputs": 1},
     gantry.ValidationError, r"'z\.b' is given twice"),
    ("dotted-clash-in-feedback", {"feedback": {"q.r": 1, "q": {"r": 2}}, "join_key": "k"},
     gantry.ValidationError, "given twice"),
    # depth and cycles
    ("40-deep", {"inputs": _deep(40), "outputs": 1}, gantry.ValidationError,
     "more than 32 levels deep"),
    ("3000-deep", {"inputs": _deep(3000), "outputs": 1}, gantry.ValidationError,
     "more than 32 levels deep"),
    ("3000-deep-feedback", {"feedback": _deep(3000), "join_key": "k"}, gantry.ValidationError,
     "levels deep"),
    ("self-dict", {"inputs": _cycle(), "outputs": 1}, gantry.ValidationError,
     "contains itself"),
    ("nested-cycle", {"inputs": _nested_cycle(), "outputs": 1}, gantry.ValidationError,
     "contains itself"),
    ("self-output", {"inputs": {"a": 1}, "outputs": _cycle()}, gantry.ValidationError,
     "contains itself"),
    ("self-list", {"inputs": {"l": _self_list()}, "outputs": 1}, gantry.ValidationError,
     "only scalars"),
    # values
    ("surrogate-value", {"inputs": {"s": "\ud800"}, "outputs": 1}, gantry.ValidationError,
     "lone surrogate"),
    ("surrogate-output", {"inputs": {"a": 1}, "outputs": "\udc80"}, gantry.ValidationError,
     "lone surrogate"),
    ("surrogate-in-list", {"inputs": {"l": ["a", "\ud800"]}, "outputs": 1},
     gantry.ValidationError, "lone surrogate"),
    ("surrogate-feedback", {"feedback": {"label": "\ud800"}, "join_key": "k"},
     gantry.ValidationError, "lone surrogate"),
    ("surrogate-tag-value", {**OK, "tags": {"env": "\ud800"}}, gantry.ValidationError,
     "lone surrogate"),
    ("intenum-2**70", {"inputs": {"n": Big.HUGE}, "outputs": 1}, gantry.ValidationError,
     "does not fit a 64-bit integer"),
    ("int-2**63", {"inputs": {"n": 2**63}, "outputs": 1}, gantry.ValidationError, "64-bit"),
    ("int-below-min", {"inputs": {"n": -(2**63) - 1}, "outputs": 1}, gantry.ValidationError,
     "64-bit"),
    ("uint64-max", {"inputs": {"n": np.uint64(2**64 - 1)}, "outputs": 1},
     gantry.ValidationError, "64-bit"),
    ("int-in-list", {"inputs": {"l": [1, 2**64]}, "outputs": 1}, gantry.ValidationError,
     "64-bit"),
    ("numpy-2d", {"inputs": {"m": np.array([[1, 2], [3, 4]])}, "outputs": 1},
     gantry.ValidationError, "2-dimensional numpy array"),
    ("numpy-3d", {"inputs": {"m": np.zeros((2, 2, 2))}, "outputs": 1}, gantry.ValidationError,
     "3-dimensional"),
    ("numpy-mixed-object", {"inputs": {"m": np.array([1, "a"], dtype=object)}, "outputs": 1},
     gantry.ValidationError, "mixes int and str"),
    ("list-of-arrays", {"inputs": {"m": [np.array([1])]}, "outputs": 1}, gantry.ValidationError,
     "only scalars"),
    ("timedelta64", {"inputs": {"d": np.timedelta64(5, "s")}, "outputs": 1},
     gantry.ValidationError, "not supported"),
    ("complex", {"inputs": {"c": np.complex128(1j)}, "outputs": 1}, gantry.ValidationError,
     "not supported"),
    ("datetime64-year-10000", {"inputs": {"t": np.datetime64("10000-01-01")}, "outputs": 1},
     gantry.ValidationError, "outside the stored range"),
    ("longdouble-overflow", {"inputs": {"x": np.longdouble("1e4000")}, "outputs": 1},
     gantry.ValidationError, "does not fit a 64-bit float"),
    ("list-of-lists", {"inputs": {"l": [[1]]}, "outputs": 1}, gantry.ValidationError,
     "only scalars"),
    ("list-of-dicts", {"inputs": {"l": [{"a": 1}]}, "outputs": 1}, gantry.ValidationError,
     "only scalars"),
    ("list-mixing", {"inputs": {"l": [1, "a"]}, "outputs": 1}, gantry.ValidationError, "mixes"),
    ("set", {"inputs": {"s": {1, 2}}, "outputs": 1}, gantry.ValidationError, "not supported"),
    ("bytes", {"inputs": {"b": b"x"}, "outputs": 1}, gantry.ValidationError, "not supported"),
    ("decimal", {"inputs": {"d": Decimal("1.5")}, "outputs": 1}, gantry.ValidationError,
     "not supported"),
    ("timedelta", {"inputs": {"d": timedelta(1)}, "outputs": 1}, gantry.ValidationError,
     "not supported"),
    ("object", {"inputs": {"o": object()}, "outputs": 1}, gantry.ValidationError,
     "not supported"),
    ("polars-series-value", {"inputs": {"s": pl.Series([1])}, "outputs": 1},
     gantry.ValidationError, "not supported"),
    # sample_rate: checked first, and a dropped call is validated like a kept one
    ("sample-true", {**OK, "sample_rate": True}, gantry.ValidationError, "sample_rate"),
    ("sample-false", {**OK, "sample_rate": False}, gantry.ValidationError, "sample_rate"),
    ("sample-nan", {**OK, "sample_rate": float("nan")}, gantry.ValidationError, "sample_rate"),
    ("sample-zero", {**OK, "sample_rate": 0}, gantry.ValidationError, "sample_rate"),
    ("sample-negative", {**OK, "sample_rate": -0.5}, gantry.ValidationError, "sample_rate"),
    ("sample-above-1", {**OK, "sample_rate": 1.5}, gantry.ValidationError, "sample_rate"),
    ("sample-inf", {**OK, "sample_rate": float("inf")}, gantry.ValidationError, "sample_rate"),
    ("sample-str", {**OK, "sample_rate": "0.5"}, gantry.ValidationError, "sample_rate"),
    ("sample-none", {**OK, "sample_rate": None}, gantry.ValidationError, "sample_rate"),
    ("sample-np-bool", {**OK, "sample_rate": np.True_}, gantry.ValidationError, "sample_rate"),
    ("sample-array", {**OK, "sample_rate": np.array([1.0, 1.0])}, gantry.ValidationError,
     "sample_rate"),
    ("sample-timedelta64", {**OK, "sample_rate": np.timedelta64(1, "D")},
     gantry.ValidationError, "sample_rate"),
    ("tiny-sample-bad-value", {"inputs": {"o": object()}, "outputs": 1, "sample_rate": 1e-12},
     gantry.ValidationError, "not supported"),
    ("tiny-sample-bad-name", {"inputs": {"\ud800": 1}, "outputs": 1, "sample_rate": 1e-12},
     gantry.ValidationError, NAME),
    ("tiny-sample-bad-timestamp", {**OK, "timestamp": "x", "sample_rate": 1e-12},
     gantry.ValidationError, "timestamps must be datetimes"),
    ("tiny-sample-bad-version", {**OK, "version": 1.5, "sample_rate": 1e-12},
     gantry.ValidationError, "version must be"),
    ("tiny-sample-no-outputs", {"inputs": {"a": 1}, "sample_rate": 1e-12},
     gantry.ValidationError, "needs both inputs and outputs"),
    # timestamps
    ("timestamp-earliest+05", {**OK, "timestamp": EARLIEST}, gantry.ValidationError,
     "years 1 to 9999"),
    ("timestamp-latest-05", {**OK, "timestamp": LATEST}, gantry.ValidationError,
     "years 1 to 9999"),
    ("timestamp-str", {**OK, "timestamp": "2024-01-01"}, gantry.ValidationError,
     "timestamps must be datetimes"),
    ("timestamp-date", {**OK, "timestamp": date(2024, 1, 1)}, gantry.ValidationError,
     "must be datetimes, got the date"),
    ("timestamp-int", {**OK, "timestamp": 1_700_000_000}, gantry.ValidationError,
     "must be datetimes"),
    ("timestamp-nat", {**OK, "timestamp": pd.NaT}, gantry.ValidationError, "datetimes"),
    ("timestamp-numpy-nat", {**OK, "timestamp": np.datetime64("NaT")}, gantry.ValidationError,
     "datetimes"),
    # join keys and versions
    ("join-key-empty", {**OK, "join_key": ""}, gantry.ValidationError, "join keys must be 1 to"),
    ("join-key-long", {**OK, "join_key": "k" * 1025}, gantry.ValidationError,
     "join keys must be 1 to"),
    ("join-key-surrogate", {**OK, "join_key": "\ud800"}, gantry.ValidationError,
     "valid Unicode"),
    ("join-key-float", {**OK, "join_key": 1.5}, gantry.ValidationError, "must be strings"),
    ("join-key-bool", {**OK, "join_key": True}, gantry.ValidationError, "must be strings"),
    ("join-key-list", {**OK, "join_key": ["k"]}, gantry.ValidationError, "must be strings"),
    ("version-float", {**OK, "version": 1.5}, gantry.ValidationError, "version must be"),
    ("version-bool", {**OK, "version": True}, gantry.ValidationError, "version must be"),
    ("version-empty", {**OK, "version": ""}, gantry.ValidationError, "version must be 1 to"),
    ("version-surrogate", {**OK, "version": "v\ud800"}, gantry.ValidationError,
     "valid Unicode"),
    ("version-long", {**OK, "version": "v" * 1025}, gantry.ValidationError,
     "version must be 1 to"),
    ("version-list", {**OK, "version": [1]}, gantry.ValidationError, "version must be"),
    ("version-timedelta64", {**OK, "version": np.timedelta64(1, "D")}, gantry.ValidationError,
     "version must be"),
    ("join-key-timedelta64", {**OK, "join_key": np.timedelta64(1, "D")},
     gantry.ValidationError, "must be strings"),
    # shapes of the call
    ("inputs-list", {"inputs": [1], "outputs": 1}, gantry.ValidationError, "inputs must be a dict"),
    ("inputs-str", {"inputs": "a", "outputs": 1}, gantry.ValidationError, "inputs must be a dict"),
    ("no-outputs", {"inputs": {"a": 1}}, gantry.ValidationError, "needs both"),
    ("no-inputs", {"outputs": 1}, gantry.ValidationError, "needs both"),
    ("nothing", {}, gantry.ValidationError, "nothing to log"),
    ("feedback-list", {"feedback": [1], "join_key": "k"}, gantry.ValidationError,
     "feedback must be a dict"),
    ("feedback-no-key", {"feedback": {"y": 1}}, gantry.ValidationError, "join_key"),
    ("tags-list", {**OK, "tags": ["x"]}, gantry.ValidationError, "tags must be a dict"),
    ("tags-int-value", {**OK, "tags": {"env": 1}}, gantry.ValidationError, "must be a string"),
    ("broken-mapping", {"inputs": BrokenMapping(), "outputs": 1}, gantry.ValidationError,
     "could not be read as a dict"),
    ("broken-mapping-feedback", {"feedback": BrokenMapping(), "join_key": "k"},
     gantry.ValidationError, "could not be read as a dict"),
    ("tags-on-feedback", {"feedback": {"y": 1}, "join_key": "k", "tags": {"a": "b"}},
     gantry.ValidationError, "tags describe predictions"),
]

# cases whose shape can be made familiar first, so the hot path sees them: (id, warm-up kwargs)
WARM: dict[str, dict[str, Any]] = {
    "intenum-2**70": {"inputs": {"n": 1}, "outputs": 1},
    "int-2**63": {"inputs": {"n": 1}, "outputs": 1},
    "int-below-min": {"inputs": {"n": 1}, "outputs": 1},
    "surrogate-tag-value": {**OK, "tags": {"env": "prod"}},
    "surrogate-tag-name": {**OK, "tags": {"env": "prod"}},
    "sample-true": OK, "sample-false": OK, "sample-nan": OK, "sample-str": OK,
    "sample-none": OK, "sample-np-bool": OK, "sample-array": OK, "sample-timedelta64": OK,
    "tiny-sample-bad-timestamp": OK,
    "tiny-sample-bad-version": OK,
    "timestamp-earliest+05": OK, "timestamp-latest-05": OK, "timestamp-str": OK,
    "timestamp-nat": OK, "timestamp-numpy-nat": OK,
    "join-key-empty": OK, "join-key-long": OK, "join-key-surrogate": OK, "join-key-float": OK,
    "join-key-bool": OK, "version-float": OK, "version-bool": OK, "version-empty": OK,
    "version-surrogate": OK, "version-long": OK, "version-list": OK,
}


@pytest.fixture(params=["application", "workspace", "module"])
def log_one(request: pytest.FixtureRequest, ws: gantry.Workspace, app: gantry.Application
            ) -> tuple[Callable[..., str], gantry.Workspace, str]:
    """`log_record` through each public entry point, with the workspace and app it logs to."""
    if request.param == "application":
        return app.log_record, ws, app.name
    if request.param == "workspace":
        return (lambda **kw: ws.log_record(app.name, **kw)), ws, app.name
    default = _default_workspace()
    default.create_application(app.name)
    return (lambda **kw: gantry.log_record(app.name, **kw)), default, app.name


@pytest.mark.parametrize(("case", "kwargs", "error", "match"), BAD_SINGLE,
                         ids=[c[0] for c in BAD_SINGLE])
def test_log_record_refuses(log_one: tuple[Callable[..., str], gantry.Workspace, str], case: str,
                            kwargs: dict[str, Any], error: type[Exception], match: str) -> None:
    log, target, name = log_one
    if case in WARM:
        log(**WARM[case])
    before = stored_counts(target, name)
    with pytest.raises(error, match=match):
        log(**kwargs)
    assert stored_counts(target, name) == before


# -- log_records: lists of dicts, polars, pandas and Arrow ----------------------------------------

def _struct_clash_arrow() -> pa.Table:
    return pa.table({"z.b": [1], "z": pa.array([{"b": 2}])})


def _deep_struct(levels: int) -> pa.Table:
    array: pa.Array[Any] = pa.array([1])
    for _ in range(levels):
        array = pa.StructArray.from_arrays([array], names=["a"])
    return pa.table({"s": array})


BAD_MANY: list[tuple[str, Callable[[], dict[str, Any]], type[Exception], str]] = [
    ("dicts-surrogate-name", lambda: {"inputs": [{"a": 1}, {"\ud800": 1}], "outputs": [1, 2]},
     gantry.ValidationError, NAME),
    ("dicts-surrogate-value", lambda: {"inputs": [{"s": "ok"}, {"s": "\ud800"}],
                                       "outputs": [1, 2]}, gantry.ValidationError,
     "lone surrogate"),
    ("dicts-surrogate-feedback", lambda: {"feedbacks": [{"y": "\ud800"}], "join_keys": ["k"]},
     gantry.ValidationError, "lone surrogate"),
    ("dicts-dotted-clash", lambda: {"inputs": [{"z.b": 1, "z": {"b": 2}}], "outputs": [1]},
     gantry.ValidationError, "given twice"),
    ("dicts-cycle", lambda: {"inputs": [{"a": 1}, _cycle()], "outputs": [1, 2]},
     gantry.ValidationError, "contains itself"),
    ("dicts-3000-deep", lambda: {"inputs": [_deep(3000)], "outputs": [1]},
     gantry.ValidationError, "levels deep"),
    ("dicts-intenum", lambda: {"inputs": [{"n": 1}, {"n": Big.HUGE}], "outputs": [1, 2]},
     gantry.ValidationError, "64-bit"),
    ("dicts-numpy-2d", lambda: {"inputs": [{"m": np.ones((2, 2))}], "outputs": [1]},
     gantry.ValidationError, "2-dimensional"),
    ("dicts-empty-name", lambda: {"inputs": [{"": 1}], "outputs": [1]},
     gantry.ValidationError, NAME),
    ("polars-empty-column", lambda: {"inputs": pl.DataFrame({"": [1]}), "outputs": [1]},
     gantry.ValidationError, NAME),
    ("polars-300-char-column", lambda: {"inputs": pl.DataFrame({"x" * 300: [1]}),
                                        "outputs": [1]}, gantry.ValidationError, NAME),
    ("polars-nul-column", lambda: {"inputs": pl.DataFrame({"a\x00b": [1]}), "outputs": [1]},
     gantry.ValidationError, NAME),
    ("polars-nul-struct-field", lambda: {"inputs": pl.DataFrame({"s": [{"a\x00": 1}]}),
                                         "outputs": [1]}, gantry.ValidationError, NAME),
    ("polars-struct-clash", lambda: {"inputs": pl.DataFrame({"z.b": [1], "z": [{"b": 2}]}),
                                     "outputs": [1]}, gantry.ValidationError, "given twice"),
    ("polars-series-empty-name-feedback", lambda: {
        "feedbacks": pl.DataFrame({"": [1]}), "join_keys": ["k"]}, gantry.ValidationError, NAME),
    ("pandas-empty-column", lambda: {"inputs": pd.DataFrame({"": [1]}), "outputs": [1]},
     gantry.ValidationError, NAME),
    ("pandas-300-char-column", lambda: {"inputs": pd.DataFrame({"x" * 300: [1]}),
                                        "outputs": [1]}, gantry.ValidationError, NAME),
    ("pandas-surrogate-column", lambda: {
        "inputs": pd.DataFrame([[1]], columns=pd.Index(["\ud800"], dtype=object)),
        "outputs": [1]}, gantry.ValidationError, NAME),
    ("pandas-nul-column", lambda: {"inputs": pd.DataFrame({"a\x00b": [1]}), "outputs": [1]},
     gantry.ValidationError, NAME),
    ("pandas-int-column", lambda: {"inputs": pd.DataFrame({0: [1]}), "outputs": [1]},
     gantry.ValidationError, "column names must be strings"),
    ("pandas-duplicate-columns", lambda: {
        "inputs": pd.DataFrame([[1, 2]], columns=["a", "a"]), "outputs": [1]},
     gantry.ValidationError, "unique"),
    ("pandas-surrogate-value", lambda: {
        "inputs": pd.DataFrame({"s": pd.Series(["\ud800"], dtype=object)}), "outputs": [1]},
     gantry.ValidationError, "could not convert"),
    ("arrow-struct-clash", lambda: {"inputs": _struct_clash_arrow(), "outputs": [1]},
     gantry.ValidationError, r"columns \['z\.b'\] are given twice"),
    ("arrow-empty-column", lambda: {"inputs": pa.table({"": [1]}), "outputs": [1]},
     gantry.ValidationError, NAME),
    ("arrow-300-char-column", lambda: {"inputs": pa.table({"y" * 300: [1]}), "outputs": [1]},
     gantry.ValidationError, NAME),
    ("arrow-duplicate-columns", lambda: {
        "inputs": pa.Table.from_arrays([pa.array([1]), pa.array([2])], names=["a", "a"]),
        "outputs": [1]}, gantry.ValidationError, "unique"),
    ("arrow-empty-struct-field", lambda: {"inputs": pa.table({"s": pa.array([{"": 1}])}),
                                          "outputs": [1]}, gantry.ValidationError, NAME),
    ("arrow-40-deep-struct", lambda: {"inputs": _deep_struct(40), "outputs": [1]},
     gantry.ValidationError, "32 levels deep"),
    ("arrow-uint64-too-big", lambda: {"inputs": pa.table({"n": pa.array([2**64 - 1],
                                                                        pa.uint64())}),
                                      "outputs": [1]}, gantry.ValidationError,
     "cannot be stored as int"),
    ("arrow-record-batch-empty-name", lambda: {
        "inputs": pa.RecordBatch.from_pydict({"": [1]}), "outputs": [1]},
     gantry.ValidationError, NAME),
    ("arrow-timestamp-seconds-overflow", lambda: {
        "inputs": pa.table({"t": pa.array([2**62], pa.timestamp("s"))}), "outputs": [1]},
     gantry.ValidationError, "outside years 1 to 9999"),
    ("arrow-timestamp-list-overflow", lambda: {
        "inputs": pa.table({"t": pa.array([[2**62]], pa.list_(pa.timestamp("ms")))}),
        "outputs": [1]}, gantry.ValidationError, "outside years 1 to 9999"),
    ("arrow-date32-far", lambda: {"inputs": pa.table({"d": pa.array([2**31 - 1], pa.date32())}),
                                  "outputs": [1]}, gantry.ValidationError, "outside years"),
    ("arrow-date64-far", lambda: {"inputs": pa.table({"d": pa.array([2**60], pa.date64())}),
                                  "outputs": [1]}, gantry.ValidationError, "outside years"),
    ("sample-true", lambda: {"inputs": [{"a": 1}], "outputs": [1], "sample_rate": True},
     gantry.ValidationError, "sample_rate"),
    ("sample-nan", lambda: {"inputs": [{"a": 1}], "outputs": [1], "sample_rate": float("nan")},
     gantry.ValidationError, "sample_rate"),
    ("sample-str", lambda: {"inputs": [{"a": 1}], "outputs": [1], "sample_rate": "x"},
     gantry.ValidationError, "sample_rate"),
    ("tiny-sample-bad-row", lambda: {"inputs": [{"a": 1}] * 50 + [{"a": object()}],
                                     "outputs": [1] * 51, "sample_rate": 1e-12},
     gantry.ValidationError, "not supported"),
    ("tiny-sample-bad-frame", lambda: {"inputs": pa.table({"": [1, 2]}), "outputs": [1, 2],
                                       "sample_rate": 1e-12}, gantry.ValidationError, NAME),
    ("tiny-sample-type-clash", lambda: {"inputs": [{"a": 1}, {"a": "x"}], "outputs": [1, 2],
                                        "sample_rate": 1e-12}, gantry.ValidationError,
     "was logged as int"),
    ("timestamps-earliest", lambda: {"inputs": [{"a": 1}], "outputs": [1],
                                     "timestamps": [EARLIEST]}, gantry.ValidationError,
     "years 1 to 9999"),
    ("timestamps-latest", lambda: {"inputs": [{"a": 1}], "outputs": [1],
                                   "timestamps": [LATEST]}, gantry.ValidationError,
     "years 1 to 9999"),
    ("timestamps-str", lambda: {"inputs": [{"a": 1}], "outputs": [1], "timestamps": ["x"]},
     gantry.ValidationError, "timestamps must be datetimes"),
    ("join-keys-surrogate", lambda: {"inputs": [{"a": 1}], "outputs": [1],
                                     "join_keys": ["\ud800"]}, gantry.ValidationError,
     "valid Unicode"),
    ("join-keys-str", lambda: {"inputs": [{"a": 1}], "outputs": [1], "join_keys": "k"},
     gantry.ValidationError, "join_keys must be a list"),
    ("tags-surrogate-value", lambda: {"inputs": [{"a": 1}], "outputs": [1],
                                      "tags": {"env": "\ud800"}}, gantry.ValidationError,
     "lone surrogate"),
    ("tags-per-record-surrogate-name", lambda: {"inputs": [{"a": 1}], "outputs": [1],
                                                "tags": [{"\ud800": "x"}]},
     gantry.ValidationError, NAME),
    ("version-surrogate", lambda: {"inputs": [{"a": 1}], "outputs": [1], "version": "\ud800"},
     gantry.ValidationError, "valid Unicode"),
    ("inputs-dict-not-list", lambda: {"inputs": {"a": 1}, "outputs": [1]},
     gantry.ValidationError, "inputs must be a list"),
    ("inputs-int", lambda: {"inputs": 5, "outputs": [1]}, gantry.ValidationError,
     "inputs must be a list"),
]


@pytest.mark.parametrize(("case", "make", "error", "match"), BAD_MANY,
                         ids=[c[0] for c in BAD_MANY])
def test_log_records_refuses(ws: gantry.Workspace, app: gantry.Application, case: str,
                             make: Callable[[], dict[str, Any]], error: type[Exception],
                             match: str) -> None:
    app.log_records(inputs=[{"a": 1}], outputs=[1])
    before = stored_counts(ws, app.name)
    with pytest.raises(error, match=match):
        app.log_records(**make())
    with pytest.raises(error, match=match):
        ws.log_records(app.name, **make())
    assert stored_counts(ws, app.name) == before


def test_module_log_records_refuses(app: gantry.Application) -> None:
    default = _default_workspace()
    default.create_application(app.name)
    before = stored_counts(default, app.name)
    with pytest.raises(gantry.ValidationError, match=NAME):
        gantry.log_records(app.name, inputs=pl.DataFrame({"a\x00b": [1]}), outputs=[1])
    with pytest.raises(gantry.ValidationError, match="sample_rate"):
        gantry.log_records(app.name, inputs=[{"a": 1}], outputs=[1], sample_rate=True)
    assert stored_counts(default, app.name) == before


# -- legal inputs: a faithful round trip, on the careful path and then the fast path -------------

ROUND_TRIPS: list[tuple[str, Any, Any]] = [
    ("datetime64-ns", np.datetime64("2024-01-02T03:04:05.123456789"),
     datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=timezone.utc)),
    ("datetime64-day", np.datetime64("2024-01-02"), datetime(2024, 1, 2, tzinfo=timezone.utc)),
    ("datetime64-second", np.datetime64("2024-01-02T03:04:05", "s"),
     datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc)),
    ("datetime64-nat", np.datetime64("NaT"), None),
    ("array-int", np.array([1, 2]), [1, 2]),
    ("array-float", np.array([1.5, 2.5], dtype=np.float32), [1.5, 2.5]),
    ("array-str", np.array(["a", "b"]), ["a", "b"]),
    ("array-datetime64-ns", np.array(["2024-01-02T00:00:00.000001001"], dtype="datetime64[ns]"),
     [datetime(2024, 1, 2, 0, 0, 0, 1, tzinfo=timezone.utc)]),
    ("array-0d", np.array(3), 3),
    ("array-empty", np.array([], dtype=np.int64), []),
    ("intenum", Big.SMALL, 5),
    ("strenum", Color.RED, "red"),
    ("longdouble", np.longdouble(1.5), 1.5),
    ("float16", np.float16(0.5), 0.5),
    ("uint64-small", np.uint64(7), 7),
    ("pandas-timestamp-ns", pd.Timestamp("2024-01-02T00:00:00.000001999"),
     datetime(2024, 1, 2, 0, 0, 0, 1, tzinfo=timezone.utc)),
    ("pandas-nat", pd.NaT, None),
    ("aware-datetime", datetime(2024, 1, 2, 5, tzinfo=PLUS5),
     datetime(2024, 1, 2, tzinfo=timezone.utc)),
    ("non-ascii", "café ☕ 𝄞", "café ☕ 𝄞"),
]


@pytest.mark.parametrize(("case", "value", "stored"), ROUND_TRIPS, ids=[c[0] for c in ROUND_TRIPS])
def test_legal_values_round_trip(ws: gantry.Workspace, app: gantry.Application, case: str,
                                 value: Any, stored: Any) -> None:
    app.log_record(inputs={"v": value}, outputs=1, join_key="careful")
    app.log_record(inputs={"v": value}, outputs=1, join_key="again")  # familiar shape now
    app.log_records(inputs=[{"v": value}], outputs=[1], join_keys=["batch"])
    frame = app.query(all_time=True).to_polars()
    got = dict(zip(frame["__join_key"].to_list(), frame["inputs.v"].to_list(), strict=True))
    for key in ("careful", "again", "batch"):
        value_back = got[key]
        if isinstance(value_back, datetime) and value_back.tzinfo is None:
            value_back = value_back.replace(tzinfo=timezone.utc)
        assert value_back == stored, key


def test_numpy_datetime64_timestamp_is_the_record_time(ws: gantry.Workspace,
                                                       app: gantry.Application) -> None:
    app.log_record(inputs={"a": 1}, outputs=1, timestamp=np.datetime64("2024-03-01T12:00:00.5"))
    app.log_records(inputs=[{"a": 2}], outputs=[2],
                    timestamps=[np.datetime64("2024-03-02T00:00:00.000000123", "ns")])
    app.log_records(inputs=[{"a": 3}], outputs=[3],  # an array of them, not nanosecond ints
                    timestamps=np.array(["2024-03-03T00:00:00.000001"], dtype="datetime64[ns]"))
    times = app.query(all_time=True).to_polars()["__time"].to_list()
    assert times == [datetime(2024, 3, 1, 12, 0, 0, 500000, tzinfo=timezone.utc),
                     datetime(2024, 3, 2, tzinfo=timezone.utc),
                     datetime(2024, 3, 3, 0, 0, 0, 1, tzinfo=timezone.utc)]


def test_sample_rate_one_as_int_or_numpy_is_kept(ws: gantry.Workspace,
                                                 app: gantry.Application) -> None:
    app.log_record(inputs={"a": 1}, outputs=1, sample_rate=1)
    app.log_record(inputs={"a": 1}, outputs=1, sample_rate=np.float64(1.0))
    app.log_records(inputs=[{"a": 1}], outputs=[1], sample_rate=np.float32(1.0))
    assert app.query(all_time=True).count() == 3


def test_a_dropped_record_adds_no_columns(ws: gantry.Workspace, app: gantry.Application) -> None:
    before = stored_counts(ws, app.name)
    app.log_record(inputs={"new": 1}, outputs={"fresh": 2}, sample_rate=1e-12)
    app.log_records(inputs=[{"other": 1}] * 20, outputs=[1] * 20, sample_rate=1e-12)
    assert stored_counts(ws, app.name) == before


def test_rows_without_fields_are_stored(ws: gantry.Workspace, app: gantry.Application) -> None:
    app.log_records(inputs=[{"a": 1.5}], outputs=[{}])  # no output fields at all
    app.log_records(inputs=[{"a": 2.5}, {"a": 3.5}], outputs=[{}, {}])
    ws.flush()  # nothing left out
    assert app.query(all_time=True).to_polars()["inputs.a"].to_list() == [1.5, 2.5, 3.5]


def test_version_and_join_key_as_numpy_ints(ws: gantry.Workspace, app: gantry.Application) -> None:
    app.log_record(inputs={"a": 1}, outputs=1, version=np.int64(3), join_key=np.int32(7))
    frame = app.query(all_time=True).to_polars()
    assert frame["__version"].to_list() == ["3"] and frame["__join_key"].to_list() == ["7"]


# -- Workspace and init --------------------------------------------------------------------------

class StrClock:
    def now(self) -> Any:
        return "2024-01-01"


class DateClock:
    def now(self) -> Any:
        return date(2024, 1, 1)


class FailingClock:
    def now(self) -> datetime:
        raise RuntimeError("no time")


class FarClock:
    def now(self) -> datetime:
        return EARLIEST


class NaiveClock:
    def now(self) -> datetime:
        return datetime(2024, 1, 1, 12)


BAD_WORKSPACE: list[tuple[str, dict[str, Any], str]] = [
    ("db-empty", {"db": ""}, "db must be a file path.*':memory:'"),
    ("db-blank", {"db": "   "}, "db must be a file path"),
    ("db-nul", {"db": "a\x00b.duckdb"}, "NUL byte"),
    ("db-surrogate", {"db": "a\ud800.duckdb"}, "lone surrogate"),
    ("db-int", {"db": 5}, "db must be a path"),
    ("db-none", {"db": None}, "db must be a path"),
    ("db-folder", {"db": "FOLDER"}, "is a folder"),
    ("storage-empty", {"storage": ""}, "storage must be"),
    ("storage-nul", {"storage": "a\x00b"}, "storage must be"),
    ("storage-int", {"storage": 5}, "storage must be"),
    ("storage-options-list", {"storage_options": [1]}, "storage_options"),
    ("storage-options-int-key", {"storage_options": {1: 2}}, "storage_options"),
    ("clock-object", {"clock": object()}, "clock must have a now"),
    ("clock-returns-str", {"clock": StrClock()}, r"now\(\) returned str"),
    ("clock-returns-date", {"clock": DateClock()}, r"now\(\) returned date"),
    ("clock-raises", {"clock": FailingClock()}, "no time"),
    ("clock-out-of-range", {"clock": FarClock()}, "years 1 to 9999"),
    ("buffer-size-zero", {"buffer_size": 0}, "buffer_size"),
    ("buffer-size-float", {"buffer_size": 1.5}, "buffer_size"),
    ("buffer-size-bool", {"buffer_size": True}, "buffer_size"),
    ("buffer-size-str", {"buffer_size": "10"}, "buffer_size"),
    ("buffer-timeout-nan", {"buffer_timeout": float("nan")}, "buffer_timeout"),
    ("buffer-timeout-inf", {"buffer_timeout": float("inf")}, "buffer_timeout"),
    ("buffer-timeout-1e300", {"buffer_timeout": 1e300}, "buffer_timeout"),
    ("buffer-timeout-negative", {"buffer_timeout": -1}, "buffer_timeout"),
    ("flush-interval-str", {"flush_interval": "1"}, "flush_interval"),
]


@pytest.mark.parametrize(("case", "kwargs", "match"), BAD_WORKSPACE,
                         ids=[c[0] for c in BAD_WORKSPACE])
def test_workspace_refuses(tmp_path: Path, case: str, kwargs: dict[str, Any], match: str) -> None:
    (tmp_path / "FOLDER").mkdir()
    if kwargs.get("db") == "FOLDER":
        kwargs = {**kwargs, "db": tmp_path / "FOLDER"}
    kwargs.setdefault("db", tmp_path / "w.duckdb")
    with pytest.raises(gantry.ValidationError, match=match):
        gantry.Workspace(**kwargs)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["FOLDER"]  # nothing created


def test_memory_db_stays_the_explicit_in_memory_workspace() -> None:
    with gantry.Workspace(db=":memory:") as ws:
        ws.create_application("m").log_record(inputs={"a": 1}, outputs=1)
        assert ws.query("m").count() == 1


def test_a_naive_clock_is_read_as_utc(tmp_path: Path) -> None:
    with gantry.Workspace(db=tmp_path / "n.duckdb", clock=NaiveClock()) as ws:
        app = ws.create_application("m")
        app.log_record(inputs={"a": 1}, outputs=1)
        app.log_record(inputs={"a": 2}, outputs=1)
        times = app.query(all_time=True).to_polars()["__time"].to_list()
    assert times == [datetime(2024, 1, 1, 12, tzinfo=timezone.utc)] * 2


def test_a_clock_that_goes_bad_later_is_a_clear_error(tmp_path: Path) -> None:
    class Flaky:
        value: Any = datetime(2024, 1, 1)

        def now(self) -> Any:
            return self.value

    clock = Flaky()
    with gantry.Workspace(db=tmp_path / "f.duckdb", clock=clock) as ws:
        app = ws.create_application("m")
        app.log_record(inputs={"a": 1}, outputs=1)
        before = stored_counts(ws, "m")
        clock.value = "soon"
        with pytest.raises(gantry.ValidationError, match=r"now\(\) returned str"):
            app.log_record(inputs={"a": 2}, outputs=1)  # a familiar shape: the hot path
        with pytest.raises(gantry.ValidationError, match=r"now\(\) returned str"):
            app.log_record(inputs={"b": 2}, outputs=1)  # a new shape: the careful path
        with pytest.raises(gantry.ValidationError, match=r"now\(\) returned str"):
            app.log_records(inputs=[{"a": 2}], outputs=[1])
        clock.value = datetime(2024, 1, 2)
        assert stored_counts(ws, "m") == before


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"bogus": 1}, r"unknown options \['bogus'\]"),
    ({"api_key": 5}, "api_key must be str"),
    ({"environment": ["prod"]}, "environment must be str"),
    ({"send_in_background": "yes"}, "send_in_background must be bool"),
    ({"db": ""}, "db must be a file path"),
], ids=["unknown-option", "api-key-int", "environment-list", "send-in-background-str", "db-empty"])
def test_init_refuses(tmp_path: Path, kwargs: dict[str, Any], match: str) -> None:
    kwargs.setdefault("db", tmp_path / "i.duckdb")
    with pytest.raises(gantry.ValidationError, match=match):
        gantry.init(**kwargs)
    assert not (tmp_path / "i.duckdb").exists()


def test_init_accepts_gantrys_service_arguments(tmp_path: Path) -> None:
    with gantry.init(db=tmp_path / "g.duckdb", api_key="key", environment="prod",
                     logging_level="INFO", send_in_background=True) as ws:
        assert ws is gantry.get_workspace()


@pytest.mark.parametrize("timeout", [float("nan"), -1, "1", True, float("inf")],
                         ids=["nan", "negative", "str", "bool", "inf"])
def test_flush_timeout_refused(ws: gantry.Workspace, app: gantry.Application,
                               timeout: Any) -> None:
    with pytest.raises(gantry.ValidationError, match="timeout must be None or a number"):
        ws.flush(timeout)
    with pytest.raises(gantry.ValidationError, match="timeout must be None or a number"):
        app.flush(timeout)


# -- applications ---------------------------------------------------------------------------------

BAD_APPLICATION_CALLS: list[tuple[str, Callable[[gantry.Workspace, str], Any], type[Exception], str]] = [
    ("create-none", lambda ws, name: ws.create_application(None), gantry.ValidationError,
     "must be a string"),
    ("create-empty", lambda ws, name: ws.create_application(""), gantry.ValidationError,
     "must not be empty"),
    ("create-slash", lambda ws, name: ws.create_application("a/b"), gantry.ValidationError,
     "not allowed"),
    ("create-surrogate", lambda ws, name: ws.create_application("\ud800"), gantry.ValidationError,
     "not allowed"),
    ("create-long", lambda ws, name: ws.create_application("a" * 129), gantry.ValidationError,
     "the limit is 128"),
    ("create-dotdot", lambda ws, name: ws.create_application(".."), gantry.ValidationError,
     "not allowed"),
    ("create-type-empty", lambda ws, name: ws.create_application("m2", ""), gantry.ValidationError,
     "application_type"),
    ("create-type-list", lambda ws, name: ws.create_application("m2", ["Custom"]),
     gantry.ValidationError, "application_type"),
    ("create-twice", lambda ws, name: ws.create_application(name), gantry.AlreadyExistsError,
     "already exists"),
    ("get-missing", lambda ws, name: ws.get_application("nope"), gantry.NotFoundError,
     "no application 'nope'"),
    ("get-int", lambda ws, name: ws.get_application(5), gantry.ValidationError, "application must be"),
    ("get-dict", lambda ws, name: ws.get_application({}), gantry.ValidationError,
     "application must be"),
    ("delete-missing", lambda ws, name: ws.delete_application("nope"), gantry.NotFoundError,
     "no application"),
    ("delete-none", lambda ws, name: ws.delete_application(None), gantry.ValidationError,
     "application must be"),
    ("log-missing-app", lambda ws, name: ws.log_record("nope", inputs={"a": 1}, outputs=1),
     gantry.NotFoundError, "no application"),
    ("log-list-app", lambda ws, name: ws.log_record([name], inputs={"a": 1}, outputs=1),
     gantry.ValidationError, "application must be"),
    ("log-records-none-app", lambda ws, name: ws.log_records(None, inputs=[{"a": 1}], outputs=[1]),
     gantry.ValidationError, "application must be"),
    ("query-missing-app", lambda ws, name: ws.query("nope"), gantry.NotFoundError, "no application"),
]


@pytest.mark.parametrize(("case", "call", "error", "match"), BAD_APPLICATION_CALLS,
                         ids=[c[0] for c in BAD_APPLICATION_CALLS])
def test_application_calls_refuse(ws: gantry.Workspace, app: gantry.Application, case: str,
                                  call: Callable[[gantry.Workspace, str], Any], error: type[Exception],
                                  match: str) -> None:
    before = stored_counts(ws, app.name), ws.list_applications()
    with pytest.raises(error, match=match):
        call(ws, app.name)
    assert (stored_counts(ws, app.name), ws.list_applications()) == before


def test_deleted_application_refuses_its_handles(ws: gantry.Workspace) -> None:
    app = ws.create_application("gone")
    app.log_record(inputs={"a": 1}, outputs=1)
    ws.delete_application("gone")
    with pytest.raises(gantry.NotFoundError, match="no application 'gone'"):
        app.log_record(inputs={"a": 1}, outputs=1)
    with pytest.raises(gantry.NotFoundError, match="no application 'gone'"):
        app.log_records(inputs=[{"a": 1}], outputs=[1])
    with pytest.raises(gantry.NotFoundError, match="no application 'gone'"):
        app.query(all_time=True)


# -- queries and filters --------------------------------------------------------------------------

def _filter(**spec: Any) -> dict[str, Any]:
    return {"feature_name": spec.pop("f", "inputs.x"), **spec}


BAD_QUERIES: list[tuple[str, dict[str, Any], str]] = [
    ("start-earliest+05", {"start_time": EARLIEST}, "outside the datetime range"),
    ("end-latest-05", {"end_time": LATEST}, "outside the datetime range"),
    ("start-latest-05", {"start_time": LATEST}, "outside the datetime range"),
    ("start-str", {"start_time": "2024-01-01"}, "start_time must be a datetime"),
    ("start-date", {"start_time": date(2024, 1, 1)}, "start_time must be a datetime"),
    ("start-nat", {"start_time": pd.NaT}, "start_time must be a datetime"),
    ("end-int", {"end_time": 5}, "end_time must be a datetime"),
    ("start-after-end", {"start_time": START + timedelta(1), "end_time": START}, "is after"),
    ("version-float", {"version": 1.5}, "version must be"),
    ("version-surrogate", {"version": "\ud800"}, "valid Unicode"),
    ("tags-list", {"tags": ["env"]}, "tags must be a dict"),
    ("tags-int-value", {"tags": {"env": 1}}, "tags must map"),
    ("tags-int-key", {"tags": {1: "x"}}, "tags must map"),
    ("tags-surrogate-value", {"tags": {"env": "\ud800"}}, "valid Unicode"),
    ("tags-unknown", {"tags": {"nope": "x"}}, "unknown field 'tags.nope'"),
    ("filters-dict", {"filters": {"feature_name": "inputs.x"}}, "filters must be a list"),
    ("filters-str", {"filters": "inputs.x"}, "filters must be a list"),
    ("filter-none", {"filters": [None]}, "each filter must be a dict"),
    ("filter-no-kind", {"filters": [{"feature_name": "inputs.x"}]}, "give one of"),
    ("filter-unknown-kind", {"filters": [_filter(between=1)]}, "unknown keys"),
    ("filter-unknown-field", {"filters": [_filter(f="inputs.nope", null_value=True)]},
     "unknown field"),
    ("filter-field-int", {"filters": [_filter(f=5, null_value=True)]},
     "feature_name must be a string"),
    ("filter-field-list", {"filters": [_filter(f=["x"], null_value=True)]},
     "feature_name must be a string"),
    ("bound-earliest+05", {"filters": [_filter(f="__time", lower_bound=EARLIEST)]},
     "outside the datetime range"),
    ("bound-latest-05", {"filters": [_filter(f="__time", upper_bound=LATEST)]},
     "outside the datetime range"),
    ("bound-nan", {"filters": [_filter(lower_bound=float("nan"))]}, "must not be NaN"),
    ("bound-str", {"filters": [_filter(lower_bound="one")]}, "must be a number or a datetime"),
    ("bound-bool", {"filters": [_filter(upper_bound=True)]}, "must be a number or a datetime"),
    ("bound-inverted", {"filters": [_filter(lower_bound=5, upper_bound=1.0)]},
     "lower_bound is above upper_bound"),
    ("bound-date-on-int", {"filters": [_filter(lower_bound=date(2024, 1, 1))]},
     "holds int values"),
    ("bound-on-str-field", {"filters": [_filter(f="inputs.s", lower_bound=1)]},
     "holds str values"),
    ("bound-int-on-time", {"filters": [_filter(f="__time", lower_bound=5)]},
     "holds datetime values"),
    ("category-not-list", {"filters": [_filter(category_query="a")]},
     "category_query must be a list"),
    ("category-set", {"filters": [_filter(category_query={1})]}, "category_query must be a list"),
    ("category-wrong-type", {"filters": [_filter(category_query=["a"])]}, "holds int values"),
    ("category-dict", {"filters": [_filter(category_query=[{"a": 1}])]},
     "category_query values must be"),
    ("category-surrogate", {"filters": [_filter(f="inputs.s", category_query=["\ud800"])]},
     "valid Unicode"),
    ("category-on-list-field", {"filters": [_filter(f="inputs.l", category_query=[1])]},
     "holds list<int> values"),
    ("string-on-int", {"filters": [_filter(string_query="1")]}, "holds int values"),
    ("string-int", {"filters": [_filter(f="inputs.s", string_query=1)]},
     "string_query must be a string"),
    ("string-surrogate", {"filters": [_filter(f="inputs.s", string_query="\ud800")]},
     "valid Unicode"),
    ("boolean-on-str", {"filters": [_filter(f="inputs.s", boolean_query=True)]}, "holds str values"),
    ("boolean-str", {"filters": [_filter(f="inputs.b", boolean_query="yes")]},
     "must be True or False"),
    ("null-int", {"filters": [_filter(null_value=1)]}, "must be True or False"),
    ("mixed-kinds", {"filters": [_filter(null_value=True, string_query="a")]}, "mixes"),
]


@pytest.mark.parametrize(("case", "kwargs", "match"), BAD_QUERIES, ids=[c[0] for c in BAD_QUERIES])
def test_query_refuses(ws: gantry.Workspace, app: gantry.Application, case: str,
                       kwargs: dict[str, Any], match: str) -> None:
    app.log_record(inputs={"x": 1, "s": "a", "b": True, "l": [1]}, outputs=1,
                   tags={"env": "prod"})
    before = stored_counts(ws, app.name)
    with pytest.raises(gantry.ValidationError, match=match):
        app.query(all_time=not {"start_time", "end_time"} & kwargs.keys(), **kwargs).count()
    with pytest.raises(gantry.ValidationError, match=match):
        ws.query(app.name, **kwargs)
    assert stored_counts(ws, app.name) == before


def test_module_query_refuses(app: gantry.Application) -> None:
    default = _default_workspace()
    default.create_application(app.name)
    with pytest.raises(gantry.ValidationError, match="outside the datetime range"):
        gantry.query(app.name, start_time=EARLIEST)


def test_filters_of_the_right_kind_still_work(ws: gantry.Workspace,
                                              app: gantry.Application) -> None:
    app.log_records(inputs=[{"x": 1, "f": 0.5, "s": "abc", "b": True, "d": date(2024, 1, 2)},
                            {"x": 5, "f": 2.5, "s": "xyz", "b": False, "d": date(2024, 1, 5)}],
                    outputs=[1, 2])
    def count(**spec: Any) -> int:
        return app.query(all_time=True, filters=[_filter(**spec)]).count()

    assert count(lower_bound=np.int64(2)) == 1  # numpy numbers are numbers
    assert count(f="inputs.f", upper_bound=1) == 1  # an int bound on a float field
    assert count(category_query=[1.0, 7]) == 1
    assert count(f="inputs.s", string_query="yz") == 1
    assert count(f="inputs.b", boolean_query=np.True_) == 1
    assert count(f="inputs.d", lower_bound=datetime(2024, 1, 3)) == 1
    assert count(f="__time", lower_bound=START - timedelta(1)) == 2
    assert count(category_query=[None]) == 0
    assert count(lower_bound=float("-inf"), upper_bound=float("inf")) == 2


def test_a_field_without_values_yet_filters_to_nothing(ws: gantry.Workspace,
                                                       app: gantry.Application) -> None:
    app.log_record(inputs={"x": 1, "later": None}, outputs=1)
    assert app.query(all_time=True, filters=[_filter(f="inputs.later", lower_bound=3)]).count() == 0
    assert app.query(all_time=True, filters=[_filter(f="inputs.later", category_query=["a"])]).count() == 0
    assert app.query(all_time=True, filters=[_filter(f="inputs.later", null_value=True)]).count() == 1


# -- Gantry's logging arguments, runs, files, batches, saved queries (issue 14) -------------------

def _batches(ws: gantry.Workspace) -> tuple[int, int, int]:
    with ws.database.cursor() as con:
        return tuple(con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0]  # type: ignore[return-value]
                     for t in ("_gl_batch_keys", "_gl_saved_queries", "_gl_views"))


def _csv(tmp: Path, text: str) -> str:
    path = tmp / "records.csv"
    path.write_text(text)
    return str(path)


BAD_GANTRY_LOGGING: list[tuple[str, Callable[[gantry.Application, Path], Any], type[Exception],
                               str]] = [
    ("record-feedbacks-name", lambda a, t: a.log_record(inputs={"x": 1}, outputs=1,
                                                         feedbacks={"y": 1}),
     gantry.ValidationError, "log_record takes feedback="),
    ("records-feedback-name", lambda a, t: a.log_records(inputs=[{"x": 1}], outputs=[1],
                                                         feedback=[{"y": 1}]),
     gantry.ValidationError, "log_records takes feedbacks="),
    ("record-join-key-and-feedback-id", lambda a, t: a.log_record(
        inputs={"x": 1}, outputs=1, join_key="k", feedback_id="f"),
     gantry.ValidationError, "join_key, or feedback_id"),
    ("record-feedback-id-and-keys", lambda a, t: a.log_record(
        inputs={"x": 1}, outputs=1, feedback_id="f", feedback_keys=["x"]),
     gantry.ValidationError, "feedback_id or feedback_keys, not both"),
    ("record-feedback-id-not-text", lambda a, t: a.log_record(
        inputs={"x": 1}, outputs=1, feedback_id=3),  # type: ignore[arg-type]
     gantry.ValidationError, "feedback_id must be a string or a dict"),
    ("record-feedback-keys-missing", lambda a, t: a.log_record(
        inputs={"x": 1}, outputs=1, feedback_keys=["nope"]),
     gantry.ValidationError, "feedback_keys \\['nope'\\] are not among the inputs"),
    ("record-feedback-keys-a-string", lambda a, t: a.log_record(
        inputs={"x": 1}, outputs=1, feedback_keys="x"),  # type: ignore[arg-type]
     gantry.ValidationError, "feedback_keys must be a list of field names"),
    ("record-feedback-keys-nan", lambda a, t: a.log_record(
        inputs={"x": float("nan")}, outputs=1, feedback_keys=["x"]),
     gantry.ValidationError, "NaN or infinite"),
    ("record-ignore-inputs-not-list", lambda a, t: a.log_record(
        inputs={"x": 1}, outputs=1, ignore_inputs="x"),  # type: ignore[arg-type]
     gantry.ValidationError, "ignore_inputs must be a list"),
    ("records-join-keys-and-feedback-ids", lambda a, t: a.log_records(
        inputs=[{"x": 1}], outputs=[1], join_keys=["k"], feedback_ids=["f"]),
     gantry.ValidationError, "join_keys, or feedback_ids"),
    ("records-row-tags-short", lambda a, t: a.log_records(
        inputs=[{"x": 1}, {"x": 2}], outputs=[1, 2], row_tags=[{"r": "1"}]),
     gantry.ValidationError, "row_tags has 1 entries but there are 2 records"),
    ("records-row-tag-not-text", lambda a, t: a.log_records(
        inputs=[{"x": 1}], outputs=[1], row_tags=[{"r": 1}]),
     gantry.ValidationError, "tag"),
    ("records-global-tags-list", lambda a, t: a.log_records(
        inputs=[{"x": 1}], outputs=[1], global_tags=[{"g": "1"}]),  # type: ignore[arg-type]
     gantry.ValidationError, "global_tags must be a dict"),
    ("records-as-batch-not-bool", lambda a, t: a.log_records(
        inputs=[{"x": 1}], outputs=[1], as_batch="yes"),  # type: ignore[arg-type]
     gantry.ValidationError, "as_batch must be True or False"),
    ("records-sort-not-bool", lambda a, t: a.log_records(
        inputs=[{"x": 1}], outputs=[1], sort_on_timestamp=None),  # type: ignore[arg-type]
     gantry.ValidationError, "sort_on_timestamp must be True or False"),
    ("records-batch-type-clash", lambda a, t: a.log_records(
        inputs=[{"x": 1}, {"x": "a"}], outputs=[1, 2], as_batch=True),
     gantry.ValidationError, "x"),
    ("log-feedback-name", lambda a, t: a.log(inputs=[{"x": 1}], outputs=[1],
                                             feedback=[{"y": 1}]),
     gantry.ValidationError, "log takes feedbacks="),
    ("log-outputs-only", lambda a, t: a.log(outputs=[1]), gantry.ValidationError,
     "need both inputs and outputs"),
    ("run-name-empty", lambda a, t: a.start_run(""), gantry.ValidationError,
     "run's name must be"),
    ("run-tags-not-text", lambda a, t: a.start_run("r", tags={"t": 1}),  # type: ignore[dict-item]
     gantry.ValidationError, "run's tags must be a dict of strings"),
    ("run-bad-log-inside", lambda a, t: _log_in_run(a), gantry.ValidationError, "x"),
    ("get-run-bad-name", lambda a, t: a.get_run(name=3),  # type: ignore[arg-type]
     gantry.ValidationError, "name must be a run name"),
    ("file-missing", lambda a, t: a.log_file(str(t / "nope.csv")), gantry.NotFoundError,
     "no file"),
    ("file-not-a-path", lambda a, t: a.log_file(3),  # type: ignore[arg-type]
     gantry.ValidationError, "filepath must be a path"),
    ("file-bad-sep", lambda a, t: a.log_file(_csv(t, "input.x,output.y\n1,2\n"), sep=";;"),
     gantry.ValidationError, "sep must be one character"),
    ("file-unknown-column", lambda a, t: a.log_file(_csv(t, "input.x,output.y\n1,2\n"),
                                                     inputs=["nope"]),
     gantry.ValidationError, "the file has no columns \\['nope'\\]"),
    ("file-inputs-without-outputs", lambda a, t: a.log_file(_csv(t, "input.x,z\n1,2\n")),
     gantry.ValidationError, "a prediction needs both"),
    ("file-bad-timestamp", lambda a, t: a.log_file(_csv(
        t, "input.x,output.y,timestamp\n1,2,yesterday\n")),
     gantry.ValidationError, "timestamp column 'timestamp'"),
    ("file-broken-parquet", lambda a, t: a.log_file(_csv(t, "PAR1 not really parquet")),
     gantry.ValidationError, "could not read .* as Parquet"),
    ("file-feedback-without-keys", lambda a, t: a.log_file(_csv(t, "feedback.y\n1\n")),
     gantry.ValidationError, "join_keys"),
    ("connector", lambda a, t: a.workspace.log_from_data_connector(a.name, "snowflake"),
     gantry.NotSupportedError, "needs Gantry's hosted service"),
    ("save-query-not-a-frame", lambda a, t: a.save_query("q", "SELECT 1"),
     gantry.ValidationError, "saves a GantryDataFrame"),
    ("save-query-bad-name", lambda a, t: a.save_query("", a.query(RelativeTimeWindow(
        timedelta(days=1)))), gantry.ValidationError, "query name must be"),
    ("get-query-unknown", lambda a, t: a.get_query("nope"), gantry.NotFoundError,
     "no saved query 'nope'"),
    ("archive-unknown", lambda a, t: a.workspace.archive_application("nope"),
     gantry.NotFoundError, "no application 'nope'"),
    ("create-app-none-name", lambda a, t: a.workspace.create_application(None),  # type: ignore[arg-type]
     gantry.ValidationError, "application name"),
]


def _log_in_run(app: gantry.Application) -> Any:
    with app.start_run("r"):
        return app.log(inputs=[{"x": 1}, {"x": "a"}], outputs=[1, 2])


@pytest.mark.parametrize(("case", "call", "error", "match"), BAD_GANTRY_LOGGING,
                         ids=[c[0] for c in BAD_GANTRY_LOGGING])
def test_gantry_logging_calls_refuse(ws: gantry.Workspace, app: gantry.Application,
                                     tmp_path: Path, case: str,
                                     call: Callable[[gantry.Application, Path], Any],
                                     error: type[Exception], match: str) -> None:
    before = stored_counts(ws, app.name), _batches(ws), ws.list_applications()
    with pytest.raises(error, match=match):
        call(app, tmp_path)
    assert (stored_counts(ws, app.name), _batches(ws), ws.list_applications()) == before
