"""Judges: a scoring judge rates one output, a pairwise judge prefers one of two.

Any callable can be a judge (an LLM client where a user has one, deterministic scorers
in tests). `OpenAICompatible` talks to any OpenAI-compatible chat-completions endpoint
(hosted, vLLM, llama.cpp's server...) with the standard library's HTTP client, and
serves as a completion model and as either kind of judge.
"""

from __future__ import annotations

import json
import math
import re
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .._http import HttpError, HttpStatusError, post_json
from .._limits import shown
from ..errors import JudgeError, ValidationError

__all__ = ["DEFAULT_CRITERIA", "JudgeError", "OpenAICompatible", "PairwiseJudge", "ScoreJudge"]

DEFAULT_CRITERIA = ("How well does the output answer the input: correct, complete and clear? "
                    "1 is very poor, 5 is excellent.")


@dataclass(frozen=True)
class ScoreJudge:
    """Rates each output: ``fn(inputs, output, criteria) -> number`` on `scale`.

    Scores are normalised to Gantry's 1 to 5 scale (``1 + 4 * (s - low) / (high - low)``);
    a score off the scale, or not a number, is the row's error.
    """

    fn: Callable[[Mapping[str, Any], Any, str], Any]
    criteria: str = DEFAULT_CRITERIA
    scale: tuple[float, float] = (1.0, 5.0)
    name: str = "judge"

    def __post_init__(self) -> None:
        if not callable(self.fn):
            raise ValidationError("ScoreJudge needs a callable (inputs, output, criteria) -> score")
        scale = self.scale
        if not (isinstance(scale, (tuple, list)) and len(scale) == 2
                and all(_finite(v) for v in scale) and scale[0] < scale[1]):
            raise ValidationError(f"ScoreJudge scale must be (low, high), finite numbers with "
                                  f"low < high, got {_shown_pair(scale)}")
        if not isinstance(self.criteria, str) or not self.criteria.strip():
            raise ValidationError(f"ScoreJudge criteria must be a non-empty string, got "
                                  f"{self.criteria!r}")
        _judge_name(self.name)

    def score(self, inputs: Mapping[str, Any], output: Any) -> float:
        raw = self.fn(inputs, output, self.criteria)
        if isinstance(raw, str):
            raw = _first_number(raw)
        if isinstance(raw, bool) or not isinstance(raw, (int, float)) or math.isnan(raw):
            raise JudgeError(f"judge {self.name!r} answered {raw!r}, not a number")
        low, high = self.scale
        if not low <= raw <= high:
            raise JudgeError(f"judge {self.name!r} answered {raw}, outside its scale {low}..{high}")
        return 1 + 4 * (float(raw) - low) / (high - low)


@dataclass(frozen=True)
class PairwiseJudge:
    """Prefers one of two outputs: ``fn(inputs, output_a, output_b) -> "a" | "b" | "tie"``.

    `evaluate` shows each row's outputs in a seeded random order (recorded) to cancel
    position bias; any other answer is the row's error.
    """

    fn: Callable[[Mapping[str, Any], Any, Any], Any]
    name: str = "pairwise"

    def __post_init__(self) -> None:
        if not callable(self.fn):
            raise ValidationError("PairwiseJudge needs a callable (inputs, a, b) -> 'a'|'b'|'tie'")
        _judge_name(self.name)

    def compare(self, inputs: Mapping[str, Any], output_a: Any, output_b: Any) -> str:
        answer = self.fn(inputs, output_a, output_b)
        choice = answer.strip().strip(".\"'").lower() if isinstance(answer, str) else None
        if choice not in ("a", "b", "tie"):
            raise JudgeError(f"pairwise judge {self.name!r} answered {answer!r}; allowed: "
                             "'a', 'b', 'tie'")
        return choice


def _finite(value: Any) -> bool:
    try:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and \
            math.isfinite(value)
    except OverflowError:  # an int beyond any float
        return False


def _check_url(url: str) -> None:
    """Refuse a URL urlsplit cannot read, or a port out of 1..65535."""
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port  # raises on a port out of 0..65535
        if port == 0 or not parts.hostname:
            raise ValueError("no host, or port 0")
    except ValueError as exc:
        raise ValidationError(f"base_url {url!r} is not a valid URL ({exc}), e.g. "
                              "'http://127.0.0.1:8000/v1'") from None


def _shown_pair(value: Any) -> str:
    if isinstance(value, (tuple, list)):
        return f"({', '.join(shown(v) for v in value)})"
    return shown(value)


def _judge_name(name: Any) -> None:
    if not isinstance(name, str) or not name.strip():
        raise ValidationError(f"a judge's name must be a non-empty string, got {name!r}")


def _first_number(text: str) -> float | str:
    match = re.search(r"-?\d+(?:\.\d+)?", text)
    return float(match.group()) if match else text


class OpenAICompatible:
    """A client of an OpenAI-compatible ``/chat/completions`` endpoint.

    Use it as a completion model (``workspace.register_model("m", client)``), or make
    judges with `score_judge` / `pairwise_judge`.

    Args:
        base_url: e.g. ``https://api.openai.com/v1`` or ``http://127.0.0.1:8000/v1``.
        model: the model name the server expects.
        api_key: sent as a bearer token (None for local servers without one).
        timeout: seconds per request.
        params: defaults for every request (e.g. ``temperature=0``).
    """

    def __init__(self, base_url: str, model: str, api_key: str | None = None,
                 timeout: float = 60.0, **params: Any) -> None:
        if not isinstance(base_url, str) or not re.match(r"^https?://[^\s/]+", base_url):
            raise ValidationError(f"base_url must be an http(s) URL such as "
                                  f"'http://127.0.0.1:8000/v1', got {base_url!r}")
        _check_url(base_url)
        if not isinstance(model, str) or not model:
            raise ValidationError("model must be the model name the server expects")
        if api_key is not None and not isinstance(api_key, str):
            raise ValidationError("api_key must be a string or None")
        if not _finite(timeout) or not 0 < timeout <= 86_400:
            raise ValidationError(f"timeout must be positive seconds (at most a day), got "
                                  f"{shown(timeout)}")
        try:
            json.dumps(params, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ValidationError(f"request parameters must be JSON values: {exc}") from None
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key = api_key
        self.timeout = float(timeout)
        self.params = params

    def __repr__(self) -> str:
        return f"OpenAICompatible(base_url={self.base_url!r}, model={self.model!r})"

    def chat(self, messages: list[dict[str, str]], **params: Any) -> str:
        """The first choice's message content for `messages`.

        Raises:
            ValidationError: `messages` is not a non-empty list of ``{"role": str,
                "content": str}`` dicts, or a parameter is not JSON; nothing is sent.
            JudgeError: the server failed or answered something unreadable.
        """
        _check_messages(messages)
        try:
            body = json.dumps({"model": self.model, "messages": messages,
                               **self.params, **params}, allow_nan=False).encode()
        except (TypeError, ValueError) as exc:
            raise ValidationError(f"the request to {self.base_url} is not JSON: {exc}; pass "
                                  "strings, numbers, lists and dicts") from None
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        try:
            payload = json.loads(post_json(f"{self.base_url}/chat/completions", body, headers,
                                           self.timeout))
        except HttpStatusError as exc:
            raise JudgeError(f"{self.base_url} answered HTTP {exc.status}: {exc.detail}") from exc
        except HttpError as exc:
            raise JudgeError(f"cannot reach {self.base_url}: {exc}") from exc
        except ValueError as exc:
            raise JudgeError(f"{self.base_url} answered something that is not JSON: {exc}"
                             ) from exc
        try:
            content = payload["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError) as exc:
            raise JudgeError(f"{self.base_url} sent no choices[0].message.content") from exc
        if not isinstance(content, str):
            raise JudgeError(f"{self.base_url} sent non-text content {content!r}")
        return content

    def __call__(self, prompt: str, **params: Any) -> str:
        """Complete `prompt` as one user message (the completion-model interface)."""
        if not isinstance(prompt, str):
            raise ValidationError(f"the prompt must be a string, got {type(prompt).__name__}")
        return self.chat([{"role": "user", "content": prompt}], **params)

    def score_judge(self, criteria: str = DEFAULT_CRITERIA, name: str = "judge") -> ScoreJudge:
        """A judge asking the model for a 1-5 score of one output."""

        def ask(inputs: Mapping[str, Any], output: Any, criteria: str) -> Any:
            reply = self.chat([
                {"role": "system", "content": "You grade model outputs. Reply with one integer "
                                              "from 1 to 5 and nothing else."},
                {"role": "user", "content": f"Criteria: {criteria}\n\nInput:\n{_show(inputs)}\n\n"
                                            f"Output:\n{_show(output)}\n\nScore (1-5):"}])
            return _first_number(reply)

        return ScoreJudge(ask, criteria, (1.0, 5.0), name)

    def pairwise_judge(self, criteria: str = DEFAULT_CRITERIA, name: str = "pairwise"
                       ) -> PairwiseJudge:
        """A judge asking the model which of two outputs is better: A, B or tie."""

        def ask(inputs: Mapping[str, Any], output_a: Any, output_b: Any) -> str:
            reply = self.chat([
                {"role": "system", "content": "You compare two model outputs. Reply with exactly "
                                              "one word: A, B or tie."},
                {"role": "user", "content": f"Criteria: {criteria}\n\nInput:\n{_show(inputs)}\n\n"
                                            f"Output A:\n{_show(output_a)}\n\nOutput B:\n"
                                            f"{_show(output_b)}\n\nBetter output (A, B or tie):"}])
            return reply.strip().split()[0] if reply.strip() else reply

        return PairwiseJudge(ask, name)


def _check_messages(messages: Any) -> None:
    """Refuse chat messages the server could not take, before any request."""
    if not isinstance(messages, (list, tuple)) or not messages:
        raise ValidationError(f"messages must be a non-empty list of {{'role': ..., 'content': "
                              f"...}} dicts, got {type(messages).__name__}")
    for index, message in enumerate(messages):
        if not isinstance(message, Mapping) or not isinstance(message.get("role"), str) or \
                not isinstance(message.get("content"), str):
            raise ValidationError(f"messages[{index}] must be a dict with string 'role' and "
                                  f"'content', got {message!r:.80}")


def _show(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str, sort_keys=True)
