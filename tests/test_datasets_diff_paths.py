"""`diff` pairs rows by DuckDB over the verified Parquet bytes, with Arrow as the fallback.

The two routes must agree with a plain reference computed in polars, row for row, on
keyed and whole-row diffs, tables appended in several objects, and names DuckDB's Parquet
reader cannot take (which send the diff down the Arrow route).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from typing import Any

import polars as pl
import pytest

import gantry_local as gantry
from gantry_local.datasets import _diff


@pytest.fixture
def arrow_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Labels of the sides paired through the Arrow route."""
    calls: list[str] = []
    original = _diff._arrow_rows

    def spy(con: Any, label: str, *args: Any) -> Any:
        calls.append(label)
        return original(con, label, *args)

    monkeypatch.setattr(_diff, "_arrow_rows", spy)
    return calls


@pytest.fixture
def parquet_refused(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every diff takes the Arrow route, as when DuckDB cannot read the objects."""
    def refuse(*args: Any) -> Any:
        raise _diff.duckdb.InvalidInputException("refused for the test")

    monkeypatch.setattr(_diff, "_parquet_rows", refuse)
    yield


def _reference(a: pl.DataFrame, b: pl.DataFrame, key: str | None
               ) -> tuple[list[Any], list[Any], list[Any]]:
    """added, removed, changed as sorted row tuples, computed the plain way."""
    if key is None:
        left, right = Counter(a.rows()), Counter(b.rows())
        return _sorted((right - left).elements()), _sorted((left - right).elements()), []
    old = {row[a.columns.index(key)]: row for row in a.rows()}
    new = {row[b.columns.index(key)]: row for row in b.rows()}
    return (_sorted(row for k, row in new.items() if k not in old),
            _sorted(row for k, row in old.items() if k not in new),
            _sorted(row for k, row in new.items() if k in old and old[k] != row))


def _sorted(rows: Iterator[Any] | Any) -> list[Any]:
    return sorted(rows, key=repr)


def _versions(rng: random.Random, size: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    keys = [f"k{i}" for i in range(size)]
    a = pl.DataFrame({"__join_key": keys, "x": [rng.randrange(3) for _ in keys],
                      "s": [rng.choice(["p", "q", None]) for _ in keys]})
    b = a.with_columns(pl.when(pl.int_range(0, size) % 7 == 3).then(pl.col("x") + 1)
                       .otherwise(pl.col("x")).alias("x"))
    b = b.filter(pl.int_range(0, size) % 11 != 5)  # removed
    b = pl.concat([b, pl.DataFrame({"__join_key": ["new1", "new2"], "x": [1, 1],
                                    "s": ["p", None]})])
    return a, b.sample(fraction=1.0, shuffle=True, seed=rng.randrange(1000))


def _check(diff: Any, a: pl.DataFrame, b: pl.DataFrame, key: str | None) -> None:
    added, removed, changed = _reference(a, b, key)
    assert diff.key == key
    assert _sorted(diff.added.rows()) == added
    assert _sorted(diff.removed.rows()) == removed
    assert _sorted(diff.changed.rows()) == changed


@pytest.mark.parametrize("route", ["parquet", "arrow"])
@pytest.mark.parametrize("key", ["__join_key", None])
def test_both_routes_agree_with_a_plain_reference(tmp_path: Any, request: pytest.FixtureRequest,
                                                  route: str, key: str | None) -> None:
    if route == "arrow":
        request.getfixturevalue("parquet_refused")
    rng = random.Random(7)
    with gantry.Workspace(db=":memory:", storage=str(tmp_path / "store")) as ws:
        ds = ws.create_dataset("d")
        for round_ in range(3):
            a, b = _versions(rng, 300 + round_ * 50)
            if key is None:  # whole rows: a table without join keys
                a, b = (f.rename({"__join_key": "name"}) for f in (a, b))
                a, b = pl.concat([a, a.head(4)]), pl.concat([b, b.head(2), b.head(2)])  # repeats
            va = ds.push_dataframe(a)["version_id"]
            vb = ds.push_dataframe(b)["version_id"]
            _check(ds.diff(va, vb), a, b, key)


def test_appended_objects_are_numbered_across_parts(tmp_path: Any, arrow_calls: list[str]
                                                    ) -> None:
    with gantry.Workspace(db=":memory:", storage=str(tmp_path / "store")) as ws:
        ds = ws.create_dataset("d")
        first = pl.DataFrame({"__join_key": [f"k{i}" for i in range(50)], "x": list(range(50))})
        second = pl.DataFrame({"__join_key": [f"m{i}" for i in range(30)], "x": list(range(30))})
        ds.push_dataframe(first)
        va = ds.append_dataframe(second)["version_id"]
        changed = pl.DataFrame({"__join_key": ["m3", "m20"], "x": [-1, -2]})
        both = pl.concat([first, second])
        b = both.filter(~pl.col("__join_key").is_in(["m3", "m20", "k7"])).vstack(changed)
        vb = ds.push_dataframe(b)["version_id"]
        assert len(ds.manifest(va).files["data"].parts) == 2
        result = ds.diff(va, vb)
        _check(result, both, b, "__join_key")
        assert result.changed["__join_key"].to_list() == ["m3", "m20"]
        assert result.removed["__join_key"].to_list() == ["k7"]
        assert arrow_calls == []  # DuckDB read the objects itself


def test_names_duckdb_cannot_read_take_the_arrow_route(tmp_path: Any, arrow_calls: list[str]
                                                       ) -> None:
    """A column named like DuckDB's row-number column, and names differing only in case."""
    with gantry.Workspace(db=":memory:", storage=str(tmp_path / "store")) as ws:
        ds = ws.create_dataset("d")
        a = pl.DataFrame({"id": ["a", "b", "c"], "A": [1, 2, 3], "a": [4, 5, 6],
                          "file_row_number": [7, 8, 9]})
        b = a.with_columns(pl.when(pl.col("id") == "b").then(50).otherwise(pl.col("a"))
                           .alias("a"))
        va, vb = (ds.push_dataframe(f)["version_id"] for f in (a, b))
        result = ds.diff(va, vb, key="id")
        _check(result, a, b, "id")
        assert result.changed.columns == ["id", "A", "a", "file_row_number"]
        assert arrow_calls == ["a", "b"]


def test_the_old_side_is_decoded_only_for_removed_rows_and_empty_frames_are_typed(
        tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    with gantry.Workspace(db=":memory:", storage=str(tmp_path / "store")) as ws:
        ds = ws.create_dataset("d")
        a = pl.DataFrame({"__join_key": ["a", "b"], "x": [1.5, 2.5]})
        va = ds.push_dataframe(a)["version_id"]
        vb = ds.push_dataframe(a.reverse())["version_id"]  # same rows, other order
        decoded: list[str] = []
        original = _diff._tables.read_parquet

        def spy(data: bytes, context: str = "") -> Any:
            decoded.append(context)
            return original(data, context)

        monkeypatch.setattr(_diff._tables, "read_parquet", spy)
        result = ds.diff(va, vb)
        assert result.counts == {"added": 0, "removed": 0, "changed": 0}
        assert not [c for c in decoded if va in c]  # the new side is decoded ahead, in parallel
        assert result.changed.schema == pl.Schema({"__join_key": pl.String, "x": pl.Float64})


@pytest.mark.parametrize("route", ["parquet", "arrow"])
def test_repeated_and_null_keys_match_their_equal_rows(tmp_path: Any,
                                                       request: pytest.FixtureRequest,
                                                       route: str) -> None:
    """A key's equal rows cancel one for one (a null key is a key); the rest pair in order.
    Before, every copy of a repeated key paired with every other, and null keys never met."""
    if route == "arrow":
        request.getfixturevalue("parquet_refused")
    with gantry.Workspace(db=":memory:", storage=str(tmp_path / "store")) as ws:
        ds = ws.create_dataset("d")
        a = ds.push_dataframe(pl.DataFrame({"k": ["a", "a", None], "x": [1, 2, 3]}))
        same = ds.push_dataframe(pl.DataFrame({"k": [None, "a", "a"], "x": [3, 2, 1],
                                               "y": [0, 0, 0]}))
        assert ds.diff(a["version_id"], same["version_id"], key="k").counts == {
            "added": 0, "removed": 0, "changed": 0}
        b = ds.push_dataframe(pl.DataFrame({"k": ["a", "a", None, "c", "a"],
                                            "x": [2, 5, 4, 1, 9]}))
        diff = ds.diff(a["version_id"], b["version_id"], key="k")
        assert _sorted(diff.changed.rows()) == [("a", 5), (None, 4)]
        assert _sorted(diff.added.rows()) == [("a", 9), ("c", 1)]
        back = ds.diff(b["version_id"], a["version_id"], key="k")
        assert _sorted(back.removed.rows()) == [("a", 9), ("c", 1)]
        assert _sorted(back.changed.rows()) == [("a", 1), (None, 3)]
