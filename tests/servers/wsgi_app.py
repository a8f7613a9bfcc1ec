"""A small WSGI model app for the multi-process tests: every request logs one record.

Run with ``gunicorn -w 4 wsgi_app:app``; ``GANTRY_DB`` names the workspace's DuckDB file.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

import gantry_local as gantry

# The one start-up line of every worker: log into the spool beside the database.
gantry.init(db=os.environ["GANTRY_DB"], producer=True, flush_interval=0.2)
WORKER = f"wsgi-{os.getpid()}"


def predict(x: float) -> float:
    return round(0.5 * x + 1.0, 6)


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
    if environ.get("PATH_INFO") == "/feedback":
        gantry.log_record("served", feedback={"label": int(query["label"]), "by": WORKER},
                          join_key=query["id"])
        body = b"ok"
    else:
        x = float(query["x"])
        y = predict(x)
        gantry.log_record("served", inputs={"x": x}, outputs={"y": y}, join_key=query["id"],
                          tags={"worker": WORKER})
        body = str(y).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
