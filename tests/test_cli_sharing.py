"""The CLI beside other processes: it waits for a held database (naming the holder), reads
read-only, finds the storage recorded in the database, and the scheduler holds the file only
while it works, logging each run."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import polars as pl
import pytest

import gantry_local as gantry
from gantry_local.automations.curators import UniformCurator
from gantry_local.cli import main

from .test_workspace_sharing import held

# The CLI's scheduler runs on the wall clock: a daily curator started 3 days and 1 hour ago has
# exactly 3 intervals due for the next 23 hours, whatever the time of day (no midnight edge)
START = (datetime.now(timezone.utc) - timedelta(days=3, hours=1)).replace(second=0, microsecond=0)
CLI = str(Path(sys.executable).parent / "gantry-local")


@pytest.fixture()
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A database whose datasets live in a storage not beside it, with a curator due 3 days."""
    for name in ("GANTRY_LOCAL_DB", "GANTRY_LOCAL_STORAGE", "GANTRY_LOCAL_LOCK_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)
    db, storage = tmp_path / "w.duckdb", tmp_path / "elsewhere"
    with gantry.Workspace(db=db, storage=str(storage)) as ws:
        app = ws.create_application("m")
        app.log_records(inputs=[{"i": i} for i in range(72)], outputs=[0] * 72,
                        timestamps=[START + timedelta(hours=i) for i in range(72)])
        UniformCurator("u", "m", 5, start_on=START).create(workspace=ws)
    return db, storage


def test_the_scheduler_logs_each_run_and_uses_the_recorded_storage(
        world: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    db, storage = world
    assert main(["scheduler", "run", "--once", "--db", str(db)]) == 0
    out, err = capsys.readouterr()
    lines = [line for line in err.splitlines() if line.startswith("u  [")]
    assert len(lines) == 3, err
    first = START.strftime("%Y-%m-%d %H:%M")
    assert re.fullmatch(rf"u  \[{first}, \S+ \S+\)  5 of 24 rows  version [0-9a-f]{{12}}",
                        lines[0]), lines[0]
    assert out.count("succeeded") == 3
    assert (storage / "datasets").is_dir() and not db.with_name("w-storage").exists()
    assert main(["datasets", "versions", "u", "--db", str(db)]) == 0  # storage from the db
    assert capsys.readouterr().out.count("records added from interval") == 3


def test_a_failing_run_is_one_line_and_in_the_run_listing(
        world: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    db, storage = world
    config = storage / "datasets" / "u" / "dataset.json"  # made with the curator
    config.write_text("{ not json")
    assert main(["scheduler", "run", "--once", "--db", str(db)]) == 0
    err = capsys.readouterr().err
    assert re.search(r"^u  \[.*\)  FAILED  \w+Error: ", err, re.MULTILINE), err
    assert main(["curators", "runs", "u", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert "failed" in out and "failing now" in out and "curator" in out


def test_a_conflicting_storage_is_refused(world: tuple[Path, Path],
                                          capsys: pytest.CaptureFixture[str]) -> None:
    db, storage = world
    before = db.read_bytes()
    assert main(["scheduler", "run", "--once", "--db", str(db), "--storage",
                 str(db.with_name("other"))]) == 1
    err = capsys.readouterr().err
    assert f"keeps its datasets in '{storage}'" in err and err.count("\n") == 1
    assert db.read_bytes() == before and not db.with_name("other").exists()


def test_reading_commands_open_read_only_beside_another_reader(
        world: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    db, _ = world
    before = db.read_bytes()
    with held(db, read_only=True):
        for argv in (["curators", "list"], ["curators", "runs"], ["alerts"], ["eval", "list"],
                     ["summarize", "m"]):
            assert main([*argv, "--db", str(db), "--lock-timeout", "0"]) == 0, \
                capsys.readouterr().err
        assert main(["curators", "disable", "u", "--db", str(db), "--lock-timeout", "0.2"]) == 1
        assert "held by PID" in capsys.readouterr().err
    assert db.read_bytes() == before


def test_a_command_waits_for_the_holder_and_says_so(world: tuple[Path, Path]) -> None:
    db, _ = world
    with held(db) as holder:
        done = subprocess.run([CLI, "curators", "list", "--db", str(db), "--lock-timeout",
                               "0.5"], capture_output=True, text=True, timeout=120)
        assert done.returncode == 1
        assert f"waiting for the database lock held by PID {holder.pid}" in done.stderr
        assert re.search(rf"error: .*held by PID {holder.pid} .*stayed held for 0.5 s",
                         done.stderr)
        waiting = subprocess.Popen([CLI, "curators", "list", "--db", str(db)],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert waiting.stderr is not None
        assert "waiting for the database" in waiting.stderr.readline()
    out, _err = waiting.communicate(timeout=120)
    assert waiting.returncode == 0 and "UniformCurator" in out


def test_the_scheduler_loop_lets_go_of_the_file_between_ticks(world: tuple[Path, Path]) -> None:
    db, _ = world
    env = {**os.environ, "GANTRY_LOCAL_LOCK_TIMEOUT": "60"}
    loop = subprocess.Popen([CLI, "scheduler", "run", "--tick", "0.5", "--db", str(db)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert loop.stderr is not None
        ran = [loop.stderr.readline() for _ in range(3)]  # the catch-up's three runs
        assert all(line.startswith("u  [") for line in ran), ran
        for _ in range(3):  # a reader and a writer get in between ticks, every time
            with gantry.Workspace(db=db, read_only=True, lock_timeout=30) as ws:
                assert ws.get_dataset("u").list_versions()
            with gantry.Workspace(db=db, lock_timeout=30) as ws:
                ws.log_records("m", inputs=[{"i": 1}], outputs=[0])
        assert loop.poll() is None  # still running
    finally:
        loop.terminate()
        loop.wait(60)


def test_a_tick_that_cannot_get_the_file_is_skipped_not_fatal(world: tuple[Path, Path]) -> None:
    db, _ = world
    with held(db):
        loop = subprocess.Popen([CLI, "scheduler", "run", "--tick", "0.2", "--lock-timeout",
                                 "0.2", "--db", str(db)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert loop.stderr is not None
        lines = [loop.stderr.readline() for _ in range(2)]
        assert any("tick skipped: cannot open the database" in line for line in lines)
    try:
        while not (line := loop.stderr.readline()).startswith("u  ["):  # the holder let go
            assert line, "the loop ended"
        assert loop.poll() is None
    finally:
        loop.terminate()
        loop.wait(60)


def test_storage_options_are_json_and_recorded_without_secrets(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "n.duckdb"
    gantry.Workspace(db=db).close()
    with duckdb.connect(str(db)) as con:  # as if made before the record existed
        con.execute("DELETE FROM _gl_workspace_config")
    assert main(["curators", "disable", "nope", "--db", str(db), "--storage-option",
                 "auto_mkdir=true", "--storage-option", "secret=\"x\"",
                 "--storage-option", "config={\"a\": [1, 2.5, null]}"]) == 1
    assert "no curator 'nope'" in capsys.readouterr().err
    with gantry.Workspace(db=db, read_only=True) as ws:
        assert ws.storage_options == {"auto_mkdir": True, "config": {"a": [1, 2.5, None]}}


def test_eval_run_needs_only_the_storage(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    storage = tmp_path / "st"
    with gantry.Workspace(db=":memory:", storage=str(storage)) as ws:
        ws.create_dataset("d").push_dataframe(pl.DataFrame({"inputs.x": [1, 2],
                                                            "feedback.y": [True, False]}))
    (tmp_path / "models_for_eval_run.py").write_text("def yes(inputs):\n    return True\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    suite = tmp_path / "s.toml"
    suite.write_text('name = "s"\ndataset = "d"\nmetrics = ["accuracy"]\n'
                     'reference = "feedback.y"\nthresholds = ["accuracy >= 0.5"]\n'
                     '[candidates]\nv = "models_for_eval_run:yes"\n')
    monkeypatch.chdir(tmp_path)
    assert main(["eval", "run", str(suite), "--storage", str(storage)]) == 0
    out, err = capsys.readouterr()
    assert "no database 'gantry.duckdb'" in err and "not stored" in err and "accuracy" in out
    assert not (tmp_path / "gantry.duckdb").exists()
    assert main(["eval", "run", str(suite)]) == 1  # no database and no storage
    assert "no database" in capsys.readouterr().err


def test_datasets_list_shows_the_error_of_a_corrupt_entry(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    storage = tmp_path / "st"
    with gantry.Workspace(db=":memory:", storage=str(storage)) as ws:
        ws.create_dataset("good")
        ws.create_dataset("bad")
    config = next(p for p in (storage / "datasets" / "bad").rglob("*.json"))
    config.write_text("{ not json")
    with pytest.warns(RuntimeWarning):
        assert main(["datasets", "list", "--storage", str(storage)]) == 0
    out = capsys.readouterr().out
    assert "error" in out.splitlines()[1] and "good" in out and "bad" in out


def on_terminal(args: list[str]) -> tuple[int, str]:
    """Run the CLI with stderr on a pseudo-terminal (120 columns): its exit code and what the
    terminal showed (progress bars draw only on a terminal)."""
    import fcntl
    import pty
    import struct
    import termios

    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))
    done = subprocess.run([CLI, *args], stdout=subprocess.PIPE, stderr=terminal, timeout=120)
    os.close(terminal)
    shown = b""
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:
            break
        if not chunk:
            break
        shown += chunk
    os.close(controller)
    return done.returncode, shown.decode(errors="replace")


def test_a_catch_up_shows_a_progress_bar_on_a_terminal(world: tuple[Path, Path]) -> None:
    db, _ = world
    code, text = on_terminal(["scheduler", "run", "--once", "--db", str(db)])
    assert code == 0
    assert "catching up: 100%" in text and "3/3" in text and "runs/s" in text, text


def test_the_scheduler_ingests_the_spool_and_says_what_came_in(
        world: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    from gantry_local._producer import ProducerWorkspace

    db, _ = world
    worker = ProducerWorkspace(db=db, producer_id="web-1", flush_interval=0.01)
    for i in range(30):
        worker.log_record("m", inputs={"i": i}, outputs=1)
    worker.close()
    assert main(["scheduler", "run", "--once", "--db", str(db)]) == 0
    err = capsys.readouterr().err
    assert re.search(r"^ingested [\d,]+ spool segments \(30 rows\)$", err, re.MULTILINE), err
    with gantry.Workspace(db=db, read_only=True) as ws:
        assert ws.query("m").count() == 72 + 30


def test_eval_run_no_cache_calls_the_candidate_again(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "e.duckdb"
    with gantry.Workspace(db=db) as ws:
        ws.create_dataset("d").push_dataframe(pl.DataFrame({"inputs.x": [1, 2, 3],
                                                            "feedback.y": [True, False, True]}))
    calls = tmp_path / "calls.txt"
    (tmp_path / "models_no_cache.py").write_text(
        f"def yes(inputs):\n    open({str(calls)!r}, 'a').write('.')\n    return True\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    suite = tmp_path / "s.toml"
    suite.write_text('name = "s"\ndataset = "d"\nmetrics = ["accuracy"]\n'
                     'reference = "feedback.y"\nthresholds = ["accuracy >= 0.5"]\n'
                     '[candidates]\nv = {callable = "models_no_cache:yes", version = "1"}\n')
    for argv, total in ((["eval", "run", str(suite)], 3), (["eval", "run", str(suite)], 3),
                        (["eval", "run", str(suite), "--no-cache"], 6)):
        assert main([*argv, "--db", str(db)]) == 0, capsys.readouterr().err
        assert len(calls.read_text()) == total, argv
        out = capsys.readouterr().out
        assert ("cache: v none" in out) is (total == 6)


def test_ingesting_a_large_spool_shows_a_bar_from_the_start(world: tuple[Path, Path]) -> None:
    from gantry_local._producer import ProducerWorkspace

    db, _ = world
    worker = ProducerWorkspace(db=db, producer_id="web-1", flush_interval=3600)
    for part in range(60):  # 60 segments of 500 rows
        worker.log_records("m", inputs=[{"i": i} for i in range(500)], outputs=[part] * 500,
                           timestamps=[START] * 500)
        worker.flush()
    worker.close()
    code, text = on_terminal(["scheduler", "run", "--once", "--db", str(db)])
    assert code == 0, text
    assert re.search(r"ingesting:\s+0%.*\| 0/60", text), text  # drawn before any batch is in
    assert re.search(r"ingesting: 100%.*60/60 .*segments/s.*rows=30,000", text), text
    assert "ingested 60 spool segments (30,000 rows)" in text
