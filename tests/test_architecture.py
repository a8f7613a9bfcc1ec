"""The README's Architecture drawing names every layer of the import contracts in pyproject."""

from __future__ import annotations

import re
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib  # type: ignore[import-not-found,no-redef,unused-ignore]

ROOT = Path(__file__).resolve().parent.parent


def test_the_readme_draws_every_layer_of_the_contracts() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    [layers] = [c["layers"] for c in config["tool"]["importlinter"]["contracts"]
                if c["type"] == "layers"]
    modules = {name.strip() for layer in layers for name in re.split(r"[:|]", layer)}
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Architecture"):]
    drawing = section[section.index("```text"):section.index("```", section.index("```text") + 7)]
    drawn = set(re.findall(r"[A-Za-z_][A-Za-z_0-9*]*", drawing))
    missing = sorted(m for m in modules if m not in drawn
                     and not (m.startswith("_cli_") and "_cli_*" in drawn))
    assert missing == [], f"layers missing from the README's Architecture drawing: {missing}"


def test_the_readme_draws_every_part_of_what_a_room_is_handed() -> None:
    """The Architecture drawing of a room's `Context` names each of its public members and
    each of the scheduler's (`Scheduling`), so it stays true when one is added."""
    import dataclasses

    from gantry_local._context import Context, Scheduling

    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Architecture"):]
    start = section.index("```text", section.index("narrow()") - 200)
    drawing = section[start:section.index("```", start + 7)]
    members = {f.name for kind in (Context, Scheduling) for f in dataclasses.fields(kind)}
    members |= {"app_state", "datasets"}
    missing = sorted(m for m in members if not m.startswith("_")
                     and not re.search(rf"\b{m}\b", drawing))
    assert "Context" in drawing and missing == [], f"not drawn: {missing}"
