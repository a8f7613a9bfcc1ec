"""What a label metric means for the labels at hand: one rule for `metrics()` and `evaluate()`.

Label metrics (accuracy, precision, recall, f1) compare classes; roc_auc ranks a score
against the positive class. The rule, decided from the values of the labels and the
predicted labels together, before any metric is computed:

- **binary** when a positive class is stated (``positive_label=``) and there are at most
  two classes, or when the classes are {0, 1} (numbers or booleans), {"0", "1"} or
  {"false", "true"} (any case): the positive class is the stated one, else 1 / True /
  "1" / "true". Precision, recall and f1 are those of the positive class (scikit-learn's
  ``average="binary"``).
- **multiclass** otherwise (10 digit classes, "cat"/"dog"): precision, recall and f1 are
  macro averages, the unweighted mean over every class seen in the labels or predictions
  (scikit-learn's ``average="macro"``); roc_auc needs binary labels.
- Continuous numbers (a score such as 0.73) are not labels: a score given to a label
  metric, or labels that are continuous, is a `ValidationError` naming the fix. Strings
  and numbers never equal each other, so labels of one kind with predictions of the other
  are refused too.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ._limits import shown
from .errors import ValidationError

__all__ = ["BINARY", "LABEL_METRICS", "MULTICLASS", "SCORE_METRICS", "LabelRule", "check_label",
           "label_rule"]

LABEL_METRICS = ("accuracy", "precision", "recall", "f1")
SCORE_METRICS = ("roc_auc",)
BINARY, MULTICLASS = "binary", "multiclass"
_TRUE_TEXT = ("1", "true")


@dataclass(frozen=True)
class LabelRule:
    """How label metrics read these labels: binary with a positive class, or multiclass."""

    kind: str
    classes: list[Any]
    positive_label: Any = None

    def describe(self) -> str:
        """One line for tables and stored results."""
        if self.kind == BINARY:
            return (f"binary labels, positive class {self.positive_label!r}: precision, recall "
                    "and f1 are of that class; roc_auc ranks scores against it")
        return (f"{len(self.classes)} classes: precision, recall and f1 are macro averages "
                "(the unweighted mean over classes)")

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: kind, number of classes, positive class, description."""
        return {"kind": self.kind, "classes": len(self.classes),
                "positive_label": self.positive_label, "rule": self.describe()}


def check_label(label: Any) -> Any:
    """`label` when it can be a stated positive class, else a ValidationError."""
    if label is None:
        return None
    if not isinstance(label, (bool, int, str)) or (
            isinstance(label, int) and not isinstance(label, bool) and not -2**63 <= label < 2**63):
        raise ValidationError(f"positive_label must be a label (a string, a 64-bit integer or a "
                              f"boolean) or None, got {shown(label)}")
    return label


def label_rule(labels: Iterable[Any], predictions: Iterable[Any], positive_label: Any = None,
               score_fix: str = "return the predicted label") -> LabelRule:
    """The rule for these labels (references) and predicted labels (outputs).

    Args:
        labels: the reference values (None left out).
        predictions: the predicted labels (None left out).
        positive_label: the stated positive class, or None to infer it.
        score_fix: what to do when the predictions are scores (said in the error).

    Raises:
        ValidationError: continuous labels or predictions, strings mixed with numbers, or a
            stated positive class that does not fit the labels.
    """
    positive_label = check_label(positive_label)
    refs = _classes(labels, "the labels (references)",
                    "label metrics compare classes; use mae, rmse or r2 for numeric targets, "
                    "or log class labels")
    outs = _classes(predictions, "the predictions (outputs)",
                    f"accuracy, precision, recall and f1 compare labels: {score_fix}")
    _same_kind(refs, outs)
    values = refs | outs
    classes = sorted(values, key=lambda v: (type(v).__name__, v))
    if positive_label is not None:
        return _stated(classes, positive_label)
    inferred = _inferred_positive(values)
    if inferred is not None:
        return LabelRule(BINARY, classes, inferred)
    return LabelRule(MULTICLASS, classes)


def _classes(values: Iterable[Any], what: str, fix: str) -> set[Any]:
    values = list(values)
    try:
        distinct: Iterable[Any] = set(values)  # each distinct value checked once (1 == 1.0)
    except TypeError:  # an unhashable value: refused below
        distinct = values
    out: set[Any] = set()
    for value in distinct:
        if value is None:
            continue
        if isinstance(value, float):
            if not math.isfinite(value):
                continue
            if not value.is_integer():
                raise ValidationError(f"{what} hold continuous numbers (e.g. {value!r}), not "
                                      f"classes: {fix}")
            value = int(value)
        elif not isinstance(value, (bool, int, str)):
            raise ValidationError(f"{what} hold {type(value).__name__} values (e.g. "
                                  f"{value!r:.60}), not classes: {fix}")
        out.add(value)
    return out


def _same_kind(refs: set[Any], outs: set[Any]) -> None:
    text_refs = {isinstance(v, str) for v in refs}
    text_outs = {isinstance(v, str) for v in outs}
    if len(text_refs | text_outs) > 1:
        ref, out = sorted(refs, key=repr)[:3], sorted(outs, key=repr)[:3]
        raise ValidationError(f"the labels ({', '.join(map(repr, ref))}...) and the predictions "
                              f"({', '.join(map(repr, out))}...) mix strings and numbers, which "
                              "never compare equal: predict labels of the labels' type")


def _inferred_positive(values: set[Any]) -> Any:
    if values and all(isinstance(v, bool) for v in values):
        return True
    if values <= {0, 1} and not any(isinstance(v, str) for v in values):
        return 1
    if all(isinstance(v, str) for v in values):
        lowered = {v.lower() for v in values}
        if lowered <= {"0", "1"} and len(lowered) == len(values):
            return "1"
        if lowered <= {"false", "true"} and len(lowered) == len(values):
            return next((v for v in values if v.lower() == "true"), "true")
    return None


def _stated(classes: list[Any], positive: Any) -> LabelRule:
    if len(classes) > 2:
        raise ValidationError(f"positive_label={positive!r}, but the labels have "
                              f"{len(classes)} classes ({', '.join(map(repr, classes[:5]))}...): "
                              "a positive class needs two; leave positive_label out for macro "
                              "averages")
    if len(classes) == 2 and positive not in classes:
        raise ValidationError(f"positive_label={positive!r} is not one of the classes "
                              f"{classes!r}; name one of them")
    if classes and isinstance(positive, str) != isinstance(classes[0], str):
        raise ValidationError(f"positive_label={positive!r} and the classes {classes!r} are of "
                              "different kinds (string and number); name one of the classes")
    return LabelRule(BINARY, classes, positive)
