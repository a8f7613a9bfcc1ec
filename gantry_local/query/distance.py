"""Gantry's ``gantry.query.distance``: how far apart two series' distributions are.

Each function takes two series (of one query or of two: e.g. this week against last week)
and returns one float, computed on their present values. Numbers are compared over 10
equal-width bins spanning both series (as `GantrySeries.pdf` bins them); booleans, strings
and tags over their values. ``d1`` is the sum of the absolute differences between the two
distributions' shares (0 to 2), ``dinf`` the largest one, ``kl`` the Kullback-Leibler
divergence of the first from the second (empty bins smoothed by 1e-10), ``ks`` the
two-sample Kolmogorov-Smirnov statistic (on the values themselves for numbers, on the
cumulative shares of the sorted values otherwise). A series without values is a
`ValidationError`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ValidationError
from ._pairs import check_series, values

__all__ = ["d1", "dinf", "kl", "ks"]

_BINS = 10
_SMOOTH = 1e-10
_NUMERIC = ("int", "float")


def d1(feat1: Any, feat2: Any) -> float:
    """The D1 distance between the two series' distributions."""
    p, q = _shares(feat1, feat2)
    return float(np.abs(p - q).sum())


def dinf(feat1: Any, feat2: Any) -> float:
    """The largest difference between the two series' distributions."""
    p, q = _shares(feat1, feat2)
    return float(np.abs(p - q).max())


def ks(feat1: Any, feat2: Any) -> float:
    """The two-sample Kolmogorov-Smirnov statistic between the two series."""
    a, b, numeric = _values(feat1, feat2)
    if numeric:
        from scipy.stats import ks_2samp

        return float(ks_2samp(a.astype(float), b.astype(float)).statistic)
    p, q = _shares(feat1, feat2)
    return float(np.abs(np.cumsum(p) - np.cumsum(q)).max())


def kl(feat1: Any, feat2: Any) -> float:
    """The Kullback-Leibler divergence of the first series' distribution from the second's."""
    p, q = _shares(feat1, feat2)
    p, q = p + _SMOOTH, q + _SMOOTH
    p, q = p / p.sum(), q / q.sum()
    return float(np.sum(p * np.log(p / q)))


def _values(feat1: Any, feat2: Any) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], bool]:
    first, second = check_series(feat1, "feat1"), check_series(feat2, "feat2")
    numeric = first.dtype in _NUMERIC and second.dtype in _NUMERIC
    if not numeric and (first.dtype in _NUMERIC) != (second.dtype in _NUMERIC):
        raise ValidationError(f"cannot compare {first.name!r} ({first.dtype} values) with "
                              f"{second.name!r} ({second.dtype} values)")
    a, b = values(first), values(second)
    for series, found in ((first, a), (second, b)):
        if not len(found):
            raise ValidationError(f"{series.name!r} has no values in its query to compare")
    return a, b, numeric


def _shares(feat1: Any, feat2: Any) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    a, b, numeric = _values(feat1, feat2)
    if numeric:
        x, y = a.astype(float), b.astype(float)
        low, high = min(x.min(), y.min()), max(x.max(), y.max())
        edges = np.linspace(low, high, _BINS + 1) if high > low else np.array([low, low + 1])
        p, q = np.histogram(x, edges)[0], np.histogram(y, edges)[0]
    else:
        labels = sorted(set(a.tolist()) | set(b.tolist()), key=lambda v: (str(type(v)), v))
        p = np.array([int(np.sum(a == v)) for v in labels])
        q = np.array([int(np.sum(b == v)) for v in labels])
    return p / p.sum(), q / q.sum()
