"""The CLI: the demo runs end to end; errors become one line and exit status 1 (2 for usage)."""

import os
import re
import signal
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path

import pytest

import gantry_local as gantry
from gantry_local.cli import main


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
    assert "ingested them exactly once and ran 2 curator runs for day 31" in out
    assert rows.height == 6_000 + 2 * 100  # 30 days, then day 31 from two producer processes
    assert 0.3 < rows["feedback.is_fraud"].is_not_null().mean() < 0.7  # type: ignore[operator]
    assert set(rows["__version"].unique()) == {"v1", "v2"}
    # the demo's own folder (marked) is wiped and reused
    assert (target / ".gantry-demo").is_file()
    assert main(["demo", "--path", str(target), "--records-per-day", "10"]) == 0
    assert "Logged 300 predictions" in capsys.readouterr().out
    with gantry.Workspace(db=target / "gantry.duckdb") as ws:
        assert ws.query("fraud-detector").count() == 300 + 2 * 5


def test_demo_never_wipes_a_folder_it_did_not_make(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.txt").write_text("four years of work")
    (mine / "gantry.duckdb").write_text("not the demo's")
    monkeypatch.chdir(mine)
    for path in (str(mine), ".", "./"):
        assert main(["demo", "--path", path, "--records-per-day", "10"]) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "holds files the demo did not make" in err
    assert sorted(p.name for p in mine.iterdir()) == ["gantry.duckdb", "thesis.txt"]
    assert (mine / "thesis.txt").read_text() == "four years of work"
    (tmp_path / "blocker").write_text("x")
    assert main(["demo", "--path", str(tmp_path / "blocker" / "demo")]) == 1
    assert "cannot make the demo folder" in capsys.readouterr().err


def test_errors_are_one_line_and_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a-file").write_text("x")
    assert main(["demo", "--path", str(tmp_path / "a-file")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: demo path ") and "is a file" in err
    assert err.count("\n") == 1


def test_usage_errors_are_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--records-per-day", "0"]) == 2
    err = capsys.readouterr().err
    assert err == ("gantry-local demo: error: argument --records-per-day: '0' is not a whole "
                   "number from 1 to 100,000 (see gantry-local demo --help)\n")
    assert main([]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def _help(words: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main([*words, "--help"]) == 0
    return capsys.readouterr().out


def _choices(help_text: str) -> list[str]:
    """The subcommands a help text's usage line offers (``{a,b,c}``), if any."""
    usage = help_text.split("\n\n", 1)[0]
    found = re.search(r"\{([a-z,-]+)\}", usage)
    return found.group(1).split(",") if found else []


def _leaf_commands(capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    """Every leaf command and its --help text, read from the CLI's own help output."""
    leaves = {}
    for name in _choices(_help([], capsys)):
        text = _help([name], capsys)
        children = _choices(text)
        if not children:
            leaves[name] = text
        for child in children:
            leaves[f"{name} {child}"] = _help([name, child], capsys)
    return leaves


def test_every_command_is_documented_with_an_example(capsys: pytest.CaptureFixture[str]) -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    leaves = _leaf_commands(capsys)
    assert {"demo", "datasets list", "scheduler run", "eval run", "report"} <= set(leaves)
    for name, text in leaves.items():
        assert f"Example: gantry-local {name}" in text, name
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
    assert (tmp_path / "wd" / "train" / "tabular_manifests" / "data.csv").is_file()
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
    assert main(["datasets", "list", "--storage-option", "oops", *base]) == 2  # a usage error
    assert "KEY=VALUE" in capsys.readouterr().err


def test_curators_and_scheduler_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from datetime import datetime, timedelta, timezone

    from gantry_local.automations.curators import UniformCurator

    db = tmp_path / "c.duckdb"
    today = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    start = today - timedelta(days=3)  # the CLI's scheduler runs on the wall clock: 3 days due
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
    assert out.count("succeeded") >= 3  # every day since `start` is due
    assert main(["curators", "runs", "u", *base]) == 0
    assert "succeeded" in capsys.readouterr().out
    assert main(["curators", "show", "nope", *base]) == 1
    assert "no curator 'nope'" in capsys.readouterr().err
    assert main(["curators", "list", "--db", str(tmp_path / "missing.duckdb")]) == 1


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"gantry-local {gantry.__version__}\n"
    assert gantry.__version__ == version("gantry-local")


def test_an_unexpected_exception_is_one_line_unless_debugging(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk on fire\nsecond line")

    monkeypatch.setattr(gantry.Workspace, "list_datasets", broken)
    argv = ["datasets", "list", "--storage", str(tmp_path)]
    monkeypatch.delenv("GANTRY_LOCAL_DEBUG", raising=False)
    assert main(argv) == 1
    assert capsys.readouterr().err == ("error: unexpected RuntimeError: disk on fire second line "
                                       "(set GANTRY_LOCAL_DEBUG=1 to see the traceback)\n")
    monkeypatch.setenv("GANTRY_LOCAL_DEBUG", "1")
    with pytest.raises(RuntimeError, match="disk on fire"):
        main(argv)


def test_ctrl_c_exits_130_without_a_traceback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(gantry.Workspace, "list_datasets", interrupted)
    assert main(["datasets", "list", "--storage", str(tmp_path)]) == 130
    assert capsys.readouterr().err == "interrupted\n"


def _command(*argv: str) -> list[str]:
    return [str(Path(sys.executable).parent / "gantry-local"), *argv]


def test_a_real_ctrl_c_in_the_demo(tmp_path: Path) -> None:
    def default_sigint() -> None:  # a shell's background job ignores SIGINT; Ctrl-C does not
        signal.signal(signal.SIGINT, signal.SIG_DFL)

    proc = subprocess.Popen(_command("demo", "--path", str(tmp_path / "d"), "--records-per-day",
                                     "100000"), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, preexec_fn=default_sigint)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith("== gantry-local demo")  # logging has begun
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 130
    assert err == "interrupted\n"


def test_a_closed_pipe_ends_quietly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`gantry-local ... | head -1`: the reader leaves early, the command stops without noise."""
    from datetime import datetime, timedelta, timezone

    db = tmp_path / "p.duckdb"
    start = datetime(2024, 1, 1, tzinfo=timezone.utc)
    with gantry.Workspace(db=db) as ws:
        ws.create_application("m").log_records(
            inputs=[{"x": 1.0}, {"x": 2.0}], outputs=[0, 1],
            timestamps=[start, start + timedelta(days=30)])
    argv = _command("summarize", "m", "--interval", "30m", "--db", str(db))  # ~200 KB of table
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline()
    proc.stdout.close()
    assert proc.wait(timeout=60) == 141
    assert proc.stderr.read() == b""
    assert main(argv[1:]) == 0  # the whole output (in-process) is more than any pipe buffer:
    assert len(capsys.readouterr().out.encode()) > 256 * 1024  # the early close was felt


def test_the_entry_point_runs(tmp_path: Path) -> None:
    """(A usage error through the entry point, `--interval infd`, is a case of
    tests/test_bad_inputs_cli.py.)"""
    done = subprocess.run(_command("--version"), capture_output=True, text=True, check=True)
    assert done.stdout == f"gantry-local {gantry.__version__}\n" and done.stderr == ""
    env = {**os.environ, "GANTRY_LOCAL_DEBUG": "1"}
    done = subprocess.run(_command("eval", "show", "x", "--db", str(tmp_path / "x.duckdb")),
                          capture_output=True, text=True, env=env)
    assert done.returncode == 1 and "Traceback" in done.stderr  # the debug switch shows it


@pytest.mark.parametrize("path", ["", "a\x00b", "x\udcff", 5], ids=["empty", "nul", "not-utf8", "int"])
def test_run_demo_refuses_a_path_that_is_not_a_folder_name(path: object, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from gantry_local.demo import run_demo

    monkeypatch.chdir(tmp_path)
    (tmp_path / "keep.txt").write_text("x")
    with pytest.raises(gantry.ValidationError, match="demo path must be a folder name"):
        run_demo(path, records_per_day=10)  # type: ignore[arg-type]
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]
