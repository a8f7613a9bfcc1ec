"""Completion applications (Gantry's LLM apps): prompt-template versions as candidates.

A version is a prompt template with ``{{variable}}`` placeholders, a description and a
model name with parameters. Evaluating it renders the template with a row's inputs
and sends the prompt to the model callable registered under that name
(``workspace.register_model(name, fn)``, ``fn(prompt, **model_params) -> str``).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .._db import run, storage_errors, transaction
from .._names import check_name
from ..clock import to_utc
from ..errors import NotFoundError, ValidationError
from ._models import ModelFn, models

if TYPE_CHECKING:
    from .._context import Context as Workspace  # the parts of a Workspace rooms use

__all__ = ["CompletionVersion", "ModelFn", "create_version", "deploy_version", "get_version",
           "list_versions", "template_variables"]

_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][\w.]*)\s*\}\}")


def template_variables(template: str) -> list[str]:
    """The ``{{variable}}`` names of a prompt template, in first-use order."""
    return list(dict.fromkeys(_PLACEHOLDER.findall(template)))


@dataclass(frozen=True)
class CompletionVersion:
    """One version of a completion application's prompt; callable as a candidate."""

    id: str
    number: int
    application: str
    prompt_template: str
    description: str
    model: str
    model_params: dict[str, Any]
    created_at: datetime
    workspace: Workspace | None = field(default=None, compare=False, repr=False)

    @property
    def cache_key(self) -> str:
        """What outputs are cached under: the version id (templates never change)."""
        return f"completion:{self.id}"

    def variables(self) -> list[str]:
        return template_variables(self.prompt_template)

    def missing(self, inputs: Mapping[str, Any]) -> list[str]:
        """The template's variables that `inputs` lacks."""
        return [name for name in self.variables() if name not in inputs]

    def render(self, inputs: Mapping[str, Any]) -> str:
        """The prompt for one row.

        Raises:
            ValidationError: a template variable is missing from `inputs`.
        """
        if not isinstance(inputs, Mapping):
            raise ValidationError(f"a prompt is rendered from a dict of inputs, got "
                                  f"{type(inputs).__name__}")
        absent = self.missing(inputs)
        if absent:
            raise ValidationError(f"prompt version {self.number} of {self.application!r} needs "
                                  f"{absent}, the row has {sorted(inputs)}")
        return _PLACEHOLDER.sub(lambda m: str(inputs[m.group(1)]), self.prompt_template)

    def model_fn(self) -> ModelFn:
        """The model callable registered under `model` in the workspace."""
        if self.workspace is None:
            raise ValidationError("this completion version is not attached to a workspace")
        return models(self.workspace.database).get(self.model)

    def __call__(self, inputs: Mapping[str, Any]) -> Any:
        return self.model_fn()(self.render(inputs), **self.model_params)


def _check_app(workspace: Workspace, application: str) -> None:
    from .._context import Context as Workspace  # the parts of a Workspace rooms use

    if not isinstance(workspace, Workspace):
        raise ValidationError(f"the first argument must be a Workspace, got "
                              f"{type(workspace).__name__}; or call the Application's method")
    state = workspace._app_state(application)
    if state.application_type != "Completion":
        raise ValidationError(f"application {application!r} is a {state.application_type} "
                              "application; versions need application_type='Completion'")


def create_version(workspace: Workspace, application: str, prompt_template: str,
                   description: str, model: str, model_params: Mapping[str, Any] | None = None
                   ) -> CompletionVersion:
    """Store a new prompt version (numbered 1, 2, ...) of a completion application."""
    _check_app(workspace, application)
    if not isinstance(prompt_template, str) or not prompt_template.strip():
        raise ValidationError("prompt_template must be a non-empty string")
    if not isinstance(description, str):
        raise ValidationError("description must be a string")
    check_name(model, "model name")
    if model_params is not None and not isinstance(model_params, Mapping):
        raise ValidationError(f"model_params must be a dict, got {type(model_params).__name__}")
    params = dict(model_params or {})
    try:
        params_json = json.dumps(params, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"model_params must be JSON-serialisable: {exc}") from exc
    version_id = str(uuid.uuid4())
    now = workspace.clock.now()
    with workspace.database.cursor() as con, storage_errors("creating a completion version"), \
            transaction(con):
        number = int(run(con, "SELECT coalesce(max(number), 0) + 1 FROM _gl_completion_versions "
                         "WHERE application = ?", [application])[0][0])
        run(con, "INSERT INTO _gl_completion_versions VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [application, number, version_id, prompt_template, description, model, params_json,
             now])
    return CompletionVersion(version_id, number, application, prompt_template, description, model,
                             params, to_utc(now), workspace)


_COLUMNS = "id, number, application, prompt_template, description, model, model_params, created_at"


def _version(workspace: Workspace, row: tuple[Any, ...]) -> CompletionVersion:
    vid, number, app, template, description, model, params, created = row
    return CompletionVersion(vid, int(number), app, template, description, model,
                             json.loads(params), to_utc(created), workspace)


def get_version(workspace: Workspace, application: str, which: str | int = "latest"
                ) -> CompletionVersion:
    """A version by number, ``"latest"``, or the name of an environment it is deployed to."""
    _check_app(workspace, application)
    if isinstance(which, bool) or not isinstance(which, (str, int)):
        raise ValidationError(f"version must be a number, 'latest' or an environment, got "
                              f"{which!r}")
    with workspace.database.cursor() as con, storage_errors("reading completion versions"):
        if which == "latest":
            rows = run(con, f"SELECT {_COLUMNS} FROM _gl_completion_versions WHERE application = ? "
                       "ORDER BY number DESC LIMIT 1", [application])
        elif isinstance(which, int):
            rows = run(con, f"SELECT {_COLUMNS} FROM _gl_completion_versions WHERE application = ? "
                       "AND number = ?", [application, which])
        else:
            rows = run(con, f"SELECT {', '.join('v.' + c.strip() for c in _COLUMNS.split(','))} "
                       "FROM _gl_completion_deployments d JOIN _gl_completion_versions v "
                       "ON v.id = d.version_id WHERE d.application = ? AND d.env = ?",
                       [application, which])
    if not rows:
        raise NotFoundError(f"application {application!r} has no version {which!r} (versions are "
                            "numbers, 'latest', or an environment a version is deployed to)")
    return _version(workspace, tuple(rows[0]))


def list_versions(workspace: Workspace, application: str) -> list[CompletionVersion]:
    """Every version of a completion application, oldest first."""
    _check_app(workspace, application)
    with workspace.database.cursor() as con, storage_errors("reading completion versions"):
        rows = run(con, f"SELECT {_COLUMNS} FROM _gl_completion_versions WHERE application = ? "
                   "ORDER BY number", [application])
    return [_version(workspace, tuple(r)) for r in rows]


def deploy_version(workspace: Workspace, application: str, version_id: str, env: str) -> None:
    """Point environment `env` (e.g. "prod") at a version; `get_version(env)` then returns it."""
    _check_app(workspace, application)
    check_name(env, "environment")
    with workspace.database.cursor() as con, storage_errors("deploying a completion version"), \
            transaction(con):
        if not run(con, "SELECT 1 FROM _gl_completion_versions WHERE application = ? AND id = ?",
                   [application, version_id]):
            raise NotFoundError(f"application {application!r} has no version with id "
                                f"{version_id!r}")
        run(con, "INSERT OR REPLACE INTO _gl_completion_deployments VALUES (?, ?, ?, ?)",
            [application, env, version_id, workspace.clock.now()])
