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
    assert "Verified 3 versions" in out
    assert "The scheduler caught up 60 runs (60 succeeded); a second tick runs 0." in out
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


def _leaf_commands() -> dict[str, object]:
    commands = build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    leaves = {}
    for name, sub in commands.items():
        nested = sub._subparsers
        if nested is None:
            leaves[name] = sub
        else:
            for child, parser in nested._group_actions[0].choices.items():
                leaves[f"{name} {child}"] = parser
    return leaves


def test_every_command_is_documented_with_an_example() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    for name, sub in _leaf_commands().items():
        assert "Example:" in (sub.description or ""), name  # type: ignore[attr-defined]
        assert f"gantry-local {name}" in readme, name


def test_datasets_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import polars as pl

    store = str(tmp_path / "store")
    with gantry.Workspace(db=":memory:", storage=store) as ws:
        ds = ws.create_dataset("train")
        v1 = ds.push_dataframe(pl.DataFrame({"__join_key": ["a", "b"], "x": [1, 2]}))["version_id"]
        v2 = ds.push_dataframe(pl.DataFrame({"__join_key": ["a", "c"], "x": [1, 3]}))["version_id"]
        ws.datasets.store.put_object(b"orphan")
    base = ["--storage", store]
    assert main(["datasets", "list", *base]) == 0
    assert "train" in capsys.readouterr().out
    assert main(["datasets", "versions", "train", *base]) == 0
    out = capsys.readouterr().out
    assert v1 in out and v2 in out
    assert main(["datasets", "diff", "train", v1[:8], v2[:8], *base]) == 0
    assert "1 added, 1 removed, 0 changed" in capsys.readouterr().out
    assert main(["datasets", "pull", "train", "--version", v1[:8], "--working-dir",
                 str(tmp_path / "wd"), *base]) == 0
    assert (tmp_path / "wd" / "train" / "data.csv").is_file()
    assert main(["datasets", "export", "train", "--out", str(tmp_path), "--format", "parquet",
                 *base]) == 0
    assert (tmp_path / f"train-{v2[:12]}.parquet").is_file()
    assert main(["datasets", "rollback", "train", v1[:8], *base]) == 0
    assert "Rollback dataset to version" in capsys.readouterr().out
    assert main(["datasets", "verify", "train", *base]) == 0
    assert "3 versions" in capsys.readouterr().out
    assert main(["datasets", "gc", *base]) == 0
    assert "would delete 0 objects" in capsys.readouterr().out  # the orphan is young
    assert main(["datasets", "gc", "--grace-minutes", "0", *base]) == 0
    assert "would delete 1 objects" in capsys.readouterr().out
    assert main(["datasets", "gc", "--delete", "--grace-minutes", "0", *base]) == 0
    assert "deleted 1 objects" in capsys.readouterr().out
    assert main(["datasets", "versions", "nope", *base]) == 1
    assert "no dataset 'nope'" in capsys.readouterr().err
    assert main(["datasets", "list", "--storage-option", "oops", *base]) == 1
    assert "KEY=VALUE" in capsys.readouterr().err


def test_curators_and_scheduler_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from datetime import datetime, timedelta, timezone

    from gantry_local.automations.curators import UniformCurator

    db = tmp_path / "c.duckdb"
    start = datetime(2024, 1, 1, tzinfo=timezone.utc)
    with gantry.Workspace(db=db) as ws:
        app = ws.create_application("m")
        app.log_records(inputs=[{"i": i} for i in range(20)], outputs=[0] * 20,
                        timestamps=[start + timedelta(hours=i) for i in range(20)])
        UniformCurator("u", "m", 5, start_on=start).create(workspace=ws)
    base = ["--db", str(db)]
    assert main(["curators", "list", *base]) == 0
    assert "UniformCurator" in capsys.readouterr().out
    assert main(["curators", "show", "u", *base]) == 0
    assert '"limit": 5' in capsys.readouterr().out
    assert main(["curators", "disable", "u", *base]) == 0
    assert main(["scheduler", "run", "--once", *base]) == 0
    assert "(none)" in capsys.readouterr().out.splitlines()[-1]
    assert main(["curators", "enable", "u", *base]) == 0
    assert main(["scheduler", "run", "--once", *base]) == 0
    out = capsys.readouterr().out
    assert "succeeded" in out  # the wall clock is far past 2024-01-01: every day is due
    assert main(["curators", "runs", "u", *base]) == 0
    assert "succeeded" in capsys.readouterr().out
    assert main(["curators", "show", "nope", *base]) == 1
    assert "no curator 'nope'" in capsys.readouterr().err
    assert main(["curators", "list", "--db", str(tmp_path / "missing.duckdb")]) == 1
