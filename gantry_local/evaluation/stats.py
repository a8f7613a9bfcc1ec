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
_BLOCKS = 128  # equal-count blocks of the continuous differences' bulk
_TAIL_DRAWS = 10_000_000  # most rows drawn exactly (all resamples) in the mean bootstrap
_TAIL_MIN = 16
_WITHIN_SHARE = 0.005  # the variance left to the normal approximation, at most


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
    is exact and costs resamples x values, not resamples x rows. Otherwise the values
    farthest from the median (as many as it takes for the rest to hold under 0.5% of the
    variance within blocks: none for normal data, a few dozen on heavy tails) are
    resampled exactly, row by row, and the rest are sorted into 128 equal-count blocks:
    the block counts are drawn exactly and each block's sum from a normal with its mean
    and variance. A normal is a fine stand-in for a narrow block, never for a block
    holding the extremes of a heavy tail, whose skew decides the interval.
    """
    n = diff.size
    rng = np.random.default_rng(seed)
    values, counts = np.unique(diff, return_counts=True)
    if values.size <= _EXACT_LEVELS:
        draws = rng.multinomial(n, counts / n, size=n_resamples)
        means = draws @ values / n
        return _percentiles(means, alpha)
    ordered = np.sort(diff)
    low, high = _exact_tails(ordered, max(_TAIL_MIN, _TAIL_DRAWS // n_resamples))
    tails = np.concatenate([ordered[:low], ordered[high:]])
    bulk = ordered[low:high]
    starts, block_mean, block_sd = _blocks(bulk, min(_BLOCKS, bulk.size))
    sizes = np.append(np.diff(np.append(starts, bulk.size)), tails.size).astype(float)
    draws = rng.multinomial(n, sizes / n, size=n_resamples)
    taken = draws[:, :-1].astype(float)
    # the blocks' normal sums added up are one normal per resample
    noise = rng.standard_normal(n_resamples) * np.sqrt(taken @ block_sd ** 2)
    sums = taken @ block_mean + noise + _tail_sums(tails, draws[:, -1], rng)
    return _percentiles(sums / n, alpha)


def _blocks(values: FloatArray, count: int) -> tuple[np.ndarray[Any, Any], FloatArray, FloatArray]:
    """Starts, means and standard deviations of `count` equal-count blocks of sorted
    `values` (two-pass: no cancellation)."""
    sizes = np.full(count, values.size // count)
    sizes[:values.size % count] += 1
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    means = np.add.reduceat(values, starts) / sizes
    spread = np.add.reduceat((values - np.repeat(means, sizes)) ** 2, starts) / sizes
    return starts, means, np.sqrt(spread)


def _exact_tails(ordered: FloatArray, most: int) -> tuple[int, int]:
    """How many of the sorted values, from each end, to resample exactly: the fewest
    (0, 16, 32, ... up to `most`) farthest from the median after which the remaining
    values' variance within the blocks is under 0.5% of the whole variance."""
    n = ordered.size
    most = min(most, n - _BLOCKS)
    total = float(np.var(ordered)) * n
    if most <= 0 or total == 0:
        return 0, n
    median = ordered[n // 2]
    k = min(most, n // 2)
    distance = np.concatenate([median - ordered[:k], ordered[::-1][:k] - median])
    rank = np.argsort(-distance, kind="stable")
    count = 0
    while True:
        low = int(np.count_nonzero(rank[:count] < k))
        high = n - (count - low)
        _, _, sd = _blocks(ordered[low:high], _BLOCKS)
        within = float(np.sum(sd ** 2)) * (high - low) / _BLOCKS
        if within <= _WITHIN_SHARE * total or count >= most:
            return low, high
        count = min(most, max(_TAIL_MIN, 2 * count))


def _tail_sums(tails: FloatArray, taken: np.ndarray[Any, Any], rng: np.random.Generator
               ) -> FloatArray:
    """Per resample, the sum of `taken[r]` values drawn uniformly from `tails` (exactly)."""
    sums = np.zeros(taken.size)
    if tails.size == 0:
        return sums
    step = max(1, _CHUNK_CELLS // tails.size)
    for start in range(0, taken.size, step):
        counts = taken[start:start + step]
        picked = tails[rng.integers(0, tails.size, int(counts.sum()), dtype=np.int32)]
        ends = np.cumsum(counts)
        filled = counts > 0
        part = np.zeros(counts.size)
        if picked.size:
            part[filled] = np.add.reduceat(picked, (ends - counts)[filled])
        sums[start:start + step] = part
    return sums


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
        weights = _resampled_weights(rng, group, sizes, size)
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


def _resampled_weights(rng: np.random.Generator, group: np.ndarray[Any, Any],
                       sizes: FloatArray, resamples: int) -> FloatArray:
    """How often each group is drawn when n rows are resampled, `resamples` times.

    Few groups: a multinomial draw (resamples x groups). Many (continuous outputs): the
    rows are drawn as indices and counted per group, which is the same distribution at a
    fraction of the cost of a binomial per group."""
    n, groups = group.size, sizes.size
    if groups <= _EXACT_LEVELS:
        return rng.multinomial(n, sizes / n, size=resamples).astype(float)
    rows = group[rng.integers(0, n, size=(resamples, n))]
    rows += np.arange(resamples)[:, None] * groups
    counts = np.bincount(rows.ravel(), minlength=resamples * groups)
    return counts.reshape(resamples, groups).astype(float)


def wilson_interval(wins: int, n: int, alpha: float) -> tuple[float, float]:
    """Wilson score interval of a proportion (scipy's ``binomtest(...).proportion_ci``)."""
    from scipy import stats as sps
    if n == 0:
        return 0.0, 1.0
    interval = sps.binomtest(wins, n).proportion_ci(1 - alpha, "wilson")
    return float(interval.low), float(interval.high)


def sign_test(wins: int, losses: int) -> float:
    """Two-sided sign test of wins against losses (ties left out)."""
    from scipy import stats as sps
    if wins + losses == 0:
        return 1.0
    return float(sps.binomtest(wins, wins + losses, 0.5).pvalue)
