"""Test suites: checks that fail a build, from Python, TOML and the CLI; suite automations."""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from datetime import timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

import gantry_local as gantry
from gantry_local.automations.automations import Automation
from gantry_local.automations.curators import UniformCurator
from gantry_local.automations.triggers import DatasetVersionTrigger
from gantry_local.cli import main
from gantry_local.errors import ValidationError
from gantry_local.evaluation.suites import Suite

ROWS = pl.DataFrame({"inputs.x": [float(i) for i in range(-50, 50)],
                     "feedback.label": [int(i > 0) for i in range(-50, 50)]})


def right(inputs: dict[str, Any]) -> int:
    return int(inputs["x"] > 0)


def half_right(inputs: dict[str, Any]) -> int:
    return int(inputs["x"] > 0) if inputs["x"] > -25 else 1


def test_python_suite_passes_and_fails(ws: gantry.Workspace) -> None:
    ws.create_dataset("rows").push_dataframe(ROWS)
    passing = Suite("ship-it", "rows", {"v1": half_right, "v2": right}, ["accuracy", "f1"],
                    thresholds=["accuracy >= 0.9", "v1:accuracy >= 0.7"],
                    no_regression=["accuracy"], max_error_rate=0.0)
    result = passing.run(ws)
    assert result.passed and [c.passed for c in result.checks] == [True] * 5
    failing = Suite("no-ship", "rows", {"v1": right, "v2": half_right}, ["accuracy"],
                    thresholds=["accuracy >= 0.9"], no_regression=["accuracy"])
    outcome = failing.run(ws)
    assert not outcome.passed
    assert [(c.name, c.passed) for c in outcome.checks] == [
        ("accuracy >= 0.9 (v2)", False), ("no regression in accuracy (v2)", False)]
    assert "FAIL  accuracy >= 0.9 (v2): accuracy of v2 is 0.7400" in str(outcome)


@pytest.mark.parametrize("kwargs, match", [
    ({"thresholds": ["accuracy is good"]}, "cannot read threshold"),
    ({"thresholds": ["f1 >= 0.5"]}, "names metric 'f1'"),
    ({"thresholds": ["v9:accuracy >= 0.5"]}, "names candidate 'v9'"),
    ({"no_regression": ["mae"]}, "no_regression names 'mae'"),
    ({"max_error_rate": 2.0}, "max_error_rate"),
])
def test_bad_suites_fail_at_definition(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        Suite("s", "rows", {"v1": right}, ["accuracy"], **kwargs)


def write_suite(tmp_path: Path, thresholds: str) -> Path:
    module = f"suite_models_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text(
        "def right(inputs):\n    return int(inputs['x'] > 0)\n\n"
        "def half_right(inputs):\n    return int(inputs['x'] > 0) if inputs['x'] > -25 else 1\n")
    path = tmp_path / "suite.toml"
    path.write_text(f'''
name = "fraud-model"
dataset = "rows"
metrics = ["accuracy", "f1"]
thresholds = [{thresholds}]
no_regression = ["accuracy"]

[candidates]
baseline = "{module}:half_right"
candidate = {{ callable = "{module}:right", version = "1" }}
''')
    return path


def test_cli_exit_code_and_junit(tmp_path: Path, clock: gantry.ManualClock) -> None:
    db = tmp_path / "ci.duckdb"
    with gantry.Workspace(db=db, clock=clock) as ws:
        ws.create_dataset("rows").push_dataframe(ROWS)
    passing, junit = write_suite(tmp_path, '"accuracy >= 0.95"'), tmp_path / "ok.xml"
    assert main(["eval", "run", str(passing), "--db", str(db), "--junit", str(junit)]) == 0
    tree = ET.parse(junit).getroot()
    suite = tree.find("testsuite")
    assert suite is not None and suite.get("name") == "fraud-model"
    assert suite.get("tests") == "2" and suite.get("failures") == "0"
    assert [c.get("name") for c in suite.iter("testcase")] == [
        "accuracy >= 0.95 (candidate)", "no regression in accuracy (candidate)"]
    failing, bad_junit = write_suite(tmp_path, '"accuracy >= 0.95", "baseline:f1 >= 0.99"'), \
        tmp_path / "bad.xml"
    assert main(["eval", "run", str(failing), "--db", str(db), "--junit", str(bad_junit)]) == 1
    cases = list(ET.parse(bad_junit).getroot().iter("testcase"))
    failed = [c.get("name") for c in cases if c.find("failure") is not None]
    assert failed == ["baseline:f1 >= 0.99 (baseline)"]
    assert main(["eval", "list", "--db", str(db)]) == 0
    assert main(["eval", "run", str(tmp_path / "missing.toml"), "--db", str(db)]) == 2  # usage error


def test_the_cli_runs_a_suite_naming_other_code_only_when_trusted(
        tmp_path: Path, clock: gantry.ManualClock, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "trust.duckdb"
    with gantry.Workspace(db=db, clock=clock) as ws:
        ws.create_dataset("rows").push_dataframe(ROWS)
    path = tmp_path / "suite.toml"
    path.write_text('name = "s"\ndataset = "rows"\nmetrics = ["accuracy"]\n'
                    '[candidates]\nv = "operator:truth"\n')
    assert main(["eval", "run", str(path), "--db", str(db)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "names module 'operator'" in err and \
        "--allow-module operator" in err
    assert main(["eval", "run", str(path), "--db", str(db), "--allow-module", "operator"]) == 0
    assert "accuracy" in capsys.readouterr().out
    assert main(["scheduler", "run", "--once", "--db", str(db), "--suite", str(path)]) == 1
    assert "names module 'operator'" in capsys.readouterr().err


def test_bad_toml_suites_are_clear_errors(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('name = "x"\ndataset = "rows"\n[candidates]\nv1 = "no_such_module:f"\n')
    with pytest.raises(gantry.NotFoundError, match="cannot import 'no_such_module:f'"):
        Suite.from_toml(path)
    path.write_text('name = "x"\ndataset = "rows"\ncandidate = 3\n')
    with pytest.raises(ValidationError, match="unknown field"):
        Suite.from_toml(path)
    path.write_text('name = "x" = 2')
    with pytest.raises(ValidationError, match="not valid TOML"):
        Suite.from_toml(path)


def test_a_suite_runs_on_each_new_curated_version(ws: gantry.Workspace,
                                                  clock: gantry.ManualClock) -> None:
    start = clock.now()
    app = ws.create_application("m")
    for day in range(3):
        app.log_records(inputs=[{"x": float(i)} for i in range(-20, 20)],
                        outputs=[0] * 40, feedbacks=[{"label": int(i > 0)} for i in range(-20, 20)],
                        timestamps=[start + timedelta(days=day, minutes=i) for i in range(40)])
    UniformCurator("daily", "m", limit=40, start_on=start).create(workspace=ws)
    suite = Suite("nightly", "daily", {"v1": half_right, "v2": right}, ["accuracy"],
                  thresholds=["accuracy >= 0.9"])
    scheduler = gantry.Scheduler(ws)
    scheduler.add_automation(Automation("check-daily", DatasetVersionTrigger("daily"), suite))
    # the same definition again is a no-op (start-up code may run twice); another is refused
    scheduler.add_automation(Automation("check-daily", DatasetVersionTrigger("daily"), suite))
    other = Suite("other", "daily", {"v1": half_right}, ["accuracy"])
    with pytest.raises(gantry.AlreadyExistsError, match="with a different definition"):
        scheduler.add_automation(Automation("check-daily", DatasetVersionTrigger("daily"), other))
    clock.set(start + timedelta(days=2))
    assert len(scheduler.run_pending()) == 2
    runs = scheduler.suite_runs()
    assert runs.height == 1 and runs["passed"].to_list() == [True]
    assert runs["version_id"][0] == ws.get_dataset("daily").resolve(None)
    scheduler.run_pending()
    assert scheduler.suite_runs().height == 1  # nothing new: not run again
    clock.set(start + timedelta(days=3))
    scheduler.run_pending()
    assert scheduler.suite_runs().height == 2
    app.add_automation(Automation("x", DatasetVersionTrigger("daily"), suite))  # one registry
    assert [(a["name"], a["kind"]) for a in app.list_automations()] == [
        ("check-daily", "suite"), ("x", "suite")]
    with pytest.raises(ValidationError, match="runs a test suite"):
        Automation("y", DatasetVersionTrigger("daily"), UniformCurator("c", "m", 1))


def test_a_namespace_package_reaching_outside_the_folder_is_not_beside_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"ns_{uuid.uuid4().hex[:8]}"
    elsewhere = tmp_path / "site"  # an installed namespace package's other half
    (elsewhere / name).mkdir(parents=True)
    (elsewhere / name / "evil.py").write_text("def f(inputs):\n    return 0\n")
    monkeypatch.syspath_prepend(str(elsewhere))
    folder = tmp_path / "suite"
    (folder / name).mkdir(parents=True)  # an empty folder of the same name beside the file
    path = folder / "suite.toml"
    path.write_text(f'name = "s"\ndataset = "rows"\nmetrics = ["accuracy"]\n'
                    f'[candidates]\nv = "{name}.evil:f"\n')
    with pytest.raises(ValidationError, match=f"names module '{name}' .*not in the suite"):
        Suite.from_toml(path)
    assert Suite.from_toml(path, allow_modules=[name]).name == "s"


def test_a_module_reached_through_an_attribute_is_checked_too(tmp_path: Path) -> None:
    name = f"models_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text("import os\n\ndef f(inputs):\n    return 0\n")
    path = tmp_path / "suite.toml"
    path.write_text(f'name = "s"\ndataset = "rows"\nmetrics = ["accuracy"]\n'
                    f'[candidates]\nv = "{name}:os.getcwd"\n')
    with pytest.raises(ValidationError, match=r"names module 'os' .*not in the suite"):
        Suite.from_toml(path)
    assert Suite.from_toml(path, allow_modules=["os"]).name == "s"
    path.write_text(f'name = "s"\ndataset = "rows"\nmetrics = ["accuracy"]\n'
                    f'[candidates]\nv = "{name}:f"\n')
    assert Suite.from_toml(path).name == "s"
