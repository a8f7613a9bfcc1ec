"""Field names that differ only in case are two fields, everywhere: stored, queried,
filtered, curated, monitored and pushed to datasets (DuckDB ignores case in names)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import polars as pl
import pytest

import gantry_local as gantry
from gantry_local.automations.curators import (
    AscendedSortCurator,
    BoundedRangeCurator,
    EqualityCurator,
    StrictStratificationCurator,
)
from gantry_local.automations.curators.selectors import Selector, TagFilter, UniformSampler

DAY = datetime(2024, 3, 1, tzinfo=timezone.utc)


@pytest.fixture
def cased(ws: gantry.Workspace) -> gantry.Application:
    """20 records whose `Amount` and `amount` (and `Kind`/`kind`, tags `Env`/`env`,
    feedback `LABEL`/`label`) hold different values."""
    app = ws.create_application("c")
    app.log_record(inputs={"Amount": -1.0, "Kind": "x"}, outputs=0, timestamp=DAY)
    ws.flush()  # the first field's column exists before the second arrives
    for i in range(1, 20):
        app.log_record(inputs={"Amount": float(i), "amount": float(100 - i),
                               "Kind": "even" if i % 2 == 0 else "odd", "kind": "k" * (i % 3 + 1)},
                       outputs=i, tags={"Env": "prod", "env": f"e{i % 2}"},
                       feedback={"LABEL": i % 2, "label": i % 3}, join_key=f"k{i}",
                       timestamp=DAY + timedelta(minutes=i))
    return app


def test_both_fields_are_stored_and_come_back_under_their_names(cased: gantry.Application,
                                                                tmp_path: Path) -> None:
    frame = cased.query(all_time=True).to_polars()
    for name in ("inputs.Amount", "inputs.amount", "inputs.Kind", "inputs.kind", "tags.Env",
                 "tags.env", "feedback.LABEL", "feedback.label"):
        assert name in frame.columns
    row = frame.filter(pl.col("__join_key") == "k4").row(0, named=True)
    assert (row["inputs.Amount"], row["inputs.amount"]) == (4.0, 96.0)
    assert (row["inputs.Kind"], row["inputs.kind"]) == ("even", "kk")
    assert (row["tags.Env"], row["tags.env"]) == ("prod", "e0")
    assert (row["feedback.LABEL"], row["feedback.label"]) == (0, 1)
    assert list(cased.query(all_time=True).to_arrow().column_names) == frame.columns
    assert list(cased.query(all_time=True).to_pandas().columns) == frame.columns
    # and after reopening the file (the mapping is stored, not recomputed)
    ws = cased.workspace
    ws.close()
    with gantry.Workspace(db=ws.db) as again:
        assert again.query("c").to_polars().equals(frame)


def test_filters_and_tags_pick_the_field_named(cased: gantry.Application) -> None:
    def keys(**bounds: object) -> set[str]:
        return set(cased.query(all_time=True, **bounds).to_polars()["__join_key"])  # type: ignore[arg-type]

    assert keys(filters=[{"feature_name": "inputs.Amount", "inclusive_lower_bound": 18}]) == {
        "k18", "k19"}
    assert keys(filters=[{"feature_name": "inputs.amount", "inclusive_lower_bound": 98}]) == {
        "k1", "k2"}
    assert keys(filters=[{"feature_name": "feedback.LABEL", "boolean_query": True}]) == \
        {f"k{i}" for i in range(1, 20) if i % 2}
    assert len(keys(tags={"env": "e1"})) == 10 and len(keys(tags={"Env": "e1"})) == 0
    assert cased.query(all_time=True, tags={"Env": "prod"}).count() == 19


def test_curators_select_on_and_return_each_field(ws: gantry.Workspace,
                                                  cased: gantry.Application) -> None:
    end = DAY + timedelta(days=1)

    def rows(curator: gantry.automations.curators.Curator) -> list[dict[str, object]]:
        table, total = curator.select(ws, DAY, end)
        assert total == 20 and "inputs.amount" in table.column_names
        return table.to_pylist()  # type: ignore[no-any-return]

    low = rows(AscendedSortCurator("asc", "c", limit=2, sort_field="inputs.amount"))
    assert [(r["inputs.amount"], r["inputs.Amount"]) for r in low] == [(82.0, 18.0), (81.0, 19.0)]
    ranged = rows(BoundedRangeCurator("rng", "c", 10, "inputs.Amount", lower_bound=0.0,
                                      upper_bound=2.5))
    assert sorted(r["inputs.Amount"] for r in ranged) == [1.0, 2.0]  # type: ignore[type-var]
    equal = rows(EqualityCurator("eq", "c", 50, field="inputs.kind", equals="kkk"))
    assert {r["inputs.kind"] for r in equal} == {"kkk"} and len(equal) == 6
    strata = rows(StrictStratificationCurator("st", "c", 4, stratify_field="inputs.kind"))
    assert {r["inputs.kind"] for r in strata} >= {"k", "kk", "kkk"}
    tagged = gantry.automations.curators.Curator(
        "tag", "c", selectors=[Selector(UniformSampler(), limit=50, tags=[TagFilter("env", "e1")])])
    assert {r["tags.env"] for r in rows(tagged)} == {"e1"}
    # the curated dataset keeps both columns under their names
    AscendedSortCurator("asc2", "c", limit=3, sort_field="inputs.amount").curate(ws, DAY, end)
    pushed = ws.get_dataset("asc2").read()
    assert sorted(pushed["inputs.amount"].to_list()) == [81.0, 82.0, 83.0]
    assert sorted(pushed["inputs.Amount"].to_list()) == [17.0, 18.0, 19.0]


def test_monitoring_reads_each_field(ws: gantry.Workspace, cased: gantry.Application) -> None:
    summary = cased.summarize(interval=timedelta(days=1),
                              fields=["inputs.Amount", "inputs.amount", "feedback.label"])
    means = {r["field"]: (r["null_rate"], r["mean"]) for r in summary.to_dicts()}
    assert means["inputs.Amount"] == (0, pytest.approx((sum(range(20)) - 1) / 20))
    assert means["inputs.amount"] == (0.05, pytest.approx(sum(100 - i for i in range(1, 20)) / 19))
    assert means["feedback.label"] == (0.05, pytest.approx(sum(i % 3 for i in range(1, 20)) / 19))
    drift = cased.drift((DAY, DAY + timedelta(minutes=10)), (DAY + timedelta(minutes=10),
                        DAY + timedelta(days=1)), fields=["inputs.Amount", "inputs.amount"])
    n = {r["field"]: (r["n_reference"], r["n_current"]) for r in drift.to_dicts()}
    assert n["inputs.Amount"] == (10, 10) and n["inputs.amount"] == (9, 10)
