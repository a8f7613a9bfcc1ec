"""Bad-input corpus for appends that change a table's schema: a type change without a
lossless conversion is refused, naming the column and both types, and nothing is stored
(files, objects and versions are the same before and after), on a folder and on S3.
A legal change (new, missing or widened columns) round-trips."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pyarrow as pa
import pytest

import gantry_local as gantry

from . import test_bad_inputs_datasets as datasets_corpus
from .test_bad_inputs_datasets import Case, Env, check

storage_env = datasets_corpus.storage_env  # the datasets corpus's fixture: local and S3

CASES = [  # the table is {"__join_key": ["a"], "x": [1]} (x int64)
    Case("append-int-as-text", lambda e: e.ds.append_dataframe(pl.DataFrame({"x": ["one"]})),
         gantry.ValidationError, "column 'x' is int64 in the table and large_string in the new "
         "rows.*push_dataframe"),
    Case("append-int-as-bool", lambda e: e.ds.append_dataframe(pl.DataFrame({"x": [True]})),
         gantry.ValidationError, "column 'x' is int64 in the table and bool"),
    Case("append-int-as-list", lambda e: e.ds.append_dataframe(pl.DataFrame({"x": [[1]]})),
         gantry.ValidationError, "column 'x' is int64 in the table and large_list"),
    Case("append-key-as-int", lambda e: e.ds.append_dataframe(
        pl.DataFrame({"__join_key": [7], "x": [2]})),
         gantry.ValidationError, "column '__join_key' is large_string in the table and int64"),
    Case("append-widening-loses-old-values", lambda e: e.ds.append_dataframe(
        pl.DataFrame({"x": [0.5]})), gantry.ValidationError,
         "column 'x' must widen from int64 to double.*not convert without loss",
         prepare=lambda e: e.ds.append_dataframe(pl.DataFrame({"x": [2**53 + 1]}))),
    Case("append-widening-loses-new-values", lambda e: e.ds.append_dataframe(
        pa.table({"x": pa.array([2**64 - 1], pa.uint64())})), gantry.ValidationError,
         "column 'x' must widen from uint64 to int64"),
    Case("append-to-an-artifact", lambda e: e.ds.append_dataframe(
        pl.DataFrame({"x": [1]}), filename="notes.txt"), gantry.ValidationError,
         "cannot append to 'notes.txt': it is an artifact",
         prepare=lambda e: e.ds.push_file(_artifact(e.tmp))),
]


def _artifact(tmp: Path) -> Path:
    path = tmp / "notes.txt"
    path.write_text("notes")
    return path


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_schema_change(case: Case, storage_env: Env) -> None:
    check(case, storage_env)


def test_legal_schema_changes_round_trip(storage_env: Env) -> None:
    env = storage_env
    env.ds.append_dataframe(pl.DataFrame({"x": [2.5], "new": ["n"]}))
    env.ds.append_dataframe(pl.DataFrame({"__join_key": ["c"]}))
    assert env.ds.read().rows() == [("a", 1.0, None), (None, 2.5, "n"), ("c", None, None)]
    assert env.ds.verify()["versions"] == 3
