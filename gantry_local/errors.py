"""Every error gantry-local raises on purpose.

One base class, so callers can catch "any error of this library"; each subclass
also inherits the matching built-in, so code written against the built-ins keeps
working::

    GantryLocalError (Exception)
    ├── ValidationError (ValueError)       bad input: a name, a value, a type clash
    ├── NotFoundError (LookupError)        no application, dataset, version, field ...
    ├── AlreadyExistsError (ValueError)    a name that is already taken
    ├── ConflictError (RuntimeError)       someone else moved the state on first
    ├── IntegrityError (RuntimeError)      stored bytes do not match their hash
    ├── StorageError (OSError)             DuckDB file or object store failed
    │   └── WebhookError                   a webhook action's endpoint failed or refused
    ├── RowError (ValueError)              one row of an evaluation cannot be scored
    │   └── JudgeError                     a judge's answer could not be used
    ├── NotSupportedError (NotImplementedError)  a Gantry call that needs the hosted service
    ├── BufferFullError (TimeoutError)     the log buffer stayed full past its timeout
    └── NotInitializedError (RuntimeError) a module-level function before `init()`

Errors from DuckDB, fsspec or pyarrow are translated where we call them
(``raise StorageError(...) from exc``) and the message says what to do.
"""

from __future__ import annotations

__all__ = [
    "AlreadyExistsError",
    "BufferFullError",
    "ConflictError",
    "GantryLocalError",
    "IntegrityError",
    "JudgeError",
    "NotFoundError",
    "NotInitializedError",
    "NotSupportedError",
    "RowError",
    "StorageError",
    "ValidationError",
    "WebhookError",
]


class GantryLocalError(Exception):
    """Base of every error raised by gantry-local."""


class ValidationError(GantryLocalError, ValueError):
    """Input was rejected before anything was stored."""


class NotFoundError(GantryLocalError, LookupError):
    """The named thing does not exist (or was deleted)."""


class AlreadyExistsError(GantryLocalError, ValueError):
    """The name is already taken."""


class ConflictError(GantryLocalError, RuntimeError):
    """The state changed underneath the caller (e.g. a stale parent version)."""


class IntegrityError(GantryLocalError, RuntimeError):
    """Stored data does not match its recorded hash, or is missing."""


class StorageError(GantryLocalError, OSError):
    """The DuckDB file or the object store could not be read or written."""


class WebhookError(StorageError):
    """A webhook (or Slack) action's endpoint failed after its retries, or refused the call.

    A `StorageError` subclass so code that caught `StorageError` for webhooks keeps working.
    """


class RowError(GantryLocalError, ValueError):
    """A row's output cannot be scored (recorded as that row's error)."""


class JudgeError(RowError):
    """A judge's answer could not be used (recorded as the row's error)."""


class BufferFullError(GantryLocalError, TimeoutError):
    """The in-memory log buffer stayed full for longer than its timeout.

    Attributes:
        accepted: how many records of the failing call were buffered before the
            timeout (they will be written); the rest were not logged.
    """

    def __init__(self, message: str, accepted: int = 0) -> None:
        super().__init__(message)
        self.accepted = accepted


class NotInitializedError(GantryLocalError, RuntimeError):
    """A module-level function was called before `gantry_local.init` (or after its
    workspace was closed)."""


class NotSupportedError(GantryLocalError, NotImplementedError):
    """A Gantry call that only makes sense against the hosted service (the message says why
    and what to use here instead)."""
