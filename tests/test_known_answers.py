"""Every number is right: known answers (numpy/scipy formulas) for the cases issue 11 found wrong."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

import gantry_local as gantry

S = datetime(2024, 1, 1, tzinfo=timezone.utc)


def _r2(y: np.ndarray[Any, Any], f: np.ndarray[Any, Any]) -> float:
    """scikit-learn's r2_score, from centred sums."""
    return float(1 - np.sum((y - f) ** 2) / np.sum((y - y.mean()) ** 2))


def _regression_set(ws: gantry.Workspace, name: str, y: np.ndarray[Any, Any]) -> None:
    ws.create_dataset(name).push_dataframe(pl.DataFrame({"inputs.i": np.arange(y.size),
                                                         "feedback.y": y}))


# -- 1. r2 far from zero -------------------------------------------------------------------------


def test_evaluate_r2_far_from_zero_is_exact(ws: gantry.Workspace) -> None:
    y = 1e8 + np.arange(5.0)
    f = y + np.array([0.1, -0.1, 0.2, -0.2, 0.0])
    _regression_set(ws, "far", y)
    result = gantry.evaluate("far", {"a": lambda row: float(f[row["i"]])}, ["r2", "rmse"],
                             workspace=ws, store=False)
    assert result.value("r2", "a") == pytest.approx(0.99, abs=1e-9)
    assert result.value("rmse", "a") == pytest.approx(math.sqrt(0.02), rel=1e-9)


def test_evaluate_r2_of_noise_far_from_zero_and_its_bootstrap(ws: gantry.Workspace) -> None:
    rng = np.random.default_rng(3)
    y = 1e8 + rng.normal(size=300)
    good = y + rng.normal(scale=0.3, size=300)
    bad = y + rng.normal(scale=0.6, size=300)
    _regression_set(ws, "noise", y)
    result = gantry.evaluate("noise", {"bad": lambda r: float(bad[r["i"]]),
                                       "good": lambda r: float(good[r["i"]])}, ["r2"],
                             workspace=ws, store=False, n_resamples=500)
    assert result.value("r2", "good") == pytest.approx(_r2(y, good), abs=1e-9)
    assert result.value("r2", "bad") == pytest.approx(_r2(y, bad), abs=1e-9)
    challenger = next(r for r in result.results if r.candidate == "good")
    assert challenger.ci_low is not None and challenger.ci_high is not None
    assert 0 < challenger.ci_low < challenger.difference < challenger.ci_high
    assert result.verdict == gantry.evaluation.IMPROVED


def test_app_metrics_r2_far_from_zero(app: gantry.Application) -> None:
    y = 1e8 + np.arange(5.0)
    f = y + np.array([0.1, -0.1, 0.2, -0.2, 0.0])
    app.log_records(inputs=[{"i": i} for i in range(5)], outputs=[{"y": float(v)} for v in f],
                    feedbacks=[{"y": float(v)} for v in y], timestamps=[S] * 5)
    table = app.metrics(["r2", "mse", "mae"])
    assert table["r2"][0] == pytest.approx(0.99, abs=1e-9)
    assert table["mse"][0] == pytest.approx(0.02, rel=1e-6)
    assert table["mae"][0] == pytest.approx(0.12, rel=1e-6)


# -- 2. the threshold applies to scores only ------------------------------------------------------


def _prf(predicted: np.ndarray[Any, Any], actual: np.ndarray[Any, Any]) -> tuple[float, ...]:
    tp = float(np.sum(predicted & actual))
    precision = tp / np.sum(predicted)
    recall = tp / np.sum(actual)
    return precision, recall, 2 * precision * recall / (precision + recall)


def test_metrics_threshold_applies_to_scores_not_labels(app: gantry.Application) -> None:
    rng = np.random.default_rng(0)
    scores = rng.uniform(0, 100, 400)
    labels = (scores + rng.normal(0, 15, 400)) >= 50
    app.log_records(inputs=[{"x": 1}] * 400, outputs=[{"score": float(s)} for s in scores],
                    feedbacks=[{"label": int(v)} for v in labels], timestamps=[S] * 400)
    table = app.metrics(["precision", "recall", "f1"], threshold=50)
    expected = _prf(scores >= 50, labels)
    assert [table[m][0] for m in ("precision", "recall", "f1")] == pytest.approx(expected)
    assert 0.8 < expected[0] < 0.9  # the issue's 0.83 / 0.85 / 0.84, not 0 / None / 0
    at_70 = app.metrics(["precision", "recall"], threshold=70)
    assert [at_70[m][0] for m in ("precision", "recall")] == pytest.approx(
        _prf(scores >= 70, labels)[:2])


def test_metrics_threshold_leaves_boolean_outputs_alone(app: gantry.Application) -> None:
    outputs = [True, True, False, False, True]
    labels = [True, False, False, True, True]
    app.log_records(inputs=[{"x": 1}] * 5, outputs=[{"flag": v} for v in outputs],
                    feedbacks=[{"fraud": v} for v in labels], timestamps=[S] * 5)
    table = app.metrics(["precision", "recall", "percent_true"], threshold=50)
    assert table["precision"][0] == pytest.approx(2 / 3)
    assert table["recall"][0] == pytest.approx(2 / 3)
    assert table["percent_true"][0] == pytest.approx(0.6)


def test_metrics_leave_nan_out_as_missing(app: gantry.Application) -> None:
    outputs = [1.0, float("nan"), 3.0, 4.0]
    labels = [1.5, 2.0, float("nan"), 5.0]
    app.log_records(inputs=[{"x": 1}] * 4, outputs=[{"y": v} for v in outputs],
                    feedbacks=[{"y": v} for v in labels], timestamps=[S] * 4)
    table = app.metrics(["mae", "mse", "percent_null"])
    assert table["rows_with_feedback"][0] == 2
    assert table["mae"][0] == pytest.approx(0.75)
    assert table["mse"][0] == pytest.approx(0.625)
    assert table["percent_null"][0] == pytest.approx(0.25)


# -- 3. infinities in drift: binned, never formatted into SQL -----------------------------------


@pytest.fixture
def infinite_reference(app: gantry.Application) -> gantry.Application:
    """Day 1: 170 N(0, 1) and 30 +inf; day 2: 200 N(0, 1); day 3: like day 1."""
    rng = np.random.default_rng(0)
    days = [[*rng.normal(size=170), *[math.inf] * 30], list(rng.normal(size=200)),
            [*rng.normal(size=170), *[math.inf] * 30]]
    for day, values in enumerate(days):
        app.log_records(inputs=[{"x": float(v)} for v in values], outputs=[{"y": 1}] * 200,
                        timestamps=[S + timedelta(days=day, minutes=i) for i in range(200)])
    return app


def test_drift_over_time_with_infinities(infinite_reference: gantry.Application,
                                         tmp_path: Path) -> None:
    app = infinite_reference
    reference = (S, S + timedelta(days=1))
    fast = app.drift_over_time(reference, tests=False, fields=["inputs.x"])
    full = app.drift_over_time(reference, tests=True, fields=["inputs.x"])
    assert fast["psi"].to_list() == pytest.approx(full["psi"].to_list())
    assert fast["js"].to_list() == pytest.approx(full["js"].to_list())
    by_day = {(r["interval_start"].day, r["against"]): r for r in full.iter_rows(named=True)}
    # day 2 lost its 15% of +inf: drift, found by the +inf bin; day 3 has it back
    assert by_day[(2, "reference")]["drift"] is True
    assert by_day[(3, "reference")]["drift"] is False
    assert by_day[(2, "reference")]["wasserstein"] is None  # undefined with infinities
    assert by_day[(2, "reference")]["ks"] == pytest.approx(0.15, abs=0.08)
    assert app.report(tmp_path / "r.html").exists()


def test_infinities_have_bins_of_their_own() -> None:
    from gantry_local.monitoring.drift import _binned

    values = np.sort(np.array([-math.inf, -math.inf, 0.5, 1.5, 2.5, math.inf]))
    assert _binned(values, np.array([1.0, 2.0])).tolist() == [2, 1, 1, 1, 1]


# -- 4. summaries leave NaN out of every statistic ------------------------------------------------


def test_summarize_ignores_nan_in_every_statistic(app: gantry.Application) -> None:
    for value in (1, 2, float("nan"), 4, None, 10):
        app.log_record(inputs={"v": value}, outputs=1, timestamp=S)
    row = app.summarize(fields=["inputs.v"]).row(0, named=True)
    finite = np.array([1.0, 2.0, 4.0, 10.0])
    assert row["count"] == 6 and row["nan_count"] == 1
    assert row["null_rate"] == pytest.approx(1 / 6)
    assert row["mean"] == pytest.approx(finite.mean())
    assert row["std"] == pytest.approx(finite.std(ddof=1))
    assert (row["min"], row["max"]) == (1.0, 10.0)
    quantiles = np.quantile(finite, [0.05, 0.25, 0.5, 0.75, 0.95])
    assert [row[p] for p in ("p5", "p25", "p50", "p75", "p95")] == pytest.approx(quantiles)


def test_summarize_keeps_infinities_as_values(app: gantry.Application) -> None:
    for value in (1.0, 2.0, math.inf):
        app.log_record(inputs={"v": value}, outputs=1, timestamp=S)
    row = app.summarize(fields=["inputs.v"]).row(0, named=True)
    assert row["nan_count"] == 0 and row["max"] == math.inf and row["mean"] == math.inf
    assert row["p50"] == 2.0


# -- 6. a NaN output is a row error for every metric ---------------------------------------------


@pytest.mark.parametrize("metric", ["mae", "mse", "rmse", "r2", "valid_json"])
def test_nan_output_is_a_row_error_everywhere(ws: gantry.Workspace, metric: str) -> None:
    y = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    _regression_set(ws, "nan", y)

    def model(row: dict[str, Any]) -> float:
        return math.nan if row["i"] == 2 else float(y[row["i"]]) + 0.5

    result = gantry.evaluate("nan", {"a": model}, [metric], workspace=ws, store=False)
    assert result.errors == {"a": 1}
    assert next(r for r in result.results if r.metric == metric).n == 4
    assert "NaN" in result.rows["error.a"][2]


def test_infinite_output_is_a_row_error_for_numeric_metrics(ws: gantry.Workspace) -> None:
    y = np.array([1.0, 2.0, 3.0, 4.0])
    _regression_set(ws, "inf", y)
    result = gantry.evaluate("inf", {"a": lambda r: math.inf if r["i"] == 0 else 1.0},
                             ["mae", "mse", "rmse"], workspace=ws, store=False)
    assert result.errors == {"a": 1}
    assert result.value("mae", "a") == pytest.approx(2.0)
    assert result.value("rmse", "a") == pytest.approx(math.sqrt((1 + 4 + 9) / 3))


def test_nan_reference_is_a_missing_label(ws: gantry.Workspace) -> None:
    _regression_set(ws, "labels", np.array([1.0, math.nan, 3.0]))
    result = gantry.evaluate("labels", {"a": lambda r: 1.0}, ["mae", "rmse"], workspace=ws,
                             store=False)
    assert result.errors == {"a": 0}
    assert result.value("mae", "a") == pytest.approx(1.0)
    assert [r.n for r in result.results] == [2, 2]


# -- 5. the paired bootstrap on heavy tails ---------------------------------------------------------


def _heavy_errors(seed: int, n: int = 20_000) -> tuple[np.ndarray[Any, Any], ...]:
    """Seeded |t(1.5)| absolute errors of a baseline and of a candidate 20% better."""
    rng = np.random.default_rng(seed)
    return np.abs(rng.standard_t(1.5, n)), 0.8 * np.abs(rng.standard_t(1.5, n))


def _plain_bootstrap(diff: np.ndarray[Any, Any], resamples: int) -> tuple[float, float]:
    rng = np.random.default_rng(0)
    means = np.concatenate([diff[rng.integers(0, diff.size, (100, diff.size))].mean(axis=1)
                            for _ in range(resamples // 100)])
    low, high = np.percentile(means, [2.5, 97.5])
    return float(low), float(high)


@pytest.mark.parametrize("seed", [14, 37, 3])  # 14 and 37 flipped the verdict before
def test_heavy_tailed_bootstrap_agrees_with_the_plain_bootstrap(seed: int) -> None:
    from gantry_local.evaluation.stats import mean_bootstrap

    baseline, candidate = _heavy_errors(seed)
    diff = candidate - baseline
    low, high = mean_bootstrap(diff, 4000, 0.05, seed=1)
    plain_low, plain_high = _plain_bootstrap(diff, 4000)
    width = plain_high - plain_low
    assert abs((high - low) - width) < 0.1 * width
    assert abs(low - plain_low) < 0.1 * width and abs(high - plain_high) < 0.1 * width
    assert (low > 0 or high < 0) == (plain_low > 0 or plain_high < 0)


def test_heavy_tailed_verdict_through_evaluate(ws: gantry.Workspace) -> None:
    baseline, candidate = _heavy_errors(14)
    _regression_set(ws, "heavy", np.zeros(baseline.size))
    result = gantry.evaluate("heavy", {"a": lambda r: float(baseline[r["i"]]),
                                       "b": lambda r: float(candidate[r["i"]])}, ["mae"],
                             workspace=ws, store=False, n_resamples=4000)
    challenger = next(r for r in result.results if r.candidate == "b")
    assert challenger.ci_high is not None and challenger.ci_high < 0
    assert challenger.p_value is not None and challenger.p_value < 1e-3
    assert result.verdict == gantry.evaluation.IMPROVED  # lower mae: improved


def test_every_spread_statistic_far_from_zero(ws: gantry.Workspace,
                                              app: gantry.Application) -> None:
    """No E[x^2] - E[x]^2 anywhere: std, mse, mae, rmse and r2 of values near 1e8 match numpy."""
    rng = np.random.default_rng(11)
    y = 1e8 + rng.normal(size=200)
    f = y + rng.normal(scale=0.5, size=200)
    app.log_records(inputs=[{"v": float(v)} for v in y], outputs=[{"y": float(v)} for v in f],
                    feedbacks=[{"y": float(v)} for v in y], timestamps=[S] * 200)
    row = app.summarize(fields=["inputs.v"]).row(0, named=True)
    assert row["std"] == pytest.approx(np.std(y, ddof=1), rel=1e-6)
    table = app.metrics(["mse", "mae", "r2"])
    assert table["mse"][0] == pytest.approx(np.mean((f - y) ** 2), rel=1e-6)
    assert table["mae"][0] == pytest.approx(np.mean(np.abs(f - y)), rel=1e-6)
    assert table["r2"][0] == pytest.approx(_r2(y, f), abs=1e-6)
    _regression_set(ws, "spread", y)
    result = gantry.evaluate("spread", {"a": lambda r: float(f[r["i"]])},
                             ["mse", "mae", "rmse", "r2"], workspace=ws, store=False)
    assert result.value("mse", "a") == pytest.approx(np.mean((f - y) ** 2), rel=1e-6)
    assert result.value("rmse", "a") == pytest.approx(np.sqrt(np.mean((f - y) ** 2)), rel=1e-6)
    assert result.value("r2", "a") == pytest.approx(_r2(y, f), abs=1e-9)


# -- 7. rmse and r2 anywhere in the float range --------------------------------------------------


@pytest.mark.parametrize("scale", [1e200, 1e-200, 1.0], ids=["huge", "tiny", "unit"])
def test_rmse_and_r2_are_exact_at_any_scale(ws: gantry.Workspace, scale: float) -> None:
    """Squares of 1e200 overflow and of 1e-200 underflow: both metrics (and the bootstrap of
    their difference) are computed on values scaled by a power of two, so they stay exact."""
    unit = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    good, bad = unit + np.array([0.1, -0.1, 0.2, -0.2, 0.0, 0.1]), unit + np.array(
        [0.9, -1.1, 1.2, -0.8, 1.0, -1.0])
    y = unit * scale
    _regression_set(ws, "scaled", y)
    result = gantry.evaluate("scaled", {"bad": lambda r: float(bad[r["i"]] * scale),
                                        "good": lambda r: float(good[r["i"]] * scale)},
                             ["rmse", "r2"], workspace=ws, store=False, n_resamples=200)
    assert result.errors == {"bad": 0, "good": 0}
    for name, f in (("good", good), ("bad", bad)):
        assert result.value("rmse", name) == pytest.approx(
            np.sqrt(np.mean((f - unit) ** 2)) * scale, rel=1e-9)
        assert result.value("r2", name) == pytest.approx(_r2(unit, f), abs=1e-9)
    for challenger in (r for r in result.results if r.candidate == "good"):
        assert challenger.ci_low is not None and challenger.ci_high is not None
        assert math.isfinite(challenger.ci_low) and math.isfinite(challenger.ci_high)
        assert challenger.verdict == gantry.evaluation.IMPROVED, challenger


def test_a_row_whose_error_overflows_is_that_rows_error(ws: gantry.Workspace) -> None:
    """1.5e308 - (-1.5e308) is beyond a float: that row is an error for rmse and r2 (as for mae
    and mse), and the other rows' values stay finite and exact."""
    y = np.array([1.5e308, 1e308, -1e308, 5e307])
    _regression_set(ws, "edge", y)
    outputs = [-1.5e308, 1e308 * 0.5, -1e308 * 0.5, 5e307]
    result = gantry.evaluate("edge", {"a": lambda r: outputs[r["i"]]}, ["rmse", "r2", "mae"],
                             workspace=ws, store=False)
    assert result.errors == {"a": 1}
    assert "too large for a float" in result.rows["error.a"][0]
    rest_y, rest_f = y[1:] / 1e308, np.array(outputs[1:]) / 1e308
    assert result.value("rmse", "a") == pytest.approx(
        np.sqrt(np.mean((rest_f - rest_y) ** 2)) * 1e308, rel=1e-9)
    assert result.value("r2", "a") == pytest.approx(_r2(rest_y, rest_f), abs=1e-9)
    assert [r.n for r in result.results] == [3, 3, 3]
