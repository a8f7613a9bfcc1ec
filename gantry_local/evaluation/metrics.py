"""Metrics: per-row scores (what the statistics use) and whole-set aggregates.

A `RowMetric` scores each row; its value is the mean of the scores. An
`AggregateMetric` (precision, recall, f1, roc_auc, r2, rmse) is only defined over a
set of rows; it is computed from weighted rows, so the bootstrap can resample by
weights. Metrics are named by string (``"accuracy"``) or given as objects
(``Regex(r"^\\d+$")``, ``Custom("len", fn)``).
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np

from .._labels import BINARY, LabelRule, label_rule
from ..errors import RowError, ValidationError

__all__ = [
    "AggregateMetric", "Contains", "Custom", "Metric", "Regex", "RowError", "RowMetric",
    "for_labels", "known_metrics", "output_part",
    "resolve_metrics", "rouge_l", "token_f1",
]

FloatArray = np.ndarray[Any, np.dtype[np.float64]]


@dataclass(frozen=True)
class RowMetric:
    """A score per row; the metric is their mean.

    Args:
        name: how it is shown.
        score: ``(row, output, reference) -> float``; raise `RowError` for an unusable output.
        needs_reference: whether a reference column is required.
        higher_is_better: direction of "improved".
        binary: scores are 0 or 1 (McNemar's test applies).
    """

    name: str
    score: Callable[[dict[str, Any], Any, Any], float]
    needs_reference: bool = True
    higher_is_better: bool = True
    binary: bool = False


@dataclass(frozen=True)
class AggregateMetric:
    """A metric over a set of rows, computed from per-row weights (for the bootstrap).

    ``compute(reference, output, weights)`` takes arrays of k rows and a (B, k) weight
    matrix and returns B values.
    """

    name: str
    compute: Callable[[np.ndarray[Any, Any], np.ndarray[Any, Any], FloatArray], FloatArray]
    higher_is_better: bool = True
    needs_reference: bool = True
    kind: str = "classification"  # or "regression", "score"


Metric = RowMetric | AggregateMetric


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise RowError(f"{what} must be a number, got {type(value).__name__} {value!r}")
    try:
        result = float(value)
    except OverflowError:
        raise RowError(f"{what} is too large for a float: {value!r:.40}...") from None
    if not math.isfinite(result):
        raise RowError(f"{what} must be a finite number, got {result!r}")
    return result


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise RowError(f"{what} must be a string, got {type(value).__name__} {value!r}")
    return value


def _tokens(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def token_f1(output: str, reference: str) -> float:
    """SQuAD-style token F1: overlap of lower-cased word tokens (1.0 when both are empty)."""
    out, ref = _tokens(output), _tokens(reference)
    if not out or not ref:
        return float(out == ref)
    common = sum((Counter(out) & Counter(ref)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(out), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def rouge_l(output: str, reference: str) -> float:
    """ROUGE-L F-measure: longest common subsequence of word tokens (beta = 1)."""
    out, ref = _tokens(output), _tokens(reference)
    if not out or not ref:
        return float(out == ref)
    previous = [0] * (len(ref) + 1)
    for token in out:
        current = [0]
        for j, other in enumerate(ref):
            current.append(previous[j] + 1 if token == other else max(previous[j + 1], current[j]))
        previous = current
    lcs = previous[-1]
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(out), lcs / len(ref)
    return 2 * precision * recall / (precision + recall)


def _valid_json(output: Any) -> float:
    if not isinstance(output, str):
        return 1.0 if isinstance(output, (dict, list)) else 0.0
    try:
        json.loads(output)
    except ValueError:
        return 0.0
    return 1.0


def _equal(output: Any, reference: Any) -> float:
    if isinstance(output, float) and isinstance(reference, (int, float)) and not isinstance(
            reference, bool):
        return float(output == reference)
    if isinstance(output, (dict, list)) != isinstance(reference, (dict, list)):
        raise RowError(f"output {output!r} cannot be compared with reference {reference!r}")
    return float(output == reference)


def _metric_name(name: Any, what: str) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ValidationError(f"{what}: the name must be a non-empty string, got {name!r}")
    return name


def Regex(pattern: str, name: str | None = None) -> RowMetric:
    """1 when the output (a string) matches `pattern` anywhere (``re.search``)."""
    if name is not None:
        _metric_name(name, "Regex metric")
    try:
        compiled = re.compile(pattern)
    except (re.error, TypeError) as exc:
        raise ValidationError(f"Regex metric: bad pattern {pattern!r}: {exc}") from exc

    def score(row: dict[str, Any], output: Any, reference: Any) -> float:
        return float(compiled.search(_text(output, "output")) is not None)

    return RowMetric(name or f"regex:{pattern}", score, needs_reference=False, binary=True)


def Contains(substring: str | None = None, name: str | None = None) -> RowMetric:
    """1 when the output contains `substring` (default: the row's reference)."""
    if substring is not None and not isinstance(substring, str):
        raise ValidationError(f"Contains takes a string, got {substring!r}")
    if name is not None:
        _metric_name(name, "Contains metric")

    def score(row: dict[str, Any], output: Any, reference: Any) -> float:
        wanted = substring if substring is not None else _text(reference, "reference")
        return float(wanted in _text(output, "output"))

    return RowMetric(name or ("contains" if substring is None else f"contains:{substring}"),
                     score, needs_reference=substring is None, binary=True)


def Custom(name: str, fn: Callable[[dict[str, Any], Any], float],
           higher_is_better: bool = True) -> RowMetric:
    """A user metric: ``fn(row, output) -> float`` per row (higher is better unless said)."""
    _metric_name(name, "Custom metric")
    if not callable(fn):
        raise ValidationError(f"custom metric {name!r} needs a callable (row, output) -> float")
    if not isinstance(higher_is_better, bool):
        raise ValidationError(f"custom metric {name!r}: higher_is_better must be True or False")

    def score(row: dict[str, Any], output: Any, reference: Any) -> float:
        value = fn(row, output)
        return _number(value, f"metric {name!r}")

    return RowMetric(name, score, needs_reference=False, higher_is_better=higher_is_better)


# -- aggregates over weighted rows --------------------------------------------------------------


def _labels(reference: np.ndarray[Any, Any], output: np.ndarray[Any, Any]) -> list[Any]:
    return sorted(set(reference.tolist()) | set(output.tolist()), key=repr)


_INFER = object()  # the stock metrics, unbound: the label rule decided from these rows


def _prf(kind: str, positive: Any = _INFER
         ) -> Callable[[np.ndarray[Any, Any], np.ndarray[Any, Any], FloatArray], FloatArray]:
    """Precision, recall or f1 of the `positive` class, or (None) their macro average."""
    def compute(reference: np.ndarray[Any, Any], output: np.ndarray[Any, Any],
                weights: FloatArray) -> FloatArray:
        chosen = positive
        if chosen is _INFER:
            chosen = label_rule(reference.tolist(), output.tolist()).positive_label
        classes = [chosen] if chosen is not None else _labels(reference, output)
        values = []
        for label in classes:
            is_ref, is_out = _is(reference, label), _is(output, label)
            tp = weights @ (is_ref & is_out).astype(float)
            fp = weights @ (~is_ref & is_out).astype(float)
            fn = weights @ (is_ref & ~is_out).astype(float)
            with np.errstate(divide="ignore", invalid="ignore"):
                precision = np.where(tp + fp > 0, tp / (tp + fp), 0.0)
                recall = np.where(tp + fn > 0, tp / (tp + fn), 0.0)
                f1 = np.where(precision + recall > 0,
                              2 * precision * recall / (precision + recall), 0.0)
            values.append({"precision": precision, "recall": recall, "f1": f1}[kind])
        return np.mean(values, axis=0)  # type: ignore[no-any-return]

    return compute


def _is(values: np.ndarray[Any, Any], label: Any) -> np.ndarray[Any, Any]:
    """Element-wise ``value == label`` over an object array (1 == 1.0 == True)."""
    return np.fromiter((v == label for v in values.tolist()), dtype=bool, count=values.size)


def _roc_auc(reference: np.ndarray[Any, Any], output: np.ndarray[Any, Any],
             weights: FloatArray, positive: Any = 1) -> FloatArray:
    labels = set(reference.tolist())
    if len(labels) > 2 or (positive == 1 and not labels <= {0, 1}):
        raise ValidationError(f"roc_auc needs binary references, got "
                              f"{sorted(labels, key=repr)[:5]}; for two classes other than 0/1 "
                              "name the positive one with positive_label=")
    is_positive = _is(reference, positive)
    scores = output.astype(float)
    order = np.argsort(scores, kind="stable")
    scores, is_positive, weights = scores[order], is_positive[order], weights[:, order]
    # ties: a positive tied with a negative counts half; group equal scores
    _, starts = np.unique(scores, return_index=True)
    pos_w = weights * is_positive
    neg_w = weights * ~is_positive
    group_pos = np.add.reduceat(pos_w, starts, axis=1)
    group_neg = np.add.reduceat(neg_w, starts, axis=1)
    neg_below = np.cumsum(group_neg, axis=1) - group_neg
    pairs = (group_pos * (neg_below + 0.5 * group_neg)).sum(axis=1)
    total = group_pos.sum(axis=1) * group_neg.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(total > 0, pairs / total, np.nan)  # type: ignore[no-any-return]


def _scaled(*arrays: np.ndarray[Any, Any]) -> tuple[list[FloatArray], int]:
    """The arrays as floats divided by one power of two 2**k (exact), so every value is below
    1 in size and squares and sums of squares neither overflow (1e200) nor underflow (1e-200);
    and k."""
    values = [a.astype(float) for a in arrays]
    largest = max((float(np.max(np.abs(v))) for v in values if v.size), default=0.0)
    k = math.frexp(largest)[1] if largest > 0 else 0
    return [np.ldexp(v, -k) for v in values], k


def _r2(reference: np.ndarray[Any, Any], output: np.ndarray[Any, Any],
        weights: FloatArray) -> FloatArray:
    (y, f), _ = _scaled(reference, output)  # r2 does not change with the scale
    ss_res = weights @ (y - f) ** 2
    # Centred sums (never E[y^2] - E[y]^2, which cancels for targets far from zero):
    # shift by the overall mean, then take each resample's deviations from its own mean.
    centred = y - y.mean()
    total_w = weights.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = (weights @ centred) / total_w
        ss_tot = np.einsum("bk,bk->b", weights, (centred[None, :] - mean[:, None]) ** 2)
        return np.where(ss_tot > 0, 1 - ss_res / ss_tot, np.nan)  # type: ignore[no-any-return]


def _rmse(reference: np.ndarray[Any, Any], output: np.ndarray[Any, Any],
          weights: FloatArray) -> FloatArray:
    (y, f), k = _scaled(reference, output)
    # finite: rmse <= the largest error, and a row whose error overflows is that row's error
    rmse: FloatArray = np.ldexp(np.sqrt((weights @ (y - f) ** 2) / weights.sum(axis=1)), k)
    return rmse


def _score_accuracy(row: dict[str, Any], output: Any, reference: Any) -> float:
    return _equal(output, reference)


def _score_abs(row: dict[str, Any], output: Any, reference: Any) -> float:
    return _finite(abs(_number(output, "output") - _number(reference, "reference")), "error")


def _score_sq(row: dict[str, Any], output: Any, reference: Any) -> float:
    difference = _number(output, "output") - _number(reference, "reference")
    return _finite(difference * difference, "squared error")


def _finite(value: float, what: str) -> float:
    """`value`, or a RowError when it overflowed a float (an output far from the reference)."""
    if not math.isfinite(value):
        raise RowError(f"the {what} is too large for a float")
    return value


def _score_exact(row: dict[str, Any], output: Any, reference: Any) -> float:
    return float(_text(output, "output").strip() == str(reference).strip())


_STOCK: dict[str, Metric] = {
    "accuracy": RowMetric("accuracy", _score_accuracy, binary=True),
    "precision": AggregateMetric("precision", _prf("precision")),
    "recall": AggregateMetric("recall", _prf("recall")),
    "f1": AggregateMetric("f1", _prf("f1")),
    "roc_auc": AggregateMetric("roc_auc", _roc_auc),
    "mae": RowMetric("mae", _score_abs, higher_is_better=False),
    "mse": RowMetric("mse", _score_sq, higher_is_better=False),
    "rmse": AggregateMetric("rmse", _rmse, higher_is_better=False, kind="regression"),
    "r2": AggregateMetric("r2", _r2, kind="regression"),
    "exact_match": RowMetric("exact_match", _score_exact, binary=True),
    "contains": Contains(),
    "valid_json": RowMetric("valid_json", lambda row, output, ref: _valid_json(output),
                            needs_reference=False, binary=True),
    "token_f1": RowMetric("token_f1", lambda row, output, ref: token_f1(
        _text(output, "output"), _text(ref, "reference"))),
    "rouge_l": RowMetric("rouge_l", lambda row, output, ref: rouge_l(
        _text(output, "output"), _text(ref, "reference"))),
}


_LABEL_PART = ("accuracy", "precision", "recall", "f1", "exact_match")
_SCORE_PART = ("roc_auc", "mae", "mse", "rmse", "r2")


def output_part(metric: Metric) -> str | None:
    """Which part of a ``{"label": ..., "score": ...}`` output a stock metric reads."""
    if _STOCK.get(metric.name) is not metric:
        return None  # a user's metric gets the whole output
    if metric.name in _LABEL_PART:
        return "label"
    return "score" if metric.name in _SCORE_PART else None


def for_labels(metric: Metric, rule: LabelRule) -> Metric:
    """A stock precision, recall, f1 or roc_auc bound to `rule` (others unchanged)."""
    if _STOCK.get(metric.name) is not metric or not isinstance(metric, AggregateMetric):
        return metric
    positive = rule.positive_label if rule.kind == BINARY else None
    if metric.name == "roc_auc":
        if rule.kind != BINARY:
            raise ValidationError(f"roc_auc needs two classes, the labels have "
                                  f"{len(rule.classes)}; for two classes other than 0/1 name the "
                                  "positive one with positive_label=")
        return AggregateMetric("roc_auc", partial(_roc_auc, positive=positive))
    return AggregateMetric(metric.name, _prf(metric.name, positive))


def known_metrics() -> list[str]:
    """The names `evaluate` accepts as strings."""
    return sorted(_STOCK)


def resolve_metrics(metrics: Sequence[str | Metric] | str | None) -> list[Metric]:
    """Metric objects for names or objects; the first is the primary metric.

    Raises:
        ValidationError: an unknown name (the message lists the known ones), or no metrics.
    """
    if isinstance(metrics, (RowMetric, AggregateMetric)):
        metrics = [metrics]
    if not isinstance(metrics, (str, list, tuple)) or len(metrics) == 0:
        raise ValidationError(f"metrics must be a list of names or metric objects, e.g. "
                              f"['accuracy'], got {metrics!r}; known: {', '.join(known_metrics())}")
    items = [metrics] if isinstance(metrics, str) else list(metrics)
    out: list[Metric] = []
    for item in items:
        if isinstance(item, (RowMetric, AggregateMetric)):
            out.append(item)
        elif isinstance(item, str) and item in _STOCK:
            out.append(_STOCK[item])
        else:
            raise ValidationError(f"unknown metric {item!r}; known metrics: "
                                  f"{', '.join(known_metrics())}, or Regex(pattern), "
                                  "Contains(text), Custom(name, fn)")
    names = [m.name for m in out]
    if len(set(names)) != len(names):
        raise ValidationError(f"metric names must be unique, got {names}")
    return out
