"""A curator turns on its workspace's background loop through what its context was handed
(`Context.start_background`, passed down by the façade), not through a hidden registration
by the scheduler module."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import gantry_local as gantry
from gantry_local._context import narrow
from gantry_local.automations.curators import UniformCurator
from gantry_local.automations.scheduler import background_scheduler


def test_create_and_enable_call_the_starter_the_context_holds(ws: gantry.Workspace) -> None:
    ws.create_application("m")
    calls: list[str] = []
    context = dataclasses.replace(narrow(ws), start_background=lambda: calls.append("start"))
    curator = UniformCurator("c", "m", 5).create(workspace=context)
    assert calls == ["start"]
    curator.disable()
    assert calls == ["start"]
    curator.enable()
    assert calls == ["start", "start"]
    UniformCurator("off", "m", 5).create(enable=False, workspace=context)
    assert calls == ["start", "start"]


def test_a_context_without_a_loop_starts_none(ws: gantry.Workspace) -> None:
    ws.create_application("m")
    context = dataclasses.replace(narrow(ws), start_background=None)
    UniformCurator("c", "m", 5).create(workspace=context).enable()
    assert background_scheduler(ws) is None


def test_the_workspace_hands_its_loop_down(tmp_path: Path, clock: gantry.ManualClock) -> None:
    with gantry.Workspace(db=tmp_path / "bg.duckdb", clock=clock,
                          background_scheduler=True) as ws:
        ws.create_application("m")
        assert background_scheduler(ws) is None
        UniformCurator("c", "m", 5).create(workspace=ws)
        running = background_scheduler(ws)
        assert running is not None and running.background


def test_nothing_registers_a_starter_any_more() -> None:
    import importlib.util

    assert importlib.util.find_spec("gantry_local.automations._background") is None
