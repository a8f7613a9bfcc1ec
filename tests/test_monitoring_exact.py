"""Monitoring's means, deviations and squared errors are exact across the float range: DuckDB's
`avg`, `stddev_samp`, `var_pop` and sums of squares overflowed (1e200 gave inf or NaN) or
underflowed (1e-200 gave 0 or no r2); an interval whose largest value is outside
[2**-450, 2**450] is computed again on values times a power of two. Known answers are exact
rational arithmetic (`fractions`), rounded once."""

from __future__ import annotations

import importlib
import math
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from fractions import Fraction

import numpy as np
import pytest

import gantry_local as gantry
from gantry_local._context import narrow
from gantry_local.automations.triggers import AggregationTrigger
from gantry_local.monitoring.alerts import measure

drift_module = importlib.import_module("gantry_local.monitoring.drift")  # not the function
S = datetime(2024, 1, 1, tzinfo=timezone.utc)
OUT = [1.0, 2.0, 3.5, 4.0, -2.0]
REF = [1.5, 2.0, 3.0, 5.0, -1.0]
SCALES = {"huge": 1e200, "tiny": 1e-200, "unit": 1.0, "near-max": 1e300,
          "squares-overflow": 1.2e154, "squares-subnormal": 1e-160}


def rounded(value: Fraction) -> float:
    """`value` as a float, ±inf beyond the largest one."""
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def close(ours: float | None, exact: Fraction) -> bool:
    assert ours is not None
    return math.isclose(ours, rounded(exact), rel_tol=1e-12, abs_tol=1e-322)  # subnormals


def mean(values: Sequence[Fraction]) -> Fraction:
    return sum(values, Fraction(0)) / len(values)


def std(values: Sequence[Fraction]) -> Fraction:
    """The sample standard deviation, to 1,200 bits."""
    m = mean(values)
    variance = sum(((v - m) ** 2 for v in values), Fraction(0)) / (len(values) - 1)
    bits = 1200
    return Fraction(math.isqrt(variance.numerator * 4 ** bits // variance.denominator),
                    2 ** bits)


def exact(values: Sequence[float]) -> list[Fraction]:
    return [Fraction(v) for v in values]


def log_days(app: gantry.Application[gantry.Workspace],
             days: Sequence[tuple[Sequence[float], Sequence[float]]]) -> None:
    """Day d: outputs.y from the first list, feedback.y from the second."""
    for day, (outputs, references) in enumerate(days):
        app.log_records(inputs=[{"x": o} for o in outputs], outputs=[{"y": o} for o in outputs],
                        feedbacks=[{"y": r} for r in references],
                        timestamps=[S + timedelta(days=day, minutes=i)
                                    for i in range(len(outputs))])
    app.flush()


MIXED_OUT = [1e200, 3e200, 1.0, 1e-200, -2e200]  # one interval, sizes far apart
MIXED_REF = [2e200, 3e200, 2.0, 3e-200, -1e200]


def days() -> list[tuple[list[float], list[float]]]:
    scaled = [([o * s for o in OUT], [r * s for r in REF]) for s in SCALES.values()]
    return [*scaled, (MIXED_OUT, MIXED_REF)]


def test_summaries_mean_and_std_are_exact(ws: gantry.Workspace) -> None:
    app = ws.create_application("m")
    log_days(app, days())
    table = app.summarize(timedelta(days=1), S, S + timedelta(days=len(days())),
                          fields=["inputs.x"])
    for (outputs, _), row in zip(days(), table.iter_rows(named=True), strict=True):
        values = exact(outputs)
        assert close(row["mean"], mean(values)), (outputs, row)
        assert close(row["std"], std(values)), (outputs, row)


def test_metrics_mse_mae_r2_are_exact(ws: gantry.Workspace) -> None:
    app = ws.create_application("m")
    log_days(app, days())
    table = app.metrics(["mse", "mae", "r2"], "outputs.y", "feedback.y", timedelta(days=1), S,
                        S + timedelta(days=len(days())))
    for (outputs, references), row in zip(days(), table.iter_rows(named=True), strict=True):
        o, f = exact(outputs), exact(references)
        errors = [a - b for a, b in zip(o, f, strict=True)]
        assert close(row["mse"], mean([e * e for e in errors])), (outputs, row)
        assert close(row["mae"], mean([abs(e) for e in errors])), (outputs, row)
        centre = mean(f)
        r2 = 1 - sum((e * e for e in errors), Fraction(0)) / sum(
            ((v - centre) ** 2 for v in f), Fraction(0))
        assert close(row["r2"], r2), (outputs, row)


def test_a_mean_square_beyond_the_largest_float_is_inf(ws: gantry.Workspace) -> None:
    app = ws.create_application("m")
    log_days(app, [([1e200, 2e200], [3e200, 0.0])])
    row = app.metrics(["mse", "mae", "r2"], "outputs.y", "feedback.y", timedelta(days=1), S,
                      S + timedelta(days=1)).row(0, named=True)
    assert row["mse"] == math.inf and row["mae"] == pytest.approx(2e200)
    assert row["r2"] == pytest.approx(1 - (4 + 4) / (2.25 + 2.25))


def test_mean_absolute_error_past_the_largest_sum(ws: gantry.Workspace) -> None:
    """Errors near 1e308: their sum overflows, their mean does not."""
    app = ws.create_application("m")
    log_days(app, [([1.7e308, 1.7e308], [0.5e308, 0.6e308])])
    row = app.metrics(["mae"], "outputs.y", "feedback.y", timedelta(days=1), S,
                      S + timedelta(days=1)).row(0, named=True)
    assert row["mae"] == pytest.approx(1.15e308)


@pytest.mark.parametrize("scale", [1e200, 1e-200, 1e300, 1.0], ids=["huge", "tiny", "near-max",
                                                                   "unit"])
def test_alert_windows_mean_and_std_are_exact(ws: gantry.Workspace, clock: gantry.ManualClock,
                                              scale: float) -> None:
    app = ws.create_application("w")
    now = clock.now()
    values = [v * scale for v in OUT]
    app.log_records(inputs=[{"x": v} for v in values], outputs=[0] * len(values),
                    timestamps=[now - timedelta(hours=5 - i) for i in range(len(values))])
    ws.flush()
    context = narrow(ws)  # what the automations room is handed of the workspace
    found = {agg: measure(context, "w", AggregationTrigger(
        "t", agg, ["inputs.x"], None, 1e9, timedelta(days=1)).spec(context, now))[0]
             for agg in ("mean", "std")}
    assert close(found["mean"], mean(exact(values)))
    assert close(found["std"], std(exact(values)))


def test_alert_mape_of_values_whose_difference_overflows(ws: gantry.Workspace,
                                                         clock: gantry.ManualClock) -> None:
    app = ws.create_application("w")
    now = clock.now()
    app.log_records(inputs=[{"x": 1}] * 2, outputs=[{"y": -1.5e308}, {"y": 1.0}],
                    feedbacks=[{"y": 1.5e308}, {"y": 2.0}],
                    timestamps=[now - timedelta(hours=2), now - timedelta(hours=1)])
    ws.flush()
    context = narrow(ws)
    value, rows = measure(context, "w", AggregationTrigger(
        "t", "mape", ["outputs.y", "feedback.y"], None, 1e9, timedelta(days=1)).spec(context, now))
    assert rows == 2 and value == pytest.approx((2 + 0.5) / 2)


def test_drift_deciles_and_wasserstein_across_the_whole_float_range() -> None:
    """Deciles between -1.7e308 and 1.7e308 were inf/NaN; the distance of sides spanning more
    than the largest float was NaN."""
    values = np.sort(np.array([-1.7e308, -1e308, 0.0, 1e308, 1.7e308]))
    edges = drift_module._sorted_quantiles(values, [0.1, 0.5, 0.875])
    assert edges.tolist() == pytest.approx([-1.7e308 + 0.4 * 0.7e308, 0.0, 1.35e308])
    same = drift_module._wasserstein(values, values)
    assert same == 0.0
    shifted = drift_module._wasserstein(np.array([-1.7e308, 1e308]), np.array([-1.6e308, 1e308]))
    assert shifted == pytest.approx(0.05e308)


def test_drift_of_values_near_the_largest_float(ws: gantry.Workspace) -> None:
    """Two values 3.4e308 apart: the distance moves a tenth of the rows that far."""
    app = ws.create_application("d")
    ref = [-1.7e308] * 6 + [1.7e308] * 4
    cur = [-1.7e308] * 5 + [1.7e308] * 5
    log_days(app, [(ref, ref), (cur, cur)])
    row = app.drift((S, S + timedelta(days=1)), (S + timedelta(days=1), S + timedelta(days=2)),
                    fields=["inputs.x"]).row(0, named=True)
    assert row["wasserstein"] == pytest.approx(0.2 * 1.7e308)
    assert all(math.isfinite(row[k]) for k in ("psi", "js", "ks")), row


def test_gquery_series_mean_and_std_are_exact(ws: gantry.Workspace) -> None:
    """GantrySeries.mean/std (gquery), alone, by group and over time, at every scale."""
    from gantry_local.query.time_window import TimeWindow

    app = ws.create_application("g")
    log_days(app, days())
    for day, (outputs, _) in enumerate(days()):
        frame = app.query(TimeWindow(S + timedelta(days=day), S + timedelta(days=day + 1)))
        series = frame["inputs.x"]  # type: ignore[index]
        values = exact(outputs)
        assert close(series.mean(), mean(values)), outputs
        assert close(series.std(), std(values)), outputs
        grouped = series.std(group_by="feedback.y")  # one value a group: no deviation
        assert grouped["stddev"].isna().all()
        halves = series.mean(num_points=2)
        assert close(halves["mean"].iloc[0], mean(values)), outputs  # all in the first hour
