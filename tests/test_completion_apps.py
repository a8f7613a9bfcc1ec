"""Completion apps: prompt versions as candidates; the OpenAI-compatible client on 127.0.0.1."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any, ClassVar

import polars as pl
import pytest

import gantry_local as gantry
from gantry_local.errors import NotFoundError, ValidationError
from gantry_local.evaluation import OpenAICompatible

from .conftest import QuietHandler, http_server


@pytest.fixture
def chat(ws: gantry.Workspace) -> gantry.Application:
    app = ws.create_application("chat", application_type="Completion")
    ws.create_dataset("questions").push_dataframe(pl.DataFrame({
        "inputs.question": ["capital of France?", "2 + 2?", "colour of the sky?"],
        "feedback.answer": ["Paris", "4", "blue"]}))
    return app


ANSWERS = {"capital of France?": "Paris", "2 + 2?": "4", "colour of the sky?": "blue"}


def test_versions_numbers_latest_and_deployments(chat: gantry.Application) -> None:
    first = chat.create_version("Answer briefly: {{question}}", "terse", "echo")
    second = chat.create_version("Q: {{ question }}\nA:", "plain", "echo", {"temperature": 0})
    assert (first.number, second.number) == (1, 2) and first.id != second.id
    assert chat.get_version("latest") == second and chat.get_version(1) == first
    chat.deploy_version(first.id, "prod")
    assert chat.get_version("prod") == first
    chat.deploy_version(second.id, "prod")
    assert chat.get_version("prod") == second
    assert [v.number for v in chat.list_versions()] == [1, 2]
    assert chat.get_version(3) is None and chat.get_version("test") is None  # Gantry's None
    with pytest.raises(NotFoundError):
        chat.deploy_version(uuid.uuid4(), "prod")
    with pytest.raises(ValidationError, match="UUID"):
        chat.deploy_version("no-such-id", "prod")
    assert second.render({"question": "why?"}) == "Q: why?\nA:"
    with pytest.raises(ValidationError, match="needs \\['question'\\]"):
        second.render({})


def test_only_completion_apps_have_versions(ws: gantry.Workspace) -> None:
    plain = ws.create_application("plain")
    with pytest.raises(ValidationError, match="application_type='Completion'"):
        plain.create_version("{{x}}", "d", "m")


def test_prompt_versions_compared_on_a_dataset(ws: gantry.Workspace,
                                               chat: gantry.Application) -> None:
    prompts: list[str] = []

    def model(prompt: str, temperature: float = 1.0) -> str:
        prompts.append(prompt)
        question = prompt.split(": ", 1)[1].removesuffix("\nA:") if ": " in prompt else prompt
        return ANSWERS[question] if temperature == 0 else "I am not sure"

    ws.register_model("toy", model)
    v1 = chat.create_version("Answer: {{question}}", "warm", "toy", {"temperature": 1.0})
    v2 = chat.create_version("Answer: {{question}}\nA:", "cold", "toy", {"temperature": 0})
    result = gantry.evaluate("questions", {"v1": v1, "v2": v2}, ["exact_match", "token_f1"],
                             workspace=ws)
    assert result.value("exact_match", "v2") == 1.0 and result.value("exact_match", "v1") == 0.0
    assert result.candidates == {"v1": v1.cache_key, "v2": v2.cache_key}
    assert "Answer: 2 + 2?\nA:" in prompts
    again = gantry.evaluate("questions", {"v1": v1, "v2": v2}, ["exact_match"], workspace=ws)
    assert again.cached == {"v1": 3, "v2": 3} and len(prompts) == 6  # no new calls


def test_missing_variables_and_models_fail_before_any_call(ws: gantry.Workspace,
                                                           chat: gantry.Application) -> None:
    calls: list[str] = []
    ws.register_model("toy", lambda prompt: calls.append(prompt) or "x")
    needs_context = chat.create_version("{{context}} {{question}}", "rag", "toy")
    with pytest.raises(ValidationError, match="needs \\['context'\\]"):
        gantry.evaluate("questions", {"v": needs_context}, ["exact_match"], workspace=ws)
    unknown_model = chat.create_version("{{question}}", "d", "not-registered")
    with pytest.raises(NotFoundError, match="register_model"):
        gantry.evaluate("questions", {"v": unknown_model}, ["exact_match"], workspace=ws)
    assert calls == []


class _FakeOpenAI(QuietHandler):
    """Answers /v1/chat/completions like an OpenAI-compatible server would."""

    requests: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append({"path": self.path, "auth": self.headers.get("Authorization"),
                                    "body": body})
        if body["model"] == "broken":
            self.send_response(500)
            self.end_headers()
            self.wfile.write(b"upstream failure")
            return
        system = body["messages"][0]["content"] if len(body["messages"]) > 1 else ""
        last = body["messages"][-1]["content"]
        if "integer from 1 to 5" in system:
            reply = "5" if "Output:\nParis" in last else "2"
        elif "A, B or tie" in system:
            reply = "A" if "Output A:\nParis" in last else "B"
        else:
            reply = ANSWERS.get(last, "unknown")
        payload = json.dumps({"choices": [{"message": {"role": "assistant", "content": reply}}]})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(payload.encode())


@pytest.fixture
def server() -> Iterator[str]:
    _FakeOpenAI.requests = []
    with http_server(_FakeOpenAI) as url:
        yield f"{url}/v1"


def test_openai_compatible_client_as_model_and_judges(ws: gantry.Workspace,
                                                      chat: gantry.Application,
                                                      server: str) -> None:
    client = OpenAICompatible(server, model="local-llm", api_key="sk-test", temperature=0)
    assert client("2 + 2?") == "4"
    sent = _FakeOpenAI.requests[-1]
    assert sent["path"] == "/v1/chat/completions" and sent["auth"] == "Bearer sk-test"
    assert sent["body"]["temperature"] == 0 and sent["body"]["model"] == "local-llm"
    ws.register_model("local", client)
    version = chat.create_version("{{question}}", "plain", "local")
    scored = gantry.evaluate("questions", {"v1": version}, ["exact_match"],
                             judge=client.score_judge(), workspace=ws)
    assert scored.value("exact_match", "v1") == 1.0
    assert scored.rows["score.judge.v1"].to_list() == [5.0, 2.0, 2.0]
    capital = ws.create_dataset("capital")
    capital.push_dataframe(pl.DataFrame({"inputs.question": ["capital of France?"] * 40}))
    paired = gantry.evaluate(capital, {"wrong": lambda r: "Lyon", "right": lambda r: "Paris"},
                             judge=client.pairwise_judge(), workspace=ws)
    assert paired.pairwise[0].wins == 40 and paired.verdict == "improved"


def test_openai_compatible_errors_are_row_errors(ws: gantry.Workspace, chat: gantry.Application,
                                                 server: str) -> None:
    ws.register_model("broken", OpenAICompatible(server, model="broken"))
    version = chat.create_version("{{question}}", "d", "broken")
    result = gantry.evaluate("questions", {"v": version}, ["exact_match"], workspace=ws,
                             retries=0)
    assert result.errors == {"v": 3}
    assert "HTTP 500" in (result.rows["error.v"][0] or "")
    with pytest.raises(ValidationError, match="http"):
        OpenAICompatible("ftp://example", model="m")
    unreachable = OpenAICompatible("http://127.0.0.1:9", model="m", timeout=1)
    with pytest.raises(Exception, match="cannot reach"):
        unreachable("hello")
