"""evaluate(): candidates on the same rows of a pinned dataset version, through the public API."""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
import polars as pl
import pytest

import gantry_local as gantry
from gantry_local.errors import NotFoundError, ValidationError
from gantry_local.evaluation import (
    IMPROVED,
    NO_DIFFERENCE,
    REGRESSED,
    Candidate,
    PairwiseJudge,
    ScoreJudge,
)


@pytest.fixture
def labelled(ws: gantry.Workspace) -> gantry.Dataset:
    rng = np.random.default_rng(0)
    x = rng.normal(size=500)
    y = (x + rng.normal(scale=0.4, size=500) > 0).astype(int)
    dataset = ws.create_dataset("labelled")
    dataset.push_dataframe(pl.DataFrame({"inputs.x": x, "inputs.id": range(500),
                                         "feedback.label": y}), message="500 rows")
    return dataset


def good(inputs: dict[str, Any]) -> int:
    return int(inputs["x"] > 0)


def poor(inputs: dict[str, Any]) -> int:
    return int(inputs["x"] > 0) if inputs["id"] % 4 else 1 - int(inputs["x"] > 0)


def test_improved_regressed_and_no_difference(ws: gantry.Workspace,
                                              labelled: gantry.Dataset) -> None:
    better = gantry.evaluate("labelled", {"v1": poor, "v2": good}, ["accuracy", "f1"],
                             workspace=ws)
    assert better.verdict == IMPROVED and better.verdicts["v2"]["f1"] == IMPROVED
    assert better.version_id == labelled.resolve(None) and len(better.version_id) == 64
    assert better.value("accuracy", "v2") > better.value("accuracy", "v1")
    worse = gantry.evaluate(labelled, {"v1": good, "v2": poor}, ["accuracy"], workspace=ws)
    assert worse.verdict == REGRESSED
    same = gantry.evaluate(labelled, {"v1": good, "v2": good}, ["accuracy"], workspace=ws)
    assert same.verdict == NO_DIFFERENCE
    assert "accuracy" in str(better) and "improved" in str(better)
    summary = better.to_polars()
    assert summary.filter(pl.col("candidate") == "v2")["verdict"].to_list() == [IMPROVED] * 2


def test_one_candidate_is_a_plain_evaluation(ws: gantry.Workspace,
                                             labelled: gantry.Dataset) -> None:
    result = gantry.evaluate("labelled", {"model": good}, ["accuracy", "precision"], workspace=ws)
    assert result.verdict is None and 0.5 < (result.value("accuracy", "model") or 0) <= 1


def test_every_candidate_sees_the_same_rows_of_the_pinned_version(
        ws: gantry.Workspace, labelled: gantry.Dataset) -> None:
    first = labelled.resolve(None)
    labelled.push_dataframe(pl.DataFrame({"inputs.x": [1.0], "inputs.id": [9],
                                          "feedback.label": [1]}), message="1 row")
    seen: dict[str, list[int]] = {"a": [], "b": []}
    lock = threading.Lock()

    def spy(name: str) -> Any:
        def model(inputs: dict[str, Any]) -> int:
            with lock:
                seen[name].append(inputs["id"])
            return good(inputs)
        return model

    result = gantry.evaluate(labelled, {"a": spy("a"), "b": spy("b")}, ["accuracy"],
                             version_id=first[:12], workspace=ws)
    assert result.version_id == first and result.n_rows == 500
    assert sorted(seen["a"]) == sorted(seen["b"]) == list(range(500))


def test_errors_timeouts_and_retries_are_counted_not_fatal(
        ws: gantry.Workspace, labelled: gantry.Dataset) -> None:
    attempts: dict[int, int] = {}
    lock = threading.Lock()

    def flaky(inputs: dict[str, Any]) -> int:
        with lock:
            attempts[inputs["id"]] = attempts.get(inputs["id"], 0) + 1
            count = attempts[inputs["id"]]
        if inputs["id"] % 50 == 0:
            raise RuntimeError("model exploded")
        if inputs["id"] % 50 == 1 and count == 1:
            raise ConnectionError("flaky network")
        if inputs["id"] == 7:
            time.sleep(0.5)
        return good(inputs)

    result = gantry.evaluate(labelled, {"v1": good, "v2": flaky}, ["accuracy"], workspace=ws,
                             timeout=0.2, retries=1, backoff=0.01)
    assert result.errors == {"v1": 0, "v2": 11}  # 10 explosions and one timeout
    assert result.timeouts["v2"] == 1 and result.retried["v2"] == 21
    errors = result.rows.filter(pl.col("error.v2").is_not_null())["error.v2"].to_list()
    assert sum("model exploded" in e for e in errors) == 10
    assert sum("timed out" in e for e in errors) == 1
    assert "11 row errors" in str(result) and "1 timeouts" in str(result)
    [accuracy] = [r for r in result.results if r.candidate == "v2"]
    assert accuracy.n == 489 and accuracy.n_paired == 489


def test_wrong_output_types_are_row_errors_not_zeros(ws: gantry.Workspace) -> None:
    ws.create_dataset("numbers").push_dataframe(
        pl.DataFrame({"inputs.x": [1.0, 2.0, 3.0, 4.0], "feedback.y": [1.0, 2.0, 3.0, 4.0]}))
    result = gantry.evaluate("numbers", {"m": lambda r: r["x"] if r["x"] < 3 else "three"},
                             ["mae", "rmse"], workspace=ws)
    assert result.errors["m"] == 2 and result.value("mae", "m") == 0.0
    assert [r.n for r in result.results] == [2, 2]
    bad = result.rows.filter(pl.col("error.m").is_not_null())["error.m"].to_list()
    assert all("must be a number" in e or "wrong type" in e for e in bad)


def test_outputs_are_cached_by_version_and_row_content(ws: gantry.Workspace,
                                                       labelled: gantry.Dataset) -> None:
    calls = []

    def model(inputs: dict[str, Any]) -> int:
        calls.append(inputs["id"])
        return good(inputs)

    gantry.evaluate(labelled, {"m": Candidate(model, version="2024-06")}, ["accuracy"],
                    workspace=ws)
    assert len(calls) == 500
    labelled.append_dataframe(pl.DataFrame({"inputs.x": [0.5, -0.5], "inputs.id": [1000, 1001],
                                            "feedback.label": [1, 0]}))
    again = gantry.evaluate(labelled, {"m": Candidate(model, version="2024-06")}, ["accuracy"],
                            workspace=ws)
    assert calls[500:] == [1000, 1001] and again.cached == {"m": 500}
    gantry.evaluate(labelled, {"m": Candidate(model, version="2024-07")}, ["accuracy"],
                    workspace=ws)
    assert len(calls) == 502 + 502  # a new version is called on every row


def test_pairwise_judge_order_is_randomised(ws: gantry.Workspace,
                                            labelled: gantry.Dataset) -> None:
    always_a = PairwiseJudge(lambda inputs, a, b: "a")
    result = gantry.evaluate(labelled, {"v1": poor, "v2": good}, judge=always_a, workspace=ws)
    [pair] = result.pairwise
    assert pair.win_rate == pytest.approx(0.5, abs=0.01) and pair.verdict == NO_DIFFERENCE
    orders = result.rows["pairwise_order.v2"].value_counts()
    assert set(orders["pairwise_order.v2"]) == {"baseline first", "candidate first"}
    prefers_right = PairwiseJudge(
        lambda inputs, a, b: "tie" if a == b else "a" if a == int(inputs["x"] > 0) else "b")
    wins = gantry.evaluate(labelled, {"v1": poor, "v2": good}, judge=prefers_right, workspace=ws)
    assert wins.verdict == IMPROVED
    assert (wins.pairwise[0].wins, wins.pairwise[0].ties, wins.pairwise[0].losses) == (125, 375, 0)


def test_bad_judge_answers_are_row_errors(ws: gantry.Workspace, labelled: gantry.Dataset) -> None:
    rude = PairwiseJudge(lambda inputs, a, b: "both are fine")
    result = gantry.evaluate(labelled, {"v1": poor, "v2": good}, judge=rude, workspace=ws)
    assert result.pairwise[0].errors == 500 and result.errors["v2"] == 500
    scorer = ScoreJudge(lambda inputs, output, criteria: 7 if inputs["id"] == 3 else 4)
    scored = gantry.evaluate(labelled, {"v1": good}, judge=scorer, workspace=ws)
    assert scored.value("judge", "v1") == 4.0 and scored.errors["v1"] == 1


def test_bad_input_is_refused_before_any_call(ws: gantry.Workspace,
                                              labelled: gantry.Dataset) -> None:
    calls: list[int] = []

    def model(inputs: dict[str, Any]) -> int:
        calls.append(1)
        return 1

    with pytest.raises(ValidationError, match="known metrics: accuracy"):
        gantry.evaluate(labelled, {"m": model}, ["acc"], workspace=ws)
    with pytest.raises(ValidationError, match="no reference column 'truth'"):
        gantry.evaluate(labelled, {"m": model}, ["accuracy"], reference="truth", workspace=ws)
    with pytest.raises(ValidationError, match="must be a callable"):
        gantry.evaluate(labelled, {"m": 42}, ["accuracy"], workspace=ws)  # type: ignore[dict-item]
    with pytest.raises(ValidationError, match="candidates must be a dict"):
        gantry.evaluate(labelled, {}, ["accuracy"], workspace=ws)
    with pytest.raises(ValidationError, match="alpha"):
        gantry.evaluate(labelled, {"m": model}, ["accuracy"], alpha=2.0, workspace=ws)
    with pytest.raises(NotFoundError):
        gantry.evaluate("missing", {"m": model}, ["accuracy"], workspace=ws)
    empty = ws.create_dataset("empty")
    empty.push_dataframe(pl.DataFrame({"inputs.x": pl.Series([], dtype=pl.Float64),
                                       "feedback.y": pl.Series([], dtype=pl.Int64)}))
    with pytest.raises(ValidationError, match="has no rows"):
        gantry.evaluate(empty, {"m": model}, ["accuracy"], workspace=ws)
    assert calls == []


def test_stored_listed_and_pushed_for_review(ws: gantry.Workspace,
                                             labelled: gantry.Dataset) -> None:
    result = gantry.evaluate(labelled, {"v1": poor, "v2": good}, ["accuracy"], workspace=ws)
    listed = gantry.list_evaluations(workspace=ws)
    assert listed["id"].to_list() == [result.id] and listed["verdict"].to_list() == [IMPROVED]
    loaded = gantry.get_evaluation(result.id, workspace=ws)
    assert loaded.results == result.results and loaded.rows.equals(result.rows)
    assert loaded.verdict == IMPROVED and str(loaded) == str(result)
    with pytest.raises(NotFoundError):
        gantry.get_evaluation("nope", workspace=ws)
    info = result.push_rows("review", workspace=ws)
    assert ws.get_dataset("review").read(info["version_id"]).height == 500


def test_many_slow_calls_time_out_without_exhausting_the_workers() -> None:
    from gantry_local.evaluation._runner import RunSettings, run_calls

    outcomes = run_calls(lambda i: time.sleep(0.03) or i, list(range(40)),
                         RunSettings(workers=2, timeout=0.02, retries=0, progress=False))
    assert [o.error for o in outcomes] == ["timed out after 0.02s"] * 40  # none "not run"
    assert all(o.attempts == 1 and o.timed_out for o in outcomes)
