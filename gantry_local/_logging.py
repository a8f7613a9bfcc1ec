"""Gantry's batch-shaped log calls over a workspace: `log_records`, `log`, `log_file`.

The façades (`Workspace`, `Application`, the module functions) call these; the records
room does the work (`records._many` validates and buffers, `records._batch_log` records
batches). `log_record`, the hot path, does not come through here.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import numpy as np
import polars as pl
import pyarrow as pa

from ._context import narrow
from .clock import read_clock
from .errors import NotFoundError, NotSupportedError, ValidationError
from .records._batch_log import record_batch
from .records._gantry_args import drop_ignored, merge_tags, resolve_join_keys
from .records._inputs import check_version

if TYPE_CHECKING:
    from ._context import Context, Logging, WorkspaceLike

__all__ = ["log", "log_file", "log_from_data_connector", "log_records"]


def _parts(workspace: WorkspaceLike) -> tuple[Context, Logging]:
    """The context of the workspace these calls log into, and its logging part."""
    context = narrow(workspace)
    if context.logging is None:
        raise ValidationError("this workspace cannot log records")
    return context, context.logging


def log_records(
    ws: WorkspaceLike, application: str, version: object, inputs: Any, outputs: Any,
    feedback_keys: object, feedback_ids: object, feedbacks: Any, ignore_inputs: object,
    timestamps: Any, sort_on_timestamp: object, sample_rate: float, as_batch: object,
    tags: Any, join_keys: Any, row_tags: Any, global_tags: Any, batch_id: str | None = None,
    run_name: str | None = None, run_tags: Mapping[str, str] | None = None,
) -> tuple[str | None, list[str]]:
    """`Workspace.log_records`; `batch_id` adds the records to that (run's) batch."""
    context, logging = _parts(ws)
    state = context.app_state(application)
    _check_flag(sort_on_timestamp, "sort_on_timestamp")
    _check_flag(as_batch, "as_batch")
    join_keys = resolve_join_keys(inputs, feedback_ids, feedback_keys, join_keys)
    inputs = drop_ignored(inputs, ignore_inputs)
    if row_tags is not None or global_tags is not None:
        tags = merge_tags(tags, row_tags, global_tags,
                          _count(inputs if inputs is not None else feedbacks))
    if inputs is not None or outputs is not None:
        tags = logging.env_tags(tags)
    keys = logging.logger.log_many(state, version, inputs, outputs, feedbacks, join_keys,
                                   timestamps, tags, sample_rate, bool(sort_on_timestamp))
    if batch_id is None and as_batch:
        batch_id = str(uuid.uuid4())
    if batch_id is not None:
        prediction = inputs is not None
        kind = ("RECORD" if prediction and feedbacks is not None
                else "PREDICTION" if prediction else "FEEDBACK")
        with context.database.cursor() as con:
            record_batch(con, batch_id, state.name, kind, check_version(version), keys,
                         read_clock(context.clock), run_name, run_tags)
    return batch_id, keys


def log(
    ws: WorkspaceLike, application: str, version: object, inputs: Any, outputs: Any, feedbacks: Any,
    ignore_inputs: object, tags: Any, timestamps: Any, sort_on_timestamp: object,
    sample_rate: float, row_tags: Any, global_tags: Any, join_keys: Any, as_batch: object,
    run_id: str | None, run_tags: Mapping[str, str] | None, run_name: str | None = None,
) -> str | tuple[str | None, list[str]] | None:
    """Gantry's `log`: one record when inputs, outputs and feedbacks are all dicts (its join
    key, or None if sampled out), else `log_records` (``(batch_id, join_keys)``)."""
    if run_id is None and all(isinstance(v, Mapping) for v in (inputs, outputs, feedbacks)):
        merged = merge_tags(tags, row_tags, global_tags, 1)
        one_tags = merged[0] if isinstance(merged, list) else merged
        return _parts(ws)[1].log_record(application, version, inputs, outputs,
                             feedback=feedbacks, ignore_inputs=ignore_inputs,  # type: ignore[arg-type]
                             timestamp=timestamps, sample_rate=sample_rate,
                             tags=one_tags, join_key=join_keys)  # type: ignore[arg-type]
    if isinstance(inputs, Mapping) or isinstance(feedbacks, Mapping):
        inputs = None if inputs is None else [inputs]
        outputs = None if outputs is None else [outputs]
        feedbacks = None if feedbacks is None else [feedbacks]
        join_keys = [join_keys] if isinstance(join_keys, (str, int)) else join_keys
        timestamps = [timestamps] if isinstance(timestamps, datetime) else timestamps
        row_tags = [row_tags] if isinstance(row_tags, Mapping) else row_tags
    if run_id is not None:
        global_tags = {**(global_tags or {}), **(run_tags or {})}
    return log_records(ws, application, version, inputs, outputs, None, None, feedbacks,
                       ignore_inputs, timestamps, sort_on_timestamp, sample_rate, as_batch, tags,
                       join_keys, row_tags, global_tags, batch_id=run_id, run_name=run_name,
                       run_tags=run_tags)


def log_from_data_connector(source_data_connector_name: object) -> NoReturn:
    """Gantry's data connectors are credentials and schedules kept by its service."""
    raise NotSupportedError(
        f"log_from_data_connector({source_data_connector_name!r}) needs Gantry's hosted service: "
        "data connectors (Snowflake, S3 ...) and their schedules are registered there, and "
        "gantry-local has none. Read the source yourself and call log_records() with a "
        "DataFrame, or export it and call log_file() with the CSV or Parquet file")


# -- log_file -------------------------------------------------------------------------------

_SECTIONS = {"inputs": "input", "outputs": "output", "feedbacks": "feedback", "tags": "tags"}


def log_file(
    ws: WorkspaceLike, application: str, filepath: object, version: object, timestamp: object,
    inputs: object, outputs: object, feedbacks: object, tags: object, feedback_id: object,
    feedback_key: object, sep: object, join_key: object,
) -> None:
    """Log a CSV (with a header line) or Parquet file of records as one batch.

    As in Gantry, columns are picked by name: inputs are the columns starting with
    ``input`` (or those `inputs` lists), likewise ``output``, ``feedback`` and ``tags``;
    times come from a ``timestamp`` column (or `timestamp`), join keys from ``join_key``
    (or `join_key`, `feedback_id`, or a hash of the `feedback_keys` columns). A column
    named ``inputs.x`` becomes the field ``x``. Parquet is recognised by its content.

    Raises:
        ValidationError: an unreadable file, a named column the file lacks, or records the
            log calls refuse; nothing is stored. NotFoundError: no such file or application.
    """
    ws = narrow(ws)
    ws.app_state(application)
    if not isinstance(sep, str) or len(sep) != 1:
        raise ValidationError(f"sep must be one character, got {sep!r}")
    frame = _read_file(filepath, sep)
    columns = frame.columns
    picked = {section: _pick_columns(columns, value, prefix, section)
              for section, value, prefix in
              (("inputs", inputs, "input"), ("outputs", outputs, "output"),
               ("feedbacks", feedbacks, "feedback"), ("tags", tags, "tags"))}
    time_col = _one_column(columns, timestamp, "timestamp", "timestamp")
    key_col = _one_column(columns, join_key, "join_key", "join_key")
    fid_col = _one_column(columns, feedback_id, "feedback_id", "feedback_id")
    picked["feedbacks"] = [c for c in picked["feedbacks"] if c != fid_col]
    if key_col is not None and ((fid_col is not None and feedback_id is not None)
                                or feedback_key is not None):
        raise ValidationError("give join_key, or feedback_id/feedback_keys, not both")
    sections = {s: _section(frame, cols) for s, cols in picked.items() if cols}
    if ("inputs" in sections) != ("outputs" in sections):
        raise ValidationError(f"the file has input columns {picked['inputs']} and output "
                              f"columns {picked['outputs']}: a prediction needs both")
    keys: Any = None
    if key_col is not None:
        keys = frame[key_col].cast(pl.String).to_list()
    elif fid_col is not None:
        keys = frame[fid_col].cast(pl.String).to_list()
    times = None if time_col is None else _times(frame[time_col], time_col)
    tag_rows = None
    if "tags" in sections:
        tag_rows = [{k: v for k, v in row.items() if v is not None} for row in
                    sections.pop("tags").select(pl.all().cast(pl.String)).to_dicts()]
    if feedback_key is not None:
        from .records._gantry_args import compute_feedback_id

        names = _pick_columns(columns, feedback_key, "", "feedback_keys")
        keys = [compute_feedback_id(row, names) for row in frame.select(names).to_dicts()]
    log_records(ws, application, version, sections.get("inputs"), sections.get("outputs"),
                None, None, sections.get("feedbacks"), None, times, True, 1.0, True, tag_rows,
                keys, None, None)


def _read_file(filepath: object, sep: str) -> pl.DataFrame:
    if not isinstance(filepath, (str, Path)) or not str(filepath):
        raise ValidationError(f"filepath must be a path, got {filepath!r}")
    path = Path(filepath)
    if not path.is_file():
        raise NotFoundError(f"no file {str(path)!r} to log")
    with path.open("rb") as handle:
        magic = handle.read(4)
    try:
        if magic == b"PAR1":
            return pl.read_parquet(path)
        return pl.read_csv(path, separator=sep, try_parse_dates=True)
    except Exception as exc:  # polars raises many kinds; all mean "cannot read it"
        raise ValidationError(f"could not read {str(path)!r} as {'Parquet' if magic == b'PAR1' else 'CSV'}: "
                              f"{exc}") from exc


def _pick_columns(columns: Sequence[str], given: object, prefix: str, what: str) -> list[str]:
    if given is None:
        return [c for c in columns if c.startswith(prefix)] if prefix else []
    if isinstance(given, (str, bytes)) or not isinstance(given, (list, tuple)) or not all(
            isinstance(c, str) for c in given):
        raise ValidationError(f"{what} must be a list of column names, got {given!r:.80}")
    missing = [c for c in given if c not in columns]
    if missing:
        raise ValidationError(f"{what}: the file has no columns {missing}; its columns are "
                              f"{list(columns)}")
    return list(given)


def _one_column(columns: Sequence[str], given: object, default: str, what: str) -> str | None:
    if given is None:
        return default if default in columns else None
    if not isinstance(given, str) or given not in columns:
        raise ValidationError(f"{what} must name a column of the file ({list(columns)}), got "
                              f"{given!r:.80}")
    return given


def _section(frame: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    """The columns as a frame, ``inputs.x`` renamed to ``x``."""
    renamed = {c: c.split(".", 1)[1] if "." in c and c.split(".", 1)[0] in
               {*_SECTIONS, *_SECTIONS.values()} else c for c in columns}
    return frame.select(columns).rename(renamed)


def _times(column: pl.Series, name: str) -> list[Any]:
    if column.dtype == pl.String:
        try:
            column = column.str.to_datetime(time_zone="UTC")
        except Exception as exc:  # polars: InvalidOperationError, ComputeError ...
            raise ValidationError(f"timestamp column {name!r} holds values that are not "
                                  f"datetimes: {exc}") from exc
    if not isinstance(column.dtype, pl.Datetime):
        raise ValidationError(f"timestamp column {name!r} must hold datetimes, got "
                              f"{column.dtype}")
    return column.to_list()


def _count(value: Any) -> int:
    """How many records a section holds (for per-record tags)."""
    if isinstance(value, (pa.Table, pa.RecordBatch)):
        return value.num_rows
    if value is None or isinstance(value, (Mapping, str, bytes)):
        raise ValidationError("row_tags and global_tags need inputs or feedbacks given as a "
                              "list or frame, one entry per record")
    try:
        return len(value)
    except TypeError as exc:
        raise ValidationError(f"inputs must be a list or a frame, got {type(value).__name__}") \
            from exc


def _check_flag(value: object, what: str) -> None:
    if not isinstance(value, (bool, np.bool_)):
        raise ValidationError(f"{what} must be True or False, got {value!r:.40}")
