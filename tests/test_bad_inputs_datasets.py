"""Bad-input corpus for datasets: every public entry point, and hand-made storage content.

Each case asserts the error class, a message that says what was wrong, and that nothing
was stored: the files under the storage root and the working directory, the versions and
the objects are the same before and after. Storage-content cases run on a local folder
and on S3 (the moto server).
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

import gantry_local as gantry

from .conftest import S3_OPTIONS, make_bucket


@dataclass
class Env:
    """A workspace with dataset ``d`` holding one version (table ``data``), and its folders."""

    ws: gantry.Workspace
    ds: Any
    tmp: Path
    version: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def store(self) -> Any:
        return self.ws.datasets.store


@dataclass
class Case:
    id: str
    call: Callable[[Env], Any]
    error: type[Exception]
    match: str
    prepare: Callable[[Env], None] | None = None


def snapshot(env: Env) -> tuple[Any, ...]:
    """Everything a call could have stored: files in the root and in the tmp folder, versions."""
    store = env.store
    store.fs.invalidate_cache()
    stored = sorted(store.fs.find(store.root)) if store.fs.exists(store.root) else []
    local = sorted((str(p), p.stat().st_size if p.is_file() else -1)
                   for p in env.tmp.rglob("*") if "inputs" not in p.parts)
    versions = len(store.listdir("datasets/d/log"))
    return stored, local, versions, len(store.walk_objects())


def check(case: Case, env: Env) -> None:
    if case.prepare is not None:
        case.prepare(env)
    before = snapshot(env)
    with pytest.raises(case.error, match=case.match):
        case.call(env)
    assert snapshot(env) == before


def make_env(storage: str, options: dict[str, Any], tmp: Path) -> Env:
    ws = gantry.Workspace(db=":memory:", storage=storage, storage_options=options)
    ws.set_working_directory(tmp / "work")
    ds = ws.create_dataset("d")
    version = ds.push_dataframe(pl.DataFrame({"__join_key": ["a"], "x": [1]}))["version_id"]
    return Env(ws, ds, tmp, version)


@pytest.fixture
def env(tmp_path: Path) -> Any:
    environment = make_env(str(tmp_path / "store"), {}, tmp_path)
    yield environment
    environment.ws.close()


# -- frames that could not be read back --------------------------------------------------------------

def _union() -> pa.Table:
    types = pa.array([0, 1], type=pa.int8())
    return pa.table({"u": pa.UnionArray.from_sparse(types, [pa.array([1, 2]),
                                                            pa.array(["a", "b"])])})


def _objects() -> pl.DataFrame:
    return pl.DataFrame({"o": pl.Series([object(), object()], dtype=pl.Object)})


def _write(env: Env, name: str, text: str | bytes) -> Path:
    """A user's input file (under ``inputs/``, which the snapshot leaves out)."""
    (env.tmp / "inputs").mkdir(exist_ok=True)
    path = env.tmp / "inputs" / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def _pulled_and_edited(env: Env) -> None:
    env.ds.pull()
    (env.ds.folder / "tabular_manifests" / "data.csv").write_text("__join_key,x\na,2\n")


def _pulled(env: Env) -> None:
    env.ds.pull()


DUP_ARROW = pa.Table.from_arrays([pa.array([1]), pa.array([2])], names=["a", "a"])
OK = pl.DataFrame({"x": [1]})

class _Closed(io.StringIO):
    name = "closed.csv"


def _closed() -> io.StringIO:
    handle = _Closed("a\n1\n")
    handle.close()
    return handle


class _Ints:
    name = "ints.csv"

    def read(self) -> int:
        return 5


LABELLED = pl.DataFrame({"__join_key": ["a"], "feedback.y": [1]})

# Gantry's entry points (issue 14) and the improvement-cycle tools (issue 15)
GANTRY_CASES = [
    Case("create-bucket-int", lambda e: e.ws.create_dataset("n", 5), gantry.ValidationError,
         "bucket_name must be a string"),
    Case("get-app-bad-name", lambda e: e.ws.get_dataset("d", "../x"), gantry.ValidationError,
         "not allowed"),
    Case("get-app-other", lambda e: e.ws.get_dataset("d", "other"), gantry.NotFoundError,
         "does not belong to application 'other'"),
    Case("file-object-no-name", lambda e: e.ds.push_file(io.BytesIO(b"x")),
         gantry.ValidationError, "no name: pass filename="),
    Case("file-object-closed", lambda e: e.ds.push_file(_closed()), gantry.ValidationError,
         "cannot read the file object 'closed.csv'"),
    Case("file-object-ints", lambda e: e.ds.push_file(_Ints()), gantry.ValidationError,
         "gave int, not bytes or text"),
    Case("file-object-surrogate", lambda e: e.ds.push_file(io.StringIO("\ud800"), "t.csv"),
         gantry.ValidationError, "not valid UTF-8"),
    Case("file-object-bad-csv", lambda e: e.ds.push_file(io.StringIO("a,a\n1,2\n"), "t.csv"),
         gantry.ValidationError, "duplicate columns"),
    Case("tabular-not-csv", lambda e: e.ds.push_tabular_file(io.StringIO("a\n1\n"), "t.txt"),
         gantry.ValidationError, r"must end with '\.csv'"),
    Case("tabular-parquet-name", lambda e: e.ds.push_tabular_file(io.BytesIO(b"x"), "t.parquet"),
         gantry.ValidationError, r"must end with '\.csv'"),
    Case("tabular-int", lambda e: e.ds.push_tabular_file(3), gantry.ValidationError,
         "open file object or a path"),
    Case("tabular-filename-escape", lambda e: e.ds.push_tabular_file(io.StringIO("a\n1\n"),
                                                                     "../t.csv"),
         gantry.ValidationError, "path separators"),
    Case("gantrydf-dict", lambda e: e.ds.push_gantry_dataframe({"a": [1]}),
         gantry.ValidationError, "takes a GantryDataFrame"),
    Case("gantrydf-frame", lambda e: e.ds.push_gantry_dataframe(pl.DataFrame({"a": [1]})),
         gantry.ValidationError, "takes a GantryDataFrame"),
    Case("gantrydf-filename-int", lambda e: e.ds.push_gantry_dataframe(pa.table({"a": [1]}), 5),
         gantry.ValidationError, "filename must be a string"),
    Case("gantrydf-filename-escape",
         lambda e: e.ds.push_gantry_dataframe(pa.table({"a": [1]}), "a/b"),
         gantry.ValidationError, "path separators"),
    Case("rollback-forced-str", lambda e: e.ds.rollback(e.version, forced="yes"),
         gantry.ValidationError, "forced must be True or False"),
    Case("rollback-over-local-changes", lambda e: e.ds.rollback(e.version), gantry.ConflictError,
         "local changes", _pulled_and_edited),
    Case("split-fraction-zero", lambda e: e.ds.split(eval_fraction=0), gantry.ValidationError,
         "between 0 and 1"),
    Case("split-fraction-one", lambda e: e.ds.split(eval_fraction=1.0), gantry.ValidationError,
         "between 0 and 1"),
    Case("split-fraction-nan", lambda e: e.ds.split(eval_fraction=float("nan")),
         gantry.ValidationError, "between 0 and 1"),
    Case("split-fraction-bool", lambda e: e.ds.split(eval_fraction=True), gantry.ValidationError,
         "between 0 and 1"),
    Case("split-fraction-str", lambda e: e.ds.split(eval_fraction="0.2"), gantry.ValidationError,
         "between 0 and 1"),
    Case("split-by-empty", lambda e: e.ds.split(by=""), gantry.ValidationError,
         "'content' or a column name"),
    Case("split-by-missing", lambda e: e.ds.split(by="nope"), gantry.ValidationError,
         r"no columns \['nope'\]"),
    Case("split-seed-float", lambda e: e.ds.split(seed=1.5), gantry.ValidationError,
         "seed must be an integer"),
    Case("split-seed-bool", lambda e: e.ds.split(seed=True), gantry.ValidationError,
         "seed must be an integer"),
    Case("split-target-bad", lambda e: e.ds.split(train_dataset="a/b"), gantry.ValidationError,
         "not allowed"),
    Case("split-targets-same", lambda e: e.ds.split(train_dataset="t", eval_dataset="t"),
         gantry.ValidationError, "two datasets other than"),
    Case("split-target-self", lambda e: e.ds.split(train_dataset="d"), gantry.ValidationError,
         "two datasets other than 'd'"),
    Case("split-fields-empty", lambda e: e.ds.split(fields=[]), gantry.ValidationError,
         "non-empty list of column names"),
    Case("split-fields-str", lambda e: e.ds.split(fields="x"), gantry.ValidationError,
         "non-empty list of column names"),
    Case("split-version-short", lambda e: e.ds.split("abc"), gantry.ValidationError,
         "at least 6"),
    Case("content-keys-missing-field", lambda e: e.ds.content_keys(fields=["nope"]),
         gantry.ValidationError, r"no columns \['nope'\]"),
    Case("content-keys-version-int", lambda e: e.ds.content_keys(5), gantry.ValidationError,
         "must be a version id"),
    Case("content-keys-frame-int", lambda e: __import__("gantry_local.dataset").dataset
         .content_keys(5), gantry.ValidationError, "expected a polars"),
    Case("refresh-no-join-key", lambda e: e.ds.refresh_feedback(pl.DataFrame({"feedback.y": [1]})),
         gantry.ValidationError, "no '__join_key' column"),
    Case("refresh-int", lambda e: e.ds.refresh_feedback(5), gantry.ValidationError,
         "expected a polars"),
    Case("refresh-missing-table", lambda e: e.ds.refresh_feedback(LABELLED, filename="nope"),
         gantry.NotFoundError, "has no table 'nope'"),
    Case("refresh-message-int", lambda e: e.ds.refresh_feedback(LABELLED, message=5),
         gantry.ValidationError, "message must be a string"),
    Case("refresh-version-missing", lambda e: e.ds.refresh_feedback(LABELLED, "abcdef12"),
         gantry.NotFoundError, "no version 'abcdef12'"),
    Case("hf-name-invalid", lambda e: e.ds.pull_huggingface_dataset_by_version(
        hf_dataset_name="not valid"), gantry.ValidationError, "valid Python identifier"),
    Case("hf-name-keyword", lambda e: e.ds.pull_huggingface_dataset_by_version(
        hf_dataset_name="class"), gantry.ValidationError, "valid Python identifier"),
    Case("hf-name-int", lambda e: e.ds.pull_huggingface_dataset_by_version(hf_dataset_name=3),
         gantry.ValidationError, "hf_dataset_name must be a string"),
    Case("hf-streaming-str", lambda e: e.ds.pull_huggingface_dataset_by_version(streaming="y"),
         gantry.ValidationError, "streaming must be True or False"),
    Case("hf-not-pulled", lambda e: e.ds.get_huggingface_dataset(), gantry.NotFoundError,
         "pull"),
]


INPUT_CASES = [
    # push_dataframe
    Case("push-int", lambda e: e.ds.push_dataframe(123), gantry.ValidationError, "expected a polars"),
    Case("push-none", lambda e: e.ds.push_dataframe(None), gantry.ValidationError, "got NoneType"),
    Case("push-dict", lambda e: e.ds.push_dataframe({"a": [1]}), gantry.ValidationError, "got dict"),
    Case("push-filename-int", lambda e: e.ds.push_dataframe(OK, filename=123),
         gantry.ValidationError, "file name must be a string"),
    Case("push-filename-empty", lambda e: e.ds.push_dataframe(OK, filename=""),
         gantry.ValidationError, "non-empty"),
    Case("push-filename-up", lambda e: e.ds.push_dataframe(OK, filename="../x"),
         gantry.ValidationError, "path separators"),
    Case("push-filename-surrogate", lambda e: e.ds.push_dataframe(OK, filename="\ud800"),
         gantry.ValidationError, "UTF-8"),
    Case("push-filename-newline", lambda e: e.ds.push_dataframe(OK, filename="a\nb"),
         gantry.ValidationError, "control characters"),
    Case("push-filename-meta", lambda e: e.ds.push_dataframe(OK, filename=".dataset_metadata"),
         gantry.ValidationError, "reserved"),
    Case("push-filename-long", lambda e: e.ds.push_dataframe(OK, filename="x" * 300),
         gantry.ValidationError, "longer than 200 bytes"),
    Case("push-message-int", lambda e: e.ds.push_dataframe(OK, message=123),
         gantry.ValidationError, "message must be a string"),
    Case("push-message-surrogate", lambda e: e.ds.push_dataframe(OK, message="\ud800"),
         gantry.ValidationError, "message is not valid UTF-8"),
    Case("push-parent-int", lambda e: e.ds.push_dataframe(OK, parent_version_id=123),
         gantry.ValidationError, "parent_version_id must be a version id"),
    Case("push-parent-nan", lambda e: e.ds.push_dataframe(OK, parent_version_id=float("nan")),
         gantry.ValidationError, "parent_version_id must be a version id"),
    Case("push-parent-unknown", lambda e: e.ds.push_dataframe(OK, parent_version_id="ffffffff"),
         gantry.NotFoundError, "no version 'ffffffff'"),
    Case("push-arrow-duplicates", lambda e: e.ds.push_dataframe(DUP_ARROW),
         gantry.ValidationError, r"duplicate columns \['a'\]"),
    Case("push-polars-object", lambda e: e.ds.push_dataframe(_objects()),
         gantry.ValidationError, r"\['o'\] hold Python objects"),
    Case("push-pandas-mixed", lambda e: e.ds.push_dataframe(pd.DataFrame({"a": [1, "x"]})),
         gantry.ValidationError, "cannot store this pandas DataFrame.*column a"),
    Case("push-pandas-complex", lambda e: e.ds.push_dataframe(pd.DataFrame({"a": [1 + 2j]})),
         gantry.ValidationError, "cannot store this pandas DataFrame.*complex"),
    Case("push-pandas-objects", lambda e: e.ds.push_dataframe(pd.DataFrame({"a": [object()]})),
         gantry.ValidationError, "cannot store this pandas DataFrame"),
    Case("push-pandas-duplicates",
         lambda e: e.ds.push_dataframe(pd.DataFrame([[1, 2]], columns=["a", "a"])),
         gantry.ValidationError, r"duplicate columns \['a'\]"),
    Case("push-sparse-union", lambda e: e.ds.push_dataframe(_union()), gantry.ValidationError,
         "'u' is a sparse_union.*union"),
    Case("push-empty-column-name", lambda e: e.ds.push_dataframe(pa.table({"": [1]})),
         gantry.ValidationError, "column names must be non-empty"),
    Case("push-nul-column", lambda e: e.ds.push_dataframe(pa.table({"a\x00b": [1]})),
         gantry.ValidationError, "without NUL"),
    Case("push-empty-struct",
         lambda e: e.ds.push_dataframe(pa.table({"s": pa.array([{}], type=pa.struct([]))})),
         gantry.ValidationError, "struct column 's' has no fields"),
    Case("push-nested-surrogate",
         lambda e: e.ds.push_dataframe(pd.DataFrame({"s": [{"\ud800": 1}]})),
         gantry.ValidationError, "cannot store this pandas DataFrame"),
    Case("push-nested-nul",
         lambda e: e.ds.push_dataframe(pa.table({"s": pa.array([{"a\x00": 1}])})),
         gantry.ValidationError, "column named 's.a"),
    Case("push-polars-nul-column", lambda e: e.ds.push_dataframe(pl.DataFrame({"a\x00b": [1]})),
         gantry.ValidationError, r"column named 'a\\x00b'.*without NUL"),
    Case("push-polars-nul-struct-field",
         lambda e: e.ds.push_dataframe(pl.DataFrame({"s": [{"a\x00": 1}]})),
         gantry.ValidationError, "column named 's.a"),
    Case("push-polars-nul-list-struct-field",
         lambda e: e.ds.push_dataframe(pl.DataFrame({"s": [[{"a\x00": 1}]]})),
         gantry.ValidationError, r"column named 's\[\]\.item\.a"),
    Case("push-pandas-surrogate-column",
         lambda e: e.ds.push_dataframe(pd.DataFrame([[1]], columns=pd.Index(["\ud800"],
                                                                             dtype=object))),
         gantry.ValidationError, "non-empty UTF-8 text"),
    Case("push-pandas-nul-column",
         lambda e: e.ds.push_dataframe(pd.DataFrame([[1]], columns=pd.Index(["a\x00"],
                                                                             dtype=object))),
         gantry.ValidationError, "without NUL"),
    Case("append-polars-nul-column",
         lambda e: e.ds.append_dataframe(pl.DataFrame({"a\x00b": [1]})),
         gantry.ValidationError, "without NUL"),
    # append_dataframe
    Case("append-lineage-list", lambda e: e.ds.append_dataframe(OK, lineage=[1]),
         gantry.ValidationError, "lineage must be a mapping"),
    Case("append-lineage-int-keys", lambda e: e.ds.append_dataframe(OK, lineage={1: "a"}),
         gantry.ValidationError, "lineage keys must be strings"),
    Case("append-lineage-nan", lambda e: e.ds.append_dataframe(OK, lineage={"a": float("nan")}),
         gantry.ValidationError, "JSON values"),
    Case("append-lineage-object", lambda e: e.ds.append_dataframe(OK, lineage={"a": object()}),
         gantry.ValidationError, "JSON values"),
    Case("append-lineage-numpy", lambda e: e.ds.append_dataframe(OK, lineage={"a": np.int64(1)}),
         gantry.ValidationError, "JSON values"),
    Case("append-retyped-column", lambda e: e.ds.append_dataframe(pl.DataFrame({"x": ["z"]})),
         gantry.ValidationError, "cannot append to 'data': column 'x' is int64"),
    Case("append-str", lambda e: e.ds.append_dataframe("x"), gantry.ValidationError, "got str"),
    Case("append-message-surrogate", lambda e: e.ds.append_dataframe(OK, message="\udfff"),
         gantry.ValidationError, "UTF-8"),
    # push_file
    Case("file-int", lambda e: e.ds.push_file(123), gantry.ValidationError,
         "file must be an open file object or a path.*int"),
    Case("file-none", lambda e: e.ds.push_file(None), gantry.ValidationError,
         "file must be an open file object or a path"),
    Case("file-empty", lambda e: e.ds.push_file(""), gantry.ValidationError, "not a usable path"),
    Case("file-bytes", lambda e: e.ds.push_file(b"/tmp/x.csv"), gantry.ValidationError,
         "file must be an open file object or a path.*bytes"),
    Case("file-nul", lambda e: e.ds.push_file("a\x00b"), gantry.ValidationError, "NUL"),
    Case("file-folder", lambda e: e.ds.push_file(e.tmp), gantry.ValidationError, "is a folder"),
    Case("file-missing", lambda e: e.ds.push_file(e.tmp / "missing.bin"), gantry.NotFoundError,
         "no file"),
    Case("file-binary-named-csv",  # the name decides: a .csv name is a table
         lambda e: e.ds.push_file(_write(e, "m.bin", b"\x00"), filename="data.csv"),
         gantry.ValidationError, "cannot read 'data' as csv"),
    Case("file-csv-duplicates", lambda e: e.ds.push_file(_write(e, "t.csv", "a,a\n1,2\n")),
         gantry.ValidationError, r"duplicate columns \['a'\]"),
    Case("file-csv-ragged", lambda e: e.ds.push_file(_write(e, "r.csv", "a,b\n1,2,3\n")),
         gantry.ValidationError, "cannot read .* as csv"),
    Case("file-bad-parquet", lambda e: e.ds.push_file(_write(e, "p.parquet", b"not parquet")),
         gantry.ValidationError, "as parquet"),
    Case("file-bad-jsonl", lambda e: e.ds.push_file(_write(e, "j.jsonl", "{nope\n")),
         gantry.ValidationError, "as jsonl"),
    Case("file-message-surrogate",
         lambda e: e.ds.push_file(_write(e, "n.txt", "x"), message="\ud800"),
         gantry.ValidationError, "UTF-8"),
    Case("file-filename-surrogate",
         lambda e: e.ds.push_file(_write(e, "n.txt", "x"), filename="\ud800"),
         gantry.ValidationError, "UTF-8"),
    # pull, push_version, stash, restore, get_diff
    Case("pull-version-int", lambda e: e.ds.pull(5), gantry.ValidationError,
         "version_id must be a version id"),
    Case("pull-forced-str", lambda e: e.ds.pull(forced="yes"), gantry.ValidationError,
         "forced must be True or False"),
    Case("pull-format", lambda e: e.ds.pull(format="xlsx"), gantry.ValidationError,
         "format must be one of"),
    Case("pull-format-none", lambda e: e.ds.pull(format=None), gantry.ValidationError,
         "format must be one of"),
    Case("pull-short-prefix", lambda e: e.ds.pull("abc"), gantry.ValidationError, "at least 6"),
    Case("push-version-none", lambda e: e.ds.push_version(None), gantry.ValidationError,
         "needs a message"),
    Case("push-version-blank", lambda e: e.ds.push_version("  "), gantry.ValidationError,
         "needs a message"),
    Case("push-version-surrogate", lambda e: e.ds.push_version("fix \ud800"),
         gantry.ValidationError, "UTF-8", _pulled_and_edited),
    Case("push-version-unpulled", lambda e: e.ds.push_version("x"), gantry.NotFoundError,
         "pull"),
    Case("push-version-unchanged", lambda e: e.ds.push_version("x"), gantry.ValidationError,
         "nothing changed", _pulled),
    Case("push-version-two-files-one-table",
         lambda e: e.ds.push_version("two"), gantry.ValidationError, "would become",
         lambda e: (_pulled(e), (e.tmp / "work" / "d" / "data.parquet").write_bytes(b"x"))),
    Case("get-diff-unpulled", lambda e: e.ds.get_diff(), gantry.NotFoundError, "pull"),
    Case("stash-unpulled", lambda e: e.ds.stash(), gantry.NotFoundError, "pull"),
    Case("restore-no-stash", lambda e: e.ds.restore(), gantry.NotFoundError, "no stash"),
    Case("pull-over-local-changes", lambda e: e.ds.pull(), gantry.ConflictError, "local changes",
         _pulled_and_edited),
    # rollback, list, read, diff, verify, export, delete_file
    Case("rollback-none", lambda e: e.ds.rollback(None), gantry.ValidationError,
         "version_id must be a version id"),
    Case("rollback-int", lambda e: e.ds.rollback(123), gantry.ValidationError,
         "version_id must be a version id"),
    Case("rollback-short", lambda e: e.ds.rollback("abc"), gantry.ValidationError, "at least 6"),
    Case("rollback-unknown", lambda e: e.ds.rollback("0" * 64), gantry.NotFoundError,
         "no version"),
    Case("read-version-float", lambda e: e.ds.read(1.5), gantry.ValidationError,
         "version_id must be a version id"),
    Case("read-verify-str", lambda e: e.ds.read_arrow(verify="no"), gantry.ValidationError,
         "verify must be True or False"),
    Case("read-filename-int", lambda e: e.ds.read(filename=7), gantry.ValidationError,
         "file name must be a string"),
    Case("read-filename-missing", lambda e: e.ds.read(filename="nope"), gantry.NotFoundError,
         "no table 'nope'"),
    Case("read-artifact-up", lambda e: e.ds.read_artifact("../x"), gantry.ValidationError,
         "path separators"),
    Case("diff-none", lambda e: e.ds.diff(None), gantry.ValidationError, "a must be a version id"),
    Case("diff-b-int", lambda e: e.ds.diff(e.version, 3), gantry.ValidationError,
         "b must be a version id"),
    Case("diff-key-int", lambda e: e.ds.diff(e.version, key=5), gantry.ValidationError,
         "key must be a column name"),
    Case("diff-key-missing", lambda e: e.ds.diff(e.version, key="nope"), gantry.ValidationError,
         "not a column of both versions"),
    Case("diff-filename-up", lambda e: e.ds.diff(e.version, filename="../x"),
         gantry.ValidationError, "path separators"),
    Case("diff-filename-missing", lambda e: e.ds.diff(e.version, filename="nope"),
         gantry.ValidationError, "neither version has a table 'nope'"),
    Case("diff-unknown", lambda e: e.ds.diff(e.version, "ffffffffff"), gantry.NotFoundError,
         "no version"),
    Case("verify-list", lambda e: e.ds.verify([1]), gantry.ValidationError,
         "version_id must be a version id"),
    Case("export-path-int", lambda e: e.ds.export(path=5), gantry.ValidationError,
         "export folder must be a path"),
    Case("export-format", lambda e: e.ds.export(path=e.tmp, format="xlsx"),
         gantry.ValidationError, "format must be one of"),
    Case("export-missing-folder", lambda e: e.ds.export(path=e.tmp / "nope"),
         gantry.NotFoundError, "does not exist"),
    Case("delete-file-missing", lambda e: e.ds.delete_file("nope"), gantry.NotFoundError,
         "no file 'nope'"),
    Case("delete-file-message", lambda e: e.ds.delete_file("data", message=5),
         gantry.ValidationError, "message must be a string"),
    # the workspace's dataset calls
    Case("create-none", lambda e: e.ws.create_dataset(None), gantry.ValidationError,
         "dataset name must be a string"),
    Case("create-space", lambda e: e.ws.create_dataset("a b"), gantry.ValidationError,
         "offending characters"),
    Case("create-nan", lambda e: e.ws.create_dataset(float("nan")), gantry.ValidationError,
         "must be a string"),
    Case("create-app-int", lambda e: e.ws.create_dataset("ok", app_name=5),
         gantry.ValidationError, "application must be a name"),
    Case("create-app-unknown", lambda e: e.ws.create_dataset("ok", app_name="nope"),
         gantry.NotFoundError, "no application 'nope'"),
    Case("create-taken", lambda e: e.ws.create_dataset("d"), gantry.AlreadyExistsError,
         "already exists"),
    Case("get-int", lambda e: e.ws.get_dataset(123), gantry.ValidationError, "must be a string"),
    Case("get-missing", lambda e: e.ws.get_dataset("missing"), gantry.NotFoundError,
         "no dataset 'missing'"),
    Case("get-include-deleted-str", lambda e: e.ws.get_dataset("d", include_deleted="x"),
         gantry.ValidationError, "include_deleted must be True or False"),
    Case("list-include-deleted-none", lambda e: e.ws.list_datasets(include_deleted=None),
         gantry.ValidationError, "include_deleted must be True or False"),
    Case("delete-up", lambda e: e.ws.delete_dataset("../d"), gantry.ValidationError,
         "not allowed"),
    Case("restore-int", lambda e: e.ws.restore_dataset(5), gantry.ValidationError,
         "must be a string"),
    Case("versions-none", lambda e: e.ws.list_dataset_versions(None), gantry.ValidationError,
         "must be a string"),
    Case("gc-dry-run-str", lambda e: e.ws.gc(dry_run="no"), gantry.ValidationError,
         "dry_run must be True or False"),
    Case("gc-grace-int", lambda e: e.ws.gc(grace=5), gantry.ValidationError,
         "grace must be a non-negative timedelta"),
    Case("gc-grace-negative", lambda e: e.ws.gc(grace=timedelta(-1)), gantry.ValidationError,
         "non-negative"),
    Case("workdir-none", lambda e: e.ws.set_working_directory(None), gantry.ValidationError,
         "working directory must be a path"),
    Case("workdir-empty", lambda e: e.ws.set_working_directory(""), gantry.ValidationError,
         "not a usable path"),
    Case("workdir-file", lambda e: e.ws.set_working_directory(_write(e, "f.txt", "x")),
         gantry.ValidationError, "is a file"),
    *GANTRY_CASES,
]


@pytest.fixture(scope="module")
def shared_env(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One environment for the cases that prepare nothing: each is refused and stores nothing
    (`check` asserts it), so the next case finds the environment as it was."""
    tmp = tmp_path_factory.mktemp("bad-dataset-inputs")
    environment = make_env(str(tmp / "store"), {}, tmp)
    yield environment
    environment.ws.close()


@pytest.mark.parametrize("case", INPUT_CASES, ids=[c.id for c in INPUT_CASES])
def test_bad_input(case: Case, request: pytest.FixtureRequest) -> None:
    check(case, request.getfixturevalue("shared_env" if case.prepare is None else "env"))


# -- hand-made storage content ------------------------------------------------------------------------

def craft(env: Env, change: Callable[[dict[str, Any]], Any] | None = None,
          raw: bytes | None = None) -> str:
    """Commit a hand-made manifest whose hash checks out; return its version id."""
    store = env.store
    body = json.loads(store.read(f"datasets/d/manifests/{env.version}.json"))
    if change is not None:
        change(body)
    data = raw if raw is not None else json.dumps(body).encode()
    vid = hashlib.sha256(data).hexdigest()
    store.put_atomic(f"datasets/d/manifests/{vid}.json", data)
    commit(env, {"version_id": vid, "parent": env.version})
    env.extra["vid"] = vid
    return vid


def commit(env: Env, entry: Any) -> None:
    data = entry if isinstance(entry, bytes) else json.dumps(entry).encode()
    env.store.put_atomic("datasets/d/log/000000000002.json", data)


def _files(files: Any) -> Callable[[dict[str, Any]], None]:
    def change(body: dict[str, Any]) -> None:
        body["files"] = files(body["files"]["data"]) if callable(files) else files
    return change


def _part(**overrides: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def entry(data: dict[str, Any]) -> dict[str, Any]:
        return {"data": {**data, "parts": [{**data["parts"][0], **overrides}]}}
    return entry


def _set(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(body: dict[str, Any]) -> None:
        body[key] = value
    return change


def _renamed(name: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda data: {name: data}


def _dataset_json(env: Env, data: bytes) -> None:
    env.store.put_atomic("datasets/d/dataset.json", data)


MANIFEST = r"datasets/d/manifests/[0-9a-f]{64}\.json"
LOG = r"datasets/d/log/000000000002\.json"

STORAGE_CASES = [
    Case("manifest-table-escapes", lambda e: e.ds.pull(), gantry.IntegrityError,
         MANIFEST + r".*'\.\./\.\./x'.*path separators", lambda e: craft(e, _files(_renamed(
             "../../x")))),
    Case("manifest-artifact-escapes", lambda e: e.ds.pull(), gantry.IntegrityError,
         MANIFEST + ".*path separators", lambda e: craft(e, _files(lambda d: {
             "../evil": {**d, "kind": "artifact"}}))),
    Case("manifest-hash-escapes", lambda e: e.ds.read(), gantry.IntegrityError,
         MANIFEST + r".*'\.\./\.\./\.\./etc/hostname' is not a sha256",
         lambda e: craft(e, _files(_part(object="../../../etc/hostname")))),
    Case("manifest-hash-uppercase", lambda e: e.ds.verify(), gantry.IntegrityError,
         "not a sha256", lambda e: craft(e, _files(_part(object="A" * 64)))),
    Case("manifest-rows-negative", lambda e: e.ds.read(), gantry.IntegrityError,
         "negative row", lambda e: craft(e, _files(_part(rows=-1)))),
    Case("manifest-rows-bool", lambda e: e.ds.read(), gantry.IntegrityError,
         "'rows' is 'True', expected int", lambda e: craft(e, _files(_part(rows=True)))),
    Case("manifest-kind", lambda e: e.ds.read(), gantry.IntegrityError, "kind is 'weird'",
         lambda e: craft(e, _files(lambda d: {"data": {**d, "kind": "weird"}}))),
    Case("manifest-files-list", lambda e: e.ds.read(), gantry.IntegrityError,
         "'files' is .*, expected dict", lambda e: craft(e, _files([]))),
    Case("manifest-artifact-table-suffix", lambda e: e.ds.pull(), gantry.IntegrityError,
         "artifact may not end", lambda e: craft(e, _files(lambda d: {
             "data.csv": {**d, "kind": "artifact"}}))),
    Case("manifest-other-dataset", lambda e: e.ds.read(), gantry.IntegrityError,
         "belongs to dataset 'other'", lambda e: craft(e, _set("dataset", "other"))),
    Case("manifest-parent-path", lambda e: e.ds.list_versions() and e.ds.read(),
         gantry.IntegrityError, "not a sha256", lambda e: craft(e, _set("parent", "../x"))),
    Case("manifest-created-at", lambda e: e.ds.read(), gantry.IntegrityError,
         "not an ISO timestamp", lambda e: craft(e, _set("created_at", "yesterday"))),
    Case("manifest-message-int", lambda e: e.ds.read(), gantry.IntegrityError,
         "'message' is '5', expected str", lambda e: craft(e, _set("message", 5))),
    Case("manifest-not-json", lambda e: e.ds.read(), gantry.IntegrityError,
         MANIFEST + ".*not valid JSON", lambda e: craft(e, raw=b"\xff not json")),
    Case("manifest-json-array", lambda e: e.ds.read(), gantry.IntegrityError,
         "not a JSON object", lambda e: craft(e, raw=b"[1, 2]")),
    Case("manifest-missing", lambda e: e.ds.read(), gantry.IntegrityError,
         "manifest .* is missing", lambda e: commit(e, {"version_id": "e" * 64})),
    Case("log-no-version-id", lambda e: e.ds.read(), gantry.IntegrityError,
         LOG + ".*has no 'version_id'", lambda e: commit(e, {"parent": None})),
    Case("log-version-escapes", lambda e: e.ds.read(), gantry.IntegrityError,
         LOG + r".*'\.\./\.\./x' is not a sha256", lambda e: commit(e, {"version_id": "../../x"})),
    Case("log-parent-escapes", lambda e: e.ds.read(), gantry.IntegrityError,
         LOG + r".*'\.\./x' is not a sha256", lambda e: commit(e, {"version_id": e.version,
                                                                  "parent": "../x"})),
    Case("log-not-json", lambda e: e.ws.list_datasets() and e.ds.read(), gantry.IntegrityError,
         LOG + ".*not valid JSON", lambda e: commit(e, b"{")),
    Case("log-corrupt-blocks-pull", lambda e: e.ds.pull(), gantry.IntegrityError,
         LOG, lambda e: commit(e, {"version_id": 7})),
    Case("log-corrupt-blocks-gc", lambda e: e.ws.gc(dry_run=False, grace=timedelta(0)),
         gantry.IntegrityError, LOG, lambda e: commit(e, [1])),
    Case("dataset-json-not-json", lambda e: e.ws.get_dataset("d"), gantry.IntegrityError,
         "datasets/d/dataset.json.*not valid JSON", lambda e: _dataset_json(e, b"{")),
    Case("dataset-json-other-name", lambda e: e.ws.get_dataset("d"), gantry.IntegrityError,
         "names dataset 'x'", lambda e: _dataset_json(e, b'{"name": "x"}')),
    Case("dataset-json-app-escapes", lambda e: e.ws.get_dataset("d"), gantry.IntegrityError,
         "dataset.json.*not allowed", lambda e: _dataset_json(
             e, b'{"name": "d", "app_name": "../x"}')),
    Case("table-object-is-not-parquet", lambda e: e.ds.read(), gantry.IntegrityError,
         "not a readable Parquet", lambda e: craft(e, _files(_part(
             object=e.store.put_object(b"plain bytes"))))),
    Case("pulled-record-escapes", lambda e: e.ds.get_diff(), gantry.IntegrityError,
         r"pulled\.json.*records the path '\.\./\.\./x'", lambda e: (_pulled(e), _tamper_record(e))),
]


def _tamper_record(env: Env) -> None:
    path = env.tmp / "work" / "d" / ".dataset_metadata" / "pulled.json"
    record = json.loads(path.read_text())
    record["files"]["../../x"] = record["files"].pop("tabular_manifests/data.csv")
    path.write_text(json.dumps(record))


@pytest.fixture(params=["local", "s3"])
def storage_env(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    if request.param == "local":
        environment = make_env(str(tmp_path / "store"), {}, tmp_path)
    else:
        endpoint = request.getfixturevalue("s3_endpoint")
        environment = make_env(f"s3://{make_bucket(endpoint)}/p",
                               {**S3_OPTIONS, "endpoint_url": endpoint}, tmp_path)
    yield environment
    environment.ws.close()


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("case", STORAGE_CASES, ids=[c.id for c in STORAGE_CASES])
def test_bad_storage_content(case: Case, storage_env: Env) -> None:
    check(case, storage_env)


@pytest.mark.parametrize("frame", [
    pl.DataFrame({"Q": [1], "q": [2]}),
    pl.DataFrame({"a.b": [1], "a": [{"b": 2}]}),
    pl.DataFrame({"tags": [["x"], []], "n": [None, 1]}),
    pa.table({"d": pa.array(["a", "b"]).dictionary_encode()}),
    pd.DataFrame({0: [1.5], "s": ["x"]}),
], ids=["case-only-names", "dotted-beside-struct", "lists-and-nulls", "dictionary", "pandas-int-name"])
def test_legal_frames_round_trip(env: Env, frame: Any) -> None:
    version = env.ds.push_dataframe(frame, filename="legal")["version_id"]
    expected = pl.from_pandas(frame.rename(columns=str)) if isinstance(frame, pd.DataFrame) \
        else pl.from_arrow(frame) if isinstance(frame, pa.Table) else frame
    assert env.ds.read(version, filename="legal").to_dict(as_series=False) == \
        expected.to_dict(as_series=False)
    assert env.ds.diff(version, version, filename="legal").counts == {
        "added": 0, "removed": 0, "changed": 0}


def test_a_corrupt_commit_log_blocks_pushes(storage_env: Env) -> None:
    """No version is ever committed on top of an unreadable head.

    A push uploads its object before it looks at the log again (three requests on S3), so
    the refused push leaves one unreferenced object, which `gc` reclaims once the log is
    repaired.
    """
    env = storage_env
    commit(env, {"version_id": 7})
    with pytest.raises(gantry.IntegrityError, match=LOG + ".*'version_id' is '7'"):
        env.ds.push_dataframe(OK)
    assert env.store.listdir("datasets/d/log") == ["000000000001.json", "000000000002.json"]
    env.store.delete("datasets/d/log/000000000002.json")
    assert len(env.ws.gc(dry_run=False, grace=timedelta(0))["unreferenced"]) == 1
    assert env.ds.read()["x"].to_list() == [1]


def test_paths_and_applications_are_taken_in_every_form(env: Env, tmp_path: Path) -> None:
    class Where:
        def __fspath__(self) -> str:
            return str(tmp_path / "inputs" / "n.txt")

    _write(env, "n.txt", "notes")
    assert env.ds.push_file(Where())["files"] == ["data", "n.txt"]
    app = env.ws.create_application("model")
    assert env.ws.create_dataset("for-app", app_name=app).app_name == "model"
    assert env.ws.get_dataset("for-app").app_name == "model"


def test_a_symlink_in_a_local_store_is_never_followed(env: Env, tmp_path: Path) -> None:
    outside = tmp_path / "secret.txt"
    outside.write_text("top secret")
    digest = env.ds.manifest().files["data"].parts[0].object
    obj = tmp_path / "store" / "objects" / digest[:2] / digest
    obj.unlink()
    obj.symlink_to(outside)
    secret_sha = hashlib.sha256(b"top secret").hexdigest()
    with pytest.raises(gantry.IntegrityError, match="symbolic link") as caught:
        env.ds.read()
    assert secret_sha not in str(caught.value)
    log = tmp_path / "store" / "datasets" / "d" / "log"
    elsewhere = tmp_path / "elsewhere"
    log.rename(elsewhere)
    log.symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(gantry.IntegrityError, match="symbolic link"):
        env.ds.delete_file("data")
    assert sorted(p.name for p in elsewhere.iterdir()) == ["000000000001.json"]
