"""Gantry's aggregation triggers: a definition (checked when made) plus what to measure."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from .._limits import check_int, check_number, check_span, check_text
from .._names import MAX_FIELD_LENGTH, check_name
from ..clock import to_utc
from ..errors import ValidationError
from ..monitoring.alerts import Measure, canonical_aggregation, needs
from ..query.time_window import RelativeTimeWindow
from ._durations import from_iso_duration, to_iso_duration

if TYPE_CHECKING:
    from .._context import Context

__all__ = ["AggregationTrigger", "QueriesAggregationTrigger", "Trigger"]

_BIG = 1e300  # bounds are stored as DOUBLE and sent as JSON: finite, with room to spare
_DRIFT = ("psi", "js", "ks", "wasserstein", "l1", "linf", "kl", "chi2")
RANGE_TYPES = ("within", "outside", "above", "below")


class Trigger:
    """Parent class of every trigger (Gantry's ``Trigger``)."""


def _check_fields(fields: object, what: str = "fields") -> list[str]:
    if not isinstance(fields, (list, tuple)) or not fields:
        raise ValidationError(f"{what} must be a non-empty list of field names such as "
                              f"['inputs.amount'], got {fields!r}")
    for name in fields:
        if not isinstance(name, str) or not name or len(name) > MAX_FIELD_LENGTH:
            raise ValidationError(f"{what} must be field names such as 'inputs.amount', got "
                                  f"{name!r}")
        check_text(name, "field name")
    return list(fields)


def _check_bound(value: object, what: str) -> float | None:
    return None if value is None else check_number(value, what, -_BIG, _BIG)


def _check_tags(tags: object) -> dict[str, str] | None:
    if tags is None:
        return None
    if not isinstance(tags, Mapping):
        raise ValidationError(f"tags must be a dict of tag name to string value, e.g. "
                              f"{{'env': 'prod'}}, got {type(tags).__name__}")
    for key, value in tags.items():
        check_text(key, "tag name")
        if not isinstance(value, str):
            raise ValidationError(f"tag {key!r} must be matched against a string, got {value!r}")
        check_text(value, f"tag {key!r} value", empty=True)
    return dict(tags)


def _window(evaluation_window: object) -> tuple[timedelta, timedelta]:
    """(length, delay) from a `RelativeTimeWindow` (Gantry) or a timedelta (ours)."""
    if isinstance(evaluation_window, RelativeTimeWindow):
        length, delay = evaluation_window.window_length, evaluation_window.offset
    elif isinstance(evaluation_window, timedelta):
        length, delay = evaluation_window, timedelta(0)
    else:
        raise ValidationError("evaluation_window must be a RelativeTimeWindow(window_length=..., "
                              "offset=...) (from gantry_local.query.time_window) or a timedelta, "
                              f"got {type(evaluation_window).__name__}")
    return check_span(length, "evaluation_window"), check_span(delay, "evaluation_window offset",
                                                               zero=True)


def _check_reference(reference: object) -> Any:
    """A drift reference: ``(start, end)`` datetimes, a dataset name, a `Dataset`, or
    ``(dataset name or Dataset, version_id)``; kept as data (names, not objects)."""
    if reference is None:
        return None
    if isinstance(reference, tuple) and len(reference) == 2 and \
            all(isinstance(x, datetime) for x in reference):
        start, end = (to_utc(x, "reference") for x in reference)
        if end <= start:
            raise ValidationError(f"the reference window ends ({end}) before it starts ({start})")
        return (start, end)
    dataset, version = (reference if isinstance(reference, tuple) and len(reference) == 2
                        else (reference, None))
    name = getattr(dataset, "name", dataset) if not isinstance(dataset, str) else dataset
    if not isinstance(name, str) or (version is not None and not isinstance(version, str)):
        raise ValidationError("reference must be a (start, end) pair of datetimes, a dataset "
                              "name or Dataset, or (dataset, version_id); got "
                              f"{reference!r}")
    return (check_name(name, "reference dataset name"), version)


class AggregationTrigger(Trigger):
    """Fire when `aggregation` of `fields` over the `evaluation_window` leaves
    ``[lower_bound, upper_bound]`` (either may be None).

    Gantry's arguments, in Gantry's order. `aggregation` is one of Gantry's names (or an
    `AlertsAggregation`): ``total``, ``maximum``, ``minimum``, ``mean``, ``stddev``,
    ``percent_null``/``true``/``false`` (of all rows), ``percent_true_not_null`` /
    ``percent_false_not_null`` of one field; ``accuracy_score``, ``precision_score``,
    ``recall_score``, ``f1_score``, ``roc_auc_score``, ``mean_squared_error``,
    ``mean_absolute_error``, ``mean_absolute_percentage_error``, ``maximum_error``,
    ``r2_score`` of ``[output, feedback]``; drift ``d1``, ``dinf``, ``kl``, ``ks``,
    ``categorical_*``, ``x2`` of one field (our names ``mean``, ``max``, ``l1``, ``psi`` ...
    too). `evaluation_window` is a ``RelativeTimeWindow(window_length, offset)``: the window
    ``[now - offset - window_length, now - offset)`` (a plain timedelta means no offset).

    Ours, keyword only: `reference` (drift only) compares with a fixed ``(start, end)``
    window or a dataset (``"name"`` or ``("name", version_id)``) instead of the window
    before; `min_rows` judges nothing (fires and resolves nothing) on fewer rows.

    Fields need not exist yet: they are checked when data arrives (see `add_automation`).

    Raises:
        ValidationError: a bad argument, at definition time.
    """

    def __init__(self, name: str, aggregation: Any, fields: list[str], lower_bound: float | None,
                 upper_bound: float | None, evaluation_window: RelativeTimeWindow | timedelta,
                 tags: dict[str, str] | None = None, *, reference: Any = None,
                 min_rows: int = 1) -> None:
        self.name = check_name(name, "trigger name")
        self.measure_as = canonical_aggregation(aggregation)
        self.aggregation = getattr(aggregation, "value", aggregation)
        self.fields = _check_fields(fields)
        wanted = needs(self.measure_as)[0]
        if len(self.fields) != wanted:
            shape = "[output, feedback]" if wanted == 2 else "[field]"
            raise ValidationError(f"{self.aggregation} takes fields={shape}, got {self.fields}")
        self.lower_bound = _check_bound(lower_bound, "lower_bound")
        self.upper_bound = _check_bound(upper_bound, "upper_bound")
        if self.lower_bound is None and self.upper_bound is None:
            raise ValidationError("give a lower_bound, an upper_bound, or both")
        if self.lower_bound is not None and self.upper_bound is not None and \
                self.lower_bound > self.upper_bound:
            raise ValidationError(f"lower_bound {self.lower_bound:g} is above upper_bound "
                                  f"{self.upper_bound:g}")
        self.evaluation_window, self.delay = _window(evaluation_window)
        self.tags = _check_tags(tags)
        self.reference = _check_reference(reference)
        if self.reference is not None and self.measure_as not in _DRIFT:
            raise ValidationError(f"reference= is for drift aggregations (d1, dinf, kl, ks, x2, "
                                  f"psi ...), not {self.aggregation!r}")
        self.min_rows = check_int(min_rows, "min_rows", 1, 1_000_000_000)

    def __repr__(self) -> str:
        return (f"AggregationTrigger(name={self.name!r}, aggregation={self.aggregation!r}, "
                f"fields={self.fields!r})")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AggregationTrigger) and other.to_dict() == self.to_dict()

    __hash__ = None  # type: ignore[assignment]

    def window(self, now: datetime) -> tuple[datetime, datetime]:
        """The evaluation window ending `offset` before `now`."""
        end = now - self.delay
        return end - self.evaluation_window, end

    def spec(self, ws: Context, now: datetime) -> Measure:
        """What the scheduler measures at `now`."""
        start, end = self.window(now)
        reference = self.reference
        if reference is not None and isinstance(reference[0], str):  # a dataset (version)
            reference = (ws.datasets.get_dataset(reference[0]), reference[1])
        return Measure(self.measure_as, self.fields, start, end, self.tags, reference,
                       self.min_rows)

    def outside(self, value: float | None) -> bool:
        """Whether `value` breaches the bounds (None and NaN never do: nothing to judge)."""
        if value is None or math.isnan(value):
            return False
        return (self.lower_bound is not None and value < self.lower_bound) or (
            self.upper_bound is not None and value > self.upper_bound)

    def to_dict(self) -> dict[str, Any]:
        """Gantry's serialized form (``{"type": "AggregationTrigger", "content": ...}``)."""
        content: dict[str, Any] = {
            "name": self.name, "aggregation": self.aggregation, "fields": list(self.fields),
            "lower_bound": self.lower_bound, "upper_bound": self.upper_bound,
            "evaluation_window": to_iso_duration(self.evaluation_window),
            "delay": to_iso_duration(self.delay), "tags": self.tags}
        if self.reference is not None:
            first, second = self.reference
            content["reference"] = {"window": [first.isoformat(), second.isoformat()]} \
                if isinstance(first, datetime) else {"dataset": first, "version_id": second}
        if self.min_rows != 1:
            content["min_rows"] = self.min_rows
        return {"type": "AggregationTrigger", "content": content}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> AggregationTrigger:
        """Rebuild from `to_dict()`'s ``content``."""
        reference = d.get("reference")
        if isinstance(reference, Mapping):
            reference = tuple(datetime.fromisoformat(x) for x in reference["window"]) \
                if "window" in reference else (reference["dataset"], reference.get("version_id"))
        window = RelativeTimeWindow(
            window_length=from_iso_duration(d["evaluation_window"], "evaluation_window"),
            offset=from_iso_duration(d["delay"], "delay"))
        return cls(d["name"], d["aggregation"], d["fields"], d["lower_bound"], d["upper_bound"],
                   window, d.get("tags"), reference=reference, min_rows=d.get("min_rows", 1))


class QueriesAggregationTrigger(Trigger):
    """Compare two saved queries: each query's `query_aggregation` of the field, then their
    ``total_difference`` (first minus second) or ``percent_difference`` (100 * (first -
    second) / |second|), fired per `trigger_range_type`: ``"within"`` / ``"outside"`` the
    bounds, ``"above"`` the upper, ``"below"`` the lower bound.

    Each query (a `GantryDataFrame`, e.g. ``app.get_query(name)`` or ``app.query(...)``)
    gives its application, filters and tags; its window is its ``relative_time_window``
    (and ``relative_time_delay``) when it has one, else its length ``end_time -
    start_time``, ending now. Gantry's arguments, names and order.

    Raises:
        ValidationError: as Gantry's ValueErrors (one field, two queries, bounds that the
            range type needs), at definition time.
    """

    def __init__(self, name: str, compare_fields: list[str], compare_aggregation: Any,
                 trigger_range_type: str, queries: list[Any], query_aggregation: list[Any],
                 lower_bound: float | None = None, upper_bound: float | None = None) -> None:
        self.name = check_name(name, "trigger name")
        self.fields = _check_fields(compare_fields, "compare_fields")
        if len(self.fields) > 1:
            raise ValidationError("As of now, we only support 1 field for compare_fields")
        self.aggregation = getattr(compare_aggregation, "value", compare_aggregation)
        if self.aggregation not in ("total_difference", "percent_difference"):
            raise ValidationError(f"compare_aggregation must be 'total_difference' or "
                                  f"'percent_difference', got {compare_aggregation!r}")
        if trigger_range_type not in RANGE_TYPES:
            raise ValidationError(f"trigger_range_type must be one of {', '.join(RANGE_TYPES)}, "
                                  f"got {trigger_range_type!r}")
        self.trigger_range_type = trigger_range_type
        if not isinstance(queries, (list, tuple)) or len(queries) != 2:
            raise ValidationError("queries must be a list of two queries (we compare 2 queries)")
        if not isinstance(query_aggregation, (list, tuple)) or \
                len(query_aggregation) != len(queries):
            raise ValidationError("The number of queries and the number of query aggregations "
                                  "must be the same")
        self.query_aggregation = [getattr(a, "value", a) for a in query_aggregation]
        for aggregation in self.query_aggregation:
            if needs(canonical_aggregation(aggregation))[0] != 1 or \
                    canonical_aggregation(aggregation) in _DRIFT:
                raise ValidationError(f"query_aggregation {aggregation!r} must aggregate one "
                                      "field, e.g. 'maximum' or 'mean'")
        self.lower_bound = _check_bound(lower_bound, "lower_bound")
        self.upper_bound = _check_bound(upper_bound, "upper_bound")
        wanted = {"within": ("lower_bound", "upper_bound"), "outside": ("lower_bound",
                  "upper_bound"), "above": ("upper_bound",), "below": ("lower_bound",)}
        missing = [b for b in wanted[trigger_range_type] if getattr(self, b) is None]
        if missing:
            raise ValidationError(f"{' and '.join(missing)} must be specified for this trigger "
                                  f"range type ({trigger_range_type})")
        if self.lower_bound is not None and self.upper_bound is not None and \
                self.lower_bound > self.upper_bound:
            raise ValidationError("lower_bound must be less than upper_bound")
        self.queries = [_query_spec(q) for q in queries]
        self.min_rows = 1

    def __repr__(self) -> str:
        return (f"QueriesAggregationTrigger(name={self.name!r}, compare_aggregation="
                f"{self.aggregation!r}, compare_fields={self.fields!r})")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, QueriesAggregationTrigger) and other.to_dict() == self.to_dict()

    __hash__ = None  # type: ignore[assignment]

    def outside(self, value: float | None) -> bool:
        """Whether `value` fires the trigger (named for `AggregationTrigger.outside`)."""
        if value is None or math.isnan(value):
            return False
        low, high = self.lower_bound, self.upper_bound
        if self.trigger_range_type == "above":
            return high is not None and value > high
        if self.trigger_range_type == "below":
            return low is not None and value < low
        inside = (low is None or value >= low) and (high is None or value <= high)
        return inside if self.trigger_range_type == "within" else not inside

    def combine(self, first: float | None, second: float | None) -> float | None:
        """The compared value of the two queries' aggregates."""
        if first is None or second is None:
            return None
        if self.aggregation == "total_difference":
            return first - second
        return None if second == 0 else 100.0 * (first - second) / abs(second)

    def to_dict(self) -> dict[str, Any]:
        """Gantry's serialized form (queries as their application, filters, tags, window)."""
        return {"type": "QueriesAggregationTrigger", "content": {
            "name": self.name, "aggregation": self.aggregation, "lower_bound": self.lower_bound,
            "upper_bound": self.upper_bound, "trigger_range_type": self.trigger_range_type,
            "queries": [dict(q) for q in self.queries],
            "query_aggregation": list(self.query_aggregation), "fields": list(self.fields)}}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> QueriesAggregationTrigger:
        """Rebuild from `to_dict()`'s ``content``."""
        trigger = cls.__new__(cls)
        QueriesAggregationTrigger.__init__(
            trigger, d["name"], d["fields"], d["aggregation"], d["trigger_range_type"],
            [_StoredQuery(q) for q in d["queries"]], d["query_aggregation"], d["lower_bound"],
            d["upper_bound"])
        return trigger


class _StoredQuery:
    """A query rebuilt from its stored form (what `_query_spec` reads)."""

    def __init__(self, spec: Mapping[str, Any]) -> None:
        self.spec = dict(spec)


def _query_spec(query: Any) -> dict[str, Any]:
    """A query's application, filters, tags, version, env and relative window, as data."""
    if isinstance(query, _StoredQuery):
        return query.spec
    application = getattr(query, "application", None)
    if not isinstance(application, str):
        raise ValidationError(f"queries must be GantryDataFrames (app.query(...) or "
                              f"app.get_query(name)), got {type(query).__name__}")
    window = getattr(query, "relative_time_window", None)
    delay = getattr(query, "relative_time_delay", None) or timedelta(0)
    if window is None:
        start, end = getattr(query, "start_time", None), getattr(query, "end_time", None)
        if not isinstance(start, datetime) or not isinstance(end, datetime):
            raise ValidationError("Relative time window must be specified for all queries (a "
                                  "RelativeTimeWindow, or a query with start and end times)")
        window = end - start
    tags = dict(getattr(query, "tags", None) or {})
    return {"application": application, "filters": list(getattr(query, "gantry_filters", [])),
            "tags": tags, "version": getattr(query, "version", None),
            "relative_time_window": to_iso_duration(check_span(window, "query window")),
            "relative_time_delay": to_iso_duration(check_span(delay, "query delay", zero=True))}
