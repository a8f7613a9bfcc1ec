"""What a workspace remembers about itself: its storage URL and non-secret storage options.

They (and the spool's URL and options) are recorded in the database the first time it is
opened for writing, so any later process (the CLI, the scheduler, a notebook) finds the
datasets and the spool without being told. A
storage URL given later must name the same place (a `ValidationError` otherwise); options
given later are added for that process only. Credentials are never recorded: an option
whose name looks like one (see `is_secret`), or whose value is not plain JSON, is used by
the process that gave it and left out of the record (dropped, not refused: s3fs takes them
from the environment or the profile in every other process).
"""

from __future__ import annotations

import json
import logging
import re
import urllib.parse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import duckdb

from ._db import run, storage_errors, transaction
from .errors import ValidationError

__all__ = ["SECRET_WORDS", "WorkspaceConfig", "is_secret", "recordable", "recordable_url",
           "resolve", "scrub"]

log = logging.getLogger("gantry_local.workspace")

# A key holding one of these words (split at '_', '-', '.' and case changes) is a credential.
SECRET_WORDS = frozenset({"key", "secret", "token", "password", "passwd", "pwd", "session",
                          "credential", "credentials", "auth", "authorization", "signature",
                          "cookie", "sas", "connection", "passphrase", "bearer", "pkey"})
_SECRET_PARTS = ("apikey", "secret", "privatekey", "accesskey", "password", "passphrase")
# URL query parameters that carry a signature or a one-time code (besides secret-looking keys)
_SECRET_PARAMS = frozenset({"sig", "code", "x-amz-signature", "x-goog-signature"})
_WORDS = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")


class WorkspaceConfig:
    """The places a workspace uses (``storage``, ``spool``), their options (None: not given
    here nor recorded), and the option keys left out of the record."""

    def __init__(self, places: dict[str, str], options: dict[str, dict[str, Any] | None],
                 not_recorded: list[str]) -> None:
        self.places = places
        self.options = options
        self.not_recorded = not_recorded


def is_secret(key: str) -> bool:
    """Whether an option named `key` looks like a credential (``key``, ``secret``,
    ``aws_session_token``, ``client_secret``, ``password``, ``sas_token`` ...)."""
    words = {w.lower() for w in _WORDS.findall(key)}
    folded = key.lower().replace("_", "").replace("-", "")
    return bool(words & SECRET_WORDS) or any(part in folded for part in _SECRET_PARTS)


def recordable(options: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The options that may be recorded, and the keys left out (credentials, or values that
    are not plain JSON such as a session object); nested dicts are checked key by key."""
    kept: dict[str, Any] = {}
    dropped: list[str] = []
    for key, value in options.items():
        if is_secret(key):
            dropped.append(key)
            continue
        if isinstance(value, Mapping):
            inner, inner_dropped = recordable(value)
            dropped.extend(f"{key}.{k}" for k in inner_dropped)
            if inner or not value:
                kept[key] = inner
            continue
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError):
            dropped.append(key)
            continue
        kept[key] = value
    return kept, dropped


def recordable_url(url: str) -> tuple[str, list[str]]:
    """`url` without the credentials it may carry, and what was left out: the login of
    ``scheme://user:password@host`` (and ``s3://KEY:SECRET@bucket``), and query parameters
    that look like credentials (``?token=``, ``sig=``, ``X-Amz-Signature=`` ...). Each part
    of a chained fsspec URL (``simplecache::s3://...``) is cleaned."""
    parts, dropped = [], []
    for part in url.split("::"):
        clean, left_out, _ = _clean_part(part)
        parts.append(clean)
        dropped.extend(left_out)
    return "::".join(parts), dropped


def scrub(text: str, url: str) -> str:
    """`text` with the credentials `url` carries (its logins, its secret parameters' values)
    replaced by ``***``: for messages that quote the URL (a library's error, say)."""
    secrets = {secret for part in url.split("::") for secret in _clean_part(part)[2]}
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def _clean_part(url: str) -> tuple[str, list[str], list[str]]:
    """One URL without its credentials, what was left out, and the credentials' text."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url, [], []
    dropped: list[str] = []
    secrets: list[str] = []
    end = min((i for i in (rest.find("?"), rest.find("#")) if i >= 0), default=len(rest))
    head, tail = rest[:end], rest[end:]
    at = head.rfind("@")
    if at >= 0:
        login = head[:at]
        slash = login.find("/")
        if slash < 0 or 0 <= login.find(":") < slash:  # user[:password]@host, not a path's '@'
            head = head[at + 1:]
            dropped.append(f"the login in {scheme}:// URL")
            password = login.partition(":")[2]  # quoted alone too (and decoded) by some errors
            secrets.append(login)
            secrets.extend(s for s in (password, urllib.parse.unquote(login),
                                       urllib.parse.unquote(password)) if len(s) >= 4)
    if tail.startswith("?"):
        query, hash_, fragment = tail[1:].partition("#")
        kept = []
        for pair in query.split("&"):
            key, _, value = pair.partition("=")
            name = urllib.parse.unquote_plus(key)
            if name and (is_secret(name) or name.lower() in _SECRET_PARAMS):
                dropped.append(f"URL parameter {name!r}")
                secrets.extend([value, urllib.parse.unquote_plus(value)])
            else:
                kept.append(pair)
        tail = ("?" + "&".join(kept) if any(kept) else "") + hash_ + fragment
    return f"{scheme}://{head}{tail}", dropped, list(dict.fromkeys(s for s in secrets if s))


def _same_place(a: str, b: str) -> bool:
    return _normal(a) == _normal(b)


def _normal(url: str) -> str:
    if "://" in url and not url.startswith("file://"):
        return url.rstrip("/")
    path = url.removeprefix("file://")
    return str(Path(path).expanduser().resolve())


def _stored(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    with storage_errors("reading the workspace configuration"):
        rows = run(con, "SELECT key, value FROM _gl_workspace_config")
    return {key: json.loads(value) for key, value in rows}


def resolve(con: duckdb.DuckDBPyConnection, given: Mapping[str, str | None],
            defaults: Mapping[str, str], options: Mapping[str, Mapping[str, Any] | None],
            writable: bool) -> WorkspaceConfig:
    """The places (``{"storage": url, "spool": url}``) and options (``{"storage_options":
    ...}``) a workspace opened on `con` uses: what was given, else what is recorded, else the
    default. What the database has no record of yet is recorded when `writable`.

    Raises:
        ValidationError: a given place differs from the recorded one.
    """
    stored = _stored(con)
    places: dict[str, str] = {}
    record: dict[str, Any] = {}
    dropped: list[str] = []
    for key, url in given.items():
        clean, login = recordable_url(url) if url is not None else (None, [])
        if key in stored:  # a record made before logins were left out may still hold one
            kept = stored[key] or defaults[key]
            recorded = recordable_url(kept)[0]
            if clean is not None and not _same_place(clean, recorded):
                raise ValidationError(
                    f"this workspace keeps its {_WHAT[key]} in {recorded!r} (recorded when it "
                    f"was created), not {clean!r}; leave the {key} out (it is found from the "
                    "database), or use another database file")
            places[key] = url if url is not None and login else kept  # keep the login here
        else:
            places[key] = url if url is not None else defaults[key]
            record[key] = None if clean is None else _record_url(clean)
            dropped.extend(f"{item} of the {key}" for item in login)
    merged: dict[str, dict[str, Any] | None] = {}
    for key, value in options.items():
        if key in stored:
            recorded_options = stored[key]
            merged[key] = None if recorded_options is None and value is None else \
                {**dict(recorded_options or {}), **dict(value or {})}
        else:
            merged[key] = None if value is None else dict(value)
            kept, left_out = recordable(value or {})
            record[key] = None if value is None else kept
            dropped.extend(left_out)
    if writable and record:
        with storage_errors("recording the workspace configuration"), transaction(con):
            for key, item in record.items():
                run(con, "INSERT INTO _gl_workspace_config VALUES (?, ?)", [key, json.dumps(item)])
        if dropped:
            log.info("not recorded in the workspace (credentials, or options not plain "
                     "JSON; give them again in each process): %s", ", ".join(dropped))
    return WorkspaceConfig(places, merged, dropped)


_WHAT = {"storage": "datasets", "spool": "spool"}


def _record_url(storage: str) -> str:
    """A local folder is recorded as an absolute path (a later process may start elsewhere)."""
    if "://" in storage and not storage.startswith("file://"):
        return storage
    return _normal(storage)
