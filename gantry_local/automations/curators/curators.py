"""Curators: SQL sampling of one interval of production data into a versioned dataset.

Names and parameters follow Gantry 0.6. The rows a curator picks for an interval
depend only on the data and on (curator name, interval start): random order is a
seeded hash of the join key, so a rerun picks the same rows and writes the same bytes.

Scheduling (triggers, automations, the exactly-once scheduler) builds on `curate`.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import polars as pl
import pyarrow as pa

from ..._db import storage_errors
from ..._limits import check_bool, check_limit, check_moment, check_span
from ..._names import check_name
from ..._sql import quote_ident
from ...clock import to_utc
from ...errors import NotFoundError, ValidationError
from ...records.query import Query
from .selectors import (
    BoundsFilter,
    EqualsFilter,
    OrderedSampler,
    Selector,
    StratifiedSampler,
    TagFilter,
    UniformSampler,
)

if TYPE_CHECKING:
    from ..._context import Context as Workspace  # the parts of a Workspace rooms use
    from ...datasets import Dataset

__all__ = [
    "AscendedSortCurator",
    "BalancedStratificationCurator",
    "BoundedRangeCurator",
    "CurationResult",
    "Curator",
    "DescendedSortCurator",
    "EqualityCurator",
    "NewestCurator",
    "OldestCurator",
    "ProportionalStratificationCurator",
    "StrictStratificationCurator",
    "UniformCurator",
    "get_curator",
    "list_curators",
]

_NUMERIC = {"int", "float"}


@dataclass(frozen=True)
class CurationResult:
    """One curator run over one interval."""

    curator: str
    interval_start: datetime
    interval_end: datetime
    rows_in_interval: int
    rows_selected: int
    version_id: str | None
    message: str


class Curator:
    """Samples each interval of an application's records into a dataset.

    Args:
        name: the curator's name (also its dataset's, unless `curated_dataset_name`).
        application_name: the application whose records are curated.
        limit: the most rows a selector picks per interval.
        start_on: the first interval's start (naive means UTC); the scheduler's business.
        curation_interval: interval length (positive).
        curation_delay: how long after an interval ends it is curated (not negative).
        curate_past_intervals: backfill from `start_on` when it lies in the past.
        selectors: the selection (OR of selectors); stock curators build their own.

    Raises:
        ValidationError: any bad argument, at definition time.
    """

    def __init__(
        self,
        name: str,
        application_name: str,
        limit: int,
        curated_dataset_name: str | None = None,
        start_on: datetime | None = None,
        curation_interval: timedelta = timedelta(days=1),
        curation_delay: timedelta = timedelta(0),
        curate_past_intervals: bool = True,
        selectors: list[Selector] | None = None,
    ) -> None:
        self.name = check_name(name, "curator name")
        self.application_name = check_name(application_name, "application name")
        self.limit = check_limit(limit)
        self.curated_dataset_name = check_name(
            name if curated_dataset_name is None else curated_dataset_name, "dataset name")
        self.start_on = None if start_on is None else check_moment(start_on, "start_on")
        self.curation_interval = check_span(curation_interval, "curation_interval")
        self.curation_delay = check_span(curation_delay, "curation_delay", zero=True)
        self.curate_past_intervals = check_bool(curate_past_intervals, "curate_past_intervals")
        chosen = self._default_selectors() if selectors is None else \
            list(selectors) if isinstance(selectors, (list, tuple)) else []
        if not chosen or not all(isinstance(s, Selector) for s in chosen):
            raise ValidationError("selectors must be a non-empty list of Selector objects")
        self.selectors = chosen
        self.kind = type(self).__name__
        self.former_names: tuple[str, ...] = ()  # earlier names, oldest first (see `update`)
        # Set once the definition is stored (create / add_automation / get_curator):
        self.workspace: Workspace | None = None
        self.enabled = False
        self.first_interval_start: datetime | None = None
        self.automation_name: str | None = None

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(name={self.name!r}, application_name="
                f"{self.application_name!r}, limit={self.limit})")

    def _default_selectors(self) -> list[Selector]:
        raise ValidationError("a plain Curator needs selectors=[Selector(...)]; or use a stock "
                              "curator such as UniformCurator")

    # -- lifecycle (the definition lives in the workspace's DuckDB file) ----------------------

    def _registry(self, workspace: Workspace | None = None) -> Any:
        from .._registry import CuratorRegistry

        target = workspace if workspace is not None else self.workspace
        if target is None:
            from ..._context import resolve

            target = resolve(None)
        return CuratorRegistry(_check_workspace(target))

    def _refresh(self, registry: Any) -> None:
        stored = registry.get(self.name)
        self.workspace = registry.ws
        self.enabled = stored.enabled
        self.first_interval_start = stored.first_interval_start
        self.automation_name = stored.automation_name

    def create(self, enable: bool = True, workspace: Workspace | None = None) -> Curator:
        """Store this curator (default workspace unless given) and, by default, turn it on.

        Raises:
            AlreadyExistsError: a curator of that name exists.
            NotFoundError: its application does not exist.
        """
        check_bool(enable, "enable")
        registry = self._registry(workspace)
        registry.create(self, enable)
        self._refresh(registry)
        return self

    def enable(self) -> None:
        """Turn it on; intervals missed while it was off are curated on the next tick."""
        registry = self._registry()
        registry.set_enabled(self.name, True)
        self._refresh(registry)

    def disable(self) -> None:
        """Turn it off (its runs and dataset stay)."""
        registry = self._registry()
        registry.set_enabled(self.name, False)
        self._refresh(registry)

    def delete(self) -> None:
        """Forget the curator and its run history; its dataset stays."""
        self._registry().delete(self.name)
        self.enabled = False

    def update(
        self,
        new_curator_name: str | None = None,
        new_curated_dataset_name: str | None = None,
        new_curation_interval: timedelta | None = None,
        new_selectors: list[Selector] | None = None,
        create_new_dataset: bool = False,
    ) -> Curator:
        """Change a stored curator; intervals already curated keep their runs and versions.

        New selectors apply to intervals not yet curated. A rename keeps the run history
        and the seed (a redo of an old interval picks the same rows). A new interval
        starts its grid where the last curated interval ended. Datasets live under their
        name in storage, so they are never renamed: ``create_new_dataset=True`` with
        ``new_curated_dataset_name`` sends future versions to a new dataset (the old one
        keeps its versions).

        Raises:
            ValidationError: nothing to change, or a bad new value.
            AlreadyExistsError: the new curator or dataset name is taken.
        """
        check_bool(create_new_dataset, "create_new_dataset")
        registry = self._registry()
        current = registry.get(self.name)
        changed = copy.copy(current)
        if new_selectors is not None:
            chosen = list(new_selectors) if isinstance(new_selectors, (list, tuple)) else []
            if not chosen or not all(isinstance(x, Selector) for x in chosen):
                raise ValidationError("new_selectors must be a non-empty list of Selector objects")
            changed.selectors, changed.kind = chosen, "Curator"
        if new_curation_interval is not None:
            changed.curation_interval = check_span(new_curation_interval,
                                                   "new_curation_interval")
        if new_curated_dataset_name is not None:
            check_name(new_curated_dataset_name, "dataset name")
            if not create_new_dataset:
                raise ValidationError(
                    f"datasets are stored under their name and are not renamed; to send future "
                    f"versions to a new dataset {new_curated_dataset_name!r}, pass "
                    "create_new_dataset=True (the old dataset keeps its versions)")
            if new_curated_dataset_name == current.curated_dataset_name:
                raise ValidationError(f"curator {self.name!r} already writes to dataset "
                                      f"{new_curated_dataset_name!r}")
            changed.curated_dataset_name = new_curated_dataset_name
        elif create_new_dataset:
            raise ValidationError("create_new_dataset=True needs new_curated_dataset_name")
        if new_curator_name is not None and new_curator_name != current.name:
            changed.name = check_name(new_curator_name, "curator name")
            changed.former_names = (*current.former_names, current.name)
        if changed.__dict__ == current.__dict__:
            raise ValidationError("update() needs something to change: a new name, dataset, "
                                  "interval or selectors")
        registry.update(current, changed)
        self.__dict__.update(changed.__dict__)
        self._refresh(registry)
        return self

    def get_curated_dataset(self) -> Dataset:
        """The dataset this curator appends to."""
        workspace: Workspace = self._registry().ws
        return workspace.get_dataset(self.curated_dataset_name)

    def get_runs(self) -> pl.DataFrame:
        """Run history: interval, status, rows in the interval and selected, version, error."""
        return self._registry().runs(self.name)  # type: ignore[no-any-return]

    # -- selection ----------------------------------------------------------------------------

    def seed(self, interval_start: datetime) -> int:
        """The sampling seed of one interval: derived from the curator's first name and the start."""
        text = f"{(*self.former_names, self.name)[0]}|{to_utc(interval_start).isoformat()}".encode()
        return int.from_bytes(hashlib.sha256(text).digest()[:4], "big")

    def select(self, workspace: Workspace, start: datetime, end: datetime
               ) -> tuple[pa.Table, int]:
        """The rows this curator picks in ``[start, end)`` and how many rows the interval has.

        Raises:
            ValidationError: a selector names an unknown field, or stratifies a numeric one.
        """
        _check_workspace(workspace)
        start, end = check_moment(start, "interval start"), check_moment(end, "interval end")
        if end <= start:
            raise ValidationError(f"interval end {end} is not after its start {start}")
        state = workspace._app_state(self.application_name)
        selection = Query(workspace, self.application_name, start, end).selection(ordered=False)
        base, params, names = selection.sql, selection.params, selection.fields
        known = set(names)
        logical = {**state.schema.snapshot("records"), **state.schema.snapshot("feedback")}
        for selector in self.selectors:
            unknown = sorted(selector.fields() - known)
            if unknown:
                raise ValidationError(f"curator {self.name!r}: unknown field(s) {unknown}; known "
                                      f"fields are: {', '.join(sorted(known))}")
            method = selector.method
            if isinstance(method, StratifiedSampler) and logical.get(method.field) in _NUMERIC:
                raise ValidationError(f"curator {self.name!r}: cannot stratify on numeric field "
                                      f"{method.field!r}; stratification is for categories")
        seed = self.seed(start)
        selectors = [_physical(selector, selection.columns) for selector in self.selectors]
        with workspace.database.cursor() as con, storage_errors(f"curator {self.name!r}"):
            single = selectors[0] if len(selectors) == 1 else None
            counts = None
            if single is not None and isinstance(single.method, StratifiedSampler) and not (
                    single.filters or single.tags):  # the strata's sizes add up to the total
                counts = _stratum_counts(con, f"({base}) AS base", params, single.method)
                total = sum(c for _, c in counts)
            else:
                total = int(con.execute(f"SELECT count(*) FROM ({base}) AS base", params)
                            .fetchall()[0][0])
            if single is not None:  # one query, already without duplicates
                return selection.to_logical(
                    _run_selector(con, base, params, single, seed, True, counts)), total
            parts = [_run_selector(con, base, params, selector, seed, False)
                     for selector in selectors]
        frames = [_frame(p) for p in parts if p.num_rows]
        if not frames:
            return pa.table({n: pa.array([], pa.null()) for n in names}), total
        merged = pl.concat(frames, how="diagonal_relaxed")
        picked = (merged.unique(subset=["__join_key", "__time"], keep="first", maintain_order=True)
                  .sort(["__time", "__join_key"]))
        return selection.to_logical(picked.to_arrow()), total

    def curate(self, workspace: Workspace, start: datetime, end: datetime) -> CurationResult:
        """Run once over ``[start, end)``: append the picked rows to the curated dataset.

        An interval with no rows picked makes no version. The dataset is created (for
        the application) when missing.
        """
        table, total = self.select(workspace, start, end)
        start, end = to_utc(start), to_utc(end)
        message = (f"{table.num_rows:,} records added from interval {start:%Y-%m-%dT%H:%M} to "
                   f"{end:%Y-%m-%dT%H:%M} of {total:,} records by curator {self.name}")
        if table.num_rows == 0:
            return CurationResult(self.name, start, end, total, 0, None, message)
        try:
            dataset = workspace.get_dataset(self.curated_dataset_name)
        except NotFoundError:
            dataset = workspace.create_dataset(self.curated_dataset_name, self.application_name)
        lineage = {"curator": self.name, "application": self.application_name,
                   "interval_start": start.isoformat(), "interval_end": end.isoformat(),
                   "rows_in_interval": total, "rows_selected": table.num_rows}
        info = dataset.append_dataframe(table, message=message, lineage=lineage)
        return CurationResult(self.name, start, end, total, table.num_rows, info["version_id"],
                              message)


def _physical(selector: Selector, columns: Mapping[str, str]) -> Selector:
    """`selector` naming the columns of the interval's query (`Selection.columns`): fields
    differing only in case have suffixed columns there, as DuckDB ignores case."""
    if all(columns.get(name, name) == name for name in selector.fields()):
        return selector

    def moved(item: Any) -> Any:
        if isinstance(item, TagFilter):
            return replace(item, name=columns[item.field].removeprefix("tags."))
        return replace(item, field=columns[item.field])

    method = selector.method
    return replace(selector, method=method if isinstance(method, UniformSampler) else moved(method),
                   filters=[moved(f) for f in selector.filters],
                   tags=[moved(t) for t in selector.tags])


def _check_workspace(workspace: Any) -> Workspace:
    if not (hasattr(workspace, "_app_state") and hasattr(workspace, "database")):
        raise ValidationError(f"workspace must be a gantry_local Workspace, got "
                              f"{type(workspace).__name__}")
    return workspace  # type: ignore[no-any-return]


def list_curators(application_name: str | None = None,
                  workspace: Workspace | None = None) -> list[Curator]:
    """Stored curators, by name (of one application if given), in the default workspace."""
    from .._registry import CuratorRegistry

    if workspace is None:
        from ..._context import resolve

        workspace = resolve(None)
    if application_name is not None:
        check_name(application_name, "application name")
    return CuratorRegistry(_check_workspace(workspace)).list(application_name)  # type: ignore[no-any-return]


def get_curator(name: str, workspace: Workspace | None = None) -> Curator:
    """A stored curator (rebuilt from its definition as a `Curator` with the same selectors)."""
    from .._registry import CuratorRegistry

    if workspace is None:
        from ..._context import resolve

        workspace = resolve(None)
    curator: Curator = CuratorRegistry(_check_workspace(workspace)).get(check_name(name, "curator name"))
    return curator


# A seeded shuffle: DuckDB's two-argument hash only XORs the seed in, so the order by it
# barely depends on the seed; hashing that again mixes every bit (independent samples).
# Hashing the time in too makes it one integer sort key (a second key, e.g. the join key as
# a tie-break, makes DuckDB's window sort 5x slower); rows equal in key and time tie.
_SHUFFLE = "hash(hash({key}, ?), {time})"
_KEY = '"__join_key"'
_TIME = '"__time"'
_BASE_SHUFFLE = _SHUFFLE.format(key=f"base.{_KEY}", time=f"base.{_TIME}")
_TIE_BREAK = f"{_TIME}, {_KEY}"


def _run_selector(con: Any, base: str, params: list[Any], selector: Selector, seed: int,
                  in_time_order: bool, counts: list[tuple[str, int]] | None = None) -> pa.Table:
    """One selector's picks; sorted by time and join key when `in_time_order`.

    `counts` are a stratified selector's strata sizes when the caller has them already.
    """
    where, where_params = selector.where()
    source = f"({base}) AS base WHERE {where}"
    method = selector.method
    if isinstance(method, UniformSampler):
        sql = f"SELECT base.* FROM {source} ORDER BY {_BASE_SHUFFLE}, base.{_KEY} LIMIT ?"
        values = [*params, *where_params, seed, selector.limit]
    elif isinstance(method, OrderedSampler):
        direction = "ASC" if method.sort == "ascending" else "DESC"
        # ties go to the earliest rows (then by key): deterministic, and cheaper than a hash
        sql = (f"SELECT base.* FROM {source} ORDER BY base.{quote_ident(method.field)} "
               f"{direction} NULLS LAST, base.{_TIME}, base.{_KEY} LIMIT ?")
        values = [*params, *where_params, selector.limit]
    else:
        sql, values, remainder = _stratified(con, source, [*params, *where_params], method,
                                             selector.limit, seed, counts)
        if remainder:
            mixed = _with_extras(con, con.sql(sql, params=values).to_arrow_table(), source,
                                 [*params, *where_params], seed, remainder)
            return mixed.sort_by([("__time", "ascending"), ("__join_key", "ascending")]) \
                if in_time_order else mixed
    if in_time_order:
        sql = f"SELECT * FROM ({sql}) ORDER BY {_TIE_BREAK}"
    table: pa.Table = con.sql(sql, params=values).to_arrow_table()
    return table


def _stratum_counts(con: Any, source: str, params: list[Any], method: StratifiedSampler
                    ) -> list[tuple[str, int]]:
    """Each stratum (as text) and its size, in order."""
    stratum = f"CAST(base.{quote_ident(method.field)} AS VARCHAR)"
    rows = con.execute(f"SELECT {stratum} AS s, count(*) FROM {source} GROUP BY s ORDER BY s",
                       params).fetchall()
    return [(s, int(c)) for s, c in rows]


def _stratified(con: Any, source: str, params: list[Any], method: StratifiedSampler, limit: int,
                seed: int, counts: list[tuple[str, int]] | None) -> tuple[str, list[Any], int]:
    """The query (and its parameters) picking each stratum's quota, and how many rows the
    quotas leave to draw at random from the rest (strict mode)."""
    stratum = f"CAST(base.{quote_ident(method.field)} AS VARCHAR)"
    if counts is None:
        counts = _stratum_counts(con, source, params, method)
    if not counts:
        return f"SELECT base.* FROM {source} LIMIT 0", [*params], 0
    quotas = _quotas([int(c) for _, c in counts], limit, method.mode)
    taken = sum(min(q, c) for q, (_, c) in zip(quotas, counts, strict=True))
    remainder = max(limit - taken, 0) if method.mode == "strict" else 0
    # Each stratum's first `quota` rows in shuffled order. A constant bound on row_number
    # lets DuckDB keep a top-N per stratum instead of ranking the whole interval; only the
    # picked rows leave DuckDB.
    ranked = (f"SELECT base.*, {_BASE_SHUFFLE} AS __gl_h, row_number() OVER (PARTITION BY "
              f"{stratum} ORDER BY {_BASE_SHUFFLE}) AS __gl_rn FROM {source}")
    unqualified = f"CAST({quote_ident(method.field)} AS VARCHAR)"  # outside `base`'s scope
    quota = f"list_extract(?::BIGINT[], list_position(?::VARCHAR[], {unqualified}))"
    sql = (f"SELECT * EXCLUDE (__gl_h, __gl_rn) FROM ({ranked}) WHERE __gl_rn <= ? AND "
           f"__gl_rn <= {quota} ORDER BY __gl_h, {_KEY}")
    return sql, [seed, seed, *params, max(quotas), quotas, [s for s, _ in counts]], remainder


def _with_extras(con: Any, picked: pa.Table, source: str, params: list[Any], seed: int,
                 remainder: int) -> pa.Table:
    """`picked` and `remainder` more rows drawn uniformly from the rows it left.

    The draw uses a second, independent shuffle: ranking the rest by the quotas' own
    shuffle would favour small strata (their rest starts lower in that order). The first
    ``len(picked) + remainder`` rows of the second shuffle hold enough rows not yet picked.
    """
    extra_seed = (seed * 2654435761 + 1) % 2**32
    sql = f"SELECT base.* FROM {source} ORDER BY {_BASE_SHUFFLE}, base.{_KEY} LIMIT ?"
    candidates: pa.Table = con.sql(sql, params=[*params, extra_seed, picked.num_rows + remainder]
                                   ).to_arrow_table()
    taken = set(zip(picked["__join_key"].to_pylist(), picked["__time"].to_pylist(), strict=True))
    fresh = [(k, t) not in taken for k, t in zip(candidates["__join_key"].to_pylist(),
                                                  candidates["__time"].to_pylist(), strict=True)]
    extras = candidates.filter(pa.array(fresh, pa.bool_())).slice(0, remainder)
    return pa.concat_tables([picked, extras.cast(picked.schema)])


def _frame(table: pa.Table) -> pl.DataFrame:
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    return frame


def _quotas(counts: list[int], limit: int, mode: str) -> list[int]:
    """Rows to take from each stratum, Gantry's way."""
    if mode == "proportional":  # round half to even, may exceed the limit by rounding
        total = sum(counts)
        return [round(limit * c / total) for c in counts]
    if mode == "balanced":  # every stratum the size of the smallest, within the limit
        return [min(min(counts), limit // len(counts))] * len(counts)
    # strict: the integer part of each stratum's exact share of the limit; the rows that
    # leaves (the fractions) are drawn at random from the rest (see `_stratified`)
    total = sum(counts)
    return [min(limit * c // total, c) for c in counts]


class UniformCurator(Curator):
    """`limit` rows per interval, uniformly at random."""

    def _default_selectors(self) -> list[Selector]:
        return [Selector(UniformSampler(), self.limit)]


class NewestCurator(Curator):
    """The `limit` newest rows of each interval."""

    def _default_selectors(self) -> list[Selector]:
        return [Selector(OrderedSampler("__time", "descending"), self.limit)]


class OldestCurator(Curator):
    """The `limit` oldest rows of each interval."""

    def _default_selectors(self) -> list[Selector]:
        return [Selector(OrderedSampler("__time", "ascending"), self.limit)]


class AscendedSortCurator(Curator):
    """The `limit` rows with the smallest `sort_field`."""

    def __init__(self, name: str, application_name: str, limit: int, sort_field: str,
                 **kwargs: Any) -> None:
        self.sort_field = sort_field
        super().__init__(name, application_name, limit, **kwargs)

    def _default_selectors(self) -> list[Selector]:
        return [Selector(OrderedSampler(self.sort_field, "ascending"), self.limit)]


class DescendedSortCurator(AscendedSortCurator):
    """The `limit` rows with the largest `sort_field`."""

    def _default_selectors(self) -> list[Selector]:
        return [Selector(OrderedSampler(self.sort_field, "descending"), self.limit)]


class BoundedRangeCurator(Curator):
    """Rows with `lower_bound` <= `bound_field` <= `upper_bound`, sorted by it."""

    def __init__(self, name: str, application_name: str, limit: int, bound_field: str,
                 lower_bound: Any, upper_bound: Any, sort_ascending: bool = True,
                 **kwargs: Any) -> None:
        self.bound = BoundsFilter(bound_field, lower_bound, upper_bound, True, True)
        self.sort_ascending = check_bool(sort_ascending, "sort_ascending")
        super().__init__(name, application_name, limit, **kwargs)

    def _default_selectors(self) -> list[Selector]:
        sort = "ascending" if self.sort_ascending else "descending"
        return [Selector(OrderedSampler(self.bound.field, sort), self.limit, [self.bound])]


class EqualityCurator(Curator):
    """Rows whose `field` equals `equals`, uniformly at random."""

    def __init__(self, name: str, application_name: str, limit: int, field: str, equals: Any,
                 **kwargs: Any) -> None:
        self.equality = EqualsFilter(field, equals)
        super().__init__(name, application_name, limit, **kwargs)

    def _default_selectors(self) -> list[Selector]:
        return [Selector(UniformSampler(), self.limit, [self.equality])]


class _StratificationCurator(Curator):
    mode = "strict"

    def __init__(self, name: str, application_name: str, limit: int, stratify_field: str,
                 **kwargs: Any) -> None:
        self.stratify_field = stratify_field
        super().__init__(name, application_name, limit, **kwargs)

    def _default_selectors(self) -> list[Selector]:
        return [Selector(StratifiedSampler(self.stratify_field, self.mode), self.limit)]


class StrictStratificationCurator(_StratificationCurator):
    """Exactly `limit` rows (or all there are): each category gets the integer part of its
    exact share of `limit`, and the rows the fractions leave are drawn at random from the
    rest, as in Gantry: 100 records A×51, B×15, C×16, D×17, E×1 with limit 10 give A5 B1 C1
    D1 E0 plus 2 drawn at random."""

    mode = "strict"


class ProportionalStratificationCurator(_StratificationCurator):
    """Each category in proportion to its share (rounded half to even; may exceed `limit`)."""

    mode = "proportional"


class BalancedStratificationCurator(_StratificationCurator):
    """Every category the size of the smallest (at most `limit` / number of categories)."""

    mode = "balanced"
