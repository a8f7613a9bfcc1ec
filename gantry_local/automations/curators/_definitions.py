"""Curators as JSON, so their definitions live in the DuckDB file and any process can run them.

Below the `Curator` class: it reads a definition into the arguments a `Curator` is built
from (`curators.curators.curator_from_json` builds it), and writes any object with a
curator's attributes (`Definition`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from ...errors import ValidationError
from . import selectors as sel

__all__ = ["Definition", "StoredDefinition", "curator_to_json", "read_definition"]


class Definition(Protocol):
    """What a curator's JSON definition is written from (a `Curator`'s attributes)."""

    name: str
    application_name: str
    curated_dataset_name: str
    start_on: datetime | None
    curation_interval: timedelta
    curation_delay: timedelta
    curate_past_intervals: bool
    former_names: tuple[str, ...]
    only_labelled: bool
    min_labelled_share: float | None
    max_label_wait: timedelta
    selectors: list[sel.Selector]


@dataclass(frozen=True)
class StoredDefinition:
    """A definition read back: the `Curator` arguments, its class name and former names."""

    arguments: dict[str, Any]
    kind: str
    former_names: tuple[str, ...]

_SAMPLERS: dict[str, type[Any]] = {
    c.__name__: c for c in (sel.UniformSampler, sel.OrderedSampler, sel.StratifiedSampler)}
_FILTERS: dict[str, type[Any]] = {
    c.__name__: c for c in (sel.BoundsFilter, sel.EqualsFilter, sel.ContainsFilter, sel.TagFilter)}


def _value(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    if isinstance(value, timedelta):
        return {"$seconds": value.total_seconds()}
    return value


def _unvalue(value: Any) -> Any:
    if isinstance(value, dict):
        if "$datetime" in value:
            return datetime.fromisoformat(value["$datetime"])
        if "$date" in value:
            return date.fromisoformat(value["$date"])
        if "$seconds" in value:
            return timedelta(seconds=value["$seconds"])
    return value


def _object(obj: Any) -> dict[str, Any]:
    return {"type": type(obj).__name__, **{f.name: _value(getattr(obj, f.name))
                                           for f in fields(obj) if f.name != "_"}}


# BoundsFilter's fields before Gantry's names (inclusivity was a flag beside each bound)
_OLD_BOUNDS = ("lower_inclusive", "upper_inclusive")


def _bounds(spec: dict[str, Any]) -> dict[str, Any]:
    if not any(k in spec for k in _OLD_BOUNDS):
        return spec
    out = {k: v for k, v in spec.items() if k not in (*_OLD_BOUNDS, "lower", "upper")}
    for side in ("lower", "upper"):
        inclusive = spec.get(f"{side}_inclusive") is True
        out[f"inclusive_{side}" if inclusive else side] = spec.get(side)
    return out


def _selector(data: dict[str, Any]) -> sel.Selector:
    def build(spec: dict[str, Any], kinds: dict[str, type[Any]]) -> Any:
        kind = kinds.get(spec["type"])
        if kind is None:
            raise ValidationError(f"unknown {spec['type']!r} in a stored curator definition")
        if kind is sel.BoundsFilter:
            spec = _bounds(spec)
        return kind(**{k: _unvalue(v) for k, v in spec.items() if k != "type"})

    return sel.Selector(method=build(data["method"], _SAMPLERS), limit=data["limit"],
                        filters=[build(f, _FILTERS) for f in data["filters"]],
                        tags=[build(t, _FILTERS) for t in data["tags"]])


def curator_to_json(curator: Definition) -> str:
    """A curator's definition: its class, its arguments and its selectors."""
    body = {
        "type": type(curator).__name__,
        "name": curator.name, "application_name": curator.application_name,
        "curated_dataset_name": curator.curated_dataset_name,
        "start_on": _value(curator.start_on), "curation_interval": _value(curator.curation_interval),
        "curation_delay": _value(curator.curation_delay),
        "curate_past_intervals": curator.curate_past_intervals,
        "former_names": list(curator.former_names),
        "only_labelled": curator.only_labelled, "min_labelled_share": curator.min_labelled_share,
        "max_label_wait": _value(curator.max_label_wait),
        "selectors": [{"method": _object(s.method), "limit": s.limit,
                       "filters": [_object(f) for f in s.filters],
                       "tags": [_object(t) for t in s.tags]} for s in curator.selectors],
    }
    return json.dumps(body, sort_keys=True)


def read_definition(text: str) -> StoredDefinition:
    """The arguments that rebuild a stored curator (as a plain `Curator` with the same
    selectors and settings)."""
    body = json.loads(text)
    arguments = dict(
        name=body["name"], application_name=body["application_name"],
        curated_dataset_name=body["curated_dataset_name"], start_on=_unvalue(body["start_on"]),
        curation_interval=_unvalue(body["curation_interval"]),
        curation_delay=_unvalue(body["curation_delay"]),
        curate_past_intervals=body["curate_past_intervals"],
        selectors=[_selector(s) for s in body["selectors"]],
        only_labelled=body.get("only_labelled", False),
        min_labelled_share=body.get("min_labelled_share"),
        max_label_wait=_unvalue(body.get("max_label_wait", {"$seconds": 7 * 86_400})))
    return StoredDefinition(arguments, body["type"], tuple(body.get("former_names", ())))
