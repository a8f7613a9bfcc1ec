"""Gantry SDK 0.6's completion-application docstring examples (gantry/applications/llm.py), run
with only the import changed; then log_llm_data's records and its bad inputs."""

from __future__ import annotations

import importlib
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import gantry_local as gantry
from gantry_local.errors import ValidationError
from gantry_local.llm import CompletionApplication, VersionDetails


@pytest.fixture
def gantry_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.chdir(tmp_path)
    gantry.init()
    gantry.create_application("my_llm_app", application_type="Completion")
    gantry.create_application("my-llm-app", application_type="Completion")
    yield
    gantry.get_workspace().close()


def test_create_version_example_text_model(gantry_cwd: None) -> None:
    my_llm_app = gantry.get_application("my_llm_app")

    my_llm_app.create_version(
        prompt_template="This is a prompt template. {{input1}} {{input2}}",
        description="My first version",
        model="text-davinci-001",
        model_params={"temperature": 0.5},
        prompt_inputs=["input1", "input2"],
    )

    version = my_llm_app.get_version("latest")
    assert isinstance(my_llm_app, CompletionApplication) and isinstance(version, VersionDetails)
    assert version.config == {"prompt": "This is a prompt template. {{input1}} {{input2}}",
                              "prompt_inputs": ["input1", "input2"], "model": "text-davinci-001",
                              "params": {"temperature": 0.5}}
    assert (version.description, version.app_name, version.version_number) == (
        "My first version", "my_llm_app", 1)
    assert isinstance(version.version_id, uuid.UUID)


def test_create_version_example_chat_model_with_functions(gantry_cwd: None) -> None:
    my_llm_app = gantry.get_application("my_llm_app")

    my_llm_app.create_version(
        prompt_template=(
            "Assistant: you are a helpful assistant\\n\\n"
            "User: What's the weather in Boston?"
        ),
        description="My first version",
        model="gpt-4",
        model_params={
            "temperature": 1,
            "function_call": "auto",
            "functions": [
                {
                    "name": "get_current_weather",
                    "description": "Get the current weather in a given location",
                    "parameters": {
                        "type": "object",
                        "properties": {
                            "location": {
                                "type": "string",
                                "description": "The city and state, e.g. San Francisco, CA"
                            },
                            "unit": {
                                "type": "string",
                                "enum": ["celsius", "fahrenheit"]
                            }
                        },
                        "required": ["location"]
                    }
                }
            ]
        }
    )

    version = my_llm_app.get_version("latest")
    assert version is not None and version.config["params"]["function_call"] == "auto"
    assert version.config["prompt_inputs"] == []


def test_create_version_example_cohere_model(gantry_cwd: None) -> None:
    my_llm_app = gantry.get_application("my_llm_app")

    created = my_llm_app.create_version(
        prompt_template="This is a prompt template. {{input1}} {{input2}}",
        description="My first version",
        model="command",
        model_params={"max_tokens": 500},
        prompt_inputs=["input1", "input2"],
    )
    assert my_llm_app.get_version("latest") == created


def test_get_version_and_deploy_version_examples(gantry_cwd: None) -> None:
    my_llm_app = gantry.get_application("my_llm_app")
    assert my_llm_app.get_version("prod") is None  # nothing deployed: None, as Gantry
    assert my_llm_app.get_version("latest") is None
    my_llm_app.create_version("Say {{x}}", "v1", "m")

    my_llm_app = gantry.get_application("my_llm_app")
    version = my_llm_app.get_version("latest")
    my_llm_app.deploy_version(version.version_id, "prod")

    my_llm_app.get_version("prod")

    assert my_llm_app.get_version("prod") == version
    assert my_llm_app.get_version("test") is None


class _Completion:
    """Stands in for ``openai.Completion`` (no network in tests): an OpenAI-shaped response."""

    @staticmethod
    def create(**request: Any) -> dict[str, Any]:
        return {"id": "cmpl-1", "object": "text_completion", "model": request["model"],
                "choices": [{"text": f"echo: {request['prompt']}", "index": 0,
                             "finish_reason": "stop", "logprobs": None}],
                "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}}


def test_log_llm_data_example(gantry_cwd: None) -> None:
    openai_completion = _Completion
    gantry.get_application("my-llm-app").create_version("Tell me about {{topic}}", "v1",
                                                        "text-davinci-002")
    gantry.get_application("my-llm-app").deploy_version(
        gantry.get_application("my-llm-app").get_version("latest").version_id, "test")

    # The example, with the openai call replaced by the stand-in above (Gantry's import of
    # fill_prompt, only `gantry` changed: gantry_local.applications.llm_utils is an alias)
    fill_prompt = importlib.import_module("gantry_local.applications.llm_utils").fill_prompt
    gantry.init()
    my_llm_app = gantry.get_application("my-llm-app")

    version = my_llm_app.get_version("test")
    # "latest", "prod", or "test"
    config = version.config
    prompt = config['prompt']

    def generate(values: dict[str, Any]) -> dict[str, Any]:
        filled_in_prompt = fill_prompt(prompt, values)
        request = {
            "model": "text-davinci-002",
            "prompt": filled_in_prompt,
        }
        results = openai_completion.create(**request)

        my_llm_app.log_llm_data(
            api_request=request,
            api_response=results,
            request_attributes={"prompt_values": values},
            version=version.version_number,
        )

        return results

    generate({"topic": "ducks"})
    gantry.flush()
    row = gantry.get_application("my-llm-app").query(all_time=True).to_polars().row(0, named=True)
    assert row["inputs.prompt"] == "Tell me about ducks"
    assert row["inputs.model"] == "text-davinci-002"
    assert row["inputs.prompt_values.topic"] == "ducks"
    assert row["outputs.completion"] == "echo: Tell me about ducks"
    assert row["outputs.finish_reason"] == "stop" and row["outputs.total_tokens"] == 12
    assert json.loads(row["outputs.api_response"])["id"] == "cmpl-1"
    assert row["tags.version_number"] == "1" and row["tags.vendor"] == "openai"
    assert row["__version"] == "1"


def test_log_llm_data_chat_response_choice_and_session(gantry_cwd: None) -> None:
    app = gantry.get_application("my-llm-app")
    request = {"model": "gpt-4", "temperature": 0,
               "messages": [{"role": "user", "content": "hi"}]}
    response = {"choices": [{"message": {"role": "assistant", "content": "hello"}},
                            {"message": {"role": "assistant", "content": "hey"}}]}
    app.log_llm_data(request, response, selected_choice_index=1, session_id=uuid.UUID(int=1),
                     feedback={"thumbs_up": True}, tags={"team": "a"})
    gantry.flush()
    row = app.query(all_time=True).to_polars().row(0, named=True)
    assert row["outputs.completion"] == "hey" and row["inputs.temperature"] == 0
    assert json.loads(row["inputs.messages"]) == request["messages"]
    assert row["tags.session_id"] == str(uuid.UUID(int=1)) and row["tags.team"] == "a"
    assert row["feedback.thumbs_up"] is True


GOOD_REQUEST = {"model": "m", "prompt": "p"}
GOOD_RESPONSE = {"choices": [{"text": "t"}]}


@pytest.mark.parametrize(("case", "call", "message"), [
    ("request not a dict", lambda a: a.log_llm_data("p", GOOD_RESPONSE), "api_request must be a dict"),
    ("response without choices", lambda a: a.log_llm_data(GOOD_REQUEST, {}), "no 'choices'"),
    ("request with NaN", lambda a: a.log_llm_data({"t": float("nan")}, GOOD_RESPONSE),
     "JSON values only"),
    ("choice out of range", lambda a: a.log_llm_data(GOOD_REQUEST, GOOD_RESPONSE,
                                                     selected_choice_index=1),
     "selected_choice_index must be an integer from 0 to 0"),
    ("version text", lambda a: a.log_llm_data(GOOD_REQUEST, GOOD_RESPONSE, version="1"),
     "version must be a version number"),
    ("tags list", lambda a: a.log_llm_data(GOOD_REQUEST, GOOD_RESPONSE, tags=["a"]),
     "tags must be a dict"),
    ("session id number", lambda a: a.log_llm_data(GOOD_REQUEST, GOOD_RESPONSE, session_id=5),
     "session_id must be a string or a UUID"),
    ("vendor empty", lambda a: a.log_llm_data(GOOD_REQUEST, GOOD_RESPONSE, vendor=""),
     "vendor must be a non-empty string"),
    ("prompt_inputs missing a variable", lambda a: a.create_version(
        "{{a}} {{b}}", "d", "m", prompt_inputs=["a"]), r"uses \['b'\], missing"),
    ("prompt_inputs a string", lambda a: a.create_version("{{a}}", "d", "m", prompt_inputs="a"),
     "prompt_inputs must be a list"),
    ("deploy_version not a UUID", lambda a: a.deploy_version("v1", "prod"), "UUID"),
])
def test_bad_completion_input_is_refused_and_nothing_is_stored(
        gantry_cwd: None, case: str, call: Any, message: str) -> None:
    app = gantry.get_application("my-llm-app")
    with pytest.raises(ValidationError, match=message):
        call(app)
    gantry.flush()
    assert app.query(all_time=True).count() == 0 and app.list_versions() == []
