"""The completion models of a workspace: the callables completion versions name.

Evaluation owns this registry; it is kept on the workspace's `Database` (`models(db)`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .._names import check_name
from ..errors import NotFoundError, ValidationError

if TYPE_CHECKING:
    from .._db import Database

__all__ = ["ModelFn", "Models", "check_model", "models"]

ModelFn = Callable[..., Any]


def check_model(fn: object, name: str) -> ModelFn:
    """`fn` if it can be a model (a callable ``(prompt, **params) -> str``)."""
    if not callable(fn):
        raise ValidationError(f"model {name!r} must be a callable (prompt, **params) -> str")
    return fn


class Models:
    """Model callables by name, for one workspace."""

    def __init__(self) -> None:
        self._fns: dict[str, ModelFn] = {}
        self._lock = threading.Lock()

    def register(self, name: str, fn: object) -> None:
        """Make `fn(prompt, **model_params) -> str` the model called `name`."""
        checked = check_model(fn, name)
        with self._lock:
            self._fns[check_name(name, "model name")] = checked

    def get(self, name: str) -> ModelFn:
        """The model registered under `name`.

        Raises:
            NotFoundError: none is (the message lists those that are).
        """
        fn = self._fns.get(name)
        if fn is None:
            known = ", ".join(sorted(self._fns)) or "none yet"
            raise NotFoundError(f"no model {name!r} is registered (registered: {known}); call "
                                f"register_model({name!r}, fn) first")
        return fn


def models(database: Database) -> Models:
    """The models registered on the workspace that owns `database`."""
    return database.state(Models)
