"""Gantry's client plumbing, with a local meaning: `get_client()` and `setup_logger()`.

In Gantry, ``get_client()`` returned the logging client ``init()`` made (None before it) and
``setup_logger(level)`` gave the ``gantry`` package logger a level and a stdout handler.
Here the client is the default `Workspace` (it has the logging methods: ``log_record``,
``log_records``, ``log_file``, ``ping``, ``ready`` ...) and the logger is ``gantry_local``.
"""

from __future__ import annotations

import logging
import sys

from . import _default
from ._default import _logging_level
from .workspace import Workspace

__all__ = ["get_client", "setup_logger"]

LOGGER_NAME = "gantry_local"
_FORMAT = "%(asctime)s %(name)-12s %(levelname)-8s %(message)s"  # Gantry's


def get_client() -> Workspace | None:
    """The default workspace `init` opened, or None before `init` (or after it was closed),
    as Gantry's ``get_client()`` returned its client or None."""
    workspace = _default._default
    return None if workspace is None or workspace.closed else workspace


def setup_logger(level: str = "INFO") -> None:
    """Set the ``gantry_local`` logger's level and give it a stdout handler, as Gantry did
    for ``gantry``: none is added when the logger already has a stream handler, and an
    empty `level` changes nothing.

    Raises:
        ValidationError: `level` is not DEBUG, INFO, WARNING, ERROR, CRITICAL or a number
            from 0 to 50.
    """
    if not level:
        return
    resolved = _logging_level(level)
    logger = logging.getLogger(LOGGER_NAME)
    if resolved is not None:
        logger.setLevel(resolved)
    if any(isinstance(h, logging.StreamHandler) for h in logger.handlers):
        return
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter(_FORMAT))
    logger.addHandler(handler)
