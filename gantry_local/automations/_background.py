"""How a definition below the scheduler (a curator) turns on the background loop.

The scheduler module imports the curators, so they cannot import it: it registers its
`ensure_background` here when it is imported, and `start_background` calls it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["set_starter", "start_background"]

_starter: Callable[[Any], object] | None = None


def set_starter(starter: Callable[[Any], object]) -> None:
    """Register the function that starts a workspace's background loop."""
    global _starter
    _starter = starter


def start_background(workspace: Any) -> None:
    """Start `workspace`'s background scheduler loop (when it is enabled; see the scheduler)."""
    if _starter is not None:
        _starter(workspace)
