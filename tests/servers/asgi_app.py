"""A small ASGI model app for the multi-process tests: every request logs one record.

Run with ``uvicorn --workers 2 asgi_app:app``; ``GANTRY_DB`` names the workspace's DuckDB file.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

import gantry_local as gantry

# The one start-up line of every worker: log into the spool beside the database.
gantry.init(db=os.environ["GANTRY_DB"], producer=True, flush_interval=0.2)
WORKER = f"asgi-{os.getpid()}"


async def app(scope: dict[str, Any], receive: Callable[[], Awaitable[Any]],
              send: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                gantry.flush()  # what this worker logged is in the spool before it exits
                await send({"type": "lifespan.shutdown.complete"})
                return
    query = {k: v[0] for k, v in parse_qs(scope.get("query_string", b"").decode()).items()}
    if scope["path"] == "/feedback":
        gantry.log_record("served", feedback={"label": int(query["label"]), "by": WORKER},
                          join_key=query["id"])
        body = b"ok"
    else:
        x = float(query["x"])
        y = round(0.5 * x + 1.0, 6)
        gantry.log_record("served", inputs={"x": x}, outputs={"y": y}, join_key=query["id"],
                          tags={"worker": WORKER})
        body = str(y).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": body})
