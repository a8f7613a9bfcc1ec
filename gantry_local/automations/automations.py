"""Automations: a trigger and an action.

A curator on an `IntervalTrigger` is added to an application and stored, so any process
runs it. A test suite on a `DatasetVersionTrigger` holds Python callables, so it is added
to a running `Scheduler` (``scheduler.add_automation``) and its outcomes are stored.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._names import check_name
from ..errors import NotFoundError, ValidationError
from ._registry import CuratorRegistry
from .curators import Curator
from .triggers import DatasetVersionTrigger, IntervalTrigger

if TYPE_CHECKING:
    from ..applications import Application

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

    def __repr__(self) -> str:
        return f"Automation(name={self.name!r}, action={self.action!r})"

    def stop(self) -> None:
        """Stop running it (a curator is disabled; its dataset and runs stay)."""
        if isinstance(self.action, Curator):
            self.action.disable()
        else:
            self.stopped = True

    stopped = False


def add_automation(application: Application, automation: Automation) -> Automation:
    """Copy the trigger's schedule onto the curator, store it and turn it on."""
    if not isinstance(automation, Automation):
        raise ValidationError(f"add_automation takes an Automation, got "
                              f"{type(automation).__name__}")
    from ..monitoring.alerts import AggregationTrigger, add_monitor

    if isinstance(automation.trigger, AggregationTrigger):
        add_monitor(application, automation)
        return automation
    curator = automation.action
    if not isinstance(curator, Curator) or not isinstance(automation.trigger, IntervalTrigger):
        raise ValidationError("a test-suite automation holds Python callables, so it runs in "
                              "a Scheduler: scheduler.add_automation(automation)")
    if curator.application_name != application.name:
        raise ValidationError(f"the curator curates {curator.application_name!r}, not "
                              f"{application.name!r}")
    curator.start_on = automation.trigger.start_on
    curator.curation_interval = automation.trigger.interval
    curator.curation_delay = automation.trigger.delay
    registry = CuratorRegistry(application.workspace)
    registry.create(curator, True, automation.name)
    curator._refresh(registry)
    return automation


def list_automations(application: Application) -> list[Automation]:
    """The application's automations, by name."""
    out = []
    for curator in CuratorRegistry(application.workspace).list(application.name):
        if curator.automation_name is not None:
            start = curator.start_on or curator.first_interval_start
            assert start is not None
            trigger = IntervalTrigger(start, curator.curation_interval, curator.curation_delay)
            out.append(Automation(curator.automation_name, trigger, curator))
    return sorted(out, key=lambda a: a.name)


def get_automation(application: Application, name: str) -> Automation:
    for automation in list_automations(application):
        if automation.name == name:
            return automation
    raise NotFoundError(f"application {application.name!r} has no automation {name!r}")
