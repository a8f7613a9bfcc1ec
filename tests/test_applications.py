"""Applications: create, get, list, delete; names validated and never executed as SQL."""

from pathlib import Path

import pytest

import gantry_local as gantry

from .conftest import stored_counts


def test_create_get_list_delete(ws: gantry.Workspace) -> None:
    created = ws.create_application("churn-model.v2")
    assert created.name == "churn-model.v2"
    assert created.application_type == "Custom"
    assert ws.get_application("churn-model.v2") == created
    ws.create_application("a_llm", application_type="Completion")
    assert ws.list_applications() == ["a_llm", "churn-model.v2"]
    ws.delete_application("churn-model.v2")
    assert ws.list_applications() == ["a_llm"]
    with pytest.raises(gantry.NotFoundError, match="create_application"):
        ws.get_application("churn-model.v2")


def test_duplicate_and_unknown(ws: gantry.Workspace) -> None:
    ws.create_application("m")
    with pytest.raises(gantry.AlreadyExistsError, match="already exists"):
        ws.create_application("m")
    with pytest.raises(gantry.NotFoundError, match="known: m"):
        ws.log_record("nope", inputs={"a": 1}, outputs=1)
    with pytest.raises(gantry.ValidationError, match="application_type"):
        ws.create_application("x", application_type="Banana")


@pytest.mark.parametrize("name", [
    "", "a" * 129, 'quote"name', "semi;colon", "with space", "DROP TABLE x;--", "a/b", "..",
    "naïve", "tab\tname",
])
def test_bad_names_are_rejected(ws: gantry.Workspace, name: str) -> None:
    with pytest.raises(gantry.ValidationError):
        ws.create_application(name)
    assert ws.list_applications() == []


@pytest.mark.parametrize("name", ["select", "DROP", "table", "from.where", "--x", "1"])
def test_sql_keyword_names_are_quoted(ws: gantry.Workspace, name: str) -> None:
    app = ws.create_application(name)
    app.log_record(inputs={"select": 1, 'we"ird; DROP TABLE x': "v"}, outputs={"from": 2.0})
    rows = app.query(all_time=True).to_polars()
    assert rows["inputs.select"].to_list() == [1]
    assert rows['inputs.we"ird; DROP TABLE x'].to_list() == ["v"]
    assert stored_counts(ws, name)[0] == 1


def test_delete_drops_records_and_name_can_be_reused(ws: gantry.Workspace) -> None:
    app = ws.create_application("m")
    app.log_record(inputs={"a": 1}, outputs=1)
    ws.delete_application("m")
    with pytest.raises(gantry.NotFoundError):
        app.log_record(inputs={"a": 1}, outputs=1)
    again = ws.create_application("m")
    again.log_record(inputs={"a": "now a string"}, outputs="x")
    assert again.query(all_time=True).to_polars()["inputs.a"].to_list() == ["now a string"]


def test_module_functions_use_the_default_workspace(tmp_path: Path) -> None:
    workspace = gantry.init(db=tmp_path / "default.duckdb")
    try:
        assert gantry.get_workspace() is workspace
        gantry.create_application("m")
        key = gantry.log_record("m", inputs={"a": 1}, outputs=2)
        gantry.log_records("m", feedbacks=[{"ok": True}], join_keys=[key])
        gantry.flush()
        assert gantry.query("m").count() == 1
        assert gantry.list_applications() == ["m"]
        assert gantry.get_application("m").query(all_time=True).to_polars()["feedback.ok"].to_list() == [True]
        gantry.delete_application("m")
        assert gantry.list_applications() == []
    finally:
        workspace.close()
    with pytest.raises(gantry.NotInitializedError, match="init"):
        gantry.log_record("m", inputs={"a": 1}, outputs=2)
