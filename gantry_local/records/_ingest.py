"""Exactly-once ingest of spooled segments into the application tables.

The process that owns the DuckDB file ingests pending segments in batches: the rows of
every segment of a batch and one ledger row naming each segment (``_gl_spool_segments``)
are committed in ONE transaction, through the same sink (and so the same schema rules:
new fields add columns, ints widen to floats, a clash is refused) as direct logging.
A segment is moved out of ``pending/`` only after that commit; one found in the ledger is
never ingested again, so a SIGKILL at any moment neither loses nor duplicates a row.

A segment that cannot be ingested (truncated, corrupt, a foreign schema, a type clash)
is quarantined: a ledger row with the error, the file moved to ``quarantine/``, an ERROR
in the ``gantry_local`` log; the segments after it are ingested as usual.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from .._db import run
from ..errors import (
    AlreadyExistsError,
    GantryLocalError,
    NotFoundError,
    StorageError,
    ValidationError,
)
from . import _spool
from . import _types as types
from ._batches import TableWrite, merge_writes
from ._isolation import describe, is_environmental
from ._schema import FEEDBACK, RECORDS, AppSchema
from ._spool import (
    INGESTED,
    PENDING,
    QUARANTINE,
    SEGMENT_KEY,
    Segment,
    Spool,
    SpoolReadError,
)

__all__ = ["IngestResult", "Ingester", "Progress"]

_log = logging.getLogger("gantry_local")

Progress = Callable[[int, int, int], None]  # (segments done, segments pending, rows ingested)

_META = {
    RECORDS: {"__time": pa.timestamp("us", tz="UTC"), "__join_key": pa.string(),
              "__version": pa.string()},
    FEEDBACK: {"__time": pa.timestamp("us", tz="UTC"), "__join_key": pa.string()},
}
_SECTIONS = {RECORDS: ("inputs.", "outputs.", "tags."), FEEDBACK: ("feedback.",)}
# A batch is one transaction; the next batch's segments are read while one is inserted (both
# release the GIL), so batches are kept moderate to overlap the two.
_BATCH_ROWS = 250_000
_BATCH_SEGMENTS = 1_000
_READ_AHEAD = 16  # segments read ahead of the one being decoded


class AppLookup(Protocol):
    def __call__(self, name: str) -> Any: ...  # an AppState: `.name`, `.schema`


class TableSink(Protocol):
    def write(self, writes: Sequence[TableWrite],
              also: Callable[[duckdb.DuckDBPyConnection], None] | None = None) -> None: ...


@dataclass
class IngestResult:
    """What one ingest did.

    Attributes:
        segments: segments ingested.
        rows: rows ingested (records and feedback).
        quarantined: (segment, error) of each segment set aside.
        late_rows: ingested records whose time falls in an interval already curated (counted
            in the ledger, never re-curated).
        removed: ingested segments deleted after their retention.
        deferred: (segment, error) of each segment whose read failed in the storage (an I/O
            error, a timeout, an S3 error): it stays pending and is tried again next time.
        temps_removed: temp files left in ``pending/`` by producers killed mid-write,
            deleted once older than `STALE_TEMP_SECONDS` (they can never become segments).
    """

    segments: int = 0
    rows: int = 0
    quarantined: list[tuple[str, str]] = field(default_factory=list)
    late_rows: int = 0
    removed: int = 0
    temps_removed: int = 0
    deferred: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class _Decoded:
    segment: Segment
    write: TableWrite
    late: int = 0
    live: AppSchema | None = None  # the application's schema, given the columns once committed


class Ingester:
    """Ingests a spool into the database of the process that owns it.

    Args:
        con: a connection of the owning process (ledger reads).
        sink: the workspace's DuckDB sink (its `write` runs `also` in the same transaction).
        spool: the spool to read.
        app_state: the live state of an application by name, created when missing.
        now: the workspace clock.
        retention: how long ingested segments stay in ``ingested/`` (None: forever).
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, sink: TableSink, spool: Spool,
                 app_state: AppLookup, now: Callable[[], datetime],
                 retention: timedelta | None = timedelta(days=1)) -> None:
        self._con = con
        self._sink = sink
        self.spool = spool
        self._app_state = app_state
        self._now = now
        self.retention = retention
        self._lock = threading.Lock()

    def run(self, progress: Progress | None = None) -> IngestResult:
        """Ingest every pending segment; see the module docstring.

        Raises:
            StorageError: the spool or the database failed (what was committed stays; the
                rest is ingested by the next call).
        """
        with self._lock:
            try:
                return self._run(progress)
            except (GantryLocalError, KeyboardInterrupt):
                raise
            except Exception as exc:  # the ledger's statements, the spool's calls: one boundary
                raise StorageError(f"ingesting spool {self.spool.shown!r} failed: "
                                   f"{type(exc).__name__}: {self.spool.scrub(describe(exc))}; "
                                   "what was committed stays, the rest is ingested next time"
                                   ) from exc

    def _run(self, progress: Progress | None) -> IngestResult:
        result = IngestResult()
        try:
            pending = self.spool.segments(PENDING)
        except Exception as exc:
            raise StorageError(f"listing spool {self.spool.shown!r} failed: "
                               f"{self.spool.scrub(str(exc))}") from exc
        pending = self._settle_known(pending)
        pending = self._whole_writes(pending, result)
        try:
            strays = self.spool.strays(PENDING)
        except Exception as exc:
            raise StorageError(f"listing spool {self.spool.shown!r} failed: "
                               f"{self.spool.scrub(str(exc))}") from exc
        for stray in strays:
            self._quarantine_stray(stray, result)
        result.temps_removed = self._remove_stale_temps()
        self._curated: dict[str, Any] = {}
        self._staged: dict[str, AppSchema] = {}  # app -> its schema plus this batch's columns
        batch: list[_Decoded] = []
        rows = 0
        if progress is not None and pending:  # a bar shows from the start, not the 1st batch
            progress(0, len(pending), 0)
        for done, (segment, read) in enumerate(self._read_ahead(pending), 1):
            try:
                batch.append(self._decode(segment, read))
                rows += batch[-1].write.table.num_rows
            except _Refused as exc:
                if not self._in_ledger_now([segment]):  # else another ingester took it
                    self._quarantine(segment, str(exc), result)
            except _Deferred as exc:
                _log.warning("gantry-local ingest: segment %r stays pending (retried next "
                             "time): %s", segment.name, exc)
                result.deferred.append((segment.name, str(exc)))
            if rows >= _BATCH_ROWS or len(batch) >= _BATCH_SEGMENTS or done == len(pending):
                self._ingest_batch(batch, result)
                self._staged = {}
                batch, rows = [], 0
            if progress is not None:  # segments read, rows taken in (committed or next)
                progress(done, len(pending), result.rows + rows)
        result.removed = self._expire()
        return result

    # -- one batch --------------------------------------------------------------------------

    def _ingest_batch(self, decoded: list[_Decoded], result: IngestResult) -> None:
        if not decoded:
            return
        try:
            self._commit(decoded)
        except Exception as exc:
            taken = self._in_ledger_now([d.segment for d in decoded])
            if taken:  # another ingester of this file committed them meanwhile: theirs
                self._ingest_batch([d for d in decoded if d.segment.name not in taken], result)
                return
            if is_environmental(exc) or len(decoded) == 1:
                self._fail_or_quarantine(decoded, exc, result)
                return
            for one in decoded:  # find the segment the database refuses
                try:
                    self._commit([one])
                except Exception as alone:
                    self._fail_or_quarantine([one], alone, result)
                else:
                    self._done([one], result)
            return
        self._done(decoded, result)

    def _fail_or_quarantine(self, decoded: list[_Decoded], exc: Exception,
                            result: IngestResult) -> None:
        if is_environmental(exc):
            raise StorageError(f"ingesting spool {self.spool.shown!r} failed: {describe(exc)}; "
                               "the segments stay pending and are ingested next time") from exc
        for one in decoded:
            self._quarantine(one.segment, f"the database refused its rows: {exc}", result)

    def _commit(self, decoded: list[_Decoded]) -> None:
        # In time order, so that of two workers' feedback for one key the later one wins
        decoded = sorted(decoded, key=_first_time)
        ledger = _ledger_rows([(d.segment, "ingested", None, d.write.table.num_rows, d.late)
                               for d in decoded], self._now())

        def record(con: duckdb.DuckDBPyConnection) -> None:
            _insert_ledger(con, ledger)

        self._sink.write(merge_writes([d.write for d in decoded]), also=record)

    def _done(self, decoded: list[_Decoded], result: IngestResult) -> None:
        for one in decoded:
            if one.live is not None:
                _publish(one.live, one.segment, one.write.columns)
            result.segments += 1
            result.rows += one.write.table.num_rows
            result.late_rows += one.late
            self._settle(one.segment, INGESTED)
        late = sum(d.late for d in decoded)
        if late:
            _log.warning("gantry-local ingest: %d records arrived after their interval was "
                         "curated; they are stored but not re-curated (raise the curator's "
                         "curation_delay above the producers' flush_interval plus the "
                         "scheduler's tick to cover stragglers)", late)

    # -- reading and checking a segment ----------------------------------------------------

    def _read_ahead(self, pending: list[Segment]
                    ) -> Iterator[tuple[Segment, Future[pa.Table]]]:
        """Each pending segment with its rows being read in a background thread, a few ahead."""
        with ThreadPoolExecutor(1, thread_name_prefix="gantry-local-ingest") as pool:
            reads: deque[tuple[Segment, Future[pa.Table]]] = deque()
            for segment in pending:
                reads.append((segment, pool.submit(self.spool.read, segment)))
                if len(reads) > _READ_AHEAD:
                    yield reads.popleft()
            while reads:
                yield reads.popleft()

    def _decode(self, segment: Segment, read: Future[pa.Table]) -> _Decoded:
        try:
            table = read.result()
        except FileNotFoundError as exc:
            raise _Refused("it vanished while being read") from exc
        except SpoolReadError as exc:  # the storage, not the segment: left pending
            raise _Deferred(str(exc)) from exc
        except Exception as exc:  # its bytes came, and are not Parquet
            raise _Refused(f"it cannot be read as Parquet (truncated or corrupt): {exc}") from exc
        columns = _check_schema(segment, table)
        try:
            state = self._app_state(segment.app)
        except (ValidationError, AlreadyExistsError, NotFoundError) as exc:
            # an archived application, a name this workspace refuses: this segment only
            raise _Refused(f"its application {segment.app!r} cannot take records: {exc}") from exc
        staged = self._staged.get(state.name)
        if staged is None:  # the live schema changes only once the rows are committed
            with state.schema.lock:
                staged = AppSchema(state.schema.columns[RECORDS], state.schema.columns[FEEDBACK])
            self._staged[state.name] = staged
        try:
            _merge_schema(staged, segment.kind, columns)
        except ValidationError as exc:
            raise _Refused(f"its schema clashes with the application's: {exc}") from exc
        write = TableWrite(state.name, segment.kind, table.replace_schema_metadata(None),
                           columns, staged)
        late = self._late(segment, table) if segment.kind == RECORDS else 0
        return _Decoded(segment, write, late, state.schema)

    def _late(self, segment: Segment, table: pa.Table) -> int:
        if segment.app not in self._curated:
            cursor = self._con.cursor()
            try:
                rows = run(cursor, "SELECT max(r.interval_end) FROM _gl_curator_runs r JOIN "
                                   "_gl_curators c ON r.curator = c.name WHERE c.application = ? "
                                   "AND r.status = 'succeeded'", [segment.app])
            except duckdb.Error as exc:  # only a count: never a reason not to ingest
                _log.warning("gantry-local ingest: cannot tell late records apart: %s", exc)
                rows = []
            finally:
                cursor.close()
            self._curated[segment.app] = rows[0][0] if rows else None
        curated = self._curated[segment.app]
        if curated is None:
            return 0
        times = table.column("__time")
        return int(pc.sum(pc.cast(pc.less(times, pa.scalar(curated, times.type)), pa.int64())).as_py() or 0)

    # -- the ledger and the files -----------------------------------------------------------

    def _settle_known(self, pending: list[Segment]) -> list[Segment]:
        """Pending segments not yet in the ledger; those already in it (a crash after the
        commit) are moved where their ledger row says."""
        if not pending:
            return []
        known = self._ledger_status(pending)
        for segment in pending:
            status = known.get(segment.name)
            if status is not None:
                self._settle(segment, INGESTED if status == "ingested" else QUARANTINE)
        return [s for s in pending if s.name not in known]

    def _whole_writes(self, pending: list[Segment], result: IngestResult) -> list[Segment]:
        """The pending segments to ingest now: single ones, and the parts of a write of
        several whose every part is pending or in the ledger. The parts of a write that is
        not whole wait while it may still be being made (`STALE_TEMP_SECONDS`); after that,
        if the writer wrote anything later it lived on and retried those records under other
        names, so the parts are quarantined; if not, it stopped mid-write (killed) and
        nothing else holds those records, so the parts are ingested."""
        groups: dict[tuple[str, int, int], list[Segment]] = {}
        last: dict[str, int] = {}  # writer -> its newest pending seq
        for segment in pending:
            last[segment.writer] = max(last.get(segment.writer, 0), segment.seq)
            if segment.parts > 1:
                groups.setdefault(segment.write_group, []).append(segment)
        held: set[str] = set()
        for (writer, first, parts), members in groups.items():
            if len(members) >= parts or \
                    len(members) + self._in_ledger(writer, first, first + parts) >= parts:
                continue
            ages = [self._age(s) for s in members]
            if not all(age is not None and age >= _spool.STALE_TEMP_SECONDS for age in ages):
                held.update(s.name for s in members)
                result.deferred.extend((s.name, f"part {s.part + 1} of {parts} of a write still "
                                        "being made; ingested once whole") for s in members)
            elif last[writer] >= first + parts or self._in_ledger(writer, first + parts, None):
                held.update(s.name for s in members)
                for segment in members:
                    self._quarantine(segment, f"it is part {segment.part + 1} of {parts} of a "
                                     "write that failed half-way (the producer retried those "
                                     "records under other names)", result)
        return [s for s in pending if s.name not in held]

    def _age(self, segment: Segment) -> float | None:
        """Seconds since `segment` was written; None when unknown (its details could not be
        read: it waits, and the segments after it go on)."""
        try:
            return self.spool.age(PENDING, segment.name)
        except Exception as exc:
            _log.warning("gantry-local ingest: cannot read the time of segment %r (retried next "
                         "time): %s", segment.name, self.spool.scrub(str(exc)))
            return None

    def _in_ledger_now(self, segments: list[Segment]) -> set[str]:
        """Which of `segments` the ledger has now (another ingester of this file, in this
        process, may have taken them since they were listed)."""
        return set(self._ledger_status(segments))

    def _ledger_status(self, segments: list[Segment]) -> dict[str, str]:
        """The ledger's status of each of `segments` it has, by segment name."""
        cursor = self._con.cursor()
        try:
            rows = run(cursor, "SELECT segment, status FROM _gl_spool_segments "
                               "WHERE segment IN (SELECT unnest(?::VARCHAR[]))",
                       [[s.name for s in segments]])
        finally:
            cursor.close()
        return dict(rows)

    def _in_ledger(self, writer: str, low: int, high: int | None) -> int:
        """How many segments of `writer` with ``low <= seq < high`` the ledger has."""
        cursor = self._con.cursor()
        try:
            rows = run(cursor, "SELECT count(*) FROM _gl_spool_segments WHERE writer = ? AND "
                               "seq >= ? AND (? IS NULL OR seq < ?)", [writer, low, high, high])
        finally:
            cursor.close()
        return int(rows[0][0])

    def _settle(self, segment: Segment, state: str) -> None:
        try:
            if state == INGESTED and self.retention is not None and not self.retention:
                self.spool.remove(PENDING, segment.name)
            else:
                self.spool.move(segment.name, PENDING, state)
        except Exception as exc:  # the ledger has it: the next ingest moves it
            _log.warning("gantry-local ingest: could not move segment %r out of pending "
                         "(retried next time): %s", segment.name, self.spool.scrub(str(exc)))

    def _quarantine(self, segment: Segment, error: str, result: IngestResult) -> None:
        message = f"segment {segment.name!r} of spool {self.spool.shown!r} is quarantined: {error}"
        _log.error("gantry-local ingest: %s", message)
        ledger = _ledger_rows([(segment, "quarantined", error[:2000], 0, 0)], self._now())
        cursor = self._con.cursor()
        try:
            _insert_ledger(cursor, ledger)
        finally:
            cursor.close()
        result.quarantined.append((segment.name, error))
        self._settle(segment, QUARANTINE)

    def _quarantine_stray(self, name: str, result: IngestResult) -> None:
        error = ("it is not a segment name (<table>/application=<app>/date=<YYYY-MM-DD>/"
                 "<writer>-<12-digit seq>.parquet)")
        _log.error("gantry-local ingest: file %r in spool %r is quarantined: %s", name,
                   self.spool.shown, error)
        result.quarantined.append((name, error))
        try:
            self.spool.move(name, PENDING, QUARANTINE)
        except Exception as exc:
            _log.warning("gantry-local ingest: could not move %r to quarantine: %s", name,
                         self.spool.scrub(str(exc)))

    def _remove_stale_temps(self) -> int:
        """Delete temp files producers killed mid-write left in ``pending/``; how many."""
        try:
            stale = self.spool.stale_temps(PENDING)
        except Exception as exc:  # only tidying: never a reason not to ingest
            _log.warning("gantry-local ingest: cannot list leftover temp files: %s",
                         self.spool.scrub(str(exc)))
            return 0
        removed = 0
        for name in stale:
            try:
                self.spool.remove(PENDING, name)
                removed += 1
            except Exception as exc:
                _log.warning("gantry-local ingest: could not remove temp file %r: %s", name,
                             self.spool.scrub(str(exc)))
        if removed:
            _log.warning("gantry-local ingest: removed %d temp file(s) from spool %r left by "
                         "producers stopped mid-write (their records were retried or lost with "
                         "the producer's buffer)", removed, self.spool.shown)
        return removed

    def _expire(self) -> int:
        """Delete ingested segments older than the retention; how many were removed."""
        if self.retention is None:
            return 0
        cutoff = self._now() - self.retention
        cursor = self._con.cursor()
        try:
            names = [r[0] for r in run(
                cursor, "SELECT segment FROM _gl_spool_segments WHERE status = 'ingested' AND "
                        "removed_at IS NULL AND ingested_at <= ? ORDER BY segment", [cutoff])]
            removed = []
            for name in names:
                try:
                    self.spool.remove(INGESTED, name)
                    removed.append(name)
                except Exception as exc:
                    _log.warning("gantry-local ingest: could not remove %r: %s", name,
                                 self.spool.scrub(str(exc)))
            if removed:
                run(cursor, "UPDATE _gl_spool_segments SET removed_at = ? "
                            "WHERE segment IN (SELECT unnest(?::VARCHAR[]))", [self._now(), removed])
        finally:
            cursor.close()
        return len(removed)


def _first_time(decoded: _Decoded) -> int:
    first = pc.min(pc.cast(decoded.write.table.column("__time"), pa.int64())).as_py()
    return int(first) if first is not None else 0


class _Refused(Exception):
    """A segment that can never be ingested as it is."""


class _Deferred(Exception):
    """A segment that could not be read this time (the storage failed): it stays pending."""


def _check_schema(segment: Segment, table: pa.Table) -> dict[str, str]:
    """The logical columns a segment declares, checked against its Arrow schema and path.

    Raises:
        _Refused: a foreign file, or a segment whose metadata does not match its rows.
    """
    raw = (table.schema.metadata or {}).get(SEGMENT_KEY)
    if raw is None:
        raise _Refused("it is not a gantry-local segment (no 'gantry_local.segment' metadata: "
                       "a foreign schema)")
    try:
        meta = json.loads(raw)
        declared = dict(meta["columns"])
        app, kind = meta["application"], meta["kind"]
    except (ValueError, KeyError, TypeError) as exc:
        raise _Refused(f"its segment metadata is unreadable: {exc}") from exc
    if (app, kind) != (segment.app, segment.kind):
        raise _Refused(f"its metadata names {kind} of {app!r}, its path {segment.kind} of "
                       f"{segment.app!r}")
    for name, dtype in _META[segment.kind].items():
        if name not in table.column_names or table.schema.field(name).type != dtype:
            raise _Refused(f"column {name!r} is missing or not {dtype} (a foreign schema)")
    columns: dict[str, str] = {}
    for name in table.column_names:
        if name in _META[segment.kind]:
            continue
        logical = declared.get(name)
        if not isinstance(logical, str) or not name.startswith(_SECTIONS[segment.kind]):
            raise _Refused(f"column {name!r} is not a {segment.kind} field of a known type "
                           "(a foreign schema)")
        try:
            expected = types.arrow_type(logical)
        except Exception as exc:
            raise _Refused(f"column {name!r} declares an unknown type {logical!r}") from exc
        if table.schema.field(name).type != expected:
            raise _Refused(f"column {name!r} holds {table.schema.field(name).type}, not the "
                           f"declared {logical}")
        columns[name] = logical
    return columns


def _merge_schema(schema: AppSchema, kind: str, columns: dict[str, str]) -> None:
    """Apply a segment's columns to the application's schema by the logging rules."""
    draft = schema.draft()
    for name, logical in columns.items():
        draft.note(kind, name, logical)
    with schema.lock:
        schema.commit(draft)


def _publish(schema: AppSchema, segment: Segment, columns: dict[str, str]) -> None:
    """Give the live schema a committed segment's columns (the database already has them)."""
    try:
        _merge_schema(schema, segment.kind, columns)
    except ValidationError as exc:  # this process's logging moved on meanwhile: the db decides
        _log.warning("gantry-local ingest: the columns of segment %r were committed but not "
                     "taken into this process's schema: %s", segment.name, exc)


def _ledger_rows(rows: list[tuple[Segment, str, str | None, int, int]], now: datetime) -> pa.Table:
    segments = [r[0] for r in rows]
    return pa.table({
        "segment": [s.name for s in segments],
        "application": [s.app for s in segments],
        "kind": [s.kind for s in segments],
        "writer": [s.writer for s in segments],
        "seq": pa.array([s.seq for s in segments], pa.int64()),
        "rows": pa.array([r[3] for r in rows], pa.int64()),
        "late_rows": pa.array([r[4] for r in rows], pa.int64()),
        "status": [r[1] for r in rows],
        "error": pa.array([r[2] for r in rows], pa.string()),
        "ingested_at": pa.array([now] * len(rows), pa.timestamp("us", tz="UTC")),
    })


def _insert_ledger(con: duckdb.DuckDBPyConnection, ledger: pa.Table) -> None:
    con.register("_gl_ledger_batch", ledger)
    try:
        run(con, "INSERT INTO _gl_spool_segments BY NAME SELECT * FROM _gl_ledger_batch")
    finally:
        con.unregister("_gl_ledger_batch")
