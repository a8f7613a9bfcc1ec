"""Bad-input corpus for this round's evaluation entry points: EvaluationSettings, Candidate's
artifact and training data, positive_label, Suite.run(cache=), app.metrics(positive_label=,
threshold=). Each is refused with a GantryLocalError naming what to do, and nothing is stored."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

import gantry_local as gantry
from gantry_local.errors import GantryLocalError, NotFoundError, ValidationError
from gantry_local.evaluation import Candidate, EvaluationSettings
from gantry_local.evaluation.suites import Suite


@dataclass
class Ctx:
    ws: gantry.Workspace
    app: gantry.Application
    folder: Path


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ctx]:
    folder = tmp_path_factory.mktemp("evaluation-corpus")
    ws = gantry.Workspace(db=folder / "e.duckdb", storage=str(folder / "store"))
    ws.create_dataset("labels").push_dataframe(pl.DataFrame({
        "inputs.x": np.arange(10.0), "feedback.y": [i % 2 for i in range(10)]}))
    ws.create_dataset("digits").push_dataframe(pl.DataFrame({
        "inputs.x": np.arange(10.0), "feedback.y": list(range(10))}))
    app = ws.create_application("m")
    app.log_records(inputs=[{"x": i} for i in range(6)], outputs=[{"p": i / 7} for i in range(6)],
                    feedbacks=[{"y": i % 3} for i in range(6)])
    ws.flush()
    yield Ctx(ws, app, folder)
    ws.close()


def one(row: dict[str, Any]) -> int:
    return 1


def run(ctx: Ctx, model: Any = one, dataset: str = "labels", **options: Any) -> Any:
    return gantry.evaluate(dataset, {"m": model}, ["accuracy"], workspace=ctx.ws, **options)


CASES: list[tuple[str, Callable[[Ctx], Any], type[GantryLocalError], str]] = [
    ("settings alpha 0.7", lambda c: EvaluationSettings(alpha=0.7), ValidationError,
     r"alpha must be a float between 0 and 0.5"),
    ("settings cache string", lambda c: EvaluationSettings(cache="no"), ValidationError,
     r"cache must be True or False"),
    ("settings store None", lambda c: EvaluationSettings(store=None), ValidationError,
     r"store must be True or False"),
    ("settings workers 0", lambda c: EvaluationSettings(workers=0), ValidationError,
     r"workers must be an integer from 1"),
    ("settings positive_label list", lambda c: EvaluationSettings(positive_label=[1]),
     ValidationError, r"positive_label must be a label"),
    ("settings positive_label huge", lambda c: EvaluationSettings(positive_label=2**70),
     ValidationError, r"positive_label must be a label"),
    ("settings replace unknown", lambda c: EvaluationSettings().replace(seeds=1), ValidationError,
     r"unknown evaluation setting\(s\) \['seeds'\]"),
    ("evaluate settings wrong type", lambda c: run(c, settings={"alpha": 0.1}), ValidationError,
     r"settings must be an EvaluationSettings"),
    ("evaluate unknown option", lambda c: run(c, cach=False), ValidationError,
     r"unknown evaluation setting\(s\) \['cach'\]"),
    ("evaluate cache None", lambda c: run(c, cache=None), ValidationError,
     r"cache must be True or False"),
    ("evaluate positive_label not a class", lambda c: run(c, positive_label=7), ValidationError,
     r"positive_label=7 is not one of the classes"),
    ("evaluate positive_label with 10 classes", lambda c: run(c, dataset="digits",
                                                            positive_label=1),
     ValidationError, r"a positive class needs two"),
    ("evaluate score into accuracy", lambda c: run(c, lambda r: 0.25), ValidationError,
     r"continuous numbers \(e.g. 0.25\)"),
    ("evaluate roc_auc on 10 classes", lambda c: gantry.evaluate(
        "digits", {"m": lambda r: 0.5}, ["roc_auc"], workspace=c.ws), ValidationError,
     r"roc_auc needs two classes"),
    ("Candidate artifact int", lambda c: Candidate(one, artifact=5), ValidationError,
     r"artifact must be the model file's path or its bytes"),
    ("Candidate artifact missing file", lambda c: Candidate(one, artifact=c.folder / "nope.pkl"),
     NotFoundError, r"no model artifact"),
    ("Candidate artifact empty path", lambda c: Candidate(one, artifact=""), ValidationError,
     r"artifact must be the model file's path"),
    ("Candidate training_data int", lambda c: Candidate(one, training_data=5), ValidationError,
     r"training_data must be a dataset name, a Dataset or a \(name, version_id\) pair"),
    ("Candidate training_data triple", lambda c: Candidate(one, training_data=("a", "b", "c")),
     ValidationError, r"training_data must be"),
    ("evaluate training_data unknown dataset", lambda c: run(c, Candidate(
        one, training_data="no-such")), NotFoundError, r"no-such"),
    ("Suite.run cache string", lambda c: Suite("s", "labels", {"m": one}, ["accuracy"]).run(
        c.ws, cache="no"), ValidationError, r"cache must be True, False or None"),
    ("Suite settings wrong type", lambda c: Suite("s", "labels", {"m": one}, ["accuracy"],
                                                  settings=5), ValidationError,
     r"settings must be an EvaluationSettings"),
    ("Suite option unknown", lambda c: Suite("s", "labels", {"m": one}, ["accuracy"],
                                             cach=False), ValidationError,
     r"unknown option\(s\) \['cach'\]"),
    ("metrics score without threshold", lambda c: c.app.metrics(["accuracy"]), ValidationError,
     r"threshold="),
    ("metrics threshold with 3 classes", lambda c: c.app.metrics(["f1"], threshold=0.5),
     ValidationError, r"need two classes"),
    ("metrics positive_label dict", lambda c: c.app.metrics(["f1"], positive_label={}),
     ValidationError, r"positive_label must be a label"),
]


def snapshot(ctx: Ctx) -> tuple[int, int, int]:
    with ctx.ws.database.cursor() as con:
        evaluations = con.execute("SELECT count(*) FROM _gl_evaluations").fetchall()[0][0]
        cached = con.execute("SELECT count(*) FROM _gl_eval_cache").fetchall()[0][0]
    return evaluations, cached, ctx.app.query(all_time=True).count()


@pytest.mark.parametrize(("name", "fn", "error", "pattern"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_refused_and_nothing_is_stored(ctx: Ctx, name: str, fn: Callable[[Ctx], Any],
                                                    error: type[GantryLocalError],
                                                    pattern: str) -> None:
    before = snapshot(ctx)
    with pytest.raises(error, match=pattern):
        fn(ctx)
    assert snapshot(ctx) == before


def test_legal_edges_round_trip(ctx: Ctx, tmp_path: Path) -> None:
    """Just inside the rules: bytes and a path give the same version; a stated positive class
    among two; cache=False still stores the result."""
    artifact = tmp_path / "model.bin"
    artifact.write_bytes(b"weights")
    assert Candidate(one, artifact=artifact).version == Candidate(one, artifact=b"weights").version
    assert Candidate(one, "v2", artifact=b"w").version.startswith("v2@sha256:")
    result = run(ctx, positive_label=0, cache=False, store=False)
    assert result.labels["positive_label"] == 0
    table = ctx.app.metrics(["percent_true"], "outputs.p", threshold=0)
    assert table["percent_true"][0] == 1
