"""Evaluations: did the new model version improve? Paired comparisons on one dataset version."""

from .comparison import IMPROVED, NO_DIFFERENCE, REGRESSED, Comparison, MetricResult, PairwiseResult
from .completion import CompletionVersion
from .evaluate import (
                       Candidate,
                       TrainingOverlapWarning,
                       artifact_hash,
                       evaluate,
                       get_evaluation,
                       list_evaluations,
)
from .judges import JudgeError, OpenAICompatible, PairwiseJudge, ScoreJudge
from .metrics import AggregateMetric, Contains, Custom, Regex, RowError, RowMetric, known_metrics
from .settings import EvaluationSettings

__all__ = [
    "IMPROVED", "NO_DIFFERENCE", "REGRESSED", "AggregateMetric", "Candidate", "Comparison",
    "CompletionVersion", "Contains", "Custom", "EvaluationSettings", "JudgeError", "MetricResult",
    "OpenAICompatible", "PairwiseJudge", "PairwiseResult", "Regex", "RowError", "RowMetric",
    "ScoreJudge", "TrainingOverlapWarning", "artifact_hash", "evaluate", "get_evaluation",
    "known_metrics", "list_evaluations",
]
