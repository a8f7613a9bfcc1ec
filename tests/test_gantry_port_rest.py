"""The last Gantry SDK 0.6 names of issue 14, from the SDK's source and its own tests.

``GantrySeries.pdf()``/``cdf()`` (gantry/query/core/dataframe.py), ``JoinKey``
(gantry/logger/utils.py, exported as ``gantry.JoinKey``; the hashes below are Gantry's test
vectors), ``get_client``/``setup_logger`` (gantry/logger/main.py), ``fill_prompt``
(gantry/applications/llm_utils.py; the table is Gantry's tests/applications/test_llm_utils.py)
and ``ChatApplication`` (gantry/applications/llm.py, what ``create_application(name, "Chat")``
returns).
"""

from __future__ import annotations

import datetime
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import gantry_local as gantry
import gantry_local.query as gquery
from gantry_local.llm import ChatApplication
from gantry_local.llm_utils import _get_prompt_inputs, fill_prompt

NOW = datetime.datetime(2024, 3, 1, 12, tzinfo=datetime.timezone.utc)


@pytest.fixture
def default(tmp_path: Path) -> Iterator[gantry.Workspace]:
    ws = gantry.init(api_key="foobar", db=tmp_path / "g.duckdb", clock=gantry.ManualClock(NOW))
    yield ws
    ws.close()


@pytest.fixture
def speeds(default: gantry.Workspace) -> gantry.Application:
    app = gantry.create_application("cars")
    for i, speed in enumerate([0, 1, 1, 2, 2, 2, 3, 3, 3, 10]):
        app.log_record(inputs={"speed": speed, "color": "red" if i < 6 else "blue",
                               "fast": speed > 2},
                       outputs={"ok": True}, timestamp=NOW - datetime.timedelta(hours=i + 1))
    app.log_record(inputs={"speed": None, "color": None}, outputs={"ok": False},
                   timestamp=NOW - datetime.timedelta(minutes=5))
    return app


# -- pdf and cdf ---------------------------------------------------------------------------------

def test_pdf_of_numbers_is_a_density_per_bin(speeds: gantry.Application) -> None:
    pdf = gquery.query("cars")["inputs.speed"].pdf()
    assert isinstance(pdf, pd.DataFrame)
    assert list(pdf.columns) == ["bin_start", "bin_end", "count", "pdf"]
    assert len(pdf) == 5  # five distinct values: five equal bins over [0, 10]
    assert pdf["bin_start"].tolist() == [0.0, 2.0, 4.0, 6.0, 8.0]
    assert pdf["bin_end"].tolist() == [2.0, 4.0, 6.0, 8.0, 10.0]
    assert pdf["count"].tolist() == [3, 6, 0, 0, 1]  # the null left out; 10 in the last bin
    widths = pdf["bin_end"] - pdf["bin_start"]
    assert (pdf["pdf"] * widths).sum() == pytest.approx(1.0)


def test_cdf_of_numbers_rises_to_one(speeds: gantry.Application) -> None:
    cdf = gquery.query("cars")["inputs.speed"].cdf()
    assert list(cdf.columns) == ["value", "cdf"]
    assert cdf["value"].tolist() == [2.0, 4.0, 6.0, 8.0, 10.0]
    assert cdf["cdf"].tolist() == pytest.approx([0.3, 0.9, 0.9, 0.9, 1.0])


def test_pdf_and_cdf_of_categories_and_masks(speeds: gantry.Application) -> None:
    df = gquery.query("cars")
    pdf = df["inputs.color"].pdf()
    assert pdf.to_dict("records") == [{"value": "blue", "count": 4, "pdf": 0.4},
                                      {"value": "red", "count": 6, "pdf": 0.6}]
    assert df["inputs.fast"].cdf()["cdf"].tolist() == pytest.approx([0.6, 1.0])
    narrowed = df[df["inputs.speed"] < 3]["inputs.speed"].pdf()  # a mask narrows it
    assert narrowed["count"].sum() == 6


def test_pdf_of_one_value_and_of_nothing(speeds: gantry.Application) -> None:
    df = gquery.query("cars")
    one = df[df["inputs.speed"] == 10]["inputs.speed"].pdf()
    assert one.to_dict("records") == [{"bin_start": 10.0, "bin_end": 10.0, "count": 1,
                                       "pdf": 1.0}]
    empty = df[df["inputs.speed"] > 100]["inputs.speed"].cdf()
    assert empty.empty and list(empty.columns) == ["value", "cdf"]


# -- JoinKey --------------------------------------------------------------------------------------

@pytest.mark.parametrize(("dict_", "expected"), [  # Gantry's tests/logger/test_utils.py
    ({"foo": "bar", "bar": "baz"}, "44258089824ec9db73fd592f418fbea1"),
    ({"bar": "baz", "foo": "bar"}, "44258089824ec9db73fd592f418fbea1"),
    ({"foo": "bar", "bar": 10}, "01debdea5ba523b44164d202fbbe42da"),
    ({"bar": None, "foo": "bar"}, "ade3188c2cfeae4234e0b7b042b74c35"),
    ({"foo": True, "bar": 10.4321}, "294ca280f5485b49fec1247e5b45d644"),
    ({"bar": [1, 2, 3], "foo": {"another": "dict"}}, "152874e4c1db6061d5a45ee38c3eace0"),
])
def test_join_key_from_dict(dict_: dict[str, Any], expected: str) -> None:
    assert gantry.JoinKey.from_dict(dict_) == expected


@pytest.mark.parametrize("dict_", [None, True, 10, "something"])
def test_join_key_from_dict_error(dict_: Any) -> None:
    with pytest.raises(TypeError):
        gantry.JoinKey.from_dict(dict_)
    with pytest.raises(gantry.ValidationError):
        gantry.JoinKey.from_dict(dict_)


def test_logging_takes_join_keys(speeds: gantry.Application) -> None:
    key = gantry.JoinKey.from_dict({"user": 7, "request": "a"})
    assert gantry.log_record("cars", inputs={"speed": 5}, outputs={"ok": True},
                             join_key=key) == key
    gantry.log_record("cars", feedback={"label": 1}, join_key=gantry.JoinKey(key))
    typed = gantry.JoinKey("typed-key")
    _, keys = gantry.log_records("cars", inputs=[{"speed": 6}], outputs=[{"ok": False}],
                                 join_keys=[typed])
    assert keys == ["typed-key"] and type(keys[0]) is str
    # a feedback_id dict hashes its values, not the dict (Gantry's test vector)
    assert gantry.log_record("cars", inputs={"speed": 7}, outputs={"ok": True},
                             feedback_id={"foo": "bar"}) == "42a5b7b99b3717d1eaeb72a6948dabc9"
    frame = speeds.query(all_time=True).to_polars()
    assert frame.filter(frame["__join_key"] == key)["feedback.label"].to_list() == [1]


# -- get_client and setup_logger -----------------------------------------------------------------

def test_get_client_is_the_default_workspace(tmp_path: Path) -> None:
    ws = gantry.init(db=tmp_path / "c.duckdb")
    assert gantry.get_client() is ws
    assert gantry.get_client().ping() and gantry.get_client().ready()  # type: ignore[union-attr]
    ws.close()
    assert gantry.get_client() is None


@pytest.fixture
def package_logger() -> Iterator[logging.Logger]:
    logger = logging.getLogger("gantry_local")
    level, handlers = logger.level, list(logger.handlers)
    yield logger
    logger.setLevel(level)
    logger.handlers[:] = handlers


def test_setup_logger_adds_one_stdout_handler(package_logger: logging.Logger,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    package_logger.handlers[:] = []
    gantry.setup_logger("DEBUG")
    gantry.setup_logger()  # a stream handler is there: only the level changes
    streams = [h for h in package_logger.handlers if isinstance(h, logging.StreamHandler)]
    assert len(streams) == 1 and streams[0].stream is sys.stdout
    assert package_logger.level == logging.INFO
    gantry.setup_logger("")  # nothing
    assert package_logger.level == logging.INFO
    with pytest.raises(gantry.ValidationError, match="logging_level must be one of"):
        gantry.setup_logger("LOUD")


# -- fill_prompt ---------------------------------------------------------------------------------

def test_fill_prompt_docstring_example() -> None:
    assert fill_prompt("This is a prompt template. {{input1}} {{input2}}",
                       {"input1": "foo", "input2": "bar"}) == "This is a prompt template. foo bar"


@pytest.mark.parametrize(("prompt", "expected"), [
    ("no vars", []), ("{{test}} variable", ["test"]), ("{{two}} {{vars}}", ["two", "vars"]),
    ("{not} a {variable}", []), ("{{test}} {{test}}", ["test"]),
])
def test_get_prompt_inputs(prompt: str, expected: list[str]) -> None:
    assert set(_get_prompt_inputs(prompt)) == set(expected)


@pytest.mark.parametrize(("prompt", "values", "expected"), [
    ("no vars", {}, "no vars"),
    ("{{test}} variable", {"test": "filled"}, "filled variable"),
    ("{{two}} {{vars}}", {"two": "2", "vars": "variables"}, "2 variables"),
    ("{{unfilled}} var", {}, "{{unfilled}} var"),
    ("{{test}} {{test}}", {"test": "filled"}, "filled filled"),
    ("{{extra}} fields", {"extra": "filled", "unused": "unused"}, "filled fields"),
    ("{{path}}", {"path": r"C:\new\1"}, r"C:\new\1"),  # a value is inserted as written
])
def test_fill_prompt(prompt: str, values: dict[str, str], expected: str) -> None:
    assert fill_prompt(prompt, values) == expected


@pytest.mark.parametrize(("prompt", "values", "strict", "expected_error"), [
    ("{{test}} variable", {}, False, "warn"), ("{{test}} variable", {}, True, "error"),
    ("test variable", {"test": "foo"}, False, "warn"),
    ("test variable", {"test": "foo"}, True, "error"),
    ("{{test}} variable", {"test": "foo"}, True, None),
    ("{{test}} variable", {"test": "foo"}, False, None),
])
def test_fill_prompt_errors_or_warnings(prompt: str, values: dict[str, str], strict: bool,
                                        expected_error: str | None,
                                        caplog: pytest.LogCaptureFixture) -> None:
    if expected_error == "error":
        with pytest.raises(ValueError, match="was not fully filled"):
            fill_prompt(prompt, values, strict=strict)
        return
    with caplog.at_level(logging.WARNING):
        fill_prompt(prompt, values, strict=strict)
    assert ("was not fully filled" in caplog.text) == (expected_error == "warn")


@pytest.mark.parametrize(("prompt", "values", "message"), [
    ("{{a}} b", {}, "Prompt '{{a}} b' was not fully filled. Unused keys: []. Unfilled keys: ['a']."),
    ("a", {"a": "b"}, "Prompt 'a' was not fully filled. Unused keys: ['a']. Unfilled keys: []."),
])
def test_fill_prompt_correct_error_message(prompt: str, values: dict[str, str], message: str,
                                           caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        fill_prompt(prompt, values)
    assert message in caplog.text


# -- ChatApplication -----------------------------------------------------------------------------

CHAT_REQUEST = {"model": "gpt-4", "messages": [{"role": "user", "content": "Hi"}],
                "temperature": 0.5}
CHAT_RESPONSE = {"id": "c1", "object": "chat.completion", "model": "gpt-4",
                 "choices": [{"index": 0, "finish_reason": "stop",
                              "message": {"role": "assistant", "content": "Hello!"}}],
                 "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}}


def test_chat_application_docstring_examples(default: gantry.Workspace) -> None:
    gantry.create_application("my_llm_app", "Chat")
    my_llm_app = gantry.get_application("my_llm_app")
    assert isinstance(my_llm_app, ChatApplication)
    version = my_llm_app.create_version(
        prompt_template="This is a prompt template. {{input1}} {{input2}}",
        description="My first version",
        model="gpt-4",
        model_params={"temperature": 0.5},
        prompt_inputs=["input1", "input2"],
    )
    assert version.version_number == 1 and version.app_name == "my_llm_app"
    assert version.config["prompt_inputs"] == ["input1", "input2"]
    my_llm_app.log_llm_data(api_request=CHAT_REQUEST, api_response=CHAT_RESPONSE,
                            request_attributes={"prompt_values": "x"},
                            version=version.version_number)
    row = my_llm_app.query(all_time=True).to_polars().row(0, named=True)
    assert row["outputs.completion"] == "Hello!" and row["tags.vendor"] == "openai-chat"
    assert row["inputs.model"] == "gpt-4" and row["tags.version_number"] == "1"
    assert gantry.list_applications() == ["my_llm_app"]


# -- GantryDataFrame: frame-wide statistics and create_view (gantry/query/core/dataframe.py) ------

def test_frame_statistics_apply_to_every_series(speeds: gantry.Application) -> None:
    df = gquery.query("cars")
    nulls = df.percent_null()
    assert isinstance(nulls, pd.DataFrame) and len(nulls) == 1
    assert list(nulls.columns) == list(df.series)
    assert nulls.loc[0, "inputs.speed"] == pytest.approx(1 / 11)
    assert set(df.pdf()) == set(df.series)  # frames per series: a dict, as in Gantry
    with pytest.raises(gantry.ValidationError, match="mean works on int, float"):
        df.mean()  # inputs.color is text: Gantry's runs_on refused it too
    numbers = df[df["inputs.speed"] > 2]
    assert numbers["inputs.speed"].mean() == pytest.approx(4.75)  # 3, 3, 3 and 10
    with pytest.raises(AttributeError):
        df.no_such_statistic  # noqa: B018


def test_frame_create_view(speeds: gantry.Application) -> None:
    df = gquery.query("cars")
    fast = df[df["inputs.speed"] > 2]
    fast.create_view("fast")
    assert gquery.list_application_views("cars") == ["fast"]
    again = gquery.query("cars", view="fast")
    assert len(again) == len(fast) == 4
    assert again.filters == [{"feature_name": "inputs.speed", "lower_bound": 2}]


def test_series_attributes(speeds: gantry.Application) -> None:
    df = gquery.query("cars")
    fast = df[df["inputs.speed"] > 2]
    speed = fast["inputs.speed"]
    assert speed.series_type == "inputs" and speed.dtype == speed.datatype == "int"
    assert speed.filters == [{"feature_name": "inputs.speed", "lower_bound": 2}]
    assert df["outputs.ok"].series_type == "outputs"


def test_gquery_init_checks_the_workspace(tmp_path: Path) -> None:
    from gantry_local.errors import NotInitializedError

    ws = gantry.init(api_key="foobar", db=tmp_path / "q.duckdb")
    gquery.init(api_key="foobar")  # Gantry's query-module init: the workspace is there
    ws.close()
    with pytest.raises(NotInitializedError, match=r"gantry_local\.init"):
        gquery.init()
    with pytest.raises(gantry.ValidationError, match="api_key must be a string"):
        gquery.init(api_key=5)  # type: ignore[arg-type]


def test_gantrys_application_module_paths() -> None:
    """``gantry.applications.{core,llm,llm_utils}`` import with only ``gantry`` changed."""
    import importlib

    core = importlib.import_module("gantry_local.applications.core")
    llm = importlib.import_module("gantry_local.applications.llm")
    utils = importlib.import_module("gantry_local.applications.llm_utils")
    assert core.Application is gantry.Application and core.Run is gantry.Run
    assert llm.CompletionApplication is gantry.CompletionApplication
    assert llm.ChatApplication is ChatApplication and llm.VersionDetails is gantry.VersionDetails
    assert utils.fill_prompt is fill_prompt
