"""Paired statistics for comparing two candidates on the same rows.

Chosen per metric kind (see the README's "Reading the statistics"):

- per-row scores: a paired bootstrap CI of the mean difference, and a paired test:
  McNemar's exact test when both candidates' scores are 0/1, else the Wilcoxon
  signed-rank test;
- aggregate metrics (f1, roc_auc, ...): a paired bootstrap of the metric's difference,
  resampling rows; its p-value is the smallest alpha at which the percentile interval
  excludes zero;
- pairwise judges: win/tie/loss counts, the win rate among decided rows with a Wilson
  interval, and a sign test.

The tests come from `scipy.stats`; the bootstrap is vectorised numpy, seeded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

# scipy is imported in the functions that use it: importing it takes 1.5 s.

__all__ = [
    "PairedResult", "aggregate_bootstrap", "mcnemar_exact", "mean_bootstrap", "paired_row_test",
    "sign_test", "wilson_interval",
]

FloatArray = np.ndarray[Any, np.dtype[np.float64]]
_EXACT_LEVELS = 256  # differences with at most this many distinct values resample exactly
_CHUNK_CELLS = 4_000_000  # weights held at once in the aggregate bootstrap


@dataclass(frozen=True)
class PairedResult:
    """The difference (candidate - baseline) with its interval and p-value."""

    difference: float
    ci_low: float
    ci_high: float
    p_value: float
    test: str
    n: int


def _percentiles(samples: FloatArray, alpha: float) -> tuple[float, float]:
    low, high = np.nanpercentile(samples, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    return float(low), float(high)


def mean_bootstrap(diff: FloatArray, n_resamples: int, alpha: float, seed: int
                   ) -> tuple[float, float]:
    """Percentile CI of the mean of `diff` under resampling of rows with replacement.

    Resampling n rows is a multinomial draw of how often each distinct value is
    taken, so when the differences take few values (0/1 scores, 1-5 judges) the draw
    is exact and costs resamples x values, not resamples x rows. Otherwise rows are
    sorted into 256 equal-count blocks: the block counts are drawn exactly and each
    block's sum is drawn from a normal with its mean and variance, which keeps the
    resampled means' mean and variance equal to the plain bootstrap's.
    """
    n = diff.size
    rng = np.random.default_rng(seed)
    values, counts = np.unique(diff, return_counts=True)
    if values.size <= _EXACT_LEVELS:
        draws = rng.multinomial(n, counts / n, size=n_resamples)
        means = draws @ values / n
        return _percentiles(means, alpha)
    blocks = np.array_split(np.sort(diff), _EXACT_LEVELS)
    sizes = np.array([b.size for b in blocks], dtype=float)
    block_mean = np.array([b.mean() for b in blocks])
    block_sd = np.array([b.std() for b in blocks])
    draws = rng.multinomial(n, sizes / n, size=n_resamples).astype(float)
    noise = rng.standard_normal(draws.shape) * np.sqrt(draws) * block_sd
    means = (draws @ block_mean + noise.sum(axis=1)) / n
    return _percentiles(means, alpha)


def mcnemar_exact(baseline: FloatArray, candidate: FloatArray) -> float:
    """McNemar's exact test on paired 0/1 scores (a binomial test on the discordant pairs)."""
    from scipy import stats as sps
    only_baseline = int(np.sum((baseline == 1) & (candidate == 0)))
    only_candidate = int(np.sum((baseline == 0) & (candidate == 1)))
    discordant = only_baseline + only_candidate
    if discordant == 0:
        return 1.0
    return float(sps.binomtest(only_candidate, discordant, 0.5).pvalue)


def paired_row_test(baseline: FloatArray, candidate: FloatArray, binary: bool
                    ) -> tuple[str, float]:
    """McNemar (0/1 scores) or Wilcoxon signed-rank (other scores): the test's name and p."""
    from scipy import stats as sps
    if binary:
        return "McNemar exact", mcnemar_exact(baseline, candidate)
    diff = candidate - baseline
    if not np.any(diff != 0):
        return "Wilcoxon signed-rank", 1.0
    result = sps.wilcoxon(candidate, baseline, zero_method="zsplit")
    return "Wilcoxon signed-rank", float(result.pvalue)


def row_comparison(baseline: FloatArray, candidate: FloatArray, binary: bool,
                   n_resamples: int, alpha: float, seed: int) -> PairedResult:
    """Per-row scores of two candidates on the same rows, compared."""
    diff = candidate - baseline
    low, high = mean_bootstrap(diff, n_resamples, alpha, seed)
    test, p_value = paired_row_test(baseline, candidate, binary)
    return PairedResult(float(diff.mean()), low, high, p_value, test, int(diff.size))


Compute = Callable[[np.ndarray[Any, Any], np.ndarray[Any, Any], FloatArray], FloatArray]


def aggregate_bootstrap(compute: Compute, reference: np.ndarray[Any, Any],
                        baseline: np.ndarray[Any, Any], candidate: np.ndarray[Any, Any],
                        n_resamples: int, alpha: float, seed: int) -> PairedResult:
    """Paired bootstrap of an aggregate metric's difference, resampling rows by weights.

    Rows identical in (reference, baseline output, candidate output) are resampled as
    one weighted group, which makes classification metrics cost resamples x groups.
    """
    n = reference.size
    rng = np.random.default_rng(seed)
    keys: dict[tuple[Any, Any, Any], int] = {}
    group = np.fromiter((keys.setdefault((r, a, b), len(keys))
                         for r, a, b in zip(reference.tolist(), baseline.tolist(),
                                            candidate.tolist(), strict=True)),
                        dtype=np.int64, count=n)
    first = np.unique(group, return_index=True)[1]
    sizes = np.bincount(group).astype(float)
    ref_u, base_u, cand_u = reference[first], baseline[first], candidate[first]
    point = compute(ref_u, cand_u, sizes[None, :]) - compute(ref_u, base_u, sizes[None, :])
    diffs = np.empty(n_resamples)
    chunk = max(1, _CHUNK_CELLS // max(len(keys), 1))
    for start in range(0, n_resamples, chunk):
        size = min(chunk, n_resamples - start)
        weights = rng.multinomial(n, sizes / n, size=size).astype(float)
        diffs[start:start + size] = (compute(ref_u, cand_u, weights)
                                     - compute(ref_u, base_u, weights))
    low, high = _percentiles(diffs, alpha)
    finite = diffs[np.isfinite(diffs)]
    if finite.size == 0:
        p_value = 1.0
    else:
        tail = min(np.mean(finite <= 0), np.mean(finite >= 0))
        p_value = float(min(1.0, max(2 * tail, 1 / finite.size)))  # never below 1 / resamples
    return PairedResult(float(point[0]), low, high, p_value, "paired bootstrap", n)


def wilson_interval(wins: int, n: int, alpha: float) -> tuple[float, float]:
    """Wilson score interval of a proportion."""
    from scipy import stats as sps
    if n == 0:
        return 0.0, 1.0
    z = float(sps.norm.ppf(1 - alpha / 2))
    p = wins / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return float(centre - half), float(centre + half)


def sign_test(wins: int, losses: int) -> float:
    """Two-sided sign test of wins against losses (ties left out)."""
    from scipy import stats as sps
    if wins + losses == 0:
        return 1.0
    return float(sps.binomtest(wins, wins + losses, 0.5).pvalue)
