"""Checked by mypy (`make test`, see ``[tool.mypy]`` in pyproject), not run by pytest: what a
user's type checker sees of an application's workspace. ``assert_type`` fails mypy when
the type differs (``Any`` included), so `Application` losing its workspace's type fails."""

from __future__ import annotations

import sys

import gantry_local as gantry
from gantry_local.applications import Application
from gantry_local.llm import ChatApplication, CompletionApplication, application_object
from gantry_local.records.query import Query

if sys.version_info >= (3, 11):
    from typing import assert_type
else:
    from typing_extensions import assert_type


def workspace_of_an_application(ws: gantry.Workspace) -> None:
    """`create_application` and `get_application` give the Workspace back, typed."""
    app = ws.create_application("x")
    assert_type(app, Application[gantry.Workspace])
    assert_type(app.workspace, gantry.Workspace)
    assert_type(ws.get_application("x").workspace, gantry.Workspace)
    assert_type(app.workspace.query("x"), Query)
    assert_type(app.workspace.register_model("m", len), None)  # beyond what Application uses


def workspace_of_the_default_workspace() -> None:
    """The module functions too."""
    assert_type(gantry.create_application("x").workspace, gantry.Workspace)
    assert_type(gantry.get_application("x").workspace, gantry.Workspace)


def workspace_of_a_producer(ws: gantry.ProducerWorkspace) -> None:
    """A producer's applications: typed as the Workspace it is."""
    assert_type(ws.get_application("x").workspace, gantry.Workspace)


def workspace_of_llm_applications(ws: gantry.Workspace) -> None:
    """Completion and chat applications carry their workspace's type the same way."""
    completion = CompletionApplication(ws, "c", "Completion")
    assert_type(completion.workspace, gantry.Workspace)
    chat = ChatApplication(ws, "c", "Chat")
    assert_type(chat.workspace, gantry.Workspace)
    assert_type(application_object(ws, "c", "Chat").workspace, gantry.Workspace)
