"""Automations: a trigger and an action, in one registry for every kind.

A curator on an `IntervalTrigger` is stored in the DuckDB file, so any process runs it.
An aggregation monitor (`AggregationTrigger`) or a test suite (`DatasetVersionTrigger`)
holds Python callables, so it lives in the process that added it (the workspace's
in-process registry); its alerts and runs are stored. Adding, listing, getting and
stopping work the same for every kind, and names are unique across kinds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._names import check_name
from ..errors import AlreadyExistsError, NotFoundError, ValidationError
from ._registry import CuratorRegistry
from .curators import Curator
from .triggers import DatasetVersionTrigger, IntervalTrigger

if TYPE_CHECKING:
    from .._context import AppHandle as Application  # what automations use of one
    from .._context import Context as Workspace  # the parts of a Workspace rooms use

__all__ = ["Automation", "add_automation", "get_automation", "list_automations"]


class Automation:
    """Run `action` when `trigger` says: a curator on an `IntervalTrigger`; a curator, a
    callable or a webhook on an `AggregationTrigger` (`gantry_local.monitoring.alerts`); or a
    test suite (`gantry_local.evaluation.suites.Suite`) on a `DatasetVersionTrigger`.

    Raises:
        ValidationError: a bad name, or a trigger and action that do not go together, at
            definition time.
    """

    def __init__(self, name: str, trigger: Any, action: Any) -> None:
        from ..evaluation.suites import Suite
        from ..monitoring.alerts import AggregationTrigger, check_action

        self.name = check_name(name, "automation name")
        if isinstance(trigger, AggregationTrigger):
            check_action(action)
        elif isinstance(trigger, DatasetVersionTrigger):
            if not isinstance(action, Suite):
                raise ValidationError(f"a DatasetVersionTrigger runs a test suite, got "
                                      f"{type(action).__name__}")
        elif isinstance(trigger, IntervalTrigger):
            if not isinstance(action, Curator):
                raise ValidationError(f"an automation's action must be a curator, got "
                                      f"{type(action).__name__}")
        else:
            raise ValidationError(f"trigger must be an IntervalTrigger, an AggregationTrigger or "
                                  f"a DatasetVersionTrigger, got {type(trigger).__name__}")
        self.trigger = trigger
        self.action = action
        self.application_name: str | None = None  # set when added
        self._stopped = False

    def __repr__(self) -> str:
        return f"Automation(name={self.name!r}, action={self.action!r})"

    @property
    def kind(self) -> str:
        """``"curator"``, ``"monitor"`` or ``"suite"``."""
        if isinstance(self.trigger, IntervalTrigger):
            return "curator"
        return "suite" if isinstance(self.trigger, DatasetVersionTrigger) else "monitor"

    @property
    def stopped(self) -> bool:
        """Whether it no longer runs (a curator automation: its curator is disabled)."""
        if self.kind == "curator" and self.action.workspace is not None:
            return not self.action.enabled
        return self._stopped

    def stop(self) -> None:
        """Stop running it: a curator is disabled (its dataset and runs stay); a monitor no
        longer fires or resolves alerts; a suite no longer runs. It stays listed."""
        if self.kind == "curator":
            if self.action.workspace is not None:
                self.action.disable()
            return
        self._stopped = True


def _in_process(workspace: Workspace) -> dict[str, tuple[str | None, Automation]]:
    """The workspace's in-process automations (monitors and suites): name -> (app, automation)."""
    from ..monitoring._in_process import in_process

    return in_process(workspace.database)


def _check_free(workspace: Workspace, name: str) -> None:
    held = _in_process(workspace).get(name)
    if (held is not None and not held[1].stopped) or \
            CuratorRegistry(workspace).automation_taken(name):
        raise AlreadyExistsError(f"automation {name!r} is already added; choose another name "
                                 "(or stop it first to replace a monitor or suite)")


def register(workspace: Workspace, application: str | None, automation: Automation) -> None:
    """Add a monitor or a suite to the workspace's in-process registry (a stopped one of the
    same name is replaced)."""
    _check_free(workspace, automation.name)
    automation.application_name = application
    automation._stopped = False
    _in_process(workspace)[automation.name] = (application, automation)


def add_automation(application: Application, automation: Automation) -> Automation:
    """Add an automation of any kind to `application`.

    A curator takes the trigger's schedule, is stored and turned on; a monitor's fields,
    tags and kinds are checked against the application; a suite's dataset must belong to
    no other application.

    Raises:
        ValidationError: not an Automation, or it does not fit the application.
        AlreadyExistsError: an automation of that name exists (of any kind).
    """
    if not isinstance(automation, Automation):
        raise ValidationError(f"add_automation takes an Automation, got "
                              f"{type(automation).__name__}")
    workspace = application.workspace
    added = _add(application, workspace, automation)
    from .scheduler import ensure_background

    ensure_background(workspace)  # the seed's promise: added means it runs, no further call
    return added


def _add(application: Application, workspace: Workspace, automation: Automation) -> Automation:
    if automation.kind == "monitor":
        from ..monitoring.alerts import check_monitor

        _check_free(workspace, automation.name)
        check_monitor(application, automation)
        register(workspace, application.name, automation)
        return automation
    if automation.kind == "suite":
        owner = _dataset_application(workspace, automation.trigger.dataset)
        if owner not in (None, application.name):
            raise ValidationError(f"dataset {automation.trigger.dataset!r} belongs to "
                                  f"application {owner!r}, not {application.name!r}")
        register(workspace, application.name, automation)
        return automation
    curator = automation.action
    if curator.application_name != application.name:
        raise ValidationError(f"the curator curates {curator.application_name!r}, not "
                              f"{application.name!r}")
    _check_free(workspace, automation.name)
    curator.start_on = automation.trigger.start_on
    curator.curation_interval = automation.trigger.interval
    curator.curation_delay = automation.trigger.delay
    registry = CuratorRegistry(workspace)
    registry.create(curator, True, automation.name)
    curator._refresh(registry)
    automation.application_name = application.name
    return automation


def _dataset_application(workspace: Workspace, dataset: str) -> str | None:
    try:
        owner = workspace.get_dataset(dataset).app_name
    except NotFoundError:
        return None
    return owner if isinstance(owner, str) else None


def list_automations(application: Application) -> list[Automation]:
    """The application's automations of every kind (stopped ones too), by name."""
    out = []
    for curator in CuratorRegistry(application.workspace).list(application.name):
        if curator.automation_name is not None:
            start = curator.start_on or curator.first_interval_start
            assert start is not None
            trigger = IntervalTrigger(start, curator.curation_interval, curator.curation_delay)
            automation = Automation(curator.automation_name, trigger, curator)
            automation.application_name = application.name
            out.append(automation)
    held = _in_process(application.workspace)
    for name, (app, automation) in list(held.items()):
        if app is None and automation.kind == "suite":  # its dataset may exist by now
            app = _dataset_application(application.workspace, automation.trigger.dataset)
            if app is not None:
                automation.application_name = app
                held[name] = (app, automation)
        if app == application.name:
            out.append(automation)
    return sorted(out, key=lambda a: a.name)


def get_automation(application: Application, name: str) -> Automation:
    """One automation of the application, of any kind.

    Raises:
        NotFoundError: the application has no automation of that name.
    """
    for automation in list_automations(application):
        if automation.name == name:
            return automation
    raise NotFoundError(f"application {application.name!r} has no automation {name!r}")
