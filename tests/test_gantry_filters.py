"""Filter dicts and masks mean what they meant in Gantry SDK 0.6, at every entry point.

The mask table is copied from gantry/query/core/dataframe.py (``GantrySeries.__gt__`` makes
``lower_bound``, ``__ge__`` ``inclusive_lower_bound``, ``__eq__`` on numbers ``equals`` and
on strings ``string_query``, ``__ne__`` on numbers ``not_number_query`` and on strings the
negated ``string_query`` pattern, ``~`` ``boolean_query: False`` ...): our masks build the
same dicts, and a dict means the same whether it came from a mask, ``gquery.query``,
``app.query``, a view or a saved query.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import gantry_local as gantry
import gantry_local.query as gquery
from gantry_local.errors import ValidationError
from gantry_local.query.time_window import TimeWindow

NOW = datetime.datetime(2024, 3, 1, 12, tzinfo=datetime.timezone.utc)
WINDOW = TimeWindow(NOW - datetime.timedelta(days=1), NOW)


@pytest.fixture
def cars(tmp_path: Path) -> Iterator[gantry.Application]:
    """Speeds 0..5, colours red/blue/reddish, a bool, tags; one record per hour."""
    ws = gantry.init(db=tmp_path / "g.duckdb", clock=gantry.ManualClock(NOW))
    app = gantry.create_application("cars")
    colors = ["red", "blue", "reddish", "red", "blue", "red"]
    for i in range(6):
        app.log_record(inputs={"speed": i, "color": colors[i], "fast": i > 3,
                               "weight": i / 2},
                       outputs={"ok": i % 2 == 0}, tags={"env": "prod" if i < 4 else "dev"},
                       timestamp=NOW - datetime.timedelta(hours=6 - i))
    yield app
    ws.close()


def _speeds(frame: Any) -> list[int]:
    return sorted(int(v) for v in frame.fetch()["inputs.speed"])


MASKS: list[tuple[str, Callable[[Any], Any], dict[str, Any]]] = [
    (">", lambda s: s["inputs.speed"] > 3, {"feature_name": "inputs.speed", "lower_bound": 3}),
    (">=", lambda s: s["inputs.speed"] >= 3,
     {"feature_name": "inputs.speed", "inclusive_lower_bound": 3}),
    ("<", lambda s: s["inputs.speed"] < 3, {"feature_name": "inputs.speed", "upper_bound": 3}),
    ("<=", lambda s: s["inputs.speed"] <= 3,
     {"feature_name": "inputs.speed", "inclusive_upper_bound": 3}),
    ("== number", lambda s: s["inputs.speed"] == 3, {"feature_name": "inputs.speed", "equals": 3}),
    ("!= number", lambda s: s["inputs.speed"] != 3,
     {"feature_name": "inputs.speed", "not_number_query": 3}),
    ("== bool", lambda s: s["inputs.fast"] == True,  # noqa: E712
     {"feature_name": "inputs.fast", "boolean_query": True}),
    ("!= bool", lambda s: s["inputs.fast"] != True,  # noqa: E712
     {"feature_name": "inputs.fast", "boolean_query": False}),
    ("~ bool", lambda s: ~s["inputs.fast"], {"feature_name": "inputs.fast", "boolean_query": False}),
    ("== str", lambda s: s["inputs.color"] == "red",
     {"feature_name": "inputs.color", "string_query": "red"}),
    ("!= str", lambda s: s["inputs.color"] != "red",
     {"feature_name": "inputs.color", "string_query": "^(?!(red)$).*$"}),
    ("isin", lambda s: s["inputs.color"].isin(["blue"]),
     {"feature_name": "inputs.color", "category_query": ["blue"]}),
    ("contains", lambda s: s["inputs.color"].contains("dd"),
     {"feature_name": "inputs.color", "string_query": "dd"}),
    ("notnull", lambda s: s["inputs.color"].notnull(),
     {"feature_name": "inputs.color", "null_value": False}),
    ("isnull", lambda s: s["inputs.color"].isna(),
     {"feature_name": "inputs.color", "null_value": True}),
]


@pytest.mark.parametrize(("op", "mask", "expected"), MASKS, ids=[m[0] for m in MASKS])
def test_masks_build_gantrys_filter_dicts(cars: gantry.Application, op: str,
                                          mask: Callable[[Any], Any],
                                          expected: dict[str, Any]) -> None:
    df = cars.query(WINDOW)
    assert df[mask(df)].filters == [expected]


@pytest.mark.parametrize(("mask", "speeds"), [
    (lambda df: df["inputs.speed"] > 3, [4, 5]),
    (lambda df: df["inputs.speed"] >= 3, [3, 4, 5]),
    (lambda df: df["inputs.speed"] < 3, [0, 1, 2]),
    (lambda df: df["inputs.speed"] <= 3, [0, 1, 2, 3]),
    (lambda df: df["inputs.weight"] > 1.5, [4, 5]),  # floats: 1.5 itself is out
    (lambda df: df["inputs.weight"] >= 1.5, [3, 4, 5]),
    (lambda df: (df["inputs.speed"] > 1) & (df["inputs.speed"] < 4), [2, 3]),
    (lambda df: df["inputs.speed"] == 3, [3]),
    (lambda df: df["inputs.speed"] != 3, [0, 1, 2, 4, 5]),
    (lambda df: df["inputs.fast"] == True, [4, 5]),  # noqa: E712
    (lambda df: df["inputs.fast"] != True, [0, 1, 2, 3]),  # noqa: E712
    (lambda df: ~df["inputs.fast"], [0, 1, 2, 3]),
    (lambda df: df["inputs.color"] != "red", [1, 2, 4]),  # "reddish" is not "red"
    (lambda df: df["inputs.color"].isin(["red"]), [0, 3, 5]),
    (lambda df: df["inputs.color"].contains("dd"), [2]),
])
def test_masks_select_as_in_gantry(cars: gantry.Application, mask: Callable[[Any], Any],
                                   speeds: list[int]) -> None:
    df = cars.query(WINDOW)
    assert _speeds(df[mask(df)]) == speeds


def test_str_equality_is_gantrys_string_query(cars: gantry.Application) -> None:
    """Gantry's ``series == "red"`` builds the same dict as ``contains("red")``."""
    df = cars.query(WINDOW)
    assert _speeds(df[df["inputs.color"] == "red"]) == [0, 2, 3, 5]
    assert _speeds(df[df["inputs.color"].isin(["red"])]) == [0, 3, 5]  # the exact match


def test_a_filter_dict_means_the_same_everywhere(cars: gantry.Application) -> None:
    strict = [{"feature_name": "inputs.speed", "lower_bound": 1, "upper_bound": 4}]
    closed = [{"feature_name": "inputs.speed", "inclusive_lower_bound": 1,
               "inclusive_upper_bound": 4}]
    for filters, expected in ((strict, [2, 3]), (closed, [1, 2, 3, 4])):
        assert _speeds(gquery.query("cars", start_time="-1D", filters=filters)) == expected
        assert _speeds(cars.query(WINDOW, filters=filters)) == expected
        assert sorted(cars.query(all_time=True, filters=filters).to_polars()["inputs.speed"]) == expected
        gquery.create_view(f"v{len(expected)}", "cars", start_time=WINDOW.start_time,
                           end_time=WINDOW.end_time, data_filters=filters)
        assert _speeds(gquery.query("cars", view=f"v{len(expected)}")) == expected
        cars.save_query(f"q{len(expected)}", cars.query(WINDOW, filters=filters))
        assert _speeds(cars.get_query(f"q{len(expected)}")) == expected


def test_a_saved_mask_keeps_its_meaning(cars: gantry.Application) -> None:
    df = cars.query(WINDOW)
    cars.save_query("fast", df[df["inputs.speed"] > 3])
    again = cars.get_query("fast")
    assert again.filters == [{"feature_name": "inputs.speed", "lower_bound": 3}]
    assert _speeds(again) == [4, 5]


@pytest.mark.parametrize(("spec", "speeds"), [
    ({"feature_name": "inputs.speed", "equals": 2}, [2]),
    ({"feature_name": "inputs.color", "equals": "red"}, [0, 3, 5]),
    ({"feature_name": "inputs.fast", "equals": False}, [0, 1, 2, 3]),
    ({"feature_name": "inputs.speed", "not_number_query": 2}, [0, 1, 3, 4, 5]),
    ({"feature_name": "env", "dtype": "tag", "category_query": ["dev"]}, [4, 5]),
    ({"feature_name": "env", "dtype": "tag", "equals": "prod"}, [0, 1, 2, 3]),
    ({"feature_name": "inputs.speed", "dtype": "int", "lower_bound": 4}, [5]),  # dtype ignored
    ({"feature_name": "inputs.speed", "lower_bound": 4, "inclusive": True}, [4, 5]),  # stored
    ({"feature_name": "inputs.speed", "lower_bound": 4, "inclusive": False}, [5]),  # earlier
    ({"feature_name": "outputs.ok", "boolean_query": True}, [0, 2, 4]),
])
def test_gantry_filter_kinds(cars: gantry.Application, spec: dict[str, Any],
                             speeds: list[int]) -> None:
    assert _speeds(gquery.query("cars", start_time="-1D", filters=[spec])) == speeds


@pytest.mark.parametrize(("make", "message"), [
    (lambda df: df["inputs.color"] > "a", r"> works on int, float, datetime, date series"),
    (lambda df: df["inputs.speed"].isin([1]), r"isin works on str, uuid, tag series"),
    (lambda df: df["inputs.speed"].contains("1"), r"contains works on str, uuid, tag series"),
    (lambda df: ~df["inputs.speed"], r"~series works on bool series"),
    (lambda df: df["inputs.fast"] == 1, r"cannot compare 'inputs.fast' \(bool values\)"),
    (lambda df: df["inputs.speed"] == "3", r"cannot compare 'inputs.speed' \(int values\)"),
    (lambda df: df["inputs.speed"] == True, r"cannot compare 'inputs.speed'"),  # noqa: E712
    (lambda df: df["inputs.color"].contains(3), r"contains takes a string"),
])
def test_masks_refuse_what_gantry_refused(cars: gantry.Application,
                                          make: Callable[[Any], Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        make(cars.query(WINDOW))


def test_create_view_docstring_example_with_text_bounds(cars: gantry.Application) -> None:
    """gantry/query/client.py ``create_view``'s example writes its bounds as strings."""
    gquery.create_view(
        name="middle",
        application="cars",
        start_time=WINDOW.start_time,
        end_time=WINDOW.end_time,
        data_filters=[
            {
                'feature_name': 'inputs.speed',
                'lower_bound': '1',
                'upper_bound': '4',
            }
        ],
    )
    assert _speeds(gquery.query("cars", view="middle")) == [2, 3]
    since = (NOW - datetime.timedelta(hours=3)).isoformat()
    later = gquery.query("cars", start_time="-1D",
                         filters=[{"feature_name": "__time", "lower_bound": since}])
    assert _speeds(later) == [4, 5]
    with pytest.raises(ValidationError, match="must be a number or a datetime"):
        gquery.query("cars", filters=[{"feature_name": "inputs.speed", "lower_bound": "1e"}])
