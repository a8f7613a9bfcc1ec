"""Logging: Gantry's validation rules, value types, frames, tags, versions, timestamps, sampling."""

from datetime import date, datetime, timedelta, timezone
from typing import Any

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

import gantry_local as gantry

from .conftest import START, stored_counts

# Each case: (kwargs for log_record, match) -- every one must store nothing.
BAD_SINGLE: list[tuple[dict[str, Any], str]] = [
    ({"inputs": {"a": 1}}, "needs both inputs and outputs"),
    ({"outputs": 1}, "needs both inputs and outputs"),
    ({}, "nothing to log"),
    ({"feedback": {"ok": True}}, "join_key"),
    ({"feedback": {"ok": True}, "join_key": "k", "tags": {"a": "b"}}, "tags describe predictions"),
    ({"inputs": [1, 2], "outputs": 1}, "inputs must be a dict"),
    ({"inputs": {"a": 1}, "outputs": 1, "tags": {"env": 3}}, "tag 'env' must be a string"),
    ({"inputs": {"a": 1}, "outputs": 1, "tags": ["x"]}, "tags must be a dict"),
    ({"inputs": {"a": object()}, "outputs": 1}, "not supported"),
    ({"inputs": {"a": [1, "x"]}, "outputs": 1}, "mixes int and str"),
    ({"inputs": {"a": [[1]]}, "outputs": 1}, "only scalars"),
    ({"inputs": {"": 1}, "outputs": 1}, "field name"),
    ({"inputs": {1: 1}, "outputs": 1}, "field names must be strings"),
    ({"inputs": {"a": 1}, "outputs": 1, "version": 1.5}, "version must be"),
    ({"inputs": {"a": 1}, "outputs": 1, "version": True}, "version must be"),
    ({"inputs": {"a": 1}, "outputs": 1, "join_key": 3.5}, "join keys must be strings"),
    ({"inputs": {"a": 1}, "outputs": 1, "join_key": ""}, "join keys must be 1 to"),
    ({"inputs": {"a": 1}, "outputs": 1, "timestamp": "2024-01-01"}, "timestamps must be datetimes"),
    ({"inputs": {"a": 1}, "outputs": 1, "timestamp": date(2024, 1, 1)}, "must be datetimes"),
    ({"inputs": {"a": 1}, "outputs": 1, "sample_rate": 0}, "sample_rate"),
    ({"inputs": {"a": 1}, "outputs": 1, "sample_rate": 1.5}, "sample_rate"),
    ({"inputs": {"a": 1}, "outputs": 1, "sample_rate": float("nan")}, "sample_rate"),
]


@pytest.mark.parametrize(("kwargs", "match"), BAD_SINGLE)
def test_bad_single_record_is_rejected_and_stores_nothing(
        ws: gantry.Workspace, app: gantry.Application, kwargs: dict[str, Any], match: str) -> None:
    app.log_record(inputs={"a": 1}, outputs=1)
    before = stored_counts(ws)
    with pytest.raises(gantry.ValidationError, match=match):
        app.log_record(**kwargs)
    assert stored_counts(ws) == before


BAD_MANY: list[tuple[dict[str, Any], str]] = [
    ({"inputs": [{"a": 1}, {"a": 2}], "outputs": [1]}, "one entry per record"),
    ({"inputs": [{"a": 1}]}, "need both inputs and outputs"),
    ({"feedbacks": [{"ok": 1}]}, "join_keys"),
    ({"feedbacks": [{"ok": 1}], "join_keys": ["a", "b"]}, "join_keys has 2 entries"),
    ({"inputs": [{"a": 1}], "outputs": [1], "timestamps": [START, START]}, "timestamps has 2"),
    ({"inputs": [{"a": 1}], "outputs": [1], "tags": [{"x": "1"}, {"x": "2"}]}, "tags has 2"),
    ({"inputs": [{"a": 1}], "outputs": [1], "tags": ["x"]}, "tags\\[0\\] must be a dict"),
    ({"inputs": [{"a": 1}, 5], "outputs": [1, 2]}, "inputs\\[1\\] must be a dict"),
    ({"inputs": {"a": 1}, "outputs": [1]}, "must be a list"),
    ({"inputs": [{"a": 1}, {"a": "x"}], "outputs": [1, 2]}, "'inputs.a' was logged as int and is now str"),
    ({"inputs": [{"new": 1}, {"new": True}], "outputs": [1, 2]}, "'inputs.new' was logged as int"),
    ({"inputs": pl.DataFrame({"a": ["x"]}), "outputs": [1]}, "'inputs.a' was logged as int"),
    ({"inputs": pl.DataFrame({"d": [pa.scalar(1).as_py()]}).with_columns(
        pl.col("d").cast(pl.Decimal(10, 2))), "outputs": [1]}, "not supported"),
    ({"inputs": [{"a": 1}], "outputs": [1], "join_keys": [None]}, "join keys must be strings"),
]


@pytest.mark.parametrize(("kwargs", "match"), BAD_MANY)
def test_bad_batch_is_rejected_whole(
        ws: gantry.Workspace, app: gantry.Application, kwargs: dict[str, Any], match: str) -> None:
    app.log_record(inputs={"a": 1}, outputs=1)
    before = stored_counts(ws)
    with pytest.raises(gantry.ValidationError, match=match):
        app.log_records(**kwargs)
    assert stored_counts(ws) == before


def test_type_clash_names_field_and_both_types(app: gantry.Application) -> None:
    app.log_record(inputs={"speed": 3}, outputs=1)
    with pytest.raises(gantry.ValidationError) as info:
        app.log_record(inputs={"speed": "fast"}, outputs=1)
    assert "inputs.speed" in str(info.value)
    assert "int" in str(info.value) and "str" in str(info.value)


def test_int_widens_to_float_but_not_back(app: gantry.Application) -> None:
    app.log_record(inputs={"x": 1, "l": [1, 2]}, outputs=1)
    app.log_record(inputs={"x": 2.5, "l": [0.5]}, outputs=2.5)
    app.log_record(inputs={"x": 3, "l": [3]}, outputs=3)
    rows = app.query(all_time=True).to_polars()
    assert rows["inputs.x"].dtype == pl.Float64
    assert rows["inputs.x"].to_list() == [1.0, 2.5, 3.0]
    assert rows["inputs.l"].to_list() == [[1.0, 2.0], [0.5], [3.0]]
    assert rows["outputs.value"].to_list() == [1.0, 2.5, 3.0]


def test_scalar_and_list_outputs_are_stored_as_value(app: gantry.Application) -> None:
    app.log_record(inputs={"q": "a"}, outputs="yes")
    app.log_records(inputs=[{"q": "b"}, {"q": "c"}], outputs=["no", None])
    assert app.query(all_time=True).to_polars()["outputs.value"].to_list() == ["yes", "no", None]


def test_nested_dicts_flatten_and_none_fields_exist(app: gantry.Application) -> None:
    app.log_record(inputs={"user": {"geo": {"lat": 1.5}, "id": "u1"}, "missing": None},
                   outputs={"p": {"cat": 0.1}})
    rows = app.query(all_time=True).to_polars()
    assert rows["inputs.user.geo.lat"].to_list() == [1.5]
    assert rows["inputs.user.id"].to_list() == ["u1"]
    assert rows["outputs.p.cat"].to_list() == [0.1]
    assert rows["inputs.missing"].to_list() == [None]
    app.log_record(inputs={"missing": 7}, outputs={"p": {"cat": 0.2}})  # null widens to int
    assert app.query(all_time=True).to_polars()["inputs.missing"].to_list() == [None, 7]


def test_versions_are_strings_and_int_equals_str(app: gantry.Application) -> None:
    app.log_record(inputs={"a": 1}, outputs=1, version=10)
    app.log_record(inputs={"a": 2}, outputs=1, version="10")
    app.log_record(inputs={"a": 3}, outputs=1, version="v2")
    assert app.query(all_time=True, version=10).count() == 2
    assert app.query(all_time=True, version="10").count() == 2
    assert app.query(all_time=True).to_polars()["__version"].to_list() == ["10", "10", "v2"]


def test_tags_for_the_call_or_per_record(app: gantry.Application) -> None:
    app.log_records(inputs=[{"a": 1}, {"a": 2}], outputs=[0, 0], tags={"env": "prod"})
    app.log_records(inputs=[{"a": 3}, {"a": 4}], outputs=[0, 0],
                    tags=[{"env": "dev"}, {"env": "prod", "region": "eu"}])
    assert app.query(all_time=True, tags={"env": "prod"}).count() == 3
    eu = app.query(all_time=True, tags={"env": "prod", "region": "eu"}).to_polars()
    assert eu["inputs.a"].to_list() == [4]
    with pytest.raises(gantry.ValidationError, match=r"unknown field 'tags\.nope'"):
        app.query(all_time=True, tags={"nope": "x"})


def test_timestamps_default_to_the_clock_naive_is_utc_aware_is_converted(
        app: gantry.Application, clock: gantry.ManualClock) -> None:
    clock.set(datetime(2024, 3, 1, 12))
    app.log_record(inputs={"a": 1}, outputs=1)
    app.log_record(inputs={"a": 2}, outputs=1, timestamp=datetime(2024, 3, 1, 13))
    app.log_record(inputs={"a": 3}, outputs=1,
                   timestamp=datetime(2024, 3, 1, 16, tzinfo=timezone(timedelta(hours=2))))
    times = app.query(all_time=True).to_polars()["__time"].to_list()
    assert times == [datetime(2024, 3, 1, h, tzinfo=timezone.utc) for h in (12, 13, 14)]


def test_value_types_round_trip(app: gantry.Application) -> None:
    record = {"b": True, "i": -3, "f": float("inf"), "n": float("nan"), "s": "héllo",
              "t": datetime(2020, 5, 6, 7, 8, 9, 123456), "d": date(2021, 2, 3),
              "l": ["a", None, "c"], "none": None}
    app.log_record(inputs=record, outputs=1)
    row = app.query(all_time=True).to_polars().row(0, named=True)
    assert row["inputs.b"] is True and row["inputs.i"] == -3 and row["inputs.f"] == float("inf")
    assert row["inputs.n"] != row["inputs.n"]
    assert row["inputs.t"] == datetime(2020, 5, 6, 7, 8, 9, 123456, tzinfo=timezone.utc)
    assert row["inputs.d"] == date(2021, 2, 3)
    assert row["inputs.l"] == ["a", None, "c"] and row["inputs.none"] is None


def test_numpy_scalars_are_accepted(app: gantry.Application) -> None:
    import numpy as np

    app.log_record(inputs={"a": np.int64(4), "b": np.float32(0.5), "c": np.bool_(True)},
                   outputs=np.float64(0.25))
    row = app.query(all_time=True).to_polars().row(0, named=True)
    assert (row["inputs.a"], row["inputs.b"], row["inputs.c"], row["outputs.value"]) == (
        4, 0.5, True, 0.25)


@pytest.mark.parametrize("kind", ["polars", "pandas", "arrow"])
def test_frames_are_accepted(app: gantry.Application, kind: str) -> None:
    data = {"x": [1, 2, 3], "name": ["a", "b", None], "score": [0.5, float("nan"), 1.0],
            "when": [datetime(2024, 1, 1), datetime(2024, 1, 2), datetime(2024, 1, 3)]}
    outputs = {"label": [True, False, True]}
    convert = {"polars": pl.DataFrame, "pandas": pd.DataFrame, "arrow": pa.table}[kind]
    _, keys = app.log_records(inputs=convert(data), outputs=convert(outputs), version=2,
                           tags={"src": kind})
    assert len(keys) == len(set(keys)) == 3
    rows = app.query(all_time=True).to_polars()
    assert rows["inputs.x"].to_list() == [1, 2, 3]
    assert rows["inputs.name"].to_list() == ["a", "b", None]
    assert rows["outputs.label"].to_list() == [True, False, True]
    assert rows["inputs.when"].to_list()[0] == datetime(2024, 1, 1, tzinfo=timezone.utc)
    assert rows["tags.src"].to_list() == [kind] * 3


def test_frame_structs_flatten_and_mix_with_dict_rows(app: gantry.Application) -> None:
    frame = pl.DataFrame({"geo": [{"lat": 1.0, "lon": 2.0}, {"lat": 3.0, "lon": 4.0}],
                          "cat": pl.Series(["x", "y"], dtype=pl.Categorical)})
    app.log_records(inputs=frame, outputs=[0.1, 0.2], feedbacks=[{"y": 1}, {"y": 0}])
    rows = app.query(all_time=True).to_polars()
    assert rows["inputs.geo.lat"].to_list() == [1.0, 3.0]
    assert rows["inputs.cat"].to_list() == ["x", "y"]
    assert rows["feedback.y"].to_list() == [1, 0]


def test_polars_series_as_outputs(app: gantry.Application) -> None:
    app.log_records(inputs=[{"a": 1}, {"a": 2}], outputs=pl.Series([0.5, 0.7]))
    assert app.query(all_time=True).to_polars()["outputs.value"].to_list() == [0.5, 0.7]


def test_sample_rate_keeps_about_that_share(app: gantry.Application) -> None:
    _, keys = app.log_records(inputs=[{"a": i} for i in range(4000)], outputs=[0] * 4000,
                              sample_rate=0.25)
    kept = app.query(all_time=True).count()
    assert 800 < kept < 1200  # binomial(4000, .25): sd ~27, so this cannot flake
    assert sorted(keys) == sorted(app.query(all_time=True).to_polars()["__join_key"].to_list())  # Gantry's
    returned = [app.log_record(inputs={"a": 1}, outputs=0, sample_rate=0.5) for _ in range(400)]
    assert 800 + 120 < app.query(all_time=True).count() < 1200 + 280
    assert app.query(all_time=True).count() - kept == len([k for k in returned if k is not None])


def test_log_accepts_a_single_dict_and_returns_keys(app: gantry.Application) -> None:
    _, [key] = app.log(inputs={"a": 1}, outputs=2, join_keys="k-1")
    assert key == "k-1"
    _, keys = app.log(inputs=[{"a": 2}], outputs=[3])
    assert len(keys) == 1
    assert app.query(all_time=True).count() == 2


def test_explicit_join_keys_are_kept(app: gantry.Application) -> None:
    assert app.log_record(inputs={"a": 1}, outputs=1, join_key="order-17") == "order-17"
    assert app.log_records(inputs=[{"a": 1}], outputs=[1], join_keys=[42]) == (None, ["42"])
    assert sorted(app.query(all_time=True).to_polars()["__join_key"].to_list()) == ["42", "order-17"]


def test_generated_join_keys_are_unique(app: gantry.Application) -> None:
    _, keys = app.log_records(inputs=[{"a": 1}] * 5000, outputs=[1] * 5000)
    key = app.log_record(inputs={"a": 1}, outputs=1)
    assert key is not None
    keys.append(key)
    assert len(set(keys)) == len(keys)


def test_batches_with_uneven_fields_and_new_typed_columns(app: gantry.Application) -> None:
    app.log_records(inputs=[{"a": 1, "b": "x"}, {"a": 2.5}, {"c": None, "a": 3}],
                    outputs=[{"o": True}, {"o": False}, {"o": None}])
    rows = app.query(all_time=True).to_polars()
    assert rows["inputs.a"].to_list() == [1.0, 2.5, 3.0]
    assert rows["inputs.b"].to_list() == ["x", None, None]
    assert rows["inputs.c"].to_list() == [None, None, None]
    app.log_records(inputs=[{"n": None, "m": 1}, {"n": None, "m": 2.0}], outputs=[{"o": True}] * 2)
    rows = app.query(all_time=True).to_polars()
    assert rows["inputs.m"].dtype == pl.Float64 and rows["inputs.n"].null_count() == 5
    with pytest.raises(gantry.ValidationError, match=r"'inputs\.b' was logged as str"):
        app.log_records(inputs=[{"a": 1, "b": 3}, {"a": 1, "b": 4}], outputs=[{"o": True}] * 2)


def test_empty_batches_log_nothing(app: gantry.Application) -> None:
    assert app.log_records(inputs=[], outputs=[]) == (None, [])
    assert app.log_records(inputs=pl.DataFrame({"x": []}),
                           outputs=pl.DataFrame({"y": []})) == (None, [])
    assert app.query(all_time=True).count() == 0


def _optional_fields(n: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """Record `n` with a different subset (and order) of optional fields than its neighbours."""
    inputs: dict[str, Any] = {"n": n}
    for bit, name in enumerate(("a", "b", "c", "d")):
        if n >> bit & 1:
            inputs[name] = n * 10 + bit
    if n % 3 == 0:
        inputs = dict(reversed(inputs.items()))
    return inputs, ({"p": n / 2} if n % 2 else {"p": n / 2, "q": str(n)})


def _check_optional_fields(app: gantry.Application, count: int) -> None:
    rows = app.query(all_time=True).to_polars().sort("inputs.n")
    assert rows["inputs.n"].to_list() == list(range(count))
    for bit, name in enumerate(("a", "b", "c", "d")):
        assert rows[f"inputs.{name}"].to_list() == [
            n * 10 + bit if n >> bit & 1 else None for n in range(count)]
    assert rows["outputs.p"].to_list() == [n / 2 for n in range(count)]
    assert rows["outputs.q"].to_list() == [None if n % 2 else str(n) for n in range(count)]


def test_single_records_with_optional_fields_in_any_order(app: gantry.Application) -> None:
    # 32 layouts in one flush: past the few one table each is built for (dict rows instead)
    for n in range(64):
        app.log_record(inputs=_optional_fields(n)[0], outputs=_optional_fields(n)[1])
    _check_optional_fields(app, 64)


def test_few_layouts_per_flush_each_get_their_own_table(app: gantry.Application) -> None:
    for n in range(64):
        app.log_record(inputs=_optional_fields(n)[0], outputs=_optional_fields(n)[1])
        if n % 4 == 3:
            app.workspace.flush()
    _check_optional_fields(app, 64)


def test_past_the_layout_limit_records_are_padded_not_refused(
        app: gantry.Application, monkeypatch: pytest.MonkeyPatch) -> None:
    from gantry_local.records import _single as _logger

    monkeypatch.setattr(_logger, "_MAX_LAYOUTS", 3)
    for n in range(64):
        app.log_record(inputs=_optional_fields(n)[0], outputs=_optional_fields(n)[1])
    state = app.workspace._apps[app.name]
    assert len(state.layouts) < 16  # 3, then one padded layout per set of known columns
    _check_optional_fields(app, 64)


def test_tags_and_feedback_with_single_predictions(app: gantry.Application) -> None:
    first = app.log_record(inputs={"x": 1}, outputs=1, tags={"env": "prod"})
    second = app.log_record(inputs={"x": 2}, outputs=2, feedback={"ok": True})
    third = app.log_record(inputs={"x": 3}, outputs=3, tags={"env": "dev"}, feedback={"ok": False})
    app.log_record(feedback={"ok": False}, join_key=second)  # later feedback wins
    rows = app.query(all_time=True).to_polars().sort("inputs.x")
    assert rows["__join_key"].to_list() == [first, second, third]
    assert rows["tags.env"].to_list() == ["prod", None, "dev"]
    assert rows["feedback.ok"].to_list() == [None, False, False]


def test_ints_beyond_64_bits_are_rejected_on_every_path(app: gantry.Application) -> None:
    too_big = 2**63
    key = app.log_record(inputs={"a": 1, "f": 0.5}, outputs=1, feedback={"n": 1})  # shapes known
    before = stored_counts(app.workspace)
    calls: list[tuple[str, dict[str, Any]]] = [
        ("log_record", {"inputs": {"a": too_big, "f": 0.5}, "outputs": 1}),  # familiar shape
        ("log_record", {"inputs": {"a": 1, "f": -too_big - 1}, "outputs": 1}),  # int in a float
        ("log_record", {"inputs": {"a": 1, "f": 0.5}, "outputs": {"value": too_big}}),
        ("log_record", {"inputs": {"new": too_big}, "outputs": 1}),  # careful path
        ("log_record", {"inputs": {"a": 1, "l": [1, too_big]}, "outputs": 1}),
        ("log_record", {"feedback": {"n": too_big}, "join_key": key}),
        ("log_records", {"inputs": [{"a": 1}, {"a": too_big}], "outputs": [1, 2]}),
        ("log_records", {"inputs": [{"a": None}, {"a": too_big}], "outputs": [1, 2]}),
        ("log_records", {"inputs": [{"a": 1.5}, {"a": too_big}], "outputs": [1, 2]}),
        ("log_records", {"feedbacks": [{"n": too_big}], "join_keys": [key]}),
    ]
    for method, kwargs in calls:
        with pytest.raises(gantry.ValidationError, match="does not fit a 64-bit integer"):
            getattr(app, method)(**kwargs)
    assert stored_counts(app.workspace) == before
    app.log_record(inputs={"a": too_big - 1, "f": 0.5}, outputs=-too_big)  # the edges fit
    assert app.query(all_time=True).to_polars()["inputs.a"].to_list() == [1, too_big - 1]


def test_ints_beyond_2_53_in_a_float_field_are_stored_as_floats(app: gantry.Application,
                                                                 ws: gantry.Workspace) -> None:
    big = 2**60 + 1  # fits 64 bits, but no double holds it exactly: pyarrow refuses it for float64
    app.log_record(inputs={"x": 1.5}, outputs=1.0, feedback={"y": 0.5})
    app.log_record(inputs={"x": big}, outputs=big, feedback={"y": big})
    app.log_records(inputs=[{"x": big}, {"x": 0.5}], outputs=[big, 2.0], feedbacks=[{"y": big}, {"y": 1}])
    ws.flush()
    frame = app.query(all_time=True).to_polars()
    assert sorted(frame["inputs.x"].to_list()) == [0.5, 1.5, float(big), float(big)]
    assert sorted(frame["outputs.value"].to_list()) == [1.0, 2.0, float(big), float(big)]
    assert sorted(frame["feedback.y"].drop_nulls().to_list()) == [0.5, 1.0, float(big), float(big)]
