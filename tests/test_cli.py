"""The CLI: the demo runs end to end; errors become one line and exit status 1."""

from pathlib import Path

import pytest

import gantry_local as gantry
from gantry_local.cli import build_parser, main


def test_demo_runs_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "demo"
    assert main(["demo", "--path", str(target), "--records-per-day", "200"]) == 0
    out = capsys.readouterr().out
    assert "Logged 6,000 predictions" in out
    assert "Accuracy of the flag against late labels" in out
    with gantry.Workspace(db=target / "gantry.duckdb") as ws:
        rows = ws.query("fraud-detector").to_polars()
    assert rows.height == 6_000
    assert 0.3 < rows["feedback.is_fraud"].is_not_null().mean() < 0.7  # type: ignore[operator]
    assert set(rows["__version"].unique()) == {"v1", "v2"}


def test_errors_are_one_line_and_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--path", str(tmp_path), "--records-per-day", "0"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: records_per_day must be a positive integer")
    assert err.count("\n") == 1


def test_every_command_is_documented_with_an_example() -> None:
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    for name, sub in commands.items():
        assert "Example:" in (sub.description or ""), name
        assert f"gantry-local {name}" in readme, name
