"""gantry-local: log production traffic, curate versioned datasets, evaluate models, in-process.

Public names follow the Gantry Python SDK, so ``import gantry_local as gantry`` ports code.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError as _PackageNotFoundError
from importlib.metadata import version as _version

from . import _aliases as _aliases  # registers Gantry's module paths (gantry.applications.*)
from . import query
from ._client import get_client, setup_logger
from ._default import (
    archive_application,
    create_application,
    create_dataset,
    delete_application,
    delete_dataset,
    flush,
    gc,
    get_application,
    get_dataset,
    get_workspace,
    init,
    list_applications,
    list_dataset_versions,
    list_datasets,
    log,
    log_file,
    log_from_data_connector,
    log_record,
    log_records,
    ping,
    ready,
    register_model,
    restore_dataset,
    set_working_directory,
)
from ._producer import ProducerWorkspace
from .applications import Application, Run
from .automations.scheduler import AutomationRun, Scheduler
from .clock import Clock, ManualClock, SystemClock
from .datasets import Dataset, DatasetDiff
from .errors import (
    AlreadyExistsError,
    BufferFullError,
    ConflictError,
    GantryLocalError,
    IntegrityError,
    JudgeError,
    NotFoundError,
    NotInitializedError,
    NotSupportedError,
    RowError,
    StorageError,
    ValidationError,
    WebhookError,
)
from .evaluation import Comparison, evaluate, get_evaluation, list_evaluations
from .llm import CompletionApplication, VersionDetails
from .records._gantry_args import JoinKey, compute_feedback_id
from .records._ingest import IngestResult
from .records.query import Query
from .workspace import Workspace

try:
    __version__ = _version("gantry-local")
except _PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = [
    "AlreadyExistsError",
    "Application",
    "AutomationRun",
    "BufferFullError",
    "Clock",
    "Comparison",
    "CompletionApplication",
    "ConflictError",
    "Dataset",
    "DatasetDiff",
    "GantryLocalError",
    "IngestResult",
    "IntegrityError",
    "JoinKey",
    "JudgeError",
    "ManualClock",
    "NotFoundError",
    "NotInitializedError",
    "NotSupportedError",
    "ProducerWorkspace",
    "Query",
    "RowError",
    "Run",
    "Scheduler",
    "StorageError",
    "SystemClock",
    "ValidationError",
    "VersionDetails",
    "WebhookError",
    "Workspace",
    "__version__",
    "archive_application",
    "compute_feedback_id",
    "create_application",
    "create_dataset",
    "delete_application",
    "delete_dataset",
    "evaluate",
    "flush",
    "gc",
    "get_application",
    "get_client",
    "get_dataset",
    "get_evaluation",
    "get_workspace",
    "init",
    "list_applications",
    "list_dataset_versions",
    "list_datasets",
    "list_evaluations",
    "log",
    "log_file",
    "log_from_data_connector",
    "log_record",
    "log_records",
    "ping",
    "query",
    "ready",
    "register_model",
    "restore_dataset",
    "set_working_directory",
    "setup_logger",
]
