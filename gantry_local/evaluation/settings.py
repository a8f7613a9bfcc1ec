"""`EvaluationSettings`: how `evaluate` calls models and tests differences, in one value."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from .._labels import check_label
from .._limits import shown
from ..errors import ValidationError
from ._runner import RunSettings

__all__ = ["MAX_RESAMPLES", "EvaluationSettings"]

MAX_RESAMPLES = 1_000_000


@dataclass(frozen=True)
class EvaluationSettings:
    """Every knob of `evaluate` apart from what is evaluated; checked when made.

    Args:
        alpha: significance level of the paired tests and intervals.
        seed: seeds the bootstrap and a pairwise judge's order (0 to 2**64 - 1).
        n_resamples: bootstrap resamples (100 to 1,000,000).
        workers: model calls in flight at once.
        timeout: seconds one call may take (None: no limit).
        retries: further attempts after a failure or timeout.
        backoff: seconds before the first retry; doubled for each further one.
        progress: show a progress bar (None: when stderr is a terminal).
        store: keep the result in the workspace (`list_evaluations`).
        cache: reuse cached outputs of versioned candidates (False: call every row again,
            and refresh the cache with the new outputs).
        positive_label: the positive class of binary labels (None: inferred, see
            `gantry_local._labels`: the rule `app.metrics()` follows too).

    Example:
        >>> settings = EvaluationSettings(alpha=0.01, workers=4)
        >>> settings.replace(cache=False).cache
        False
    """

    alpha: float = 0.05
    seed: int = 0
    n_resamples: int = 10_000
    workers: int = 8
    timeout: float | None = 60.0
    retries: int = 2
    backoff: float = 0.5
    progress: bool | None = None
    store: bool = True
    cache: bool = True
    positive_label: Any = None

    def __post_init__(self) -> None:
        if not isinstance(self.alpha, float) or not 0 < self.alpha < 0.5:
            raise ValidationError(f"alpha must be a float between 0 and 0.5, got {shown(self.alpha)}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or \
                not 0 <= self.seed < 2**64:
            raise ValidationError(f"seed must be an integer from 0 to 2**64 - 1, got "
                                  f"{shown(self.seed)}")
        if isinstance(self.n_resamples, bool) or not isinstance(self.n_resamples, int) or \
                not 100 <= self.n_resamples <= MAX_RESAMPLES:
            raise ValidationError(f"n_resamples must be an integer from 100 to "
                                  f"{MAX_RESAMPLES:,}, got {shown(self.n_resamples)}")
        for name in ("store", "cache"):
            if not isinstance(getattr(self, name), bool):
                raise ValidationError(f"{name} must be True or False, got "
                                      f"{shown(getattr(self, name))}")
        _ = self.run  # checks workers, timeout, retries, backoff and progress
        check_label(self.positive_label)

    @property
    def run(self) -> RunSettings:
        """How models and judges are called."""
        return RunSettings(self.workers, self.timeout, self.retries, self.backoff, self.progress)

    def replace(self, **changes: Any) -> EvaluationSettings:
        """A copy with some settings changed (checked like the original).

        Raises:
            ValidationError: an unknown setting or a bad value.
        """
        unknown = sorted(set(changes) - set(setting_names()))
        if unknown:
            raise ValidationError(f"unknown evaluation setting(s) {unknown}; known: "
                                  f"{', '.join(setting_names())}")
        return dataclasses.replace(self, **changes)


def setting_names() -> list[str]:
    """The fields of `EvaluationSettings`, in order."""
    return [f.name for f in dataclasses.fields(EvaluationSettings)]
