"""The curators' sampling SQL picks exactly the rows of its plain definition.

`_sampling` runs cheaper plans than the definition (an edge found in one pass, the strata
and the rest in one statement); this checks every stock curator, and selectors with
filters, tags, labels and OR, against the definition written plainly here: ordered rows by
``ORDER BY field NULLS LAST, time, join key``, random ones by the seeded hash, strata by
`quotas_of` and one ranking per stratum, strict's rest by a second shuffle. Data with ties,
nulls, NaN and infinities, lists, repeated times, feedback, empty and tiny intervals.
"""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta, timezone
from typing import Any

import pyarrow as pa
import pytest

import gantry_local as gantry
from gantry_local._context import narrow
from gantry_local.automations.curators import (
    AscendedSortCurator,
    BalancedStratificationCurator,
    BoundedRangeCurator,
    Curator,
    DescendedSortCurator,
    EqualityCurator,
    NewestCurator,
    OldestCurator,
    ProportionalStratificationCurator,
    StrictStratificationCurator,
    UniformCurator,
)
from gantry_local.automations.curators._sampling import filter_sql, labelled, quotas_of
from gantry_local.automations.curators.selectors import (
    TIME_COLUMN_NAME,
    BoundsFilter,
    ContainsFilter,
    EqualsFilter,
    OrderedSampler,
    OrderingDirection,
    Selector,
    StratificationMode,
    StratifiedSampler,
    TagFilter,
    UniformSampler,
)
from gantry_local.records.query import Query, Selection

DAY = datetime(2024, 3, 1, tzinfo=timezone.utc)
COLORS = ["red", "blue", "green", "amber", None]
SHUFFLE = 'hash(hash(base."__join_key", ?), base."__time")'


def _value(rng: random.Random) -> float | None:
    roll = rng.random()
    if roll < 0.08:
        return None
    if roll < 0.12:
        return rng.choice([math.nan, math.inf, -math.inf, -0.0])
    return round(rng.uniform(-3, 3), 1)  # about 60 values: many ties


def _load(ws: gantry.Workspace, name: str, n: int, seed: int) -> None:
    """`n` records over two days: repeated times, ties, nulls; feedback on about a third."""
    rng = random.Random(seed)
    app = ws.create_application(name)
    later = n == 0  # an empty interval: three records days after it
    n = n or 3
    times = [DAY + timedelta(days=5 * later, minutes=rng.randrange(0, 2 * 1440, 7))
             for _ in range(n)]
    keys = [f"k{seed}-{i}" for i in range(n)]
    app.log_records(
        inputs=[{"x": _value(rng), "n": rng.choice([None, 1, 2, 3, 3, 7]),
                 "color": rng.choice(COLORS), "flag": rng.random() < 0.3,
                 "name": f"item-{rng.randrange(30)}",
                 "l": rng.choice([None, [1], [1, 2], [0, 5], [3], [1, 2]])} for _ in range(n)],
        outputs=[{"y": rng.choice([0, 1, 1, 2])} for _ in range(n)],
        timestamps=times, join_keys=keys,
        tags=[{"env": rng.choice(["prod", "dev"])} for _ in range(n)])
    labelled_keys = keys[:1] + [k for k in keys[1:] if later or rng.random() < 0.35]
    if labelled_keys:
        app.log_records(feedbacks=[{"label": rng.choice([None, 0, 1, 2])}
                                   for _ in labelled_keys], join_keys=labelled_keys)


def _where(selector: Selector, selection: Selection, label: str | None
           ) -> tuple[str, list[Any]]:
    clauses, params = ["TRUE"], []
    for item in [*selector.filters, *selector.tags]:
        clause, values = filter_sql(item)
        clauses.append(clause)
        params.extend(values)
    if label is not None:
        clauses.append(label)
    return " AND ".join(clauses), params


def _definition(con: Any, selection: Selection, selector: Selector, label: str | None,
                seed: int) -> pa.Table:
    """One selector's rows by its plain definition."""
    where, params = _where(selector, selection, label)
    source = f"({selection.sql}) AS base WHERE {where}"
    values = [*selection.params, *params]
    method = selector.method
    if isinstance(method, UniformSampler):
        return con.sql(f"SELECT base.* FROM {source} ORDER BY {SHUFFLE}, base.\"__join_key\" "
                       "LIMIT ?", params=[*values, seed, selector.limit]).to_arrow_table()
    if isinstance(method, OrderedSampler):
        direction = "ASC" if method.sort is OrderingDirection.ASCENDING else "DESC"
        ties = 'base."__join_key"' if method.field == TIME_COLUMN_NAME else \
            'base."__time", base."__join_key"'
        return con.sql(f"SELECT base.* FROM {source} ORDER BY {selection.column(method.field, 'base')} "
                       f"{direction} NULLS LAST, {ties} LIMIT ?",
                       params=[*values, selector.limit]).to_arrow_table()
    assert isinstance(method, StratifiedSampler)
    stratum = f"CAST({selection.column(method.field, 'base')} AS VARCHAR)"
    counts = con.execute(f"SELECT {stratum} AS s, count(*) FROM {source} GROUP BY s ORDER BY s",
                         values).fetchall()
    empty = con.sql(f"SELECT base.* FROM {source} LIMIT 0", params=values).to_arrow_table()
    if not counts:
        return empty
    quotas = quotas_of([c for _, c in counts], selector.limit, method.mode)
    parts = [empty]
    for (value, _), quota in zip(counts, quotas, strict=True):
        match = f"{stratum} IS NULL" if value is None else f"{stratum} = ?"
        parts.append(con.sql(
            f"SELECT base.* FROM {source} AND {match} ORDER BY {SHUFFLE}, base.\"__join_key\" "
            "LIMIT ?", params=[*values, *([] if value is None else [value]), seed, quota]
        ).to_arrow_table())
    picked = pa.concat_tables(parts)
    taken = sum(min(q, c) for q, (_, c) in zip(quotas, counts, strict=True))
    rest = selector.limit - taken if method.mode is StratificationMode.strict else 0
    if rest <= 0:
        return picked
    second = (seed * 2654435761 + 1) % 2**32
    shuffled = con.sql(f"SELECT base.* FROM {source} ORDER BY {SHUFFLE}, base.\"__join_key\"",
                       params=[*values, second]).to_arrow_table().to_pylist()
    seen = {(r["__join_key"], r["__time"]) for r in picked.to_pylist()}
    extras = [r for r in shuffled if (r["__join_key"], r["__time"]) not in seen][:rest]
    return pa.concat_tables([picked, pa.Table.from_pylist(extras, schema=picked.schema)])


def definition(ws: gantry.Workspace, curator: Curator, start: datetime, end: datetime
               ) -> tuple[list[dict[str, Any]], int]:
    """The rows `curator` picks in ``[start, end)`` by definition, as sorted dicts, and the
    interval's count."""
    selection = Query(narrow(ws), curator.application_name, start, end).selection(ordered=False)
    label = labelled(selection) if curator.only_labelled else None
    rows: dict[tuple[Any, Any], dict[str, Any]] = {}
    with ws.database.cursor() as con:
        total = con.execute(f"SELECT count(*) FROM ({selection.sql})", selection.params
                            ).fetchall()[0][0]
        for selector in curator.selectors:
            table = _definition(con, selection, selector, label, curator.seed(start))
            for row in selection.to_logical(table).to_pylist():
                rows.setdefault((row["__join_key"], row["__time"]), row)
    return [rows[k] for k in sorted(rows, key=lambda k: (k[1], k[0]))], int(total)


def _same(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> bool:
    def norm(row: dict[str, Any]) -> tuple[Any, ...]:
        return tuple(sorted((k, "nan" if isinstance(v, float) and math.isnan(v) else v)
                            for k, v in row.items() if v is not None))
    return [norm(r) for r in a] == [norm(r) for r in b]


def _curators(limit: int) -> list[Curator]:
    up = OrderingDirection.ASCENDING
    return [
        UniformCurator("uniform", "app", limit),
        NewestCurator("newest", "app", limit),
        OldestCurator("oldest", "app", limit),
        AscendedSortCurator("asc", "app", limit, sort_field="inputs.x"),
        DescendedSortCurator("desc", "app", limit, sort_field="inputs.x"),
        AscendedSortCurator("asc-int", "app", limit, sort_field="inputs.n"),
        DescendedSortCurator("desc-label", "app", limit, sort_field="feedback.label"),
        AscendedSortCurator("asc-text", "app", limit, sort_field="inputs.color"),
        DescendedSortCurator("desc-bool", "app", limit, sort_field="inputs.flag"),
        AscendedSortCurator("asc-list", "app", limit, sort_field="inputs.l"),
        BoundedRangeCurator("bounded", "app", limit, "inputs.x", 2.0, -1.0),
        BoundedRangeCurator("bounded-desc", "app", limit, "inputs.n", 7, 1,
                            sort_ascending=False),
        EqualityCurator("eq", "app", limit, field="inputs.color", equals="red"),
        BalancedStratificationCurator("bal", "app", limit, stratify_field="inputs.color"),
        ProportionalStratificationCurator("prop", "app", limit, stratify_field="inputs.color"),
        StrictStratificationCurator("strict", "app", limit, stratify_field="inputs.color"),
        StrictStratificationCurator("strict-n", "app", limit, stratify_field="inputs.n"),
        StrictStratificationCurator("strict-labelled", "app", limit,
                                    stratify_field="inputs.color", only_labelled=True),
        UniformCurator("uniform-labelled", "app", limit, only_labelled=True),
        OldestCurator("oldest-labelled", "app", limit, only_labelled=True),
        Curator("or", "app", selectors=[
            Selector(OrderedSampler("inputs.x", up), limit=limit,
                     filters=[ContainsFilter("inputs.name", "item-1")]),
            Selector(UniformSampler(), limit=limit, tags=[TagFilter("env", "prod")],
                     filters=[BoundsFilter("inputs.x", inclusive_lower=0.0)]),
            Selector(StratifiedSampler("inputs.flag", "strict"), limit=limit,
                     filters=[EqualsFilter("outputs.y", 1)]),
            Selector(OrderedSampler(TIME_COLUMN_NAME, "descending"), limit=limit,
                     tags=[TagFilter("env", "dev")]),
            Selector(OrderedSampler("inputs.n", "descending"), limit=limit)]),
    ]


@pytest.mark.parametrize(("n", "seed"), [(0, 1), (1, 2), (9, 3), (60, 4), (400, 5)])
def test_every_curator_picks_its_definitions_rows(ws: gantry.Workspace, n: int, seed: int
                                                  ) -> None:
    _load(ws, "app", n, seed)
    for start in (DAY, DAY + timedelta(hours=7))[:1 + (n > 100)]:  # a second, shifted interval
        end = start + timedelta(days=1)
        for limit in (1, 17, 150):
            for curator in _curators(limit):
                table, total = curator.select(ws, start, end)
                want, want_total = definition(ws, curator, start, end)
                got = table.to_pylist()
                assert total == want_total, (curator.name, limit)
                assert _same(got, want), (curator.name, limit, len(got), len(want))
                assert table.column_names[:2] == ["__time", "__join_key"] or not got
