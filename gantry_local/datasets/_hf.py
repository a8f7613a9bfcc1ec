"""Hugging Face ``datasets`` views of a version or of the working copy (``gantry-local[hf]``).

Loaded from the verified Arrow tables, never from a hub: nothing touches the network.
"""

from __future__ import annotations

from keyword import iskeyword
from typing import Any

import pyarrow as pa

from ..errors import NotFoundError, ValidationError
from . import _tables
from ._checks import check_flag, check_version_ref
from ._view import DatasetView

__all__ = ["from_version", "from_working_copy"]


def _datasets() -> Any:
    try:
        import datasets  # type: ignore[import-not-found,import-untyped,unused-ignore]
    except ImportError as exc:  # an optional extra
        raise ImportError("Hugging Face datasets need the 'datasets' package: pip install "
                          "'gantry-local[hf]'") from exc
    return datasets


def _name(dataset: DatasetView, hf_dataset_name: object) -> str:
    """Gantry's rule: a valid Python identifier (by default the cleaned dataset name)."""
    if hf_dataset_name is None or hf_dataset_name == "":
        import re

        name = re.sub("^[^a-zA-Z_]+", "", re.sub("[^0-9a-zA-Z_]", "", dataset.name))
    elif isinstance(hf_dataset_name, str):
        name = hf_dataset_name
    else:
        raise ValidationError(f"hf_dataset_name must be a string, got "
                              f"{type(hf_dataset_name).__name__}")
    if not name.isidentifier() or iskeyword(name):
        raise ValidationError(f"the Hugging Face dataset name {name!r} must be a valid Python "
                              "identifier: pass hf_dataset_name=")
    return name


def _build(table: pa.Table, name: str, streaming: object) -> Any:
    check_flag(streaming, "streaming")
    datasets = _datasets()
    hf = datasets.Dataset(table.replace_schema_metadata(),
                          info=datasets.DatasetInfo(dataset_name=name))
    return hf.to_iterable_dataset() if streaming else hf


def from_version(dataset: DatasetView, version_id: str | None, hf_dataset_name: str | None,
                 streaming: bool) -> Any:
    """Every table of a version (one schema) as one Hugging Face dataset."""
    check_version_ref(version_id)
    name = _name(dataset, hf_dataset_name)
    check_flag(streaming, "streaming")
    full = dataset.resolve(version_id)
    tables = [n for n, e in dataset.manifest(full).files.items() if e.kind == "table"]
    if not tables:
        raise NotFoundError(f"version {full[:12]} of {dataset.name!r} has no tabular data")
    table = dataset.read_arrow(full)
    if len(tables) > 1:
        table = table.drop_columns(["__file"])
    return _build(table, name, streaming)


def from_working_copy(dataset: DatasetView, hf_dataset_name: str | None, streaming: bool) -> Any:
    """The tables of the pulled working copy (``tabular_manifests/``, edits included)."""
    from ._workdir import TABULAR, _folder, _record

    name = _name(dataset, hf_dataset_name)
    check_flag(streaming, "streaming")
    folder = _folder(dataset) / TABULAR
    record = _record(dataset)
    files = sorted(p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []
    if record is None or not files:
        raise NotFoundError(f"no tabular data in {str(folder)!r}: pull() the dataset first")
    nested: dict[str, pa.DataType] = {}
    stored = dataset.manifest(record["version_id"]).files if record["version_id"] else {}
    for entry in stored.values():
        nested.update({c: t for c, t in _stored_nested(dataset, entry)})
    tables = [_tables.file_to_table(p, nested) for p in files]
    schemas = {tuple(t.column_names) for t in tables if t is not None}
    if len(schemas) > 1:
        raise ValidationError(f"the tables under {str(folder)!r} do not share their columns "
                              f"({sorted(schemas)}); a Hugging Face dataset needs one schema")
    try:
        table = pa.concat_tables([t for t in tables if t is not None],
                                 promote_options="permissive")
    except pa.ArrowException as exc:
        raise ValidationError(f"the tables under {str(folder)!r} have clashing types: "
                              f"{exc}") from exc
    return _build(table, name, streaming)


def _stored_nested(dataset: DatasetView, entry: Any) -> list[tuple[str, pa.DataType]]:
    """The list/struct columns of a stored table with their Arrow types."""
    if entry.kind != "table" or not entry.parts or not any(
            t.startswith(("list<", "struct<", "map<", "large_list<")) for _, t in entry.schema):
        return []
    import pyarrow.parquet as pq

    data = dataset.store.read_object(entry.parts[0].object, f"dataset {dataset.name!r}")
    return [(f.name, f.type) for f in pq.read_schema(pa.BufferReader(data))
            if _tables.is_nested(f.type)]
