"""Means, deviations and squared errors that neither overflow nor underflow in DuckDB.

DuckDB's `avg`, `stddev_samp`, `var_pop` and a sum of squares go to inf or NaN once the
squares (or the sum) pass the largest float (values near 1e154 and up: 1e200 gives inf),
and lose every digit once the squares pass below the smallest (1e-200 gives 0). Where an
interval's largest value lies outside ``[2**-450, 2**450]``, its aggregates are computed
again on the values times ``2**-k`` (a power of two: exact), which puts the largest just
below 1, and the results are scaled back. Values inside that range are left as they are
(their squares, and sums of up to 2**100 of them, stay normal floats), so the common case
costs nothing: the first query already has each interval's extremes.
"""

from __future__ import annotations

import math

__all__ = ["exponent", "factor", "unscale"]

_LOW, _HIGH = 2.0 ** -450, 2.0 ** 450
_MOST = 1000  # 2**1000 is a float: subnormal values are scaled up by this much at most


def exponent(*extremes: float | None) -> int | None:
    """The k that brings the largest finite size among `extremes` below 1 when divided by
    ``2**k``, or None when no scaling is needed (within ``[2**-450, 2**450]``, zero, none, or
    an infinity, which no scale makes finite)."""
    sizes = [abs(float(v)) for v in extremes if v is not None and not math.isnan(float(v))]
    largest = max(sizes, default=0.0)
    if largest == 0 or math.isinf(largest) or _LOW <= largest <= _HIGH:
        return None
    return max(math.frexp(largest)[1], -_MOST)


def factor(k: int) -> float:
    """``2**-k``, the factor the values are multiplied by (bound as a parameter)."""
    return math.ldexp(1.0, -k)


def unscale(value: float | None, k: int, power: int = 1) -> float | None:
    """`value`, computed on values times ``2**-k``, for the values themselves: times
    ``2**(k * power)`` (1 for a mean or deviation, 2 for a mean square, 0 for a ratio);
    ±inf when the true value is beyond the largest float."""
    if value is None or power == 0:
        return value
    try:
        return math.ldexp(value, k * power)
    except OverflowError:
        return math.copysign(math.inf, value)
