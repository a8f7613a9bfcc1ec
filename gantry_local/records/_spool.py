"""The spool: Parquet segments that producer processes write instead of the database.

A producer (a model-server worker) never opens the DuckDB file: its flush thread hands
each write to `SpoolSink`, which puts one Parquet segment per (application, table, day)
on any fsspec URL. The layout is Hive-style, so any engine reads it directly::

    <spool>/pending/records/application=<app>/date=<YYYY-MM-DD>/<writer>-<seq>.parquet
    <spool>/pending/feedback/application=<app>/date=<YYYY-MM-DD>/<writer>-<seq>.parquet
    <spool>/ingested/...      (the same, once the owner ingested it; removed after retention)
    <spool>/quarantine/...    (segments that cannot be ingested; see the ledger's error)

A segment appears whole or not at all: on a local disk it is written to a temp file and
renamed; on S3 (or any object store) it is one PUT. `<writer>` names the process (host,
pid and a random suffix unless given) and `<seq>` counts its segments, so two writers
never collide and a segment name is never reused.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import socket
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import fsspec
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .._config import recordable_url, scrub
from .._names import is_valid_text
from ..errors import StorageError, ValidationError
from ._batches import TableWrite

__all__ = [
    "SEGMENT_KEY", "Segment", "Spool", "SpoolReadError", "SpoolSink", "check_spool", "check_writer",
    "default_spool", "default_writer", "parse_segment",
]

SEGMENT_KEY = b"gantry_local.segment"  # Parquet key-value metadata naming a segment's origin
PENDING, INGESTED, QUARANTINE = "pending", "ingested", "quarantine"
# A temp file (``<segment>.<random>.tmp``) this old (by its modification time) is left by a
# producer killed mid-write: it is never renamed into a segment (a write takes seconds at
# most, and a producer whose temp file vanished only retries its write), so ingest removes it.
STALE_TEMP_SECONDS = 15 * 60.0
_WRITER_RE = re.compile(r"[A-Za-z0-9_.\-]{1,100}")
_SEGMENT_RE = re.compile(
    r"(?P<kind>records|feedback)/application=(?P<app>[A-Za-z0-9_.\-]{1,128})/"
    r"date=(?P<date>\d{4}-\d{2}-\d{2})/(?P<writer>[A-Za-z0-9_.\-]{1,160})-(?P<seq>\d{12})\.parquet")
# A write of several segments names each ``<prefix>.<i>of<n>-<seq>``: part i of n, seqs in a row
_PART_RE = re.compile(r"(?P<writer>.+)\.(?P<part>\d{1,6})of(?P<parts>\d{1,6})")
_DAY_US = 86_400_000_000


class SpoolReadError(StorageError):
    """A segment's bytes could not be fetched: the storage failed, not the segment."""


@dataclass(frozen=True)
class Segment:
    """One segment file, named by its path under the state folder (``records/application=...``)."""

    name: str
    kind: str
    app: str
    day: str
    writer: str
    seq: int
    part: int = 0  # part `part` of a write of `parts` segments (seqs seq - part ... in a row)
    parts: int = 1

    @property
    def write_group(self) -> tuple[str, int, int]:
        """(writer, first seq, parts) of the write this segment belongs to."""
        return self.writer, self.seq - self.part, self.parts


def parse_segment(name: str) -> Segment | None:
    """The segment `name` (relative to a state folder) names, or None when it is not one."""
    match = _SEGMENT_RE.fullmatch(name)
    if match is None:
        return None
    writer, part, parts = match["writer"], 0, 1
    grouped = _PART_RE.fullmatch(writer)
    if grouped is not None:
        part, parts = int(grouped["part"]), int(grouped["parts"])
        if not 0 <= part < parts or parts < 2 or int(match["seq"]) - part < 1:
            return None  # a part that cannot be: a foreign name
        writer = grouped["writer"]
    return Segment(name, match["kind"], match["app"], match["date"], writer, int(match["seq"]),
                   part, parts)


def default_writer() -> str:
    """A writer identity for this process: host, pid and a random suffix (unique per start)."""
    host = re.sub(r"[^A-Za-z0-9_.\-]", "_", socket.gethostname())[:60] or "host"
    return f"{host}-{os.getpid()}-{secrets.token_hex(3)}"


def check_writer(writer: object) -> str:
    """`writer` if it can name segments: 1 to 100 of ``[A-Za-z0-9_.-]``."""
    if not isinstance(writer, str) or not _WRITER_RE.fullmatch(writer):
        raise ValidationError(f"producer identity must be 1 to 100 letters, digits, '_', '.' or "
                              f"'-', got {writer!r}")
    return writer


def default_spool(db: object) -> str | None:
    """The spool beside a DuckDB file: ``<db name>-spool`` (None for an in-memory db)."""
    text = str(db)
    if text == ":memory:":
        return None
    path = Path(text).expanduser().resolve()
    return str(path.with_name(path.stem + "-spool"))


def check_spool(db: object, spool: object, options: object, retention: object
                ) -> tuple[str | None, dict[str, Any], timedelta | None]:
    """A workspace's spool arguments, checked: (URL or None, options, retention).

    Raises:
        ValidationError: naming the argument that is wrong.
    """
    if spool is not None and (not isinstance(spool, str) or not spool.strip()
                              or "\x00" in spool or not is_valid_text(spool)):
        raise ValidationError(f"spool must be a folder path or an fsspec URL, got {spool!r}")
    if options is not None and (not isinstance(options, Mapping)
                                or not all(isinstance(k, str) for k in options)):
        raise ValidationError("spool_options must be a dict of fsspec options (string keys)")
    if retention is not None and (not isinstance(retention, timedelta)
                                  or retention < timedelta(0)):
        raise ValidationError(f"spool_retention must be a timedelta of 0 or more (0 deletes "
                              f"segments once ingested) or None (keep them), got {retention!r}")
    url = spool if spool is not None else default_spool(db)
    return url, dict(options or {}), retention


class Spool:
    """A spool folder on any fsspec URL: segment paths, atomic writes, listing and moves.

    Args:
        url: a folder path or fsspec URL (``s3://bucket/spool``).
        options: fsspec options (``endpoint_url``, ``key`` ...); credentials may come from the
            environment or a profile instead, as s3fs reads them.
    """

    def __init__(self, url: str, options: Mapping[str, Any] | None = None) -> None:
        if not isinstance(url, str) or not url.strip() or "\x00" in url:
            raise ValidationError(f"spool must be a folder path or an fsspec URL, got {url!r}")
        self.url = url
        self.shown = recordable_url(url)[0]  # the URL without a login or tokens, for messages
        self.options = dict(options or {})
        try:
            self.fs, root = fsspec.core.url_to_fs(url, **self.options)
        except (ImportError, ValueError, TypeError) as exc:
            raise ValidationError(f"spool {self.shown!r} cannot be opened: "
                                  f"{self.scrub(str(exc))}") from exc
        self.root = root.rstrip("/")
        self.local = "file" in _protocols(self.fs)
        self.remote = not self.local and "memory" not in _protocols(self.fs)

    def __repr__(self) -> str:
        return f"Spool({self.shown!r})"

    def scrub(self, text: str) -> str:
        """`text` without the credentials the spool URL carries (for messages)."""
        return scrub(text, self.url)

    def probe(self) -> None:
        """Fail fast when the spool cannot be reached (one try, no retries).

        Raises:
            StorageError: naming the spool URL and the cause.
        """
        try:
            if self.local:
                os.makedirs(self.root, exist_ok=True)
                if not os.access(self.root, os.W_OK):
                    raise PermissionError(f"{self.root} is not writable")
            elif self.remote and hasattr(self.fs, "call_s3"):
                _probe_s3(self.url, self.options)
            else:
                self.fs.ls(self.root.split("/", 1)[0] if self.remote else "/", detail=False)
        except StorageError:
            raise
        except Exception as exc:
            raise StorageError(f"spool {self.shown!r} is unreachable: {type(exc).__name__}: "
                               f"{self.scrub(str(exc))}. "
                               "Check the URL, the endpoint and the credentials.") from exc

    def exists(self) -> bool:
        """True when the spool has a pending folder (cheap on a local disk)."""
        if self.local:
            return os.path.isdir(self.path(PENDING))
        return True

    def path(self, state: str, name: str = "") -> str:
        return f"{self.root}/{state}/{name}" if name else f"{self.root}/{state}"

    def write_segment(self, name: str, data: bytes) -> None:
        """Make `data` visible as pending segment `name` at once (rename or one PUT)."""
        final = self.path(PENDING, name)
        if self.local:
            folder = os.path.dirname(final)
            os.makedirs(folder, exist_ok=True)
            temp = f"{final}.{secrets.token_hex(4)}.tmp"
            try:
                with open(temp, "wb") as handle:
                    handle.write(data)
                os.replace(temp, final)
            except BaseException:
                _remove_quietly(temp)
                raise
        else:
            self.fs.pipe_file(final, data)

    def remove(self, state: str, name: str) -> None:
        """Delete a segment (missing is fine)."""
        path = self.path(state, name)
        if self.local:
            _remove_quietly(path)
            return
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm_file(path)

    def move(self, name: str, source: str, target: str) -> None:
        """Move segment `name` between state folders (missing at the source is fine)."""
        old, new = self.path(source, name), self.path(target, name)
        if self.local:
            os.makedirs(os.path.dirname(new), exist_ok=True)
            with contextlib.suppress(FileNotFoundError):
                os.replace(old, new)
            return
        with contextlib.suppress(FileNotFoundError):
            self.fs.mv(old, new)

    def segments(self, state: str = PENDING) -> list[Segment]:
        """The segments in a state folder (temp files and foreign names left out), oldest
        writer sequence first."""
        base = self.path(state)
        try:
            paths = self._find(base)
        except FileNotFoundError:
            return []
        segments = []
        for path in paths:
            relative = path[len(base) + 1:] if path.startswith(base + "/") else path
            segment = parse_segment(relative)
            if segment is not None:
                segments.append(segment)
        segments.sort(key=lambda s: (s.day, s.writer, s.seq, s.kind != "records", s.name))
        return segments

    def strays(self, state: str = PENDING) -> list[str]:
        """Files in a state folder that are not segments (nor temp files): foreign names."""
        base = self.path(state)
        try:
            paths = self._find(base)
        except FileNotFoundError:
            return []
        return sorted(p[len(base) + 1:] for p in paths
                      if not p.endswith(".tmp") and parse_segment(p[len(base) + 1:]) is None)

    def stale_temps(self, state: str = PENDING, older_than: float | None = None) -> list[str]:
        """Temp files (``*.tmp``) in a state folder last modified more than `older_than`
        seconds ago (`STALE_TEMP_SECONDS` by default), by the wall clock of file times."""
        age = STALE_TEMP_SECONDS if older_than is None else older_than
        base = self.path(state)
        try:
            paths = [p for p in self._find(base) if p.endswith(".tmp")]
        except FileNotFoundError:
            return []
        cutoff = time.time() - age
        stale = []
        for path in paths:
            try:
                modified = os.stat(path).st_mtime if self.local else _mtime(self.fs.info(path))
            except FileNotFoundError:  # renamed into its segment meanwhile
                continue
            if modified is not None and modified <= cutoff:
                stale.append(path[len(base) + 1:])
        return sorted(stale)

    def age(self, state: str, name: str) -> float | None:
        """Seconds since a file of a state folder was last modified (None: unknown or gone)."""
        path = self.path(state, name)
        try:
            modified = os.stat(path).st_mtime if self.local else _mtime(self.fs.info(path))
        except FileNotFoundError:
            return None
        return None if modified is None else time.time() - modified

    def read(self, segment: Segment) -> pa.Table:
        """The rows of a pending segment.

        Raises:
            SpoolReadError: fetching its bytes failed (the spool, not the segment: retry).
            FileNotFoundError: it is gone.
            Exception: its bytes are not a Parquet file (truncated, corrupt).
        """
        data = self.fetch(segment)
        return pq.read_table(pa.BufferReader(data))

    def fetch(self, segment: Segment) -> bytes:
        """The bytes of a pending segment.

        Raises:
            SpoolReadError: the storage failed (an I/O error, a timeout, an S3 error).
            FileNotFoundError: it is gone.
        """
        path = self.path(PENDING, segment.name)
        try:
            if self.local:
                with open(path, "rb") as handle:
                    return handle.read()
            with self.fs.open(path, "rb") as handle:
                return bytes(handle.read())
        except FileNotFoundError:
            raise
        except Exception as exc:
            raise SpoolReadError(f"reading segment {segment.name!r} from spool {self.shown!r} "
                                 f"failed: {type(exc).__name__}: {self.scrub(str(exc))}") from exc

    def _find(self, base: str) -> list[str]:
        if self.local:
            if not os.path.isdir(base):
                raise FileNotFoundError(base)
            found: list[str] = []
            for folder, _, files in os.walk(base):
                found.extend(f"{folder}/{f}" for f in files)
            return found
        return [p.rstrip("/") for p in self.fs.find(base)]


class SpoolSink:
    """The producer's sink: each write becomes segments, one per (application, table, day).

    A write is all or nothing: if one segment of it fails, those written before it are
    removed again and the error is raised, so the buffer keeps every record and retries.
    """

    def __init__(self, spool: Spool, writer: str | None = None) -> None:
        self.spool = spool
        self.writer = check_writer(writer) if writer is not None else default_writer()
        # Names carry the start time too: a producer_id reused after a restart (or shared by
        # workers) must never make a name that was already written, or already ingested.
        self._prefix = f"{self.writer}.{time.time_ns() // 1000:014x}{secrets.token_hex(2)}"
        self._seq = 0
        self._lock = threading.Lock()
        self.segments_written = 0

    def write(self, writes: Sequence[TableWrite]) -> None:
        written: list[str] = []
        with self._lock:
            try:
                parts = [(write, day, table) for write in writes
                         for day, table in _by_day(write.table)]
                names = self._next_names([(w.kind, w.app, day) for w, day, _ in parts])
                for (write, _, table), name in zip(parts, names, strict=True):
                    self.spool.write_segment(name, encode(write, table, self.writer))
                    written.append(name)
            except BaseException as exc:
                for name in written:
                    with contextlib.suppress(Exception):
                        self.spool.remove(PENDING, name)
                if isinstance(exc, Exception) and not isinstance(exc, OSError):
                    raise StorageError(f"writing a segment to spool {self.spool.shown!r} failed: "
                                       f"{type(exc).__name__}: {self.spool.scrub(str(exc))}"
                                       ) from exc
                raise
            self.segments_written += len(written)

    def close(self) -> None:
        """Nothing to release: every segment is complete once written."""

    def _next_names(self, keys: list[tuple[str, str, str]]) -> list[str]:
        """Names for the segments of one write. Several are marked part i of n: the owner
        ingests none of them until all are there, so the parts left behind by a write that
        failed half-way (and could not be removed) never double the records retried."""
        names = []
        for index, (kind, app, day) in enumerate(keys):
            self._seq += 1
            writer = self._prefix if len(keys) == 1 else f"{self._prefix}.{index}of{len(keys)}"
            names.append(f"{kind}/application={app}/date={day}/{writer}-{self._seq:012d}.parquet")
        return names


def encode(write: TableWrite, table: pa.Table, writer: str) -> bytes:
    """A segment's bytes: the Arrow rows plus metadata naming its origin and logical types."""
    meta = {"application": write.app, "kind": write.kind, "writer": writer,
            "columns": {name: write.columns.get(name) for name in table.column_names
                        if name in write.columns}, "format": 1}
    schema = table.schema.with_metadata({SEGMENT_KEY: json.dumps(meta).encode()})
    sink = pa.BufferOutputStream()
    pq.write_table(table.replace_schema_metadata(schema.metadata), sink, compression="zstd")
    return bytes(sink.getvalue())


def _by_day(table: pa.Table) -> list[tuple[str, pa.Table]]:
    """`table` split by the UTC day of ``__time`` (usually one part)."""
    if table.num_rows == 0:
        return []
    days: Any = pc.cast(pc.cast(table.column("__time"), pa.date32()), pa.int32())
    if days.null_count:
        days = pc.fill_null(days, pa.scalar(0, pa.int32()))
    low, high = pc.min_max(days).values()
    if low.as_py() == high.as_py():
        return [(_day(int(low.as_py() or 0)), table)]
    parts = []
    for day in pc.unique(days).to_pylist():
        parts.append((_day(int(day)), table.filter(pc.equal(days, pa.scalar(day, pa.int32())))))
    return sorted(parts, key=lambda p: p[0])


def _day(days: int) -> str:
    return datetime.fromtimestamp(days * 86_400, tz=timezone.utc).strftime("%Y-%m-%d")


def _protocols(fs: Any) -> tuple[str, ...]:
    protocol = fs.protocol
    return (protocol,) if isinstance(protocol, str) else tuple(protocol)


def _probe_s3(url: str, options: Mapping[str, Any]) -> None:
    """One HEAD of the bucket with a single attempt and short timeouts."""
    config = {**dict(options.get("config_kwargs") or {}), "retries": {"max_attempts": 1},
              "connect_timeout": 3, "read_timeout": 5}
    fs, path = fsspec.core.url_to_fs(url, **{**options, "config_kwargs": config,
                                             "skip_instance_cache": True})
    fs.retries = 1
    fs.call_s3("head_bucket", Bucket=path.split("/", 1)[0])


def _mtime(info: Mapping[str, Any]) -> float | None:
    """A file's modification time (epoch seconds) from an fsspec `info` dict, if it says."""
    for key in ("mtime", "LastModified", "last_modified", "modified", "updated", "created"):
        value = info.get(key)
        if isinstance(value, datetime):
            return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).timestamp()
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    return None


def _remove_quietly(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.remove(path)
