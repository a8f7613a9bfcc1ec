"""Gantry's ``gantry.query.metric`` and ``gantry.query.distance`` (gantry/query/metric/main.py,
gantry/query/core/metric.py, gantry/query/distance/main.py, gantry/query/core/distance.py):
the same names, arguments and return shapes, checked against scikit-learn and scipy."""

from __future__ import annotations

import datetime
import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import ks_2samp
from sklearn import metrics as sk

import gantry_local as gantry
import gantry_local.query as gquery
from gantry_local.errors import NotSupportedError, ValidationError

NOW = datetime.datetime(2024, 3, 1, 12, tzinfo=datetime.timezone.utc)
RNG = np.random.default_rng(7)
N = 40
LABELS = RNG.integers(0, 2, N).tolist()
PREDICTED = [label if RNG.random() < 0.8 else 1 - label for label in LABELS]
SCORES = [round(float(0.6 * label + 0.4 * RNG.random()), 4) for label in LABELS]
TARGET = [round(float(v), 3) for v in RNG.normal(10, 2, N)]
ESTIMATE = [round(t + float(RNG.normal(0, 1)), 3) for t in TARGET]


@pytest.fixture
def model(tmp_path: Path) -> Iterator[gantry.Application]:
    """N predictions over the last N hours, each with its feedback; one without feedback."""
    ws = gantry.init(db=tmp_path / "m.duckdb", clock=gantry.ManualClock(NOW))
    app = gantry.create_application("model")
    keys = [f"k{i}" for i in range(N)]
    app.log_records(inputs=[{"i": i} for i in range(N)],
                    outputs=[{"label": p, "score": s, "estimate": e}
                             for p, s, e in zip(PREDICTED, SCORES, ESTIMATE, strict=True)],
                    timestamps=[NOW - datetime.timedelta(hours=N - i) for i in range(N)],
                    join_keys=keys)
    app.log_records(feedbacks=[{"label": t, "target": v} for t, v in zip(LABELS, TARGET,
                                                                          strict=True)],
                    join_keys=keys)
    app.log_record(inputs={"i": -1}, outputs={"label": 1, "score": 0.5, "estimate": 1.0},
                   timestamp=NOW - datetime.timedelta(minutes=1))
    yield app
    ws.close()


def _one(frame: pd.DataFrame, stat: str) -> float:
    assert list(frame.columns) == [stat] and frame.index.name == "timestamp"
    return float(frame[stat].iloc[0])


def test_classification_metrics_match_sklearn(model: gantry.Application) -> None:
    df = gquery.query("model", start_time="-3D")
    out, fb = df["outputs.label"], df["feedback.label"]
    accuracy = sk.accuracy_score(LABELS, PREDICTED)
    assert _one(gquery.metric.accuracy_score(out, fb), "accuracy_score") == pytest.approx(accuracy)
    for name in ("f1_score", "precision_score", "recall_score"):
        expected = getattr(sk, name)(LABELS, PREDICTED, average="micro")
        assert _one(getattr(gquery.metric, name)(out, fb), name) == pytest.approx(expected)
    matrix = gquery.metric.confusion_matrix(out, fb)["confusion_matrix"].iloc[0]
    assert matrix == sk.confusion_matrix(LABELS, PREDICTED).tolist()
    auc = gquery.metric.roc_auc_score(df["outputs.score"], fb)
    assert _one(auc, "roc_auc_score") == pytest.approx(sk.roc_auc_score(LABELS, SCORES))


def test_regression_metrics_match_sklearn(model: gantry.Application) -> None:
    df = gquery.query("model", start_time="-3D")
    est, target = df["outputs.estimate"], df["feedback.target"]
    mse = gquery.metric.mean_squared_error(est, target)
    assert _one(mse, "mean_squared_error") == pytest.approx(sk.mean_squared_error(TARGET,
                                                                                  ESTIMATE))
    rmse = gquery.metric.mean_squared_error(est, target, squared=False)
    assert _one(rmse, "mean_squared_error") == pytest.approx(
        math.sqrt(sk.mean_squared_error(TARGET, ESTIMATE)))
    assert _one(gquery.metric.r2_score(est, target), "r2_score") == pytest.approx(
        sk.r2_score(TARGET, ESTIMATE))


def test_num_points_split_the_window_and_dropna(model: gantry.Application) -> None:
    df = gquery.query("model", start_time="-3D")  # 72 hours: the records fill the last 40
    frame = gquery.metric.accuracy_score(df["outputs.label"], df["feedback.label"],
                                         num_points=3)
    assert list(frame.index) == [NOW - datetime.timedelta(hours=72 - 24 * k) for k in range(3)]
    assert math.isnan(frame["accuracy_score"].iloc[0])  # no records in the first day
    kept = gquery.metric.accuracy_score(df["outputs.label"], df["feedback.label"],
                                        num_points=3, dropna=True)
    assert len(kept) == 2
    first = [p == t for i, (p, t) in enumerate(zip(PREDICTED, LABELS, strict=True)) if N - i > 24]
    assert kept["accuracy_score"].iloc[0] == pytest.approx(np.mean(first))


def test_metrics_follow_the_frames_filters(model: gantry.Application) -> None:
    df = gquery.query("model", start_time="-3D")
    late = df[df["inputs.i"] >= 20]
    value = _one(gquery.metric.accuracy_score(late["outputs.label"], late["feedback.label"]),
                 "accuracy_score")
    assert value == pytest.approx(sk.accuracy_score(LABELS[20:], PREDICTED[20:]))
    with pytest.raises(ValidationError, match="do not have the same filters"):
        gquery.metric.accuracy_score(late["outputs.label"], df["feedback.label"])


@pytest.mark.parametrize(("call", "error", "message"), [
    (lambda df: gquery.metric.accuracy_score(df["outputs.estimate"], df["feedback.target"]),
     NotSupportedError, "accuracy_score needs outputs that are not floats"),
    (lambda df: gquery.metric.r2_score(df["outputs.label"], df["feedback.label"]),
     NotSupportedError, "r2_score needs float outputs"),
    (lambda df: gquery.metric.roc_auc_score(df["outputs.estimate"], df["feedback.target"]),
     NotSupportedError, "roc_auc_score needs float outputs"),
    (lambda df: gquery.metric.accuracy_score("outputs.label", df["feedback.label"]),
     ValidationError, "outputs must be a GantrySeries"),
    (lambda df: gquery.metric.accuracy_score(df["outputs.label"], df["feedback.label"],
                                             num_points=0),
     ValidationError, "num_points must be greater than 0"),
    (lambda df: gquery.metric.f1_score(df["outputs.label"], df["feedback.label"],
                                       average="macro"), ValidationError, "average must be"),
    (lambda df: gquery.distance.d1(df["inputs.i"], df["outputs.label"].parent_dataframe),
     ValidationError, "feat2 must be a GantrySeries"),
    (lambda df: gquery.distance.ks(df[df["inputs.i"] > 999]["inputs.i"], df["inputs.i"]),
     ValidationError, "'inputs.i' has no values"),
])
def test_bad_metric_calls(model: gantry.Application, call: object, error: type[Exception],
                          message: str) -> None:
    with pytest.raises(error, match=message):
        call(gquery.query("model", start_time="-3D"))  # type: ignore[operator]


def test_distances(model: gantry.Application) -> None:
    df = gquery.query("model", start_time="-3D")
    early = df[(df["inputs.i"] >= 0) & (df["inputs.i"] < 20)]
    late = df[df["inputs.i"] >= 20]
    same = gquery.distance.d1(df["outputs.score"], df["outputs.score"])
    assert same == 0 and gquery.distance.dinf(df["outputs.score"], df["outputs.score"]) == 0
    assert gquery.distance.kl(df["outputs.score"], df["outputs.score"]) == pytest.approx(0)
    a, b = SCORES[:20], SCORES[20:]
    assert gquery.distance.ks(early["outputs.score"], late["outputs.score"]) == pytest.approx(
        ks_2samp(a, b).statistic)
    d1 = gquery.distance.d1(early["outputs.label"], late["outputs.label"])
    pa, pb = np.mean(PREDICTED[:20]), np.mean(PREDICTED[20:])
    assert d1 == pytest.approx(2 * abs(pa - pb))  # two values: |Δp| counted twice
    assert 0 <= gquery.distance.dinf(early["outputs.score"], late["outputs.score"]) <= 1
    assert gquery.distance.kl(early["outputs.score"], late["outputs.score"]) > 0


def test_percent_metrics_of_one_series(tmp_path: Path) -> None:
    ws = gantry.init(db=tmp_path / "p.duckdb", clock=gantry.ManualClock(NOW))
    try:
        app = gantry.create_application("flags")
        flags = [True, True, False, None, True, None, False, True]
        app.log_records(inputs=[{"i": i} for i in range(8)],
                        outputs=[{"ok": f} for f in flags],
                        timestamps=[NOW - datetime.timedelta(hours=8 - i) for i in range(8)])
        df = gquery.query("flags", start_time="-8h")
        ok = df["outputs.ok"]
        null = gquery.metric.percent_null(ok)
        assert list(null.columns) == ["percent_null"] and null.index.name == "timestamp"
        assert null["percent_null"].iloc[0] == pytest.approx(2 / 8)
        assert gquery.metric.percent_true(ok)["percent_true"].iloc[0] == pytest.approx(4 / 8)
        assert gquery.metric.percent_true(ok, dropna=True)["percent_true"].iloc[0] == \
            pytest.approx(4 / 6)
        assert gquery.metric.percent_false(ok)["percent_false"].iloc[0] == pytest.approx(2 / 8)
        halves = gquery.metric.percent_true(ok, num_points=2)
        assert list(halves.index) == [NOW - datetime.timedelta(hours=8),
                                      NOW - datetime.timedelta(hours=4)]
        assert list(halves["percent_true"]) == pytest.approx([2 / 4, 2 / 4])
        with pytest.warns(UserWarning, match="'dropna' parameter is no longer valid"):
            gquery.metric.percent_null(ok, dropna=True)
        with pytest.raises(ValidationError, match="bool"):
            gquery.metric.percent_true(df["inputs.i"])
        with pytest.raises(ValidationError, match="num_points must be greater than 0"):
            gquery.metric.percent_false(ok, num_points=0)
        with pytest.raises(ValidationError, match="data_node must be a GantrySeries"):
            gquery.metric.percent_null([True])
    finally:
        ws.close()
