"""Gantry's ``gantry.query.metric``: model metrics from an outputs and a feedback series.

Each function takes two series of one query (``df["outputs.label"]``,
``df["feedback.label"]``: the same application, window and filters) and returns a pandas
DataFrame indexed by ``timestamp`` (the start of each of `num_points` equal slices of the
window; the window's start for one point) with one column named after the metric, as
Gantry's did. Records where either value is missing are left out; a slice without pairs
is NaN (``dropna=True`` drops those rows). As in Gantry, the categorical metrics refuse
float outputs, the regression ones need them, and ``roc_auc_score`` needs float scores and
non-float labels (`NotSupportedError`, a `NotImplementedError`). ``average="micro"`` (the
only value Gantry took) counts every record once, so precision, recall and f1 equal the
accuracy for single-label outputs.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from .._limits import shown
from ..errors import NotSupportedError, ValidationError
from ._pairs import check_series, paired_slices

if TYPE_CHECKING:
    import pandas

__all__ = ["accuracy_score", "confusion_matrix", "f1_score", "mean_squared_error",
           "percent_false", "percent_null", "percent_true", "precision_score", "r2_score",
           "recall_score", "roc_auc_score"]

Pair = Callable[[np.ndarray[Any, Any], np.ndarray[Any, Any]], Any]


def accuracy_score(outputs: Any, feedback: Any, dropna: bool = False,
                   num_points: int = 1) -> pandas.DataFrame:
    """The share of records whose output equals the feedback (categorical outputs)."""
    return _metric("accuracy_score", outputs, feedback, dropna, num_points, "categorical",
                   _accuracy)


def mean_squared_error(outputs: Any, feedback: Any, dropna: bool = False, num_points: int = 1,
                       multioutput: Literal["uniform_average", "raw_values"] = "uniform_average",
                       squared: bool = True) -> pandas.DataFrame:
    """The mean squared error (``squared=False``: its root) of float outputs."""
    _choice(multioutput, ("uniform_average", "raw_values"), "multioutput")
    if not isinstance(squared, bool):
        raise ValidationError(f"squared must be True or False, got {shown(squared)}")

    def mse(out: np.ndarray[Any, Any], fb: np.ndarray[Any, Any]) -> float:
        value = float(np.mean((_floats(out) - _floats(fb)) ** 2))
        return value if squared else float(np.sqrt(value))

    return _metric("mean_squared_error", outputs, feedback, dropna, num_points, "regression",
                   mse)


def confusion_matrix(outputs: Any, feedback: Any, dropna: bool = False,
                     num_points: int = 1) -> pandas.DataFrame:
    """Per slice, the matrix C (a list of rows) where ``C[i][j]`` counts records of class i
    (feedback) predicted as class j (output), classes in sorted order."""
    return _metric("confusion_matrix", outputs, feedback, dropna, num_points, "categorical",
                   _confusion)


def f1_score(outputs: Any, feedback: Any, dropna: bool = False, num_points: int = 1,
             average: Literal["micro"] = "micro") -> pandas.DataFrame:
    """The micro-averaged F1 score of categorical outputs."""
    _choice(average, ("micro",), "average")
    return _metric("f1_score", outputs, feedback, dropna, num_points, "categorical", _accuracy)


def r2_score(outputs: Any, feedback: Any, dropna: bool = False, num_points: int = 1,
             multioutput: Literal["uniform_average", "raw_values", "variance_weighted"]
             = "uniform_average") -> pandas.DataFrame:
    """The coefficient of determination of float outputs (NaN when the feedback is constant)."""
    _choice(multioutput, ("uniform_average", "raw_values", "variance_weighted"), "multioutput")
    return _metric("r2_score", outputs, feedback, dropna, num_points, "regression", _r2)


def precision_score(outputs: Any, feedback: Any, dropna: bool = False, num_points: int = 1,
                    average: Literal["micro"] = "micro") -> pandas.DataFrame:
    """The micro-averaged precision of categorical outputs."""
    _choice(average, ("micro",), "average")
    return _metric("precision_score", outputs, feedback, dropna, num_points, "categorical",
                   _accuracy)


def recall_score(outputs: Any, feedback: Any, dropna: bool = False, num_points: int = 1,
                 average: Literal["micro"] = "micro") -> pandas.DataFrame:
    """The micro-averaged recall of categorical outputs."""
    _choice(average, ("micro",), "average")
    return _metric("recall_score", outputs, feedback, dropna, num_points, "categorical",
                   _accuracy)


def roc_auc_score(outputs: Any, feedback: Any, dropna: bool = False,
                  num_points: int = 1) -> pandas.DataFrame:
    """The area under the ROC curve of float scores against binary labels (NaN when a slice
    holds one class only)."""
    return _metric("roc_auc_score", outputs, feedback, dropna, num_points, "score", _roc_auc)


def percent_null(data_node: Any, dropna: bool = False, num_points: int = 1) -> pandas.DataFrame:
    """The share of missing values of one series (`dropna` is ignored with a warning, as
    Gantry did)."""
    if dropna is True:
        warnings.warn("'dropna' parameter is no longer valid in this query as it was a bug. "
                      "Please remove it as it will be removed in future versions", stacklevel=2)
    return _share("percent_null", data_node, dropna, num_points,
                  lambda s, n: s.percent_null(num_points=n))


def percent_true(data_node: Any, dropna: bool = False, num_points: int = 1) -> pandas.DataFrame:
    """The share of true values of a bool series (`dropna`: of its present values)."""
    return _share("percent_true", data_node, dropna, num_points,
                  lambda s, n: s.percent_true(dropna=dropna, num_points=n))


def percent_false(data_node: Any, dropna: bool = False, num_points: int = 1) -> pandas.DataFrame:
    """The share of false values of a bool series (`dropna`: of its present values)."""
    return _share("percent_false", data_node, dropna, num_points,
                  lambda s, n: s.percent_false(dropna=dropna, num_points=n))


def _share(stat: str, data_node: Any, dropna: bool, num_points: int,
           compute: Callable[[Any, int], Any]) -> pandas.DataFrame:
    series = check_series(data_node, "data_node")
    _check_args(dropna, num_points)
    from ._frame import _pandas

    pd = _pandas()
    if num_points == 1:
        frame = pd.DataFrame({"timestamp": [series.parent_dataframe.start_time],
                              stat: [compute(series, 1)]})
    else:
        frame = compute(series, num_points).rename(columns={"time": "timestamp"})
    result: pandas.DataFrame = frame.set_index("timestamp")
    return result


def _check_args(dropna: object, num_points: object) -> None:
    if not isinstance(dropna, bool):
        raise ValidationError(f"dropna must be True or False, got {shown(dropna)}")
    if isinstance(num_points, bool) or not isinstance(num_points, int) or num_points < 1:
        raise ValidationError(f"num_points must be greater than 0 if passed. Got "
                              f"{shown(num_points)}.")


def _metric(stat: str, outputs: Any, feedback: Any, dropna: bool, num_points: int,
            kind: str, compute: Pair) -> pandas.DataFrame:
    out, fb = check_series(outputs, "outputs"), check_series(feedback, "feedback")
    _check_args(dropna, num_points)
    _check_kind(kind, out.dtype, fb.dtype, stat)
    from ._frame import _pandas

    pd = _pandas()
    rows = [(start, compute(o, f) if len(o) else float("nan"))
            for start, o, f in paired_slices(out, fb, num_points)]
    frame: pandas.DataFrame = pd.DataFrame({"timestamp": [r[0] for r in rows],
                                            stat: [r[1] for r in rows]})
    if dropna:
        frame = frame[frame[stat].map(lambda v: not (isinstance(v, float) and np.isnan(v)))]
    result: pandas.DataFrame = frame.set_index("timestamp")
    return result


def _check_kind(kind: str, outputs: str, feedback: str, stat: str) -> None:
    ok = {"categorical": outputs != "float", "regression": outputs in ("float", "null"),
          "score": outputs in ("float", "null") and feedback != "float"}[kind]
    if not ok:
        need = {"categorical": "outputs that are not floats",
                "regression": "float outputs",
                "score": "float outputs (scores) and labels that are not floats"}[kind]
        raise NotSupportedError(f"{stat} needs {need}, as in Gantry; got {outputs} outputs and "
                                f"{feedback} feedback")


def _choice(value: object, allowed: tuple[str, ...], what: str) -> None:
    if value not in allowed:
        raise ValidationError(f"{what} must be one of {', '.join(allowed)}, got {shown(value)}")


def _floats(values: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    try:
        return values.astype(float)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"these values are not numbers: {exc}") from None


def _accuracy(out: np.ndarray[Any, Any], fb: np.ndarray[Any, Any]) -> float:
    return float(np.mean([o == f for o, f in zip(out, fb, strict=True)]))


def _confusion(out: np.ndarray[Any, Any], fb: np.ndarray[Any, Any]) -> list[list[int]]:
    labels = sorted(set(out.tolist()) | set(fb.tolist()), key=lambda v: (str(type(v)), v))
    index = {label: i for i, label in enumerate(labels)}
    matrix = [[0] * len(labels) for _ in labels]
    for o, f in zip(out, fb, strict=True):
        matrix[index[f]][index[o]] += 1
    return matrix


def _r2(out: np.ndarray[Any, Any], fb: np.ndarray[Any, Any]) -> float:
    truth, predicted = _floats(fb), _floats(out)
    total = float(np.sum((truth - truth.mean()) ** 2))
    if total == 0:
        return float("nan")
    return 1 - float(np.sum((truth - predicted) ** 2)) / total


def _roc_auc(out: np.ndarray[Any, Any], fb: np.ndarray[Any, Any]) -> float:
    from scipy.stats import rankdata

    labels = sorted(set(fb.tolist()), key=lambda v: (str(type(v)), v))
    if len(labels) != 2:
        return float("nan")
    positive = np.array([v == labels[1] for v in fb], dtype=bool)  # True, 1, or the larger
    ranks = rankdata(_floats(out))
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
