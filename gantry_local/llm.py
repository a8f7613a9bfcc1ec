"""Completion applications (Gantry's ``gantry.applications.llm``): prompt versions and LLM logs.

``create_application(name, application_type="Completion")`` returns a `CompletionApplication`:
an `Application` with prompt versions (`create_version`, `get_version`, `deploy_version`) and
`log_llm_data`, which stores an OpenAI-style request/response pair as one record.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Mapping
from typing import Any, TypeVar

from ._limits import shown
from .applications import Application, Owner
from .errors import ValidationError
from .evaluation.completion import VersionDetails

__all__ = ["ChatApplication", "CompletionApplication", "VersionDetails", "application_object"]


_W = TypeVar("_W", bound=Owner, covariant=True)  # the workspace type (see `Application`)
_O = TypeVar("_O", bound=Owner)


class CompletionApplication(Application[_W]):
    """A completion application: an `Application` with prompt versions and `log_llm_data`."""

    def log_llm_data(self, api_request: dict[str, Any], api_response: dict[str, Any],
                     request_attributes: dict[str, Any] | None = None,
                     response_attributes: dict[str, Any] | None = None,
                     feedback: dict[str, Any] | None = None, selected_choice_index: int = 0,
                     session_id: str | uuid.UUID | None = None,
                     tags: dict[str, str] | None = None, version: int | None = None,
                     vendor: str = "openai") -> None:
        """Log an LLM request and its response as one record.

        Inputs: ``model``, ``prompt`` (or ``messages`` as JSON for chat requests), the
        request's other scalar parameters, `request_attributes`, and the whole request as
        JSON (``api_request``). Outputs: ``completion`` (the selected choice's text or
        message), ``finish_reason``, the token counts of ``usage``, `response_attributes`, and
        the whole response (``api_response``). Tags: `tags`, ``vendor``, ``version_number``
        and ``session_id`` when given.

        Raises:
            ValidationError: a request or response that is not an OpenAI-style dict, a
                choice index out of range, or bad attributes (nothing is logged).
        """
        _log_llm_data(self, api_request, api_response, request_attributes, response_attributes,
                      feedback, selected_choice_index, session_id, tags, version, vendor)


class ChatApplication(Application[_W]):
    """A chat application (``application_type="Chat"``): prompt versions for chat models and
    `log_llm_data` for OpenAI chat requests and responses, as Gantry's."""

    def log_llm_data(self, api_request: dict[str, Any], api_response: dict[str, Any],
                     request_attributes: dict[str, Any] | None = None,
                     response_attributes: dict[str, Any] | None = None,
                     feedback: dict[str, Any] | None = None, selected_choice_index: int = 0,
                     session_id: str | uuid.UUID | None = None,
                     tags: dict[str, str] | None = None, version: int | None = None) -> None:
        """Log an OpenAI chat request (``messages``) and its response as one record, as
        `CompletionApplication.log_llm_data` does (the ``vendor`` tag is ``openai-chat``)."""
        _log_llm_data(self, api_request, api_response, request_attributes, response_attributes,
                      feedback, selected_choice_index, session_id, tags, version, _CHAT_VENDOR)


_CHAT_VENDOR = "openai-chat"


def _log_llm_data(app: Application[Owner], api_request: dict[str, Any], api_response: dict[str, Any],
                  request_attributes: dict[str, Any] | None,
                  response_attributes: dict[str, Any] | None, feedback: dict[str, Any] | None,
                  selected_choice_index: int, session_id: str | uuid.UUID | None,
                  tags: dict[str, str] | None, version: int | None, vendor: str) -> None:
    """`log_llm_data` of either kind of LLM application (see `CompletionApplication`)."""
    request = _json_object(api_request, "api_request")
    response = _json_object(api_response, "api_response")
    choice = _choice(response, selected_choice_index)
    if not isinstance(vendor, str) or not vendor:
        raise ValidationError(f"vendor must be a non-empty string such as 'openai', got "
                              f"{shown(vendor)}")
    if version is not None and (isinstance(version, bool) or not isinstance(version, int)):
        raise ValidationError(f"version must be a version number (an integer) or None, got "
                              f"{shown(version)}")
    if session_id is not None and not isinstance(session_id, (str, uuid.UUID)):
        raise ValidationError(f"session_id must be a string or a UUID, got {shown(session_id)}")
    inputs = {**_request_fields(request),
              **_attributes(request_attributes, "request_attributes"),
              "api_request": json.dumps(request, sort_keys=True)}
    outputs = {**_response_fields(response, choice),
               **_attributes(response_attributes, "response_attributes"),
               "api_response": json.dumps(response, sort_keys=True)}
    all_tags = {**_attributes(tags, "tags"), "vendor": vendor}
    if version is not None:
        all_tags["version_number"] = str(version)
    if session_id is not None:
        all_tags["session_id"] = str(session_id)
    app.log_record(inputs=inputs, outputs=outputs,
                   feedback=_attributes(feedback, "feedback") or None, tags=all_tags,
                   version=version)


def _json_object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ValidationError(f"{what} must be a dict (the OpenAI {what.split('_')[1]} as a "
                              f"dict), got {type(value).__name__}")
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"{what} must hold JSON values only: {exc}") from None
    return dict(value)


def _choice(response: dict[str, Any], index: Any) -> dict[str, Any]:
    choices = response.get("choices")
    if not isinstance(choices, list) or not choices:
        raise ValidationError("api_response has no 'choices' list (an OpenAI completion or chat "
                              "response has one)")
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(choices):
        raise ValidationError(f"selected_choice_index must be an integer from 0 to "
                              f"{len(choices) - 1}, got {shown(index)}")
    choice = choices[index]
    if not isinstance(choice, dict):
        raise ValidationError(f"choice {index} of api_response is not a dict")
    return choice


def _scalar(value: Any) -> bool:
    return isinstance(value, (str, bool, int)) or (isinstance(value, float)
                                                  and math.isfinite(value))


def _request_fields(request: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in request.items() if _scalar(v) and k not in ("messages", "prompt")}
    if "prompt" in request:
        prompt = request["prompt"]
        out["prompt"] = prompt if isinstance(prompt, str) else json.dumps(prompt)
    if "messages" in request:
        out["messages"] = json.dumps(request["messages"])
    return out


def _response_fields(response: dict[str, Any], choice: dict[str, Any]) -> dict[str, Any]:
    text = choice.get("text")
    message = choice.get("message")
    if text is None and isinstance(message, dict):
        text = message.get("content")
        if text is None and message.get("function_call") is not None:
            text = json.dumps(message["function_call"])
    out: dict[str, Any] = {"completion": text if isinstance(text, str) else None}
    if isinstance(choice.get("finish_reason"), str):
        out["finish_reason"] = choice["finish_reason"]
    usage = response.get("usage")
    if isinstance(usage, dict):
        out.update({k: v for k, v in usage.items() if isinstance(v, int)
                    and not isinstance(v, bool)})
    return out


def _attributes(value: Any, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise ValidationError(f"{what} must be a dict with string keys, got {shown(value)}")
    return dict(value)


def application_object(workspace: _O, name: str, application_type: str) -> Application[_O]:
    """The handle `get_application` returns: a `CompletionApplication` for completion apps, a
    `ChatApplication` for chat apps."""
    if application_type == "Completion":
        return CompletionApplication(workspace, name, application_type)
    if application_type == "Chat":
        return ChatApplication(workspace, name, application_type)
    return Application(workspace, name, application_type)
