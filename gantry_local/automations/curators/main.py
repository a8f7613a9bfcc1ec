"""Module functions over the stored curators (Gantry 0.6's ``curators.main``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..._context import narrow_or_default
from ..._names import check_name
from .curators import Curator, registry_of

if TYPE_CHECKING:
    from ..._context import WorkspaceLike

__all__ = ["get_all_curators", "get_curator", "list_curators"]


def _application(application_name: str | None) -> str | None:
    return None if application_name is None else check_name(application_name,
                                                            "application name")


def get_all_curators(application_name: str | None = None,
                     workspace: WorkspaceLike | None = None) -> list[Curator]:
    """The stored curators, by name (of one application if given; the default workspace
    unless given); one whose definition cannot be read is left out with a warning.

    Raises:
        NotFoundError: `application_name` names no application.
    """
    registry = registry_of(narrow_or_default(workspace))
    application = _application(application_name)
    if application is not None:
        registry.context.app_state(application)
    return registry.list(application)


def list_curators(application_name: str | None = None,
                  workspace: WorkspaceLike | None = None) -> list[str]:
    """The names of the stored curators (of one application if given), as Gantry returns.

    Raises:
        NotFoundError: `application_name` names no application.
    """
    return [c.name for c in get_all_curators(application_name, workspace)]


def get_curator(name: str, workspace: WorkspaceLike | None = None) -> Curator:
    """A stored curator (rebuilt from its definition as a `Curator` with the same selectors).

    Raises:
        NotFoundError: no curator of that name.
        IntegrityError: its stored definition cannot be read.
    """
    curator: Curator = registry_of(narrow_or_default(workspace)).get(check_name(name, "curator name"))
    return curator
