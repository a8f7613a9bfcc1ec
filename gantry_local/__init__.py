"""gantry-local: log production traffic, curate versioned datasets, evaluate models, in-process.

Public names follow the Gantry Python SDK, so ``import gantry_local as gantry`` ports code.
"""

from __future__ import annotations

from ._default import (
    NotInitializedError,
    create_application,
    delete_application,
    flush,
    get_application,
    get_workspace,
    init,
    list_applications,
    log_record,
    log_records,
    query,
)
from .applications import Application
from .clock import Clock, ManualClock, SystemClock
from .errors import (
    AlreadyExistsError,
    BufferFullError,
    ConflictError,
    GantryLocalError,
    IntegrityError,
    NotFoundError,
    StorageError,
    ValidationError,
)
from .records.query import Query
from .workspace import Workspace

__version__ = "0.1.0"

__all__ = [
    "AlreadyExistsError",
    "Application",
    "BufferFullError",
    "Clock",
    "ConflictError",
    "GantryLocalError",
    "IntegrityError",
    "ManualClock",
    "NotFoundError",
    "NotInitializedError",
    "Query",
    "StorageError",
    "SystemClock",
    "ValidationError",
    "Workspace",
    "__version__",
    "create_application",
    "delete_application",
    "flush",
    "get_application",
    "get_workspace",
    "init",
    "list_applications",
    "log_record",
    "log_records",
    "query",
]
