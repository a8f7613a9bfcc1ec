"""Curators as JSON, so their definitions live in the DuckDB file and any process can run them."""

from __future__ import annotations

import json
from dataclasses import fields
from datetime import date, datetime, timedelta
from typing import Any

from ..errors import ValidationError
from . import curators as stock
from .curators import selectors as sel

__all__ = ["curator_from_json", "curator_to_json"]

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
    return {"type": type(obj).__name__, **{f.name: _value(getattr(obj, f.name)) for f in fields(obj)}}


def _selector(data: dict[str, Any]) -> sel.Selector:
    def build(spec: dict[str, Any], kinds: dict[str, type[Any]]) -> Any:
        kind = kinds.get(spec["type"])
        if kind is None:
            raise ValidationError(f"unknown {spec['type']!r} in a stored curator definition")
        return kind(**{k: _unvalue(v) for k, v in spec.items() if k != "type"})

    return sel.Selector(build(data["method"], _SAMPLERS), data["limit"],
                        [build(f, _FILTERS) for f in data["filters"]],
                        [build(t, _FILTERS) for t in data["tags"]])


def curator_to_json(curator: stock.Curator) -> str:
    """A curator's definition: its class, its arguments and its selectors."""
    body = {
        "type": type(curator).__name__,
        "name": curator.name, "application_name": curator.application_name,
        "limit": curator.limit, "curated_dataset_name": curator.curated_dataset_name,
        "start_on": _value(curator.start_on), "curation_interval": _value(curator.curation_interval),
        "curation_delay": _value(curator.curation_delay),
        "curate_past_intervals": curator.curate_past_intervals,
        "former_names": list(curator.former_names),
        "selectors": [{"method": _object(s.method), "limit": s.limit,
                       "filters": [_object(f) for f in s.filters],
                       "tags": [_object(t) for t in s.tags]} for s in curator.selectors],
    }
    return json.dumps(body, sort_keys=True)


def curator_from_json(text: str) -> stock.Curator:
    """Rebuild a stored curator (as a plain `Curator` with the same selectors and settings)."""
    body = json.loads(text)
    curator = stock.Curator(
        body["name"], body["application_name"], body["limit"],
        curated_dataset_name=body["curated_dataset_name"], start_on=_unvalue(body["start_on"]),
        curation_interval=_unvalue(body["curation_interval"]),
        curation_delay=_unvalue(body["curation_delay"]),
        curate_past_intervals=body["curate_past_intervals"],
        selectors=[_selector(s) for s in body["selectors"]])
    curator.kind = body["type"]
    curator.former_names = tuple(body.get("former_names", ()))
    return curator
