"""Queries: time bounds, versions, tags and Gantry-style filters, all bound as parameters."""

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

import gantry_local as gantry

from .conftest import START


@pytest.fixture
def filled(app: gantry.Application) -> gantry.Application:
    colors = ["red", "blue", "green", "red's", None]
    app.log_records(
        inputs=[{"speed": i, "color": colors[i % 5], "flag": i % 2 == 0, "city": f"san-{i}"}
                for i in range(10)],
        outputs=[i / 10 for i in range(10)],
        timestamps=[START + timedelta(hours=i) for i in range(10)],
        version="v1",
    )
    return app


def test_no_bounds_means_everything_in_time_order(filled: gantry.Application) -> None:
    rows = filled.query(all_time=True).to_polars()
    assert rows["inputs.speed"].to_list() == list(range(10))
    assert filled.query(all_time=True).count() == 10


def test_time_window_is_start_inclusive_end_exclusive(filled: gantry.Application) -> None:
    q = filled.query(start_time=START + timedelta(hours=2), end_time=START + timedelta(hours=5))
    assert q.to_polars()["inputs.speed"].to_list() == [2, 3, 4]
    naive = filled.query(start_time=datetime(2024, 1, 1, 8))
    assert naive.count() == 2
    aware = filled.query(end_time=datetime(2024, 1, 1, 3, tzinfo=timezone(timedelta(hours=2))))
    assert aware.count() == 1


@pytest.mark.parametrize(("spec", "expected"), [
    ({"feature_name": "inputs.speed", "lower_bound": 3, "upper_bound": 5}, [4]),
    ({"feature_name": "inputs.speed", "inclusive_lower_bound": 3, "inclusive_upper_bound": 5},
     [3, 4, 5]),
    ({"feature_name": "inputs.speed", "lower_bound": 8}, [9]),
    ({"feature_name": "inputs.speed", "inclusive_lower_bound": 8}, [8, 9]),
    ({"feature_name": "outputs.value", "upper_bound": 0.15}, [0, 1]),
    ({"feature_name": "inputs.color", "category_query": ["blue", "red's"]}, [1, 3, 6, 8]),
    ({"feature_name": "inputs.color", "category_query": []}, []),
    ({"feature_name": "inputs.city", "string_query": "n-1"}, [1]),
    ({"feature_name": "inputs.color", "null_value": True}, [4, 9]),
    ({"feature_name": "inputs.color", "null_value": False}, [0, 1, 2, 3, 5, 6, 7, 8]),
    ({"feature_name": "inputs.flag", "boolean_query": False}, [1, 3, 5, 7, 9]),
    ({"feature_name": "__time", "inclusive_lower_bound": START + timedelta(hours=9)}, [9]),
    ({"feature_name": "__time", "lower_bound": START + timedelta(hours=8)}, [9]),
])
def test_filters(filled: gantry.Application, spec: dict[str, Any], expected: list[int]) -> None:
    assert filled.query(all_time=True, filters=[spec]).to_polars()["inputs.speed"].to_list() == expected


def test_filters_combine_with_and(filled: gantry.Application) -> None:
    q = filled.query(all_time=True, filters=[{"feature_name": "inputs.speed", "inclusive_lower_bound": 2},
                              {"feature_name": "inputs.flag", "boolean_query": True}], version="v1")
    assert q.to_polars()["inputs.speed"].to_list() == [2, 4, 6, 8]
    assert filled.query(all_time=True, version="v2").count() == 0


def test_injection_attempts_are_values_not_sql(filled: gantry.Application) -> None:
    evil = "red'; DROP TABLE \"records_model\"; --"
    q = filled.query(all_time=True, filters=[{"feature_name": "inputs.color", "category_query": [evil]}])
    assert q.count() == 0
    with pytest.raises(gantry.ValidationError, match="unknown field"):
        filled.query(all_time=True, filters=[{"feature_name": 'inputs.speed" OR 1=1 --',
                                              "null_value": False}])
    assert filled.query(all_time=True).count() == 10


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"filters": [{"feature_name": "inputs.nope", "null_value": True}]}, "known fields are: "),
    ({"filters": [{"feature_name": "inputs.speed"}]}, "give one of"),
    ({"filters": [{"feature_name": "inputs.speed", "weird": 1}]}, "unknown keys"),
    ({"filters": [{"feature_name": "inputs.speed", "lower_bound": "a"}]}, "number or a datetime"),
    ({"filters": [{"feature_name": "inputs.speed", "lower_bound": 5, "upper_bound": 1}]}, "above"),
    ({"filters": [{"feature_name": "inputs.color", "category_query": "red"}]}, "list of values"),
    ({"filters": [{"feature_name": "inputs.city", "string_query": 3}]}, "substring"),
    ({"filters": [{"feature_name": "inputs.flag", "boolean_query": "yes"}]}, "True or False"),
    ({"filters": [{"feature_name": "inputs.flag", "boolean_query": True, "null_value": True}]},
     "one filter per condition"),
    ({"filters": {"feature_name": "inputs.flag"}}, "list of filter dicts"),
    ({"filters": ["inputs.flag"]}, "feature_name"),
    ({"start_time": START + timedelta(days=1), "end_time": START}, "after end_time"),
    ({"start_time": "yesterday"}, "must be a datetime"),
    ({"tags": ["x"]}, "tags must be a dict"),
])
def test_bad_queries_are_rejected(
        filled: gantry.Application, kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(gantry.ValidationError, match=match):
        filled.query(all_time=not {"start_time", "end_time"} & kwargs.keys(), **kwargs)


def test_outputs_arrow_and_pandas(filled: gantry.Application) -> None:
    table = filled.query(all_time=True).to_arrow()
    assert table.num_rows == 10
    assert str(table.schema.field("__time").type) == "timestamp[us, tz=UTC]"
    frame = filled.query(all_time=True).to_pandas()
    assert list(frame["inputs.speed"]) == list(range(10))


def test_query_sees_records_logged_just_before(app: gantry.Application) -> None:
    for i in range(100):
        app.log_record(inputs={"i": i}, outputs=i)
    assert app.query(all_time=True).count() == 100
