"""`gc(dry_run=False)` racing a push that reuses an object the collector thought orphaned.

A push storing bytes that already exist refreshes the object's time; the collector looks
at the commit logs again before deleting, and deletes an object only after renaming it
aside and finding its time still old. Each test forces one interleaving by running the
push from inside the collector, at the step named.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import polars as pl
import pytest

import gantry_local as gantry
from gantry_local.datasets import _tables
from gantry_local.datasets._store import object_path

TABLE = pl.DataFrame({"__join_key": ["a", "b"], "x": [1, 2]})
OLD = time.time() - 7 * 86400


@pytest.fixture
def orphan(tmp_path: Path) -> Any:
    """A workspace whose store holds the bytes of TABLE as an old, unreferenced object."""
    ws = gantry.Workspace(db=":memory:", storage=str(tmp_path / "store"))
    store = ws.datasets.store
    digest = store.put_object(_tables.parquet_bytes(_tables.frame_to_table(TABLE)))
    path = Path(store.path(object_path(digest)))
    os.utime(path, (OLD, OLD))
    yield ws, digest, path
    ws.close()


def test_an_orphan_nobody_reuses_is_collected(orphan: Any) -> None:
    ws, digest, path = orphan
    assert ws.gc(dry_run=False)["unreferenced"] == [digest]
    assert not path.exists()


def test_a_push_reusing_the_object_refreshes_its_time(orphan: Any) -> None:
    ws, _, path = orphan
    ws.create_dataset("d").push_dataframe(TABLE)
    assert path.stat().st_mtime > OLD + 86400


def test_a_push_committing_while_gc_lists_objects(orphan: Any,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    ws, _, path = orphan
    store = ws.datasets.store
    listing = store.walk_objects
    ds = ws.create_dataset("d")

    def push_then_list() -> list[str]:  # gc took its first look; the push commits now
        ds.push_dataframe(TABLE)
        return listing()

    monkeypatch.setattr(store, "walk_objects", push_then_list)
    assert ws.gc(dry_run=False)["unreferenced"] == []
    assert path.exists() and ds.verify()["objects"] == 1


def test_a_push_committing_just_before_the_delete(orphan: Any,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    ws, _, path = orphan
    store = ws.datasets.store
    deleting = store.delete_unless_touched
    ds = ws.create_dataset("d")

    def push_then_delete(relpath: str, cutoff: float) -> int | None:
        ds.push_dataframe(TABLE)  # after both looks at the logs, before the rename
        return deleting(relpath, cutoff)

    monkeypatch.setattr(store, "delete_unless_touched", push_then_delete)
    assert ws.gc(dry_run=False)["unreferenced"] == []
    assert path.exists() and ds.verify()["objects"] == 1


def test_a_push_touching_after_the_rename_writes_the_object_again(
        orphan: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    ws, _, path = orphan
    ds = ws.create_dataset("d")
    real_rename = os.rename

    def rename_then_push(src: Any, dst: Any) -> None:
        real_rename(src, dst)
        if str(src) == str(path):  # the object is aside: the push finds it missing
            ds.push_dataframe(TABLE)

    monkeypatch.setattr(os, "rename", rename_then_push)
    ws.gc(dry_run=False)
    assert path.exists() and ds.verify()["objects"] == 1
