"""The one HTTP client of the package: a JSON POST over the standard library.

The LLM judge client (`evaluation.judges.OpenAICompatible`) and webhook actions
(`monitoring.alerts`) both send one JSON body and read one answer, so a small helper on
``urllib`` does it without a dependency; each caller turns `HttpError` into its own error
(`JudgeError`, `WebhookError`). Tests point them at a real server on 127.0.0.1.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Mapping

__all__ = ["HttpError", "HttpStatusError", "post_json"]

_DETAIL = 200  # characters of an error answer kept in the message


class HttpError(OSError):
    """The request did not get a successful answer (unreachable, timed out, or an error status)."""


class HttpStatusError(HttpError):
    """The server answered with an error status (4xx or 5xx)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"HTTP {status}: {detail}")
        self.status = status
        self.detail = detail


def post_json(url: str, body: bytes, headers: Mapping[str, str] | None = None,
              timeout: float | None = None) -> bytes:
    """POST `body` (JSON) to `url` and return the answer's bytes.

    Raises:
        HttpStatusError: an answer with an error status. HttpError: no answer (connection
            refused, a timeout, a malformed URL).
    """
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            data: bytes = response.read()
            return data
    except urllib.error.HTTPError as exc:
        detail = exc.read()[:_DETAIL].decode(errors="replace")
        raise HttpStatusError(exc.code, detail) from exc
    except (urllib.error.URLError, TimeoutError, OSError, ValueError) as exc:
        raise HttpError(str(getattr(exc, "reason", exc))) from exc
