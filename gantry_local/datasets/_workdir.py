"""Gantry's working-copy workflow: pull a version into a folder, edit it, push it back.

``<working dir>/<dataset>/`` is laid out as Gantry's pull lays it out::

    README.md                       the version pulled, its files, and which version added what
    dataset_config.yaml             Gantry's config: folders, column types (features, labels)
    tabular_manifests/<table>.csv   a table held in one part (push_dataframe, push_file ...)
    tabular_manifests/<table>/v0003.csv
                                    a table built by appends (a curated dataset): one CSV per
                                    part, named by the number of the version that added it
                                    (README.md maps numbers to version ids)
    artifacts/<name>                every other file
    .dataset_metadata/pulled.json   the version and the sha256 of every file as written

Tables are CSV by default (or Parquet); in CSV, list and struct columns hold JSON text,
decoded back to their types by `push_version`. README.md and dataset_config.yaml are
written by `pull` and not pushed back. A file a user adds at the top level is pushed as
before (a table by its suffix, else an artifact).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import ConflictError, IntegrityError, NotFoundError, StorageError, ValidationError
from . import _tables, _widen
from ._checks import (
    META,
    check_digest,
    check_filename,
    check_flag,
    check_message,
    check_path,
    check_version_ref,
    corrupt,
    load_json,
    stored,
)
from ._checks import field as stored_field
from ._manifest import ARTIFACT, TABLE, FileEntry, Manifest, Part
from ._view import DatasetView

__all__ = ["check_clean", "export", "get_diff", "is_pulled", "pull", "push_version", "restore",
           "stash"]

FORMATS = ("csv", "parquet")
TABULAR, ARTIFACTS = "tabular_manifests", "artifacts"
README, CONFIG = "README.md", "dataset_config.yaml"
_GENERATED = {README, CONFIG}
_NESTED = ("list<", "struct<", "map<", "fixed_size_list<")


@contextmanager
def _local(what: str, where: Path) -> Iterator[None]:
    """Local file failures (a full disk, permissions) as a `StorageError` naming the cause."""
    try:
        yield
    except (ValidationError, IntegrityError, NotFoundError, ConflictError, StorageError):
        raise
    except OSError as exc:
        raise StorageError(f"{what} in {str(where)!r} failed: {exc.strerror or exc}. Free space "
                           "or fix the folder's permissions and try again") from exc


def _folder(dataset: DatasetView) -> Path:
    return dataset._working_directory() / dataset.name


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _check_relpath(relpath: str, source: str) -> None:
    """A recorded local path: ``name``, ``folder/name`` or ``tabular_manifests/t/name``."""
    parts = relpath.split("/")
    if not 1 <= len(parts) <= 3 or (len(parts) > 1 and parts[0] not in (TABULAR, ARTIFACTS)) \
            or (len(parts) == 3 and parts[0] != TABULAR):
        raise corrupt(source, f"it records the path {relpath[:80]!r}")
    for part in parts:
        stored(source, check_filename, part)


def _record(dataset: DatasetView) -> dict[str, Any] | None:
    """The checked ``pulled.json`` of the working copy, or None when nothing was pulled."""
    path = _folder(dataset) / META / "pulled.json"
    if not path.is_file():
        return None
    source = f"the working copy's record {str(path)!r} (pull(forced=True) starts over)"
    with _local("reading the working copy", path):
        body = load_json(path.read_bytes(), source)
    version_id = stored_field(body, "version_id", str, source, optional=True)
    if version_id is not None:
        stored(source, check_digest, version_id)
    if stored_field(body, "format", str, source) not in FORMATS:
        raise corrupt(source, f"its format is not one of {FORMATS}")
    for relpath, entry in stored_field(body, "files", dict, source).items():
        if not isinstance(entry, dict):
            raise corrupt(source, f"the entry of {relpath[:60]!r} is not a JSON object")
        kind = stored_field(entry, "kind", str, source)
        if kind not in (TABLE, ARTIFACT):
            raise corrupt(source, f"the kind of {relpath[:60]!r} is {kind[:40]!r}")
        _check_relpath(relpath, source)
        stored(source, check_filename, stored_field(entry, "source", str, source), kind)
        stored(source, check_digest, stored_field(entry, "sha256", str, source))
        part = stored_field(entry, "part", int, source, optional=True)
        if part is not None and part < 0:
            raise corrupt(source, f"the part of {relpath[:60]!r} is negative")
    return body


def is_pulled(dataset: DatasetView) -> bool:
    """True when the working directory holds a pulled copy of `dataset`."""
    return _record(dataset) is not None


def _local_files(folder: Path) -> dict[str, Path]:
    """Every file of the working copy by its relative path (``/``-separated), except the
    generated README.md and dataset_config.yaml and the metadata folder."""
    if not folder.is_dir():
        return {}
    found: dict[str, Path] = {}
    for path in sorted(folder.rglob("*")):
        relpath = path.relative_to(folder).as_posix()
        if relpath == META or relpath.startswith(META + "/") or relpath in _GENERATED:
            continue
        if path.is_file():
            found[relpath] = path
    return found


def get_diff(dataset: DatasetView) -> dict[str, list[str]]:
    """Local changes against the pulled version: ``{new_files, modified_files, deleted_files}``."""
    record = _record(dataset)
    if record is None:
        raise NotFoundError(f"dataset {dataset.name!r} is not pulled into "
                            f"{str(_folder(dataset))!r}; call pull() first")
    known: dict[str, Any] = record["files"]
    folder = _folder(dataset)
    with _local("comparing the working copy", folder):
        local = _local_files(folder)
        return {
            "new_files": sorted(n for n in local if n not in known),
            "modified_files": sorted(n for n, p in local.items()
                                     if n in known and _digest(p) != known[n]["sha256"]),
            "deleted_files": sorted(n for n in known if n not in local),
        }


def _has_changes(diff: dict[str, list[str]]) -> bool:
    return any(diff.values())


def _write_table(table: pa.Table, target: Path, fmt: str) -> None:
    if fmt == "csv":
        _tables.write_csv(table, target)
    else:
        pq.write_table(table, target, compression="zstd")


def _part_names(entry: FileEntry, fmt: str) -> list[str]:
    """Local names of a table's parts: by the version number that added each."""
    names: list[str] = []
    for index, part in enumerate(entry.parts):
        base = f"v{part.added_in:04d}" if part.added_in else f"part{index + 1:04d}"
        name, k = base, 1
        while f"{name}.{fmt}" in names:
            k += 1
            name = f"{base}-{k}"
        names.append(f"{name}.{fmt}")
    return names


def _layout(manifest: Manifest, fmt: str) -> dict[str, tuple[str, str, int | None]]:
    """relative path -> (stored name, kind, part index or None for a whole table)."""
    paths: dict[str, tuple[str, str, int | None]] = {}
    for name, entry in sorted(manifest.files.items()):
        if entry.kind == ARTIFACT:
            paths[f"{ARTIFACTS}/{name}"] = (name, ARTIFACT, None)
        elif len(entry.parts) <= 1:
            paths[f"{TABULAR}/{name}.{fmt}"] = (name, TABLE, None)
        else:
            for index, local in enumerate(_part_names(entry, fmt)):
                paths[f"{TABULAR}/{name}/{local}"] = (name, TABLE, index)
    return paths


def _materialise(dataset: DatasetView, version_id: str, folder: Path, fmt: str) -> dict[str, Any]:
    """Write every file of a version into `folder`; their names were checked on reading."""
    manifest = dataset.manifest(version_id)
    files: dict[str, Any] = {}
    for relpath, (name, kind, index) in _layout(manifest, fmt).items():
        local = folder / relpath
        if folder not in local.parents:  # never outside the folder
            raise IntegrityError(f"dataset {dataset.name!r} version {version_id}: file "
                                 f"{name!r} cannot be written as {relpath!r}")
        local.parent.mkdir(parents=True, exist_ok=True)
        entry = manifest.files[name]
        if kind == ARTIFACT:
            local.write_bytes(dataset.read_artifact(name, version_id))
        elif index is None:
            _write_table(dataset.read_arrow(version_id, name), local, fmt)
        else:
            one = FileEntry(TABLE, (entry.parts[index],), entry.schema)
            _write_table(dataset._read_table(version_id, name, one, True), local, fmt)
        files[relpath] = {"source": name, "kind": kind, "sha256": _digest(local), "part": index}
    (folder / README).write_text(_readme(dataset, version_id, manifest, files))
    (folder / CONFIG).write_text(_config(manifest, fmt))
    return files


_GANTRY_TYPES = (("bool", "Boolean"), ("int", "Integer"), ("uint", "Integer"),
                 ("float", "Float"), ("double", "Float"), ("decimal", "Float"),
                 ("timestamp", "Datetime"), ("date", "Datetime"), ("string", "Text"),
                 ("large_string", "Text"))


def _gantry_type(arrow_type: str) -> str:
    for prefix, name in _GANTRY_TYPES:
        if arrow_type.startswith(prefix):
            return name
    return "Json" if arrow_type.startswith(_NESTED) else "Text"


def _config(manifest: Manifest, fmt: str) -> str:
    """Gantry's dataset_config.yaml (JSON strings are valid YAML scalars)."""
    features: dict[str, str] = {}
    labels: dict[str, str] = {}
    for entry in manifest.files.values():
        for column, arrow_type in entry.schema:
            target = labels if column.startswith("feedback.") else features
            target.setdefault(column, _gantry_type(arrow_type))
    lines = [f"dataset_info: {README}", "tabular_files:", f"  file_type: {fmt}",
             f"  folder: {TABULAR}", "artifacts:", f"  folder: {ARTIFACTS}"]
    for key, columns in (("features", features), ("labels", labels)):
        lines.append(f"{key}:" + ("" if columns else " {}"))
        lines.extend(f"  {json.dumps(c, ensure_ascii=False)}: {t}" for c, t in columns.items())
    return "\n".join(lines) + "\n"


def _readme(dataset: DatasetView, version_id: str, manifest: Manifest,
            files: dict[str, Any]) -> str:
    """What was pulled: the version, its files, and which version number is which id."""
    numbers = {vid: seq for seq, vid in dataset._log()}
    lines = [f"# {dataset.name}", "", f"Version {version_id} (version number "
             f"{numbers.get(version_id, '?')}), created {manifest.created_at}: "
             f"{manifest.message}", ""]
    labelled = manifest.labelled_rows
    if labelled is not None:
        lines += [f"Rows with feedback: {labelled:,} of {sum(manifest.rows.values()):,}.", ""]
    lines += ["| file | kind | rows |", "| --- | --- | --- |"]
    for relpath, info in files.items():
        entry = manifest.files[info["source"]]
        rows = entry.parts[info["part"]].rows if info["part"] is not None else entry.rows
        lines.append(f"| {relpath} | {info['kind']} | {rows if info['kind'] == TABLE else ''} |")
    added = sorted({p.added_in for e in manifest.files.values() for p in e.parts if p.added_in})
    by_number = {seq: vid for vid, seq in numbers.items()}
    if added:
        lines += ["", "Version numbers (tabular_manifests/<table>/vNNNN.csv holds the rows "
                  "version NNNN added):", ""]
        lines += [f"- v{n:04d}: {by_number.get(n, 'not in the commit log')}" for n in added]
    return "\n".join(lines) + "\n"


def check_clean(dataset: DatasetView) -> None:
    """Refuse to overwrite a working copy with local changes (`ConflictError`)."""
    folder = _folder(dataset)
    if _record(dataset) is not None:
        diff = get_diff(dataset)
        if _has_changes(diff):
            raise ConflictError(f"{str(folder)!r} has local changes {diff}; push_version() them, "
                                "stash() them, or pass forced=True to discard them")
    elif folder.is_dir() and _local_files(folder):
        raise ConflictError(f"{str(folder)!r} holds files gantry-local did not pull; move them "
                            "or pass forced=True")


def pull(dataset: DatasetView, version_id: str | None = None, forced: bool = False,
         format: str = "csv") -> dict[str, Any] | None:
    """Materialise a version (default: the latest) under ``<working dir>/<dataset>/``.

    The version is written beside the working copy first and moved in only once complete,
    so a failed pull leaves the working copy as it was. Returns the version's details.

    Raises:
        ConflictError: the folder has local changes and `forced` is False.
    """
    check_version_ref(version_id)
    check_flag(forced, "forced")
    if format not in FORMATS:
        raise ValidationError(f"format must be one of {FORMATS}, got {format!r}")
    if version_id is None and dataset._head()[1] is None:
        _pull_empty(dataset, forced, format)
        return None
    full = dataset.resolve(version_id)
    folder = _folder(dataset)
    if not forced:
        check_clean(dataset)
    manifest = dataset.manifest(full)  # checked before anything is written
    with _local("pulling", folder):
        created = not folder.exists()
        incoming = folder / META / "incoming"
        shutil.rmtree(incoming, ignore_errors=True)
        incoming.mkdir(parents=True)
        try:
            files = _materialise(dataset, full, incoming, format)
            for path in _local_files(folder).values():
                path.unlink()
            for sub in (TABULAR, ARTIFACTS):
                shutil.rmtree(folder / sub, ignore_errors=True)
            for name in [*files, README, CONFIG]:
                (folder / name).parent.mkdir(parents=True, exist_ok=True)
                (incoming / name).replace(folder / name)
            for sub in (TABULAR, ARTIFACTS):
                (folder / sub).mkdir(exist_ok=True)
        except BaseException:
            shutil.rmtree(folder if created else incoming, ignore_errors=True)
            raise
        shutil.rmtree(incoming, ignore_errors=True)
        _write_record(folder, {"version_id": full, "format": format, "files": files})
    info = dataset._version_info(full, manifest)
    info["is_latest_version"] = full == dataset.resolve(None)
    return info


def _pull_empty(dataset: DatasetView, forced: bool, format: str) -> None:
    """A dataset with no version yet: empty folders, a README and a config to start from."""
    if not forced:
        check_clean(dataset)
    folder = _folder(dataset)
    with _local("pulling", folder):
        for path in _local_files(folder).values():
            path.unlink()
        for sub in (TABULAR, ARTIFACTS):
            shutil.rmtree(folder / sub, ignore_errors=True)
        for sub in (TABULAR, ARTIFACTS, META):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        empty = Manifest(dataset.name, None, {}, "no version yet", "")
        (folder / README).write_text(f"# {dataset.name}\n\nNo version yet: add files under "
                                     f"{TABULAR}/ and {ARTIFACTS}/, then push_version().\n")
        (folder / CONFIG).write_text(_config(empty, format))
        _write_record(folder, {"version_id": None, "format": format, "files": {}})


def _write_record(folder: Path, record: dict[str, Any]) -> None:
    temp = folder / META / "pulled.json.tmp"
    try:
        temp.write_text(json.dumps(record, indent=2, sort_keys=True))
        temp.replace(folder / META / "pulled.json")
    finally:
        with suppress(OSError):
            temp.unlink(missing_ok=True)


def _base_schema(dataset: DatasetView, entry: FileEntry | None) -> pa.Schema | None:
    """The Arrow schema of a stored table (from its first part's footer)."""
    if entry is None or entry.kind != TABLE or not entry.parts:
        return None
    data = dataset.store.read_object(entry.parts[0].object, f"dataset {dataset.name!r}")
    return pq.read_schema(pa.BufferReader(data))


def _target(relpath: str) -> tuple[str, str]:
    """(stored name, kind) a local file becomes when pushed."""
    parts = relpath.split("/")
    if len(parts) == 2 and parts[0] == ARTIFACTS:
        return check_filename(parts[1], ARTIFACT), ARTIFACT
    if parts[0] == TABULAR and len(parts) in (2, 3):
        if Path(parts[-1]).suffix.lower() not in _tables.SUPPORTED_TABLE_SUFFIXES:
            raise ValidationError(f"{relpath!r}: files under {TABULAR}/ must be tables "
                                  f"({', '.join(_tables.SUPPORTED_TABLE_SUFFIXES)}); put other "
                                  f"files under {ARTIFACTS}/")
        return check_filename(parts[1] if len(parts) == 3 else Path(parts[1]).stem), TABLE
    if len(parts) == 1:
        is_table = Path(relpath).suffix.lower() in _tables.SUPPORTED_TABLE_SUFFIXES
        return (check_filename(Path(relpath).stem), TABLE) if is_table else \
            (check_filename(relpath, ARTIFACT), ARTIFACT)
    raise ValidationError(f"{relpath!r} is not a place the working copy can push: tables go "
                          f"in {TABULAR}/ (a file, or a folder of parts), other files in "
                          f"{ARTIFACTS}/")


def _plan(folder: Path, record: dict[str, Any]) -> dict[str, tuple[str, list[str]]]:
    """stored name -> (kind, the local files that make it, sorted), every name checked."""
    plan: dict[str, tuple[str, list[str]]] = {}
    layouts: dict[str, set[str]] = {}
    for relpath in _local_files(folder):
        name, kind = _target(relpath)
        layout = relpath.rsplit("/", 1)[0] if relpath.count("/") == 2 else relpath
        layouts.setdefault(name, set()).add(layout)
        if name in plan and plan[name][0] != kind:
            raise ValidationError(f"{name!r} would be both a table and an artifact; rename one")
        plan.setdefault(name, (kind, []))[1].append(relpath)
    clashes = sorted(n for n, places in layouts.items() if len(places) > 1)
    if clashes:
        raise ValidationError(f"several local files or folders would become {clashes} (e.g. "
                              "'x.csv' and 'x.parquet', or a file and a folder); keep one")
    return {name: (kind, sorted(paths)) for name, (kind, paths) in plan.items()}


def _read_local_table(path: Path, base: pa.Schema | None, mixed: bool) -> pa.Table:
    """A local table file, its list/struct columns typed as stored; when it joins other
    parts of its table, the columns they have are cast to their types (missing ones are
    null, new ones kept after them: the table's schema becomes the union)."""
    types = {f.name: f.type for f in base if _tables.is_nested(f.type)} if base else {}
    table = _tables.file_to_table(path, types)
    assert table is not None
    if not mixed or base is None:
        return table
    names = table.column_names
    try:
        known = [table.column(f.name).cast(f.type) if f.name in names
                 else pa.nulls(table.num_rows, f.type) for f in base]
    except (pa.ArrowException, ValueError) as exc:
        raise ValidationError(f"{str(path)!r} must hold values of the types of the other "
                              f"parts of its table ({base}): {exc}") from exc
    extra = [f for f in table.schema if f.name not in base.names]
    return pa.Table.from_arrays([*known, *(table.column(f.name) for f in extra)],
                                schema=pa.schema([*base, *extra]))


def _table_from_files(dataset: DatasetView, name: str, paths: list[str], folder: Path,
                      record: dict[str, Any], base: FileEntry | None,
                      modified: set[str]) -> FileEntry:
    """A table entry from its local files: unchanged parts keep their stored objects unless
    a new column makes them rewritten once at the union schema."""
    known = record["files"]
    kept = {p: known[p].get("part") for p in paths if p in known and p not in modified
            and known[p]["source"] == name and base is not None}
    schema = _base_schema(dataset, base) if base is not None else None
    mixed = bool(kept) or len(paths) > 1
    pieces: list[Part | tuple[pa.Table, int | None]] = []
    first: pa.Schema | None = schema if kept else None
    for relpath in paths:
        index = kept.get(relpath, -1)
        if base is not None and relpath in kept and index is None and len(paths) == 1:
            return base  # the whole table, unchanged
        if base is not None and index is not None and index >= 0 and index < len(base.parts):
            pieces.append(base.parts[index])
            continue
        table = _read_local_table(folder / relpath, first or schema, mixed and first is not None)
        first = _widen.union_schema(name, first, table.schema) if first else table.schema
        was = known.get(relpath, {}).get("part") if relpath in known else None
        added = base.parts[was].added_in if base is not None and was is not None and \
            was < len(base.parts) and known[relpath]["source"] == name else None
        pieces.append((table, added or None))  # an edited part keeps its version's name
    return _union_entry(dataset, record["version_id"], name, pieces, first, base)


def _union_entry(dataset: DatasetView, pulled: str, name: str,
                 pieces: list[Part | tuple[pa.Table, int | None]], schema: pa.Schema | None,
                 base: FileEntry | None) -> FileEntry:
    """The table of kept parts and local tables at `schema`; kept parts are rewritten only
    when it differs from the stored one. Everything is converted before anything is written."""
    if schema is None:
        return FileEntry(TABLE, tuple(p for p in pieces if isinstance(p, Part)), ())
    stored = _tables.schema_of(schema.empty_table())
    converted: list[Part | tuple[pa.Table, int | None]] = []
    for piece in pieces:
        if isinstance(piece, Part):
            if base is None or base.schema == stored:
                converted.append(piece)
                continue
            one = FileEntry(TABLE, (piece,), base.schema)
            piece = (dataset._read_table(pulled, name, one, True), piece.added_in)
        converted.append((_widen.conform(piece[0], schema, repr(name)), piece[1]))
    parts: list[Part] = []
    for piece in converted:
        if isinstance(piece, Part):
            parts.append(piece)
            continue
        new = dataset._table_entry(piece[0]).parts[0]
        parts.append(Part(new.object, new.rows, new.bytes, piece[1], new.labelled))
    return FileEntry(TABLE, tuple(parts), stored)


def push_version(dataset: DatasetView, message: str) -> dict[str, Any]:
    """Push the working copy as a new version on top of the pulled one.

    Raises:
        ConflictError: the dataset moved on since the pull (Gantry's head-out-of-date).
        ValidationError: no message, or nothing changed.
    """
    if not isinstance(message, str) or not message.strip():
        raise ValidationError("push_version() needs a message saying what changed")
    check_message(message)
    record = _record(dataset)
    if record is None:
        raise NotFoundError(f"dataset {dataset.name!r} is not pulled; call pull() first")
    diff = get_diff(dataset)
    if not _has_changes(diff):
        raise ValidationError(f"nothing changed in {str(_folder(dataset))!r} since the pull")
    pulled = record["version_id"]
    if pulled is None and dataset._head()[1] is not None:
        raise ConflictError(f"dataset {dataset.name!r} has versions now, the working copy was "
                            "pulled empty; stash(), pull() and restore() your files")
    base = {} if pulled is None else dataset.manifest(pulled).files
    folder = _folder(dataset)
    modified = set(diff["modified_files"])
    with _local("reading the working copy", folder):
        plan = _plan(folder, record)
        for info in record["files"].values():
            if info["source"] not in base:
                raise corrupt(f"the working copy's record in {str(folder)!r}",
                              f"version {pulled[:12]} has no file {info['source']!r}")
        files: dict[str, FileEntry] = {}
        for name, (kind, paths) in plan.items():  # tables are read and checked first
            if kind == TABLE:
                files[name] = _table_from_files(dataset, name, paths, folder, record,
                                                base.get(name) if name in base and
                                                base[name].kind == TABLE else None, modified)
        for name, (kind, paths) in plan.items():
            if kind == ARTIFACT:
                relpath = paths[0]
                unchanged = relpath in record["files"] and relpath not in modified and \
                    record["files"][relpath]["source"] == name and name in base
                if unchanged:
                    files[name] = base[name]
                else:
                    data = _tables.read_file(folder / relpath)
                    files[name] = FileEntry(ARTIFACT, (Part(dataset.store.put_object(data), 0,
                                                            len(data)),))
    info = dataset._commit(lambda _: files, message, pulled)
    pull(dataset, info["version_id"], forced=True, format=record["format"])
    return info


def stash(dataset: DatasetView) -> list[str]:
    """Set local changes aside (one stash) and reset the folder to the pulled version."""
    record = _record(dataset)
    if record is None:
        raise NotFoundError(f"dataset {dataset.name!r} is not pulled; call pull() first")
    folder = _folder(dataset)
    stash_dir = folder / META / "stash"
    if stash_dir.exists():
        raise ConflictError("a stash exists already; restore() it first")
    diff = get_diff(dataset)
    if not _has_changes(diff):
        return []
    with _local("stashing", folder):
        stash_dir.mkdir(parents=True)
        try:
            for relpath, path in _local_files(folder).items():
                (stash_dir / relpath).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, stash_dir / relpath)
        except OSError:
            shutil.rmtree(stash_dir, ignore_errors=True)
            raise
        (stash_dir.parent / "stash.json").write_text(json.dumps(diff))
    pull(dataset, record["version_id"], forced=True, format=record["format"])
    return sorted(set().union(*diff.values()))


def restore(dataset: DatasetView) -> list[str]:
    """Bring the stashed working copy back, replacing the folder's files."""
    folder = _folder(dataset)
    stash_dir = folder / META / "stash"
    if not stash_dir.is_dir():
        raise NotFoundError(f"no stash for dataset {dataset.name!r}")
    with _local("restoring the stash", folder):
        for path in _local_files(folder).values():
            path.unlink()
        restored = []
        for path in sorted(p for p in stash_dir.rglob("*") if p.is_file()):
            relpath = path.relative_to(stash_dir).as_posix()
            (folder / relpath).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, folder / relpath)
            restored.append(relpath)
        shutil.rmtree(stash_dir)
        (folder / META / "stash.json").unlink(missing_ok=True)
    return restored


def export(dataset: DatasetView, version_id: str | None, path: str | Path, format: str = "csv",
           filename: str | None = None) -> Path:
    """Write one table of a version to ``<path>/<dataset>-<short id>.<format>``."""
    check_version_ref(version_id)
    folder = check_path(path, "export folder")
    if format not in FORMATS:
        raise ValidationError(f"format must be one of {FORMATS}, got {format!r}")
    full = dataset.resolve(version_id)
    if not folder.is_dir():
        raise NotFoundError(f"export folder {str(folder)!r} does not exist")
    table = dataset.read_arrow(full, filename)
    target = folder / f"{dataset.name}-{full[:12]}.{format}"
    temp = target.with_suffix(target.suffix + ".tmp")
    with _local("exporting", folder):
        try:
            _write_table(table, temp, format)
            temp.replace(target)
        finally:
            with suppress(OSError):
                temp.unlink(missing_ok=True)
    return target
