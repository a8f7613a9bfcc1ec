"""Completion applications (Gantry's LLM apps): prompt-template versions as candidates.

A version is a prompt template with ``{{variable}}`` placeholders, a description and a
model name with parameters. Evaluating it renders the template with a row's inputs
and sends the prompt to the model callable registered under that name
(``workspace.register_model(name, fn)``, ``fn(prompt, **model_params) -> str``).
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .._db import run, storage_errors, transaction
from .._names import check_name
from ..clock import to_utc
from ..errors import NotFoundError, ValidationError
from ._models import ModelFn, models

if TYPE_CHECKING:
    from .._context import Context, WorkspaceLike

__all__ = ["CompletionVersion", "ModelFn", "VersionDetails", "create_version", "deploy_version",
           "get_version", "list_versions", "template_variables", "version_uuid"]

_log = logging.getLogger("gantry_local")
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][\w.]*)\s*\}\}")


def template_variables(template: str) -> list[str]:
    """The ``{{variable}}`` names of a prompt template, in first-use order."""
    return list(dict.fromkeys(_PLACEHOLDER.findall(template)))


@dataclass(frozen=True)
class VersionDetails:
    """One version of a completion application's prompt (Gantry's fields first); callable as a
    candidate of `evaluate`.

    Attributes:
        config: ``{"prompt", "prompt_inputs", "model", "params"}`` of the version.
        description: what the version is for.
        app_name: the application's name.
        version_id: the version's UUID (`deploy_version` takes it).
        version_number: 1, 2, ... in the order versions were created.
        workspace: the context of the workspace it belongs to (its registered models).
    """

    config: dict[str, Any]
    description: str
    app_name: str
    version_id: uuid.UUID
    version_number: int
    created_at: datetime | None = field(default=None, compare=False)
    workspace: Context | None = field(default=None, compare=False, repr=False)

    @property
    def id(self) -> str:
        """The version id as text."""
        return str(self.version_id)

    @property
    def number(self) -> int:
        return self.version_number

    @property
    def application(self) -> str:
        return self.app_name

    @property
    def prompt_template(self) -> str:
        return str(self.config["prompt"])

    @property
    def model(self) -> str:
        return str(self.config["model"])

    @property
    def model_params(self) -> dict[str, Any]:
        return dict(self.config["params"])

    @property
    def cache_key(self) -> str:
        """What outputs are cached under: the version id (templates never change)."""
        return f"completion:{self.id}"

    def variables(self) -> list[str]:
        """The template's ``{{variable}}`` names."""
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


CompletionVersion = VersionDetails  # the name before Gantry's


def version_uuid(version_id: Any) -> uuid.UUID:
    """A version id as a UUID (a `uuid.UUID` or its text), else a ValidationError."""
    if isinstance(version_id, uuid.UUID):
        return version_id
    try:
        return uuid.UUID(version_id) if isinstance(version_id, str) else uuid.UUID(int=-1)
    except ValueError:
        pass
    raise ValidationError(f"version_id must be a version's UUID (version.version_id), got "
                          f"{version_id!r:.80}")


def _check_app(workspace: object, application: str) -> Context:
    """The context of `workspace` (narrowed here, at the room's boundary), whose application
    `application` must hold prompt versions."""
    from .._context import narrow

    try:
        context = narrow(workspace)
    except ValidationError:
        raise ValidationError(f"the first argument must be a Workspace, got "
                              f"{type(workspace).__name__}; or call the Application's method"
                              ) from None
    state = context.app_state(application)
    if state.application_type not in ("Completion", "Chat"):
        raise ValidationError(f"application {application!r} is a {state.application_type} "
                              "application; versions need application_type='Completion'")
    return context


def create_version(workspace: WorkspaceLike, application: str, prompt_template: str,
                   description: str, model: str, model_params: Mapping[str, Any] | None = None,
                   prompt_inputs: Sequence[str] | None = None) -> VersionDetails:
    """Store a new prompt version (numbered 1, 2, ...) of a completion application.

    `prompt_inputs` names the template's variables (default: read from the template).
    """
    workspace = _check_app(workspace, application)
    if not isinstance(prompt_template, str) or not prompt_template.strip():
        raise ValidationError("prompt_template must be a non-empty string")
    if not isinstance(description, str):
        raise ValidationError("description must be a string")
    check_name(model, "model name")
    if model_params is not None and not isinstance(model_params, Mapping):
        raise ValidationError(f"model_params must be a dict, got {type(model_params).__name__}")
    params = dict(model_params or {})
    try:
        params_json = json.dumps(params, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"model_params must be JSON-serialisable: {exc}") from exc
    inputs = _prompt_inputs(prompt_template, prompt_inputs)
    version_id = uuid.uuid4()
    now = workspace.clock.now()
    with workspace.database.cursor() as con, storage_errors("creating a completion version"), \
            transaction(con):
        number = int(run(con, "SELECT coalesce(max(number), 0) + 1 FROM _gl_completion_versions "
                         "WHERE application = ?", [application])[0][0])
        run(con, f"INSERT INTO _gl_completion_versions ({_COLUMNS}) VALUES "
            "(?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [str(version_id), number, application, prompt_template, description, model,
             params_json, now, json.dumps(inputs)])
    return _details(workspace, str(version_id), number, application, prompt_template, description,
                    model, params, now, inputs)


def _prompt_inputs(template: str, given: Sequence[str] | None) -> list[str]:
    found = template_variables(template)
    if given is None:
        return found
    if isinstance(given, str) or not isinstance(given, Sequence) or \
            not all(isinstance(name, str) and name for name in given):
        raise ValidationError(f"prompt_inputs must be a list of the template's variable names, "
                              f"got {given!r:.80}")
    absent = [name for name in found if name not in given]
    if absent:
        raise ValidationError(f"the template uses {absent}, missing from prompt_inputs "
                              f"{list(given)}; list every {{{{variable}}}} or leave prompt_inputs "
                              "out")
    return list(dict.fromkeys(given))


_COLUMNS = ("id, number, application, prompt_template, description, model, model_params, "
            "created_at, prompt_inputs")


def _details(workspace: Context, vid: str, number: int, app: str, template: str,
             description: str, model: str, params: dict[str, Any], created: datetime,
             inputs: list[str]) -> VersionDetails:
    config = {"prompt": template, "prompt_inputs": inputs, "model": model, "params": params}
    return VersionDetails(config, description, app, uuid.UUID(vid), int(number), to_utc(created),
                          workspace)


def _version(workspace: Context, row: tuple[Any, ...]) -> VersionDetails:
    vid, number, app, template, description, model, params, created, inputs = row
    return _details(workspace, vid, number, app, template, description, model, json.loads(params),
                    created, json.loads(inputs) if inputs else template_variables(template))


def get_version(workspace: WorkspaceLike, application: str, version: str | int
                ) -> VersionDetails | None:
    """A version by ``"latest"``, the environment it is deployed to (``"prod"``), or its number;
    None when there is none (nothing deployed there yet), as Gantry."""
    workspace = _check_app(workspace, application)
    if isinstance(version, bool) or not isinstance(version, (str, int)):
        raise ValidationError(f"version must be a number, 'latest' or an environment, got "
                              f"{version!r}")
    columns = ", ".join("v." + c.strip() for c in _COLUMNS.split(","))
    with workspace.database.cursor() as con, storage_errors("reading completion versions"):
        if version == "latest":
            rows = run(con, f"SELECT {columns} FROM _gl_completion_versions v WHERE "
                       "application = ? ORDER BY number DESC LIMIT 1", [application])
        elif isinstance(version, int):
            rows = run(con, f"SELECT {columns} FROM _gl_completion_versions v WHERE "
                       "application = ? AND number = ?", [application, version])
        else:
            rows = run(con, f"SELECT {columns} FROM _gl_completion_deployments d JOIN "
                       "_gl_completion_versions v ON v.id = d.version_id WHERE d.application = ? "
                       "AND d.env = ?", [application, version])
    if not rows:
        _log.warning("No version found for %r of application %r", version, application)
        return None
    return _version(workspace, tuple(rows[0]))


def list_versions(workspace: WorkspaceLike, application: str) -> list[VersionDetails]:
    """Every version of a completion application, oldest first."""
    workspace = _check_app(workspace, application)
    with workspace.database.cursor() as con, storage_errors("reading completion versions"):
        rows = run(con, f"SELECT {_COLUMNS} FROM _gl_completion_versions WHERE application = ? "
                   "ORDER BY number", [application])
    return [_version(workspace, tuple(r)) for r in rows]


def deploy_version(workspace: WorkspaceLike, application: str, version_id: uuid.UUID | str,
                   env: str) -> None:
    """Point environment `env` (e.g. "prod") at a version; `get_version(env)` then returns it.

    Raises:
        ValidationError: `version_id` is not a UUID, or a bad environment name.
        NotFoundError: the application has no such version.
    """
    workspace = _check_app(workspace, application)
    check_name(env, "environment")
    vid = str(version_uuid(version_id))
    with workspace.database.cursor() as con, storage_errors("deploying a completion version"), \
            transaction(con):
        if not run(con, "SELECT 1 FROM _gl_completion_versions WHERE application = ? AND id = ?",
                   [application, vid]):
            raise NotFoundError(f"application {application!r} has no version with id {vid!r}")
        run(con, "INSERT OR REPLACE INTO _gl_completion_deployments VALUES (?, ?, ?, ?)",
            [application, env, vid, workspace.clock.now()])
    _log.info("Version %s was successfully deployed in %s", vid, env)
