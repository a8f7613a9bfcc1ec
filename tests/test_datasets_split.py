"""`Dataset.split` is whole or absent: grouping columns DuckDB cannot read as text are a clear
error, and a storage failure on the second commit takes the first back."""

from __future__ import annotations

import decimal
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fsspec
import pyarrow as pa
import pytest
from fsspec.implementations.memory import MemoryFileSystem

import gantry_local as gantry
from gantry_local import datasets as gdataset


class FailingMemory(MemoryFileSystem):
    """An in-memory fsspec store whose writes fail for paths containing `fail_on`."""

    protocol = ("failmem",)
    fail_on: str | None = None

    def pipe_file(self, path: str, value: Any, mode: str = "overwrite", **kwargs: Any) -> None:
        if self.fail_on is not None and self.fail_on in path:
            raise OSError(5, f"injected failure writing {path}")
        super().pipe_file(path, value, mode=mode, **kwargs)


@pytest.fixture
def failing(tmp_path: Path) -> Iterator[gantry.Workspace]:
    fsspec.register_implementation("failmem", FailingMemory, clobber=True)
    FailingMemory.fail_on = None
    with gantry.Workspace(db=tmp_path / "g.duckdb",
                          storage=f"failmem://split-{uuid.uuid4().hex}") as ws:
        yield ws
    FailingMemory.fail_on = None


def _table(rows: int = 200) -> pa.Table:
    return pa.table({"inputs.x": [i % 50 for i in range(rows)],
                     "outputs.y": [float(i) for i in range(rows)]})


def _versions(ws: gantry.Workspace, name: str) -> int:
    try:
        return len(ws.get_dataset(name).list_versions())
    except gantry.NotFoundError:
        return 0


@pytest.mark.parametrize("where", ["/log/", "/manifests/"])
def test_a_failing_second_commit_leaves_neither_part(failing: gantry.Workspace,
                                                     where: str) -> None:
    ds = failing.create_dataset("d")
    ds.push_dataframe(_table())
    FailingMemory.fail_on = f"d-eval{where}"
    with pytest.raises(gantry.StorageError, match="injected failure"):
        ds.split(eval_fraction=0.3)
    assert _versions(failing, "d-train") == _versions(failing, "d-eval") == 0
    FailingMemory.fail_on = None  # the storage is back: the same split now succeeds whole
    train, evaluation = ds.split(eval_fraction=0.3)
    assert train["rows"]["data"] + evaluation["rows"]["data"] == 200
    assert _versions(failing, "d-train") == _versions(failing, "d-eval") == 1
    assert failing.get_dataset("d-train").read().height == train["rows"]["data"]


def test_a_failing_second_commit_takes_back_only_its_own_version(
        failing: gantry.Workspace) -> None:
    ds = failing.create_dataset("d")
    ds.push_dataframe(_table())
    ds.split(eval_fraction=0.3)
    before = failing.get_dataset("d-train").list_versions()
    ds.push_dataframe(_table(300))
    FailingMemory.fail_on = "d-eval/log/"
    with pytest.raises(gantry.StorageError):
        ds.split(eval_fraction=0.3)
    assert failing.get_dataset("d-train").list_versions() == before  # the earlier split stays


def test_a_failing_upload_commits_nothing(failing: gantry.Workspace) -> None:
    ds = failing.create_dataset("d")
    ds.push_dataframe(_table())
    FailingMemory.fail_on = "/objects/"
    with pytest.raises(gantry.StorageError):
        ds.split(eval_fraction=0.3)
    assert _versions(failing, "d-train") == _versions(failing, "d-eval") == 0


def test_grouping_columns_duckdb_cannot_read_are_a_validation_error(
        ws: gantry.Workspace) -> None:
    ds = ws.create_dataset("money")
    amounts = pa.array([decimal.Decimal(f"{i}.25") for i in range(40)], pa.decimal256(40, 2))
    ds.push_dataframe(pa.table({"inputs.amount": amounts, "outputs.y": list(range(40))}))
    with pytest.raises(gantry.ValidationError, match=r"cannot compute content keys.*decimal256"):
        ds.split()
    with pytest.raises(gantry.ValidationError, match="fields="):
        ds.content_keys()
    assert _versions(ws, "money-train") == _versions(ws, "money-eval") == 0
    train, evaluation = ds.split(fields=["outputs.y"])  # other columns group it
    assert train["rows"]["data"] + evaluation["rows"]["data"] == 40


def test_a_blob_column_with_bytes_that_are_not_utf8_splits(ws: gantry.Workspace) -> None:
    ds = ws.create_dataset("images")
    blobs = [bytes([255, 254, i % 20]) for i in range(200)]
    ds.push_dataframe(pa.table({"inputs.image": pa.array(blobs, pa.binary()),
                                "outputs.label": [i % 3 for i in range(200)]}))
    ds.split(eval_fraction=0.3, seed=3)
    train, evaluation = (ws.get_dataset(f"images-{p}") for p in ("train", "eval"))
    assert train.read().height + evaluation.read().height == 200
    assert not train.content_keys() & evaluation.content_keys()
    assert len(set(gdataset.content_keys(pa.table({"inputs.image": blobs})))) == 20


def test_fields_with_a_grouping_column_is_refused(ws: gantry.Workspace) -> None:
    ds = ws.create_dataset("d")
    ds.push_dataframe(_table())
    with pytest.raises(gantry.ValidationError, match="pass one or the other"):
        ds.split(by="inputs.x", fields=["outputs.y"])
    assert _versions(ws, "d-train") == _versions(ws, "d-eval") == 0
