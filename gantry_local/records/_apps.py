"""The applications of one workspace by name: the state logging and queries look up."""

from __future__ import annotations

from collections.abc import Callable

from ..errors import NotFoundError, ValidationError
from ._single import AppState

__all__ = ["AppStates"]


class AppStates:
    """The live applications of a workspace by name, and the archived ones kept aside.

    Args:
        check_open: raises once the workspace is closed (every lookup calls it first).
    """

    def __init__(self, check_open: Callable[[], None]) -> None:
        self.live: dict[str, AppState] = {}
        self.archived: dict[str, AppState] = {}  # archive_application: kept, not listed
        self._check_open = check_open

    def get(self, name: object) -> AppState:
        """The state of application `name` (a name, or anything with a ``name``).

        Raises:
            ValidationError: `name` is neither a name nor an Application.
            NotFoundError: there is no such live application (the message lists them).
        """
        self._check_open()
        if not isinstance(name, str):
            name = getattr(name, "name", name)
            if not isinstance(name, str):
                raise ValidationError(f"application must be a name or an Application, got "
                                      f"{type(name).__name__}")
        state = self.live.get(name)
        if state is None and name in self.archived:
            raise NotFoundError(f"application {name!r} was archived (its records are kept); "
                                "delete_application() removes it, then create it again")
        if state is None:
            known = ", ".join(sorted(self.live)) or "none yet"
            raise NotFoundError(f"no application {name!r} (known: {known}); create it with "
                                "create_application()")
        return state

    def names(self) -> list[str]:
        """The names of the live applications, sorted."""
        self._check_open()
        return sorted(self.live)

    def by_uid(self, uid: int) -> AppState | None:
        """The live state whose incarnation is `uid` (None once it was deleted)."""
        for state in list(self.live.values()):
            if state.uid == uid:
                return state
        return None
