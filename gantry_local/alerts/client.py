"""Gantry's alert types (``gantry.alerts.client``): aggregations and check definitions."""

from __future__ import annotations

from dataclasses import InitVar, dataclass
from enum import Enum
from typing import Any

__all__ = ["AlertsAggregation", "AlertsCheck", "DiffCheck", "SlackNotificationFrequency"]


class SlackNotificationFrequency(Enum):
    """How often a Slack notification posts (Gantry's values)."""

    DAILY = "DAILY"
    IMMEDIATELY = "IMMEDIATELY"


class AlertsAggregation(str, Enum):
    """Gantry's aggregations for alerts (the values are what triggers accept as strings).

    Range checks take one number per window: every value but ``pdf``, ``quantiles``,
    ``category_percents``, ``confusion_matrix``, the plots and sketches, and
    ``precision_recall_auc_score``; ``total_difference`` / ``percent_difference`` compare
    two queries (`QueriesAggregationTrigger`).
    """

    TOTAL_DIFFERENCE = "total_difference"
    PERCENT_DIFFERENCE = "percent_difference"
    TOTAL = "total"
    MAX = "maximum"
    MIN = "minimum"
    MEAN = "mean"
    STD = "stddev"
    PDF = "pdf"
    QUANTILES = "quantiles"
    PERCENT_NULL = "percent_null"
    PERCENT_TRUE = "percent_true"
    PERCENT_FALSE = "percent_false"
    PERCENT_TRUE_NOT_NULL = "percent_true_not_null"
    PERCENT_FALSE_NOT_NULL = "percent_false_not_null"
    CATEGORY_PERCENTS = "category_percents"
    ACCURACY = "accuracy_score"
    MAE = "mean_absolute_error"
    MSE = "mean_squared_error"
    MAPE = "mean_absolute_percentage_error"
    MAX_ERROR = "maximum_error"
    CONFUSION_MATRIX = "confusion_matrix"
    F1 = "f1_score"
    R2 = "r2_score"
    PRECISION = "precision_score"
    RECALL = "recall_score"
    ROC_AUC_SCORE = "roc_auc_score"
    PR_AUC_SCORE = "precision_recall_auc_score"
    D1 = "d1"
    DINF = "dinf"
    KL = "kl"
    KS = "ks"
    CATEGORICAL_D1 = "categorical_d1"
    CATEGORICAL_DINF = "categorical_dinf"
    CATEGORICAL_KL = "categorical_kl"
    X2 = "x2"
    ROC_CURVE_PLOT = "roc_curve_plot"
    PR_CURVE_PLOT = "pr_curve_plot"
    DISTRIBUTION_SKETCH = "distribution_sketch"
    CATEGORICAL_SKETCH = "categorical_sketch"


@dataclass
class DiffCheck:
    """A check comparing two queries' aggregates (Gantry's shape; `subqueries` are the
    `QueriesAggregationTrigger`'s stored queries)."""

    field_names: list[str]
    aggregation: AlertsAggregation
    trigger_range_type: str
    subqueries: Any
    check_type: str = "diff_check"
    lower_bound: float | None = None
    upper_bound: float | None = None


@dataclass
class AlertsCheck:
    """A range check: `aggregation` of `column_names` outside ``[lower_bound, upper_bound]``.

    Gantry's own docstring example passes the fields as ``data_node_names=``; that name is
    accepted too (so the example runs), and so the fields and bounds have defaults here
    (`create_alert` refuses a check without fields or without any bound).
    """

    aggregation: AlertsAggregation
    column_names: list[str] | None = None
    lower_bound: float | None = None
    upper_bound: float | None = None
    check_type: str = "range_check"
    data_node_names: InitVar[list[str] | None] = None

    def __post_init__(self, data_node_names: list[str] | None) -> None:
        if self.column_names is None:
            self.column_names = data_node_names
