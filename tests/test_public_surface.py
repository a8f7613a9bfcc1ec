"""The public surface, pinned the httpx way: each package's ``__all__`` is exactly the public
names it defines (a leak fails, not only a removal), public methods return real types, and
the signatures the façades repeat (module function, `Workspace`, `Application`, the rooms)
agree."""

from __future__ import annotations
import __future__

import importlib
import inspect
import pkgutil
import types
from collections.abc import Callable
from typing import Any

import pytest

import gantry_local
from gantry_local import _default, monitoring
from gantry_local.automations import automations
from gantry_local.datasets import DatasetRegistry
from gantry_local.evaluation import completion
from gantry_local.monitoring import alerts
from gantry_local.monitoring.report import write_report

# Every package, found (not listed), so a new subpackage is pinned from the start.
PACKAGES = ["gantry_local", *sorted(
    m.name for m in pkgutil.walk_packages(gantry_local.__path__, "gantry_local.") if m.ispkg)]


def _public_names(module: types.ModuleType) -> set[str]:
    """Names a module defines or imports for users: not private, not submodules (a module
    is public when `__all__` lists it), not ``from __future__`` features."""
    names = set()
    for name, value in vars(module).items():
        if name.startswith("_") or isinstance(value, __future__._Feature):
            continue
        if isinstance(value, types.ModuleType) and name not in getattr(module, "__all__", ()):
            continue
        names.add(name)
    return names


@pytest.mark.parametrize("name", PACKAGES)
def test_all_is_exactly_what_the_package_defines(name: str) -> None:
    module = importlib.import_module(name)
    assert hasattr(module, "__all__"), f"{name} has no __all__"
    exported = set(module.__all__) - {"__version__"}
    defined = _public_names(module)
    assert defined - exported == set(), f"{name} leaks names missing from __all__"
    assert exported - defined == set(), f"{name}.__all__ names what it does not define"
    assert len(module.__all__) == len(set(module.__all__)), f"{name}.__all__ repeats a name"


def test_version_comes_from_the_installed_package() -> None:
    from importlib.metadata import version

    assert gantry_local.__version__ == version("gantry-local")


def _exported_classes() -> list[tuple[str, type]]:
    classes = []
    for package in PACKAGES:
        module = importlib.import_module(package)
        for name in module.__all__:
            value = getattr(module, name)
            if isinstance(value, type) and not issubclass(value, BaseException):
                classes.append((f"{package}.{name}", value))
    return classes


@pytest.mark.parametrize(("where", "cls"), _exported_classes())
def test_public_methods_return_real_types(where: str, cls: type) -> None:
    for name, member in inspect.getmembers(cls, inspect.isfunction):
        if name.startswith("_") or member.__qualname__.split(".")[0] != cls.__name__:
            continue
        returns = inspect.signature(member).return_annotation
        assert returns is not inspect.Signature.empty, f"{where}.{name} has no return type"
        assert returns not in ("Any", Any), f"{where}.{name} returns Any"


def _exported_functions() -> list[tuple[str, Callable[..., Any]]]:
    return [(f"{package}.{name}", getattr(module, name))
            for package in PACKAGES for module in [importlib.import_module(package)]
            for name in module.__all__ if inspect.isfunction(getattr(module, name))]


@pytest.mark.parametrize(("where", "fn"), _exported_functions())
def test_public_functions_return_real_types(where: str, fn: Callable[..., Any]) -> None:
    returns = inspect.signature(fn).return_annotation
    assert returns is not inspect.Signature.empty, f"{where} has no return type"
    assert returns not in ("Any", Any), f"{where} returns Any"


def _parameters(fn: Callable[..., Any], drop: int) -> list[tuple[str, str, object]]:
    """(name, kind, default) of each parameter after the first `drop`."""
    params = list(inspect.signature(fn).parameters.values())[drop:]
    return [(p.name, p.kind.name, p.default) for p in params]


# module function of the default workspace -> the Workspace method (same parameters)
MODULE_FUNCTIONS = sorted(name for name in _default.__all__
                          if hasattr(gantry_local.Workspace, name))


@pytest.mark.parametrize("name", MODULE_FUNCTIONS)
def test_module_functions_repeat_the_workspace_signature(name: str) -> None:
    assert _parameters(getattr(_default, name), 0) == \
        _parameters(getattr(gantry_local.Workspace, name), 1)


@pytest.mark.parametrize("name", ["create_dataset", "get_dataset", "list_datasets",
                                  "delete_dataset", "restore_dataset", "list_dataset_versions",
                                  "set_working_directory", "gc"])
def test_workspace_dataset_methods_repeat_the_registry(name: str) -> None:
    assert _parameters(getattr(gantry_local.Workspace, name), 1) == \
        _parameters(getattr(DatasetRegistry, name), 1)


@pytest.mark.parametrize("name", ["log_record", "log_records"])
def test_application_logging_repeats_the_workspace_after_the_application(name: str) -> None:
    assert _parameters(getattr(gantry_local.Application, name), 1) == \
        _parameters(getattr(gantry_local.Workspace, name), 2)


# Application method -> the room function it calls with (workspace, application, ...)
ROOM_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "summarize": monitoring.summarize,
    "drift": monitoring.drift,
    "drift_over_time": monitoring.drift_over_time,
    "metrics": monitoring.metrics_over_time,
    "report": write_report,
    "list_alerts": alerts.list_alerts,
    "create_version": completion.create_version,
    "get_version": completion.get_version,
    "list_versions": completion.list_versions,
    "deploy_version": completion.deploy_version,
}


@pytest.mark.parametrize("name", sorted(ROOM_FUNCTIONS))
def test_application_methods_repeat_their_room_function(name: str) -> None:
    assert _parameters(getattr(gantry_local.Application, name), 1) == \
        _parameters(ROOM_FUNCTIONS[name], 2)


@pytest.mark.parametrize("name", ["add_automation", "list_automations", "get_automation"])
def test_application_automation_methods_repeat_the_registry(name: str) -> None:
    assert _parameters(getattr(gantry_local.Application, name), 1) == \
        _parameters(getattr(automations, name), 1)
