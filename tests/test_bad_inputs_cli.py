"""Bad invocations of every `gantry-local` command: one line on stderr, exit 1 (2 for usage).

Each case runs in-process through `cli.main` against one small world (a DuckDB file with an
application, records, feedback, a curator and an evaluation; a dataset storage with two
versions; suite files; a user's folder) and checks that nothing in it changed. A few cases
also run through the installed entry point.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pytest

import gantry_local as gantry
from gantry_local.cli import main

START = datetime(2024, 1, 1, tzinfo=timezone.utc)
REF = ["--reference", "2024-01-01", "2024-01-08"]
CUR = ["--current", "2024-01-08", "2024-01-15"]

SUITE = """name = "s"
dataset = "{dataset}"
metrics = [{metric}]
reference = "feedback.label"
thresholds = [{threshold}]
[candidates]
a = "{module}:predict_a"
b = "cli_bad_models:predict_b"
"""


@dataclass
class World:
    root: Path
    db: Path
    storage: Path
    cwd: Path

    def fill(self, text: str) -> str:
        return text.format(db=self.db, storage=self.storage, root=self.root)


def _suite(root: Path, name: str, dataset: str = "train", metric: str = '"accuracy"',
           threshold: str = '"accuracy >= 0.0"', module: str = "cli_bad_models") -> None:
    (root / "suites" / f"{name}.toml").write_text(SUITE.format(
        dataset=dataset, metric=metric, threshold=threshold, module=module))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    root = tmp_path_factory.mktemp("cli-world")
    w = World(root, root / "w.duckdb", root / "storage", root / "cwd")
    w.cwd.mkdir()
    with gantry.Workspace(db=w.db, storage=str(w.storage), clock=gantry.ManualClock(START)) as ws:
        app = ws.create_application("model")
        _, keys = app.log_records(inputs=[{"x": float(i)} for i in range(40)],
                               outputs=[{"y": i % 2} for i in range(40)],
                               timestamps=[START + timedelta(hours=6 * i) for i in range(40)])
        app.log_records(feedbacks=[{"label": i % 3 == 0} for i in range(40)], join_keys=keys)
        ws.flush()
        frame = app.query(all_time=True).to_polars()
        train = ws.create_dataset("train")
        train.push_dataframe(frame.head(20), message="first")
        train.push_dataframe(frame, message="all")
        from gantry_local.automations.curators import UniformCurator

        UniformCurator("u", "model", 5, start_on=START).create(workspace=ws)
        gantry.evaluate("train", {"a": lambda r: True, "b": lambda r: False}, ["accuracy"],
                        reference="feedback.label", workspace=ws, progress=False)
    suites = root / "suites"
    suites.mkdir()
    (suites / "cli_bad_models.py").write_text(
        "def predict_a(inputs):\n    return True\n\ndef predict_b(inputs):\n    return False\n")
    _suite(root, "ok")
    _suite(root, "no-dataset", dataset="nope")
    _suite(root, "bad-metric", metric='"nope"')
    _suite(root, "bad-threshold", threshold='"accuracy >>= x"')
    _suite(root, "no-module", module="cli_bad_no_such_module")
    (suites / "no-name.toml").write_text('dataset = "train"\n')
    (suites / "not-toml.toml").write_text("[[[\n")
    (root / "a-file").write_text("not a folder, not a database\n")
    (root / "users-folder").mkdir()
    (root / "users-folder" / "notes.txt").write_text("mine")
    return w


def _state(world: World) -> dict[str, str]:
    """Every file under the world (bytes hashed) and every DuckDB table's rows."""
    state: dict[str, str] = {}
    for path in sorted(world.root.rglob("*")):
        rel = str(path.relative_to(world.root))
        if "__pycache__" in path.parts or path.suffix in (".duckdb", ".wal"):
            continue
        state[rel] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
    return {**state, **_tables(world.db)}


_TABLES: dict[tuple[object, ...], dict[str, str]] = {}


def _tables(db: Path) -> dict[str, str]:
    """Every DuckDB table's rows, hashed; read again only when the file or its WAL was touched
    since the last read (opening the file costs most of a case's time)."""
    touched = tuple((s.st_ino, s.st_size, s.st_mtime_ns) if (s := _stat(p)) else None
                    for p in (db, db.with_name(db.name + ".wal")))
    if touched not in _TABLES:
        state = {}
        with duckdb.connect(str(db), read_only=True) as con:
            tables = con.execute("SELECT schema_name, table_name FROM duckdb_tables()").fetchall()
            for schema, table in tables:
                rows = con.execute(f'SELECT * FROM "{schema}"."{table}"').fetchall()
                state[f"db:{schema}.{table}"] = hashlib.sha256(
                    repr(sorted(map(repr, rows))).encode()).hexdigest()
        _TABLES[touched] = state
    return _TABLES[touched]


def _stat(path: Path) -> os.stat_result | None:
    try:
        return path.stat()
    except FileNotFoundError:
        return None


DB = ["--db", "{db}"]
ST = ["--storage", "{storage}"]
DBS = [*DB, *ST]
USAGE, ERROR = 2, 1

# (argv, exit code, regex the one stderr line must match)
CASES: list[tuple[list[str], int, str]] = [
    # the command line itself
    ([], USAGE, r"required: command"),
    (["nope"], USAGE, r"invalid choice: 'nope'"),
    (["--bogus"], USAGE, r"error: "),
    (["datasets"], USAGE, r"required: datasets_command"),
    (["curators", "show", *DB], USAGE, r"required: name"),
    # demo
    (["demo", "--records-per-day", "x"], USAGE, r"'x' is not a whole number from 1 to 100,000"),
    (["demo", "--records-per-day", "0"], USAGE, r"'0' is not a whole number"),
    (["demo", "--records-per-day", "1e9"], USAGE, r"'1e9' is not a whole number"),
    (["demo", "--records-per-day", "2.5"], USAGE, r"'2.5' is not a whole number"),
    (["demo", "--path", ""], USAGE, r"--path: '' is empty"),
    (["demo", "--path", "a\x00b"], USAGE, r"--path: .* NUL"),
    (["demo", "--path", "{root}/\udcff"], USAGE, r"--path: .* is not valid UTF-8"),
    (["demo", "--path", "{root}/a-file"], ERROR, r"demo path .*a-file' is a file"),
    (["demo", "--path", "{root}/a-file/demo"], ERROR, r"cannot make the demo folder"),
    (["demo", "--path", "{root}/users-folder"], ERROR, r"holds files the demo did not make"),
    (["demo", "--path", "{root}"], ERROR, r"holds files the demo did not make"),
    # datasets
    (["datasets", "list"], ERROR, r"give the dataset storage with --storage"),
    (["datasets", "list", "--storage", ""], USAGE, r"--storage: '' is empty"),
    (["datasets", "list", *ST, "--storage-option", "oops"], USAGE, r"'oops' is not KEY=VALUE"),
    (["datasets", "list", *ST, "--storage-option", "=x"], USAGE, r"'=x' is not KEY=VALUE"),
    (["datasets", "list", *ST, "--storage-option", "a b=1"], USAGE, r"is not KEY=VALUE"),
    (["datasets", "list", *ST, "--storage-option", "a=1", "--storage-option", "a=2"], ERROR,
     r"--storage-option a is given twice"),
    (["datasets", "list", "--storage", "nosuchproto://x"], ERROR, r"nosuchproto"),
    (["datasets", "list", "--storage", "{root}/a-file"], ERROR, r"a-file"),
    (["datasets", "versions", "nope", *ST], ERROR, r"no dataset 'nope'"),
    (["datasets", "versions", "../x", *ST], ERROR, r"dataset name '\.\./x' is not allowed"),
    (["datasets", "versions", "", *ST], USAGE, r"argument name: '' is empty"),
    (["datasets", "versions", "a\udcffb", *ST], USAGE, r"is not valid UTF-8"),
    (["datasets", "versions", "a\x00b", *ST], USAGE, r"holds a NUL character"),
    (["datasets", "pull", "train", "--format", "xml", *ST], USAGE, r"invalid choice: 'xml'"),
    (["datasets", "pull", "train", "--working-dir", "{root}/a-file", *ST], USAGE,
     r"a-file' is a file, not a folder"),
    (["datasets", "pull", "train", "--working-dir", "{root}/a-file/sub", *ST], USAGE,
     r"a-file' is a file, not a folder"),
    (["datasets", "pull", "train", "--version", "", *ST], USAGE, r"--version: '' is empty"),
    (["datasets", "pull", "train", "--version", "zzz", *ST], ERROR, r"at least 6 characters"),
    (["datasets", "export", "train", "--out", "", *ST], USAGE, r"--out: '' is empty"),
    (["datasets", "export", "train", "--out", "{root}/missing", *ST], ERROR, r"does not exist"),
    (["datasets", "export", "train", "--file", "nope", *ST], ERROR, r"no table 'nope'"),
    (["datasets", "diff", "train", *ST], USAGE, r"required: a"),
    (["datasets", "diff", "train", "000000", *ST], ERROR, r"has no version '000000'"),
    (["datasets", "diff", "train", "zz", "--key", "", *ST], USAGE, r"--key: '' is empty"),
    (["datasets", "rollback", "train", "zzz", *ST], ERROR, r"at least 6 characters"),
    (["datasets", "verify", "nope", *ST], ERROR, r"no dataset 'nope'"),
    (["datasets", "gc", "--grace-minutes", "nan", *ST], USAGE, r"'nan' is not minutes from 0"),
    (["datasets", "gc", "--grace-minutes", "inf", "--delete", *ST], USAGE, r"'inf' is not minutes"),
    (["datasets", "gc", "--grace-minutes", "-1", "--delete", *ST], USAGE, r"'-1' is not minutes"),
    (["datasets", "gc", "--grace-minutes", "1e300", *ST], USAGE, r"'1e300' is not minutes"),
    (["datasets", "gc", "--grace-minutes", "x", *ST], USAGE, r"'x' is not minutes"),
    # curators and the scheduler
    (["curators", "list", "--db", ""], USAGE, r"--db: '' is empty"),
    (["curators", "list", "--db", "a\x00b"], USAGE, r"--db: .* NUL"),
    (["curators", "list", "--db", "{root}/missing.duckdb"], ERROR, r"no database .*missing"),
    (["curators", "list", "--db", "{root}/a-file"], ERROR, r"cannot open the database"),
    (["curators", "list", "--db", "{root}"], ERROR, r"is a folder; give the DuckDB file"),
    (["curators", "show", "nope", *DB], ERROR, r"no curator 'nope'"),
    (["curators", "enable", "nope", *DB], ERROR, r"no curator 'nope'"),
    (["curators", "disable", "", *DB], USAGE, r"argument name: '' is empty"),
    (["curators", "show", "\udcff", *DB], USAGE, r"is not valid UTF-8"),
    (["curators", "runs", "nope", *DB], ERROR, r"no curator 'nope'"),
    (["scheduler", "run", "--once", "--tick", "nan", *DB], USAGE, r"'nan' is not seconds"),
    (["scheduler", "run", "--tick", "inf", *DB], USAGE, r"'inf' is not seconds"),
    (["scheduler", "run", "--tick", "0", *DB], USAGE, r"'0' is not seconds from 0.01"),
    (["scheduler", "run", "--tick", "-1", *DB], USAGE, r"'-1' is not seconds"),
    (["scheduler", "run", "--once", "--suite", "{root}/missing.toml", *DB], USAGE, r"no file"),
    (["scheduler", "run", "--once", "--suite", "{root}/suites", *DB], USAGE, r"is a folder"),
    (["scheduler", "run", "--once", "--suite", "{root}/suites/not-toml.toml", *DBS], ERROR,
     r"not valid TOML"),
    # monitoring
    (["summarize", "model", "--interval", "infd", *DB], USAGE, r"'infd' is not a duration"),
    (["summarize", "model", "--interval", "nand", *DB], USAGE, r"'nand' is not a duration"),
    (["summarize", "model", "--interval", "1e300d", *DB], USAGE, r"from 1m to 36,500d"),
    (["summarize", "model", "--interval", "999999999d", *DB], USAGE, r"is not a duration"),
    (["summarize", "model", "--interval", "0.000001m", *DB], USAGE, r"is not a duration"),
    (["summarize", "model", "--interval=-1d", *DB], USAGE, r"'-1d' is not a duration"),
    (["summarize", "model", "--interval", "1x", *DB], USAGE, r"'1x' is not a duration"),
    (["summarize", "model", "--interval", "", *DB], USAGE, r"'' is not a duration"),
    (["summarize", "model", "--start", "x", *DB], USAGE, r"'x' is not an ISO date"),
    (["summarize", "model", "--start", "0001-01-01T00:00+05:00", *DB], USAGE,
     r"outside the years 1900-2999"),
    (["summarize", "model", "--end", "9999-12-31T23:59-05:00", *DB], USAGE,
     r"outside the years 1900-2999"),
    (["summarize", "model", "--start", "1899-12-31", *DB], USAGE, r"outside the years"),
    (["summarize", "model", "--start", "2024-02-01", "--end", "2024-01-01", *DB], ERROR,
     r"is not after"),
    (["summarize", "model", "--field", "", *DB], USAGE, r"--field: '' is empty"),
    (["summarize", "model", "--field", "nope", *DB], ERROR, r"unknown field 'nope'"),
    (["summarize", "nope", *DB], ERROR, r"no application 'nope'"),
    (["summarize", "", *DB], USAGE, r"argument app: '' is empty"),
    (["summarize", "\udcff", *DB], USAGE, r"argument app: .* is not valid UTF-8"),
    (["drift", "model", "--reference", "0001-01-01T00:00+05:00", "2024-01-08", *CUR, *DB], USAGE,
     r"--reference: .* outside the years"),
    (["drift", "model", *REF, "--current", "2024-01-08", "9999-12-31T23:59-05:00", *DB], USAGE,
     r"--current: .* outside the years"),
    (["drift", "model", "--reference", "2024-01-01", *CUR, *DB], USAGE, r"expected 2 arguments"),
    (["drift", "model", *REF, *DB], USAGE, r"required: --current"),
    (["drift", "model", "--reference", "2024-01-08", "2024-01-01", *CUR, *DB], ERROR,
     r"reference window ends .* before it starts"),
    (["drift", "model", *REF, *CUR, "--field", "nope", *DB], ERROR, r"unknown field 'nope'"),
    (["drift", "nope", *REF, *CUR, *DB], ERROR, r"no application 'nope'"),
    (["alerts", "--app", "", *DB], USAGE, r"--app: '' is empty"),
    (["alerts", "--app", "nope", *DB], ERROR, r"no application 'nope'"),
    (["report", "--out", "{root}/a-file/r.html", *DB], USAGE, r"a-file' is a file, not a folder"),
    (["report", "--out", "{root}", *DB], USAGE, r"is a folder; give a file name"),
    (["report", "--out", "", *DB], USAGE, r"--out: '' is empty"),
    (["report", "--interval", "infd", "--out", "{root}/r.html", *DB], USAGE, r"not a duration"),
    (["report", "--interval", "0.0000001m", "--out", "{root}/r.html", *DB], USAGE,
     r"not a duration"),
    (["report", "--app", "nope", "--out", "{root}/r.html", *DB], ERROR, r"no application 'nope'"),
    # evaluation
    (["eval", "run", "{root}/missing.toml", *DB], USAGE, r"no file .*missing.toml"),
    (["eval", "run", "{root}/suites", *DB], USAGE, r"is a folder; give a file"),
    (["eval", "run", "{root}/suites/ok.toml", "--junit", "{root}", *DBS], USAGE,
     r"--junit: .* is a folder"),
    (["eval", "run", "{root}/suites/ok.toml", "--junit", "{root}/a-file/j.xml", *DBS], USAGE,
     r"a-file' is a file, not a folder"),
    (["eval", "run", "{root}/suites/not-toml.toml", *DBS], ERROR, r"not valid TOML"),
    (["eval", "run", "{root}/suites/no-name.toml", *DBS], ERROR, r"missing 'name'"),
    (["eval", "run", "{root}/suites/bad-threshold.toml", *DBS], ERROR, r"cannot read threshold"),
    (["eval", "run", "{root}/suites/no-module.toml", *DBS], ERROR, r"cannot import"),
    (["eval", "run", "{root}/suites/bad-metric.toml", *DBS], ERROR, r"unknown metric 'nope'"),
    (["eval", "run", "{root}/suites/no-dataset.toml", *DBS], ERROR, r"no dataset 'nope'"),
    (["eval", "list", "--dataset", "", *DB], USAGE, r"--dataset: '' is empty"),
    (["eval", "show", "nope", *DB], ERROR, r"no evaluation 'nope'"),
    (["eval", "show", "", *DB], USAGE, r"argument id: '' is empty"),
    (["curators", "list", "--db", "{root}/\udcff.duckdb"], USAGE, r"not valid UTF-8"),
    # sharing the database: storage options, lock timeouts, the recorded storage
    (["curators", "list", *DB, "--storage-option", "oops"], USAGE, r"'oops' is not KEY=VALUE"),
    (["curators", "list", *DB, "--storage-option", "=1"], USAGE, r"'=1' is not KEY=VALUE"),
    (["curators", "list", *DB, "--storage-option", "1a=1"], USAGE, r"'1a=1' is not KEY=VALUE"),
    (["curators", "list", *DB, "--storage-option", "a\x00=1"], USAGE, r"NUL"),
    (["curators", "list", *DB, "--storage-option", "a=\udcff"], USAGE, r"not valid UTF-8"),
    (["summarize", "model", *DB, "--storage-option", "a=1", "--storage-option", "a=[1]"], ERROR,
     r"--storage-option a is given twice"),
    (["report", "--out", "{root}/r.html", *DB, "--storage-option", "x=1", "--storage-option",
      "x=1"], ERROR, r"--storage-option x is given twice"),
    (["curators", "list", *DB, "--lock-timeout", "nan"], USAGE, r"'nan' is not seconds from 0"),
    (["curators", "list", *DB, "--lock-timeout", "-1"], USAGE, r"'-1' is not seconds from 0"),
    (["curators", "list", *DB, "--lock-timeout", "inf"], USAGE, r"'inf' is not seconds"),
    (["curators", "list", *DB, "--lock-timeout", "1e9"], USAGE, r"'1e9' is not seconds"),
    (["curators", "list", *DB, "--lock-timeout", "soon"], USAGE, r"'soon' is not seconds"),
    (["datasets", "list", "--lock-timeout", "x", *ST], USAGE, r"'x' is not seconds"),
    (["curators", "list", *DB, "--storage", "{root}/elsewhere"], ERROR,
     r"keeps its datasets in '.*storage'.*not '.*elsewhere'"),
    (["curators", "enable", "u", *DB, "--storage", "{root}/elsewhere"], ERROR,
     r"keeps its datasets in"),
    (["scheduler", "run", "--once", *DB, "--storage", "memory://x"], ERROR,
     r"keeps its datasets in"),
    (["eval", "run", "{root}/suites/ok.toml", *DB, "--storage", "{root}/elsewhere"], ERROR,
     r"keeps its datasets in"),
    (["datasets", "list", "--db", "{root}/missing.duckdb"], ERROR, r"no database .*missing"),
    (["datasets", "list", "--db", "{root}/a-file"], ERROR, r"cannot open the database"),
    (["datasets", "list", "--db", "{root}"], ERROR, r"is a folder; give the DuckDB file"),
    (["eval", "run", "{root}/suites/ok.toml", "--db", "{root}/missing.duckdb"], ERROR,
     r"no database .*missing"),
]


def _case_id(case: tuple[list[str], int, str]) -> str:
    argv = [a for a in case[0] if not a.startswith("{") and a not in ("--db", "--storage")]
    text = " ".join(argv)[:60].replace("\x00", "NUL").replace("\udcff", "xFF")
    return text or "(nothing)"


@pytest.fixture
def quiet_env(world: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("GANTRY_LOCAL_DB", "GANTRY_LOCAL_STORAGE", "GANTRY_LOCAL_DEBUG",
                 "GANTRY_DATASET_WORKING_DIR", "GANTRY_LOCAL_LOCK_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(world.cwd)
    monkeypatch.syspath_prepend(str(world.root / "suites"))
    yield


def test_the_corpus_is_big_enough() -> None:
    assert len(CASES) >= 50
    commands = {c[0][0] for c in CASES if c[0] and not c[0][0].startswith("-")}
    assert commands >= {"demo", "datasets", "curators", "scheduler", "summarize", "drift",
                        "alerts", "report", "eval"}


@pytest.mark.parametrize(("argv", "code", "pattern"), CASES, ids=map(_case_id, CASES))
@pytest.mark.usefixtures("quiet_env")
def test_bad_invocation(world: World, capsys: pytest.CaptureFixture[str], argv: list[str],
                        code: int, pattern: str) -> None:
    before = _state(world)
    assert main([world.fill(a) for a in argv]) == code
    out, err = capsys.readouterr()
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert re.search(pattern, err), err
    assert err.startswith("error: " if code == ERROR else "gantry-local")
    assert "Traceback" not in out + err
    assert out == ""
    assert _state(world) == before
    assert list(world.cwd.iterdir()) == []


ENV_CASES: list[tuple[dict[str, str], list[str], str]] = [
    ({"GANTRY_DATASET_WORKING_DIR": "{root}/a-file"}, ["datasets", "pull", "train", *ST],
     r"\$GANTRY_DATASET_WORKING_DIR: .*a-file' is a file, not a folder"),
    ({"GANTRY_DATASET_WORKING_DIR": "{root}/a-file/sub"}, ["datasets", "pull", "train", *ST],
     r"\$GANTRY_DATASET_WORKING_DIR: .*a-file' is a file"),
    ({"GANTRY_LOCAL_DB": "{root}"}, ["curators", "list"], r"is a folder; give the DuckDB file"),
    ({"GANTRY_LOCAL_DB": "{root}/missing.duckdb"}, ["eval", "list"], r"no database"),
    ({"GANTRY_LOCAL_STORAGE": "{root}/a-file"}, ["datasets", "list"], r"a-file"),
    ({"GANTRY_LOCAL_LOCK_TIMEOUT": "soon"}, ["curators", "list", *DB],
     r"\$GANTRY_LOCAL_LOCK_TIMEOUT must be a number of seconds"),
    ({"GANTRY_LOCAL_LOCK_TIMEOUT": "-1"}, ["eval", "list", *DB],
     r"\$GANTRY_LOCAL_LOCK_TIMEOUT must be"),
    ({"GANTRY_LOCAL_LOCK_TIMEOUT": "nan"}, ["report", *DB], r"\$GANTRY_LOCAL_LOCK_TIMEOUT must be"),
]


@pytest.mark.parametrize(("env", "argv", "pattern"), ENV_CASES,
                         ids=[f"{next(iter(e))} {' '.join(a[:2])}" for e, a, _ in ENV_CASES])
@pytest.mark.usefixtures("quiet_env")
def test_bad_environment(world: World, capsys: pytest.CaptureFixture[str],
                         monkeypatch: pytest.MonkeyPatch, env: dict[str, str], argv: list[str],
                         pattern: str) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, world.fill(value))
    before = _state(world)
    assert main([world.fill(a) for a in argv]) == ERROR
    out, err = capsys.readouterr()
    assert err.startswith("error: ") and err.count("\n") == 1 and re.search(pattern, err), err
    assert out == "" and _state(world) == before and list(world.cwd.iterdir()) == []


def test_the_world_is_usable(world: World, capsys: pytest.CaptureFixture[str],
                             quiet_env: None) -> None:
    """The good twins of the cases above succeed, so the bad ones fail for their own reason."""
    good = [["datasets", "list", *ST], ["curators", "show", "u", *DB],
            ["datasets", "list", *DB], ["curators", "list", *DB, "--lock-timeout", "0",
                                        "--storage-option", "auto_mkdir=false"],
            ["curators", "list", *DBS],
            ["summarize", "model", "--interval", "1d", *DB], ["drift", "model", *REF, *CUR, *DB],
            ["eval", "list", *DB], ["alerts", "--app", "model", *DB]]
    for argv in good:
        assert main([world.fill(a) for a in argv]) == 0, capsys.readouterr().err
    assert capsys.readouterr().err == ""


ISSUE_EXAMPLES = ("nan", "infd", "0001-01-01T00:00+05:00", "{root}/a-file/r.html")
ENTRY_POINT = [next(c for c in CASES if example in c[0]) for example in ISSUE_EXAMPLES]


@pytest.mark.parametrize(("argv", "code", "pattern"), ENTRY_POINT, ids=map(_case_id, ENTRY_POINT))
def test_bad_invocation_through_the_entry_point(world: World, argv: list[str], code: int,
                                                pattern: str) -> None:
    command = [str(Path(sys.executable).parent / "gantry-local"), *(world.fill(a) for a in argv)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=world.cwd, timeout=120)
    assert done.returncode == code
    assert done.stderr.count("\n") == 1 and re.search(pattern, done.stderr), done.stderr
    assert "Traceback" not in done.stdout + done.stderr
