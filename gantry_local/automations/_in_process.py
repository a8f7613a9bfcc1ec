"""The automations living in one process (monitors and suites), by name.

They are not stored: they hold callables. The automations room owns this registry and keeps
it on the workspace's `Database` (`in_process(db)`); `add_automation` adds to it and the
scheduler runs it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .._db import Database

__all__ = ["InProcess", "in_process"]


class InProcess(dict[str, tuple[str | None, Any]]):
    """Automation name -> (application, automation), for one workspace."""


def in_process(database: Database) -> InProcess:
    """The in-process automations of the workspace that owns `database`."""
    return database.state(InProcess)
