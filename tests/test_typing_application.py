"""No import points up, not even a type-only one, and users still see their Workspace's type:
`Application` is generic in its workspace (`tests/typing_application.py`, checked by mypy)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import gantry_local as gantry
from gantry_local.applications import Application, Owner

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib  # type: ignore[import-not-found,no-redef,unused-ignore]

ROOT = Path(__file__).resolve().parent.parent
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_no_import_is_exempt_from_the_contracts() -> None:
    for contract in CONFIG["tool"]["importlinter"]["contracts"]:
        assert "ignore_imports" not in contract, contract["name"]
        assert not contract.get("exclude_type_checking_imports"), contract["name"]


def test_mypy_checks_what_users_see() -> None:
    assert "tests/typing_application.py" in CONFIG["tool"]["mypy"]["files"]
    api = pytest.importorskip("mypy.api")
    out, err, status = api.run(["--config-file", str(ROOT / "pyproject.toml"),
                                str(ROOT / "tests" / "typing_application.py")])
    assert status == 0, out + err


def test_an_application_holds_the_workspace_that_made_it(ws: gantry.Workspace) -> None:
    app = ws.create_application("typed")
    assert app.workspace is ws and ws.get_application("typed").workspace is ws
    assert isinstance(app.workspace, Owner)  # the Protocol it is typed by, checked at run time
    with pytest.raises(AttributeError):
        app.workspace = ws  # type: ignore[misc]  # read-only
    assert isinstance(app, Application)
