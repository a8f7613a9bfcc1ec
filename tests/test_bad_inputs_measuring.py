"""Bad inputs to monitoring, evaluation and suites: each a GantryLocalError saying what was wrong,
and nothing stored (no records, no evaluation, no cached output, no version, no file)."""

from __future__ import annotations

import math
import os
import socket
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import polars as pl
import pytest

import gantry_local as gantry
import gantry_local.evaluation
import gantry_local.monitoring as monitoring
from gantry_local.automations._monitors import evaluate_monitors
from gantry_local.errors import GantryLocalError, NotFoundError, StorageError, ValidationError
from gantry_local.evaluation import (
    Candidate,
    Contains,
    Custom,
    JudgeError,
    OpenAICompatible,
    PairwiseJudge,
    Regex,
    RowError,
    ScoreJudge,
)
from gantry_local.evaluation.completion import get_version, list_versions
from gantry_local.evaluation.suites import Suite
from gantry_local.monitoring.alerts import list_alerts
from gantry_local.monitoring.report import write_report

S = datetime(2024, 1, 1, tzinfo=timezone.utc)
DAY = timedelta(days=1)
WINDOW = (S, S + DAY)
LATER = (S + DAY, S + 2 * DAY)
HIGH = datetime(9999, 12, 31, 23, 0, tzinfo=timezone(timedelta(hours=-5)))  # past 9999 in UTC
LOW = datetime(1, 1, 1, 1, 0, tzinfo=timezone(timedelta(hours=5)))  # before year 1 in UTC
NAN, INF = math.nan, math.inf


@dataclass
class Ctx:
    ws: gantry.Workspace
    app: gantry.Application
    dataset: gantry.Dataset
    folder: Path
    db: Path
    prompt: Any
    question: Any
    comparison: Any = None
    suite_result: Any = None


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ctx]:
    folder = tmp_path_factory.mktemp("measuring")
    ws = gantry.Workspace(db=folder / "m.duckdb", storage=str(folder / "store"),
                          clock=gantry.ManualClock(S + 3 * DAY))
    app = ws.create_application("shop")
    app.log_records(inputs=[{"amount": float(i), "merchant": "abc"[i % 3]} for i in range(96)],
                    outputs=[{"score": i / 96, "flag": i % 2 == 0} for i in range(96)],
                    feedbacks=[{"label": i % 2} for i in range(96)],
                    timestamps=[S + timedelta(hours=i // 2) for i in range(96)])
    chat = ws.create_application("chat", application_type="Completion")
    prompt = chat.create_version("Say {{x}}", "unregistered model", "no-such-model")
    question = chat.create_version("Answer {{question}}", "a variable rows lacks", "m")
    dataset = ws.create_dataset("rows")
    dataset.push_dataframe(pl.DataFrame({"inputs.x": [1.0, 2.0, 3.0, 4.0],
                                         "feedback.y": [1, 0, 1, 0]}))
    ws.flush()
    c = Ctx(ws, app, dataset, folder / "out", folder / "m.duckdb", prompt, question)
    c.comparison = evaluate(c, store=False)
    c.suite_result = suite(store=False, progress=False).run(ws)
    yield c
    ws.close()


def snapshot(c: Ctx) -> dict[str, Any]:
    """Everything a measuring call could store: rows, evaluations, cache, versions, files."""
    c.ws.flush()
    with c.ws.database.cursor() as con:
        counts = {table: con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
                  for table in ('"records_shop"', '"feedback_shop"', "_gl_evaluations",
                                "_gl_eval_cache", "_gl_completion_versions", "_gl_alerts")}
    datasets = {d["name"]: len(c.ws.list_dataset_versions(d["name"]))
                for d in c.ws.list_datasets()}
    files = sorted(str(p) for p in c.folder.rglob("*")) if c.folder.exists() else []
    return {"counts": counts, "datasets": datasets, "files": files}


def one(row: dict[str, Any]) -> int:
    return 1


def evaluate(c: Ctx, **overrides: Any) -> Any:
    arguments: dict[str, Any] = {"dataset": "rows", "candidates": {"a": one, "b": one},
                                 "metrics": ["accuracy"], "workspace": c.ws, "progress": False}
    arguments.update(overrides)
    return gantry.evaluate(**arguments)


def suite(**overrides: Any) -> Suite:
    arguments: dict[str, Any] = {"name": "s", "dataset": "rows", "candidates": {"a": one},
                                 "metrics": ["accuracy"]}
    arguments.update(overrides)
    return Suite(**arguments)


def toml(c: Ctx, text: str | bytes, allow_modules: Any = ()) -> Suite:
    """Suite.from_toml of `text`, in a folder beside the snapshot's (an import there writes
    __pycache__) that holds the module the files name, measuring_toml_models."""
    folder = c.db.parent / "suites"
    folder.mkdir(exist_ok=True)
    module = folder / "measuring_toml_models.py"
    if not module.exists():
        module.write_text("def one(row):\n    return 1\n\nsep = '/'\n")
    path = folder / "suite.toml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    try:
        return Suite.from_toml(path, allow_modules)
    finally:
        path.unlink()


GOOD_TOML = 'name = "s"\ndataset = "rows"\nmetrics = ["accuracy"]\n'
CANDIDATES = '[candidates]\na = "measuring_toml_models:one"\n'
OUTSIDE = r"which is not in the suite file's folder '.*'; a suite file runs only code beside it"

Case = tuple[str, Callable[[Ctx], Any], type[GantryLocalError], str]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


CLIENT = OpenAICompatible(f"http://127.0.0.1:{_closed_port()}/v1", "m", timeout=5)

CASES: list[Case] = [
    # -- summarize -------------------------------------------------------------------------------
    ("summarize interval 999999999 days", lambda c: c.app.summarize(interval=timedelta(
        days=999_999_999)), ValidationError, r"too long.*past the datetime range"),
    ("summarize interval 1 microsecond", lambda c: c.app.summarize(
        interval=timedelta(microseconds=1)), ValidationError, r"intervals.*at most 100,000"),
    ("summarize 100,001 intervals", lambda c: c.app.summarize(
        interval=timedelta(seconds=1), start_time=S, end_time=S + timedelta(seconds=100_001)),
     ValidationError, r"100,001 intervals.*at most 100,000"),
    ("summarize interval string", lambda c: c.app.summarize(interval="1d"), ValidationError,
     r"interval must be a positive timedelta"),
    ("summarize interval None", lambda c: c.app.summarize(interval=None), ValidationError,
     r"interval must be a positive timedelta"),
    ("summarize interval negative", lambda c: c.app.summarize(interval=-DAY), ValidationError,
     r"positive timedelta"),
    ("summarize start string", lambda c: c.app.summarize(start_time="2024-01-01"),
     ValidationError, r"start_time must be a datetime"),
    ("summarize start past 9999 in UTC", lambda c: c.app.summarize(start_time=HIGH),
     ValidationError, r"start_time .* outside the datetime range"),
    ("summarize end before year 1 in UTC", lambda c: c.app.summarize(end_time=LOW),
     ValidationError, r"end_time .* outside the datetime range"),
    ("summarize end before start", lambda c: c.app.summarize(start_time=S + DAY, end_time=S),
     ValidationError, r"not after start_time"),
    ("summarize fields string", lambda c: c.app.summarize(fields="inputs.amount"),
     ValidationError, r"fields must be a non-empty list"),
    ("summarize fields number", lambda c: c.app.summarize(fields=5), ValidationError,
     r"fields must be a non-empty list"),
    ("summarize fields [None]", lambda c: c.app.summarize(fields=[None]), ValidationError,
     r"unknown field None; known fields"),
    ("summarize unknown field", lambda c: c.app.summarize(fields=["inputs.nope"]),
     ValidationError, r"unknown field 'inputs.nope'"),
    # -- metrics -----------------------------------------------------------------------------------
    ("metrics threshold string", lambda c: c.app.metrics(["precision"], "outputs.score",
                                                          threshold="x"),
     ValidationError, r"threshold must be a finite number"),
    ("metrics threshold NaN", lambda c: c.app.metrics(["precision"], "outputs.score",
                                                      threshold=NAN),
     ValidationError, r"threshold must be a finite number"),
    ("metrics threshold inf", lambda c: c.app.metrics(["precision"], "outputs.score",
                                                      threshold=INF),
     ValidationError, r"threshold must be a finite number"),
    ("metrics threshold True", lambda c: c.app.metrics(["precision"], "outputs.score",
                                                       threshold=True),
     ValidationError, r"threshold must be a finite number"),
    ("metrics None", lambda c: c.app.metrics(None), ValidationError,
     r"metrics must be a non-empty list"),
    ("metrics string", lambda c: c.app.metrics("accuracy"), ValidationError,
     r"metrics must be a non-empty list"),
    ("metrics [1]", lambda c: c.app.metrics([1]), ValidationError, r"unknown metric\(s\) \[1\]"),
    ("metrics unknown", lambda c: c.app.metrics(["auc"]), ValidationError,
     r"unknown metric\(s\) \['auc'\]; known: accuracy"),
    ("metrics output number", lambda c: c.app.metrics(["accuracy"], output=5), ValidationError,
     r"output must be a field name"),
    ("metrics feedback list", lambda c: c.app.metrics(["accuracy"], "outputs.score",
                                                      feedback=[]),
     ValidationError, r"feedback must be a field name"),
    ("metrics unknown output", lambda c: c.app.metrics(["accuracy"], "outputs.nope"),
     ValidationError, r"unknown output field 'outputs.nope'"),
    ("metrics mae of a category", lambda c: c.app.metrics(["mae"], "inputs.merchant"),
     ValidationError, r"mae needs numbers"),
    ("metrics interval zero", lambda c: c.app.metrics(["accuracy"], "outputs.score",
                                                      interval=timedelta(0)),
     ValidationError, r"positive timedelta"),
    ("metrics interval 999999999 days", lambda c: c.app.metrics(
        ["accuracy"], "outputs.score", interval=timedelta(days=999_999_999)),
     ValidationError, r"too long"),
    ("metrics end past 9999 in UTC", lambda c: c.app.metrics(["accuracy"], "outputs.score",
                                                             end_time=HIGH),
     ValidationError, r"end_time .* outside the datetime range"),
    # -- drift -------------------------------------------------------------------------------------
    ("drift reference window past 9999", lambda c: c.app.drift((HIGH - DAY, HIGH), WINDOW),
     ValidationError, r"reference end .* outside the datetime range"),
    ("drift current window before year 1", lambda c: c.app.drift(WINDOW, (LOW, LOW + DAY)),
     ValidationError, r"current start .* outside the datetime range"),
    ("drift reference None", lambda c: c.app.drift(None, WINDOW), ValidationError,
     r"reference must be a \(start, end\) pair"),
    ("drift reference (None, None)", lambda c: c.app.drift((None, None), WINDOW),
     ValidationError, r"reference must be a \(start, end\) pair"),
    ("drift reference strings", lambda c: c.app.drift(("2024-01-01", "2024-01-02"), WINDOW),
     ValidationError, r"reference must be a \(start, end\) pair"),
    ("drift window backwards", lambda c: c.app.drift((S + DAY, S), LATER), ValidationError,
     r"the reference window ends .* before it starts"),
    ("drift psi_threshold NaN", lambda c: c.app.drift(WINDOW, LATER, psi_threshold=NAN),
     ValidationError, r"psi_threshold must be a finite number"),
    ("drift psi_threshold string", lambda c: c.app.drift(WINDOW, LATER, psi_threshold="x"),
     ValidationError, r"psi_threshold must be a finite number"),
    ("drift psi_threshold negative", lambda c: c.app.drift(WINDOW, LATER, psi_threshold=-1),
     ValidationError, r"psi_threshold"),
    ("drift js_threshold None", lambda c: c.app.drift(WINDOW, LATER, js_threshold=None),
     ValidationError, r"js_threshold must be a finite number from 0 to 1"),
    ("drift js_threshold inf", lambda c: c.app.drift(WINDOW, LATER, js_threshold=INF),
     ValidationError, r"js_threshold"),
    ("drift dataset version number", lambda c: c.app.drift((c.dataset, 5), WINDOW),
     ValidationError, r"reference version must be a version id"),
    ("drift empty window", lambda c: c.app.drift((S - 9 * DAY, S - 8 * DAY), WINDOW),
     ValidationError, r"no values of .* pick a window"),
    ("drift fields unknown", lambda c: c.app.drift(WINDOW, LATER, fields=["x"]),
     ValidationError, r"unknown field 'x'"),
    ("drift_over_time interval 999999999 days", lambda c: c.app.drift_over_time(
        WINDOW, interval=timedelta(days=999_999_999)), ValidationError, r"too long"),
    ("drift_over_time interval 1 microsecond", lambda c: c.app.drift_over_time(
        WINDOW, interval=timedelta(microseconds=1)), ValidationError, r"at most 100,000"),
    ("drift_over_time tests string", lambda c: c.app.drift_over_time(WINDOW, tests="no"),
     ValidationError, r"tests must be True or False"),
    ("drift_over_time start past 9999", lambda c: c.app.drift_over_time(WINDOW,
                                                                       start_time=HIGH),
     ValidationError, r"start_time .* outside the datetime range"),
    ("drift_over_time psi NaN", lambda c: c.app.drift_over_time(WINDOW, psi_threshold=NAN),
     ValidationError, r"psi_threshold"),
    ("dataset drift version number", lambda c: monitoring.dataset_drift(c.dataset, 5), ValidationError,
     r"version a must be a version id"),
    ("dataset drift fields number",
     lambda c: monitoring.dataset_drift(c.dataset, None, fields=5), ValidationError,
     r"fields must be a non-empty list"),
    ("dataset drift unknown version",
     lambda c: monitoring.dataset_drift(c.dataset, "ffffffffff"), NotFoundError,
     r"ffffffffff"),
    # -- report ------------------------------------------------------------------------------------
    ("report path number", lambda c: c.app.report(path=5), ValidationError,
     r"path must be a file path"),
    ("report path None", lambda c: c.app.report(path=None), ValidationError,
     r"path must be a file path"),
    ("report path empty", lambda c: c.app.report(path=""), ValidationError,
     r"path must be a file path"),
    ("report path NUL", lambda c: c.app.report(path=str(c.folder / "a\x00b.html")),
     ValidationError, r"NUL"),
    ("report path a folder", lambda c: c.app.report(path=c.db.parent), ValidationError,
     r"is a folder"),
    ("report path under a file", lambda c: c.app.report(path=c.db / "r.html"),
     ValidationError, r"is a file, not a folder"),
    ("report interval string", lambda c: c.app.report(path=c.folder / "r.html", interval="x"),
     ValidationError, r"interval must be a positive timedelta"),
    ("report interval 999999999 days", lambda c: c.app.report(
        path=c.folder / "r.html", interval=timedelta(days=999_999_999)), ValidationError,
     r"too long"),
    ("report interval 1 microsecond", lambda c: c.app.report(
        path=c.folder / "r.html", interval=timedelta(microseconds=1)), ValidationError,
     r"at most 100,000"),
    ("report start past 9999", lambda c: c.app.report(path=c.folder / "r.html",
                                                      start_time=HIGH),
     ValidationError, r"outside the datetime range"),
    # -- evaluate ----------------------------------------------------------------------------------
    ("evaluate dataset number", lambda c: evaluate(c, dataset=123), ValidationError,
     r"dataset must be a dataset name or a Dataset"),
    ("evaluate dataset None", lambda c: evaluate(c, dataset=None), ValidationError,
     r"dataset must be a dataset name or a Dataset"),
    ("evaluate dataset missing", lambda c: evaluate(c, dataset="nope"), NotFoundError,
     r"no dataset 'nope'"),
    ("evaluate version number", lambda c: evaluate(c, version_id=5), ValidationError,
     r"version id"),
    ("evaluate candidates list", lambda c: evaluate(c, candidates=[one]), ValidationError,
     r"candidates must be a dict"),
    ("evaluate candidates empty", lambda c: evaluate(c, candidates={}), ValidationError,
     r"candidates must be a dict"),
    ("evaluate candidate name number", lambda c: evaluate(c, candidates={1: one}),
     ValidationError, r"candidate name must be a string"),
    ("evaluate candidate not callable", lambda c: evaluate(c, candidates={"a": 5}),
     ValidationError, r"candidate 'a' must be a callable"),
    ("evaluate metrics number", lambda c: evaluate(c, metrics=5), ValidationError,
     r"metrics must be a list of names"),
    ("evaluate metrics [None]", lambda c: evaluate(c, metrics=[None]), ValidationError,
     r"unknown metric None"),
    ("evaluate metrics unknown", lambda c: evaluate(c, metrics=["acc"]), ValidationError,
     r"unknown metric 'acc'; known metrics: accuracy"),
    ("evaluate metrics duplicated", lambda c: evaluate(c, metrics=["mae", "mae"]),
     ValidationError, r"metric names must be unique"),
    ("evaluate inputs number", lambda c: evaluate(c, inputs=5), ValidationError,
     r"inputs must be a non-empty list"),
    ("evaluate inputs [5]", lambda c: evaluate(c, inputs=[5]), ValidationError,
     r"inputs must be a non-empty list"),
    ("evaluate inputs unknown", lambda c: evaluate(c, inputs=["z"]), ValidationError,
     r"no input column 'z'"),
    ("evaluate reference number", lambda c: evaluate(c, reference=5), ValidationError,
     r"reference must be a column name"),
    ("evaluate reference unknown", lambda c: evaluate(c, reference="z"), ValidationError,
     r"no reference column 'z'"),
    ("evaluate judge number", lambda c: evaluate(c, judge=5), ValidationError,
     r"judge must be a ScoreJudge or a PairwiseJudge"),
    ("evaluate alpha NaN", lambda c: evaluate(c, alpha=NAN), ValidationError, r"alpha"),
    ("evaluate alpha string", lambda c: evaluate(c, alpha="0.05"), ValidationError, r"alpha"),
    ("evaluate seed negative", lambda c: evaluate(c, seed=-1), ValidationError, r"seed"),
    ("evaluate seed 2**64", lambda c: evaluate(c, seed=2**64), ValidationError,
     r"seed must be an integer from 0 to 2\*\*64 - 1, got 18446744073709551616"),
    ("evaluate seed 2**20000", lambda c: evaluate(c, seed=2**20000), ValidationError,
     r"seed must be .* got an integer of 20001 bits"),
    ("evaluate n_resamples huge", lambda c: evaluate(c, n_resamples=10**12), ValidationError,
     r"n_resamples must be an integer from 100 to 1,000,000"),
    ("evaluate n_resamples float", lambda c: evaluate(c, n_resamples=1e4), ValidationError,
     r"n_resamples"),
    ("evaluate workers huge", lambda c: evaluate(c, workers=10**9), ValidationError,
     r"workers must be an integer from 1 to 256"),
    ("evaluate workers zero", lambda c: evaluate(c, workers=0), ValidationError, r"workers"),
    ("evaluate timeout NaN", lambda c: evaluate(c, timeout=NAN), ValidationError,
     r"timeout must be positive seconds"),
    ("evaluate timeout inf", lambda c: evaluate(c, timeout=INF), ValidationError,
     r"timeout must be positive seconds"),
    ("evaluate timeout True", lambda c: evaluate(c, timeout=True), ValidationError,
     r"timeout must be positive seconds"),
    ("evaluate retries huge", lambda c: evaluate(c, retries=10**9), ValidationError,
     r"retries must be an integer from 0 to 100"),
    ("evaluate backoff NaN", lambda c: evaluate(c, backoff=NAN), ValidationError,
     r"backoff must be seconds"),
    ("evaluate backoff inf", lambda c: evaluate(c, backoff=INF), ValidationError,
     r"backoff must be seconds"),
    ("evaluate progress string", lambda c: evaluate(c, progress="x"), ValidationError,
     r"progress must be True, False or None"),
    ("evaluate store string", lambda c: evaluate(c, store="no"), ValidationError,
     r"store must be True or False"),
    ("evaluate workspace number", lambda c: evaluate(c, workspace=5), ValidationError,
     r"workspace must be a Workspace"),
    ("evaluate completion version, model not registered", lambda c: evaluate(
        c, candidates={"p": c.prompt}), NotFoundError, r"no model 'no-such-model' is registered"),
    ("evaluate completion version, variable missing", lambda c: evaluate(
        c, candidates={"p": c.question}), ValidationError,
     r"the prompt template needs \['question'\]"),
    ("get_evaluation number", lambda c: gantry.get_evaluation(5, workspace=c.ws),
     ValidationError, r"evaluation_id must be an id"),
    ("get_evaluation None", lambda c: gantry.get_evaluation(None, workspace=c.ws),
     ValidationError, r"evaluation_id must be an id"),
    ("get_evaluation unknown", lambda c: gantry.get_evaluation("nope", workspace=c.ws),
     NotFoundError, r"no evaluation 'nope'"),
    ("list_evaluations dataset number", lambda c: gantry.list_evaluations(5, workspace=c.ws),
     ValidationError, r"dataset must be a dataset name or None"),
    ("Comparison.value unknown metric", lambda c: c.comparison.value("f1", "a"), NotFoundError,
     r"no metric 'f1' for candidate 'a'"),
    ("Comparison.push_rows workspace number", lambda c: c.comparison.push_rows(
        "review", workspace=5), ValidationError, r"workspace must be a Workspace"),
    ("Comparison.push_rows message number", lambda c: c.comparison.push_rows(
        "review", workspace=c.ws, message=5), ValidationError, r"message must be a string"),
    ("Comparison.push_rows bad name", lambda c: c.comparison.push_rows("../x", workspace=c.ws),
     ValidationError, r"name"),
    ("SuiteResult.write_junit number", lambda c: c.suite_result.write_junit(5), ValidationError,
     r"path must be a file path"),
    ("SuiteResult.write_junit folder", lambda c: c.suite_result.write_junit(c.db.parent),
     StorageError, r"cannot write JUnit XML"),
    ("Suite.run workspace number", lambda c: suite().run(5), ValidationError,
     r"workspace must be a Workspace"),
    ("Suite.run application missing", lambda c: suite(candidates={"a": ("nope", "latest")}).run(
        c.ws), NotFoundError, r"nope"),
    ("CompletionVersion.render number", lambda c: c.prompt.render(5), ValidationError,
     r"rendered from a dict of inputs"),
    ("CompletionVersion.render missing variable", lambda c: c.prompt.render({"y": 1}),
     ValidationError, r"needs \['x'\]"),
    ("deploy_version env bad", lambda c: c.ws.get_application("chat").deploy_version(
        c.prompt.id, "../prod"), ValidationError, r"environment"),
    ("deploy_version id not a UUID", lambda c: c.ws.get_application("chat").deploy_version(
        "nope", "prod"), ValidationError, r"version_id must be a version's UUID"),
    ("deploy_version unknown id", lambda c: c.ws.get_application("chat").deploy_version(
        uuid.UUID(int=7), "prod"), NotFoundError,
     r"has no version with id '00000000-0000-0000-0000-000000000007'"),
    # -- metrics, judges and models as objects -----------------------------------------------------
    ("Regex pattern number", lambda c: Regex(5), ValidationError, r"bad pattern 5"),
    ("Regex bad pattern", lambda c: Regex("("), ValidationError, r"bad pattern '\('"),
    ("Regex name number", lambda c: Regex("a", name=5), ValidationError,
     r"name must be a non-empty string"),
    ("Contains number", lambda c: Contains(5), ValidationError, r"Contains takes a string"),
    ("Custom name number", lambda c: Custom(5, one), ValidationError,
     r"name must be a non-empty string"),
    ("Custom fn not callable", lambda c: Custom("m", 5), ValidationError, r"needs a callable"),
    ("Candidate fn not callable", lambda c: Candidate(5), ValidationError, r"needs a callable"),
    ("Candidate version number", lambda c: Candidate(one, version=5), ValidationError,
     r"version must be a non-empty string"),
    ("ScoreJudge scale string", lambda c: ScoreJudge(one, scale="ab"), ValidationError,
     r"scale must be \(low, high\)"),
    ("ScoreJudge scale NaN", lambda c: ScoreJudge(one, scale=(NAN, 5)), ValidationError,
     r"scale must be \(low, high\)"),
    ("ScoreJudge scale inf", lambda c: ScoreJudge(one, scale=(1, INF)), ValidationError,
     r"scale must be \(low, high\)"),
    ("ScoreJudge scale backwards", lambda c: ScoreJudge(one, scale=(5, 1)), ValidationError,
     r"low < high"),
    ("ScoreJudge criteria number", lambda c: ScoreJudge(one, criteria=5), ValidationError,
     r"criteria must be a non-empty string"),
    ("ScoreJudge name number", lambda c: ScoreJudge(one, name=5), ValidationError,
     r"name must be a non-empty string"),
    ("PairwiseJudge name None", lambda c: PairwiseJudge(one, name=None), ValidationError,
     r"name must be a non-empty string"),
    ("OpenAICompatible timeout string", lambda c: OpenAICompatible("http://h", "m",
                                                                   timeout="x"),
     ValidationError, r"timeout must be positive seconds"),
    ("OpenAICompatible timeout NaN", lambda c: OpenAICompatible("http://h", "m", timeout=NAN),
     ValidationError, r"timeout must be positive seconds"),
    ("OpenAICompatible api_key number", lambda c: OpenAICompatible("http://h", "m",
                                                                   api_key=5),
     ValidationError, r"api_key must be a string"),
    ("OpenAICompatible base_url", lambda c: OpenAICompatible("ftp://h", "m"), ValidationError,
     r"base_url must be an http\(s\) URL"),
    ("create_version model_params number", lambda c: c.ws.get_application("chat").create_version(
        "Say {{x}}", "d", "m", model_params=5), ValidationError, r"model_params must be a dict"),
    ("create_version empty template", lambda c: c.ws.get_application("chat").create_version(
        " ", "d", "m"), ValidationError, r"prompt_template must be a non-empty string"),
    ("create_version on a non-completion app", lambda c: c.app.create_version("{{x}}", "d", "m"),
     ValidationError, r"versions need application_type='Completion'"),
    ("get_version object", lambda c: c.ws.get_application("chat").get_version(object()),
     ValidationError, r"version must be a number, 'latest' or an environment"),
    ("register_model not callable", lambda c: c.ws.register_model("m", 5), ValidationError,
     r"must be a callable"),
    # -- suites --------------------------------------------------------------------------------------
    ("Suite max_error_rate string", lambda c: suite(max_error_rate="x"), ValidationError,
     r"max_error_rate must be a number between 0 and 1"),
    ("Suite max_error_rate NaN", lambda c: suite(max_error_rate=NAN), ValidationError,
     r"max_error_rate"),
    ("Suite max_error_rate 2", lambda c: suite(max_error_rate=2), ValidationError,
     r"max_error_rate"),
    ("Suite thresholds number", lambda c: suite(thresholds=5), ValidationError,
     r"thresholds must be a list of strings"),
    ("Suite thresholds string", lambda c: suite(thresholds="accuracy >= 0.5"), ValidationError,
     r"thresholds must be a list of strings"),
    ("Suite threshold malformed", lambda c: suite(thresholds=["accuracy is high"]),
     ValidationError, r"cannot read threshold"),
    ("Suite threshold infinite", lambda c: suite(thresholds=["accuracy >= 1e999"]),
     ValidationError, r"needs a finite value"),
    ("Suite threshold unknown metric", lambda c: suite(thresholds=["f1 >= 0.5"]),
     ValidationError, r"names metric 'f1'"),
    ("Suite threshold unknown candidate", lambda c: suite(thresholds=["z:accuracy >= 0.5"]),
     ValidationError, r"names candidate 'z'"),
    ("Suite no_regression number", lambda c: suite(no_regression=5), ValidationError,
     r"no_regression must be a list of strings"),
    ("Suite no_regression unknown", lambda c: suite(no_regression=["f1"]), ValidationError,
     r"no_regression names 'f1'"),
    ("Suite models number", lambda c: suite(models=5), ValidationError,
     r"models must be a dict"),
    ("Suite model not callable", lambda c: suite(models={"m": 5}), ValidationError,
     r"model 'm' must be a callable"),
    ("Suite model name bad", lambda c: suite(models={"a/b": one}), ValidationError,
     r"suite 's': model name 'a/b' is not allowed"),
    ("Suite model name number", lambda c: suite(models={5: one}), ValidationError,
     r"model name must be a string, got int"),
    ("TOML model not callable", lambda c: toml(c, GOOD_TOML + CANDIDATES
                                               + '[models]\nm = "measuring_toml_models:sep"\n'),
     ValidationError, r"model 'm' must be a callable"),
    ("Suite version_id number", lambda c: suite(version_id=5), ValidationError,
     r"version_id must be a version id"),
    ("Suite alpha string", lambda c: suite(alpha="x"), ValidationError, r"alpha"),
    ("Suite workers huge", lambda c: suite(workers=10**6), ValidationError, r"workers"),
    ("Suite unknown option", lambda c: suite(bogus=1), ValidationError,
     r"unknown option\(s\) \['bogus'\]"),
    ("Suite candidate pair malformed", lambda c: suite(candidates={"a": ("chat",)}),
     ValidationError, r"\(application, version\) pair"),
    ("Suite candidate number", lambda c: suite(candidates={"a": 5}), ValidationError,
     r"candidate 'a' must be a callable"),
    ("Suite name bad", lambda c: suite(name="../x"), ValidationError, r"suite name"),
    ("Suite.from_toml number", lambda c: Suite.from_toml(5), ValidationError,
     r"a suite file is a path"),
    ("Suite.from_toml folder", lambda c: Suite.from_toml(c.db.parent), ValidationError,
     r"cannot read the suite file"),
    ("Suite.from_toml missing", lambda c: Suite.from_toml(c.db.parent / "no.toml"),
     NotFoundError, r"no suite file"),
    ("TOML thresholds = 5", lambda c: toml(c, GOOD_TOML + "thresholds = 5\n" + CANDIDATES),
     ValidationError, r"thresholds must be a list of strings"),
    ("TOML candidates = 5", lambda c: toml(c, GOOD_TOML + "candidates = 5\n"), ValidationError,
     r"candidates must be a table"),
    ("TOML metrics = 5", lambda c: toml(c, 'name = "s"\ndataset = "rows"\nmetrics = 5\n'
                                        + CANDIDATES), ValidationError, r"metrics must be a list"),
    ("TOML models = 5", lambda c: toml(c, GOOD_TOML + "models = 5\n" + CANDIDATES),
     ValidationError, r"models must be a table"),
    ("TOML max_error_rate string", lambda c: toml(c, GOOD_TOML + 'max_error_rate = "x"\n'
                                                  + CANDIDATES),
     ValidationError, r"max_error_rate must be a number"),
    ("TOML alpha string", lambda c: toml(c, GOOD_TOML + 'alpha = "x"\n' + CANDIDATES),
     ValidationError, r"alpha"),
    ("TOML unknown field", lambda c: toml(c, GOOD_TOML + "colour = 1\n" + CANDIDATES),
     ValidationError, r"unknown field\(s\) \['colour'\]"),
    ("TOML missing dataset", lambda c: toml(c, 'name = "s"\n' + CANDIDATES), ValidationError,
     r"missing 'dataset'"),
    ("TOML candidate callable number", lambda c: toml(c, GOOD_TOML + "[candidates]\n"
                                                      "a = { callable = 5 }\n"),
     ValidationError, r"not an import path"),
    ("TOML candidate version number", lambda c: toml(
        c, GOOD_TOML + '[candidates]\na = { callable = "measuring_toml_models:one", version = 5 }\n'),
     ValidationError, r"version must be a string"),
    ("TOML candidate outside the folder", lambda c: toml(c, GOOD_TOML + '[candidates]\na = "os:getcwd"\n'),
     ValidationError, r"candidate 'a': 'os:getcwd' names module 'os' \(.*\), " + OUTSIDE
     + r"\. To trust it, pass allow_modules=\['os'\] to Suite.from_toml \(CLI: --allow-module os\)"),
    ("TOML callable outside the folder", lambda c: toml(
        c, GOOD_TOML + '[candidates]\na = { callable = "subprocess:getoutput" }\n'),
     ValidationError, r"names module 'subprocess' \(found at .*subprocess.py\), " + OUTSIDE),
    ("TOML model outside the folder", lambda c: toml(
        c, GOOD_TOML + CANDIDATES + '[models]\nm = "os:system"\n'),
     ValidationError, r"model 'm': 'os:system' names module 'os'"),
    ("TOML built-in module", lambda c: toml(c, GOOD_TOML + '[candidates]\na = "sys:exit"\n'),
     ValidationError, r"names module 'sys' \(built into Python\), " + OUTSIDE),
    ("TOML another module trusted", lambda c: toml(
        c, GOOD_TOML + '[candidates]\na = "os:getcwd"\n', ["os.path"]),
     ValidationError, r"names module 'os'"),
    ("TOML allow_modules a string", lambda c: toml(c, GOOD_TOML + CANDIDATES, "os"),
     ValidationError, r"allow_modules must be a list of module names such as \['mypkg'\], got 'os'"),
    ("TOML allow_modules bad name", lambda c: toml(c, GOOD_TOML + CANDIDATES, ["os/x"]),
     ValidationError, r"allow_modules must be a list of module names"),
    ("TOML allow_modules number", lambda c: toml(c, GOOD_TOML + CANDIDATES, [5]),
     ValidationError, r"allow_modules must be a list of module names"),
    ("TOML candidate application number", lambda c: toml(
        c, GOOD_TOML + "[candidates]\na = { application = 5 }\n"), ValidationError,
     r"\(application, version\) pair"),
    ("TOML candidate relative import", lambda c: toml(c, GOOD_TOML + '[candidates]\na = "..:f"\n'),
     ValidationError, r"cannot import '\.\.:f'"),
    ("TOML candidate missing module", lambda c: toml(
        c, GOOD_TOML + '[candidates]\na = "no_such_module_xyz:f"\n'), NotFoundError,
     r"cannot import 'no_such_module_xyz:f'"),
    ("TOML not UTF-8", lambda c: toml(c, b"\xff\xfe name"), ValidationError,
     r"not valid TOML \(UTF-8\)"),
    ("TOML not TOML", lambda c: toml(c, "name = = 1"), ValidationError, r"not valid TOML"),
    # -- the module functions' first argument ---------------------------------------------------
    ("summarize workspace None", lambda c: monitoring.summarize(None, "shop"), ValidationError,
     r"first argument must be a Workspace, got NoneType"),
    ("summarize workspace str", lambda c: monitoring.summarize("shop", "shop"), ValidationError,
     r"first argument must be a Workspace, got str"),
    ("drift workspace None", lambda c: monitoring.drift(None, "shop", WINDOW, LATER),
     ValidationError, r"first argument must be a Workspace"),
    ("drift_over_time workspace int", lambda c: monitoring.drift_over_time(5, "shop", WINDOW),
     ValidationError, r"first argument must be a Workspace, got int"),
    ("metrics_over_time workspace None", lambda c: monitoring.metrics_over_time(
        None, "shop", ["accuracy"]), ValidationError, r"first argument must be a Workspace"),
    ("dataset_drift dataset None", lambda c: monitoring.dataset_drift(None, None, None),
     ValidationError, r"first argument must be a Dataset.*got NoneType"),
    ("dataset_drift dataset name", lambda c: monitoring.dataset_drift("rows", None, None),
     ValidationError, r"first argument must be a Dataset.*got str"),
    ("list_alerts workspace None", lambda c: list_alerts(None), ValidationError,
     r"first argument must be a Workspace, got NoneType"),
    ("evaluate_monitors workspace str", lambda c: evaluate_monitors("ws", S), ValidationError,
     r"first argument must be a Workspace, got str"),
    ("write_report workspace None", lambda c: write_report(None, "shop", c.folder / "r.html"),
     ValidationError, r"first argument must be a Workspace"),
    ("completion get_version workspace None", lambda c: get_version(None, "chat", "latest"),
     ValidationError, r"first argument must be a Workspace, got NoneType"),
    ("completion list_versions workspace int", lambda c: list_versions(5, "chat"),
     ValidationError, r"first argument must be a Workspace, got int"),
    ("list_evaluations workspace int", lambda c: gantry.evaluation.list_evaluations(
        workspace=5), ValidationError, r"workspace must be a Workspace, got int"),
    ("get_evaluation workspace str", lambda c: gantry.evaluation.get_evaluation(
        "x", workspace="w"), ValidationError, r"workspace must be a Workspace, got str"),
    # -- integers beyond any float (math.isfinite raised OverflowError) -------------------------
    ("drift psi_threshold 2**2000", lambda c: c.app.drift(WINDOW, LATER, psi_threshold=2**2000),
     ValidationError, r"psi_threshold must be a finite number from 0, got an integer of 2001 bits"),
    ("metrics threshold -2**2000", lambda c: c.app.metrics(["percent_true"], "outputs.score",
                                                           threshold=-2**2000),
     ValidationError, r"threshold must be a finite number .* an integer of 2001 bits"),
    ("client timeout 2**2000", lambda c: OpenAICompatible("http://127.0.0.1:1/v1", "m",
                                                          timeout=2**2000),
     ValidationError, r"timeout must be positive seconds"),
    ("ScoreJudge scale to 2**2000", lambda c: ScoreJudge(lambda i, o, k: 1, scale=(0, 2**2000)),
     ValidationError, r"scale must be \(low, high\), finite numbers"),
    # -- integers too long for repr/str (over 4,300 digits raised a plain ValueError) ---------
    ("summarize version 2**20000", lambda c: c.app.summarize(version=2**20000), ValidationError,
     r"version must be at most 1024 characters, got an integer of 20001 bits"),
    ("evaluate alpha 2**20000", lambda c: evaluate(c, alpha=2**20000), ValidationError,
     r"alpha must be a float .* got an integer of 20001 bits"),
    ("evaluate n_resamples 2**20000", lambda c: evaluate(c, n_resamples=2**20000),
     ValidationError, r"n_resamples must be an integer .* got an integer of 20001 bits"),
    ("evaluate workers 2**20000", lambda c: evaluate(c, workers=2**20000), ValidationError,
     r"workers must be an integer .* got an integer of 20001 bits"),
    ("evaluate timeout 2**20000", lambda c: evaluate(c, timeout=2**20000), ValidationError,
     r"timeout must be positive seconds .* got an integer of 20001 bits"),
    ("Suite max_error_rate 2**20000", lambda c: suite(max_error_rate=2**20000), ValidationError,
     r"max_error_rate must be a number between 0 and 1, got an integer of 20001 bits"),
    ("ScoreJudge scale to 2**20000", lambda c: ScoreJudge(lambda i, o, k: 1,
                                                          scale=(0, 2**20000)), ValidationError,
     r"got \(0, an integer of 20001 bits\)"),
    # -- OpenAICompatible: refused before any request (nothing listens on CLIENT's port) ----
    ("chat messages int", lambda c: CLIENT.chat(5), ValidationError,
     r"messages must be a non-empty list.*got int"),
    ("chat messages empty", lambda c: CLIENT.chat([]), ValidationError,
     r"messages must be a non-empty list"),
    ("chat message not a dict", lambda c: CLIENT.chat([5]), ValidationError,
     r"messages\[0\] must be a dict"),
    ("chat message without content", lambda c: CLIENT.chat([{"role": "user"}]), ValidationError,
     r"string 'role' and 'content'"),
    ("chat parameter NaN", lambda c: CLIENT.chat([{"role": "user", "content": "x"}],
                                                 temperature=NAN), ValidationError, r"not JSON"),
    ("chat parameter object", lambda c: CLIENT.chat([{"role": "user", "content": "x"}],
                                                    stop=object()), ValidationError, r"not JSON"),
    ("completion prompt int", lambda c: CLIENT(5), ValidationError, r"prompt must be a string"),
    ("client url unclosed IPv6", lambda c: OpenAICompatible("http://[::1/v1", "m"),
     ValidationError, r"base_url 'http://\[::1/v1' is not a valid URL \(Invalid IPv6 URL\)"),
    ("client url port 99999", lambda c: OpenAICompatible("http://x:99999/v1", "m"),
     ValidationError, r"not a valid URL \(Port out of range"),
    ("client url port 0", lambda c: OpenAICompatible("http://x:0/v1", "m"),
     ValidationError, r"not a valid URL"),
    ("client default parameter NaN", lambda c: OpenAICompatible("http://127.0.0.1:1/v1", "m",
                                                                temperature=INF),
     ValidationError, r"parameters must be JSON"),
]


@pytest.mark.parametrize(("fn", "error", "pattern"), [case[1:] for case in CASES],
                         ids=[case[0] for case in CASES])
def test_bad_input_is_refused_and_nothing_is_stored(ctx: Ctx, fn: Callable[[Ctx], Any],
                                                    error: type[GantryLocalError],
                                                    pattern: str) -> None:
    before = snapshot(ctx)
    with pytest.raises(error, match=pattern):
        fn(ctx)
    assert snapshot(ctx) == before


def test_the_corpus_is_big_enough() -> None:
    assert len(CASES) >= 60
    assert len({case[0] for case in CASES}) == len(CASES)


def test_legal_edge_inputs_round_trip(ctx: Ctx) -> None:
    """The edges just inside the rules work: 100,000 intervals, a threshold of 0, bounds at
    year 9999 in UTC, n_resamples of 100."""
    start = S + timedelta(hours=1)
    table = ctx.app.summarize(interval=timedelta(seconds=1), start_time=start,
                              end_time=start + timedelta(seconds=100_000), fields=["inputs.amount"])
    assert table.height == 100_000
    assert ctx.app.metrics(["percent_true"], "outputs.score", threshold=0)["percent_true"][0] == 1
    far = datetime(9999, 12, 31, tzinfo=timezone.utc)
    assert ctx.app.summarize(end_time=far, interval=timedelta(days=365_000)).height > 0
    result = evaluate(ctx, n_resamples=100, store=False)
    assert result.verdict == "no significant difference"


def test_a_suite_file_runs_code_beside_it_or_what_the_caller_trusts(ctx: Ctx) -> None:
    beside = toml(ctx, GOOD_TOML + CANDIDATES)
    assert beside.candidates["a"]({"x": 1.0}) == 1
    trusted = toml(ctx, GOOD_TOML + '[candidates]\na = "os.path:basename"\nb = { callable = '
                   '"os:fspath", version = "1" }\n[models]\nm = "os:fspath"\n', ["os"])
    assert trusted.candidates["a"] is os.path.basename and trusted.models["m"] is os.fspath
    assert toml(ctx, GOOD_TOML + '[candidates]\na = "os.path:basename"\n',
                ["os.path"]).candidates["a"] is os.path.basename
    # refused before it is imported: the standard library's `this` prints a poem on import
    sys.modules.pop("this", None)
    with pytest.raises(ValidationError, match="names module 'this'"):
        toml(ctx, GOOD_TOML + '[candidates]\na = "this:s"\n')
    assert "this" not in sys.modules
    # a file beside the suite named like a module imported from elsewhere is not what an
    # import would give: refused, naming where the import would come from
    shadow = ctx.db.parent / "suites" / "polars.py"
    shadow.write_text("def one(row):\n    return 1\n")
    try:
        with pytest.raises(ValidationError, match=r"names module 'polars' \(found at .*__init__"):
            toml(ctx, GOOD_TOML + '[candidates]\na = "polars:one"\n')
    finally:
        shadow.unlink()


def test_unstorable_outputs_are_row_errors(ctx: Ctx) -> None:
    """An output that cannot be stored (a lone surrogate, an object) is that row's error."""
    before = snapshot(ctx)
    result = evaluate(ctx, candidates={"a": lambda r: "\ud800", "b": lambda r: object()},
                      metrics=["exact_match"], store=False)
    assert result.errors == {"a": 4, "b": 4}
    assert "not valid Unicode" in result.rows["error.a"][0]
    assert snapshot(ctx) == before


def _exits(row: dict[str, Any]) -> int:
    raise SystemExit(3)


def test_a_candidate_raising_system_exit_is_a_row_error(ctx: Ctx) -> None:
    """SystemExit (any BaseException but KeyboardInterrupt) is the row's error, at once."""
    before = snapshot(ctx)
    started = time.monotonic()
    result = evaluate(ctx, candidates={"a": _exits, "b": one}, store=False, timeout=30)
    assert time.monotonic() - started < 10  # not waiting out the 30s timeout per row
    assert result.errors == {"a": 4, "b": 0}
    assert result.rows["error.a"][0] == "SystemExit: 3"
    assert snapshot(ctx) == before


def test_a_candidate_raising_keyboard_interrupt_stops_the_run(ctx: Ctx) -> None:
    def interrupt(row: dict[str, Any]) -> int:
        raise KeyboardInterrupt

    before = snapshot(ctx)
    with pytest.raises(KeyboardInterrupt):
        evaluate(ctx, candidates={"a": interrupt, "b": one}, timeout=30)
    assert snapshot(ctx) == before


@pytest.mark.parametrize(("candidate", "metric", "message"), [
    (one, Custom("m", lambda row, output: 1 / 0), "m: ZeroDivisionError: division by zero"),
    (one, Custom("m", lambda row, output: 2**2000), "m: metric 'm' is too large for a float"),
    (lambda r: 2**2000, "mse", "integer too large to store"),
    (lambda r: 2**2000, "rmse", "integer too large to store"),
    (lambda r: 2**2000, "accuracy", "integer too large to store"),
    (lambda r: 1e200, "mse", "mse: the squared error is too large for a float"),
    (lambda r: -1e100, "mae", None),
], ids=["custom-raises", "custom-huge", "mse-huge-int", "rmse-huge-int", "accuracy-huge-int",
        "mse-overflow", "mae-in-range"])
def test_metric_failures_are_row_errors(ctx: Ctx, candidate: Any, metric: Any,
                                        message: str | None) -> None:
    """A metric that raises or overflows is that row's error, never the run's."""
    before = snapshot(ctx)
    result = evaluate(ctx, candidates={"a": candidate, "b": one}, metrics=[metric], store=False)
    if message is None:
        assert result.errors["a"] == 0
    else:
        assert result.errors["a"] == 4
        assert message in result.rows["error.a"][0]
    assert snapshot(ctx) == before


def test_judge_and_row_errors_are_gantry_errors() -> None:
    """A server that cannot be reached is a JudgeError, which callers catch as GantryLocalError."""
    with pytest.raises(GantryLocalError, match="cannot reach"):
        CLIENT.chat([{"role": "user", "content": "x"}])
    assert issubclass(JudgeError, GantryLocalError) and issubclass(RowError, GantryLocalError)
