"""`Comparison`: the outcome of `evaluate`, with per-metric statistics, verdicts and rows."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import polars as pl

if TYPE_CHECKING:
    from .._context import WorkspaceLike

__all__ = ["IMPROVED", "NO_DIFFERENCE", "REGRESSED", "Comparison", "MetricResult",
           "PairwiseResult"]

IMPROVED, REGRESSED, NO_DIFFERENCE = "improved", "regressed", "no significant difference"


@dataclass(frozen=True)
class MetricResult:
    """One metric of one candidate; against the baseline unless it is the baseline."""

    metric: str
    candidate: str
    value: float | None
    n: int
    higher_is_better: bool
    difference: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    p_value: float | None = None
    test: str | None = None
    n_paired: int | None = None
    verdict: str | None = None


@dataclass(frozen=True)
class PairwiseResult:
    """A pairwise judge's preferences between a candidate and the baseline."""

    candidate: str
    baseline: str
    wins: int
    ties: int
    losses: int
    win_rate: float | None
    ci_low: float
    ci_high: float
    p_value: float
    verdict: str
    errors: int


def decide(difference: float, ci_low: float, ci_high: float, p_value: float, alpha: float,
           higher_is_better: bool) -> str:
    """Improved or regressed only when the test and the interval agree; else no difference."""
    if not (p_value < alpha) or (ci_low <= 0 <= ci_high) or math.isnan(difference):
        return NO_DIFFERENCE
    better = difference > 0 if higher_is_better else difference < 0
    return IMPROVED if better else REGRESSED


@dataclass
class Comparison:
    """Candidates evaluated on the same rows of one dataset version.

    `results` has one `MetricResult` per (metric, candidate); `pairwise` the pairwise
    judge's counts; `rows` the per-row inputs, outputs, scores and errors. The first
    candidate is the baseline; the first metric (else the judge) decides the overall
    verdict.
    """

    id: str
    created_at: datetime
    dataset: str
    version_id: str
    candidates: dict[str, str]  # name -> identity (version id, or "callable")
    baseline: str
    metrics: list[str]
    alpha: float
    seed: int
    n_rows: int
    results: list[MetricResult]
    pairwise: list[PairwiseResult]
    errors: dict[str, int]
    timeouts: dict[str, int]
    retried: dict[str, int]
    cached: dict[str, int]
    rows: pl.DataFrame = field(repr=False)
    cacheable: dict[str, bool] = field(default_factory=dict)  # outputs read from the cache
    labels: dict[str, Any] = field(default_factory=dict)  # the label rule (see _labels)
    training_overlap: dict[str, int] = field(default_factory=dict)  # rows seen in training
    warnings: list[str] = field(default_factory=list)

    @property
    def primary(self) -> str:
        """The metric (or pairwise judge) that decides the overall verdict."""
        if self.metrics:
            return self.metrics[0]
        return "pairwise" if self.pairwise else ""

    @property
    def verdicts(self) -> dict[str, dict[str, str]]:
        """Per challenger: each metric's verdict (and ``"pairwise"``), and ``"overall"``."""
        out: dict[str, dict[str, str]] = {}
        for result in self.results:
            if result.verdict is not None:
                out.setdefault(result.candidate, {})[result.metric] = result.verdict
        for pair in self.pairwise:
            out.setdefault(pair.candidate, {})["pairwise"] = pair.verdict
        for verdicts in out.values():
            verdicts["overall"] = verdicts.get(self.primary, NO_DIFFERENCE)
        return out

    @property
    def verdict(self) -> str | None:
        """The first challenger's overall verdict (None for a single candidate)."""
        challengers = [c for c in self.candidates if c != self.baseline]
        if not challengers:
            return None
        return self.verdicts.get(challengers[0], {}).get("overall", NO_DIFFERENCE)

    def value(self, metric: str, candidate: str) -> float | None:
        """A candidate's value of a metric."""
        for result in self.results:
            if result.metric == metric and result.candidate == candidate:
                return result.value
        from ..errors import NotFoundError

        raise NotFoundError(f"no metric {metric!r} for candidate {candidate!r}; metrics: "
                            f"{self.metrics}, candidates: {list(self.candidates)}")

    def cache_summary(self, candidate: str) -> str:
        """How many of a candidate's rows came from the cache, in words."""
        cached = self.cached.get(candidate, 0)
        if not cached and not self.cacheable.get(candidate, False):
            return f"{candidate} none (every row called)"
        return f"{candidate} {cached:,} of {self.n_rows:,} rows from the cache"

    def to_polars(self) -> pl.DataFrame:
        """The summary: one row per (metric, candidate), pairwise results after them."""
        records = [asdict(r) for r in self.results]
        for pair in self.pairwise:
            records.append({"metric": "pairwise win rate", "candidate": pair.candidate,
                            "value": pair.win_rate, "n": pair.wins + pair.ties + pair.losses,
                            "higher_is_better": True, "difference": None,
                            "ci_low": pair.ci_low, "ci_high": pair.ci_high,
                            "p_value": pair.p_value, "test": "sign test",
                            "n_paired": pair.wins + pair.losses, "verdict": pair.verdict})
        return pl.DataFrame(records, schema={
            "metric": pl.String, "candidate": pl.String, "value": pl.Float64, "n": pl.Int64,
            "higher_is_better": pl.Boolean, "difference": pl.Float64, "ci_low": pl.Float64,
            "ci_high": pl.Float64, "p_value": pl.Float64, "test": pl.String,
            "n_paired": pl.Int64, "verdict": pl.String})

    def __str__(self) -> str:
        head = (f"evaluation {self.id} of {self.dataset}@{self.version_id[:12]}: "
                f"{self.n_rows:,} rows, baseline {self.baseline}, alpha {self.alpha:g}")
        lines = [head]
        header = ("metric", "candidate", "n", "value", "diff", f"{100 * (1 - self.alpha):g}% CI",
                  "p", "test", "verdict")
        table = [header]
        for r in self.results:
            table.append((r.metric, r.candidate, f"{r.n:,}", _num(r.value), _num(r.difference),
                          _ci(r.ci_low, r.ci_high), _p(r.p_value), r.test or "",
                          r.verdict or "(baseline)"))
        for pair in self.pairwise:
            table.append(("pairwise", pair.candidate, f"{pair.wins + pair.ties + pair.losses:,}",
                          f"{pair.wins}W {pair.ties}T {pair.losses}L", _num(pair.win_rate),
                          _ci(pair.ci_low, pair.ci_high), _p(pair.p_value), "sign test",
                          pair.verdict))
        widths = [max(len(str(row[i])) for row in table) for i in range(len(header))]
        for row in table:
            lines.append("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths,
                                                                                  strict=True)))
        for name in self.candidates:
            notes = []
            if self.errors.get(name):
                notes.append(f"{self.errors[name]} row errors")
            if self.timeouts.get(name):
                notes.append(f"{self.timeouts[name]} timeouts")
            if self.retried.get(name):
                notes.append(f"{self.retried[name]} rows retried")
            if notes:
                lines.append(f"{name}: " + ", ".join(notes))
        lines.append("cache: " + ", ".join(self.cache_summary(n) for n in self.candidates))
        if self.labels:
            lines.append(f"labels: {self.labels.get('rule', '')}")
        lines.extend(f"WARNING: {warning}" for warning in self.warnings)
        if self.verdict is not None:
            lines.append(f"verdict: {self.verdict} ({self.primary})")
        return "\n".join(lines)

    def push_rows(self, dataset: str, workspace: WorkspaceLike | None = None,
                  message: str | None = None) -> dict[str, Any]:
        """Push the per-row results as a new version of `dataset` (created if missing)."""
        from .._context import narrow_or_default
        from ..errors import NotFoundError, ValidationError

        try:
            context = narrow_or_default(workspace)
        except ValidationError:
            raise ValidationError(f"workspace must be a Workspace, got {type(workspace).__name__}"
                                  ) from None
        if message is not None and not isinstance(message, str):
            raise ValidationError(f"message must be a string, got {message!r}")
        try:
            target = context.datasets.get_dataset(dataset)
        except NotFoundError:
            target = context.datasets.create_dataset(dataset)
        info: dict[str, Any] = target.push_dataframe(
            self.rows, filename="rows.parquet",
            message=message or f"rows of evaluation {self.id} ({self.dataset}@"
                               f"{self.version_id[:12]})")
        return info


def _num(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.4f}"


def _ci(low: float | None, high: float | None) -> str:
    if low is None or high is None:
        return "-"
    return f"[{low:.4f}, {high:.4f}]"


def _p(p_value: float | None) -> str:
    if p_value is None:
        return "-"
    return "<0.0001" if p_value < 1e-4 else f"{p_value:.4f}"
