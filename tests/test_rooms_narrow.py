"""The rooms are handed a narrow context, never the façade: each room's entry points run on a
stand-in that exposes only a workspace's context (any other attribute raises), and the
rooms' source never reaches past the context to the object a user passed."""

from __future__ import annotations

import ast
import dataclasses
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import polars as pl
import pytest

import gantry_local as gantry
from gantry_local import _context, _logging
from gantry_local._context import Context, Logging, Scheduling, narrow, narrow_or_default
from gantry_local.automations.automations import Automation, add_automation
from gantry_local.automations.curators import UniformCurator, get_curator, list_curators
from gantry_local.automations.triggers import AggregationTrigger
from gantry_local.evaluation.completion import create_version, list_versions
from gantry_local.evaluation.suites import Suite
from gantry_local.monitoring.alerts import failing_automations, list_alerts
from gantry_local.monitoring.drift import drift, drift_over_time
from gantry_local.monitoring.quality import metrics_over_time
from gantry_local.monitoring.report import write_report
from gantry_local.monitoring.summaries import summarize
from gantry_local.query._frame import GantryDataFrame
from gantry_local.query._functions import frame
from gantry_local.query._saved import get_query, list_queries, save_query
from gantry_local.records import Query

S = datetime(2024, 1, 1, tzinfo=timezone.utc)
PACKAGE = Path(gantry.__file__).parent
ROOMS = ("automations", "monitoring", "evaluation", "query", "alerts")


class OnlyContext:
    """A workspace seen only through its context: anything else a room asks of it fails."""

    __slots__ = ("__gantry_context__",)

    def __init__(self, workspace: gantry.Workspace) -> None:
        context = narrow(workspace)
        self.__gantry_context__ = dataclasses.replace(context, owner=self)

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"a room asked the façade for {name!r}")


@pytest.fixture
def stand_in(ws: gantry.Workspace, clock: gantry.ManualClock) -> OnlyContext:
    app = ws.create_application("model")
    clock.set(S)
    for day in range(3):
        app.log_records(inputs=[{"x": float(i + day), "c": "ab"[i % 2]} for i in range(40)],
                        outputs=[{"y": i % 2} for i in range(40)],
                        feedbacks=[{"label": (i // 2) % 2} for i in range(40)],
                        timestamps=[S + timedelta(days=day, minutes=i) for i in range(40)])
    ws.flush()
    clock.set(S + timedelta(days=3))
    return OnlyContext(ws)


def test_monitoring_runs_on_the_context_alone(stand_in: OnlyContext, tmp_path: Path) -> None:
    day = (S, S + timedelta(days=1))
    assert summarize(stand_in, "model", start_time=S, end_time=S + timedelta(days=3)).height
    assert drift(stand_in, "model", day, (S + timedelta(days=2), S + timedelta(days=3))).height
    assert drift_over_time(stand_in, "model", day, start_time=S,
                           end_time=S + timedelta(days=3)).height
    assert metrics_over_time(stand_in, "model", ["accuracy"], "outputs.y", "feedback.label",
                             start_time=S, end_time=S + timedelta(days=3)).height == 3
    assert write_report(stand_in, "model", tmp_path / "r.html", start_time=S,
                        end_time=S + timedelta(days=3)).exists()
    assert list_alerts(stand_in, "model").is_empty()
    assert failing_automations(stand_in).is_empty()


def test_evaluation_runs_on_the_context_alone(stand_in: OnlyContext,
                                              ws: gantry.Workspace) -> None:
    ws.create_dataset("rows").push_dataframe(pl.DataFrame(
        {"inputs.x": [float(i) for i in range(20)], "feedback.label": [i % 2 for i in range(20)]}))
    comparison = gantry.evaluate("rows", {"v1": lambda r: 0, "v2": lambda r: int(r["x"]) % 2},
                                 ["accuracy"], workspace=stand_in)
    assert comparison.verdict == "improved"
    assert gantry.get_evaluation(comparison.id, workspace=stand_in).id == comparison.id
    assert gantry.list_evaluations("rows", workspace=stand_in).height == 1
    assert comparison.push_rows("rows-scored", workspace=stand_in)["version_id"]
    suite = Suite("s", "rows", {"v1": lambda r: int(r["x"]) % 2}, ["accuracy"],
                  thresholds=["accuracy >= 0.9"])
    assert suite.run(stand_in).passed
    ws.create_application("chat", "Completion")
    ws.register_model("echo", lambda prompt, **_: prompt)
    version = create_version(stand_in, "chat", "Q: {{q}}", "first", "echo")
    assert [v.version_id for v in list_versions(stand_in, "chat")] == [version.version_id]
    assert version.model_fn()("hi") == "hi"


def test_a_curator_runs_and_backfills_through_the_scheduler_on_the_context_alone(
        stand_in: OnlyContext, clock: gantry.ManualClock) -> None:
    curator = UniformCurator("daily", "model", limit=5, start_on=S).create(workspace=stand_in)
    assert curator.workspace is stand_in  # handed back as given, never called
    assert list_curators(workspace=stand_in) == ["daily"]
    scheduler = gantry.Scheduler(stand_in)
    assert scheduler.workspace is stand_in
    runs = scheduler.run_pending()
    assert [(r.interval_start, r.rows_selected) for r in runs] == [
        (S + timedelta(days=d), 5) for d in range(3)]
    curator.disable()
    clock.advance(timedelta(days=2))
    assert scheduler.run_pending() == []
    curator.enable()  # the intervals missed while off are curated on the next tick
    assert len(scheduler.run_pending()) == 2
    stored = get_curator("daily", workspace=stand_in)
    assert stored.get_runs().height == 5 and len(stored.get_curated_dataset().list_versions()) == 3
    stored.delete()


def test_an_aggregation_alert_and_a_callable_run_on_the_context_alone(
        stand_in: OnlyContext) -> None:
    seen: list[Any] = []
    application = SimpleNamespace(name="model", workspace=stand_in)
    trigger = AggregationTrigger("x-high", "mean", ["inputs.x"], None, 1.0,
                                 timedelta(days=1))
    add_automation(application, Automation("on-high", trigger, seen.append))  # type: ignore[arg-type]
    scheduler = gantry.Scheduler(stand_in)
    scheduler.run_pending()
    assert [a.automation for a in scheduler.alerts] == ["on-high"] and len(seen) == 1


def test_gantry_alerts_run_on_the_context_alone(stand_in: OnlyContext,
                                                clock: gantry.ManualClock) -> None:
    import gantry_local.alerts as galerts

    check = galerts.AlertsCheck(aggregation=galerts.AlertsAggregation.MAX,
                                data_node_names=["inputs.x"], lower_bound=0, upper_bound=30)
    alert_id = galerts.create_alert("model", "x-high", [check], "P1D", "P0D", workspace=stand_in)
    assert [a["id"] for a in galerts.get_alerts("model", workspace=stand_in)] == [alert_id]
    clock.set(S + timedelta(days=2, hours=1))
    gantry.Scheduler(stand_in).run_pending()
    [fired] = galerts.get_alerts("model", triggered=True, workspace=stand_in)
    assert fired["alert_id"] == alert_id and fired["value"] == 41.0  # the last day's max
    galerts.delete_alert(alert_id, workspace=stand_in)
    assert galerts.get_alerts("model", workspace=stand_in) == []


def test_gquery_frames_saved_queries_and_views_run_on_the_context_alone(
        stand_in: OnlyContext) -> None:
    window = frame(stand_in, "model", S, S + timedelta(days=3), None, None, None, None)
    assert window.count() == 120
    masked = window[window["inputs.x"] > 30]
    assert masked.count() == len([i + d for d in range(3) for i in range(40) if i + d > 30])
    assert GantryDataFrame(stand_in, "model", S, S + timedelta(days=1))["inputs.x"].mean() == 19.5
    save_query(stand_in, "model", "first-day", GantryDataFrame(stand_in, "model", S,
                                                                S + timedelta(days=1)))
    assert get_query(stand_in, "model", "first-day").count() == 40
    assert [q["name"] for q in list_queries(stand_in, "model")] == ["first-day"]
    window.create_view("all-three")
    assert frame(stand_in, "model", None, None, None, None, None, None,
                 view="all-three").count() == 120


def test_the_batch_log_calls_run_on_the_context_alone(stand_in: OnlyContext,
                                                      ws: gantry.Workspace,
                                                      tmp_path: Path) -> None:
    ws._default_env = "prod"  # init(environment=...)'s rule reaches them through the context
    batch, keys = _logging.log_records(stand_in, "model", None, [{"x": 1.0}], [{"y": 1}], None,
                                       None, None, None, [S], True, 1.0, True, None, None, None,
                                       None)
    assert batch is not None and len(keys) == 1
    one = _logging.log(stand_in, "model", None, {"x": 2.0}, {"y": 0}, {"label": 1}, None, None,
                       S, True, 1.0, None, None, "k-2", False, None, None)
    assert one == "k-2"
    path = tmp_path / "more.csv"
    path.write_text("inputs.x,outputs.y,timestamp\n3.0,1,2024-01-01T00:00:00\n")
    _logging.log_file(stand_in, "model", path, None, None, None, None, None, None, None, None,
                      ",", None)
    ws.flush()
    logged = ws.query("model", S, S + timedelta(seconds=1)).to_polars().filter(
        pl.col("inputs.x") > 0)  # the fixture's first record is at S too
    assert sorted(logged["inputs.x"].to_list()) == [1.0, 2.0, 3.0]
    assert logged["tags.env"].to_list() == ["prod"] * 3


def test_the_per_tick_scheduler_closes_what_its_function_opened(tmp_path: Path,
                                                                clock: gantry.ManualClock) -> None:
    db = tmp_path / "tick.duckdb"
    with gantry.Workspace(db=db, clock=clock) as setup:
        setup.create_application("model")
        UniformCurator("c", "model", 5, start_on=S).create(workspace=setup)
    opened: list[gantry.Workspace] = []

    def open_one() -> OnlyContext:
        opened.append(gantry.Workspace(db=db, clock=clock, background_scheduler=False))
        return OnlyContext(opened[-1])

    clock.set(S + timedelta(days=2))
    runs = gantry.Scheduler(open_one).run_pending()
    assert len(runs) == 2 and len(opened) == 1 and opened[0].closed


def test_narrow_takes_a_context_a_workspace_or_the_default(ws: gantry.Workspace,
                                                           tmp_path: Path) -> None:
    context = narrow(ws)
    assert isinstance(context, Context) and narrow(context) is context
    assert context.database is ws.database and context.clock is ws.clock
    assert context.owner is ws and isinstance(context.scheduling, Scheduling)
    ws.create_application("m")
    assert Query(ws, "m")._ws is context and Query(ws, "m").count() == 0  # records' Query too
    for wrong in ("ws", None, 3, SimpleNamespace(__gantry_context__="no")):
        with pytest.raises(gantry.ValidationError, match="must be a gantry_local Workspace, got"):
            narrow(wrong)
    previous = gantry._default._default
    gantry._default._default = None
    try:
        with pytest.raises(gantry.NotInitializedError, match="init"):
            narrow_or_default(None)
        workspace = gantry.init(db=tmp_path / "d.duckdb")
        assert narrow_or_default(None) is narrow(workspace)
        workspace.close()
    finally:
        gantry._default._default = previous


def test_a_producer_has_a_context_that_cannot_be_scheduled(tmp_path: Path) -> None:
    producer = gantry.ProducerWorkspace(db=tmp_path / "p.duckdb", spool=str(tmp_path / "spool"))
    try:
        context = narrow(producer)
        assert context.scheduling is None and context.app_state("m").name == "m"
        with pytest.raises(gantry.StorageError, match="producer"):
            context.datasets.list_datasets()
        with pytest.raises(gantry.ValidationError, match="ProducerWorkspace"):
            gantry.Scheduler(producer)
    finally:
        producer.close()


# -- the rooms' source ----------------------------------------------------------------------

def _room_files() -> list[Path]:
    """The rooms, and the façade's batch log calls (which narrow their workspace too)."""
    return sorted([*(f for room in ROOMS for f in (PACKAGE / room).rglob("*.py")),
                   PACKAGE / "_logging.py"])


def test_no_room_reaches_past_the_context_to_the_object_a_user_passed() -> None:
    """`owner` is only handed back (the `workspace` properties of Curator and Scheduler, and
    log lines); `__gantry_context__` is read only by `narrow`; `scheduling` only by the
    scheduler."""
    found = []
    for path in _room_files():
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute):
                rel = f"{path.relative_to(PACKAGE)}:{node.lineno}"
                if node.attr == "__gantry_context__":
                    found.append(f"{rel} reads __gantry_context__ (call narrow)")
                if node.attr == "scheduling" and path.name != "scheduler.py":
                    found.append(f"{rel} reads the scheduler's part")
                if node.attr == "logging" and path.name != "_logging.py":
                    found.append(f"{rel} reads the batch log calls' part")
        for fn in [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]:
            for node in ast.walk(fn):
                if isinstance(node, ast.Attribute) and node.attr == "owner" \
                        and fn.name not in ("workspace", "_claim", "ensure_background"):
                    found.append(f"{path.relative_to(PACKAGE)}:{node.lineno} uses owner in "
                                 f"{fn.name}")
    assert found == []


def test_no_room_asks_for_what_only_the_workspace_has() -> None:
    """No attribute a room reads is a member only the `Workspace` has (its log calls, its
    applications' façade, `_app_state` ...): the names are taken from the classes, so a
    member added to the Workspace is covered too."""
    from gantry_local._db import Database
    from gantry_local.datasets import Dataset, DatasetRegistry
    from gantry_local.records._apps import AppStates

    theirs = set(dir(Context)) | set(Context.__dataclass_fields__) \
        | set(Scheduling.__dataclass_fields__) | set(Logging.__dataclass_fields__)
    for kind in (DatasetRegistry, Dataset, Database, AppStates):
        theirs |= set(dir(kind))
    only_workspace = {n for n in set(dir(gantry.Workspace)) - theirs - set(dir(object))
                      if not n.startswith("__")}
    only_workspace -= {"log", "model"}  # also numpy's log and a judge's or version's model
    assert {"_app_state", "get_application", "log_records", "register_model"} <= only_workspace
    found = [f"{path.relative_to(PACKAGE)}:{node.lineno} .{node.attr}"
             for path in _room_files() for node in ast.walk(ast.parse(path.read_text()))
             if isinstance(node, ast.Attribute) and node.attr in only_workspace]
    assert found == []


def test_each_context_member_is_used_by_its_rooms() -> None:
    """Every public member of `Context` is used by the rooms, and of `Scheduling` by the
    scheduler: the context holds what they need and no more."""
    tree = ast.parse((PACKAGE / "_context.py").read_text())
    users = {"Context": _room_files(), "Scheduling": [PACKAGE / "automations" / "scheduler.py"],
             "Logging": [PACKAGE / "_logging.py"]}
    for name, files in users.items():
        cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == name)
        members = {n.target.id if isinstance(n, ast.AnnAssign) else n.name  # type: ignore[union-attr]
                   for n in cls.body if isinstance(n, (ast.AnnAssign, ast.FunctionDef))}
        members = {m for m in members if not m.startswith("_")}
        source = "\n".join(f.read_text() for f in files)
        unused = sorted(m for m in members if not re.search(rf"\.{m}\b", source))
        assert members and unused == [], f"{name} members its rooms do not use: {unused}"


def test_the_context_module_exports_what_it_defines() -> None:
    assert sorted(_context.__all__) == _context.__all__
    assert all(hasattr(_context, name) for name in _context.__all__)
