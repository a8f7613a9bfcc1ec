"""Monitoring: how the data and the model's quality change over time."""

from .drift import JS_THRESHOLD, PSI_THRESHOLD, dataset_drift, drift, drift_over_time
from .quality import QUALITY_METRICS, metrics_over_time
from .summaries import summarize

__all__ = ["JS_THRESHOLD", "PSI_THRESHOLD", "QUALITY_METRICS", "dataset_drift", "drift",
           "drift_over_time", "metrics_over_time", "summarize"]
