"""The default workspace behind the module-level functions (``gantry.log_record(...)``)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn

from ._context import set_default_resolver
from ._names import is_valid_text
from ._producer import ProducerWorkspace
from .applications import Application
from .clock import Clock
from .datasets import Dataset
from .errors import NotInitializedError, ValidationError
from .records._gantry_args import UNSET
from .records.query import Query
from .workspace import Workspace

_log = logging.getLogger("gantry_local")

__all__ = [
    "archive_application", "create_application", "create_dataset", "delete_application",
    "delete_dataset", "flush", "gc", "get_application", "get_dataset", "get_workspace", "init",
    "list_applications", "list_dataset_versions", "list_datasets", "log", "log_file",
    "log_from_data_connector", "log_record", "log_records", "ping", "query", "ready",
    "register_model", "restore_dataset", "set_working_directory",
]

_lock = threading.Lock()
_default: Workspace | None = None


_WORKSPACE_OPTIONS = ("storage_options", "buffer_size", "buffer_timeout", "flush_interval", "spool",
                      "spool_options", "spool_retention", "producer", "producer_id",
                      "background_scheduler", "read_only", "lock_timeout")
_SPOOL_OPTIONS = ("spool", "spool_options", "spool_retention", "producer", "producer_id")


def init(
    api_key: str | None = None,
    logging_level: str | int | None = None,
    environment: str | None = None,
    send_in_background: bool | None = None,
    db: str | Path = "gantry.duckdb",
    storage: str | None = None,
    clock: Clock | None = None,
    **options: Any,
) -> Workspace:
    """Open the default workspace used by the module-level functions and return it.

    Gantry's arguments come first, in Gantry's order: `api_key` is accepted and unused
    (said once in the ``gantry_local`` log), `logging_level` sets that logger's level,
    `environment` becomes the ``env`` tag of predictions logged without one, and
    `send_in_background` is accepted (logging is always buffered). Calling it again closes
    the previous default workspace first. Extra keyword arguments go to `Workspace`
    (``storage_options``, ``buffer_size``, ``buffer_timeout``, ``flush_interval``, ``spool``,
    ``spool_options``, ``spool_retention``, ``read_only``, ``lock_timeout``). ``producer=True``
    makes this process a producer (a model-server worker): it logs into the spool and never
    opens the database (see `ProducerWorkspace`; ``producer_id`` names it in segment names).

    Raises:
        ValidationError: an unknown option or a bad value (an unknown option or service
            argument leaves the previous default workspace open).
    """
    unknown = sorted(set(options) - set(_WORKSPACE_OPTIONS))
    if unknown:
        raise ValidationError(f"init() got unknown options {unknown}; it takes db, storage, "
                              f"clock, Gantry's service arguments and {', '.join(_WORKSPACE_OPTIONS)}")
    for name, value, kinds in (("api_key", api_key, (str,)), ("environment", environment, (str,)),
                               ("logging_level", logging_level, (str, int)),
                               ("send_in_background", send_in_background, (bool,))):
        if value is not None and not isinstance(value, kinds):
            raise ValidationError(f"{name} must be {' or '.join(k.__name__ for k in kinds)} or "
                                  f"None, got {type(value).__name__}")
    level = _logging_level(logging_level)
    if environment is not None and (not environment or not is_valid_text(environment)):
        raise ValidationError(f"environment must be a non-empty string of valid Unicode (it "
                              f"becomes the 'env' tag), got {environment!r}")
    Workspace.check_arguments(db, storage, options.get("storage_options"), clock,
                              **{k: v for k, v in options.items()
                                 if k not in ("storage_options", *_SPOOL_OPTIONS)})
    producer = options.pop("producer", False)
    if not isinstance(producer, bool):
        raise ValidationError(f"producer must be True or False, got {producer!r}")
    if not producer and "producer_id" in options:
        raise ValidationError("producer_id names a producer process: pass producer=True with it")
    global _default
    with _lock:
        previous, _default = _default, None
        if previous is not None:
            previous.close()
        if producer:
            options.pop("spool_retention", None)  # the owner's setting: ignored by producers
            _default = ProducerWorkspace(db=db, storage=storage, clock=clock, **options)
        else:
            _default = Workspace(db=db, storage=storage, clock=clock, **options)
        _default._default_env = environment
        if level is not None:
            _log.setLevel(level)
        _say_api_key_unused(api_key)
        return _default


_LEVELS = ("DEBUG", "INFO", "WARNING", "CRITICAL", "ERROR")
_api_key_said = False


def _logging_level(level: str | int | None) -> int | None:
    """Gantry's level names (or a logging number) as a `logging` level."""
    if level is None:
        return None
    if isinstance(level, bool) or (isinstance(level, str) and level.upper() not in _LEVELS):
        raise ValidationError(f"logging_level must be one of {', '.join(_LEVELS)} (or a logging "
                              f"level number), got {level!r}")
    if isinstance(level, int) and not 0 <= level <= 50:
        raise ValidationError(f"logging_level numbers run from 0 to 50, got {level}")
    return level if isinstance(level, int) else int(getattr(logging, level.upper()))


def _say_api_key_unused(api_key: str | None) -> None:
    """Say once per process that an API key has no use here."""
    global _api_key_said
    if api_key is not None and not _api_key_said:
        _api_key_said = True
        _log.info("gantry_local.init: api_key is not used (everything stays on this machine)")


def ping() -> bool:
    """Gantry's service check: always True, as there is no service to reach."""
    return True


def ready() -> bool:
    """Gantry's readiness check: always True, as there is no service to wait for."""
    return True


def get_workspace() -> Workspace:
    """The default workspace set by `init`."""
    workspace = _default
    if workspace is None or workspace.closed:
        raise NotInitializedError("no open default workspace: call gantry_local.init(db=...) "
                                  "first, or use a Workspace object directly")
    return workspace


set_default_resolver(get_workspace)  # the rooms' `narrow_or_default(None)` finds it here


def create_application(application_name: str, application_type: str | None = None
                       ) -> Application[Workspace]:
    """Create an application in the default workspace (see `Workspace.create_application`)."""
    return get_workspace().create_application(application_name, application_type)


def get_application(application_name: str) -> Application[Workspace]:
    """An application of the default workspace."""
    return get_workspace().get_application(application_name)


def archive_application(application_name: str) -> None:
    """Archive an application of the default workspace (see `Workspace.archive_application`)."""
    get_workspace().archive_application(application_name)


def list_applications() -> list[str]:
    """The names of the default workspace's applications, sorted."""
    return get_workspace().list_applications()


def delete_application(application_name: str) -> None:
    """Delete an application of the default workspace and all its records."""
    get_workspace().delete_application(application_name)


def log_record(
    application: str,
    version: int | str | None = None,
    inputs: Mapping[str, Any] | None = None,
    outputs: Any = None,
    feedback_id: str | Mapping[str, Any] | None = None,
    feedback: Mapping[str, Any] | None = None,
    feedback_keys: Sequence[str] | None = None,
    ignore_inputs: Sequence[str] | None = None,
    timestamp: datetime | None = None,
    sample_rate: float = 1.0,
    tags: Mapping[str, str] | None = None,
    join_key: str | None = None,
    *,
    feedbacks: Any = UNSET,
) -> str | None:
    """Log one record to the default workspace (see `Workspace.log_record`)."""
    workspace = _default
    if workspace is None or workspace.closed:
        workspace = get_workspace()
    return workspace.log_record(application, version, inputs, outputs, feedback_id, feedback,
                                feedback_keys, ignore_inputs, timestamp, sample_rate, tags,
                                join_key, feedbacks=feedbacks)


def log_records(
    application: str,
    version: int | str | None = None,
    inputs: Any = None,
    outputs: Any = None,
    feedback_keys: Sequence[str] | None = None,
    feedback_ids: Sequence[str] | Sequence[Mapping[str, Any]] | None = None,
    feedbacks: Any = None,
    ignore_inputs: Sequence[str] | None = None,
    timestamps: Any = None,
    sort_on_timestamp: bool = True,
    sample_rate: float = 1.0,
    as_batch: bool = False,
    tags: Mapping[str, str] | Sequence[Mapping[str, str]] | None = None,
    join_keys: Any = None,
    row_tags: Any = None,
    global_tags: Mapping[str, str] | None = None,
    *,
    feedback: Any = UNSET,
) -> tuple[str | None, list[str]]:
    """Log many records to the default workspace; ``(batch_id, join_keys)``."""
    return get_workspace().log_records(
        application, version, inputs, outputs, feedback_keys, feedback_ids, feedbacks,
        ignore_inputs, timestamps, sort_on_timestamp, sample_rate, as_batch, tags, join_keys,
        row_tags, global_tags, feedback=feedback)


def log(
    application: str,
    version: int | str | None = None,
    inputs: Any = None,
    outputs: Any = None,
    feedbacks: Any = None,
    ignore_inputs: Sequence[str] | None = None,
    tags: Mapping[str, str] | Sequence[Mapping[str, str]] | None = None,
    timestamps: Any = None,
    sort_on_timestamp: bool = True,
    sample_rate: float = 1.0,
    row_tags: Any = None,
    global_tags: Mapping[str, str] | None = None,
    join_keys: Any = None,
    as_batch: bool = False,
    run_id: str | None = None,
    run_tags: Mapping[str, str] | None = None,
    *,
    feedback: Any = UNSET,
) -> str | tuple[str | None, list[str]] | None:
    """Gantry's general log call on the default workspace (see `Workspace.log`)."""
    return get_workspace().log(application, version, inputs, outputs, feedbacks, ignore_inputs,
                               tags, timestamps, sort_on_timestamp, sample_rate, row_tags,
                               global_tags, join_keys, as_batch, run_id, run_tags,
                               feedback=feedback)


def log_file(
    application: str,
    filepath: str | Path,
    version: int | str | None = None,
    timestamp: str | None = None,
    inputs: Sequence[str] | None = None,
    outputs: Sequence[str] | None = None,
    feedbacks: Sequence[str] | None = None,
    tags: Sequence[str] | None = None,
    feedback_id: str | None = None,
    feedback_keys: Sequence[str] | None = None,
    sep: str = ",",
    join_key: str | None = None,
) -> None:
    """Log a CSV or Parquet file of records to the default workspace (`Workspace.log_file`)."""
    get_workspace().log_file(application, filepath, version, timestamp, inputs, outputs,
                             feedbacks, tags, feedback_id, feedback_keys, sep, join_key)


def log_from_data_connector(
    application: str,
    source_data_connector_name: str,
    timestamp: str | None = None,
    inputs: Sequence[str] | None = None,
    outputs: Sequence[str] | None = None,
    feedbacks: Sequence[str] | None = None,
    join_key: str | None = None,
    row_tags: Sequence[str] | None = None,
    global_tags: Mapping[str, str] | None = None,
    schedule: Any = None,
    pipeline_name: str | None = None,
) -> NoReturn:
    """Not available here: raises `NotSupportedError` saying what to use instead."""
    get_workspace().log_from_data_connector(
        application, source_data_connector_name, timestamp, inputs, outputs, feedbacks,
        join_key, row_tags, global_tags, schedule, pipeline_name)


def query(
    application: str,
    start_time: datetime | None = None,
    end_time: datetime | None = None,
    version: int | str | None = None,
    tags: Mapping[str, str] | None = None,
    filters: Sequence[Mapping[str, Any]] | None = None,
) -> Query:
    """Query an application of the default workspace (see `Application.query`)."""
    return get_workspace().query(application, start_time, end_time, version, tags, filters)


def create_dataset(name: str, bucket_name: str | None = None,
                   app_name: str | None = None) -> Dataset:
    """Create a dataset on the default workspace's storage (`bucket_name` is unused)."""
    return get_workspace().create_dataset(name, bucket_name, app_name)


def get_dataset(name: str, app_name: str | None = None, include_deleted: bool = False) -> Dataset:
    """A dataset of the default workspace's storage."""
    return get_workspace().get_dataset(name, app_name, include_deleted)


def list_datasets(include_deleted: bool = False) -> list[dict[str, Any]]:
    """The datasets of the default workspace's storage."""
    return get_workspace().list_datasets(include_deleted)


def delete_dataset(name: str) -> None:
    """Soft-delete a dataset of the default workspace's storage."""
    get_workspace().delete_dataset(name)


def restore_dataset(name: str) -> Dataset:
    """Bring back a soft-deleted dataset."""
    return get_workspace().restore_dataset(name)


def list_dataset_versions(name: str) -> list[dict[str, Any]]:
    """The versions of a dataset, newest first."""
    return get_workspace().list_dataset_versions(name)


def set_working_directory(path: str | Path) -> None:
    """Where `Dataset.pull` materialises datasets."""
    get_workspace().set_working_directory(path)


def gc(dry_run: bool = True, grace: timedelta = timedelta(hours=1)) -> dict[str, Any]:
    """Delete unreferenced storage objects and old temp files (dry run by default)."""
    return get_workspace().gc(dry_run, grace)


def register_model(name: str, fn: Any) -> None:
    """Register the model completion versions name, on the default workspace."""
    get_workspace().register_model(name, fn)


def flush(timeout: float | None = None) -> None:
    """Block until everything logged to the default workspace is written."""
    get_workspace().flush(timeout)
