"""Metrics and statistics give the hand-computed or scipy answers; verdicts are trustworthy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from gantry_local.errors import ValidationError
from gantry_local.evaluation import Custom, Regex
from gantry_local.evaluation.comparison import IMPROVED, NO_DIFFERENCE, REGRESSED, decide
from gantry_local.evaluation.metrics import AggregateMetric, RowMetric, resolve_metrics, rouge_l, token_f1
from gantry_local.evaluation.stats import (
    aggregate_bootstrap,
    mcnemar_exact,
    mean_bootstrap,
    paired_row_test,
    row_comparison,
    sign_test,
    wilson_interval,
)


def aggregate(name: str, reference: list[object], output: list[object]) -> float:
    [metric] = resolve_metrics([name])
    assert isinstance(metric, AggregateMetric)
    ref, out = np.array(reference, dtype=object), np.array(output, dtype=object)
    return float(metric.compute(ref, out, np.ones((1, len(reference))))[0])


def row_scores(name: str, outputs: list[object], references: list[object]) -> list[float]:
    [metric] = resolve_metrics([name])
    assert isinstance(metric, RowMetric)
    return [metric.score({}, o, r) for o, r in zip(outputs, references, strict=True)]


def test_classification_metrics_match_hand_counts() -> None:
    reference = [1, 1, 1, 0, 0, 0, 1, 0]
    output = [1, 0, 1, 1, 0, 0, 1, 1]  # tp=3, fp=2, fn=1, tn=2
    assert aggregate("precision", reference, output) == pytest.approx(3 / 5)
    assert aggregate("recall", reference, output) == pytest.approx(3 / 4)
    assert aggregate("f1", reference, output) == pytest.approx(2 * 0.6 * 0.75 / 1.35)
    assert np.mean(row_scores("accuracy", output, reference)) == pytest.approx(5 / 8)
    # several classes: macro average over the classes
    reference3, output3 = ["a", "b", "c", "a"], ["a", "b", "b", "c"]
    # a: p=1 r=.5 f=2/3; b: p=.5 r=1 f=2/3; c: p=0 r=0 f=0
    assert aggregate("f1", reference3, output3) == pytest.approx((2 / 3 + 2 / 3) / 3)


def test_roc_auc_equals_mann_whitney() -> None:
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 2, 200)
    scores = np.round(labels + rng.normal(0, 1.2, 200), 1)  # with ties
    u = sps.mannwhitneyu(scores[labels == 1], scores[labels == 0]).statistic
    expected = u / ((labels == 1).sum() * (labels == 0).sum())
    assert aggregate("roc_auc", labels.tolist(), scores.tolist()) == pytest.approx(expected)


def test_regression_metrics() -> None:
    reference, output = [3.0, -0.5, 2.0, 7.0], [2.5, 0.0, 2.0, 8.0]
    assert np.mean(row_scores("mae", output, reference)) == pytest.approx(0.5)
    assert np.mean(row_scores("mse", output, reference)) == pytest.approx(0.375)
    assert aggregate("rmse", reference, output) == pytest.approx(0.375 ** 0.5)
    mean = np.mean(reference)
    r2 = 1 - 1.5 / sum((r - mean) ** 2 for r in reference)
    assert aggregate("r2", reference, output) == pytest.approx(r2)


def test_text_metrics() -> None:
    assert token_f1("the cat sat", "a cat sat down") == pytest.approx(2 * (2 / 3) * (2 / 4) / (2 / 3 + 2 / 4))
    # LCS of "police killed the gunman" / "police kill the gunman" is 3 tokens
    assert rouge_l("police kill the gunman", "police killed the gunman") == pytest.approx(0.75)
    assert row_scores("exact_match", [" yes "], ["yes"]) == [1.0]
    assert row_scores("contains", ["the answer is 42"], ["42"]) == [1.0]
    assert row_scores("valid_json", ['{"a": 1}', "{nope"], [None, None]) == [1.0, 0.0]
    assert Regex(r"^\d+$").score({}, "123", None) == 1.0
    assert Custom("len", lambda row, out: len(out)).score({}, "four", None) == 4.0


def test_unknown_metric_lists_the_known_ones() -> None:
    with pytest.raises(ValidationError, match=r"accuracy.*rouge_l"):
        resolve_metrics(["acuracy"])
    with pytest.raises(ValidationError, match="bad pattern"):
        Regex("(")


def test_paired_tests_equal_scipy() -> None:
    baseline = np.array([1, 1, 0, 0, 1, 0, 1, 1, 0, 1], dtype=float)
    candidate = np.array([1, 1, 1, 1, 1, 1, 0, 1, 1, 1], dtype=float)  # 5 vs 1 discordant
    assert mcnemar_exact(baseline, candidate) == pytest.approx(sps.binomtest(4, 5, 0.5).pvalue)
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=60), rng.normal(0.3, 1, size=60)
    name, p = paired_row_test(a, b, binary=False)
    assert name == "Wilcoxon signed-rank"
    assert p == pytest.approx(sps.wilcoxon(b, a, zero_method="zsplit").pvalue)
    assert sign_test(8, 2) == pytest.approx(sps.binomtest(8, 10, 0.5).pvalue)


def test_wilson_interval_known_values() -> None:
    low, high = wilson_interval(8, 10, 0.05)
    assert (low, high) == (pytest.approx(0.4902, abs=1e-4), pytest.approx(0.9433, abs=1e-4))


def test_fast_bootstrap_matches_the_plain_bootstrap() -> None:
    rng = np.random.default_rng(5)
    diff = rng.exponential(1.0, 20_000) - 1.0  # skewed, continuous: the binned path
    low, high = mean_bootstrap(diff, 4000, 0.05, seed=1)
    plain = diff[rng.integers(0, diff.size, size=(1000, diff.size))].mean(axis=1)
    plain_low, plain_high = np.percentile(plain, [2.5, 97.5])
    width = plain_high - plain_low
    assert abs(low - plain_low) < 0.1 * width and abs(high - plain_high) < 0.1 * width
    binary = rng.integers(-1, 2, 5000).astype(float)  # few values: the exact path
    low, high = mean_bootstrap(binary, 4000, 0.05, seed=1)
    se = binary.std() / np.sqrt(binary.size)
    assert low == pytest.approx(binary.mean() - 1.96 * se, abs=0.2 * se)
    assert high == pytest.approx(binary.mean() + 1.96 * se, abs=0.2 * se)
    assert mean_bootstrap(diff, 1000, 0.05, seed=7) == mean_bootstrap(diff, 1000, 0.05, seed=7)


def test_verdicts_on_real_margins_and_identical_candidates() -> None:
    rng = np.random.default_rng(11)
    truth = rng.random(500)
    good = (truth < 0.9).astype(float)  # right on 90% of rows
    poor = (truth < 0.75).astype(float)  # right on 75%, wrong wherever good is wrong
    for base, cand, expected in ((poor, good, IMPROVED), (good, poor, REGRESSED),
                                 (good, good, NO_DIFFERENCE)):
        r = row_comparison(base, cand, True, 2000, 0.05, seed=0)
        assert decide(r.difference, r.ci_low, r.ci_high, r.p_value, 0.05, True) == expected
    error_a, error_b = rng.normal(1.0, 0.3, 500), rng.normal(0.8, 0.3, 500)  # lower is better
    r = row_comparison(error_a, error_b, False, 2000, 0.05, seed=0)
    assert decide(r.difference, r.ci_low, r.ci_high, r.p_value, 0.05, False) == IMPROVED


@pytest.mark.parametrize("binary", [True, False])
def test_false_positive_rate_under_the_null(binary: bool) -> None:
    rng = np.random.default_rng(2024)
    flagged = 0
    for trial in range(200):
        if binary:
            a, b = (rng.random(300) < 0.8).astype(float), (rng.random(300) < 0.8).astype(float)
        else:
            a, b = rng.gamma(2.0, 1.0, 300), rng.gamma(2.0, 1.0, 300)
        r = row_comparison(a, b, binary, 1000, 0.05, seed=trial)
        flagged += decide(r.difference, r.ci_low, r.ci_high, r.p_value, 0.05, True) != NO_DIFFERENCE
    assert flagged / 200 <= 0.07


def test_aggregate_bootstrap_detects_a_better_f1_and_not_a_tie() -> None:
    [f1] = resolve_metrics(["f1"])
    assert isinstance(f1, AggregateMetric)
    rng = np.random.default_rng(8)
    y = rng.integers(0, 2, 600)
    weak = np.where(rng.random(600) < 0.7, y, 1 - y)
    strong = np.where(rng.random(600) < 0.9, y, 1 - y)
    r = aggregate_bootstrap(f1.compute, y, weak, strong, 2000, 0.05, seed=0)
    assert r.difference > 0 and r.ci_low > 0 and r.p_value < 0.05
    same = aggregate_bootstrap(f1.compute, y, weak, weak, 2000, 0.05, seed=0)
    assert same.difference == 0 and same.p_value == 1.0
